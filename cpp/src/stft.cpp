#include "scatclust/stft.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "scatclust/cpu.hpp"
#include "scatclust/errors.hpp"
#include "scatclust/fft_plan.hpp"
#include "scatclust/parallel.hpp"
#include "scatclust/stft_simd.hpp"

namespace scatclust {

namespace {

// Frames per work item of the forward transform: a block of columns is assembled in scratch
// and written out row by row, so the frequency-major output is stored in contiguous runs.
constexpr long long kFrameBlock = 64;
// Frames per batched, transposed-output FFT on the bin-major path (measured: 16 is the
// fastest of 8/16/32/64 for mfft = 256; larger blocks spill the transposed output from L1).
constexpr int kTBlock = 16;
// Output samples per work item of the overlap-add.
constexpr long long kOlaChunk = 2048;

using detail::stft_floor_div;
long long floor_div(long long a, long long b) { return stft_floor_div(a, b); }  // b > 0

long long pos_mod(long long a, long long b) {  // b > 0, result in [0, b)
    long long r = a % b;
    return r < 0 ? r + b : r;
}

// Shift p_s of scipy's ShortTimeFFT: segments are rolled left by p_s before the FFT.
int roll_amount(const StftParams& prm) {
    if (!prm.has_phase_shift) return 0;
    return static_cast<int>(pos_mod(prm.phase_shift + prm.m_num / 2, prm.m_num));
}

// Real-FFT split of one block of frames (see forward_impl): zt[2 (f kTBlock + t) + {0,1}] holds
// Z_t[f] for f < H (the transposed output of the half-length complex FFTs), ab the per-bin
// coefficients (Ar, Ai, Br, Bi); bin f of frame t goes to ob[f * fs + t * ts] through emit.
template <class T, class OutT, class Emit>
[[gnu::always_inline]] inline void split_block_impl(const T* __restrict zt, const T* __restrict ab, int H,
                                                    long long bw, OutT* ob, std::size_t fs, std::size_t ts,
                                                    Emit emit) {
    for (int f = 0; f <= H; ++f) {
        OutT* o = ob + static_cast<std::size_t>(f) * fs;
        if (f == 0 || f == H) {  // X[0] = Re Z0 + Im Z0, X[H] = Re Z0 - Im Z0
            const T sg = f == 0 ? T(1) : T(-1);
            for (long long t = 0; t < bw; ++t)
                emit(std::complex<T>(zt[2 * t] + sg * zt[2 * t + 1], T(0)), o[t * ts]);
            continue;
        }
        const T* z = zt + static_cast<std::size_t>(2 * kTBlock) * f;
        const T* zc = zt + static_cast<std::size_t>(2 * kTBlock) * (H - f);
        const T ar = ab[4 * f], ai = ab[4 * f + 1], br = ab[4 * f + 2], bi = ab[4 * f + 3];
        // X = A Z + B conj(Zc), in real arithmetic (std::complex products carry NaN/Inf
        // recovery branches, C99 Annex G, that block vectorisation).
        auto split = [&](long long n, std::size_t stride) {
            for (long long t = 0; t < n; ++t) {
                const T zr = z[2 * t], zi = z[2 * t + 1], cr = zc[2 * t], ci = zc[2 * t + 1];
                const T xre = ar * zr - ai * zi + br * cr + bi * ci;
                const T xim = ar * zi + ai * zr + bi * cr - br * ci;
                emit(std::complex<T>(xre, xim), o[t * stride]);
            }
        };
        // Contiguous stores over a full block: a fixed-length loop the compiler vectorises.
        if (ts == 1 && bw == kTBlock) split(kTBlock, 1);
        else split(bw, ts);
    }
}

// Interior frame: sd[(j - ps) mod mfft] = xs[j] * w[j] for j < m (ps <= m, see roll_amount).
template <class T>
[[gnu::always_inline]] inline void window_frame_impl(const T* __restrict xs, const T* __restrict w,
                                                     T* __restrict sd, int m, int ps, int mfft) {
    const int split = std::min(ps, m);
    for (int j = split; j < m; ++j) sd[j - ps] = xs[j] * w[j];
    T* wrap = sd + (mfft - ps);
    for (int j = 0; j < split; ++j) wrap[j] = xs[j] * w[j];
}

template <class T>
void window_frame_base(const T* xs, const T* w, T* sd, int m, int ps, int mfft) {
    window_frame_impl<T>(xs, w, sd, m, ps, mfft);
}

template <class T, class OutT, class Emit>
void split_block_base(const T* zt, const T* ab, int H, long long bw, OutT* ob, std::size_t fs, std::size_t ts,
                      Emit emit) {
    split_block_impl<T, OutT, Emit>(zt, ab, H, bw, ob, fs, ts, emit);
}

// Windowing and the split are most of the non-FFT work of the STFT. Like kmeans.cpp, both are
// built for the baseline ISA, x86-64-v3 (AVX2+FMA) and x86-64-v4 (AVX-512), and one build is
// picked once per process from the CPU; SCATCLUST_STFT_ISA=baseline|x86-64-v3 lowers the
// level (tests run every build on one machine). Levels may differ in the last bits (FMA
// contraction); within a process every call uses the same one.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && \
    !defined(SCATCLUST_NO_ISA_DISPATCH)
#define SCATCLUST_STFT_DISPATCH 1
template <class T, class OutT, class Emit>
__attribute__((target("arch=x86-64-v3"))) void split_block_v3(const T* zt, const T* ab, int H, long long bw,
                                                              OutT* ob, std::size_t fs, std::size_t ts, Emit emit) {
    split_block_impl<T, OutT, Emit>(zt, ab, H, bw, ob, fs, ts, emit);
}
template <class T, class OutT, class Emit>
__attribute__((target("arch=x86-64-v4"))) void split_block_v4(const T* zt, const T* ab, int H, long long bw,
                                                              OutT* ob, std::size_t fs, std::size_t ts, Emit emit) {
    split_block_impl<T, OutT, Emit>(zt, ab, H, bw, ob, fs, ts, emit);
}

template <class T>
__attribute__((target("arch=x86-64-v3"))) void window_frame_v3(const T* xs, const T* w, T* sd, int m, int ps,
                                                               int mfft) {
    window_frame_impl<T>(xs, w, sd, m, ps, mfft);
}
template <class T>
__attribute__((target("arch=x86-64-v4"))) void window_frame_v4(const T* xs, const T* w, T* sd, int m, int ps,
                                                               int mfft) {
    window_frame_impl<T>(xs, w, sd, m, ps, mfft);
}

int stft_isa_level() {
    static const int level = cpu_isa_level("SCATCLUST_STFT_ISA");
    return level;
}
#endif

template <class T>
void window_frame(const T* xs, const T* w, T* sd, int m, int ps, int mfft) {
#ifdef SCATCLUST_STFT_DISPATCH
    const int level = stft_isa_level();
    if (level >= 4) return window_frame_v4<T>(xs, w, sd, m, ps, mfft);
    if (level == 3) return window_frame_v3<T>(xs, w, sd, m, ps, mfft);
#endif
    window_frame_base<T>(xs, w, sd, m, ps, mfft);
}

template <class T, class OutT, class Emit>
void split_block(const T* zt, const T* ab, int H, long long bw, OutT* ob, std::size_t fs, std::size_t ts,
                 Emit emit) {
#ifdef SCATCLUST_STFT_DISPATCH
    const int level = stft_isa_level();
    if (level >= 4) return split_block_v4<T, OutT, Emit>(zt, ab, H, bw, ob, fs, ts, emit);
    if (level == 3) return split_block_v3<T, OutT, Emit>(zt, ab, H, bw, ob, fs, ts, emit);
#endif
    split_block_base<T, OutT, Emit>(zt, ab, H, bw, ob, fs, ts, emit);
}

// Shared forward driver; `emit(f, value, dst)` stores one frequency bin of one frame.
template <class T, class OutT, class Emit>
void forward_impl(const T* x, std::size_t batch, long long n, const T* win, const StftParams& prm,
                  long long p0, long long p1, StftPadding padding, T scale, OutT* out,
                  int n_threads, bool frame_major, StftOutput kind, T log_eps, Emit emit) {
    validate_stft_params(prm);
    require(n >= 1, "x has n=", n, " samples per row; it must have >= 1");
    require(p0 < p1, "frame range p0=", p0, ", p1=", p1, " must satisfy p0 < p1");
    const int ipad = static_cast<int>(padding);
    require(ipad >= 0 && ipad <= 3, "padding=", ipad, " must be 0 (zeros), 1 (edge), 2 (even) or 3 (odd)");
    require(std::isfinite(scale), "scale=", scale, " must be finite");
    require_finite(win, static_cast<std::size_t>(prm.m_num), "win");
    if (batch == 0) return;
    require_finite(x, batch * static_cast<std::size_t>(n), "x");

    const int m = prm.m_num, hop = prm.hop, mfft = prm.mfft, mid = m / 2;
    const int nf = mfft / 2 + 1;
    const int ps = roll_amount(prm);
    const long long nfr = p1 - p0;
    // Part of x that the frames touch (scipy pads exactly this slice).
    const long long ks0 = p0 * hop - mid;
    const long long ks1 = ks0 + nfr * hop + m;
    const long long i0 = std::max<long long>(ks0, 0), i1 = std::min<long long>(ks1, n);
    const bool needs_pad = ks0 < 0 || ks1 > n;
    if (needs_pad && padding != StftPadding::Zeros)
        require(i1 > i0, "frames p0=", p0, ", p1=", p1, " do not overlap x (n=", n,
                "), so padding mode ", ipad, " has no samples to extend; use zeros or other frames");

    std::vector<T> w(m);
    for (int j = 0; j < m; ++j) w[j] = win[j] * scale;

    // Power-of-two mfft on an AVX2 CPU: our across-frames SIMD real FFT (stft_simd.hpp).
    {
        detail::StftSimdTask<T> task;
        task.x = x;
        task.batch = batch;
        task.n = n;
        task.w = w.data();
        task.m = m;
        task.hop = hop;
        task.mfft = mfft;
        task.ps = roll_amount(prm);
        task.p0 = p0;
        task.nfr = p1 - p0;
        task.i0 = i0;
        task.i1 = i1;
        task.padding = padding;
        task.output = kind;
        task.log_eps = log_eps;
        task.out = out;
        task.frame_major = frame_major;
        task.n_threads = resolve_num_threads(n_threads);
        if (detail::stft_simd_forward<T>(task)) return;
    }

    // Even FFT lengths: the real FFT of length mfft is computed as a complex FFT of length
    // H = mfft/2 on the sample pairs z[j] = x[2j] + i x[2j+1], followed by the standard split
    //   X[k] = E + W^k O = A_k Z[k] + B_k conj(Z[H-k]),  A_k = (1 - i W^k)/2, B_k = (1 + i W^k)/2,
    // (W = exp(-2 pi i / mfft), E and O the spectra of the even and odd samples). FFTW's
    // complex transforms have SIMD codelets that its real ones lack (measured: 2.7x faster
    // for mfft = 256, float32).
    const bool half = mfft % 2 == 0;
    const int H = mfft / 2;
    // Even mfft (the common case): blocks of kTBlock frames are transformed by one batched
    // plan that writes its result transposed (bin k of the block's frames is one contiguous
    // run), so the split runs over contiguous frames and, for the bin-major output, its
    // results go straight into contiguous output rows: no separate transpose. Frame-major
    // output uses the same arithmetic (strided stores), so both layouts hold identical bits.
    const int hm = half ? kTBlock : static_cast<int>(std::min<long long>(kFrameBlock, nfr));
    // Odd mfft: frames are transformed one by one with a real FFT (for short frames FFTW's
    // single-transform plans beat its batched ones) into a block of spectra whose rows are
    // padded to an even number of complex values to keep the plan's SIMD alignment.
    const int nfp = nf + (nf & 1);
    const auto plan = half ? get_plan<T>(FftKind::ForwardTransposed, H, false, kTBlock)
                           : get_plan<T>(FftKind::R2C, mfft, false, 1);
    std::vector<T> ab(half ? 4 * static_cast<std::size_t>(H) : 0);  // (Ar, Ai, Br, Bi) per bin
    for (int k = 0; k < (half ? H : 0); ++k) {
        const double a = -2.0 * M_PI * k / mfft;
        const double wr = std::cos(a), wi = std::sin(a);
        ab[4 * k] = static_cast<T>(0.5 * (1.0 + wi));   // (1 - i W)/2
        ab[4 * k + 1] = static_cast<T>(-0.5 * wr);
        ab[4 * k + 2] = static_cast<T>(0.5 * (1.0 - wi));  // (1 + i W)/2
        ab[4 * k + 3] = static_cast<T>(0.5 * wr);
    }
    const long long nblocks = (nfr + hm - 1) / hm;
    const long long total = static_cast<long long>(batch) * nblocks;
    const int nt = resolve_num_threads(n_threads);
    const std::size_t seg_rows = half ? kTBlock : 1;

    ParallelGuard guard;  // scratch allocation failures surface after the region
#pragma omp parallel num_threads(nt)
    {
        AlignedBuffer<T> seg;
        AlignedBuffer<std::complex<T>> spec, zf;
        bool ok = false;
        guard.run([&] {
            seg.resize(seg_rows * mfft);
            if (half) zf.resize(static_cast<std::size_t>(kTBlock) * H);
            else spec.resize(static_cast<std::size_t>(hm) * nfp);
            // Rows of the frame block that a short last block leaves unused keep finite values.
            std::fill(seg.data(), seg.data() + seg_rows * mfft, T(0));
            ok = true;
        });
        // Rolling left by ps: sample j of the windowed segment goes to (j - ps) mod mfft.
        auto dst = [&](int j) { return j >= ps ? j - ps : j - ps + mfft; };
        // Windowed, rolled frame t (relative to p0) of row xr into sd[0..mfft).
        auto fill_frame = [&](const T* xr, long long t, T* sd) {
            // Positions not written below stay zero: with mfft == m there are none, and
            // with mfft > m they are the same positions for every frame (fixed roll).
            const long long k = (p0 + t) * hop - mid;  // first sample of the frame
            if (k >= 0 && k + m <= n) {
                window_frame<T>(xr + k, w.data(), sd, m, ps, mfft);
            } else {
                for (int j = 0; j < m; ++j) {
                    const long long kk = k + j;
                    const T v = (kk >= i0 && kk < i1) ? xr[kk] : detail::stft_pad_value(xr, i0, i1, kk, padding);
                    sd[dst(j)] = v * w[j];
                }
            }
        };
#pragma omp for schedule(static)
        for (long long wi = 0; wi < total; ++wi) {
            if (!ok) continue;
            const long long b = wi / nblocks;
            const long long t0 = (wi % nblocks) * hm;
            const long long t1 = std::min(t0 + hm, nfr);
            const long long bw = t1 - t0;
            const T* xr = x + b * n;
            if (half) {
                for (long long t = t0; t < t1; ++t) fill_frame(xr, t, seg.data() + (t - t0) * mfft);
                // zf[k * kTBlock + t] = Z_t[k]; rows are mfft reals = H complex apart.
                plan->c2c(reinterpret_cast<const std::complex<T>*>(seg.data()), zf.data());
                // Output of (bin f, frame t0 + t) at ob[f * fs + t * ts].
                OutT* ob = frame_major ? out + (static_cast<std::size_t>(b) * nfr + t0) * nf
                                       : out + (static_cast<std::size_t>(b) * nf) * nfr + t0;
                const std::size_t fs = frame_major ? 1 : static_cast<std::size_t>(nfr);
                const std::size_t ts = frame_major ? static_cast<std::size_t>(nf) : 1;
                split_block<T, OutT, Emit>(reinterpret_cast<const T*>(zf.data()), ab.data(), H, bw, ob, fs, ts, emit);
                continue;
            }
            T* sd = seg.data();
            for (long long t = t0; t < t1; ++t) {
                fill_frame(xr, t, sd);
                plan->r2c(sd, spec.data() + static_cast<std::size_t>(t - t0) * nfp);
            }
            if (frame_major) {  // each frame's spectrum is one contiguous output row
                OutT* ob = out + (static_cast<std::size_t>(b) * nfr + t0) * nf;
                for (long long t = 0; t < bw; ++t) {
                    const std::complex<T>* sp = spec.data() + t * nfp;
                    OutT* o = ob + static_cast<std::size_t>(t) * nf;
                    for (int f = 0; f < nf; ++f) emit(sp[f], o[f]);
                }
            } else {  // bin-major (odd mfft): transpose the block while it is in cache
                OutT* ob = out + (static_cast<std::size_t>(b) * nf) * nfr + t0;
                for (int f = 0; f < nf; ++f) {
                    const std::complex<T>* sp = spec.data() + f;
                    OutT* o = ob + static_cast<std::size_t>(f) * nfr;
                    for (long long t = 0; t < bw; ++t) emit(sp[t * nfp], o[t]);
                }
            }
        }
    }
    guard.rethrow();
}

}  // namespace

void validate_stft_params(const StftParams& prm) {
    require(prm.m_num >= 1, "window length m_num=", prm.m_num, " must be >= 1");
    require(prm.hop >= 1, "hop=", prm.hop, " must be >= 1");
    require(prm.mfft >= prm.m_num, "mfft=", prm.mfft, " must be >= the window length m_num=", prm.m_num);
    if (prm.has_phase_shift)
        require(prm.phase_shift > -static_cast<long long>(prm.mfft) && prm.phase_shift < prm.mfft,
                "phase_shift=", prm.phase_shift, " must satisfy -mfft < phase_shift < mfft (mfft=", prm.mfft, ")");
}

template <class T>
void stft_forward_complex(const T* x, std::size_t batch, long long n, const T* win,
                          const StftParams& prm, long long p0, long long p1, StftPadding padding,
                          T scale, std::complex<T>* out, int n_threads, bool frame_major) {
    forward_impl<T, std::complex<T>>(x, batch, n, win, prm, p0, p1, padding, scale, out, n_threads, frame_major,
                                     StftOutput::Complex, T(1), [](const std::complex<T>& z, std::complex<T>& o) { o = z; });
}

template <class T>
void stft_forward_real(const T* x, std::size_t batch, long long n, const T* win,
                       const StftParams& prm, long long p0, long long p1, StftPadding padding,
                       T scale, StftOutput output, T log_eps, T* out, int n_threads, bool frame_major) {
    switch (output) {
        case StftOutput::Magnitude:
            forward_impl<T, T>(x, batch, n, win, prm, p0, p1, padding, scale, out, n_threads, frame_major,
                               output, log_eps, [](const std::complex<T>& z, T& o) { o = std::hypot(z.real(), z.imag()); });
            return;
        case StftOutput::Power:
            forward_impl<T, T>(x, batch, n, win, prm, p0, p1, padding, scale, out, n_threads, frame_major,
                               output, log_eps, [](const std::complex<T>& z, T& o) { o = z.real() * z.real() + z.imag() * z.imag(); });
            return;
        case StftOutput::LogPower:
            require(std::isfinite(log_eps) && log_eps > T(0), "log_eps=", log_eps, " must be finite and > 0");
            forward_impl<T, T>(x, batch, n, win, prm, p0, p1, padding, scale, out, n_threads, frame_major,
                               output, log_eps, [log_eps](const std::complex<T>& z, T& o) {
                                   o = std::log(z.real() * z.real() + z.imag() * z.imag() + log_eps);
                               });
            return;
        default:
            fail("output=", static_cast<int>(output),
                 " must be 1 (magnitude), 2 (power) or 3 (log_power) for a real output array");
    }
}

template <class T>
void stft_inverse(const std::complex<T>* S, std::size_t batch, long long n_frames, long long p_first,
                  const T* dual, const StftParams& prm, long long q0, long long q1, long long k0,
                  long long k1, T scale, T* out, int n_threads, bool frame_major) {
    validate_stft_params(prm);
    require(n_frames >= 1, "S has n_frames=", n_frames, " frames; it must have >= 1");
    require(k0 < k1, "output range k0=", k0, ", k1=", k1, " must satisfy k0 < k1");
    require(q0 >= p_first && q1 <= p_first + n_frames, "frame range q0=", q0, ", q1=", q1,
            " must lie within the frames of S [", p_first, ", ", p_first + n_frames, ")");
    require(std::isfinite(scale), "scale=", scale, " must be finite");
    require_finite(dual, static_cast<std::size_t>(prm.m_num), "dual_win");
    if (batch == 0) return;
    const int m = prm.m_num, hop = prm.hop, mfft = prm.mfft, mid = m / 2;
    const int nf = mfft / 2 + 1;
    require_finite(reinterpret_cast<const T*>(S), 2 * batch * static_cast<std::size_t>(nf) * n_frames, "S");
    const long long nout = k1 - k0;
    const long long nq = std::max<long long>(q1 - q0, 0);
    const int ps = roll_amount(prm);
    const T inv_mfft = T(1) / T(mfft);
    std::vector<T> d(m);
    for (int j = 0; j < m; ++j) d[j] = dual[j] * scale;
    const int nt = resolve_num_threads(n_threads);

    // Phase 1: every frame's inverse FFT times the dual window, independently. Work items are
    // (row, block of frames): a block of columns of S is read row by row (contiguous runs)
    // into scratch, then each frame is transformed from there.
    // Uninitialised: every element is written in phase 1 before phase 2 reads it.
    AlignedBuffer<T> frames(static_cast<std::size_t>(batch) * nq * m);
    if (nq > 0) {
        auto plan = get_plan<T>(FftKind::C2R, mfft, false);
        const long long nblocks = (nq + kFrameBlock - 1) / kFrameBlock;
        const long long total = static_cast<long long>(batch) * nblocks;
        ParallelGuard guard;
#pragma omp parallel num_threads(nt)
        {
            AlignedBuffer<std::complex<T>> spec;
            AlignedBuffer<T> seg;
            std::vector<std::complex<T>> blk;
            bool ok = false;
            guard.run([&] { spec.resize(nf); seg.resize(mfft); blk.resize(static_cast<std::size_t>(nf) * kFrameBlock); ok = true; });
#pragma omp for schedule(static)
            for (long long wi = 0; wi < total; ++wi) {
                if (!ok) continue;
                const long long b = wi / nblocks;
                const long long t0 = (wi % nblocks) * kFrameBlock;
                const long long t1 = std::min(t0 + kFrameBlock, nq);
                const long long bw = t1 - t0;
                const std::size_t c0 = static_cast<std::size_t>(q0 - p_first + t0);  // first column
                const std::complex<T>* Sb = S + static_cast<std::size_t>(b) * nf * n_frames;
                if (!frame_major)
                    for (int f = 0; f < nf; ++f)
                        std::copy(Sb + f * static_cast<std::size_t>(n_frames) + c0,
                                  Sb + f * static_cast<std::size_t>(n_frames) + c0 + bw,
                                  blk.data() + static_cast<std::size_t>(f) * kFrameBlock);
                for (long long qi = t0; qi < t1; ++qi) {
                    if (frame_major) {
                        const std::complex<T>* row = Sb + (c0 + (qi - t0)) * nf;
                        std::copy(row, row + nf, spec.data());
                    } else {
                        for (int f = 0; f < nf; ++f)
                            spec[f] = blk[static_cast<std::size_t>(f) * kFrameBlock + (qi - t0)];
                    }
                    plan->c2r(spec.data(), seg.data());  // destroys spec
                    T* fr = frames.data() + (static_cast<std::size_t>(b) * nq + qi) * m;
                    // Undo the roll: sample j of the frame sits at (j - ps) mod mfft.
                    for (int j = 0; j < m; ++j) {
                        const int src = j >= ps ? j - ps : j - ps + mfft;
                        fr[j] = (seg[src] * inv_mfft) * d[j];
                    }
                }
            }
        }
        guard.rethrow();
    }

    // Phase 2: overlap-add over disjoint output chunks; each sample sums frames in increasing q.
    const long long nchunks = (nout + kOlaChunk - 1) / kOlaChunk;
    const long long total = static_cast<long long>(batch) * nchunks;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (long long wi = 0; wi < total; ++wi) {
        const long long b = wi / nchunks;
        const long long c0 = k0 + (wi % nchunks) * kOlaChunk;
        const long long c1 = std::min(c0 + kOlaChunk, k1);
        T* ob = out + static_cast<std::size_t>(b) * nout;
        std::fill(ob + (c0 - k0), ob + (c1 - k0), T(0));
        // Frame q covers [q*hop - mid, q*hop - mid + m).
        const long long qa = std::max(q0, floor_div(c0 + mid - m, hop) + 1);
        const long long qb = std::min(q1 - 1, floor_div(c1 - 1 + mid, hop));
        for (long long q = qa; q <= qb; ++q) {
            const long long s = q * hop - mid;
            const long long a = std::max(c0, s), e = std::min(c1, s + m);
            const T* fr = frames.data() + (static_cast<std::size_t>(b) * nq + (q - q0)) * m;
            for (long long k = a; k < e; ++k) ob[k - k0] += fr[k - s];
        }
    }
}

template void stft_forward_complex<float>(const float*, std::size_t, long long, const float*, const StftParams&,
                                          long long, long long, StftPadding, float, std::complex<float>*, int, bool);
template void stft_forward_complex<double>(const double*, std::size_t, long long, const double*, const StftParams&,
                                           long long, long long, StftPadding, double, std::complex<double>*, int, bool);
template void stft_forward_real<float>(const float*, std::size_t, long long, const float*, const StftParams&,
                                       long long, long long, StftPadding, float, StftOutput, float, float*, int, bool);
template void stft_forward_real<double>(const double*, std::size_t, long long, const double*, const StftParams&,
                                        long long, long long, StftPadding, double, StftOutput, double, double*, int, bool);
template void stft_inverse<float>(const std::complex<float>*, std::size_t, long long, long long, const float*,
                                  const StftParams&, long long, long long, long long, long long, float, float*, int, bool);
template void stft_inverse<double>(const std::complex<double>*, std::size_t, long long, long long, const double*,
                                   const StftParams&, long long, long long, long long, long long, double, double*, int, bool);

}  // namespace scatclust
