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

// Pooled-sum kernels over interleaved complex arrays: u, v hold 2 * len values of T.
// Blocks of kSumBlock samples are summed in T lanes (8 values = 4 complex samples per step,
// vectorisable without reassociation), each block's lanes are folded into double in a fixed
// order and the block sums are accumulated in double (blocked summation: the error is that of
// a kSumBlock / 4-term sum in T plus double accumulation, independent of the thread count).
constexpr int kSumBlock = 32;

template <class T>
inline double fold8(const T* p) {
    return ((double(p[0]) + double(p[1])) + (double(p[2]) + double(p[3]))) +
           ((double(p[4]) + double(p[5])) + (double(p[6]) + double(p[7])));
}

// sum u (MEAN)
template <class T>
void sum_mean(const T* u, int len, double& sr, double& si) {
    for (int i0 = 0; i0 < len; i0 += kSumBlock) {
        const int n = std::min(kSumBlock, len - i0);
        const T* a = u + 2 * i0;
        T p[8] = {};
        int i = 0;
        for (; i + 4 <= n; i += 4)
            for (int l = 0; l < 8; ++l) p[l] += a[2 * i + l];
        double re = (double(p[0]) + double(p[2])) + (double(p[4]) + double(p[6]));
        double im = (double(p[1]) + double(p[3])) + (double(p[5]) + double(p[7]));
        for (; i < n; ++i) re += a[2 * i], im += a[2 * i + 1];
        sr += re;
        si += im;
    }
}

// sum |u| (ABS)
template <class T>
void sum_abs(const T* u, int len, double& sr) {
    for (int i0 = 0; i0 < len; i0 += kSumBlock) {
        const int n = std::min(kSumBlock, len - i0);
        const T* a = u + 2 * i0;
        T p[8] = {};
        int i = 0;
        for (; i + 8 <= n; i += 8)
            for (int l = 0; l < 8; ++l) {
                const T x = a[2 * (i + l)], y = a[2 * (i + l) + 1];
                p[l] += std::sqrt(x * x + y * y);
            }
        double re = fold8(p);
        for (; i < n; ++i) {
            const T x = a[2 * i], y = a[2 * i + 1];
            re += std::sqrt(x * x + y * y);
        }
        sr += re;
    }
}

// sum |u|^2 (PROD of a series with itself)
template <class T>
void sum_sq(const T* u, int len, double& sr) {
    for (int i0 = 0; i0 < len; i0 += kSumBlock) {
        const int n = std::min(kSumBlock, len - i0);
        const T* a = u + 2 * i0;
        T p[8] = {};
        int i = 0;
        for (; i + 4 <= n; i += 4)
            for (int l = 0; l < 8; ++l) p[l] += a[2 * i + l] * a[2 * i + l];
        double re = fold8(p);
        for (; i < n; ++i) re += a[2 * i] * a[2 * i] + a[2 * i + 1] * a[2 * i + 1];
        sr += re;
    }
}

// sum u conj(v) (PROD): Re = sum(ar br + ai bi), Im = sum(ai br - ar bi). Lanes p hold the
// products of equal positions, q those of swapped pairs (q even: ar bi, q odd: ai br).
template <class T>
void sum_prod(const T* u, const T* v, int len, double& sr, double& si) {
    for (int i0 = 0; i0 < len; i0 += kSumBlock) {
        const int n = std::min(kSumBlock, len - i0);
        const T* a = u + 2 * i0;
        const T* b = v + 2 * i0;
        T p[8] = {}, q[8] = {};
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            for (int l = 0; l < 8; ++l) p[l] += a[2 * i + l] * b[2 * i + l];
            for (int l = 0; l < 8; ++l) q[l] += a[2 * i + l] * b[2 * i + (l ^ 1)];
        }
        double re = fold8(p);
        double im = ((double(q[1]) - double(q[0])) + (double(q[3]) - double(q[2]))) +
                    ((double(q[5]) - double(q[4])) + (double(q[7]) - double(q[6])));
        for (; i < n; ++i) {
            re += a[2 * i] * b[2 * i] + a[2 * i + 1] * b[2 * i + 1];
            im += a[2 * i + 1] * b[2 * i] - a[2 * i] * b[2 * i + 1];
        }
        sr += re;
        si += im;
    }
}

