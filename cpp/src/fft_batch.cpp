#include <cstring>

#include "scatclust/fft_plan.hpp"
#include "scatclust/parallel.hpp"

namespace scatclust {

template <class T>
void fft_c2c_batch(const std::complex<T>* x, std::complex<T>* out, std::size_t batch, int n,
                   bool forward, int n_threads) {
    if (batch == 0 || n == 0) return;
    auto plan = get_plan<T>(forward ? FftKind::Forward : FftKind::Backward, n, true);
    const int nt = resolve_num_threads(n_threads);
#pragma omp parallel num_threads(nt)
    {
        AlignedBuffer<std::complex<T>> buf(n);
#pragma omp for schedule(static)
        for (long long b = 0; b < static_cast<long long>(batch); ++b) {
            std::memcpy(buf.data(), x + b * n, sizeof(std::complex<T>) * n);
            plan->c2c(buf.data(), buf.data());
            std::memcpy(out + b * n, buf.data(), sizeof(std::complex<T>) * n);
        }
    }
}

template <class T>
void fft_r2c_batch(const T* x, std::complex<T>* out, std::size_t batch, int n, int n_threads) {
    if (batch == 0 || n == 0) return;
    auto plan = get_plan<T>(FftKind::R2C, n, false);
    const int nt = resolve_num_threads(n_threads);
    const int nc = n / 2 + 1;
#pragma omp parallel num_threads(nt)
    {
        AlignedBuffer<T> in(n);
        AlignedBuffer<std::complex<T>> buf(nc);
#pragma omp for schedule(static)
        for (long long b = 0; b < static_cast<long long>(batch); ++b) {
            std::memcpy(in.data(), x + b * n, sizeof(T) * n);
            plan->r2c(in.data(), buf.data());
            std::memcpy(out + b * nc, buf.data(), sizeof(std::complex<T>) * nc);
        }
    }
}

template void fft_c2c_batch<float>(const std::complex<float>*, std::complex<float>*, std::size_t, int, bool, int);
template void fft_c2c_batch<double>(const std::complex<double>*, std::complex<double>*, std::size_t, int, bool, int);
template void fft_r2c_batch<float>(const float*, std::complex<float>*, std::size_t, int, int);
template void fft_r2c_batch<double>(const double*, std::complex<double>*, std::size_t, int, int);

}  // namespace scatclust
