// k-means kernels (see kmeans.hpp). Written from the algorithms; scikit-learn's
// _k_means_common/_k_means_lloyd were read for the conventions (tolerance, relocation).
//
// Why a hand-blocked kernel and no BLAS: the x.c product per chunk is (256 x d) * (d x k)
// with small k (8..64), and the argmin must follow while the rows are in cache. Measured on
// one core of a Xeon with AVX-512 (float32, bench/bench_kmeans.py data), OpenBLAS sgemm
// (numpy's bundled build) X @ C.T alone vs this kernel's full assignment (labels + distances):
//   (1e5, 64, 16):  2.8 ms vs  2.8 ms      (sgemm + argmin in numpy:  8.3 ms)
//   (2e5, 256, 32): 47.0 ms vs 47.3 ms     (sgemm + argmin in numpy: 63.9 ms)
//   (1e6, 32, 10):  31.1 ms vs 24.2 ms     (sgemm + argmin in numpy: 74.8 ms)
// So a BLAS would not be faster even before its argmin pass, and leaving it out keeps the
// build free of a dependency whose own thread pool would compete with OpenMP's.

#include "scatclust/kmeans.hpp"

// Vec<T> values never cross a non-inlined call boundary, so the AVX-vs-SSE argument-passing
// note GCC emits for the baseline build does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "scatclust/cpu.hpp"
#include "scatclust/errors.hpp"
#include "scatclust/parallel.hpp"

