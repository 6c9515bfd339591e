// Morlet filter banks in the Fourier domain (float64; kernels cast once to their precision).
//
// Parameterisation "kymatio" reproduces kymatio 0.3's 1-D scattering filter bank:
//   sigma_min = sigma0 / 2^J, xi_max = max(1/(1+2^(3/Q)), 0.35),
//   sigma(xi) = xi (1-2^(-1/Q))/(1+2^(-1/Q)) / sqrt(2 ln(1/r_psi)),
//   geometric centre frequencies xi_max 2^(-n/Q) while sigma > sigma_min 2^(1/Q), then Q-1
//   constant-bandwidth filters (sigma_min) linearly spaced below the last one; low-pass
//   Gaussian phi with sigma0 / T; each filter periodised over P periods in frequency and
//   normalised to unit L1 norm in time; band-pass filters zero-mean by the kappa correction.
//   The transform pads the input to N_padded = 2^J_pad, as kymatio does.
// Parameterisation "spectra" (scattering-spectra literature): one wavelet per octave (Q=1),
//   xi_j = 0.425 * 2^(-j) for j = 0..J-1, same bandwidth rule with Q = 1, no
//   constant-bandwidth tail, and phi at scale T (default 2^J).
#pragma once

#include <string>
#include <vector>

namespace scatclust {

struct FilterInfo {
    double xi;     // centre frequency, cycles per sample
    double sigma;  // Gaussian bandwidth in frequency, cycles per sample
    int j;         // maximal dyadic subsampling that keeps the filter alias-free
};

// One Morlet (xi > 0) or Gaussian (xi == 0) filter of length N, into out[N] (kymatio's morlet_1d).
void morlet_1d(int N, double xi, double sigma, double* out);

// Number of samples of the half support of h (time domain) outside of which the L1
// mass falls below criterion (kymatio's compute_temporal_support on one filter).
// Returns -1 if the criterion is never met (filter longer than the signal).
int temporal_support(const double* h_f, int N, double criterion = 1e-3);

// Filter parameters of one order (kymatio's compute_params_filterbank).
std::vector<FilterInfo> morlet_params(double sigma_min, int Q, double alpha, double r_psi);

struct MorletFilterBank {
    // Builds every filter. Throws std::invalid_argument naming the parameter for bad input.
    MorletFilterBank(int N, int J, int Q1, int Q2, double T, const std::string& kind = "kymatio",
                     double r_psi = 0.7071067811865476, double sigma0 = 0.1, double alpha = 5.0);

