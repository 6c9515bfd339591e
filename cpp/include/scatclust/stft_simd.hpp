// Internal to the STFT (cpp/src/stft.cpp, cpp/src/stft_simd.cpp): the forward STFT for
// power-of-two FFT lengths with our own real FFT vectorised across frames.
//
// FFTW transforms one frame at a time and Debian's libfftw3f has no AVX2 codelets (its real
// transforms are scalar). Here each SIMD lane holds a different frame: a group of L frames
// (L = 8 floats / 4 doubles with AVX2) is windowed into a structure-of-arrays buffer
// (sample j of the L frames is one vector), transformed by a radix-4 FFT whose butterflies are
// plain vertical arithmetic, and bin k of the L frames is then one vector, which is exactly
// L consecutive values of the bin-major (batch, freq, time) output row. With AVX-512
// (x86-64-v4) L is 16 floats / 8 doubles. Every lane runs the same operations on its own
// frame only, so a frame's result does not depend on which group (or thread) computes it:
// results are bit-identical for any thread count, and the AVX2 and AVX-512 builds agree bit
// for bit.
#pragma once

#include <cstddef>
#include <string>

#include "scatclust/stft.hpp"

namespace scatclust {

// Which forward STFT kernel runs for power-of-two FFT lengths: Auto picks the across-frames
// SIMD FFT when the CPU has AVX2+FMA (AVX-512 used when present) and mfft is within [kStftSimdMinFft, kStftSimdMaxFft]
// (FFTW otherwise); Fftw always uses FFTW. The process default comes from the environment
// variable SCATCLUST_STFT_KERNEL ("fftw" or "auto"); set_stft_kernel changes it (tests).
enum class StftKernel : int { Auto = 0, Fftw = 1 };
void set_stft_kernel(StftKernel k);
StftKernel stft_kernel();

constexpr int kStftSimdMinFft = 16;
constexpr int kStftSimdMaxFft = 4096;

namespace detail {

inline long long stft_floor_div(long long a, long long b) {  // b > 0
    long long q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

// Value of the padded signal at absolute index k, for k outside the slice [i0, i1) of x that
// the frames touch. Reproduces numpy.pad on x[i0:i1] (which is what scipy pads): 'reflect'
// with pads longer than the slice reflects repeatedly; for 'odd' each reflection is a point
// reflection, i.e. the extension g obeys g(-j) = 2 g(0) - g(j) and g(P+j) = 2 g(P) - g(P-j)
// with P = L-1, which makes g(j + 2P) = g(j) + 2 (g(P) - g(0)).
template <class T>
T stft_pad_value(const T* xr, long long i0, long long i1, long long k, StftPadding mode) {
    switch (mode) {
        case StftPadding::Zeros: return T(0);
        case StftPadding::Edge: return k < i0 ? xr[i0] : xr[i1 - 1];
        default: break;
    }
    const T* s = xr + i0;
    const long long L = i1 - i0;
    if (L == 1) return s[0];  // numpy extends a single sample as 'edge'
    const long long P = L - 1;
    const long long j = k - i0;
    const long long q = stft_floor_div(j, 2 * P);
    const long long r = j - q * 2 * P;  // in [0, 2P)
    if (mode == StftPadding::Even) return r <= P ? s[r] : s[2 * P - r];
    // Odd: the two single reflections are written as numpy computes them.
    if (q == 0) return r <= P ? s[r] : T(2) * s[P] - s[2 * P - r];
    if (q == -1 && r > P) return T(2) * s[0] - s[2 * P - r];
    const T base = r <= P ? s[r] : T(2) * s[P] - s[2 * P - r];
    return base + T(2 * q) * (s[P] - s[0]);
}

// One validated forward STFT call (see stft_forward_complex / stft_forward_real).
template <class T>
struct StftSimdTask {
    const T* x = nullptr;     // IN (batch, n), finite
    std::size_t batch = 0;
    long long n = 0;
    const T* w = nullptr;     // IN (m) window, scale already applied
    int m = 0, hop = 0, mfft = 0;
    int ps = 0;               // roll: sample j of a frame goes to (j - ps) mod mfft
    long long p0 = 0, nfr = 0;  // frames p0 .. p0 + nfr - 1
    long long i0 = 0, i1 = 0;   // the slice of x the frames touch (clipped to [0, n))
    StftPadding padding = StftPadding::Zeros;
    StftOutput output = StftOutput::Complex;
    T log_eps = T(1e-10);
    void* out = nullptr;      // OUT std::complex<T> (Complex) or T, bin- or frame-major
    bool frame_major = false;
    int n_threads = 1;        // resolved, >= 1
};

// Runs the task on the SIMD kernel and returns true, or returns false without touching
// anything when the kernel does not apply (stft_kernel() == Fftw, mfft not a power of two in
// range, CPU without AVX2+FMA, or a build without the kernel: non-x86-64 or non-GCC/Clang).
template <class T>
bool stft_simd_forward(const StftSimdTask<T>& task);

// True when stft_simd_forward would run for this FFT length and precision now.
template <class T>
bool stft_simd_applies(int mfft);

}  // namespace detail
}  // namespace scatclust
