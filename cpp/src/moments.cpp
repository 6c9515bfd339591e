#include "scatclust/moments.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>

#include "scatclust/errors.hpp"
#include "scatclust/fft_plan.hpp"
#include "scatclust/parallel.hpp"

namespace scatclust {

namespace {

constexpr int kSegSamples = 16384;  // forward: samples of windows per pooling work item
constexpr int kChunk = 2048;        // samples per fused cache chunk (all terms of a group)
constexpr int kGradBlock = 4096;    // backward: samples per adjoint work item
constexpr std::size_t kMemBudget = std::size_t(512) << 20;  // bytes of per-chunk buffers

std::vector<std::pair<int, int>> nonzero_runs(const std::vector<double>& h, int lo, int hi) {
    std::vector<std::pair<int, int>> r;
    int m = lo;
    while (m < hi) {
        while (m < hi && h[m] == 0.0) ++m;
        if (m == hi) break;
        int e = m;
        while (e < hi && h[e] != 0.0) ++e;
        r.emplace_back(m, e);
        m = e;
    }
    return r;
}

struct UnionFind {
    std::vector<int> p;
    explicit UnionFind(int n) : p(n) { std::iota(p.begin(), p.end(), 0); }
    int find(int a) { return p[a] == a ? a : (p[a] = find(p[a])); }
    void unite(int a, int b) {
        a = find(a);
        b = find(b);
        if (a != b) p[std::max(a, b)] = std::min(a, b);
    }
};

// Sum over i < n of the pair (re, im) that f(i, re, im) produces, in double, with four
// independent lanes (vectorisable without reassociation) combined in a fixed order.
template <class F>
inline void lane_sum(int n, F f, double& sr, double& si) {
    double ar[4] = {0, 0, 0, 0}, ai[4] = {0, 0, 0, 0};
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int l = 0; l < 4; ++l) {
            double r, m;
            f(i + l, r, m);
            ar[l] += r;
            ai[l] += m;
        }
    }
    for (int l = 0; i < n; ++i, ++l) {
        double r, m;
        f(i, r, m);
        ar[l] += r;
        ai[l] += m;
    }
    sr += (ar[0] + ar[1]) + (ar[2] + ar[3]);
    si += (ai[0] + ai[1]) + (ai[2] + ai[3]);
}

// First / last window index whose support [o + tS, o + tS + K) meets [c0, c1) (c1 > o).
inline long long first_window(long long c0, long long o, long long K, long long S) {
    const long long num = c0 - o - K + 1;
    return num <= 0 ? 0 : (num + S - 1) / S;
}
inline long long last_window(long long c1, long long o, long long S) { return (c1 - 1 - o) / S; }

}  // namespace

template <class T>
struct ScatteringMoments<T>::Scratch {
    AlignedBuffer<C> cb;     // complex FFT work (L)
    AlignedBuffer<T> rb;     // real FFT input / output (L)
    AlignedBuffer<C> hb;     // half spectrum (L/2 + 1)
    AlignedBuffer<C> yb;     // a series (N)
    AlignedBuffer<T> eb;     // an envelope / real gradient (N)
    AlignedBuffer<C> gf;     // spread pooled gradient (kGradBlock)
    std::vector<double> acc; // pooled sums of one forward item
    std::shared_ptr<const FftPlan<T>> r2c, inv, fwd, c2r;
};

template <class T>
struct ScatteringMoments<T>::Pool {
    long long K, S, o;
    int n_out;
};