namespace scatclust {
namespace {

constexpr std::size_t kChunkRows = 256;   // rows per assignment chunk (fits L1/L2 with the centres)
constexpr std::size_t kBlockRows = 2048;  // rows per partial sum; fixed, so sums do not depend on threads
constexpr std::size_t kWaveBlocks = 32;   // blocks whose partials are held at once (bounds memory)

// Vector widths (bytes) of the assignment kernels: 32 (two SSE or one AVX register) and 64
// (one AVX-512 register); centre blocks are padded to the widest, 64 bytes.
constexpr std::size_t kMaxVecBytes = 64;

template <class T, std::size_t B>
constexpr std::size_t tile_nr() {
    return B / sizeof(T);
}

inline std::size_t round_up(std::size_t a, std::size_t b) { return (a + b - 1) / b * b; }

// Centres prepared for the assignment kernel: transposed and zero-padded to a multiple of
// the widest tile, with squared norms (padded centres get +inf so they never win).
template <class T>
struct PreparedCentres {
    std::size_t k, kp, d;
    std::vector<T> ct;  // (d, kp)
    std::vector<T> cn;  // (kp)
    PreparedCentres(const T* C, std::size_t k_, std::size_t d_)
        : k(k_),
          kp(round_up(k_, tile_nr<T, kMaxVecBytes>())),
          d(d_),
          ct(d_ * kp, T(0)),
          cn(kp, std::numeric_limits<T>::infinity()) {
        for (std::size_t j = 0; j < k; ++j) {
            T s = 0;
            for (std::size_t t = 0; t < d; ++t) {
                const T v = C[j * d + t];
                ct[t * kp + j] = v;
                s += v * v;
            }
            cn[j] = s;
        }
    }
};

// GCC/Clang vector extensions, so the tile below stays in registers whatever the target.
template <class T, std::size_t B>
struct VecOf {
    typedef T type __attribute__((vector_size(B)));
};
template <class T, std::size_t B>
using Vec = typename VecOf<T, B>::type;

template <class T, std::size_t B>
inline __attribute__((always_inline)) Vec<T, B> load_vec(const T* p) {
    Vec<T, B> v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define SCATCLUST_HAVE_SHUFFLEVECTOR 1
#endif
#endif

#ifdef SCATCLUST_HAVE_SHUFFLEVECTOR
// Lanes Off, Off+1, ... of a vector as a vector of half the width (register shuffles).
template <std::size_t Off, class V, std::size_t... Is>
inline __attribute__((always_inline)) auto lanes(const V& v, std::index_sequence<Is...>) {
    return __builtin_shufflevector(v, v, (Off + Is)...);
}
#else
// Older compilers (GCC < 12): the halves through memory.
template <std::size_t Off, class V, std::size_t... Is>
inline __attribute__((always_inline)) auto lanes(const V& v, std::index_sequence<Is...>) {
    using E = std::remove_reference_t<decltype(v[0])>;
    typedef E H __attribute__((vector_size(sizeof(E) * sizeof...(Is))));
    H h;
    std::memcpy(&h, reinterpret_cast<const char*>(&v) + Off * sizeof(E), sizeof(h));
    return h;
}
#endif

// Sum of the lanes by halving (a fixed order: deterministic, and no serial chain of adds).
template <class T, std::size_t B>
inline __attribute__((always_inline)) T lane_sum(const Vec<T, B>& v) {
    if constexpr (B == sizeof(T)) {
        return v[0];
    } else {
        constexpr std::size_t H = B / 2;
        constexpr auto half = std::make_index_sequence<H / sizeof(T)>();
        const Vec<T, H> lo = lanes<0>(v, half), hi = lanes<H / sizeof(T)>(v, half);
        return lane_sum<T, H>(lo + hi);
    }
}

// Minimum of the lanes by halving.
template <class T, std::size_t B>
inline __attribute__((always_inline)) T lane_min(const Vec<T, B>& v) {
    if constexpr (B == sizeof(T)) {
        return v[0];
    } else {
        constexpr std::size_t H = B / 2;
        constexpr auto half = std::make_index_sequence<H / sizeof(T)>();
        const Vec<T, H> lo = lanes<0>(v, half), hi = lanes<H / sizeof(T)>(v, half);
        return lane_min<T, H>(hi < lo ? hi : lo);
    }
}

// Squared norm of a row: lanes of fixed width summed in a fixed order (vectorised, deterministic).
template <class T, std::size_t B>
inline __attribute__((always_inline)) T row_sqnorm(const T* __restrict x, std::size_t d) {
    constexpr std::size_t NR = tile_nr<T, B>();
    Vec<T, B> acc = {};
    std::size_t t = 0;
    for (; t + NR <= d; t += NR) {
        const Vec<T, B> v = load_vec<T, B>(x + t);
        acc += v * v;
    }
    T s = lane_sum<T, B>(acc);
    for (; t < d; ++t) s += x[t] * x[t];
    return s;
}

// Integer lanes of the same width as T (comparison results and centre indices).
template <class T>
using LaneInt = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;

// Nearest centre for MR rows starting at x (row stride d). The x.c block is formed in a
// register tile acc[MR] (MR rows x NR centres), accumulated over features in order, so no
// reassociation is needed for the compiler to use vector instructions. Each lane keeps its
// best value and centre over the centre blocks; the lanes are reduced once per row.
template <class T, std::size_t B, std::size_t MR>
inline __attribute__((always_inline)) void assign_tile(const T* __restrict x, std::size_t d,
                                                       const PreparedCentres<T>& pc, std::int32_t* lab,
                                                       T* best_out) {
    using I = LaneInt<T>;
    constexpr std::size_t NR = tile_nr<T, B>();
    const std::size_t kend = round_up(pc.k, NR), kp = pc.kp;
    const T* __restrict ct = pc.ct.data();
    Vec<T, B> bestv[MR] = {};
    Vec<I, B> besti[MR] = {};
    Vec<I, B> lane;
    for (std::size_t j = 0; j < NR; ++j) lane[j] = static_cast<I>(j);
    for (std::size_t jb = 0; jb < kend; jb += NR) {
        Vec<T, B> acc[MR];
        for (std::size_t r = 0; r < MR; ++r) acc[r] = Vec<T, B>{};
        const T* __restrict cb = ct + jb;
        for (std::size_t t = 0; t < d; ++t) {
            const Vec<T, B> c = load_vec<T, B>(cb + t * kp);
            for (std::size_t r = 0; r < MR; ++r) acc[r] += x[r * d + t] * c;
        }
        // Distance by the expansion ||x||^2 - 2 x.c + ||c||^2; ||x||^2 is the same for all
        // centres of a row, so the argmin compares ||c||^2 - 2 x.c only.
        const Vec<T, B> cnv = load_vec<T, B>(pc.cn.data() + jb);
        const Vec<I, B> idx = lane + static_cast<I>(jb);
        for (std::size_t r = 0; r < MR; ++r) {
            const Vec<T, B> v = cnv - T(2) * acc[r];
            if (jb == 0) {
                bestv[r] = v;
                besti[r] = idx;
            } else {
                const auto better = v < bestv[r];  // strict: ties keep the lower centre index
                bestv[r] = better ? v : bestv[r];
                besti[r] = better ? idx : besti[r];
            }
        }
    }
    // Lanes reduced by halving: the lowest value, then the lowest centre index among the lanes
    // that hold it (ties go to the lower centre index, as a scan in centre order would give).
    const Vec<I, B> none = Vec<I, B>{} + std::numeric_limits<I>::max();
    for (std::size_t r = 0; r < MR; ++r) {
        const T b = lane_min<T, B>(bestv[r]);
        const Vec<I, B> cand = (bestv[r] == (Vec<T, B>{} + b)) ? besti[r] : none;
        best_out[r] = b;
        lab[r] = static_cast<std::int32_t>(lane_min<I, B>(cand));
    }
}

// A row whose squared distances are not finite (NaN or infinity in x, or values so large that
// the squares overflow T) has no nearest centre: the tile may leave its label outside [0, k),
// so it is refused before any label is used as an index.
template <class T>
[[noreturn]] __attribute__((noinline, cold)) void fail_nonfinite_row(T sqdist) {
    fail("X has a row whose squared distance to the nearest centre is ", sqdist, " (",
         sizeof(T) == 4 ? "float32" : "float64",
         "): X and centers must be finite and small enough that squared norms do not overflow; "
         "remove NaN/inf rows or rescale X", sizeof(T) == 4 ? " (or pass float64)" : "");
}

template <class T>
inline __attribute__((always_inline)) void check_row(T raw, std::int32_t label, std::size_t k) {
    // One branch per row, negligible next to the k x d tile; (raw - raw) is NaN for NaN/inf.
    if (!(raw - raw == T(0)) || label < 0 || static_cast<std::size_t>(label) >= k) fail_nonfinite_row(raw);
}

// Assignment of rows [0, m) of x: labels and (if dist) squared distances, clamped at 0.
template <class T, std::size_t B, std::size_t MR>
inline __attribute__((always_inline)) void assign_rows_impl(const T* x, std::size_t m, std::size_t d,
                                                            const PreparedCentres<T>& pc, std::int32_t* lab,
                                                            T* dist) {
    T best[MR];
    std::size_t i = 0;
    for (; i + MR <= m; i += MR) {
        assign_tile<T, B, MR>(x + i * d, d, pc, lab + i, best);
        for (std::size_t r = 0; r < MR; ++r) {
            const T raw = row_sqnorm<T, B>(x + (i + r) * d, d) + best[r];
            check_row(raw, lab[i + r], pc.k);
            if (dist) dist[i + r] = std::max(T(0), raw);
        }
    }
    for (; i < m; ++i) {
        assign_tile<T, B, 1>(x + i * d, d, pc, lab + i, best);
        const T raw = row_sqnorm<T, B>(x + i * d, d) + best[0];
        check_row(raw, lab[i], pc.k);
        if (dist) dist[i] = std::max(T(0), raw);
    }
}

// Adds w_i * x_i to the sums of cluster lab[i] and w_i to its weight, rows [0, m), in row
// order. sums (k, d) then weights (k), double.
template <class T>
inline __attribute__((always_inline)) void accumulate_rows_impl(const T* x, const T* w, std::size_t m,
                                                                std::size_t d, std::size_t k,
                                                                const std::int32_t* lab, double* p) {
    // Unweighted float32 rows of one chunk (m <= 256) are summed per centre in float32 -- the
    // x rows need no conversion and the loop vectorises at full width -- and the chunk's
    // partial sums are then added to the double accumulators: 256 terms in float32 lose
    // at most ~256 ulp of a chunk sum, far below the tolerance on centre shifts.
    if constexpr (std::is_same_v<T, float>) {
        constexpr std::size_t kMaxAcc = 8192, kMaxK = 1024;  // 32 KiB + 8 KiB of stack
        if (!w && k * d <= kMaxAcc && k <= kMaxK) {
            alignas(64) float acc[kMaxAcc];
            std::size_t cnt[kMaxK];
            std::fill(acc, acc + k * d, 0.0f);
            std::fill(cnt, cnt + k, std::size_t(0));
            for (std::size_t i = 0; i < m; ++i) {
                const std::size_t l = static_cast<std::size_t>(lab[i]);
                float* __restrict s = acc + l * d;
                const float* __restrict xi = x + i * d;
                for (std::size_t t = 0; t < d; ++t) s[t] += xi[t];
                ++cnt[l];
            }
            for (std::size_t l = 0; l < k; ++l) {
                if (!cnt[l]) continue;
                double* __restrict s = p + l * d;
                const float* __restrict a = acc + l * d;
                for (std::size_t t = 0; t < d; ++t) s[t] += static_cast<double>(a[t]);
                p[k * d + l] += static_cast<double>(cnt[l]);
            }
            return;
        }
    }
    for (std::size_t i = 0; i < m; ++i) {
        const double wi = w ? static_cast<double>(w[i]) : 1.0;
        const std::size_t l = static_cast<std::size_t>(lab[i]);
        double* __restrict s = p + l * d;
        const T* __restrict xi = x + i * d;
        if (w) {
            for (std::size_t t = 0; t < d; ++t) s[t] += wi * static_cast<double>(xi[t]);
        } else {
            for (std::size_t t = 0; t < d; ++t) s[t] += static_cast<double>(xi[t]);
        }
        p[k * d + l] += wi;
    }
}

// The kernel is built three times and one build is picked once per process from the CPU:
// baseline (SSE2, any x86-64 / other CPUs), x86-64-v3 (AVX2+FMA) and x86-64-v4 (AVX-512).
// Each adds in the same order on a given machine, so results do not depend on the thread
// count; only the last bits can differ between CPUs (FMA contraction).
template <class T>
void assign_rows_base(const T* x, std::size_t m, std::size_t d, const PreparedCentres<T>& pc, std::int32_t* lab,
                      T* dist, const T* w, double* p) {
    assign_rows_impl<T, 32, 6>(x, m, d, pc, lab, dist);
    if (p) accumulate_rows_impl<T>(x, w, m, d, pc.k, lab, p);
}

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && \
    !defined(SCATCLUST_NO_ISA_DISPATCH)
#define SCATCLUST_KMEANS_DISPATCH 1
template <class T>
__attribute__((target("arch=x86-64-v3"))) void assign_rows_v3(const T* x, std::size_t m, std::size_t d,
                                                              const PreparedCentres<T>& pc, std::int32_t* lab,
                                                              T* dist, const T* w, double* p) {
    assign_rows_impl<T, 32, 6>(x, m, d, pc, lab, dist);
    if (p) accumulate_rows_impl<T>(x, w, m, d, pc.k, lab, p);
}
template <class T>
__attribute__((target("arch=x86-64-v4"))) void assign_rows_v4(const T* x, std::size_t m, std::size_t d,
                                                              const PreparedCentres<T>& pc, std::int32_t* lab,
                                                              T* dist, const T* w, double* p) {
    assign_rows_impl<T, 64, 8>(x, m, d, pc, lab, dist);
    if (p) accumulate_rows_impl<T>(x, w, m, d, pc.k, lab, p);
}

inline int cpu_level() {
    // SCATCLUST_KMEANS_ISA=baseline|x86-64-v3 lowers the level (tests run every build).
    static const int level = cpu_isa_level("SCATCLUST_KMEANS_ISA");
    return level;
}
#endif

// Assignment of m rows (labels, distances) and, if p is given, their weighted sums (w may be
// nullptr for unit weights) added to the partial p.
template <class T>
void assign_rows(const T* x, std::size_t m, std::size_t d, const PreparedCentres<T>& pc, std::int32_t* lab,
                 T* dist, const T* w = nullptr, double* p = nullptr) {
#ifdef SCATCLUST_KMEANS_DISPATCH
    const int level = cpu_level();
    if (level >= 4) return assign_rows_v4<T>(x, m, d, pc, lab, dist, w, p);
    if (level == 3) return assign_rows_v3<T>(x, m, d, pc, lab, dist, w, p);
#endif
    assign_rows_base<T>(x, m, d, pc, lab, dist, w, p);
}

// Squared Euclidean distance with eight fixed partial sums (vectorisable, order fixed).
template <class T>
inline double sqdist(const T* __restrict a, const T* __restrict b, std::size_t d) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t j = 0;
    for (; j + 8 <= d; j += 8) {
        for (std::size_t l = 0; l < 8; ++l) {
            const double t = static_cast<double>(a[j + l]) - static_cast<double>(b[j + l]);
            acc[l] += t * t;
        }
    }
    double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; j < d; ++j) {
        const double t = static_cast<double>(a[j]) - static_cast<double>(b[j]);
        s += t * t;
    }
    return s;
}

// Threads for a loop over `units` independent units: never more threads than units, so small
// inputs do not pay for waking (or, on a busy machine, waiting for) idle threads. The work
// split into units does not depend on the thread count, so neither do the results.
inline int threads_for(int n_threads, std::size_t units) {
    const int nt = resolve_num_threads(n_threads);
    return static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(nt), std::max<std::size_t>(units, 1)));
}

