// 1-D wavelet scattering transform (orders 0, 1, 2) and its vector-Jacobian product.
//
// Same computation as kymatio 0.3's `scattering1d` (average=True), on a Morlet filter bank
// given in the Fourier domain (MorletFilterBank, kind "kymatio"):
//   x_pad = reflect-pad(x) to N_padded, X = FFT(x_pad)
//   S0          = unpad( IFFT( Pi_{2^kf}( X . phi ) ) )                         (real)
//   U1[n1]      = | IFFT( Pi_{2^k1}( X . psi1[n1] ) ) |           at rate 2^-k1
//   S1[n1]      = unpad( IFFT( Pi_{2^(kf-k1)}( FFT(U1) . phi_{k1} ) ) )
//   U2[n1,n2]   = | IFFT( Pi_{2^k2}( FFT(U1) . psi2_{k1}[n2] ) ) |  for j2 > j1, rate 2^-(k1+k2)
//   S2[n1,n2]   = unpad( IFFT( Pi_{2^(kf-k1-k2)}( FFT(U2) . phi_{k1+k2} ) ) )
// with Pi_P the periodisation of a spectrum over P periods (mean), which is subsampling by P
// in time; h_k the filter h periodised (mean) to length N_padded / 2^k; kymatio's exponents
//   k1 = max(min(j1, log2_T) - oversampling, 0), k2 = max(min(j2, log2_T) - k1 - oversampling, 0),
//   kf = max(log2_T - oversampling, 0) (every path ends at rate 2^-kf);
// unpad keeps [ind_start[kf], ind_end[kf]). Output (batch, n_paths, n_time), kymatio's path
// order: S0, then S1[n1] for every n1, then S2[n1, n2] in (n1, n2) order.
//
// Speed: real FFTs of even length M are one complex FFT of length M/2 plus a split pass
// (FFTW's complex codelets are SIMD, its real ones in some builds are not); filter products
// skip each filter's runs of exact zeros (bit-identical results) and are fused with the
// periodisation; the low-pass outputs use complex-to-real inverse FFTs; all buffers are
// per-thread and allocated once per call. OpenMP: signals in chunks; inside a chunk the
// (signal, n1) tasks -- each one first-order path with all its second-order children -- are
// shared dynamically. Every output element is computed by one task in a fixed order, so
// results are bit-identical for any thread count.
//
// VJP: recomputes the forward internally (no cache is kept between forward and backward, so
// memory stays O(threads * N_padded) plus, per chunk of signals, each first-order path's
// contribution to the input spectrum, which is then summed in n1 order: bit-identical for
// any thread count). See scattering.cpp for the adjoint of each step.
#pragma once

#include <complex>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "scatclust/fft_plan.hpp"

namespace scatclust {

// One FFT the transform executes per signal: kind, size, in-place, count.
struct FftCensusEntry {
    FftKind kind;
    int n;
    bool inplace;
    long long count;
};

template <class T>
class Scattering1D {
public:
    using C = std::complex<T>;

    // psi1_f (n_psi1, n_padded), psi2_f (n_psi2, n_padded), phi_f (n_padded): float64
    // real Fourier transforms (fftfreq order). j1, j2: each wavelet's maximal subsampling
    // exponent. ind_start / ind_end: unpadding bounds after subsampling by 2^k, k = 0..
    // (at least kf + 1 entries). Throws std::invalid_argument naming the bad argument.
    Scattering1D(const double* psi1_f, int n_psi1, const double* psi2_f, int n_psi2, const double* phi_f,
                 int n_padded, const std::vector<int>& j1, const std::vector<int>& j2, int log2_T,
                 int n_input, int pad_left, const std::vector<int>& ind_start, const std::vector<int>& ind_end,
                 int max_order, int oversampling);

    int n_input() const { return n_; }
    int n_padded() const { return np_; }
    int n_paths() const { return static_cast<int>(path_n1_.size()); }
    int n_time() const { return n_time_; }
    int max_order() const { return max_order_; }
    // Per path: first- and second-order filter index (-1 where the path has no such order).
    const std::vector<int>& path_n1() const { return path_n1_; }
    const std::vector<int>& path_n2() const { return path_n2_; }

    // IN x (batch, n_input); OUT out (batch, n_paths, n_time).
    void forward(const T* x, std::size_t batch, T* out, int n_threads) const;

    // IN x (batch, n_input), grad_out (batch, n_paths, n_time); OUT grad_x (batch, n_input):
    // grad_x = J(x)^T grad_out, with d|z| = Re(conj(z) dz) / |z| and 0 where z == 0.
    void vjp(const T* x, std::size_t batch, const T* grad_out, T* grad_x, int n_threads) const;

    // The FFTs forward (vjp=false) or vjp (vjp=true) executes per signal, for benchmarks.
    std::vector<FftCensusEntry> fft_census(bool vjp) const;

private:
    // A filter at one resolution: spectrum of length M (nonzero only on `runs`, which are
    // split at multiples of M >> sub), applied then periodised over 2^sub periods.
    struct Level {
        std::vector<T> h;
        std::vector<std::pair<int, int>> runs;
        int M = 0;
        int sub = 0;
        int out() const { return M >> sub; }
    };
    struct Child {
        int n2, path, psi, phi;  // psi: index into psi2_levels_, phi: into phi_levels_
        int band;                // bins of FFT(U2) the low-pass reads (see rfft_full)
    };
    struct First {
        int path, phi, k1;
        int band = 0;  // bins of FFT(U1) the low-pass and the psi2 filters read
        std::vector<Child> children;
    };
    struct Plans;
    struct Work;

    Level make_level(const double* full, int k, int sub) const;
    Plans plans(bool vjp) const;
    // Spectrum of the real u (length M) into X; only bins k, M-k for k < band when band <= M/4.
    void rfft_full(const Plans& p, const T* u, C* X, int M, C* scratch, int band) const;
    void irfft(const Plans& p, const C* X, int M, T* out, C* scratch) const;
    void lowpass(const Plans& p, const C* U, const Level& phi, T scale, T* out, Work& w) const;
    void lowpass_adjoint(const Plans& p, const T* g, const Level& phi, C* V, Work& w) const;
    void first_order(const Plans& p, const C* X, int n1, Work& w) const;
    void forward_task(const Plans& p, const C* X, int n1, T* out_signal, Work& w) const;
    void vjp_task(const Plans& p, const C* X, int n1, const T* g_signal, C* contrib, Work& w) const;

    int n_, np_, log2_np_, pad_left_, log2_T_, max_order_, oversampling_, kf_, n_time_, start_;
    std::vector<Level> psi1_;            // level 0, sub = k1
    std::vector<Level> psi2_levels_;     // psi2[n2] at level k1, sub = k2
    std::vector<Level> phi_levels_;      // phi at level k, sub = kf - k
    int phi0_ = 0;                       // index of phi at level 0
    std::vector<First> first_;
    std::vector<int> path_n1_, path_n2_;
    std::vector<std::size_t> contrib_off_;  // per n1, offset of its compact input-spectrum part
    std::vector<std::vector<C>> twiddles_;  // per log2(M): exp(-2 pi i k / M), k = 0..M/4
};

// Executes, for `batch` signals, exactly the FFTs of `census` (per signal), with the
// cached plans on zeroed aligned buffers, OpenMP over signals: the "FFTW alone" time of a
// transform, for benchmarks.
template <class T>
void run_fft_census(const std::vector<FftCensusEntry>& census, std::size_t batch, int n_threads);

}  // namespace scatclust
