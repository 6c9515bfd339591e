// Scattering-spectra moment kernel (issue 4, section 2; spec: notes/spectra_spec.md).
//
// Input x (B, C, N) real. Per batch element b and channel c:
//   layer 1, series i = j (0..J):      s1[j] = x * psi_j (j < J, complex), s1[J] = x * phi (real)
//   layer 2, series i = J+1+pair(j1,j2) for 0 <= j1 < j2 <= J, pairs j1-major:
//                                      s2[j1,j2] = |s1[j1]| * psi_j2 (phi for j2 = J)
// Convolution u * h = crop_N(ifft(fft(pad(u)) . h)); pad = symmetric (x then its time
// reverse, P = 2N) or periodic (P = N). Filters are real Fourier-domain arrays of length P.
// Terms (kind, ca, ia, cb, ib): 0 MEAN <u>, 1 ABS <|u|>, 2 PROD <u conj(v)>, u = series ia of
// channel ca, v = series ib of channel cb. Pooling <f>[t] = (1/K) sum_{n=o+tS}^{o+tS+K-1} f[n],
// n_out = (N - o - K) / S + 1 >= 1. Output (B, n_terms, n_out) complex.
//
// Algorithm
// - Only series that some term references are computed, and envelopes |s1[j1]| only for the
//   (c, j1) that a referenced layer-2 series needs (one analysis transform each).
// - Symmetric padding with even N (the usual case) never forms the padded signal: the DFT of
//   [u, reverse(u)] is e^{i pi k / 2N} C[k] with C the DCT-II of u (computed by Makhoul's
//   reordering and one real FFT of size N), and the first N samples of the length-2N inverse
//   transform of C[k] h[k] are, after an O(N) twiddle, one complex inverse FFT of size N
//   (even outputs from its first half, odd outputs reversed and conjugated from its second
//   half). This halves the FFT work of the textbook length-2N route. Odd N and periodic
//   padding use that textbook route (r2c of the padded signal, c2c inverse of size P).
// - Filters are multiplied over their runs of non-zero bins only.
// - Series are grouped: connected components of the graph whose edges are PROD terms
//   (without cross terms, one group per (channel, j2): s1[j2] and all s2[., j2]). Only the
//   series of one group are held at a time (memory ~ group size x N per batch element, plus
//   the envelope spectra), and all terms of a group are evaluated in one pass over time in
//   cache-sized chunks.
// - Pooled sums are accumulated in double (products of T values formed in double), four
//   lanes per window chunk combined in a fixed order; every output is computed by one thread
//   with a thread-count-independent order, so results are bit-identical for any n_threads.
// - OpenMP: work items (batch element x channel / envelope / group member / time segment)
//   within a chunk of batch elements, dynamic schedule.
//
// Backward (VJP, torch's complex-gradient convention grad = dL/dRe m + i dL/dIm m): the
// forward series are recomputed (not stored between calls), then the adjoints run in reverse:
// pooling (spread), products/modulus (derivative of |z| taken as 0 where z == 0), layer-2
// convolutions (adjoint = the same real filter applied to the FFT of the zero-extended
// gradient; real part taken for the real envelope), envelope modulus, layer-1 convolutions,
// cropping (zero-extension) and padding (fold). Gradient spectra are accumulated per
// destination (channel or envelope) in a fixed order, so the VJP is also bit-identical for any
// thread count. A real series (Hermitian-symmetric filter, e.g. phi) is stored with exactly
// zero imaginary part and the imaginary part of its gradient is ignored.
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace scatclust {

enum class MomentPadding : int { Symmetric = 0, Periodic = 1 };
enum class MomentKind : int { Mean = 0, Abs = 1, Prod = 2 };

template <class T>
class ScatteringMoments {
public:
    using C = std::complex<T>;

    // psi_f (J, n_padded) and phi_f (n_padded) float64, real Fourier-domain filters;
    // terms (n_terms, 5) int32 rows (kind, ca, ia, cb, ib). padding 0 symmetric
    // (n_padded == 2 n_input), 1 periodic (n_padded == n_input).
    ScatteringMoments(const double* psi_f, int J, int n_padded, const double* phi_f, int n_input, int padding,
                      int n_channels, const std::int32_t* terms, int n_terms);

    int J() const { return J_; }
    int n_padded() const { return P_; }
    int n_input() const { return N_; }
    int n_channels() const { return C_; }
    int n_terms() const { return static_cast<int>(terms_.size()); }
    int n_series() const { return n_series_; }
    // Validates the pooling parameters and returns the number of windows.
    int n_out(int kernel, int stride, int offset) const;

    // IN x (batch, C, N). OUT out (batch, n_terms, n_out).
    void forward(const T* x, std::size_t batch, C* out, int kernel, int stride, int offset, int n_threads) const;
    // IN x (batch, C, N), grad_out (batch, n_terms, n_out). OUT grad_x (batch, C, N), overwritten.
    void backward(const T* x, std::size_t batch, const C* grad_out, T* grad_x, int kernel, int stride, int offset,
                  int n_threads) const;

    struct Scratch;  // per-thread buffers (defined in moments.cpp)
    struct Pool;     // pooling geometry of one call

private:
    struct Term {
        int kind, ca, ia, cb, ib;
        int slot_a, slot_b;  // positions of the series in their group
    };
    struct Member {
        int node;    // c * n_series + i
        int filter;  // 0..J-1 psi_j, J phi
        int source;  // spectrum index: c (layer 1) or C + envelope index (layer 2)
        int env_out; // >= 0: this layer-1 series also yields envelope env_out (in G1)
    };
    struct Group {
        std::vector<Member> members;
        std::vector<int> terms;  // indices into terms_, ascending
        std::vector<int> dests;  // distinct member sources, ascending (backward accumulators)
    };
    using Runs = std::vector<std::pair<int, int>>;

    void run(const T* x, std::size_t batch, C* out, const C* grad_out, T* grad_x, int kernel, int stride,
             int offset, int n_threads) const;

    // Transforms (see moments.cpp). spec: spec_len_ values; acc: acc_len_ values.
    void analyze(const T* u, T* spec, Scratch& s) const;
    void synth(const T* spec, int f, C* y, Scratch& s) const;
    void grad_synth_accum(const C* g, int f, T* acc, Scratch& s) const;
    void grad_analyze(T* acc, T* g, Scratch& s) const;

    int J_, P_, N_, C_, n_series_;
    MomentPadding padding_;
    bool fast_;  // symmetric padding with even N: half-size transforms
    std::size_t spec_len_, acc_len_;
    // Filters, 1/P folded in. fast_: over the band [lo, hi) of non-zero bins of filter f,
    // ap = e^{i pi k/2N} h[k]/P and am = -i e^{i pi k/2N} h[k+N]/P (k >= 1; zero when the
    // filter vanishes on negative frequencies, has_m_ = 0), stored from coef_off_[f].
    // Otherwise hq_[f][k] = h[k]/P for k < P, multiplied over its non-zero runs.
    std::vector<C> ap_, am_;
    std::vector<std::size_t> coef_off_;
    std::vector<std::pair<int, int>> band_;
    std::vector<char> has_m_;
    std::vector<T> hq_;
    std::vector<Runs> runs_q_;
    std::vector<char> real_;                     // filter is Hermitian-symmetric: real series
    std::vector<C> tw_;                          // e^{i pi k / 2N}, k < N
    std::vector<int> j1_, filt_;                 // per series: j1 (-1 for layer 1), filter index
    std::vector<Term> terms_;
    std::vector<std::pair<int, int>> envs_;      // (c, j1) of every needed envelope
    std::vector<int> envs_pre_;                  // envelopes computed before the groups (phase E)
    std::vector<Group> groups_;
    std::size_t max_members_ = 0;
};

}  // namespace scatclust