void check_shape(std::size_t n, std::size_t d, std::size_t k) {
    require(d >= 1 || n == 0, "n_features=", d, " must be >= 1");
    require(k >= 1, "n_clusters=", k, " must be >= 1");
    require(k <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()), "n_clusters=", k,
            " must be <= ", std::numeric_limits<std::int32_t>::max());
}

// O(n) and O(k d) scans, cheap next to the O(n k d) assignment; X itself is checked row by
// row inside the assignment (check_row), so no extra pass over X is made.
template <class T>
void check_inputs(const T* w, std::size_t n, const T* C, std::size_t k, std::size_t d) {
    require_finite(C, k * d, "centers");
    if (!w) return;
    require_finite(w, n, "sample_weight");
    for (std::size_t i = 0; i < n; ++i)
        if (w[i] < T(0)) fail("sample_weight[", i, "]=", w[i], " is negative; weights must be >= 0");
}

constexpr int kMaxLocalTrials = 1024;

inline std::uint64_t splitmix64(std::uint64_t& s) {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// xoshiro256** (Blackman & Vigna), seeded through splitmix64 as its authors recommend.
class Xoshiro256 {
public:
    explicit Xoshiro256(std::uint64_t seed) {
        for (auto& v : s_) v = splitmix64(seed);
    }
    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
};

}  // namespace

