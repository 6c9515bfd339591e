#include "scatclust/filter_bank.hpp"

#include <algorithm>
#include <cmath>
#include <complex>

#include "scatclust/errors.hpp"
#include "scatclust/fft_plan.hpp"
#include "scatclust/parallel.hpp"

namespace scatclust {

namespace {

// Time-domain view of a real Fourier-domain filter: h = ifft(h_f) (normalised by 1/N).
std::vector<std::complex<double>> ifft_real_filter(const double* h_f, int N) {
    AlignedBuffer<std::complex<double>> buf(N);
    for (int k = 0; k < N; ++k) buf[k] = {h_f[k], 0.0};
    get_plan<double>(FftKind::Backward, N, true, 1, /*one_off=*/true)->c2c(buf.data(), buf.data());
    std::vector<std::complex<double>> h(buf.data(), buf.data() + N);
    for (auto& v : h) v /= static_cast<double>(N);
    return h;
}

// exp(-a) for a >= 0, skipping the call where the result underflows to exactly 0 anyway
// (a > 745.2 in double), which is most of a narrow filter's spectrum.
inline double gauss_exp(double a) { return a > 746.0 ? 0.0 : std::exp(-a); }

double sigma_of_xi(double xi, int Q, double r) {
    const double factor = 1.0 / std::pow(2.0, 1.0 / Q);
    return xi * (1.0 - factor) / (1.0 + factor) / std::sqrt(2.0 * std::log(1.0 / r));
}

int max_dyadic_subsampling(double xi, double sigma, double alpha) {
    const double upper = std::min(xi + alpha * sigma, 0.5);
    return static_cast<int>(std::floor(-std::log2(upper))) - 1;
}

}  // namespace

void morlet_1d(int N, double xi, double sigma, double* out) {
    require(N >= 1, "filter length N=", N, " must be >= 1");
    require(sigma > 0 && std::isfinite(sigma), "sigma=", sigma, " must be positive and finite");
    // Number of frequency periods summed so that the periodised Gaussian is exact to ~1e-7.
    int P = static_cast<int>(std::ceil(std::sqrt(-2.0 * sigma * sigma * std::log(1e-7)) + 1.0));
    P = std::min(P, 5);
    std::vector<double> low(N, 0.0), band(N, 0.0);
    const double inv2s2 = 1.0 / (2.0 * sigma * sigma);
    if (P == 1) {
        // Single period: frequencies in numpy's fftfreq order for the low-pass,
        // and [0, 1) for the band-pass (kymatio's convention).
        for (int k = 0; k < N; ++k) {
            const double f = (k < (N + 1) / 2 ? k : k - N) / static_cast<double>(N);
            low[k] = gauss_exp(f * f * inv2s2);
            const double g = k / static_cast<double>(N) - xi;
            band[k] = gauss_exp(g * g * inv2s2);
        }
    } else {
        // Frequencies (1-P) .. P-1 periods, summed (periodised) and averaged.
        for (int p = 1 - P; p < P; ++p) {
            for (int k = 0; k < N; ++k) {
                const double f = p + k / static_cast<double>(N);
                low[k] += gauss_exp(f * f * inv2s2);
                const double g = f - xi;
                band[k] += gauss_exp(g * g * inv2s2);
            }
        }
        const double inv = 1.0 / (2 * P - 1);
        for (int k = 0; k < N; ++k) { low[k] *= inv; band[k] *= inv; }
    }
    if (xi != 0.0) {
        const double kappa = band[0] / low[0];  // zero-mean correction
        for (int k = 0; k < N; ++k) out[k] = band[k] - kappa * low[k];
    } else {
        for (int k = 0; k < N; ++k) out[k] = low[k];
    }
    // Unit L1 norm in time.
    auto h = ifft_real_filter(out, N);
    double l1 = 0.0;
    for (auto& v : h) l1 += std::abs(v);
    for (int k = 0; k < N; ++k) out[k] /= l1;
}

int temporal_support(const double* h_f, int N, double criterion) {
    auto h = ifft_real_filter(h_f, N);
    const int half = N / 2;
    // Tail mass beyond index i (on the positive-time half), accumulated from the end.
    std::vector<double> resid(half, 0.0);
    double acc = 0.0;
    for (int i = half - 1; i >= 0; --i) {
        acc += std::abs(h[i]);
        resid[i] = acc;
    }
    for (int i = 0; i < half; ++i)
        if (resid[i] <= criterion) return i + 1;
    return -1;
}

std::vector<FilterInfo> morlet_params(double sigma_min, int Q, double alpha, double r_psi) {
    const double xi_max = std::max(1.0 / (1.0 + std::pow(2.0, 3.0 / Q)), 0.35);
    const double sigma_max = sigma_of_xi(xi_max, Q, r_psi);
    std::vector<double> xis, sigmas;
    double elbow_xi;
    if (sigma_max <= sigma_min) {
        elbow_xi = sigma_max;
    } else {
        xis.push_back(xi_max);
        sigmas.push_back(sigma_max);
        const double step = std::pow(2.0, 1.0 / Q);
        while (sigmas.back() > sigma_min * step) {
            xis.push_back(xis.back() / step);
            sigmas.push_back(sigmas.back() / step);
        }
        elbow_xi = xis.back();
    }
    // Constant-bandwidth filters paving the low frequencies below the last octave.
    for (int q = 1; q < Q; ++q) {
        xis.push_back(elbow_xi - static_cast<double>(q) / Q * elbow_xi);
        sigmas.push_back(sigma_min);
    }
    std::vector<FilterInfo> out;
    for (std::size_t i = 0; i < xis.size(); ++i)
        out.push_back({xis[i], sigmas[i], max_dyadic_subsampling(xis[i], sigmas[i], alpha)});
    return out;
}

MorletFilterBank::MorletFilterBank(int N_, int J_, int Q1_, int Q2_, double T_, const std::string& kind_,
                                   double r_psi_, double sigma0_, double alpha_)
    : N(N_), J(J_), Q1(Q1_), Q2(Q2_), T(T_), kind(kind_), r_psi(r_psi_), sigma0(sigma0_), alpha(alpha_) {
    require(N >= 2, "N=", N, " must be >= 2 (signal length in samples)");
    require(J >= 1 && J <= 24, "J=", J, " must be in [1, 24] (number of octaves)");
    require(Q1 >= 1 && Q1 <= 64, "Q1=", Q1, " must be in [1, 64] (wavelets per octave, first order)");
    require(Q2 >= 1 && Q2 <= 64, "Q2=", Q2, " must be in [1, 64] (wavelets per octave, second order)");
    require(std::isfinite(T) && T >= 1.0 && T <= N, "T=", T, " must be in [1, N=", N,
            "] (averaging scale in samples); use T <= N or a longer signal");
    require(kind == "kymatio" || kind == "spectra", "kind='", kind, "' must be 'kymatio' or 'spectra'");
    require(r_psi > 0 && r_psi < 1, "r_psi=", r_psi, " must be in (0, 1)");
    require(sigma0 > 0 && std::isfinite(sigma0), "sigma0=", sigma0, " must be positive");
    require(alpha > 0 && std::isfinite(alpha), "alpha=", alpha, " must be positive");
    if (kind == "spectra")
        require(Q1 == 1 && Q2 == 1, "kind='spectra' uses one wavelet per octave: Q=(", Q1, ", ", Q2,
                ") must be (1, 1)");
    log2_T = static_cast<int>(std::floor(std::log2(T)));

    // Padding as kymatio: three times the low-pass support on each side, capped at 3N-2.
    std::vector<double> phi_in(N);
    morlet_1d(N, 0.0, sigma0 / T, phi_in.data());
    int sup = temporal_support(phi_in.data(), N);
    if (sup < 0) sup = N / 2;
    const int min_to_pad = 3 * sup;
    const int j_max_support = static_cast<int>(std::floor(std::log2(3.0 * N - 2.0)));
    const int j_pad = std::min(static_cast<int>(std::ceil(std::log2(static_cast<double>(N) + 2.0 * min_to_pad))),
                               j_max_support);
    N_padded = 1 << j_pad;
    const int to_add = N_padded - N;
    pad_left = to_add / 2;
    pad_right = to_add - pad_left;

    const double sigma_min = sigma0 / std::pow(2.0, J);
    if (kind == "kymatio") {
        psi1 = morlet_params(sigma_min, Q1, alpha, r_psi);
        psi2 = morlet_params(sigma_min, Q2, alpha, r_psi);
    } else {
        for (int j = 0; j < J; ++j) {
            const double xi = 0.425 * std::pow(2.0, -j);
            const double s = sigma_of_xi(xi, 1, r_psi);
            psi1.push_back({xi, s, max_dyadic_subsampling(xi, s, alpha)});
        }
        psi2 = psi1;
    }
    phi = {0.0, sigma0 / T, log2_T};

    auto build = [&](const std::vector<FilterInfo>& info, std::vector<double>& arr) {
        arr.assign(info.size() * static_cast<std::size_t>(N_padded), 0.0);
        // Filters are independent; plan lookups inside morlet_1d are thread-safe.
        ParallelGuard guard;
#pragma omp parallel for schedule(dynamic, 1) num_threads(resolve_num_threads(0))
        for (std::size_t i = 0; i < info.size(); ++i)
            guard.run([&] { morlet_1d(N_padded, info[i].xi, info[i].sigma, arr.data() + i * N_padded); });
        guard.rethrow();
    };
    build(psi1, psi1_f);
    build(psi2, psi2_f);
    phi_f.assign(N_padded, 0.0);
    morlet_1d(N_padded, 0.0, phi.sigma, phi_f.data());

    // The widest wavelet must fit in the padded signal, or its coefficients are all border.
    double smin = 1e300;
    std::size_t imin = 0;
    for (std::size_t i = 0; i < psi1.size(); ++i)
        if (psi1[i].sigma < smin) { smin = psi1[i].sigma; imin = i; }
    // temporal_support() returns -1 (never met) or N_padded/2 (only the last sample is below
    // the criterion) when the wavelet spans the whole padded signal.
    const int widest = psi1.empty() ? 0 : temporal_support(psi1_f.data() + imin * N_padded, N_padded);
    if (!psi1.empty() && (widest < 0 || widest >= N_padded / 2)) {
        // Measure the wavelet's half support on a long grid to tell the user what length works.
        const int L = 1 << std::min(J + 7, 24);
        std::vector<double> h(L);
        morlet_1d(L, psi1[imin].xi, psi1[imin].sigma, h.data());
        const int s = temporal_support(h.data(), L);
        fail("N=", N, " is shorter than the support of the largest wavelet (J=", J, ", Q=", Q1,
             ", half support ", s, " samples); use a signal of at least ", 2 * s,
             " samples or a smaller J");
    }

    // Unpadding bounds after each dyadic subsampling (ceil halving, as kymatio).
    const int kmax = std::max(log2_T, J) + 1;
    ind_start.assign(kmax + 1, 0);
    ind_end.assign(kmax + 1, 0);
    ind_start[0] = pad_left;
    ind_end[0] = pad_left + N;
    for (int k = 1; k <= kmax; ++k) {
        ind_start[k] = ind_start[k - 1] / 2 + ind_start[k - 1] % 2;
        ind_end[k] = ind_end[k - 1] / 2 + ind_end[k - 1] % 2;
    }
}

namespace {

// R(c, s) with c = cos^2 t, s = sin^2 t: the numerator of S8(2t) sin^8(t).
inline double bl_r(double c, double s) {
    return (5.0 + 30.0 * c + 30.0 * s * c + 70.0 * c * c + 2.0 * s * s * c + 2.0 * s * s * s / 3.0) /
           (105.0 * 256.0);
}

inline double sinc4(double t) {
    if (std::abs(t) < 1e-4) {  // Taylor: (1 - t^2/6)^4 ~ 1 - 2t^2/3, error < 1e-16
        return 1.0 - 2.0 * t * t / 3.0;
    }
    const double v = std::sin(t) / t;
    return (v * v) * (v * v);
}

}  // namespace

double nyquist_taper(double f) {
    // A filter that is non-zero at Nyquist and zero beyond (analytic) has a jump there, i.e. a
    // 1/t tail in time (measured on psi_0: 6e-4 of its peak 1024 samples away). A raised cosine
    // from 1 at f = 0.4 to 0 at f = 0.5 makes the filter C^1: its tail falls like 1/t^3
    // (6e-9 at 1024 samples), so block transforms with margins and window edges stay local.
    // Only j = 0, 1 (and phi for J = 1) reach past 0.4; their centroids move down (0.386 to
    // 0.356 cycles/sample for psi_0, whose untapered main lobe would reach 1.12).
    if (f <= kNyquistTaperStart) return 1.0;
    if (f >= 0.5) return 0.0;
    return 0.5 * (1.0 + std::cos(M_PI * (f - kNyquistTaperStart) / (0.5 - kNyquistTaperStart)));
}

double battle_lemarie_phi_hat(double omega) {
    const double t = 0.5 * omega;
    const double c = std::cos(t), s = std::sin(t);
    return sinc4(t) / (16.0 * std::sqrt(bl_r(c * c, s * s)));
}

double battle_lemarie_psi_hat(double omega) {
    const double t = 0.25 * omega;
    const double c = std::cos(t), s = std::sin(t);
    const double c2 = c * c, s2 = s * s;
    // cos^2(2t) = (c2 - s2)^2, sin^2(2t) = 4 c2 s2; R(t + pi/2) swaps c2 and s2.
    const double num = bl_r(s2, c2);
    const double den = bl_r((c2 - s2) * (c2 - s2), 4.0 * c2 * s2) * bl_r(c2, s2);
    return sinc4(t) * (s2 * s2) / 16.0 * std::sqrt(num / den);
}

SpectraFilterBank::SpectraFilterBank(int N_, int J_, const std::string& wavelet_, const std::string& padding_)
    : N(N_), J(J_), wavelet(wavelet_), padding(padding_) {
    require(J >= 1 && J <= 24, "J=", J, " must be in [1, 24] (number of octaves)");
    require(N >= 2, "N=", N, " must be >= 2 (signal length in samples)");
    require(N >= (1 << J), "N=", N, " is shorter than 2**J=", 1 << J,
            ": the largest wavelet does not fit; use J <= ", static_cast<int>(std::floor(std::log2(N))),
            " or a longer signal");
    require(wavelet == "battle_lemarie" || wavelet == "morlet", "wavelet='", wavelet,
            "' must be 'battle_lemarie' or 'morlet'");
    require(padding == "symmetric" || padding == "periodic", "padding='", padding,
            "' must be 'symmetric' or 'periodic'");
    require(N <= (1 << 29), "N=", N, " must be <= 2**29");
    P = padding == "symmetric" ? 2 * N : N;
    xi.resize(J);
    sigma.resize(J);
    cut.resize(J);
    psi_f.assign(static_cast<std::size_t>(J) * P, 0.0);
    phi_f.assign(P, 0.0);
    const int half = P / 2;  // last non-negative frequency index
    for (int j = 0; j < J; ++j) xi[j] = kSpectraXi0 * std::ldexp(1.0, -j);
    if (wavelet == "battle_lemarie") {
        // Main lobes: |psi^| increases then decreases on (0, 4 pi) and its first local
        // minimum for w > 0 is the zero w = 4 pi; phi^ decreases on (0, 2 pi) down to its zero
        // at 2 pi. Cutting at these w (not at a sampled minimum) is exact on any grid and
        // immune to the rounding noise on phi^'s flat top. Lobes that reach past Nyquist
        // (j = 0, 1; phi for J = 1) are tapered to zero over [0.4, 0.5] cycles/sample (see
        // nyquist_taper) so that the analytic filter has no jump at Nyquist.
        const double psi_end = 4.0 * M_PI, phi_end = 2.0 * M_PI;
        for (int j = 0; j < J; ++j) {
            sigma[j] = xi[j] * kBattleLemarieSigma / kBattleLemarieXi;
            const double scale = 2.0 * M_PI * kBattleLemarieXi / xi[j] / P;  // radians per bin
            double* row = psi_f.data() + static_cast<std::size_t>(j) * P;
            cut[j] = 0;
            for (int k = 0; k <= half && scale * k <= psi_end; ++k) {
                row[k] = battle_lemarie_psi_hat(scale * k) * nyquist_taper(static_cast<double>(k) / P);
                cut[j] = k;
            }
        }
        const double scale = 2.0 * M_PI * kBattleLemarieXi / xi[J - 1] / P;
        phi_cut = 0;
        for (int k = 0; k <= half && scale * k <= phi_end; ++k) {
            phi_f[k] = battle_lemarie_phi_hat(scale * k) * nyquist_taper(static_cast<double>(k) / P);
            if (k > 0) phi_f[P - k] = phi_f[k];  // symmetric (even P: Nyquist is its own mirror)
            phi_cut = k;
        }
    } else {
        // Same bandwidth rule (Q = 1, r_psi = sqrt(1/2)) as MorletFilterBank(kind="spectra").
        for (int j = 0; j < J; ++j) {
            sigma[j] = sigma_of_xi(xi[j], 1, 0.7071067811865476);
            morlet_1d(P, xi[j], sigma[j], psi_f.data() + static_cast<std::size_t>(j) * P);
            cut[j] = half;
        }
        morlet_1d(P, 0.0, 0.1 / std::ldexp(1.0, J), phi_f.data());
        phi_cut = half;
    }
}

}  // namespace scatclust
