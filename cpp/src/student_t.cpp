#include "scatclust/student_t.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "scatclust/errors.hpp"
#include "scatclust/parallel.hpp"

namespace scatclust {

namespace {

// Rows per tile: a tile's z rows (256 x d) and its dmu accumulator stay in cache.
constexpr std::size_t kTile = 256;
// Reduction blocks: at most this many, each of >= kTile rows; their number depends on n only.
constexpr std::size_t kMaxBlocks = 256;

struct Blocks {
    std::size_t n, count;
    explicit Blocks(std::size_t n_)
        : n(n_), count(std::max<std::size_t>(1, std::min(kMaxBlocks, (n_ + kTile - 1) / kTile))) {}
    std::size_t begin(std::size_t b) const { return n / count * b + std::min(b, n % count); }
    std::size_t end(std::size_t b) const { return begin(b + 1); }
};

template <class T>
void check_common(std::size_t d, std::size_t k, double alpha) {
    require(std::isfinite(alpha) && alpha > 0, "alpha=", alpha, " must be a finite number > 0");
    // alpha + ||z - mu||^2 is formed in T: an alpha that underflows T gives 0 / 0 at a centre.
    require(static_cast<T>(alpha) >= std::numeric_limits<T>::min(), "alpha=", alpha, " underflows ",
            sizeof(T) == 4 ? "float32" : "float64", "; must be >= ", std::numeric_limits<T>::min(),
            " (pass float64 data for a smaller alpha)");
    require(d >= 1, "z and mu have d=", d, " features; at least 1 is needed");
    require(k >= 1, "mu has k=", k, " cluster centres; at least 1 is needed");
}

template <class T>
void require_probabilities(const T* x, std::size_t n, const char* name) {
    require_finite(x, n, name);
    for (std::size_t i = 0; i < n; ++i) {
        if (x[i] < T(0)) fail(name, " contains a negative value (", x[i], ") at flat index ", i, "; must be >= 0");
        // Larger values are no probabilities, and their squares (target) overflow T.
        if (x[i] > T(1)) fail(name, " contains a value > 1 (", x[i], ") at flat index ", i, "; must be in [0, 1]");
    }
}

// muT (d, k): centres transposed so that the distance loop runs over centres innermost, which
// vectorises without reassociating any sum (no -ffast-math needed).
template <class T>
std::vector<T> transpose(const T* mu, std::size_t k, std::size_t d) {
    std::vector<T> t(d * k);
    for (std::size_t c = 0; c < k; ++c)
        for (std::size_t j = 0; j < d; ++j) t[j * k + c] = mu[c * d + j];
    return t;
}

// out[c] = ||x - mu_c||^2 by direct differences.
template <class T>
inline void row_distances(const T* __restrict x, const T* __restrict muT, std::size_t d, std::size_t k,
                          T* __restrict out) {
    for (std::size_t c = 0; c < k; ++c) out[c] = T(0);
    for (std::size_t j = 0; j < d; ++j) {
        const T xj = x[j];
        const T* __restrict m = muT + j * k;
        for (std::size_t c = 0; c < k; ++c) {
            const T t = xj - m[c];
            out[c] += t * t;
        }
    }
}

// Fallback for rows whose nearest squared distance overflows T: long double has the range for
// any finite float/double input (|z - mu|^2 * d < 1e620).
template <class T>
void row_soft_assign_wide(const T* x, const T* mu, std::size_t d, std::size_t k, double alpha, T* q) {
    using L = long double;
    const L e = (static_cast<L>(alpha) + 1) / 2;
    std::vector<L> s(k);
    L smax = -std::numeric_limits<L>::infinity();
    for (std::size_t c = 0; c < k; ++c) {
        L acc = 0;
        for (std::size_t j = 0; j < d; ++j) {
            const L t = static_cast<L>(x[j]) - static_cast<L>(mu[c * d + j]);
            acc += t * t;
        }
        s[c] = -e * std::log(static_cast<L>(alpha) + acc);
        smax = std::max(smax, s[c]);
    }
    L sum = 0;
    for (std::size_t c = 0; c < k; ++c) {
        s[c] = std::exp(s[c] - smax);
        sum += s[c];
    }
    for (std::size_t c = 0; c < k; ++c) q[c] = static_cast<T>(s[c] / sum);
}

// Shared per-call constants of the forward pass.
template <class T>
struct Params {
    T alpha, expo;
    double alpha_d;
    bool expo_is_one;
    explicit Params(double a)
        : alpha(static_cast<T>(a)), expo(static_cast<T>((a + 1) / 2)), alpha_d(a), expo_is_one(a == 1.0) {}
};

// q[c] from the row's distances (log-sum-exp form, see the header).
template <class T>
inline void row_soft_assign(const T* x, const T* mu, const T* __restrict dist, std::size_t d, std::size_t k,
                            const Params<T>& prm, T* __restrict q) {
    T dmin = dist[0];
    for (std::size_t c = 1; c < k; ++c) dmin = std::min(dmin, dist[c]);
    const T amin = prm.alpha + dmin;
    if (!std::isfinite(amin)) {
        row_soft_assign_wide(x, mu, d, k, prm.alpha_d, q);
        return;
    }
    T sum = 0;
    if (prm.expo_is_one) {
        for (std::size_t c = 0; c < k; ++c) {
            const T w = amin / (prm.alpha + dist[c]);
            q[c] = w;
            sum += w;
        }
    } else {
        for (std::size_t c = 0; c < k; ++c) {
            const T w = std::exp(prm.expo * std::log(amin / (prm.alpha + dist[c])));
            q[c] = w;
            sum += w;
        }
    }
    const T inv = T(1) / sum;
    for (std::size_t c = 0; c < k; ++c) q[c] *= inv;
}

// Back-propagates gs = dL/ds of one row: dz row (overwritten) and the tile's dmu accumulator
// acc (k, d) (+= c (z - mu), negated once at the end).
template <class T>
inline void row_backprop(const T* __restrict x, const T* __restrict mu, const T* __restrict dist,
                         const T* __restrict gs, std::size_t d, std::size_t k, T alpha, T* __restrict coef,
                         T* __restrict dz, T* __restrict acc) {
    for (std::size_t c = 0; c < k; ++c) coef[c] = -(alpha + T(1)) / (alpha + dist[c]) * gs[c];
    for (std::size_t j = 0; j < d; ++j) dz[j] = T(0);
    for (std::size_t c = 0; c < k; ++c) {
        const T cc = coef[c];
        if (cc == T(0)) continue;  // also skips 0 * inf where a difference overflowed
        const T* __restrict m = mu + c * d;
        T* __restrict a = acc + c * d;
        for (std::size_t j = 0; j < d; ++j) {
            const T t = cc * (x[j] - m[j]);
            dz[j] += t;
            a[j] += t;
        }
    }
}

// Shared driver of the two VJPs. RowGrad(i, dist, q_scratch, gs) fills gs = dL/ds of row i and
// returns that row's loss contribution (double). dmu = -(sum over blocks in order).
template <class T, class RowGrad>
double backprop_driver(const T* z, const T* mu, std::size_t n, std::size_t d, std::size_t k, double alpha,
                       T* dz, T* dmu, int n_threads, RowGrad&& row_grad) {
    const std::vector<T> muT = transpose(mu, k, d);
    const Blocks blocks(n);
    std::vector<double> part(blocks.count * k * d, 0.0);
    std::vector<double> loss_part(blocks.count, 0.0);
    const T a = static_cast<T>(alpha);
    ParallelGuard guard;
#pragma omp parallel num_threads(resolve_num_threads(n_threads))
    {
        guard.run([&] {
            std::vector<T> dist(k), qrow(k), gs(k), coef(k), acc(k * d);
#pragma omp for schedule(static)
            for (long long b = 0; b < static_cast<long long>(blocks.count); ++b) {
                double* bp = part.data() + static_cast<std::size_t>(b) * k * d;
                double loss = 0.0;
                const std::size_t r1 = blocks.end(static_cast<std::size_t>(b));
                for (std::size_t t0 = blocks.begin(static_cast<std::size_t>(b)); t0 < r1; t0 += kTile) {
                    const std::size_t t1 = std::min(r1, t0 + kTile);
                    std::fill(acc.begin(), acc.end(), T(0));
                    for (std::size_t i = t0; i < t1; ++i) {
                        const T* x = z + i * d;
                        row_distances(x, muT.data(), d, k, dist.data());
                        loss += row_grad(i, dist.data(), qrow.data(), gs.data());
                        row_backprop(x, mu, dist.data(), gs.data(), d, k, a, coef.data(), dz + i * d, acc.data());
                    }
                    for (std::size_t j = 0; j < k * d; ++j) bp[j] += static_cast<double>(acc[j]);
                }
                loss_part[static_cast<std::size_t>(b)] = loss;
            }
        });
    }
    guard.rethrow();
    double loss = 0.0;
    std::vector<double> total(k * d, 0.0);
    for (std::size_t b = 0; b < blocks.count; ++b) {
        loss += loss_part[b];
        const double* bp = part.data() + b * k * d;
        for (std::size_t j = 0; j < k * d; ++j) total[j] += bp[j];
    }
    for (std::size_t j = 0; j < k * d; ++j) dmu[j] = static_cast<T>(-total[j]);
    return loss;
}

}  // namespace

template <class T>
void student_t_soft_assign(const T* z, const T* mu, std::size_t n, std::size_t d, std::size_t k, double alpha,
                           T* q, int n_threads) {
    check_common<T>(d, k, alpha);
    require_finite(mu, k * d, "mu");
    if (n == 0) return;
    require_finite(z, n * d, "z");
    const std::vector<T> muT = transpose(mu, k, d);
    const Params<T> prm(alpha);
    const long long n_tiles = static_cast<long long>((n + kTile - 1) / kTile);
    ParallelGuard guard;
#pragma omp parallel num_threads(resolve_num_threads(n_threads))
    {
        guard.run([&] {
            std::vector<T> dist(k);
#pragma omp for schedule(static)
            for (long long t = 0; t < n_tiles; ++t) {
                const std::size_t i1 = std::min(n, static_cast<std::size_t>(t + 1) * kTile);
                for (std::size_t i = static_cast<std::size_t>(t) * kTile; i < i1; ++i) {
                    row_distances(z + i * d, muT.data(), d, k, dist.data());
                    row_soft_assign(z + i * d, mu, dist.data(), d, k, prm, q + i * k);
                }
            }
        });
    }
    guard.rethrow();
}

template <class T>
void student_t_target(const T* q, std::size_t n, std::size_t k, T* p, T* f, int n_threads) {
    require(k >= 1, "q has k=", k, " columns (clusters); at least 1 is needed");
    if (n == 0) {
        if (f) std::fill(f, f + k, T(0));
        return;
    }
    require_probabilities(q, n * k, "q");
    const Blocks blocks(n);
    std::vector<double> part(blocks.count * k, 0.0), fk(k, 0.0);
    const int nt = resolve_num_threads(n_threads);
    ParallelGuard guard;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long b = 0; b < static_cast<long long>(blocks.count); ++b) {
        guard.run([&] {
            double* bp = part.data() + static_cast<std::size_t>(b) * k;
            for (std::size_t i = blocks.begin(b); i < blocks.end(b); ++i)
                for (std::size_t c = 0; c < k; ++c) bp[c] += static_cast<double>(q[i * k + c]);
        });
    }
    guard.rethrow();
    for (std::size_t b = 0; b < blocks.count; ++b)
        for (std::size_t c = 0; c < k; ++c) fk[c] += part[b * k + c];
    std::vector<double> inv_f(k);
    for (std::size_t c = 0; c < k; ++c) inv_f[c] = fk[c] > 0 ? 1.0 / fk[c] : 0.0;
    if (f)
        for (std::size_t c = 0; c < k; ++c) f[c] = static_cast<T>(fk[c]);
#pragma omp parallel num_threads(nt)
    {
        guard.run([&] {
            std::vector<double> w(k);
#pragma omp for schedule(static)
            for (long long ii = 0; ii < static_cast<long long>(n); ++ii) {
                const std::size_t i = static_cast<std::size_t>(ii);
                double sum = 0.0;
                for (std::size_t c = 0; c < k; ++c) {
                    const double qv = static_cast<double>(q[i * k + c]);
                    w[c] = qv * qv * inv_f[c];
                    sum += w[c];
                }
                const double inv = sum > 0 ? 1.0 / sum : 0.0;
                for (std::size_t c = 0; c < k; ++c) p[i * k + c] = static_cast<T>(w[c] * inv);
            }
        });
    }
    guard.rethrow();
}

