// Forward STFT with a real FFT vectorised across frames (see stft_simd.hpp for the idea).
//
// Per group of L frames (one SIMD lane per frame):
//   1. gather: the L windowed, rolled, zero-padded segments s_i[0..mfft) are written as
//      structure of arrays, buf[d * L + i] = s_i[d]; interior groups load L rows of x, transpose
//      L x L tiles in registers and multiply by the window; groups that need padding (or hold
//      fewer than L frames) are filled lane by lane with the scalar padding rules;
//   2. the real FFT of length mfft is a complex FFT of length H = mfft/2 of
//      z[q] = s[2q] + i s[2q+1] (re and im are the vectors buf[2q], buf[2q+1]), radix-2
//      decimation in time with bit-reversed input, two stages fused per pass (radix-2^2, the
//      second stage's odd half rotated by -i), twiddles computed in double and rounded once;
//   3. split X[k] = A_k Z[k] + B_k conj(Z[H-k]), A_k = (1 - i W^k)/2, B_k = (1 + i W^k)/2,
//      W = exp(-2 pi i / mfft), fused with the requested output (complex, |X|, |X|^2, log) and
//      stored: bin k of the L frames is L consecutive values of the bin-major output row.
// Only vertical (lane-wise) arithmetic touches frame data after the gather, so each frame's
// result is independent of its group and of the thread count.
//
// The AVX2/FMA code lives in functions with __attribute__((target("avx2,fma"))) (GCC and
// Clang), so the rest of the library stays portable; it runs only when the CPU reports AVX2
// and FMA (cpu_isa_level, lowered by SCATCLUST_STFT_ISA=baseline) and the kernel is not
// forced to FFTW (SCATCLUST_STFT_KERNEL=fftw or set_stft_kernel). Other targets (aarch64,
// other compilers) and builds with -DSCATCLUST_NO_STFT_SIMD compile none of it and use FFTW.
#include "scatclust/stft_simd.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include <omp.h>

#include "scatclust/cpu.hpp"
#include "scatclust/errors.hpp"
#include "scatclust/parallel.hpp"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(SCATCLUST_NO_STFT_SIMD)
#define SCATCLUST_STFT_SIMD 1
#include <immintrin.h>
#endif

