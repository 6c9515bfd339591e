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
// The kernel templates (stft_simd_kernels.inc) are compiled twice, for AVX2+FMA (8 floats /
// 4 doubles per register) and AVX-512 (16 / 8), in functions with __attribute__((target(...)))
// (GCC and Clang), so the rest of the library stays portable. One build runs per process:
// AVX-512 if the CPU is x86-64-v4, AVX2 if it is x86-64-v3 (cpu_isa_level, lowered by
// SCATCLUST_STFT_ISA=x86-64-v3 or baseline), none otherwise; and only if the kernel is not
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
    // slow where a is outside [lo, hi] (or NaN), else fast.
    SC_AVX2_INLINE static V select_outside(V a, V lo, V hi, V fast, V slow) {
        return _mm256_blendv_ps(fast, slow, _mm256_or_ps(_mm256_cmp_ps(a, lo, _CMP_NGE_UQ), _mm256_cmp_ps(a, hi, _CMP_NLE_UQ)));
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
    SC_AVX2_INLINE static V select_outside(V a, V lo, V hi, V fast, V slow) {
        return _mm256_blendv_pd(fast, slow, _mm256_or_pd(_mm256_cmp_pd(a, lo, _CMP_NGE_UQ), _mm256_cmp_pd(a, hi, _CMP_NLE_UQ)));
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


// AVX-512 (x86-64-v4): 16 float / 8 double frames per register.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns inside its own avx512fintrin.h (the masked intrinsics' deliberately undefined
// pass-through operand) wherever they are inlined; nothing here is uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define SC_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#define SC_AVX512_INLINE __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"), always_inline)) inline

struct F16 {
    using T = float;
    using V = __m512;
    static constexpr int L = 16;
    SC_AVX512_INLINE static V load(const T* p) { return _mm512_load_ps(p); }
    SC_AVX512_INLINE static V loadu(const T* p) { return _mm512_loadu_ps(p); }
    SC_AVX512_INLINE static void store(T* p, V v) { _mm512_store_ps(p, v); }
    SC_AVX512_INLINE static void storeu(T* p, V v) { _mm512_storeu_ps(p, v); }
    SC_AVX512_INLINE static V set1(T a) { return _mm512_set1_ps(a); }
    SC_AVX512_INLINE static V bcast(const T* p) { return _mm512_set1_ps(*p); }
    SC_AVX512_INLINE static V add(V a, V b) { return _mm512_add_ps(a, b); }
    SC_AVX512_INLINE static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
    SC_AVX512_INLINE static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    SC_AVX512_INLINE static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    SC_AVX512_INLINE static V fmsub(V a, V b, V c) { return _mm512_fmsub_ps(a, b, c); }
    SC_AVX512_INLINE static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
    SC_AVX512_INLINE static V sqrt(V a) { return _mm512_sqrt_ps(a); }
    SC_AVX512_INLINE static V abs(V a) { return _mm512_abs_ps(a); }
    SC_AVX512_INLINE static V max(V a, V b) { return _mm512_max_ps(a, b); }
    SC_AVX512_INLINE static V min(V a, V b) { return _mm512_min_ps(a, b); }
    SC_AVX512_INLINE static V div(V a, V b) { return _mm512_div_ps(a, b); }
    SC_AVX512_INLINE static int outside(V a, V lo, V hi) {
        return static_cast<int>(_mm512_cmp_ps_mask(a, lo, _CMP_NGE_UQ) | _mm512_cmp_ps_mask(a, hi, _CMP_NLE_UQ));
    }
    SC_AVX512_INLINE static V select_zero(V mask_src, V v) {
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(mask_src, _mm512_setzero_ps(), _CMP_NEQ_UQ), v);
    }
    SC_AVX512_INLINE static V select_outside(V a, V lo, V hi, V fast, V slow) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, lo, _CMP_NGE_UQ) | _mm512_cmp_ps_mask(a, hi, _CMP_NLE_UQ),
                                    fast, slow);
    }
    // In-register transpose of 16 rows of 16: within 128-bit lanes as for AVX2, then the
    // lanes of four registers are regrouped with two rounds of shuffle_f32x4.
    SC_AVX512_INLINE static void transpose(V* r) {
        V t[16], u[16];
        for (int i = 0; i < 8; ++i) {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        for (int i = 0; i < 4; ++i) {  // u[4i + j], 128-bit lane k: rows 4i..4i+3 of column 4k + j
            u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
            u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
            u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
            u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
        }
        for (int j = 0; j < 4; ++j) {
            const V x0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), x1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
            const V y0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
            const V y1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
            r[j] = _mm512_shuffle_f32x4(x0, y0, 0x88);
            r[8 + j] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
            r[4 + j] = _mm512_shuffle_f32x4(x1, y1, 0x88);
            r[12 + j] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
        }
    }
    SC_AVX512_INLINE static void store_complex(T* p, V re, V im) {
        F8::store_complex(p, _mm512_castps512_ps256(re), _mm512_castps512_ps256(im));
        F8::store_complex(p + 16, _mm512_extractf32x8_ps(re, 1), _mm512_extractf32x8_ps(im, 1));
    }
};