template <class T>
ScatteringMoments<T>::ScatteringMoments(const double* psi_f, int J, int n_padded, const double* phi_f, int n_input,
                                        int padding, int n_channels, const std::int32_t* terms, int n_terms)
    : J_(J), P_(n_padded), N_(n_input), C_(n_channels) {
    require(J >= 1, "psi_f has J=", J, " filters; need at least 1");
    require(n_input >= 1, "n_input=", n_input, " must be >= 1");
    require(padding == 0 || padding == 1, "padding=", padding, " must be 0 (symmetric) or 1 (periodic)");
    padding_ = static_cast<MomentPadding>(padding);
    if (padding_ == MomentPadding::Symmetric)
        require(n_padded == 2 * n_input, "psi_f has P=", n_padded, " columns; symmetric padding needs P = 2*n_input = ",
                2 * n_input);
    else
        require(n_padded == n_input, "psi_f has P=", n_padded, " columns; periodic padding needs P = n_input = ",
                n_input);
    require(n_channels >= 1, "n_channels=", n_channels, " must be >= 1");
    require(n_terms >= 1, "terms has ", n_terms, " rows; need at least 1");
    const int P = P_, N = N_;
    n_series_ = (J + 1) + J * (J + 1) / 2;
    fast_ = padding_ == MomentPadding::Symmetric && N % 2 == 0;
    spec_len_ = fast_ ? static_cast<std::size_t>(N) : 2 * static_cast<std::size_t>(P / 2 + 1);
    acc_len_ = fast_ ? static_cast<std::size_t>(N) : 2 * static_cast<std::size_t>(P);

    // ---- filters
    const int nf = J + 1;
    real_.assign(nf, 0);
    runs_p_.resize(nf);
    runs_m_.resize(nf);
    runs_q_.resize(nf);
    tw_range_.assign(nf, {0, 0});
    if (fast_) {
        hp_.assign(static_cast<std::size_t>(nf) * N, T(0));
        hm_.assign(static_cast<std::size_t>(nf) * N, T(0));
        tw_.resize(N);
        const double pi = std::acos(-1.0);
        for (int k = 0; k < N; ++k) {
            const double a = pi * k / (2.0 * N);
            tw_[k] = C(static_cast<T>(std::cos(a)), static_cast<T>(std::sin(a)));
        }
    } else {
        hq_.assign(static_cast<std::size_t>(nf) * P, T(0));
    }
    for (int f = 0; f < nf; ++f) {
        const double* h = f < J ? psi_f + static_cast<std::size_t>(f) * P : phi_f;
        std::vector<double> hv(h, h + P);
        for (int k = 0; k < P; ++k)
            require(std::isfinite(hv[k]), f < J ? "psi_f" : "phi_f", " contains a non-finite value at index ",
                    f < J ? static_cast<std::size_t>(f) * P + k : static_cast<std::size_t>(k));
        bool herm = true;
        for (int k = 1; k < P && herm; ++k) herm = hv[k] == hv[P - k];
        real_[f] = herm;
        for (double& v : hv) v = static_cast<double>(static_cast<T>(v / P));  // what the kernel multiplies by
        if (fast_) {
            std::vector<double> lo(hv.begin(), hv.begin() + N), hi(N, 0.0);
            for (int k = 1; k < N; ++k) hi[k] = hv[k + N];  // k = 0 pairs with C[N] = 0
            for (int k = 0; k < N; ++k) {
                hp_[static_cast<std::size_t>(f) * N + k] = static_cast<T>(lo[k]);
                hm_[static_cast<std::size_t>(f) * N + k] = static_cast<T>(hi[k]);
            }
            runs_p_[f] = nonzero_runs(lo, 0, N);
            runs_m_[f] = nonzero_runs(hi, 1, N);
            int a = N, b = 0;
            for (auto& r : runs_p_[f]) a = std::min(a, r.first), b = std::max(b, r.second);
            for (auto& r : runs_m_[f]) a = std::min(a, r.first), b = std::max(b, r.second);
            tw_range_[f] = a < b ? std::make_pair(a, b) : std::make_pair(0, 0);
        } else {
            for (int k = 0; k < P; ++k) hq_[static_cast<std::size_t>(f) * P + k] = static_cast<T>(hv[k]);
            runs_q_[f] = nonzero_runs(hv, 0, P);
        }
    }

    // ---- series table
    j1_.assign(n_series_, -1);
    filt_.assign(n_series_, 0);
    for (int j = 0; j <= J; ++j) filt_[j] = j;
    {
        int i = J + 1;
        for (int a = 0; a < J; ++a)
            for (int b = a + 1; b <= J; ++b, ++i) {
                j1_[i] = a;
                filt_[i] = b;
            }
    }

    // ---- terms
    terms_.resize(n_terms);
    const int n_nodes = C_ * n_series_;
    std::vector<char> needed(n_nodes, 0);
    UnionFind uf(n_nodes);
    for (int t = 0; t < n_terms; ++t) {
        const std::int32_t* r = terms + static_cast<std::size_t>(t) * 5;
        Term& tm = terms_[t];
        tm.kind = r[0];
        tm.ca = r[1];
        tm.ia = r[2];
        tm.cb = r[3];
        tm.ib = r[4];
        require(tm.kind >= 0 && tm.kind <= 2, "terms[", t, ", 0]=", tm.kind,
                " is not a valid term kind (0 MEAN, 1 ABS, 2 PROD)");
        require(tm.ca >= 0 && tm.ca < C_, "terms[", t, ", 1]=", tm.ca, " is not a valid channel for n_channels=", C_,
                " (0..", C_ - 1, ")");
        require(tm.ia >= 0 && tm.ia < n_series_, "terms[", t, ", 2]=", tm.ia, " is not a valid series index for J=", J,
                " (0..", n_series_ - 1, ")");
        if (tm.kind == 2) {
            require(tm.cb >= 0 && tm.cb < C_, "terms[", t, ", 3]=", tm.cb, " is not a valid channel for n_channels=",
                    C_, " (0..", C_ - 1, ")");
            require(tm.ib >= 0 && tm.ib < n_series_, "terms[", t, ", 4]=", tm.ib,
                    " is not a valid series index for J=", J, " (0..", n_series_ - 1, ")");
        } else {
            tm.cb = tm.ca;  // ignored by the spec; normalised so grouping treats it as unary
            tm.ib = tm.ia;
        }
        const int na = tm.ca * n_series_ + tm.ia, nb = tm.cb * n_series_ + tm.ib;
        needed[na] = needed[nb] = 1;
        uf.unite(na, nb);
    }

    // ---- envelopes needed by the referenced layer-2 series
    std::vector<int> env_index(static_cast<std::size_t>(C_) * J, -1);
    for (int c = 0; c < C_; ++c)
        for (int i = J + 1; i < n_series_; ++i)
            if (needed[c * n_series_ + i]) env_index[static_cast<std::size_t>(c) * J + j1_[i]] = 0;
    for (int c = 0; c < C_; ++c)
        for (int j = 0; j < J; ++j)
            if (env_index[static_cast<std::size_t>(c) * J + j] == 0) {
                env_index[static_cast<std::size_t>(c) * J + j] = static_cast<int>(envs_.size());
                envs_.emplace_back(c, j);
            }

    // ---- groups: connected components, ordered by their smallest (channel, series) node
    std::vector<int> group_of_root(n_nodes, -1);
    std::vector<int> slot_of(n_nodes, -1);
    for (int node = 0; node < n_nodes; ++node) {
        if (!needed[node]) continue;
        const int root = uf.find(node);
        if (group_of_root[root] < 0) {
            group_of_root[root] = static_cast<int>(groups_.size());
            groups_.emplace_back();
        }
        Group& g = groups_[group_of_root[root]];
        const int c = node / n_series_, i = node % n_series_;
        Member m;
        m.node = node;
        m.filter = filt_[i];
        m.source = i <= J ? c : C_ + env_index[static_cast<std::size_t>(c) * J + j1_[i]];
        slot_of[node] = static_cast<int>(g.members.size());
        g.members.push_back(m);
    }
    for (int t = 0; t < n_terms; ++t) {
        Term& tm = terms_[t];
        const int na = tm.ca * n_series_ + tm.ia, nb = tm.cb * n_series_ + tm.ib;
        tm.slot_a = slot_of[na];
        tm.slot_b = slot_of[nb];
        groups_[group_of_root[uf.find(na)]].terms.push_back(t);
    }
    for (Group& g : groups_) {
        for (const Member& m : g.members) g.dests.push_back(m.source);
        std::sort(g.dests.begin(), g.dests.end());
        g.dests.erase(std::unique(g.dests.begin(), g.dests.end()), g.dests.end());
        max_members_ = std::max(max_members_, g.members.size());
    }
}