namespace scatclust {

namespace {

StftKernel kernel_from_env() {
    const char* env = std::getenv("SCATCLUST_STFT_KERNEL");
    return (env && std::string(env) == "fftw") ? StftKernel::Fftw : StftKernel::Auto;
}

std::atomic<int>& kernel_setting() {
    static std::atomic<int> k{static_cast<int>(kernel_from_env())};
    return k;
}

}  // namespace

void set_stft_kernel(StftKernel k) { kernel_setting().store(static_cast<int>(k)); }
StftKernel stft_kernel() { return static_cast<StftKernel>(kernel_setting().load()); }

namespace detail {

namespace {

// Aligned scratch owned by one thread (64 bytes: whole cache lines, any vector width).
template <class T>
struct Scratch {
    struct Free {
        void operator()(T* p) const { std::free(p); }
    };
    std::unique_ptr<T, Free> p;
    explicit Scratch(std::size_t n) {
        const std::size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
        p.reset(static_cast<T*>(std::aligned_alloc(64, bytes ? bytes : 64)));
        if (!p) throw std::bad_alloc();
        std::memset(p.get(), 0, bytes);
    }
    T* get() const { return p.get(); }
};

// Tables shared by all groups of a call: bit reversal, per-pass twiddles, split coefficients.
template <class T>
struct FftTables {
    int H = 0, log2h = 0;
    std::vector<int> rev;   // bit reversal of [0, H)
    std::vector<T> tw;      // radix-4 passes in order; per k < h: W_2h^k (re, im), W_4h^k (re, im)
    std::vector<T> ab;      // per bin k < H: Ar, Ai, Br, Bi
    explicit FftTables(int mfft) : H(mfft / 2) {
        while ((1 << log2h) < H) ++log2h;
        rev.resize(H);
        for (int q = 0; q < H; ++q) {
            int r = 0;
            for (int b = 0; b < log2h; ++b) r |= ((q >> b) & 1) << (log2h - 1 - b);
            rev[q] = r;
        }
        // First pass: radix-2 (h = 1 -> 2) if log2h is odd, else radix-4 (1 -> 4); both
        // twiddle-free. Then radix-4 passes from h up to H/4.
        int h = (log2h % 2) ? 2 : 4;
        for (; h < H; h *= 4) {
            for (int k = 0; k < h; ++k) {
                const double a1 = -2.0 * M_PI * k / (2.0 * h), a2 = -2.0 * M_PI * k / (4.0 * h);
                tw.push_back(static_cast<T>(std::cos(a1)));
                tw.push_back(static_cast<T>(std::sin(a1)));
                tw.push_back(static_cast<T>(std::cos(a2)));
                tw.push_back(static_cast<T>(std::sin(a2)));
            }
        }
        ab.resize(4 * static_cast<std::size_t>(H));
        for (int k = 0; k < H; ++k) {
            const double a = -2.0 * M_PI * k / mfft;
            const double wr = std::cos(a), wi = std::sin(a);
            ab[4 * k] = static_cast<T>(0.5 * (1.0 + wi));  // (1 - i W)/2
            ab[4 * k + 1] = static_cast<T>(-0.5 * wr);
            ab[4 * k + 2] = static_cast<T>(0.5 * (1.0 - wi));  // (1 + i W)/2
            ab[4 * k + 3] = static_cast<T>(0.5 * wr);
        }
    }
};

#ifdef SCATCLUST_STFT_SIMD

bool is_pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

int simd_isa_level() {
    static const int level = cpu_isa_level("SCATCLUST_STFT_ISA");
    return level;
}

#define SC_AVX2 __attribute__((target("avx2,fma")))
#define SC_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

// Vector operations, one struct per (precision, width). L lanes = L frames.
struct F8 {
    using T = float;
    using V = __m256;
    static constexpr int L = 8;
    SC_AVX2_INLINE static V load(const T* p) { return _mm256_load_ps(p); }
    SC_AVX2_INLINE static V loadu(const T* p) { return _mm256_loadu_ps(p); }
    SC_AVX2_INLINE static void store(T* p, V v) { _mm256_store_ps(p, v); }
    SC_AVX2_INLINE static void storeu(T* p, V v) { _mm256_storeu_ps(p, v); }
    SC_AVX2_INLINE static V set1(T a) { return _mm256_set1_ps(a); }
    SC_AVX2_INLINE static V bcast(const T* p) { return _mm256_broadcast_ss(p); }
    SC_AVX2_INLINE static V add(V a, V b) { return _mm256_add_ps(a, b); }
    SC_AVX2_INLINE static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    SC_AVX2_INLINE static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    SC_AVX2_INLINE static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }   // a b + c
    SC_AVX2_INLINE static V fmsub(V a, V b, V c) { return _mm256_fmsub_ps(a, b, c); }   // a b - c
    SC_AVX2_INLINE static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); } // c - a b
    SC_AVX2_INLINE static V sqrt(V a) { return _mm256_sqrt_ps(a); }
    SC_AVX2_INLINE static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
    SC_AVX2_INLINE static V max(V a, V b) { return _mm256_max_ps(a, b); }
    SC_AVX2_INLINE static V min(V a, V b) { return _mm256_min_ps(a, b); }
    SC_AVX2_INLINE static V div(V a, V b) { return _mm256_div_ps(a, b); }
    // Lanes where a is outside [lo, hi] (or NaN), as a bit mask.
    SC_AVX2_INLINE static int outside(V a, V lo, V hi) {
        return _mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(a, lo, _CMP_NGE_UQ), _mm256_cmp_ps(a, hi, _CMP_NLE_UQ)));
    }
    SC_AVX2_INLINE static V select_zero(V mask_src, V v) {  // v where mask_src != 0, else 0
        return _mm256_and_ps(_mm256_cmp_ps(mask_src, _mm256_setzero_ps(), _CMP_NEQ_UQ), v);
    }
    // In-register transpose of 8 rows of 8.
    SC_AVX2_INLINE static void transpose(V* r) {
        const V t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
        const V t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
        const V t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
        const V t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
        const V s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
        const V s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
        const V s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
        const V s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
        const V s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
        const V s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
        const V s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
        const V s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
        r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
        r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
        r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
        r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
        r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
        r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
        r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
        r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
    }
    // p[2i] = re[i], p[2i+1] = im[i] (interleaved complex), unaligned.
    SC_AVX2_INLINE static void store_complex(T* p, V re, V im) {
        const V lo = _mm256_unpacklo_ps(re, im), hi = _mm256_unpackhi_ps(re, im);
        _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
};