template <class T>
double student_t_kl(const T* p, const T* q, std::size_t n, std::size_t k, int n_threads) {
    require(k >= 1, "p and q have k=", k, " columns (clusters); at least 1 is needed");
    if (n == 0) return 0.0;
    require_probabilities(p, n * k, "p");
    require_probabilities(q, n * k, "q");
    const Blocks blocks(n);
    std::vector<double> part(blocks.count, 0.0);
    ParallelGuard guard;
#pragma omp parallel for schedule(static) num_threads(resolve_num_threads(n_threads))
    for (long long b = 0; b < static_cast<long long>(blocks.count); ++b) {
        guard.run([&] {
            double s = 0.0;
            for (std::size_t i = blocks.begin(b) * k; i < blocks.end(b) * k; ++i) {
                const double pv = static_cast<double>(p[i]);
                if (pv > 0) s += pv * (std::log(pv) - std::log(static_cast<double>(q[i])));
            }
            part[static_cast<std::size_t>(b)] = s;
        });
    }
    guard.rethrow();
    double total = 0.0;
    for (double v : part) total += v;
    return total;
}

template <class T>
void student_t_vjp_q(const T* z, const T* mu, std::size_t n, std::size_t d, std::size_t k, double alpha,
                     const T* q, const T* G, T* dz, T* dmu, int n_threads) {
    check_common<T>(d, k, alpha);
    require_finite(mu, k * d, "mu");
    if (n == 0) {
        std::fill(dmu, dmu + k * d, T(0));
        return;
    }
    require_finite(z, n * d, "z");
    require_probabilities(q, n * k, "q");
    require_finite(G, n * k, "G");
    backprop_driver(z, mu, n, d, k, alpha, dz, dmu, n_threads,
                    [&](std::size_t i, const T*, T*, T* gs) {
                        const T* qi = q + i * k;
                        const T* gi = G + i * k;
                        T dot = 0;
                        for (std::size_t c = 0; c < k; ++c) dot += gi[c] * qi[c];
                        for (std::size_t c = 0; c < k; ++c) gs[c] = qi[c] * (gi[c] - dot);
                        return 0.0;
                    });
}