int kmeans_isa_level() {
#ifdef SCATCLUST_KMEANS_DISPATCH
    return cpu_level();
#else
    return 1;
#endif
}

template <class T>
void kmeans_assign(const T* X, std::size_t n, std::size_t d, const T* C, std::size_t k, std::int32_t* labels,
                   T* min_sqdist, int n_threads) {
    check_shape(n, d, k);
    check_inputs<T>(nullptr, n, C, k, d);
    if (n == 0) return;
    const PreparedCentres<T> pc(C, k, d);
    const long long n_chunks = static_cast<long long>((n + kChunkRows - 1) / kChunkRows);
    ParallelGuard guard;
#pragma omp parallel for schedule(static) num_threads(threads_for(n_threads, static_cast<std::size_t>(n_chunks)))
    for (long long c = 0; c < n_chunks; ++c) {
        guard.run([&] {
            const std::size_t r0 = static_cast<std::size_t>(c) * kChunkRows;
            const std::size_t m = std::min(kChunkRows, n - r0);
            assign_rows(X + r0 * d, m, d, pc, labels + r0, min_sqdist ? min_sqdist + r0 : nullptr);
        });
    }
    guard.rethrow();
}

template <class T>
std::size_t kmeans_lloyd_step(const T* X, const T* w, std::size_t n, std::size_t d, const T* C_old, std::size_t k,
                              std::int32_t* labels, T* min_sqdist, T* C_new, T* weight_in_clusters,
                              T* center_shift_sq, bool update_centers, int n_threads) {
    check_shape(n, d, k);
    check_inputs(w, n, C_old, k, d);
    if (n == 0) return 0;
    const PreparedCentres<T> pc(C_old, k, d);
    const std::size_t n_blocks = (n + kBlockRows - 1) / kBlockRows;
    const std::size_t stride = k * d + k;  // centre sums (k, d) then cluster weights (k)
    const std::size_t wave = std::min(kWaveBlocks, n_blocks);
    std::vector<double> acc(update_centers ? stride : 0, 0.0);
    std::vector<double> part(update_centers ? wave * stride : 0);
    std::vector<std::size_t> changed(n_blocks, 0);
    ParallelGuard guard;
#pragma omp parallel num_threads(threads_for(n_threads, n_blocks))
    {
        std::int32_t new_lab[kChunkRows];
        for (std::size_t b0 = 0; b0 < n_blocks; b0 += wave) {
            const long long b1 = static_cast<long long>(std::min(n_blocks, b0 + wave));
#pragma omp for schedule(static)
            for (long long b = static_cast<long long>(b0); b < b1; ++b) {
                guard.run([&] {
                    const std::size_t r_begin = static_cast<std::size_t>(b) * kBlockRows;
                    const std::size_t r_end = std::min(n, r_begin + kBlockRows);
                    double* p = update_centers ? part.data() + (static_cast<std::size_t>(b) - b0) * stride : nullptr;
                    if (p) std::fill(p, p + stride, 0.0);
                    std::size_t ch = 0;
                    for (std::size_t r0 = r_begin; r0 < r_end; r0 += kChunkRows) {
                        const std::size_t m = std::min(kChunkRows, r_end - r0);
                        assign_rows(X + r0 * d, m, d, pc, new_lab, min_sqdist + r0, w ? w + r0 : nullptr, p);
                        for (std::size_t i = 0; i < m; ++i) {
                            ch += static_cast<std::size_t>(new_lab[i] != labels[r0 + i]);
                            labels[r0 + i] = new_lab[i];
                        }
                    }
                    changed[static_cast<std::size_t>(b)] = ch;
                });
            }  // implicit barrier: all partials of this wave are written
            if (update_centers) {
                const std::size_t nb = static_cast<std::size_t>(b1) - b0;
#pragma omp for schedule(static)
                for (long long e = 0; e < static_cast<long long>(stride); ++e) {
                    double s = acc[static_cast<std::size_t>(e)];
                    for (std::size_t b = 0; b < nb; ++b) s += part[b * stride + static_cast<std::size_t>(e)];
                    acc[static_cast<std::size_t>(e)] = s;  // blocks added in block order
                }
            }
        }
    }
    guard.rethrow();
    std::size_t n_changed = 0;
    for (std::size_t v : changed) n_changed += v;
    if (!update_centers) return n_changed;

    double* sums = acc.data();
    double* wsum = acc.data() + k * d;
    // Empty clusters: take the rows farthest from their (old) centre.
    std::vector<std::size_t> empty;
    for (std::size_t j = 0; j < k; ++j)
        if (!(wsum[j] > 0.0)) empty.push_back(j);
    std::vector<char> relocated(k, 0);
    if (!empty.empty()) {
        // Candidates are the rows whose move lowers the inertia: positive weight and positive
        // distance to their centre. A zero-weight row leaves its new cluster with weight 0, empty
        // again at the next step; a row already on its centre (duplicates, more clusters than
        // distinct rows) only changes which of two equal centres it joins. Either way the
        // relocation repeated every step and Lloyd cycled until max_iter (found by fuzzing).
        // Without candidates the cluster keeps its centre. The distance is the exact one (direct
        // differences), not min_sqdist: the expansion leaves rounding noise on duplicates.
        std::vector<std::size_t> idx;
        idx.reserve(n);
        for (std::size_t i = 0; i < n; ++i)
            if ((!w || w[i] > T(0)) && sqdist(X + i * d, C_old + static_cast<std::size_t>(labels[i]) * d, d) > 0.0)
                idx.push_back(i);
        const std::size_t n_take = std::min(empty.size(), idx.size());
        std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n_take), idx.end(),
                          [&](std::size_t a, std::size_t b) {
                              return min_sqdist[a] > min_sqdist[b] || (min_sqdist[a] == min_sqdist[b] && a < b);
                          });
        for (std::size_t e = 0; e < n_take; ++e) {
            const std::size_t j = empty[e], i = idx[e];
            const std::size_t old = static_cast<std::size_t>(labels[i]);
            const double wi = w ? static_cast<double>(w[i]) : 1.0;
            const T* xi = X + i * d;
            for (std::size_t t = 0; t < d; ++t) {
                sums[old * d + t] -= wi * static_cast<double>(xi[t]);
                C_new[j * d + t] = xi[t];
            }
            wsum[old] -= wi;
            wsum[j] = wi;
            relocated[j] = 1;
        }
    }
    for (std::size_t j = 0; j < k; ++j) {
        weight_in_clusters[j] = static_cast<T>(wsum[j]);
        if (!relocated[j]) {
            if (wsum[j] > 0.0) {
                const double inv = 1.0 / wsum[j];
                for (std::size_t t = 0; t < d; ++t) C_new[j * d + t] = static_cast<T>(sums[j * d + t] * inv);
            } else {
                for (std::size_t t = 0; t < d; ++t) C_new[j * d + t] = C_old[j * d + t];
            }
        }
        center_shift_sq[j] = static_cast<T>(sqdist(C_new + j * d, C_old + j * d, d));
    }
    // Finite rows and weights can still overflow T in a weighted mean (w * x beyond FLT_MAX).
    require_finite(C_new, k * d, "centers_new (weighted means overflow the dtype; rescale X or sample_weight)");
    return n_changed;
}