struct D4 {
    using T = double;
    using V = __m256d;
    static constexpr int L = 4;
    SC_AVX2_INLINE static V load(const T* p) { return _mm256_load_pd(p); }
    SC_AVX2_INLINE static V loadu(const T* p) { return _mm256_loadu_pd(p); }
    SC_AVX2_INLINE static void store(T* p, V v) { _mm256_store_pd(p, v); }
    SC_AVX2_INLINE static void storeu(T* p, V v) { _mm256_storeu_pd(p, v); }
    SC_AVX2_INLINE static V set1(T a) { return _mm256_set1_pd(a); }
    SC_AVX2_INLINE static V bcast(const T* p) { return _mm256_broadcast_sd(p); }
    SC_AVX2_INLINE static V add(V a, V b) { return _mm256_add_pd(a, b); }
    SC_AVX2_INLINE static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
    SC_AVX2_INLINE static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
    SC_AVX2_INLINE static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
    SC_AVX2_INLINE static V fmsub(V a, V b, V c) { return _mm256_fmsub_pd(a, b, c); }
    SC_AVX2_INLINE static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_pd(a, b, c); }
    SC_AVX2_INLINE static V sqrt(V a) { return _mm256_sqrt_pd(a); }
    SC_AVX2_INLINE static V abs(V a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a); }
    SC_AVX2_INLINE static V max(V a, V b) { return _mm256_max_pd(a, b); }
    SC_AVX2_INLINE static V min(V a, V b) { return _mm256_min_pd(a, b); }
    SC_AVX2_INLINE static V div(V a, V b) { return _mm256_div_pd(a, b); }
    SC_AVX2_INLINE static int outside(V a, V lo, V hi) {
        return _mm256_movemask_pd(_mm256_or_pd(_mm256_cmp_pd(a, lo, _CMP_NGE_UQ), _mm256_cmp_pd(a, hi, _CMP_NLE_UQ)));
    }
    SC_AVX2_INLINE static V select_zero(V mask_src, V v) {
        return _mm256_and_pd(_mm256_cmp_pd(mask_src, _mm256_setzero_pd(), _CMP_NEQ_UQ), v);
    }
    SC_AVX2_INLINE static void transpose(V* r) {
        const V t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
        const V t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
        r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
        r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
        r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
        r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
    }
    SC_AVX2_INLINE static void store_complex(T* p, V re, V im) {
        const V lo = _mm256_unpacklo_pd(re, im), hi = _mm256_unpackhi_pd(re, im);
        _mm256_storeu_pd(p, _mm256_permute2f128_pd(lo, hi, 0x20));
        _mm256_storeu_pd(p + 4, _mm256_permute2f128_pd(lo, hi, 0x31));
    }
};