// Adjoint of one term over len samples, given the spread pooled gradient g = (gr(i), gi(i)):
// kind 0 MEAN: ga += g; 1 ABS: ga += Re(g) u / |u| (0 where u == 0); 3 PROD of a series with
// itself: ga += 2 Re(g) u; 2 PROD: ga += g v, gb += conj(g) u.
template <class T, class GR, class GI>
inline void term_adjoint(int kind, const T* u, const T* v, T* ga, T* gb, int len, GR gr, GI gi) {
    if (kind == 0) {
        for (int i = 0; i < len; ++i) {
            ga[2 * i] += gr(i);
            ga[2 * i + 1] += gi(i);
        }
    } else if (kind == 1) {
        for (int i = 0; i < len; ++i) {
            const T a = u[2 * i], b = u[2 * i + 1];
            const T r = std::sqrt(a * a + b * b);
            const T sc = gr(i) / (r > T(0) ? r : T(1));  // u == 0 -> adds 0 (|z|' := 0)
            ga[2 * i] += sc * a;
            ga[2 * i + 1] += sc * b;
        }
    } else if (kind == 3) {
        for (int i = 0; i < len; ++i) {
            const T sc = T(2) * gr(i);
            ga[2 * i] += sc * u[2 * i];
            ga[2 * i + 1] += sc * u[2 * i + 1];
        }
    } else {
        for (int i = 0; i < len; ++i) {
            const T r = gr(i), m = gi(i);
            const T a = u[2 * i], b = u[2 * i + 1], c = v[2 * i], d = v[2 * i + 1];
            ga[2 * i] += r * c - m * d;
            ga[2 * i + 1] += r * d + m * c;
            gb[2 * i] += r * a + m * b;
            gb[2 * i + 1] += r * b - m * a;
        }
    }
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
    runs_q_.resize(nf);
    band_.assign(nf, {0, 0});
    has_m_.assign(nf, 0);
    coef_off_.assign(nf + 1, 0);
    std::vector<std::complex<double>> twd;
    if (fast_) {
        tw_.resize(N);
        twd.resize(N);
        const double pi = std::acos(-1.0);
        for (int k = 0; k < N; ++k) {
            const double a = pi * k / (2.0 * N);
            twd[k] = std::complex<double>(std::cos(a), std::sin(a));
            tw_[k] = C(static_cast<T>(twd[k].real()), static_cast<T>(twd[k].imag()));
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
        for (double& v : hv) v /= P;
        if (fast_) {
            // pairs with C[k] (bin k) and with C[N-k] (bin k + N, k >= 1; C[N] = 0)
            int lo = N, hi = 0;
            for (int k = 0; k < N; ++k) {
                const bool nz_p = static_cast<T>(hv[k]) != T(0);
                const bool nz_m = k >= 1 && static_cast<T>(hv[k + N]) != T(0);
                if (nz_m) has_m_[f] = 1;
                if (nz_p || nz_m) lo = std::min(lo, k), hi = std::max(hi, k + 1);
            }
            if (lo >= hi) lo = hi = 0;
            band_[f] = {lo, hi};
            coef_off_[f + 1] = coef_off_[f] + (hi - lo);
            for (int k = lo; k < hi; ++k) {
                const std::complex<double> p = twd[k] * static_cast<double>(static_cast<T>(hv[k]));
                const std::complex<double> m =
                    k >= 1 ? std::complex<double>(0, -1) * twd[k] * static_cast<double>(static_cast<T>(hv[k + N]))
                           : 0.0;
                ap_.emplace_back(static_cast<T>(p.real()), static_cast<T>(p.imag()));
                am_.emplace_back(static_cast<T>(m.real()), static_cast<T>(m.imag()));
            }
        } else {
            for (int k = 0; k < P; ++k) hq_[static_cast<std::size_t>(f) * P + k] = static_cast<T>(hv[k]);
            runs_q_[f] = nonzero_runs(hv, 0, P);
        }
    }
    if (!fast_) tw_.clear();

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
        m.env_out = -1;
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
    // An envelope is produced by the group holding its layer-1 series when that group comes
    // before every group that consumes the envelope (the usual case: groups by j2
    // ascending); otherwise it is computed up front (phase E).
    std::vector<int> group_of_node(n_nodes, -1);
    for (int gi = 0; gi < static_cast<int>(groups_.size()); ++gi)
        for (const Member& m : groups_[gi].members) group_of_node[m.node] = gi;
    for (int e = 0; e < static_cast<int>(envs_.size()); ++e) {
        const int c = envs_[e].first, j1 = envs_[e].second;
        int first_consumer = static_cast<int>(groups_.size());
        for (int i = J + 1; i < n_series_; ++i)
            if (j1_[i] == j1 && group_of_node[c * n_series_ + i] >= 0)
                first_consumer = std::min(first_consumer, group_of_node[c * n_series_ + i]);
        const int producer = group_of_node[c * n_series_ + j1];
        if (producer >= 0 && producer < first_consumer) {
            for (Member& m : groups_[producer].members)
                if (m.node == c * n_series_ + j1) m.env_out = e;
        } else {
            envs_pre_.push_back(e);
        }
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
        // W[k] = e^{i pi k / 2N} (C[k] h[k] - i C[N-k] h[k+N]) / P = C[k] ap[k] + C[N-k] am[k];
        // W = ifft_N(W); y[2r] = W[r], y[N-1-2r] = conj(W[r + N/2]).
        const int lo = band_[f].first, hi = band_[f].second;
        const T* ap = reinterpret_cast<const T*>(ap_.data() + coef_off_[f]) - 2 * lo;
        const T* am = reinterpret_cast<const T*>(am_.data() + coef_off_[f]) - 2 * lo;
        std::fill(w, w + 2 * lo, T(0));
        std::fill(w + 2 * hi, w + 2 * static_cast<std::size_t>(N), T(0));
        for (int k = lo; k < hi; ++k) {
            w[2 * k] = spec[k] * ap[2 * k];
            w[2 * k + 1] = spec[k] * ap[2 * k + 1];
        }
        if (has_m_[f])
            for (int k = std::max(lo, 1); k < hi; ++k) {
                w[2 * k] += spec[N - k] * am[2 * k];
                w[2 * k + 1] += spec[N - k] * am[2 * k + 1];
            }
        s.inv->c2c(s.cb.data(), s.cb.data());
        const int h = N / 2;
        const T sg = real_[f] ? T(0) : T(1);
        for (int r = 0; r < h; ++r) {
            yo[4 * r] = w[2 * r];
            yo[4 * r + 1] = sg * w[2 * r + 1];
        }
        for (int r = 0; r < h; ++r) {
            const int n = N - 1 - 2 * r;
            yo[2 * n] = w[2 * (r + h)];
            yo[2 * n + 1] = -sg * w[2 * (r + h) + 1];
        }
        return;
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
        // acc[k] += Re(conj(ap[k]) W[k]); acc[N-k] += Re(conj(am[k]) W[k]).
        const int lo = band_[f].first, hi = band_[f].second;
        const T* ap = reinterpret_cast<const T*>(ap_.data() + coef_off_[f]) - 2 * lo;
        const T* am = reinterpret_cast<const T*>(am_.data() + coef_off_[f]) - 2 * lo;
        for (int k = lo; k < hi; ++k) acc[k] += ap[2 * k] * w[2 * k] + ap[2 * k + 1] * w[2 * k + 1];
        if (has_m_[f])
            for (int k = std::max(lo, 1); k < hi; ++k) acc[N - k] += am[2 * k] * w[2 * k] + am[2 * k + 1] * w[2 * k + 1];
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
            auto make_envelope = [&](const C* ys, std::size_t bl, int e) {
                const T* y = reinterpret_cast<const T*>(ys);
                T* env = s.eb.data();
                for (int n = 0; n < N; ++n) env[n] = std::sqrt(y[2 * n] * y[2 * n] + y[2 * n + 1] * y[2 * n + 1]);
                analyze(env, spec_of(bl, Cc + e), s);
                if (bwd) std::fill(acc_of(bl, Cc + e), acc_of(bl, Cc + e) + acc_len_, T(0));
            };
            const int n_pre = static_cast<int>(envs_pre_.size());
            const long long nEp = static_cast<long long>(nbc) * n_pre;
#pragma omp for schedule(dynamic, 1)
            for (long long it = 0; it < nEp; ++it) {
                if (!ok) continue;
                guard.run([&] {
                    const std::size_t bl = it / n_pre;
                    const int e = envs_pre_[it % n_pre];
                    synth(spec_of(bl, envs_[e].first), envs_[e].second, s.yb.data(), s);
                    make_envelope(s.yb.data(), bl, e);
                });
            }
            const long long nE = static_cast<long long>(nbc) * n_env;
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
                        if (mb.env_out >= 0) make_envelope(ser_of(bl, m), bl, mb.env_out);
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
                                        if (tm.kind == 0)
                                            sum_mean(uu, len, sr, si);
                                        else if (tm.kind == 1)
                                            sum_abs(uu, len, sr);
                                        else if (tm.slot_a == tm.slot_b)
                                            sum_sq(uu, len, sr);
                                        else
                                            sum_prod(uu, vv, len, sr, si);
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
                        const bool disjoint = pool.S >= pool.K;  // every sample in <= 1 window
                        for (int q = 0; q < ngt; ++q) {
                            const int tg = g.terms[q];
                            const Term& tm = terms_[tg];
                            const C* go = grad_out + ((b0 + bl) * n_terms + tg) * static_cast<std::size_t>(n_o);
                            const T* u = reinterpret_cast<const T*>(ser_of(bl, tm.slot_a));
                            const T* v = reinterpret_cast<const T*>(ser_of(bl, tm.slot_b));
                            T* ga = reinterpret_cast<T*>(gser_of(bl, tm.slot_a));
                            T* gb = reinterpret_cast<T*>(gser_of(bl, tm.slot_b));
                            const int kind = tm.kind == 2 && tm.slot_a == tm.slot_b ? 3 : tm.kind;
                            if (disjoint) {  // the spread gradient is constant on each window
                                for (long long t = ta; t <= tb; ++t) {
                                    const long long a = pool.o + t * pool.S;
                                    const long long l = std::max(a, n0), h = std::min(a + pool.K, n1);
                                    if (l >= h) continue;
                                    const T gr = go[t].real() * inv_k, gi = go[t].imag() * inv_k;
                                    term_adjoint(kind, u + 2 * l, v + 2 * l, ga + 2 * l, gb + 2 * l,
                                                 static_cast<int>(h - l), [gr](int) { return gr; },
                                                 [gi](int) { return gi; });
                                }
                                continue;
                            }
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
                            term_adjoint(kind, u + 2 * n0, v + 2 * n0, ga + 2 * n0, gb + 2 * n0, len,
                                         [gf](int i) { return gf[2 * i]; }, [gf](int i) { return gf[2 * i + 1]; });
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
                            const T sc = ge[n] / (r > T(0) ? r : T(1));  // u == 0 -> 0
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
