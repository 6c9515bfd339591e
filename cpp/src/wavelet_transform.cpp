#include "scatclust/wavelet_transform.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "scatclust/errors.hpp"
#include "scatclust/parallel.hpp"

namespace scatclust {

template <class T>
void pad_signal(const T* x, int n, T* out, int n_padded, int left, PadMode mode) {
    const int right = n_padded - n - left;
    std::memcpy(out + left, x, sizeof(T) * n);
    if (mode == PadMode::Zero) {
        std::fill(out, out + left, T(0));
        std::fill(out + left + n, out + n_padded, T(0));
        return;
    }
    for (int i = 1; i <= left; ++i) {  // out[left - i] holds x[-i]
        int src;
        if (mode == PadMode::Reflect) src = i;          // x[-i] = x[i]
        else src = ((-i) % n + n) % n;                   // wrap
        out[left - i] = x[src];
    }
    for (int i = 0; i < right; ++i) {  // out[left + n + i] holds x[n + i]
        int src;
        if (mode == PadMode::Reflect) src = n - 2 - i;  // x[n+i] = x[n-2-i]
        else src = (n + i) % n;
        out[left + n + i] = x[src];
    }
}

template void pad_signal<float>(const float*, int, float*, int, int, PadMode);
template void pad_signal<double>(const double*, int, double*, int, int, PadMode);

template <class T>
WaveletTransform<T>::WaveletTransform(const double* filters, int n_filters, int n_padded,
                                      const std::vector<int>& log2_sub, int n_input, int pad_left,
                                      const std::vector<int>& ind_start, const std::vector<int>& ind_end,
                                      PadMode mode)
    : n_filters_(n_filters), np_(n_padded), n_(n_input), pad_left_(pad_left), mode_(mode) {
    require(n_filters >= 1, "n_filters=", n_filters, " must be >= 1");
    require(n_input >= 1, "n_input=", n_input, " must be >= 1");
    require(n_padded >= n_input, "n_padded=", n_padded, " must be >= n_input=", n_input);
    require(pad_left >= 0 && pad_left <= n_padded - n_input, "pad_left=", pad_left, " must be in [0, ",
            n_padded - n_input, "]");
    const int pad_right = n_padded - n_input - pad_left;
    if (mode == PadMode::Reflect)
        require(std::max(pad_left, pad_right) < n_input || (pad_left == 0 && pad_right == 0),
                "reflect padding of ", std::max(pad_left, pad_right), " samples needs a signal longer than that (N=",
                n_input, "); use padding='zero' or 'periodic'");
    require(static_cast<int>(log2_sub.size()) == n_filters, "log2_sub has ", log2_sub.size(),
            " entries, expected n_filters=", n_filters);
    require(ind_start.size() == ind_end.size(), "ind_start and ind_end must have equal lengths");
    filters_.assign(filters, filters + static_cast<std::size_t>(n_filters) * n_padded);
    k_ = log2_sub;
    out_cum_.assign(n_filters + 1, 0);
    for (int f = 0; f < n_filters; ++f) {
        const int k = k_[f];
        require(k >= 0 && k < static_cast<int>(ind_start.size()) && (n_padded % (1 << k)) == 0,
                "log2_sub[", f, "]=", k, " must be in [0, ", static_cast<int>(ind_start.size()) - 1,
                "] and 2^k must divide n_padded=", n_padded);
        start_.push_back(ind_start[k]);
        out_len_.push_back(ind_end[k] - ind_start[k]);
        require(ind_start[k] >= 0 && ind_end[k] <= (n_padded >> k) && out_len_.back() >= 0,
                "unpadding bounds [", ind_start[k], ", ", ind_end[k], ") out of range for k=", k);
        out_cum_[f + 1] = out_cum_[f] + out_len_.back();
    }
    runs_.resize(n_filters);
    for (int f = 0; f < n_filters; ++f) {
        const T* h = filters_.data() + static_cast<std::size_t>(f) * n_padded;
        const int M = n_padded >> k_[f];
        int m = 0;
        while (m < n_padded) {
            while (m < n_padded && h[m] == T(0)) ++m;
            if (m == n_padded) break;
            int e = m;
            while (e < n_padded && h[e] != T(0)) ++e;
            // split at period boundaries so each run maps to one contiguous output range
            for (int a = m; a < e;) {
                const int b = std::min(e, (a / M + 1) * M);
                runs_[f].emplace_back(a, b);
                a = b;
            }
            m = e;
        }
    }
}

template <class T>
void WaveletTransform<T>::execute(const T* x, std::size_t batch, void* out, bool modulus, bool batch_major,
                                  int n_threads) const {
    using C = std::complex<T>;
    if (batch == 0) return;
    if (batch_major)
        for (int f = 1; f < n_filters_; ++f)
            require(out_len_[f] == out_len_[0], "batch-major output needs equal lengths for every filter");
    require_finite(x, batch * static_cast<std::size_t>(n_), "x");
    const int nt = resolve_num_threads(n_threads);
    const int np = np_;
    const int nc = np / 2 + 1;
    auto r2c = get_plan<T>(FftKind::R2C, np, false);
    std::vector<std::shared_ptr<const FftPlan<T>>> inv(n_filters_);
    for (int f = 0; f < n_filters_; ++f) inv[f] = get_plan<T>(FftKind::Backward, np >> k_[f], true);

    // Spectra for a chunk of signals; chunk sized so that the spectra stay modest in memory
    // while giving every thread several (signal, filter) pairs.
    const std::size_t chunk = std::max<std::size_t>(1, std::min<std::size_t>(batch, 4 * nt));
    AlignedBuffer<C> spectra(chunk * static_cast<std::size_t>(np));
    const std::size_t Lfull = out_len_[0];

    ParallelGuard guard;
    for (std::size_t b0 = 0; b0 < batch; b0 += chunk) {
        const std::size_t nb = std::min(chunk, batch - b0);
#pragma omp parallel num_threads(nt)
        {
            // Per-thread scratch; an allocation failure is reported after the region.
            AlignedBuffer<T> padded;
            AlignedBuffer<C> half, work;
            bool ok = false;
            guard.run([&] { padded.resize(np); half.resize(nc); work.resize(np); ok = true; });
#pragma omp for schedule(static)
            for (long long i = 0; i < static_cast<long long>(nb); ++i) {
                if (!ok) continue;
                pad_signal<T>(x + (b0 + i) * n_, n_, padded.data(), np, pad_left_, mode_);
                r2c->r2c(padded.data(), half.data());
                C* X = spectra.data() + i * static_cast<std::size_t>(np);
                std::memcpy(X, half.data(), sizeof(C) * nc);
                for (int m = nc; m < np; ++m) X[m] = std::conj(half[np - m]);  // Hermitian half
            }
            // (signal, filter) pairs, filter-major so that one filter stays in cache.
            const long long npairs = static_cast<long long>(nb) * n_filters_;
#pragma omp for schedule(dynamic, 1)
            for (long long p = 0; p < npairs; ++p) {
                if (!ok) continue;
                const int f = static_cast<int>(p / static_cast<long long>(nb));
                const std::size_t i = static_cast<std::size_t>(p % static_cast<long long>(nb));
                const std::size_t b = b0 + i;
                const int k = k_[f];
                const int M = np >> k;
                const int periods = 1 << k;
                const C* X = spectra.data() + i * static_cast<std::size_t>(np);
                const T* h = filters_.data() + static_cast<std::size_t>(f) * np;
                C* w = work.data();
                // Periodised product: w[m] = sum_q X[m + qM] h[m + qM], q ascending, over
                // the filter's non-zero runs only (runs are sorted and never cross a period).
                std::fill(w, w + M, C(0));
                for (const auto& r : runs_[f]) {
                    const int base = (r.first / M) * M;
                    C* wo = w + (r.first - base);
                    const C* Xr = X + r.first;
                    const T* hr = h + r.first;
                    const int len = r.second - r.first;
                    for (int m = 0; m < len; ++m) wo[m] += Xr[m] * hr[m];
                }
                inv[f]->c2c(w, w);
                // 1/periods from the periodisation mean, 1/M from the unnormalised inverse FFT.
                const T scale = T(1) / (static_cast<T>(periods) * static_cast<T>(M));
                const int s = start_[f];
                const int L = out_len_[f];
                std::size_t off = batch_major ? (b * n_filters_ + f) * Lfull
                                              : batch * out_cum_[f] + b * static_cast<std::size_t>(L);
                if (modulus) {
                    T* o = static_cast<T*>(out) + off;
                    for (int t = 0; t < L; ++t) {
                        const C v = w[s + t];
                        o[t] = std::sqrt(v.real() * v.real() + v.imag() * v.imag()) * scale;
                    }
                } else {
                    C* o = static_cast<C*>(out) + off;
                    for (int t = 0; t < L; ++t) o[t] = w[s + t] * scale;
                }
            }
        }
        guard.rethrow();
    }
}

template class WaveletTransform<float>;
template class WaveletTransform<double>;

}  // namespace scatclust