template <class T>
int ScatteringMoments<T>::n_out(int kernel, int stride, int offset) const {
    require(kernel >= 1, "pooling kernel=", kernel, " must be >= 1");
    require(stride >= 1, "pooling stride=", stride, " must be >= 1");
    require(offset >= 0, "pooling offset=", offset, " must be >= 0");
    require(static_cast<long long>(offset) + kernel <= N_, "pooling kernel=", kernel, " with offset=", offset,
            " leaves no window in N=", N_, " samples; need offset + kernel <= N");
    return (N_ - offset - kernel) / stride + 1;
}

// ---------------------------------------------------------------------------------------
// Transforms. Notation (fast path, P = 2N, N even): C = DCT-II of u in FFTW's REDFT10 scaling,
// so that fft([u, reverse(u)])[k] = e^{i pi k / 2N} C[k] and C[2N-k] = -C[k], C[N] = 0.

template <class T>
void ScatteringMoments<T>::analyze(const T* u, T* spec, Scratch& s) const {
    const int N = N_;
    if (fast_) {
        // Makhoul: v = (u[0], u[2], ..., u[3], u[1]); C[k] = 2 Re(e^{-i pi k / 2N} V[k]).
        T* v = s.rb.data();
        const int h = N / 2;
        for (int n = 0; n < h; ++n) {
            v[n] = u[2 * n];
            v[N - 1 - n] = u[2 * n + 1];
        }
        s.r2c->r2c(v, s.hb.data());
        const T* V = reinterpret_cast<const T*>(s.hb.data());
        const T* w = reinterpret_cast<const T*>(tw_.data());
        for (int k = 0; k <= h; ++k) spec[k] = T(2) * (w[2 * k] * V[2 * k] + w[2 * k + 1] * V[2 * k + 1]);
        for (int k = h + 1; k < N; ++k) {  // V[k] = conj(V[N - k])
            const int q = N - k;
            spec[k] = T(2) * (w[2 * k] * V[2 * q] - w[2 * k + 1] * V[2 * q + 1]);
        }
        return;
    }
    const int P = P_;
    T* v = s.rb.data();
    std::memcpy(v, u, sizeof(T) * N);
    if (padding_ == MomentPadding::Symmetric)
        for (int n = 0; n < N; ++n) v[N + n] = u[N - 1 - n];
    s.r2c->r2c(v, s.hb.data());
    std::memcpy(spec, s.hb.data(), sizeof(C) * (P / 2 + 1));
}

