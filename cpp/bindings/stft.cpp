#include "common.hpp"
#include "scatclust/errors.hpp"
#include "scatclust/stft.hpp"
#include "scatclust/stft_simd.hpp"

namespace sc = scatclust;

namespace {

sc::StftParams make_params(std::size_t m_num, int hop, int mfft, bool has_phase_shift, long long phase_shift) {
    sc::StftParams p;
    sc::require(m_num <= static_cast<std::size_t>(std::numeric_limits<int>::max()), "window length m_num=", m_num,
                " is too large");
    p.m_num = static_cast<int>(m_num);
    p.hop = hop;
    p.mfft = mfft;
    p.has_phase_shift = has_phase_shift;
    p.phase_shift = phase_shift;
    return p;
}

template <class T, class O>
void check_forward_out(const carray<T, nb::ndim<2>>& x, const O& out, int mfft, long long p0, long long p1,
                       bool frame_major) {
    sc::require(mfft >= 1, "mfft=", mfft, " must be >= 1");
    sc::require(p0 < p1, "frame range p0=", p0, ", p1=", p1, " must satisfy p0 < p1");
    const std::size_t nf = static_cast<std::size_t>(mfft / 2 + 1);
    const std::size_t nfr = static_cast<std::size_t>(p1 - p0);
    const std::size_t d1 = frame_major ? nfr : nf, d2 = frame_major ? nf : nfr;
    sc::require(out.shape(0) == x.shape(0) && out.shape(1) == d1 && out.shape(2) == d2,
                "out shape (", out.shape(0), ", ", out.shape(1), ", ", out.shape(2), ") must be (", x.shape(0), ", ",
                d1, ", ", d2, ")", frame_major ? " (frame-major)" : "");
}

template <class T>
void def_stft(nb::module_& m) {
    using C = std::complex<T>;
    m.def("stft_forward",
          [](carray<T, nb::ndim<2>> x, carray<T, nb::ndim<1>> win, marray<C, nb::ndim<3>> out, int hop, int mfft,
             bool has_phase_shift, long long phase_shift, long long p0, long long p1, int padding, double scale,
             int n_threads, bool frame_major) {
              check_forward_out(x, out, mfft, p0, p1, frame_major);
              sc::require(padding >= 0 && padding <= 3, "padding=", padding,
                          " must be 0 (zeros), 1 (edge), 2 (even) or 3 (odd)");
              const auto prm = make_params(win.shape(0), hop, mfft, has_phase_shift, phase_shift);
              sc::stft_forward_complex<T>(x.data(), x.shape(0), static_cast<long long>(x.shape(1)), win.data(), prm,
                                          p0, p1, static_cast<sc::StftPadding>(padding), static_cast<T>(scale),
                                          out.data(), n_threads, frame_major);
          },
          nb::arg("x").noconvert(), nb::arg("win").noconvert(), nb::arg("out").noconvert(), nb::arg("hop"),
          nb::arg("mfft"), nb::arg("has_phase_shift"), nb::arg("phase_shift"), nb::arg("p0"), nb::arg("p1"),
          nb::arg("padding"), nb::arg("scale") = 1.0, nb::arg("n_threads") = 0, nb::arg("frame_major") = false,
          nb::call_guard<nb::gil_scoped_release>(),
          "Forward STFT of rows of x into out (batch, mfft//2+1, p1-p0) complex, or (batch, p1-p0, mfft//2+1) "
          "if frame_major.");
    m.def("stft_forward_real",
          [](carray<T, nb::ndim<2>> x, carray<T, nb::ndim<1>> win, marray<T, nb::ndim<3>> out, int hop, int mfft,
             bool has_phase_shift, long long phase_shift, long long p0, long long p1, int padding, int output,
             double scale, double log_eps, int n_threads, bool frame_major) {
              check_forward_out(x, out, mfft, p0, p1, frame_major);
              sc::require(padding >= 0 && padding <= 3, "padding=", padding,
                          " must be 0 (zeros), 1 (edge), 2 (even) or 3 (odd)");
              sc::require(output >= 1 && output <= 3, "output=", output,
                          " must be 1 (magnitude), 2 (power) or 3 (log_power)");
              const auto prm = make_params(win.shape(0), hop, mfft, has_phase_shift, phase_shift);
              sc::stft_forward_real<T>(x.data(), x.shape(0), static_cast<long long>(x.shape(1)), win.data(), prm, p0,
                                       p1, static_cast<sc::StftPadding>(padding), static_cast<T>(scale),
                                       static_cast<sc::StftOutput>(output), static_cast<T>(log_eps), out.data(),
                                       n_threads, frame_major);
          },
          nb::arg("x").noconvert(), nb::arg("win").noconvert(), nb::arg("out").noconvert(), nb::arg("hop"),
          nb::arg("mfft"), nb::arg("has_phase_shift"), nb::arg("phase_shift"), nb::arg("p0"), nb::arg("p1"),
          nb::arg("padding"), nb::arg("output"), nb::arg("scale") = 1.0, nb::arg("log_eps") = 1e-10,
          nb::arg("n_threads") = 0, nb::arg("frame_major") = false, nb::call_guard<nb::gil_scoped_release>(),
          "Forward STFT with a fused real output (1 magnitude, 2 power, 3 log power).");
    m.def("stft_inverse",
          [](carray<C, nb::ndim<3>> S, carray<T, nb::ndim<1>> dual, marray<T, nb::ndim<2>> out, int hop, int mfft,
             bool has_phase_shift, long long phase_shift, long long p_first, long long q0, long long q1, long long k0,
             double scale, int n_threads, bool frame_major) {
              sc::require(mfft >= 1, "mfft=", mfft, " must be >= 1");
              const std::size_t nf = static_cast<std::size_t>(mfft / 2 + 1);
              const std::size_t bins = frame_major ? S.shape(2) : S.shape(1);
              const std::size_t n_frames = frame_major ? S.shape(1) : S.shape(2);
              sc::require(bins == nf, "S has ", bins, " frequency bins; mfft=", mfft, " needs ", nf);
              sc::require(out.shape(0) == S.shape(0) && out.shape(1) >= 1, "out shape (", out.shape(0), ", ",
                          out.shape(1), ") must be (", S.shape(0), ", k1-k0 >= 1)");
              const auto prm = make_params(dual.shape(0), hop, mfft, has_phase_shift, phase_shift);
              sc::stft_inverse<T>(S.data(), S.shape(0), static_cast<long long>(n_frames), p_first, dual.data(), prm,
                                  q0, q1, k0, k0 + static_cast<long long>(out.shape(1)), static_cast<T>(scale),
                                  out.data(), n_threads, frame_major);
          },
          nb::arg("S").noconvert(), nb::arg("dual").noconvert(), nb::arg("out").noconvert(), nb::arg("hop"),
          nb::arg("mfft"), nb::arg("has_phase_shift"), nb::arg("phase_shift"), nb::arg("p_first"), nb::arg("q0"),
          nb::arg("q1"), nb::arg("k0"), nb::arg("scale") = 1.0, nb::arg("n_threads") = 0,
          nb::arg("frame_major") = false, nb::call_guard<nb::gil_scoped_release>(),
          "Inverse STFT: frames [q0, q1) of S (column 0 = frame p_first) overlap-added into out[:, k - k0].");
}

}  // namespace