    int N = 0;            // input length
    int J = 0, Q1 = 1, Q2 = 1;
    double T = 0;         // averaging scale in samples
    int log2_T = 0;
    std::string kind;
    double r_psi, sigma0, alpha;
    int N_padded = 0, pad_left = 0, pad_right = 0;
    std::vector<FilterInfo> psi1, psi2;  // first- and second-order wavelets
    FilterInfo phi{0.0, 0.0, 0};
    std::vector<double> psi1_f;          // (psi1.size(), N_padded), real Fourier transforms
    std::vector<double> psi2_f;          // (psi2.size(), N_padded)
    std::vector<double> phi_f;           // (N_padded)
    std::vector<int> ind_start, ind_end; // unpadding bounds after 2^k subsampling, k = 0..max(log2_T,J)
};

// ---------------------------------------------------------------------------------------
// Scattering-spectra filter banks (one analytic wavelet per octave, Q = 1).
//
// Battle–Lemarié (cubic spline, Mallat "A Wavelet Tour of Signal Processing", sec. 7.1):
//   with S8(w) = sum_k (w + 2k pi)^-8 = R(cos^2(w/2), sin^2(w/2)) / sin^8(w/2),
//   R(c, s) = (5 + 30c + 30sc + 70c^2 + 2s^2c + 2s^3/3) / (105 * 2^8),
//   scaling function  phi^(w) = w^-4 / sqrt(S8(w)),
//   wavelet       |psi^(w)| = w^-4 sqrt(S8(w/2 + pi) / (S8(w) S8(w/2)))
//   (the phase exp(-iw/2) is dropped: real, zero-phase filters). Both are evaluated in the
//   singularity-free form obtained by writing every S8 with R and cancelling the sines:
//   phi^(w) = sinc4(w/2) / (16 sqrt(R(w/2))),
//   |psi^(w)| = sinc4(w/4) sin^4(w/4) / 16 * sqrt(R(w/4 + pi/2) / (R(w/2) R(w/4))),
//   sinc4(t) = (sin t / t)^4, R(t) = R(cos^2 t, sin^2 t). phi^(0) = 1; the main lobe of psi^
//   ends at its zero w = 4 pi.
// Centre frequency: the energy centroid of the mother wavelet's main lobe,
//   xi_BL = int_0^2 f |psi^(2 pi f)|^2 df / int_0^2 |psi^(2 pi f)|^2 df  (cycles per unit),
//   and its RMS bandwidth sigma_BL (same weights); values by adaptive quadrature, recomputed
//   independently in scatclust.reference and tested to 1e-12.
// Wavelet j (j = 0..J-1) on P samples: psi_j[k] = |psi^(2 pi f_k s_j)| with s_j = xi_BL / xi_j,
//   xi_j = 0.425 * 2^-j cycles/sample, f_k = k / P, for the non-negative frequencies
//   k = 0..floor(P/2) (Nyquist included); negative frequencies are zero (analytic). Tails:
//   |psi^| rises then falls on (0, 4 pi); its first local minimum for w > 0 is its zero at
//   w = 4 pi, and every sample with w > 4 pi (the side lobes) is set to zero. In cycles per
//   sample the kept band is [0, 2 xi_j / xi_BL] = [0, 2.634 xi_j], cut at Nyquist for j = 0, 1.
// Low-pass: phi[k] = phi^(2 pi f_k s_{J-1}) with signed f_k (numpy fftfreq order), the same
//   dilation as the last wavelet, so that |phi|^2 + sum_j |psi_j|^2 = 1 on positive
//   frequencies before cutting (orthonormal-wavelet identity); phi^ falls on (0, 2 pi) to
//   its first local minimum, the zero at |w| = 2 pi, beyond which phi is set to zero
//   (|f| > xi_{J-1} / xi_BL). phi[0] = 1.
inline constexpr double kBattleLemarieXi = 0.7592762123528923;
inline constexpr double kBattleLemarieSigma = 0.16880655983415793;
inline constexpr double kSpectraXi0 = 0.425;  // xi_0 of the scattering-spectra banks, cycles/sample
// Battle–Lemarié lobes that reach past Nyquist are multiplied by a raised cosine falling from
// 1 at f = kNyquistTaperStart to 0 at f = 0.5 cycles/sample (nyquist_taper).
inline constexpr double kNyquistTaperStart = 0.4;
double nyquist_taper(double f);

double battle_lemarie_psi_hat(double omega);  // |psi^(omega)|, omega in radians per unit
double battle_lemarie_phi_hat(double omega);  // phi^(omega)

// Filters of the scattering-spectra front end, sampled at P points (P = 2N for symmetric
// padding, N for periodic). wavelet "battle_lemarie" (above) or "morlet" (morlet_1d with
// xi_j = 0.425 * 2^-j, sigma_j from the Q = 1 rule of MorletFilterBank(kind="spectra"),
// Gaussian phi with sigma = 0.1 / 2^J; not truncated, negative frequencies hold the
// -kappa Gaussian zero-mean correction).
struct SpectraFilterBank {
    SpectraFilterBank(int N, int J, const std::string& wavelet, const std::string& padding);
    int N = 0, J = 0, P = 0;
    std::string wavelet, padding;
    std::vector<double> xi, sigma;  // (J) centre frequencies and bandwidths, cycles/sample
    std::vector<int> cut;           // (J) last non-zero index kept on the positive side
    int phi_cut = 0;                // last non-zero index of phi on the positive side
    std::vector<double> psi_f;      // (J, P)
    std::vector<double> phi_f;      // (P)
};

}  // namespace scatclust
