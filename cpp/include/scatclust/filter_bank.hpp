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

}  // namespace scatclust