void bind_stft(nb::module_& m) {
    def_stft<float>(m);
    def_stft<double>(m);
    m.def("stft_kernel",
          [](const std::string& kernel) {
              if (kernel == "auto") sc::set_stft_kernel(sc::StftKernel::Auto);
              else if (kernel == "fftw") sc::set_stft_kernel(sc::StftKernel::Fftw);
              else sc::require(kernel.empty(), "kernel='", kernel, "' must be 'auto', 'fftw' or '' (query only)");
              return sc::stft_kernel() == sc::StftKernel::Fftw ? std::string("fftw") : std::string("auto");
          },
          nb::arg("kernel") = "",
          "Process-wide choice of the forward STFT kernel for power-of-two FFT lengths: 'auto' (the "
          "across-frames SIMD FFT on AVX2 CPUs, FFTW otherwise) or 'fftw'; '' only queries. Returns the "
          "setting. The default comes from the environment variable SCATCLUST_STFT_KERNEL.");
    m.def("stft_simd_applies",
          [](int mfft, bool float64) {
              return float64 ? sc::detail::stft_simd_applies<double>(mfft) : sc::detail::stft_simd_applies<float>(mfft);
          },
          nb::arg("mfft"), nb::arg("float64"),
          "Whether the forward STFT of this FFT length and precision runs on the SIMD kernel now.");
}