// Step 1 for a group whose L frames all lie inside x: L x L tiles of x are transposed in
// registers. xs[i] = first sample of frame i.
// OUT buf (mfft, L): buf[d L + i] = x_i[j] w[j] at d = (j - ps) mod mfft
template <class A>
SC_AVX2 void gather_interior(const typename A::T* const* xs, const typename A::T* w, int m, int ps, int mfft,
                             typename A::T* buf) {
    using V = typename A::V;
    constexpr int L = A::L;
    int j0 = 0;
    for (; j0 + L <= m; j0 += L) {
        V r[L];
        for (int i = 0; i < L; ++i) r[i] = A::loadu(xs[i] + j0);
        A::transpose(r);
        for (int jj = 0; jj < L; ++jj) {
            const int j = j0 + jj;
            const int d = j >= ps ? j - ps : j - ps + mfft;
            A::store(buf + static_cast<std::size_t>(d) * L, A::mul(r[jj], A::bcast(w + j)));
        }
    }
    for (int j = j0; j < m; ++j) {
        const int d = j >= ps ? j - ps : j - ps + mfft;
        for (int i = 0; i < L; ++i) buf[static_cast<std::size_t>(d) * L + i] = xs[i][j] * w[j];
    }
}

// Steps 2 and 3 without the store: complex FFT of length H on buf (natural order, read
// bit-reversed) into wk (natural order). Layout of both: [q][re/im][lane].
template <class A>
SC_AVX2 void fft_half(const typename A::T* buf, typename A::T* wk, const FftTables<typename A::T>& tb) {
    using T = typename A::T;
    using V = typename A::V;
    constexpr std::size_t L = A::L;
    const int H = tb.H;
    const int* rev = tb.rev.data();
    auto re = [](auto* base, int q) { return base + 2 * L * static_cast<std::size_t>(q); };
    int h;
    if (tb.log2h % 2) {  // radix-2 first pass, no twiddles
        for (int q = 0; q < H; q += 2) {
            const T* a = re(buf, rev[q]);
            const T* b = re(buf, rev[q + 1]);
            const V ar = A::load(a), ai = A::load(a + L), br = A::load(b), bi = A::load(b + L);
            T* o = re(wk, q);
            A::store(o, A::add(ar, br));
            A::store(o + L, A::add(ai, bi));
            A::store(o + 2 * L, A::sub(ar, br));
            A::store(o + 3 * L, A::sub(ai, bi));
        }
        h = 2;
    } else {  // radix-4 first pass (two stages), the only twiddle is -i
        for (int q = 0; q < H; q += 4) {
            const T* p0 = re(buf, rev[q]);
            const T* p1 = re(buf, rev[q + 1]);
            const T* p2 = re(buf, rev[q + 2]);
            const T* p3 = re(buf, rev[q + 3]);
            const V a0r = A::load(p0), a0i = A::load(p0 + L), a1r = A::load(p1), a1i = A::load(p1 + L);
            const V a2r = A::load(p2), a2i = A::load(p2 + L), a3r = A::load(p3), a3i = A::load(p3 + L);
            const V b0r = A::add(a0r, a1r), b0i = A::add(a0i, a1i), b1r = A::sub(a0r, a1r), b1i = A::sub(a0i, a1i);
            const V b2r = A::add(a2r, a3r), b2i = A::add(a2i, a3i), b3r = A::sub(a2r, a3r), b3i = A::sub(a2i, a3i);
            T* o = re(wk, q);
            A::store(o, A::add(b0r, b2r));
            A::store(o + L, A::add(b0i, b2i));
            A::store(o + 4 * L, A::sub(b0r, b2r));
            A::store(o + 5 * L, A::sub(b0i, b2i));
            // -i b3 = (b3i, -b3r)
            A::store(o + 2 * L, A::add(b1r, b3i));
            A::store(o + 3 * L, A::sub(b1i, b3r));
            A::store(o + 6 * L, A::sub(b1r, b3i));
            A::store(o + 7 * L, A::add(b1i, b3r));
        }
        h = 4;
    }
    const T* tw = tb.tw.data();
    for (; h < H; h *= 4) {
        for (int b = 0; b < H; b += 4 * h) {
            for (int k = 0; k < h; ++k) {
                const V w1r = A::bcast(tw + 4 * k), w1i = A::bcast(tw + 4 * k + 1);
                const V w2r = A::bcast(tw + 4 * k + 2), w2i = A::bcast(tw + 4 * k + 3);
                T* p0 = re(wk, b + k);
                T* p1 = p0 + 2 * L * h;
                T* p2 = p1 + 2 * L * h;
                T* p3 = p2 + 2 * L * h;
                const V a0r = A::load(p0), a0i = A::load(p0 + L), a1r = A::load(p1), a1i = A::load(p1 + L);
                const V a2r = A::load(p2), a2i = A::load(p2 + L), a3r = A::load(p3), a3i = A::load(p3 + L);
                // stage 1 (size 2h): t = W_2h^k a1, t' = W_2h^k a3
                const V t1r = A::fnmadd(a1i, w1i, A::mul(a1r, w1r)), t1i = A::fmadd(a1r, w1i, A::mul(a1i, w1r));
                const V t3r = A::fnmadd(a3i, w1i, A::mul(a3r, w1r)), t3i = A::fmadd(a3r, w1i, A::mul(a3i, w1r));
                const V b0r = A::add(a0r, t1r), b0i = A::add(a0i, t1i), b1r = A::sub(a0r, t1r), b1i = A::sub(a0i, t1i);
                const V b2r = A::add(a2r, t3r), b2i = A::add(a2i, t3i), b3r = A::sub(a2r, t3r), b3i = A::sub(a2i, t3i);
                // stage 2 (size 4h): u = W_4h^k b2, v = W_4h^k b3 (then times -i)
                const V ur = A::fnmadd(b2i, w2i, A::mul(b2r, w2r)), ui = A::fmadd(b2r, w2i, A::mul(b2i, w2r));
                const V vr = A::fnmadd(b3i, w2i, A::mul(b3r, w2r)), vi = A::fmadd(b3r, w2i, A::mul(b3i, w2r));
                A::store(p0, A::add(b0r, ur));
                A::store(p0 + L, A::add(b0i, ui));
                A::store(p2, A::sub(b0r, ur));
                A::store(p2 + L, A::sub(b0i, ui));
                A::store(p1, A::add(b1r, vi));  // b1 + (-i v) = (b1r + vi, b1i - vr)
                A::store(p1 + L, A::sub(b1i, vr));
                A::store(p3, A::sub(b1r, vi));
                A::store(p3 + L, A::add(b1i, vr));
            }
        }
        tw += 4 * h;
    }
}