template <class T>
double kmeans_inertia(const T* X, const T* w, std::size_t n, std::size_t d, const T* C, std::size_t k,
                      const std::int32_t* labels, int n_threads) {
    check_shape(n, d, k);
    check_inputs(w, n, C, k, d);
    if (n == 0) return 0.0;
    const std::size_t n_blocks = (n + kBlockRows - 1) / kBlockRows;
    std::vector<double> part(n_blocks, 0.0);
    ParallelGuard guard;
#pragma omp parallel for schedule(static) num_threads(threads_for(n_threads, n_blocks))
    for (long long b = 0; b < static_cast<long long>(n_blocks); ++b) {
        guard.run([&] {
            const std::size_t r0 = static_cast<std::size_t>(b) * kBlockRows;
            const std::size_t r1 = std::min(n, r0 + kBlockRows);
            double s = 0.0;
            for (std::size_t i = r0; i < r1; ++i) {
                const std::int32_t l = labels[i];
                require(l >= 0 && static_cast<std::size_t>(l) < k, "labels[", i, "]=", l, " is out of range; valid range is [0, ",
                        k - 1, "]");
                const double wi = w ? static_cast<double>(w[i]) : 1.0;
                s += wi * sqdist(X + i * d, C + static_cast<std::size_t>(l) * d, d);
            }
            part[static_cast<std::size_t>(b)] = s;
        });
    }
    guard.rethrow();
    double total = 0.0;
    for (double v : part) total += v;  // block order
    require(std::isfinite(total), "inertia=", total, " is not finite: X must be finite (no NaN/inf rows)");
    return total;
}