struct D8 {
    using T = double;
    using V = __m512d;
    static constexpr int L = 8;
    SC_AVX512_INLINE static V load(const T* p) { return _mm512_load_pd(p); }
    SC_AVX512_INLINE static V loadu(const T* p) { return _mm512_loadu_pd(p); }
    SC_AVX512_INLINE static void store(T* p, V v) { _mm512_store_pd(p, v); }
    SC_AVX512_INLINE static void storeu(T* p, V v) { _mm512_storeu_pd(p, v); }
    SC_AVX512_INLINE static V set1(T a) { return _mm512_set1_pd(a); }
    SC_AVX512_INLINE static V bcast(const T* p) { return _mm512_set1_pd(*p); }
    SC_AVX512_INLINE static V add(V a, V b) { return _mm512_add_pd(a, b); }
    SC_AVX512_INLINE static V sub(V a, V b) { return _mm512_sub_pd(a, b); }
    SC_AVX512_INLINE static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
    SC_AVX512_INLINE static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
    SC_AVX512_INLINE static V fmsub(V a, V b, V c) { return _mm512_fmsub_pd(a, b, c); }
    SC_AVX512_INLINE static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_pd(a, b, c); }
    SC_AVX512_INLINE static V sqrt(V a) { return _mm512_sqrt_pd(a); }
    SC_AVX512_INLINE static V abs(V a) { return _mm512_abs_pd(a); }
    SC_AVX512_INLINE static V max(V a, V b) { return _mm512_max_pd(a, b); }
    SC_AVX512_INLINE static V min(V a, V b) { return _mm512_min_pd(a, b); }
    SC_AVX512_INLINE static V div(V a, V b) { return _mm512_div_pd(a, b); }
    SC_AVX512_INLINE static int outside(V a, V lo, V hi) {
        return static_cast<int>(_mm512_cmp_pd_mask(a, lo, _CMP_NGE_UQ) | _mm512_cmp_pd_mask(a, hi, _CMP_NLE_UQ));
    }
    SC_AVX512_INLINE static V select_zero(V mask_src, V v) {
        return _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(mask_src, _mm512_setzero_pd(), _CMP_NEQ_UQ), v);
    }
    SC_AVX512_INLINE static V select_outside(V a, V lo, V hi, V fast, V slow) {
        return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, lo, _CMP_NGE_UQ) | _mm512_cmp_pd_mask(a, hi, _CMP_NLE_UQ),
                                    fast, slow);
    }
    // In-register transpose of 8 rows of 8 (t[2i + j], 128-bit lane k: rows 2i, 2i+1 of
    // column 2k + j; then two rounds of shuffle_f64x2).
    SC_AVX512_INLINE static void transpose(V* r) {
        V t[8];
        for (int i = 0; i < 4; ++i) {
            t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
        }
        for (int j = 0; j < 2; ++j) {
            const V x0 = _mm512_shuffle_f64x2(t[j], t[2 + j], 0x88), x1 = _mm512_shuffle_f64x2(t[j], t[2 + j], 0xDD);
            const V y0 = _mm512_shuffle_f64x2(t[4 + j], t[6 + j], 0x88);
            const V y1 = _mm512_shuffle_f64x2(t[4 + j], t[6 + j], 0xDD);
            r[j] = _mm512_shuffle_f64x2(x0, y0, 0x88);
            r[4 + j] = _mm512_shuffle_f64x2(x0, y0, 0xDD);
            r[2 + j] = _mm512_shuffle_f64x2(x1, y1, 0x88);
            r[6 + j] = _mm512_shuffle_f64x2(x1, y1, 0xDD);
        }
    }
    SC_AVX512_INLINE static void store_complex(T* p, V re, V im) {
        D4::store_complex(p, _mm512_castpd512_pd256(re), _mm512_castpd512_pd256(im));
        D4::store_complex(p + 8, _mm512_extractf64x4_pd(re, 1), _mm512_extractf64x4_pd(im, 1));
    }
};

#define SC_KERNEL SC_AVX2
#define SC_KERNEL_INLINE SC_AVX2_INLINE
namespace avx2 {
#include "stft_simd_kernels.inc"
}  // namespace avx2
#undef SC_KERNEL
#undef SC_KERNEL_INLINE
#define SC_KERNEL SC_AVX512
#define SC_KERNEL_INLINE SC_AVX512_INLINE
namespace avx512 {
#include "stft_simd_kernels.inc"
}  // namespace avx512
#undef SC_KERNEL
#undef SC_KERNEL_INLINE

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
    // One instruction set per process (the CPU's, lowered by SCATCLUST_STFT_ISA), so every
    // call gives the same bits.
    if (simd_isa_level() >= 4) {
        if constexpr (std::is_same<T, float>::value) avx512::run_simd<F16>(task);
        else avx512::run_simd<D8>(task);
    } else {
        if constexpr (std::is_same<T, float>::value) avx2::run_simd<F8>(task);
        else avx2::run_simd<D4>(task);
    }
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