// |X| without overflow or underflow of |X|^2: lanes whose components leave the safe range
// are computed as s sqrt(1 + (t/s)^2), s = max(|re|, |im|), t = min(|re|, |im|).
template <class A>
SC_AVX2_INLINE typename A::V magnitude(typename A::V xr, typename A::V xi) {
    using T = typename A::T;
    using V = typename A::V;
    const V p = A::fmadd(xr, xr, A::mul(xi, xi));
    // p in [lo, hi]: no lane lost precision to underflow nor overflowed (p = 0 is exact too,
    // but then both components must be 0, which the slow branch also handles).
    const T lo = std::numeric_limits<T>::min() / std::numeric_limits<T>::epsilon();
    const T hi = std::numeric_limits<T>::max() / T(4);
    if (!A::outside(p, A::set1(lo), A::set1(hi))) return A::sqrt(p);
    const V ar = A::abs(xr), ai = A::abs(xi);
    const V s = A::max(ar, ai), t = A::min(ar, ai);
    const V q = A::select_zero(s, A::div(t, s));  // 0 where s == 0
    return A::mul(s, A::sqrt(A::fmadd(q, q, A::set1(T(1)))));
}

// Step 3, one bin: stores X[k] of lanes i < valid at o[k * fs + i * ts] (OutT units; o is
// std::complex<T>* for Kind 0, else T*). Kinds as StftOutput; log power is computed lane by
// lane (std::log).
template <class A, int Kind>
SC_AVX2_INLINE void emit_bin(void* out, std::size_t k, typename A::V xr, typename A::V xi, std::size_t fs,
                             std::size_t ts, int valid, bool fast, typename A::T log_eps) {
    using T = typename A::T;
    using V = typename A::V;
    alignas(64) T tr[A::L], ti[A::L];
    if (Kind == 0) {
        T* o = static_cast<T*>(out) + 2 * k * fs;
        if (fast) {
            A::store_complex(o, xr, xi);
        } else {
            A::store(tr, xr);
            A::store(ti, xi);
            for (int i = 0; i < valid; ++i) {
                o[2 * i * ts] = tr[i];
                o[2 * i * ts + 1] = ti[i];
            }
        }
        return;
    }
    T* o = static_cast<T*>(out) + k * fs;
    const V y = Kind == 1 ? magnitude<A>(xr, xi) : A::fmadd(xr, xr, A::mul(xi, xi));
    if (Kind == 3) {
        A::store(tr, y);
        for (int i = 0; i < valid; ++i) o[i * ts] = std::log(tr[i] + log_eps);
    } else if (fast) {
        A::storeu(o, y);
    } else {
        A::store(tr, y);
        for (int i = 0; i < valid; ++i) o[i * ts] = tr[i];
    }
}