template <class T>
void ScatteringMoments<T>::synth(const T* spec, int f, C* y, Scratch& s) const {
    const int N = N_;
    T* w = reinterpret_cast<T*>(s.cb.data());
    T* yo = reinterpret_cast<T*>(y);
    if (fast_) {
        // B[k] = e^{i pi k / 2N} (C[k] hp[k] - i C[N-k] hm[k]); W = ifft_N(B);
        // y[2r] = W[r], y[N-1-2r] = conj(W[r + N/2]).
        const T* hp = hp_.data() + static_cast<std::size_t>(f) * N;
        const T* hm = hm_.data() + static_cast<std::size_t>(f) * N;
        std::fill(w, w + 2 * static_cast<std::size_t>(N), T(0));
        for (const auto& r : runs_p_[f])
            for (int k = r.first; k < r.second; ++k) w[2 * k] = spec[k] * hp[k];
        for (const auto& r : runs_m_[f])
            for (int k = r.first; k < r.second; ++k) w[2 * k + 1] = -spec[N - k] * hm[k];
        const T* t = reinterpret_cast<const T*>(tw_.data());
        for (int k = tw_range_[f].first; k < tw_range_[f].second; ++k) {
            const T a = w[2 * k], b = w[2 * k + 1];
            w[2 * k] = a * t[2 * k] - b * t[2 * k + 1];
            w[2 * k + 1] = a * t[2 * k + 1] + b * t[2 * k];
        }
        s.inv->c2c(s.cb.data(), s.cb.data());
        const int h = N / 2;
        for (int r = 0; r < h; ++r) {
            yo[4 * r] = w[2 * r];
            yo[4 * r + 1] = w[2 * r + 1];
            const int n = N - 1 - 2 * r;
            yo[2 * n] = w[2 * (r + h)];
            yo[2 * n + 1] = -w[2 * (r + h) + 1];
        }
    } else {
        const int P = P_;
        const T* hq = hq_.data() + static_cast<std::size_t>(f) * P;
        const T* X = spec;
        std::fill(w, w + 2 * static_cast<std::size_t>(P), T(0));
        for (const auto& r : runs_q_[f])
            for (int k = r.first; k < r.second; ++k) {
                const bool lo = k <= P / 2;
                const int q = lo ? k : P - k;
                w[2 * k] = X[2 * q] * hq[k];
                w[2 * k + 1] = (lo ? X[2 * q + 1] : -X[2 * q + 1]) * hq[k];
            }
        s.inv->c2c(s.cb.data(), s.cb.data());
        std::memcpy(yo, w, sizeof(C) * N);
    }
    if (real_[f])
        for (int n = 0; n < N; ++n) yo[2 * n + 1] = T(0);
}

template <class T>
void ScatteringMoments<T>::grad_synth_accum(const C* g, int f, T* acc, Scratch& s) const {
    const int N = N_;
    T* w = reinterpret_cast<T*>(s.cb.data());
    const T* gi = reinterpret_cast<const T*>(g);
    const T im_sign = real_[f] ? T(0) : T(1);  // a real series ignores the imaginary gradient
    if (fast_) {
        // Adjoint of synth: W[r] = g[2r], W[r + N/2] = conj(g[N-1-2r]); GB = e^{-i pi k/2N} fft_N(W);
        // acc[k] += hp[k] Re GB[k]; acc[N-k] -= hm[k] Im GB[k].
        const int h = N / 2;
        for (int r = 0; r < h; ++r) {
            w[2 * r] = gi[4 * r];
            w[2 * r + 1] = im_sign * gi[4 * r + 1];
            const int n = N - 1 - 2 * r;
            w[2 * (r + h)] = gi[2 * n];
            w[2 * (r + h) + 1] = -im_sign * gi[2 * n + 1];
        }
        s.fwd->c2c(s.cb.data(), s.cb.data());
        const T* hp = hp_.data() + static_cast<std::size_t>(f) * N;
        const T* hm = hm_.data() + static_cast<std::size_t>(f) * N;
        const T* t = reinterpret_cast<const T*>(tw_.data());
        for (const auto& r : runs_p_[f])
            for (int k = r.first; k < r.second; ++k)
                acc[k] += hp[k] * (t[2 * k] * w[2 * k] + t[2 * k + 1] * w[2 * k + 1]);
        for (const auto& r : runs_m_[f])
            for (int k = r.first; k < r.second; ++k)
                acc[N - k] -= hm[k] * (t[2 * k] * w[2 * k + 1] - t[2 * k + 1] * w[2 * k]);
    } else {
        const int P = P_;
        for (int n = 0; n < N; ++n) {
            w[2 * n] = gi[2 * n];
            w[2 * n + 1] = im_sign * gi[2 * n + 1];
        }
        std::fill(w + 2 * static_cast<std::size_t>(N), w + 2 * static_cast<std::size_t>(P), T(0));
        s.fwd->c2c(s.cb.data(), s.cb.data());
        const T* hq = hq_.data() + static_cast<std::size_t>(f) * P;
        for (const auto& r : runs_q_[f])
            for (int k = r.first; k < r.second; ++k) {
                acc[2 * k] += hq[k] * w[2 * k];
                acc[2 * k + 1] += hq[k] * w[2 * k + 1];
            }
    }
}