template <class T>
double student_t_kl_grad(const T* z, const T* mu, std::size_t n, std::size_t d, std::size_t k, double alpha,
                         const T* p, T* dz, T* dmu, int n_threads) {
    check_common<T>(d, k, alpha);
    require_finite(mu, k * d, "mu");
    if (n == 0) {
        std::fill(dmu, dmu + k * d, T(0));
        return 0.0;
    }
    require_finite(z, n * d, "z");
    require_probabilities(p, n * k, "p");
    const Params<T> prm(alpha);
    return backprop_driver(z, mu, n, d, k, alpha, dz, dmu, n_threads,
                           [&](std::size_t i, const T* dist, T* qrow, T* gs) {
                               row_soft_assign(z + i * d, mu, dist, d, k, prm, qrow);
                               const T* pi = p + i * k;
                               T psum = 0;
                               double loss = 0.0;
                               for (std::size_t c = 0; c < k; ++c) {
                                   psum += pi[c];
                                   const double pv = static_cast<double>(pi[c]);
                                   if (pv > 0) loss += pv * (std::log(pv) - std::log(static_cast<double>(qrow[c])));
                               }
                               for (std::size_t c = 0; c < k; ++c) gs[c] = qrow[c] * psum - pi[c];
                               return loss;
                           });
}

#define SCATCLUST_STUDENT_T_INSTANTIATE(T)                                                                      \
    template void student_t_soft_assign<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, double, \
                                           T*, int);                                                          \
    template void student_t_target<T>(const T*, std::size_t, std::size_t, T*, T*, int);                       \
    template double student_t_kl<T>(const T*, const T*, std::size_t, std::size_t, int);                       \
    template void student_t_vjp_q<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, double,       \
                                     const T*, const T*, T*, T*, int);                                        \
    template double student_t_kl_grad<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, double,   \
                                         const T*, T*, T*, int);

SCATCLUST_STUDENT_T_INSTANTIATE(float)
SCATCLUST_STUDENT_T_INSTANTIATE(double)

}  // namespace scatclust