template <class T>
void kmeans_plusplus(const T* X, const T* w, std::size_t n, std::size_t d, std::size_t k, int n_local_trials,
                     std::uint64_t seed, T* C, std::int64_t* indices, int n_threads) {
    check_shape(n, d, k);
    require(n >= k, "n_samples=", n, " should be >= n_clusters=", k);
    require(n_local_trials >= 1, "n_local_trials=", n_local_trials, " must be >= 1");
    // The trials' distances are held at once (n_local_trials x n doubles): bound them so that
    // a bad value is refused instead of allocating (scikit-learn uses 2 + ln(n_clusters)).
    require(n_local_trials <= kMaxLocalTrials, "n_local_trials=", n_local_trials, " must be <= ", kMaxLocalTrials,
            " (the default is 2 + int(ln(n_clusters)))");
    if (w) {
        require_finite(w, n, "sample_weight");
        for (std::size_t i = 0; i < n; ++i)
            if (w[i] < T(0)) fail("sample_weight[", i, "]=", w[i], " is negative; weights must be >= 0");
    }
    require_finite(X, n * d, "X");  // one pass, next to k x n_local_trials passes below
    const std::size_t n_blocks = (n + kBlockRows - 1) / kBlockRows;
    const int nt = threads_for(n_threads, n_blocks);
    const std::size_t L = static_cast<std::size_t>(n_local_trials);
    Xoshiro256 rng(seed);
    std::vector<double> cum(n);
    auto draw = [&](const double* mass) -> std::size_t {
        // Inverse-CDF sampling: first row whose cumulative mass exceeds u * total.
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            s += mass ? mass[i] : (w ? static_cast<double>(w[i]) : 1.0);
            cum[i] = s;
        }
        const double r = rng.uniform() * s;
        const std::size_t i = static_cast<std::size_t>(std::upper_bound(cum.begin(), cum.end(), r) - cum.begin());
        return std::min(i, n - 1);
    };

    std::vector<double> closest(n), cand_d(L * n), mass(n), pot_part(L * n_blocks);
    std::vector<std::size_t> cand(L);

    // Fills cand_d[t] = min(closest, ||x - X[cand[t]]||^2) (or the plain distance when
    // first) and returns the weighted potential of each trial, summed in block order.
    auto trial_potentials = [&](std::size_t n_trials, bool first) {
        ParallelGuard guard;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long b = 0; b < static_cast<long long>(n_blocks); ++b) {
            guard.run([&] {
                const std::size_t r0 = static_cast<std::size_t>(b) * kBlockRows;
                const std::size_t r1 = std::min(n, r0 + kBlockRows);
                for (std::size_t t = 0; t < n_trials; ++t) {
                    const T* c = X + cand[t] * d;
                    double* out = cand_d.data() + t * n;
                    double s = 0.0;
                    for (std::size_t i = r0; i < r1; ++i) {
                        double v = sqdist(X + i * d, c, d);
                        if (!first) v = std::min(v, closest[i]);
                        out[i] = v;
                        s += (w ? static_cast<double>(w[i]) : 1.0) * v;
                    }
                    pot_part[t * n_blocks + static_cast<std::size_t>(b)] = s;
                }
            });
        }
        guard.rethrow();
        std::vector<double> pots(n_trials, 0.0);
        for (std::size_t t = 0; t < n_trials; ++t)
            for (std::size_t b = 0; b < n_blocks; ++b) pots[t] += pot_part[t * n_blocks + b];
        return pots;
    };

    cand[0] = draw(nullptr);
    double pot = trial_potentials(1, true)[0];
    require(std::isfinite(pot), "X: squared distances between rows overflow (potential=", pot,
            "); rescale X or pass float64");
    std::copy(cand_d.begin(), cand_d.begin() + static_cast<std::ptrdiff_t>(n), closest.begin());
    std::copy(X + cand[0] * d, X + cand[0] * d + d, C);
    indices[0] = static_cast<std::int64_t>(cand[0]);

    for (std::size_t c = 1; c < k; ++c) {
        for (std::size_t i = 0; i < n; ++i) mass[i] = (w ? static_cast<double>(w[i]) : 1.0) * closest[i];
        // One cumulative sum serves all trials of this centre.
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            s += mass[i];
            cum[i] = s;
        }
        (void)pot;  // s equals pot up to the order of additions
        for (std::size_t t = 0; t < L; ++t) {
            const double r = rng.uniform() * s;
            const std::size_t i = static_cast<std::size_t>(std::upper_bound(cum.begin(), cum.end(), r) - cum.begin());
            cand[t] = std::min(i, n - 1);
        }
        const std::vector<double> pots = trial_potentials(L, false);
        std::size_t best = 0;
        for (std::size_t t = 1; t < L; ++t)
            if (pots[t] < pots[best]) best = t;
        pot = pots[best];
        std::copy(cand_d.begin() + static_cast<std::ptrdiff_t>(best * n),
                  cand_d.begin() + static_cast<std::ptrdiff_t>(best * n + n), closest.begin());
        std::copy(X + cand[best] * d, X + cand[best] * d + d, C + c * d);
        indices[c] = static_cast<std::int64_t>(cand[best]);
    }
}

#define SCATCLUST_KMEANS_INSTANTIATE(T)                                                                              \
    template void kmeans_assign<T>(const T*, std::size_t, std::size_t, const T*, std::size_t, std::int32_t*, T*,    \
                                   int);                                                                             \
    template std::size_t kmeans_lloyd_step<T>(const T*, const T*, std::size_t, std::size_t, const T*, std::size_t,  \
                                              std::int32_t*, T*, T*, T*, T*, bool, int);                             \
    template double kmeans_inertia<T>(const T*, const T*, std::size_t, std::size_t, const T*, std::size_t,          \
                                      const std::int32_t*, int);                                                     \
    template void kmeans_plusplus<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, int, std::uint64_t, \
                                     T*, std::int64_t*, int);

SCATCLUST_KMEANS_INSTANTIATE(float)
SCATCLUST_KMEANS_INSTANTIATE(double)

}  // namespace scatclust
