#include "scatclust/scattering.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <tuple>

#include "scatclust/errors.hpp"
#include "scatclust/parallel.hpp"
#include "scatclust/wavelet_transform.hpp"

// Notation (see the header): F_M is the unnormalised DFT of length M, F_M^H its inverse
// without the 1/M, R the tiling of a length-M' spectrum to length M = P M' (R^T sums the
// P periods), D_h the diagonal product with a real filter. One filtering step of the
// transform, "filter h at length M, subsample by P", is
//     y = (1/M) F_{M'}^H R^T D_h F_M v          (1/P from the period mean, 1/M' from the IFFT)
// and its adjoint (complex-linear, so the real-inner-product adjoint is the conjugate
// transpose; h is real) is
//     v_bar = (1/M) F_M^H D_h R F_{M'} y_bar,
// i.e. FFT the output gradient, tile it P times, multiply by the same filter, inverse FFT.
// Where v is real (U1, U2, the padded signal) the gradient is the real part of that, which
// is a complex-to-real inverse FFT of the Hermitian part of the spectrum. The modulus
// u = |z| has adjoint z_bar = u_bar z / |z| (0 where z == 0), unpadding has zero-filling,
// and reflect padding adds the mirrored samples' gradients back onto the samples they copy.

namespace scatclust {

namespace {

int ilog2(int n) {
    int l = 0;
    while ((1 << l) < n) ++l;
    return l;
}

// dst[0..Mo) = sum over the P periods of (src . h), restricted to h's nonzero runs (each run
// lies inside one period, so it maps onto one contiguous range of dst).
template <class T>
void product_periodise(const std::complex<T>* src, const T* h, const std::vector<std::pair<int, int>>& runs,
                       int Mo, std::complex<T>* dst) {
    std::fill(dst, dst + Mo, std::complex<T>(0));
    for (const auto& r : runs) {
        const int base = (r.first / Mo) * Mo;
        T* __restrict d = reinterpret_cast<T*>(dst + (r.first - base));
        const T* __restrict s = reinterpret_cast<const T*>(src + r.first);
        const T* __restrict hr = h + r.first;
        const int len = r.second - r.first;
        for (int m = 0; m < len; ++m) {
            d[2 * m] += s[2 * m] * hr[m];
            d[2 * m + 1] += s[2 * m + 1] * hr[m];
        }
    }
}

// Adjoint of product_periodise: V[m] += h[m] G[m mod Mo] on h's runs (V has length M).
template <class T>
void tile_product_add(const std::complex<T>* G, const T* h, const std::vector<std::pair<int, int>>& runs, int Mo,
                      std::complex<T>* V) {
    for (const auto& r : runs) {
        const int base = (r.first / Mo) * Mo;
        const T* __restrict g = reinterpret_cast<const T*>(G + (r.first - base));
        T* __restrict v = reinterpret_cast<T*>(V + r.first);
        const T* __restrict hr = h + r.first;
        const int len = r.second - r.first;
        for (int m = 0; m < len; ++m) {
            v[2 * m] += g[2 * m] * hr[m];
            v[2 * m + 1] += g[2 * m + 1] * hr[m];
        }
    }
}

// u[t] = |z[t]| * scale
template <class T>
void modulus(const std::complex<T>* z, int M, T scale, T* __restrict u) {
    const T* __restrict zr = reinterpret_cast<const T*>(z);
    for (int t = 0; t < M; ++t) u[t] = std::sqrt(zr[2 * t] * zr[2 * t] + zr[2 * t + 1] * zr[2 * t + 1]) * scale;
}

// z[t] <- u_bar[t] z[t] / |z[t]| (0 where z[t] == 0), in place.
template <class T>
void modulus_adjoint(std::complex<T>* z, const T* __restrict ubar, int M) {
    T* __restrict zr = reinterpret_cast<T*>(z);
    for (int t = 0; t < M; ++t) {
        const T re = zr[2 * t], im = zr[2 * t + 1];
        const T a = std::sqrt(re * re + im * im);
        const T f = a > T(0) ? ubar[t] / a : T(0);
        zr[2 * t] = re * f;
        zr[2 * t + 1] = im * f;
    }
}

// half[m] = (V[m] + conj V[(M - m) mod M]) / 2 for m = 0..M/2: the Hermitian part of V,
// whose complex-to-real inverse FFT is Re(F^H V).
template <class T>
void hermitian_half(const std::complex<T>* V, int M, std::complex<T>* half) {
    const T* __restrict v = reinterpret_cast<const T*>(V);
    T* __restrict o = reinterpret_cast<T*>(half);
    o[0] = v[0];
    o[1] = T(0);
    for (int m = 1; m <= M / 2; ++m) {
        const int r = M - m;
        o[2 * m] = T(0.5) * (v[2 * m] + v[2 * r]);
        o[2 * m + 1] = T(0.5) * (v[2 * m + 1] - v[2 * r + 1]);
    }
}

// Adjoint of reflect padding: gx[j] = gp[left + j] plus the gradients of the padded samples
// that copy x[j] (x[-i] = x[i], x[n-1+i] = x[n-1-i]), added in a fixed order.
template <class T>
void pad_adjoint_reflect(const T* gp, int n, int left, int n_padded, T* gx) {
    const int right = n_padded - n - left;
    std::memcpy(gx, gp + left, sizeof(T) * n);
    for (int i = 1; i <= left; ++i) gx[i] += gp[left - i];
    for (int i = 0; i < right; ++i) gx[n - 2 - i] += gp[left + n + i];
}

// Smallest b such that every run of a length-M filter lies in bins [0, b) or (M-b, M):
// the filter only reads those bins of a spectrum. M/2 + 1 (everything) if a run straddles M/2.
int spectrum_band(const std::vector<std::pair<int, int>>& runs, int M) {
    int b = 1;
    for (const auto& r : runs) {
        if (r.second <= M / 2) b = std::max(b, r.second);
        else if (r.first > M / 2) b = std::max(b, M - r.first + 1);
        else return M / 2 + 1;
    }
    return b;
}

}  // namespace

// ---- plans and per-thread work buffers -----------------------------------------------

template <class T>
struct Scattering1D<T>::Plans {
    // indexed by log2(size)
    // out-of-place complex plans (FFTW's in-place ones copy more), indexed by log2(size)
    std::vector<std::shared_ptr<const FftPlan<T>>> fwd, inv;
};

template <class T>
struct Scattering1D<T>::Work {
    AlignedBuffer<C> w, z1, z2, U1, U2, scratch, lw, V1, A, G;
    AlignedBuffer<T> u, lr, gl;
    void alloc(int np, bool vjp) {
        w.resize(np);
        z1.resize(np);
        U1.resize(np);
        scratch.resize(np / 2 + 1);
        lw.resize(np);
        u.resize(np);
        lr.resize(np);
        if (vjp) {
            z2.resize(np);
            V1.resize(np);
            A.resize(np);
            G.resize(np);
            gl.resize(np);
        } else {
            U2.resize(np);
        }
    }
};

// ---- construction -------------------------------------------------------------------

template <class T>
typename Scattering1D<T>::Level Scattering1D<T>::make_level(const double* full, int k, int sub) const {
    Level L;
    L.M = np_ >> k;
    L.sub = sub;
    L.h.resize(L.M);
    const int P = 1 << k;
    // Periodised filter: mean of the P periods, summed in period order (kymatio's
    // periodize_filter_fourier), then rounded once to the kernel precision.
    double hmax = 0.0;
    std::vector<double> hd(L.M);
    for (int m = 0; m < L.M; ++m) {
        double s = 0.0;
        for (int q = 0; q < P; ++q) s += full[static_cast<std::size_t>(q) * L.M + m];
        hd[m] = s / P;
        hmax = std::max(hmax, std::abs(hd[m]));
    }
    // Coefficients below eps^2 max|h| are set to zero: a Gaussian tail evaluated down to
    // the underflow limit (1e-308) would otherwise keep most of the spectrum "nonzero". Such
    // a coefficient changes an output by less than eps relative to it unless the input's
    // spectrum is 1/eps times (1e7 in float32, 4e15 in float64) stronger at that frequency
    // than in the filter's passband. This halves the filter-product work in float32.
    const double eps = std::numeric_limits<T>::epsilon();
    const double cut = eps * eps * hmax;
    for (int m = 0; m < L.M; ++m) L.h[m] = std::abs(hd[m]) < cut ? T(0) : static_cast<T>(hd[m]);
    // Maximal runs of nonzero coefficients, split at the output period Mo. Skipping the
    // zeros changes no result bit (x + 0*y == x for finite y).
    const int Mo = L.out();
    int m = 0;
    while (m < L.M) {
        while (m < L.M && L.h[m] == T(0)) ++m;
        if (m == L.M) break;
        int e = m;
        while (e < L.M && L.h[e] != T(0)) ++e;
        for (int a = m; a < e;) {
            const int b = std::min(e, (a / Mo + 1) * Mo);
            L.runs.emplace_back(a, b);
            a = b;
        }
        m = e;
    }
    return L;
}

template <class T>
Scattering1D<T>::Scattering1D(const double* psi1_f, int n_psi1, const double* psi2_f, int n_psi2,
                              const double* phi_f, int n_padded, const std::vector<int>& j1,
                              const std::vector<int>& j2, int log2_T, int n_input, int pad_left,
                              const std::vector<int>& ind_start, const std::vector<int>& ind_end, int max_order,
                              int oversampling)
    : n_(n_input), np_(n_padded), pad_left_(pad_left), log2_T_(log2_T), max_order_(max_order),
      oversampling_(oversampling) {
    require(n_padded >= 2 && (n_padded & (n_padded - 1)) == 0, "n_padded=", n_padded,
            " must be a power of two >= 2 (MorletFilterBank's N_padded)");
    require(n_input >= 2 && n_input <= n_padded, "n_input=", n_input, " must be in [2, n_padded=", n_padded, "]");
    require(pad_left >= 0 && pad_left <= n_padded - n_input, "pad_left=", pad_left, " must be in [0, ",
            n_padded - n_input, "]");
    const int pad_right = n_padded - n_input - pad_left;
    require(std::max(pad_left, pad_right) < n_input, "reflect padding of ", std::max(pad_left, pad_right),
            " samples needs a signal longer than that (N=", n_input, ")");
    require(n_psi1 >= 1, "the first-order filter bank is empty (n_psi1=", n_psi1, ")");
    require(n_psi2 >= 0, "n_psi2=", n_psi2, " must be >= 0");
    require(static_cast<int>(j1.size()) == n_psi1, "j1 has ", j1.size(), " entries, expected n_psi1=", n_psi1);
    require(static_cast<int>(j2.size()) == n_psi2, "j2 has ", j2.size(), " entries, expected n_psi2=", n_psi2);
    require(max_order == 1 || max_order == 2, "max_order=", max_order, " must be 1 or 2");
    require(oversampling >= 0, "oversampling=", oversampling, " must be >= 0");
    log2_np_ = ilog2(n_padded);
    require(log2_T >= 0 && log2_T <= log2_np_, "log2_T=", log2_T, " must be in [0, log2(n_padded)=", log2_np_, "]");
    kf_ = std::max(log2_T - oversampling, 0);
    require(static_cast<int>(ind_start.size()) > kf_ && ind_start.size() == ind_end.size(),
            "ind_start/ind_end need at least ", kf_ + 1, " equal-length entries");
    start_ = ind_start[kf_];
    n_time_ = ind_end[kf_] - ind_start[kf_];
    require(start_ >= 0 && n_time_ >= 1 && ind_end[kf_] <= (n_padded >> kf_), "unpadding bounds [", start_, ", ",
            ind_end[kf_], ") out of range for subsampling 2^", kf_);
    for (int v : j1) require(v >= 0, "j1 entries must be >= 0, got ", v);
    for (int v : j2) require(v >= 0, "j2 entries must be >= 0, got ", v);

    // Low-pass at every level k = 0..kf, subsampled to the final rate.
    std::map<int, int> phi_index;
    auto phi_at = [&](int k) {
        auto it = phi_index.find(k);
        if (it != phi_index.end()) return it->second;
        phi_levels_.push_back(make_level(phi_f, k, kf_ - k));
        phi_index[k] = static_cast<int>(phi_levels_.size()) - 1;
        return static_cast<int>(phi_levels_.size()) - 1;
    };
    phi0_ = phi_at(0);
    path_n1_.push_back(-1);
    path_n2_.push_back(-1);

    std::map<std::pair<int, int>, int> psi2_index;  // (n2, k1) -> level
    first_.resize(n_psi1);
    for (int n1 = 0; n1 < n_psi1; ++n1) {
        const int k1 = std::max(std::min(j1[n1], log2_T) - oversampling, 0);
        psi1_.push_back(make_level(psi1_f + static_cast<std::size_t>(n1) * n_padded, 0, k1));
        first_[n1].k1 = k1;
        first_[n1].phi = phi_at(k1);
        first_[n1].path = static_cast<int>(path_n1_.size());
        path_n1_.push_back(n1);
        path_n2_.push_back(-1);
    }
    if (max_order == 2) {
        for (int n1 = 0; n1 < n_psi1; ++n1) {
            const int k1 = first_[n1].k1;
            for (int n2 = 0; n2 < n_psi2; ++n2) {
                if (!(j2[n2] > j1[n1])) continue;
                const int k2 = std::max(std::min(j2[n2], log2_T) - k1 - oversampling, 0);
                auto key = std::make_pair(n2, k1);
                auto it = psi2_index.find(key);
                int idx;
                if (it == psi2_index.end()) {
                    psi2_levels_.push_back(make_level(psi2_f + static_cast<std::size_t>(n2) * n_padded, k1, k2));
                    idx = static_cast<int>(psi2_levels_.size()) - 1;
                    psi2_index[key] = idx;
                } else {
                    idx = it->second;
                    require(psi2_levels_[idx].sub == k2, "internal error: inconsistent k2");
                }
                Child c{n2, static_cast<int>(path_n1_.size()), idx, phi_at(k1 + k2), 0};
                first_[n1].children.push_back(c);
                path_n1_.push_back(n1);
                path_n2_.push_back(n2);
            }
        }
    }
    for (auto& f : first_) {
        const int M1 = np_ >> f.k1;
        f.band = spectrum_band(phi_levels_[f.phi].runs, M1);
        for (auto& c : f.children) {
            f.band = std::max(f.band, spectrum_band(psi2_levels_[c.psi].runs, M1));
            c.band = spectrum_band(phi_levels_[c.phi].runs, psi2_levels_[c.psi].out());
        }
    }
    contrib_off_.assign(n_psi1 + 1, 0);
    for (int n1 = 0; n1 < n_psi1; ++n1) {
        std::size_t len = 0;
        for (const auto& r : psi1_[n1].runs) len += r.second - r.first;
        contrib_off_[n1 + 1] = contrib_off_[n1] + len;
    }
    twiddles_.resize(log2_np_ + 1);
    for (int l = 2; l <= log2_np_; ++l) {
        const int M = 1 << l;
        auto& tw = twiddles_[l];
        tw.resize(M / 4 + 1);
        for (int k = 0; k <= M / 4; ++k) {
            const double a = -2.0 * M_PI * k / M;
            tw[k] = C(static_cast<T>(std::cos(a)), static_cast<T>(std::sin(a)));
        }
    }
}

// ---- FFT census and plans -----------------------------------------------------------

template <class T>
std::vector<FftCensusEntry> Scattering1D<T>::fft_census(bool vjp) const {
    std::map<std::tuple<int, int, bool>, long long> c;
    // Real transforms of even length M >= 4 run as complex ones of length M/2 (rfft_full,
    // irfft); every complex transform is out-of-place.
    auto add = [&](FftKind k, int n) { c[{static_cast<int>(k), n, false}] += 1; };
    auto rfft = [&](int M) {
        if (M >= 4) add(FftKind::Forward, M / 2);
    };
    auto irfft = [&](int M) {
        if (M >= 4) add(FftKind::Backward, M / 2);
    };
    const int Mo = np_ >> kf_;
    rfft(np_);
    if (!vjp) {
        irfft(Mo);
        for (const auto& f : first_) {
            const int M1 = np_ >> f.k1;
            add(FftKind::Backward, M1);
            rfft(M1);
            irfft(Mo);
            for (const auto& ch : f.children) {
                const int M2 = psi2_levels_[ch.psi].out();
                add(FftKind::Backward, M2);
                rfft(M2);
                irfft(Mo);
            }
        }
    } else {
        rfft(Mo);
        irfft(np_);
        for (const auto& f : first_) {
            const int M1 = np_ >> f.k1;
            add(FftKind::Backward, M1);
            rfft(M1);
            rfft(Mo);
            irfft(M1);
            add(FftKind::Forward, M1);
            for (const auto& ch : f.children) {
                const int M2 = psi2_levels_[ch.psi].out();
                add(FftKind::Backward, M2);
                rfft(Mo);
                irfft(M2);
                add(FftKind::Forward, M2);
            }
        }
    }
    std::vector<FftCensusEntry> out;
    for (const auto& kv : c)
        out.push_back({static_cast<FftKind>(std::get<0>(kv.first)), std::get<1>(kv.first), std::get<2>(kv.first),
                       kv.second});
    return out;
}

template <class T>
typename Scattering1D<T>::Plans Scattering1D<T>::plans(bool vjp) const {
    Plans p;
    p.inv.resize(log2_np_ + 1);
    p.fwd.resize(log2_np_ + 1);
    for (const auto& e : fft_census(vjp)) {
        auto& slot = e.kind == FftKind::Forward ? p.fwd[ilog2(e.n)] : p.inv[ilog2(e.n)];
        slot = get_plan<T>(e.kind, e.n, false);
    }
    return p;
}

// ---- building blocks ------------------------------------------------------------------

// Full spectrum X[0..M) of the real signal u[0..M): one complex FFT of length H = M/2 of the
// pairs z[j] = u[2j] + i u[2j+1] (u's storage read as complex), then the split
//   X[k] = E_k + W^k O_k, E_k = (Z[k] + conj Z[H-k]) / 2, O_k = (Z[k] - conj Z[H-k]) / (2i),
// W = exp(-2 pi i / M), and Hermitian symmetry X[M-k] = conj X[k] for the upper half.
template <class T>
void Scattering1D<T>::rfft_full(const Plans& p, const T* u, C* X, int M, C* scratch, int band) const {
    if (M == 1) {
        X[0] = C(u[0], 0);
        return;
    }
    if (M == 2) {
        X[0] = C(u[0] + u[1], 0);
        X[1] = C(u[0] - u[1], 0);
        return;
    }
    const int H = M / 2;
    p.fwd[ilog2(H)]->c2c(reinterpret_cast<const C*>(u), scratch);
    const T* __restrict z = reinterpret_cast<const T*>(scratch);
    const T* __restrict tw = reinterpret_cast<const T*>(twiddles_[ilog2(M)].data());
    T* __restrict x = reinterpret_cast<T*>(X);
    x[0] = z[0] + z[1];
    x[1] = 0;
    if (band <= H / 2) {
        // Only bins k and M-k for k < band are read by the caller's filters.
        for (int k = 1; k < band; ++k) {
            const int r = H - k;
            const T ar = z[2 * k], ai = z[2 * k + 1];
            const T br = z[2 * r], bi = -z[2 * r + 1];
            const T er = T(0.5) * (ar + br), ei = T(0.5) * (ai + bi);
            const T orr = T(0.5) * (ai - bi), oi = T(-0.5) * (ar - br);
            const T wr = tw[2 * k], wi = tw[2 * k + 1];
            const T pr = wr * orr - wi * oi, pi = wr * oi + wi * orr;
            x[2 * k] = er + pr;
            x[2 * k + 1] = ei + pi;
            x[2 * (M - k)] = er + pr;
            x[2 * (M - k) + 1] = -(ei + pi);
        }
        return;
    }
    x[2 * H] = z[0] - z[1];
    x[2 * H + 1] = 0;
    for (int k = 1; k < H / 2; ++k) {
        const int r = H - k;
        const T ar = z[2 * k], ai = z[2 * k + 1];
        const T br = z[2 * r], bi = -z[2 * r + 1];
        const T er = T(0.5) * (ar + br), ei = T(0.5) * (ai + bi);
        const T orr = T(0.5) * (ai - bi), oi = T(-0.5) * (ar - br);
        const T wr = tw[2 * k], wi = tw[2 * k + 1];
        const T pr = wr * orr - wi * oi, pi = wr * oi + wi * orr;
        x[2 * k] = er + pr;                  // X[k]
        x[2 * k + 1] = ei + pi;
        x[2 * r] = er - pr;                  // X[H-k] = conj(E - P)
        x[2 * r + 1] = pi - ei;
        x[2 * (M - k)] = er + pr;            // X[M-k] = conj X[k]
        x[2 * (M - k) + 1] = -(ei + pi);
        x[2 * (H + k)] = er - pr;            // X[H+k] = E - P
        x[2 * (H + k) + 1] = ei - pi;
    }
    // k = H/2 pairs with itself: X[H/2] = conj Z[H/2].
    const int q = H / 2;
    x[2 * q] = z[2 * q];
    x[2 * q + 1] = -z[2 * q + 1];
    x[2 * (M - q)] = z[2 * q];
    x[2 * (M - q) + 1] = z[2 * q + 1];
}

// Unnormalised inverse of a Hermitian spectrum (FFTW c2r semantics: out = M x for X = FFT x),
// from X[0..M/2] only: one complex inverse FFT of length H = M/2 of
//   Z[k] = (X[k] + conj X[H-k]) + i conj(W^k) (X[k] - conj X[H-k]),  W = exp(-2 pi i / M),
// whose output, read as reals, is out[2j] + i out[2j+1] (the split of rfft_full, inverted).
// The imaginary parts of X[0] and X[H] are ignored, as c2r does.
template <class T>
void Scattering1D<T>::irfft(const Plans& p, const C* X, int M, T* out, C* scratch) const {
    if (M == 1) {
        out[0] = X[0].real();
        return;
    }
    if (M == 2) {
        out[0] = X[0].real() + X[1].real();
        out[1] = X[0].real() - X[1].real();
        return;
    }
    const int H = M / 2;
    const T* __restrict x = reinterpret_cast<const T*>(X);
    const T* __restrict tw = reinterpret_cast<const T*>(twiddles_[ilog2(M)].data());
    T* __restrict z = reinterpret_cast<T*>(scratch);
    {   // k = 0 pairs with H
        const T a = x[0], b = x[2 * H];
        z[0] = a + b;
        z[1] = a - b;
    }
    for (int k = 1; k <= H / 2; ++k) {
        const int r = H - k;
        const T ar = x[2 * k], ai = x[2 * k + 1];
        const T br = x[2 * r], bi = x[2 * r + 1];
        const T wr = tw[2 * k], wi = -tw[2 * k + 1];  // conj(W^k)
        // k:  s = a + conj b, d = a - conj b, Z = s + i w d
        {
            const T sr = ar + br, si = ai - bi, dr = ar - br, di = ai + bi;
            const T pr = wr * dr - wi * di, pi = wr * di + wi * dr;
            z[2 * k] = sr - pi;
            z[2 * k + 1] = si + pr;
        }
        // r = H-k: s' = b + conj a, d' = b - conj a, conj(W^r) = -W^k
        if (r != k) {
            const T sr = br + ar, si = bi - ai, dr = br - ar, di = bi + ai;
            const T vr = -wr, vi = wi;  // -W^k = -(wr - i wi) -> (-wr, +wi)
            const T pr = vr * dr - vi * di, pi = vr * di + vi * dr;
            z[2 * r] = sr - pi;
            z[2 * r + 1] = si + pr;
        }
    }
    p.inv[ilog2(H)]->c2c(scratch, reinterpret_cast<C*>(out));
}

// out[t] = scale * Re IFFT_{Mo}( sum_periods U . phi )[start + t]; U is a full Hermitian
// spectrum of length phi.M.
template <class T>
void Scattering1D<T>::lowpass(const Plans& p, const C* U, const Level& phi, T scale, T* out, Work& w) const {
    const int Mo = phi.out();
    product_periodise<T>(U, phi.h.data(), phi.runs, Mo, w.lw.data());
    if (Mo == 1) {
        out[0] = w.lw[0].real() * scale;
        return;
    }
    irfft(p, w.lw.data(), Mo, w.lr.data(), w.scratch.data());
    const T* r = w.lr.data() + start_;
    for (int t = 0; t < n_time_; ++t) out[t] = r[t] * scale;
}

// V[m] += phi[m] G[m mod Mo], G = FFT of the zero-filled output gradient g (no scale: the
// caller's common 1/M is applied once after summing every contribution).
template <class T>
void Scattering1D<T>::lowpass_adjoint(const Plans& p, const T* g, const Level& phi, C* V, Work& w) const {
    const int Mo = phi.out();
    std::fill(w.gl.data(), w.gl.data() + Mo, T(0));
    std::memcpy(w.gl.data() + start_, g, sizeof(T) * n_time_);
    rfft_full(p, w.gl.data(), w.G.data(), Mo, w.scratch.data(), Mo);
    tile_product_add<T>(w.G.data(), phi.h.data(), phi.runs, Mo, V);
}

// z1 = unnormalised IFFT of the periodised X . psi1[n1] into w.z (length M1),
// u1 = |z1| / N_padded into w.u, and U1 = FFT(u1) (full spectrum) into w.U1.
template <class T>
void Scattering1D<T>::first_order(const Plans& p, const C* X, int n1, Work& w) const {
    const Level& f = psi1_[n1];
    const int M1 = f.out();
    product_periodise<T>(X, f.h.data(), f.runs, M1, w.w.data());
    p.inv[ilog2(M1)]->c2c(w.w.data(), w.z1.data());
    modulus<T>(w.z1.data(), M1, T(1) / static_cast<T>(np_), w.u.data());
    rfft_full(p, w.u.data(), w.U1.data(), M1, w.scratch.data(), first_[n1].band);
}

template <class T>
void Scattering1D<T>::forward_task(const Plans& p, const C* X, int n1, T* out_signal, Work& w) const {
    const First& f = first_[n1];
    first_order(p, X, n1, w);
    const int M1 = np_ >> f.k1;
    lowpass(p, w.U1.data(), phi_levels_[f.phi], T(1) / static_cast<T>(M1),
            out_signal + static_cast<std::size_t>(f.path) * n_time_, w);
    for (const Child& ch : f.children) {
        const Level& g = psi2_levels_[ch.psi];
        const int M2 = g.out();
        product_periodise<T>(w.U1.data(), g.h.data(), g.runs, M2, w.w.data());
        p.inv[ilog2(M2)]->c2c(w.w.data(), w.z1.data());  // z1 is free once U1 is known
        modulus<T>(w.z1.data(), M2, T(1) / static_cast<T>(M1), w.u.data());
        rfft_full(p, w.u.data(), w.U2.data(), M2, w.scratch.data(), ch.band);
        lowpass(p, w.U2.data(), phi_levels_[ch.phi], T(1) / static_cast<T>(M2),
                out_signal + static_cast<std::size_t>(ch.path) * n_time_, w);
    }
}

// Gradient of one first-order path and its children w.r.t. the padded signal, as the
// compact spectrum contribution psi1[m] . F_{M1}(z1_bar)[m mod M1] on psi1's runs.
template <class T>
void Scattering1D<T>::vjp_task(const Plans& p, const C* X, int n1, const T* g_signal, C* contrib, Work& w) const {
    const First& f = first_[n1];
    const Level& f1 = psi1_[n1];
    first_order(p, X, n1, w);
    const int M1 = f1.out();
    C* V1 = w.V1.data();
    std::fill(V1, V1 + M1, C(0));
    lowpass_adjoint(p, g_signal + static_cast<std::size_t>(f.path) * n_time_, phi_levels_[f.phi], V1, w);
    for (const Child& ch : f.children) {
        const Level& g = psi2_levels_[ch.psi];
        const int M2 = g.out();
        // recompute z2 (unnormalised; its direction is all the modulus adjoint needs)
        product_periodise<T>(w.U1.data(), g.h.data(), g.runs, M2, w.w.data());
        p.inv[ilog2(M2)]->c2c(w.w.data(), w.z2.data());
        // u2_bar = (1/M2) Re F^H (phi . tile(F g2))
        C* A = w.A.data();
        std::fill(A, A + M2, C(0));
        lowpass_adjoint(p, g_signal + static_cast<std::size_t>(ch.path) * n_time_, phi_levels_[ch.phi], A, w);
        irfft(p, A, M2, w.u.data(), w.scratch.data());  // A is Hermitian (phi even, g real)
        const T s2 = T(1) / static_cast<T>(M2);
        for (int t = 0; t < M2; ++t) w.u[t] *= s2;
        modulus_adjoint<T>(w.z2.data(), w.u.data(), M2);    // z2_bar
        p.fwd[ilog2(M2)]->c2c(w.z2.data(), w.w.data());     // F z2_bar
        tile_product_add<T>(w.w.data(), g.h.data(), g.runs, M2, V1);
    }
    // u1_bar = (1/M1) Re F^H V1
    hermitian_half<T>(V1, M1, w.lw.data());
    irfft(p, w.lw.data(), M1, w.u.data(), w.scratch.data());
    const T s1 = T(1) / static_cast<T>(M1);
    for (int t = 0; t < M1; ++t) w.u[t] *= s1;
    modulus_adjoint<T>(w.z1.data(), w.u.data(), M1);       // z1_bar
    p.fwd[ilog2(M1)]->c2c(w.z1.data(), w.w.data());         // F z1_bar
    const C* Y = w.w.data();
    std::size_t o = 0;
    for (const auto& r : f1.runs) {
        const int base = (r.first / M1) * M1;
        for (int m = r.first; m < r.second; ++m) contrib[o++] = Y[m - base] * f1.h[m];
    }
}

// ---- drivers ------------------------------------------------------------------------

template <class T>
void Scattering1D<T>::forward(const T* x, std::size_t batch, T* out, int n_threads) const {
    if (batch == 0) return;
    require_finite(x, batch * static_cast<std::size_t>(n_), "x");
    const int nt = resolve_num_threads(n_threads);
    const Plans p = plans(false);
    const int np = np_;
    const int n1s = static_cast<int>(first_.size());
    const std::size_t chunk = std::max<std::size_t>(1, std::min<std::size_t>(batch, 2 * static_cast<std::size_t>(nt)));
    AlignedBuffer<C> spectra(chunk * static_cast<std::size_t>(np));
    const std::size_t per_signal = static_cast<std::size_t>(n_paths()) * n_time_;

    ParallelGuard guard;
#pragma omp parallel num_threads(nt)
    {
        Work w;
        bool ok = false;
        guard.run([&] { w.alloc(np, false); ok = true; });
        for (std::size_t b0 = 0; b0 < batch; b0 += chunk) {
            const long long nb = static_cast<long long>(std::min(chunk, batch - b0));
#pragma omp for schedule(static)
            for (long long i = 0; i < nb; ++i) {
                if (!ok) continue;
                guard.run([&] {
                    const std::size_t b = b0 + i;
                    pad_signal<T>(x + b * n_, n_, w.u.data(), np, pad_left_, PadMode::Reflect);
                    C* X = spectra.data() + i * static_cast<std::size_t>(np);
                    rfft_full(p, w.u.data(), X, np, w.scratch.data(), np);
                    lowpass(p, X, phi_levels_[phi0_], T(1) / static_cast<T>(np), out + b * per_signal, w);
                });
            }
            // (n1, signal) tasks, n1-major: the widest (most expensive) paths go first.
            const long long ntask = nb * n1s;
#pragma omp for schedule(dynamic, 1)
            for (long long t = 0; t < ntask; ++t) {
                if (!ok) continue;
                const int n1 = static_cast<int>(t / nb);
                const long long i = t % nb;
                guard.run([&] {
                    forward_task(p, spectra.data() + i * static_cast<std::size_t>(np), n1,
                                 out + (b0 + i) * per_signal, w);
                });
            }
        }
    }
    guard.rethrow();
}

template <class T>
void Scattering1D<T>::vjp(const T* x, std::size_t batch, const T* grad_out, T* grad_x, int n_threads) const {
    if (batch == 0) return;
    require_finite(x, batch * static_cast<std::size_t>(n_), "x");
    require_finite(grad_out, batch * static_cast<std::size_t>(n_paths()) * n_time_, "grad_output");
    const int nt = resolve_num_threads(n_threads);
    const Plans p = plans(true);
    const int np = np_;
    const int n1s = static_cast<int>(first_.size());
    const std::size_t chunk = std::max<std::size_t>(1, std::min<std::size_t>(batch, static_cast<std::size_t>(nt)));
    AlignedBuffer<C> spectra(chunk * static_cast<std::size_t>(np));
    const std::size_t ncontrib = contrib_off_.back();
    std::vector<C> contrib(chunk * ncontrib);
    const std::size_t per_signal = static_cast<std::size_t>(n_paths()) * n_time_;

    ParallelGuard guard;
#pragma omp parallel num_threads(nt)
    {
        Work w;
        bool ok = false;
        guard.run([&] { w.alloc(np, true); ok = true; });
        for (std::size_t b0 = 0; b0 < batch; b0 += chunk) {
            const long long nb = static_cast<long long>(std::min(chunk, batch - b0));
#pragma omp for schedule(static)
            for (long long i = 0; i < nb; ++i) {
                if (!ok) continue;
                guard.run([&] {
                    pad_signal<T>(x + (b0 + i) * n_, n_, w.u.data(), np, pad_left_, PadMode::Reflect);
                    rfft_full(p, w.u.data(), spectra.data() + i * static_cast<std::size_t>(np), np,
                              w.scratch.data(), np);
                });
            }
            const long long ntask = nb * n1s;
#pragma omp for schedule(dynamic, 1)
            for (long long t = 0; t < ntask; ++t) {
                if (!ok) continue;
                const int n1 = static_cast<int>(t / nb);
                const long long i = t % nb;
                guard.run([&] {
                    vjp_task(p, spectra.data() + i * static_cast<std::size_t>(np), n1,
                             grad_out + (b0 + i) * per_signal, contrib.data() + i * ncontrib + contrib_off_[n1], w);
                });
            }
            // Per signal: order-0 term plus every n1's contribution in n1 order, then
            // x_pad_bar = (1/N_padded) Re F^H V0 and the padding adjoint.
#pragma omp for schedule(static)
            for (long long i = 0; i < nb; ++i) {
                if (!ok) continue;
                guard.run([&] {
                    C* V0 = w.V1.data();
                    std::fill(V0, V0 + np, C(0));
                    lowpass_adjoint(p, grad_out + (b0 + i) * per_signal, phi_levels_[phi0_], V0, w);
                    for (int n1 = 0; n1 < n1s; ++n1) {
                        const C* c = contrib.data() + i * ncontrib + contrib_off_[n1];
                        std::size_t o = 0;
                        for (const auto& r : psi1_[n1].runs) {
                            T* __restrict v = reinterpret_cast<T*>(V0 + r.first);
                            const T* __restrict s = reinterpret_cast<const T*>(c + o);
                            const int len = r.second - r.first;
                            for (int m = 0; m < 2 * len; ++m) v[m] += s[m];
                            o += len;
                        }
                    }
                    hermitian_half<T>(V0, np, w.lw.data());
                    irfft(p, w.lw.data(), np, w.lr.data(), w.scratch.data());
                    const T s = T(1) / static_cast<T>(np);
                    for (int t = 0; t < np; ++t) w.lr[t] *= s;
                    pad_adjoint_reflect<T>(w.lr.data(), n_, pad_left_, np, grad_x + (b0 + i) * n_);
                });
            }
        }
    }
    guard.rethrow();
}

template class Scattering1D<float>;
template class Scattering1D<double>;

// ---- bare FFT time ------------------------------------------------------------------

template <class T>
void run_fft_census(const std::vector<FftCensusEntry>& census, std::size_t batch, int n_threads) {
    using C = std::complex<T>;
    if (batch == 0 || census.empty()) return;
    const int nt = resolve_num_threads(n_threads);
    std::vector<std::shared_ptr<const FftPlan<T>>> plans;
    int nmax = 1;
    for (const auto& e : census) {
        require(e.n >= 1 && e.count >= 0, "bad FFT census entry (n=", e.n, ", count=", e.count, ")");
        plans.push_back(get_plan<T>(e.kind, e.n, e.inplace));
        nmax = std::max(nmax, e.n);
    }
    ParallelGuard guard;
#pragma omp parallel num_threads(nt)
    {
        AlignedBuffer<C> a, b;
        AlignedBuffer<T> r;
        bool ok = false;
        guard.run([&] {
            a.resize(nmax + 1);
            b.resize(nmax + 1);
            r.resize(nmax + 2);
            std::fill(a.data(), a.data() + nmax + 1, C(0));
            std::fill(b.data(), b.data() + nmax + 1, C(0));
            std::fill(r.data(), r.data() + nmax + 2, T(0));
            ok = true;
        });
#pragma omp for schedule(static)
        for (long long s = 0; s < static_cast<long long>(batch); ++s) {
            if (!ok) continue;
            for (std::size_t e = 0; e < census.size(); ++e) {
                const auto& pl = *plans[e];
                for (long long c = 0; c < census[e].count; ++c) {
                    switch (census[e].kind) {
                        case FftKind::Forward:
                        case FftKind::Backward:
                        case FftKind::ForwardTransposed:
                            if (census[e].inplace) pl.c2c(a.data(), a.data());
                            else pl.c2c(a.data(), b.data());
                            break;
                        case FftKind::R2C: pl.r2c(r.data(), b.data()); break;
                        case FftKind::C2R: pl.c2r(a.data(), r.data()); break;  // zeros stay zeros
                    }
                }
            }
        }
    }
    guard.rethrow();
}

template void run_fft_census<float>(const std::vector<FftCensusEntry>&, std::size_t, int);
template void run_fft_census<double>(const std::vector<FftCensusEntry>&, std::size_t, int);

}  // namespace scatclust
