// Batched wavelet transform x (batch, N) -> x * psi_f for every filter f, with optional dyadic
// subsampling 2^k_f per filter and a fused modulus.
//
// Per signal: pad to N_padded (reflect / zero / periodic), real FFT, rebuild the full
// Hermitian spectrum; per (signal, filter): multiply by the real Fourier-domain filter,
// periodise the product over 2^k_f periods (mean), inverse FFT of length N_padded / 2^k_f
// (this equals subsampling the full-resolution convolution by 2^k_f in time), keep the
// unpadded interval [ind_start[k_f], ind_end[k_f]), take the modulus if asked.
// OpenMP: signals are processed in chunks; inside a chunk the (signal, filter) pairs are
// shared among threads. Every output element is computed by exactly one thread in a fixed
// order, so results do not depend on the thread count.
#pragma once

#include <complex>
#include <cstddef>
#include <vector>

#include "scatclust/fft_plan.hpp"

namespace scatclust {

enum class PadMode : int { Reflect = 0, Zero = 1, Periodic = 2 };

// Pads x[0..n) into out[0..n_padded) with `left` samples before x (n_padded - n - left after).
// Reflect requires left, right < n (numpy's 'reflect'); Periodic is numpy's 'wrap'.
template <class T>
void pad_signal(const T* x, int n, T* out, int n_padded, int left, PadMode mode);

template <class T>
class WaveletTransform {
public:
    // filters: (n_filters, n_padded) float64, real Fourier transforms.
    // log2_sub: per-filter subsampling exponent k_f (0 = full resolution).
    // ind_start/ind_end: unpadding bounds for every k (as MorletFilterBank computes them).
    WaveletTransform(const double* filters, int n_filters, int n_padded, const std::vector<int>& log2_sub,
                     int n_input, int pad_left, const std::vector<int>& ind_start,
                     const std::vector<int>& ind_end, PadMode mode);

    int n_filters() const { return n_filters_; }
    int n_input() const { return n_; }
    int n_padded() const { return np_; }
    int out_length(int f) const { return out_len_[f]; }
    // Output offset of filter f's block for `batch` signals in filter-major layout.
    std::size_t filter_offset(int f, std::size_t batch) const { return batch * out_cum_[f]; }
    std::size_t total_out_length() const { return out_cum_.back(); }

    // IN x (batch, n_input). OUT out: complex (modulus=false) or real (modulus=true) values.
    // batch_major=true: out is (batch, n_filters, L) and all out_length(f) must equal L.
    // batch_major=false: filter f's block (batch, out_length(f)) starts at filter_offset(f, batch).
    void execute(const T* x, std::size_t batch, void* out, bool modulus, bool batch_major,
                 int n_threads) const;

private:
    int n_filters_, np_, n_, pad_left_;
    PadMode mode_;
    std::vector<T> filters_;      // (n_filters, np) in the kernel precision
    std::vector<int> k_, start_, out_len_;
    std::vector<std::size_t> out_cum_;
    // Per filter, the maximal runs [lo, hi) of non-zero Fourier coefficients: narrow
    // filters are exactly zero (underflow) on most of the spectrum, and skipping those
    // bins changes no result bit (0 + a == a) while saving most of the multiply work.
    std::vector<std::vector<std::pair<int, int>>> runs_;
};

}  // namespace scatclust