template <class T>
void ScatteringMoments<T>::grad_analyze(T* acc, T* g, Scratch& s) const {
    const int N = N_;
    T* V = reinterpret_cast<T*>(s.hb.data());
    T* p = s.rb.data();
    if (fast_) {
        // Transpose of the DCT-II: g = DCT-III(H') with H'[0] = 2 acc[0], by Makhoul's inverse:
        // V[k] = (H'[k] - i H'[N-k]) e^{i pi k / 2N} (k <= N/2), p = c2r_N(V),
        // g[2n] = p[n], g[2n+1] = p[N-1-n].
        const int h = N / 2;
        const T* t = reinterpret_cast<const T*>(tw_.data());
        for (int k = 0; k <= h; ++k) {
            const T a = k == 0 ? T(2) * acc[0] : acc[k];
            const T b = k == 0 ? T(0) : acc[N - k];
            V[2 * k] = a * t[2 * k] + b * t[2 * k + 1];
            V[2 * k + 1] = a * t[2 * k + 1] - b * t[2 * k];
        }
        s.c2r->c2r(s.hb.data(), p);
        for (int n = 0; n < h; ++n) {
            g[2 * n] = p[n];
            g[2 * n + 1] = p[N - 1 - n];
        }
        return;
    }
    // Re(ifft_unnormalised(A)) = c2r of the Hermitian part of A; then the padding adjoint.
    const int P = P_;
    for (int k = 0; k <= P / 2; ++k) {
        const int q = (P - k) % P;
        V[2 * k] = T(0.5) * (acc[2 * k] + acc[2 * q]);
        V[2 * k + 1] = T(0.5) * (acc[2 * k + 1] - acc[2 * q + 1]);
    }
    s.c2r->c2r(s.hb.data(), p);
    if (padding_ == MomentPadding::Symmetric)
        for (int n = 0; n < N; ++n) g[n] = p[n] + p[P - 1 - n];
    else
        std::memcpy(g, p, sizeof(T) * N);
}

// ---------------------------------------------------------------------------------------

template <class T>
void ScatteringMoments<T>::forward(const T* x, std::size_t batch, C* out, int kernel, int stride, int offset,
                                   int n_threads) const {
    run(x, batch, out, nullptr, nullptr, kernel, stride, offset, n_threads);
}

template <class T>
void ScatteringMoments<T>::backward(const T* x, std::size_t batch, const C* grad_out, T* grad_x, int kernel,
                                    int stride, int offset, int n_threads) const {
    run(x, batch, nullptr, grad_out, grad_x, kernel, stride, offset, n_threads);
}