// Step 3: split and store every bin of the group (see emit_bin for the destination).
template <class A, int Kind>
SC_AVX2 void split_store(const typename A::T* wk, const FftTables<typename A::T>& tb, void* out, std::size_t fs,
                         std::size_t ts, int valid, typename A::T log_eps) {
    using T = typename A::T;
    using V = typename A::V;
    constexpr int L = A::L;
    const int H = tb.H;
    const bool fast = ts == 1 && valid == L;
    const V zero = A::set1(T(0));
    {  // X[0] = Re Z0 + Im Z0, X[H] = Re Z0 - Im Z0 (both real)
        const V zr = A::load(wk), zi = A::load(wk + L);
        emit_bin<A, Kind>(out, 0, A::add(zr, zi), zero, fs, ts, valid, fast, log_eps);
        emit_bin<A, Kind>(out, static_cast<std::size_t>(H), A::sub(zr, zi), zero, fs, ts, valid, fast, log_eps);
    }
    const T* ab = tb.ab.data();
    for (int k = 1; k < H; ++k) {
        const T* z = wk + 2 * static_cast<std::size_t>(L) * k;
        const T* c = wk + 2 * static_cast<std::size_t>(L) * (H - k);
        const V zr = A::load(z), zi = A::load(z + L), cr = A::load(c), ci = A::load(c + L);
        const V ar = A::bcast(ab + 4 * k), ai = A::bcast(ab + 4 * k + 1);
        const V br = A::bcast(ab + 4 * k + 2), bi = A::bcast(ab + 4 * k + 3);
        // X = A Z + B conj(C)
        const V xr = A::fmadd(bi, ci, A::fmadd(br, cr, A::fnmadd(ai, zi, A::mul(ar, zr))));
        const V xi = A::fnmadd(br, ci, A::fmadd(bi, cr, A::fmadd(ai, zr, A::mul(ar, zi))));
        emit_bin<A, Kind>(out, static_cast<std::size_t>(k), xr, xi, fs, ts, valid, fast, log_eps);
    }
}

// dst[0..n) = src[0..n).
template <class A>
SC_AVX2_INLINE void copy_row(const typename A::T* src, typename A::T* dst, std::size_t n) {
    constexpr std::size_t L = A::L;
    std::size_t i = 0;
    for (; i + L <= n; i += L) A::storeu(dst + i, A::loadu(src + i));
    for (; i < n; ++i) dst[i] = src[i];
}

// Work items are blocks of G frames (G a multiple of L) of one row. The groups of a block are
// transformed into a tile (nf bins x G frames, <= 256 KiB, in L2), and each bin's G values are
// then copied to the output row in one contiguous run. Bin-major rows are nfr values apart;
// storing them L frames at a time (one cache line per bin per group) stalled on stores, and
// measured on the benchmark (16 x 65536, mfft 256, complex64 out): a 64 KiB tile was 1.4x and
// an 8-frame one 2x slower than 256 KiB; non-temporal stores were no faster (the 17 MB output
// stays in this machine's L3), so plain stores are used.
template <class A, int Kind>
SC_AVX2 void run_blocks(const StftSimdTask<typename A::T>& tk, const FftTables<typename A::T>& tb, int G,
                        long long wbegin, long long wend, long long nblocks, typename A::T* buf, typename A::T* wk,
                        typename A::T* tile) {
    using T = typename A::T;
    constexpr int L = A::L;
    constexpr int C = Kind == 0 ? 2 : 1;  // T values per output element
    const int m = tk.m, mfft = tk.mfft, ps = tk.ps, mid = tk.m / 2;
    const int nf = mfft / 2 + 1;
    for (long long wi = wbegin; wi < wend; ++wi) {
        const long long b = wi / nblocks;
        const long long tb0 = (wi % nblocks) * G;
        const int bw = static_cast<int>(std::min<long long>(G, tk.nfr - tb0));  // frames in this block
        const T* xr = tk.x + static_cast<std::size_t>(b) * tk.n;
        for (int g0 = 0; g0 < bw; g0 += L) {
            const long long t0 = tb0 + g0;
            const int valid = std::min(L, bw - g0);
            const long long k0 = (tk.p0 + t0) * tk.hop - mid;  // first sample of lane 0
            const long long klast = k0 + static_cast<long long>(L - 1) * tk.hop;
            if (valid == L && k0 >= 0 && klast + m <= tk.n) {
                const T* xs[L];
                for (int i = 0; i < L; ++i) xs[i] = xr + k0 + static_cast<long long>(i) * tk.hop;
                gather_interior<A>(xs, tk.w, m, ps, mfft, buf);
            } else {  // padding, or fewer than L frames left: lane by lane (unused lanes are 0)
                for (int i = 0; i < L; ++i) {
                    const long long k = k0 + static_cast<long long>(i) * tk.hop;
                    for (int j = 0; j < m; ++j) {
                        const int d = j >= ps ? j - ps : j - ps + mfft;
                        T v = T(0);
                        if (i < valid) {
                            const long long kk = k + j;
                            v = ((kk >= tk.i0 && kk < tk.i1) ? xr[kk]
                                                              : stft_pad_value(xr, tk.i0, tk.i1, kk, tk.padding)) *
                                tk.w[j];
                        }
                        buf[static_cast<std::size_t>(d) * L + i] = v;
                    }
                }
            }
            fft_half<A>(buf, wk, tb);
            // tile[(k G + g0 + i) C]: bin k of frame tb0 + g0 + i
            split_store<A, Kind>(wk, tb, tile + static_cast<std::size_t>(g0) * C, static_cast<std::size_t>(G), 1, L,
                                 tk.log_eps);
        }
        T* out = static_cast<T*>(tk.out);
        if (tk.frame_major) {  // (batch, nfr, nf): frame t's spectrum is one row
            for (int t = 0; t < bw; ++t) {
                T* o = out + ((static_cast<std::size_t>(b) * tk.nfr + tb0 + t) * nf) * C;
                for (int k = 0; k < nf; ++k)
                    for (int c = 0; c < C; ++c) o[k * C + c] = tile[(static_cast<std::size_t>(k) * G + t) * C + c];
            }
        } else {  // (batch, nf, nfr)
            T* ob = out + (static_cast<std::size_t>(b) * nf * tk.nfr + tb0) * C;
            for (int k = 0; k < nf; ++k)
                copy_row<A>(tile + static_cast<std::size_t>(k) * G * C, ob + static_cast<std::size_t>(k) * tk.nfr * C,
                            static_cast<std::size_t>(bw) * C);
        }
    }
}