template <class T>
void ScatteringMoments<T>::run(const T* x, std::size_t batch, C* out, const C* grad_out, T* grad_x, int kernel,
                               int stride, int offset, int n_threads) const {
    const int n_o = n_out(kernel, stride, offset);
    if (batch == 0) return;
    const bool bwd = grad_x != nullptr;
    const int N = N_, Cc = C_;
    const std::size_t n_x = batch * static_cast<std::size_t>(Cc) * N;
    require_finite(x, n_x, "x");
    if (bwd) require_finite(reinterpret_cast<const T*>(grad_out), 2 * batch * terms_.size() * n_o, "grad_out");
    const int nt = resolve_num_threads(n_threads);
    const Pool pool{kernel, stride, offset, n_o};
    const int n_terms = static_cast<int>(terms_.size());
    const int n_env = static_cast<int>(envs_.size());
    const int n_spec = Cc + n_env;

    // Plans (created once, cached).
    const int L = fast_ ? N : P_;
    auto p_r2c = get_plan<T>(FftKind::R2C, L, false);
    auto p_inv = get_plan<T>(FftKind::Backward, L, true);
    auto p_fwd = bwd ? get_plan<T>(FftKind::Forward, L, true) : nullptr;
    auto p_c2r = bwd ? get_plan<T>(FftKind::C2R, L, false) : nullptr;

    // Chunk of batch elements: enough work items for the threads, bounded memory.
    const std::size_t per_b = sizeof(T) * (n_spec * spec_len_ + (bwd ? n_spec * acc_len_ : 0)) +
                              sizeof(C) * max_members_ * static_cast<std::size_t>(N) * (bwd ? 2 : 1);
    std::size_t nb = std::min<std::size_t>(batch, std::max<std::size_t>(1, 2 * static_cast<std::size_t>(nt)));
    nb = std::max<std::size_t>(1, std::min(nb, kMemBudget / std::max<std::size_t>(per_b, 1)));
    std::vector<T> spec(nb * n_spec * spec_len_);
    std::vector<C> ser(nb * max_members_ * static_cast<std::size_t>(N));
    std::vector<C> gser(bwd ? ser.size() : 0);
    std::vector<T> accs(bwd ? nb * n_spec * acc_len_ : 0);

    // Forward pooling items: segments of consecutive windows (>= kSegSamples samples).
    const int seg_w = std::max(1, static_cast<int>(std::min<long long>(n_o, kSegSamples / stride)));
    const int n_seg = (n_o + seg_w - 1) / seg_w;
    const int n_gblk = (N + kGradBlock - 1) / kGradBlock;

    ParallelGuard guard;
    for (std::size_t b0 = 0; b0 < batch; b0 += nb) {
        const std::size_t nbc = std::min(nb, batch - b0);
        auto spec_of = [&](std::size_t bl, int k) { return spec.data() + (bl * n_spec + k) * spec_len_; };
        auto acc_of = [&](std::size_t bl, int k) { return accs.data() + (bl * n_spec + k) * acc_len_; };
        auto ser_of = [&](std::size_t bl, std::size_t m) { return ser.data() + (bl * max_members_ + m) * N; };
        auto gser_of = [&](std::size_t bl, std::size_t m) { return gser.data() + (bl * max_members_ + m) * N; };
#pragma omp parallel num_threads(nt)
        {
            Scratch s;
            bool ok = false;
            guard.run([&] {
                s.cb.resize(L);
                s.rb.resize(L);
                s.hb.resize(L / 2 + 1);
                s.yb.resize(N);
                s.eb.resize(N);
                s.gf.resize(kGradBlock);
                s.r2c = p_r2c;
                s.inv = p_inv;
                s.fwd = p_fwd;
                s.c2r = p_c2r;
                ok = true;
            });
            // Phase A: channel spectra.
            const long long nA = static_cast<long long>(nbc) * Cc;
#pragma omp for schedule(dynamic, 1)
            for (long long it = 0; it < nA; ++it) {
                if (!ok) continue;
                guard.run([&] {
                    const std::size_t bl = it / Cc;
                    const int c = static_cast<int>(it % Cc);
                    analyze(x + ((b0 + bl) * Cc + c) * N, spec_of(bl, c), s);
                    if (bwd) std::fill(acc_of(bl, c), acc_of(bl, c) + acc_len_, T(0));
                });
            }
            // Phase E: envelope spectra |s1[j1]|.
            const long long nE = static_cast<long long>(nbc) * n_env;
#pragma omp for schedule(dynamic, 1)
            for (long long it = 0; it < nE; ++it) {
                if (!ok) continue;
                guard.run([&] {
                    const std::size_t bl = it / n_env;
                    const int e = static_cast<int>(it % n_env);
                    const int c = envs_[e].first, j1 = envs_[e].second;
                    synth(spec_of(bl, c), j1, s.yb.data(), s);
                    const T* y = reinterpret_cast<const T*>(s.yb.data());
                    T* env = s.eb.data();
                    for (int n = 0; n < N; ++n) env[n] = std::sqrt(y[2 * n] * y[2 * n] + y[2 * n + 1] * y[2 * n + 1]);
                    analyze(env, spec_of(bl, Cc + e), s);
                    if (bwd) std::fill(acc_of(bl, Cc + e), acc_of(bl, Cc + e) + acc_len_, T(0));
                });
            }
            for (const Group& g : groups_) {
                const int nm = static_cast<int>(g.members.size());
                // G1: the group's series.
                const long long nG = static_cast<long long>(nbc) * nm;
#pragma omp for schedule(dynamic, 1)
                for (long long it = 0; it < nG; ++it) {
                    if (!ok) continue;
                    guard.run([&] {
                        const std::size_t bl = it / nm;
                        const int m = static_cast<int>(it % nm);
                        const Member& mb = g.members[m];
                        synth(spec_of(bl, mb.source), mb.filter, ser_of(bl, m), s);
                    });
                }
                const int ngt = static_cast<int>(g.terms.size());
                if (!bwd) {
                    // G2: pooled terms, fused over the group's terms in cache chunks.
                    const long long nP = static_cast<long long>(nbc) * n_seg;
#pragma omp for schedule(dynamic, 1)
                    for (long long it = 0; it < nP; ++it) {
                        if (!ok) continue;
                        guard.run([&] {
                            const std::size_t bl = it / n_seg;
                            const int seg = static_cast<int>(it % n_seg);
                            const long long t0 = static_cast<long long>(seg) * seg_w;
                            const long long t1 = std::min<long long>(n_o, t0 + seg_w);
                            const long long nw = t1 - t0;
                            s.acc.assign(static_cast<std::size_t>(ngt) * nw * 2, 0.0);
                            const long long lo = pool.o + t0 * pool.S;
                            const long long hi = pool.o + (t1 - 1) * pool.S + pool.K;
                            for (long long c0 = lo; c0 < hi;) {
                                const long long c1 = std::min(hi, (c0 / kChunk + 1) * kChunk);
                                const long long ta = std::max(t0, first_window(c0, pool.o, pool.K, pool.S));
                                const long long tb = std::min(t1 - 1, last_window(c1, pool.o, pool.S));
                                for (int q = 0; q < ngt; ++q) {
                                    const Term& tm = terms_[g.terms[q]];
                                    const T* u = reinterpret_cast<const T*>(ser_of(bl, tm.slot_a));
                                    const T* v = reinterpret_cast<const T*>(ser_of(bl, tm.slot_b));
                                    for (long long t = ta; t <= tb; ++t) {
                                        const long long a = pool.o + t * pool.S;
                                        const long long l = std::max(a, c0), h = std::min(a + pool.K, c1);
                                        if (l >= h) continue;
                                        double& sr = s.acc[(static_cast<std::size_t>(q) * nw + (t - t0)) * 2];
                                        double& si = s.acc[(static_cast<std::size_t>(q) * nw + (t - t0)) * 2 + 1];
                                        const T* uu = u + 2 * l;
                                        const T* vv = v + 2 * l;
                                        const int len = static_cast<int>(h - l);
                                        if (tm.kind == 0) {
                                            lane_sum(len, [&](int i, double& r, double& m) {
                                                r = uu[2 * i];
                                                m = uu[2 * i + 1];
                                            }, sr, si);
                                        } else if (tm.kind == 1) {
                                            lane_sum(len, [&](int i, double& r, double& m) {
                                                const double a0 = uu[2 * i], b0 = uu[2 * i + 1];
                                                r = std::sqrt(a0 * a0 + b0 * b0);
                                                m = 0.0;
                                            }, sr, si);
                                        } else if (tm.slot_a == tm.slot_b) {
                                            lane_sum(len, [&](int i, double& r, double& m) {
                                                const double a0 = uu[2 * i], b0 = uu[2 * i + 1];
                                                r = a0 * a0 + b0 * b0;
                                                m = 0.0;
                                            }, sr, si);
                                        } else {
                                            lane_sum(len, [&](int i, double& r, double& m) {
                                                const double a0 = uu[2 * i], b0 = uu[2 * i + 1];
                                                const double c2 = vv[2 * i], d0 = vv[2 * i + 1];
                                                r = a0 * c2 + b0 * d0;
                                                m = b0 * c2 - a0 * d0;
                                            }, sr, si);
                                        }
                                    }
                                }
                                c0 = c1;
                            }
                            const double inv_k = 1.0 / static_cast<double>(pool.K);
                            for (int q = 0; q < ngt; ++q) {
                                C* o = out + ((b0 + bl) * n_terms + g.terms[q]) * static_cast<std::size_t>(n_o);
                                for (long long t = t0; t < t1; ++t) {
                                    const double* a = &s.acc[(static_cast<std::size_t>(q) * nw + (t - t0)) * 2];
                                    o[t] = C(static_cast<T>(a[0] * inv_k), static_cast<T>(a[1] * inv_k));
                                }
                            }
                        });
                    }
                    continue;
                }
                // G2 (backward): gradients of the group's series, per block of samples.
                const long long nB = static_cast<long long>(nbc) * n_gblk;
#pragma omp for schedule(dynamic, 1)
                for (long long it = 0; it < nB; ++it) {
                    if (!ok) continue;
                    guard.run([&] {
                        const std::size_t bl = it / n_gblk;
                        const long long n0 = (it % n_gblk) * static_cast<long long>(kGradBlock);
                        const long long n1 = std::min<long long>(N, n0 + kGradBlock);
                        const int len = static_cast<int>(n1 - n0);
                        for (int m = 0; m < nm; ++m) std::fill(gser_of(bl, m) + n0, gser_of(bl, m) + n1, C(0));
                        // Windows meeting [n0, n1): only those inside the pooled range exist.
                        const long long used_hi = pool.o + (n_o - 1) * pool.S + pool.K;
                        if (n1 <= pool.o || n0 >= used_hi) return;
                        const long long ta = first_window(n0, pool.o, pool.K, pool.S);
                        const long long tb = std::min<long long>(n_o - 1, last_window(n1, pool.o, pool.S));
                        if (ta > tb) return;
                        const T inv_k = T(1) / static_cast<T>(pool.K);
                        T* gf = reinterpret_cast<T*>(s.gf.data());
                        for (int q = 0; q < ngt; ++q) {
                            const int tg = g.terms[q];
                            const Term& tm = terms_[tg];
                            const C* go = grad_out + ((b0 + bl) * n_terms + tg) * static_cast<std::size_t>(n_o);
                            std::fill(gf, gf + 2 * len, T(0));
                            for (long long t = ta; t <= tb; ++t) {
                                const long long a = pool.o + t * pool.S;
                                const long long l = std::max(a, n0), h = std::min(a + pool.K, n1);
                                const T gr = go[t].real() * inv_k, gi = go[t].imag() * inv_k;
                                for (long long n = l; n < h; ++n) {
                                    gf[2 * (n - n0)] += gr;
                                    gf[2 * (n - n0) + 1] += gi;
                                }
                            }
                            const T* u = reinterpret_cast<const T*>(ser_of(bl, tm.slot_a)) + 2 * n0;
                            const T* v = reinterpret_cast<const T*>(ser_of(bl, tm.slot_b)) + 2 * n0;
                            T* ga = reinterpret_cast<T*>(gser_of(bl, tm.slot_a)) + 2 * n0;
                            T* gb = reinterpret_cast<T*>(gser_of(bl, tm.slot_b)) + 2 * n0;
                            if (tm.kind == 0) {
                                for (int i = 0; i < 2 * len; ++i) ga[i] += gf[i];
                            } else if (tm.kind == 1) {
                                for (int i = 0; i < len; ++i) {
                                    const T a0 = u[2 * i], b1 = u[2 * i + 1];
                                    const T r = std::sqrt(a0 * a0 + b1 * b1);
                                    const T sc = r > T(0) ? gf[2 * i] / r : T(0);
                                    ga[2 * i] += sc * a0;
                                    ga[2 * i + 1] += sc * b1;
                                }
                            } else if (tm.slot_a == tm.slot_b) {  // d<u conj u> = 2 Re(g) u
                                for (int i = 0; i < len; ++i) {
                                    const T sc = T(2) * gf[2 * i];
                                    ga[2 * i] += sc * u[2 * i];
                                    ga[2 * i + 1] += sc * u[2 * i + 1];
                                }
                            } else {  // grad_u += g v, grad_v += conj(g) u
                                for (int i = 0; i < len; ++i) {
                                    const T gr = gf[2 * i], gi = gf[2 * i + 1];
                                    const T a0 = u[2 * i], b1 = u[2 * i + 1], c2 = v[2 * i], d0 = v[2 * i + 1];
                                    ga[2 * i] += gr * c2 - gi * d0;
                                    ga[2 * i + 1] += gr * d0 + gi * c2;
                                    gb[2 * i] += gr * a0 + gi * b1;
                                    gb[2 * i + 1] += gr * b1 - gi * a0;
                                }
                            }
                        }
                    });
                }
                // G3 (backward): convolution adjoints into the source accumulators, one
                // accumulator per item, members in slot order.
                const int nd = static_cast<int>(g.dests.size());
                const long long nD = static_cast<long long>(nbc) * nd;
#pragma omp for schedule(dynamic, 1)
                for (long long it = 0; it < nD; ++it) {
                    if (!ok) continue;
                    guard.run([&] {
                        const std::size_t bl = it / nd;
                        const int d = g.dests[it % nd];
                        for (int m = 0; m < nm; ++m)
                            if (g.members[m].source == d)
                                grad_synth_accum(gser_of(bl, m), g.members[m].filter, acc_of(bl, d), s);
                    });
                }
            }
            if (bwd) {
                // EB: envelope gradients -> layer-1 series gradients -> spectral contributions
                // (stored in the envelope's own accumulator, then summed per channel below).
#pragma omp for schedule(dynamic, 1)
                for (long long it = 0; it < nE; ++it) {
                    if (!ok) continue;
                    guard.run([&] {
                        const std::size_t bl = it / n_env;
                        const int e = static_cast<int>(it % n_env);
                        const int c = envs_[e].first, j1 = envs_[e].second;
                        T* acc = acc_of(bl, Cc + e);
                        T* ge = s.eb.data();
                        grad_analyze(acc, ge, s);
                        synth(spec_of(bl, c), j1, s.yb.data(), s);
                        T* y = reinterpret_cast<T*>(s.yb.data());
                        for (int n = 0; n < N; ++n) {
                            const T a0 = y[2 * n], b1 = y[2 * n + 1];
                            const T r = std::sqrt(a0 * a0 + b1 * b1);
                            const T sc = r > T(0) ? ge[n] / r : T(0);
                            y[2 * n] = sc * a0;
                            y[2 * n + 1] = sc * b1;
                        }
                        std::fill(acc, acc + acc_len_, T(0));
                        grad_synth_accum(s.yb.data(), j1, acc, s);
                    });
                }
                // XB: per channel, add the envelope contributions in j1 order, then the
                // analysis adjoint gives dL/dx.
#pragma omp for schedule(dynamic, 1)
                for (long long it = 0; it < nA; ++it) {
                    if (!ok) continue;
                    guard.run([&] {
                        const std::size_t bl = it / Cc;
                        const int c = static_cast<int>(it % Cc);
                        T* acc = acc_of(bl, c);
                        for (int e = 0; e < n_env; ++e) {
                            if (envs_[e].first != c) continue;
                            const T* a = acc_of(bl, Cc + e);
                            for (std::size_t k = 0; k < acc_len_; ++k) acc[k] += a[k];
                        }
                        grad_analyze(acc, grad_x + ((b0 + bl) * Cc + c) * N, s);
                    });
                }
            }
        }
        guard.rethrow();
    }
}

template class ScatteringMoments<float>;
template class ScatteringMoments<double>;

}  // namespace scatclust