template <class A>
void run_simd(const StftSimdTask<typename A::T>& tk) {
    using T = typename A::T;
    constexpr int L = A::L;
    const FftTables<T> tb(tk.mfft);
    const int nf = tk.mfft / 2 + 1;
    const int C = tk.output == StftOutput::Complex ? 2 : 1;
    // Blocks of at most G frames with a tile (nf x G output values) of <= 256 KiB, G in
    // [L, 256], then evened out over the blocks of a row (so no block is nearly empty).
    const std::size_t tile_bytes = 256 * 1024;
    long long G = static_cast<long long>(tile_bytes / (static_cast<std::size_t>(nf) * C * sizeof(T)));
    G = std::max<long long>(L, std::min<long long>(256, G));
    G = ((tk.nfr + (tk.nfr + G - 1) / G - 1) / ((tk.nfr + G - 1) / G) + L - 1) / L * L;
    const long long nblocks = (tk.nfr + G - 1) / G;  // every block holds >= 1 frame
    const long long total = static_cast<long long>(tk.batch) * nblocks;
    ParallelGuard guard;
#pragma omp parallel num_threads(tk.n_threads)
    {
        std::unique_ptr<Scratch<T>> buf, wk, tile;
        guard.run([&] {
            // Positions of buf that no sample maps to (mfft > m) stay zero.
            buf.reset(new Scratch<T>(static_cast<std::size_t>(tk.mfft) * L));
            wk.reset(new Scratch<T>(static_cast<std::size_t>(tk.mfft) * L));
            tile.reset(new Scratch<T>(static_cast<std::size_t>(nf) * G * C));
        });
        // A contiguous range of work items per thread (a static schedule), so that a thread's
        // consecutive blocks extend the same output rows.
        const int nt = omp_get_num_threads();
        const int id = omp_get_thread_num();
        const long long w0 = total * id / nt, w1 = total * (id + 1) / nt;
        if (buf && wk && tile && w1 > w0) {
            guard.run([&] {
                const int Gi = static_cast<int>(G);
                T *pb = buf->get(), *pw = wk->get(), *pt = tile->get();
                switch (tk.output) {
                    case StftOutput::Complex: run_blocks<A, 0>(tk, tb, Gi, w0, w1, nblocks, pb, pw, pt); break;
                    case StftOutput::Magnitude: run_blocks<A, 1>(tk, tb, Gi, w0, w1, nblocks, pb, pw, pt); break;
                    case StftOutput::Power: run_blocks<A, 2>(tk, tb, Gi, w0, w1, nblocks, pb, pw, pt); break;
                    case StftOutput::LogPower: run_blocks<A, 3>(tk, tb, Gi, w0, w1, nblocks, pb, pw, pt); break;
                }
            });
        }
    }
    guard.rethrow();
}

#endif  // SCATCLUST_STFT_SIMD

}  // namespace

template <class T>
bool stft_simd_applies(int mfft) {
#ifdef SCATCLUST_STFT_SIMD
    return stft_kernel() == StftKernel::Auto && is_pow2(mfft) && mfft >= kStftSimdMinFft &&
           mfft <= kStftSimdMaxFft && simd_isa_level() >= 3;
#else
    (void)mfft;
    return false;
#endif
}

template <class T>
bool stft_simd_forward(const StftSimdTask<T>& task) {
    if (!stft_simd_applies<T>(task.mfft)) return false;
#ifdef SCATCLUST_STFT_SIMD
    if (task.batch == 0 || task.nfr <= 0) return true;
    if constexpr (std::is_same<T, float>::value) run_simd<F8>(task);
    else run_simd<D4>(task);
    return true;
#else
    return false;
#endif
}

template bool stft_simd_applies<float>(int);
template bool stft_simd_applies<double>(int);
template bool stft_simd_forward<float>(const StftSimdTask<float>&);
template bool stft_simd_forward<double>(const StftSimdTask<double>&);

}  // namespace detail
}  // namespace scatclust
