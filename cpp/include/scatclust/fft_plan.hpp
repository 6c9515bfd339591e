// FFTW plan cache.
//
// FFTW's planner is not thread-safe but executing a plan is: plans are created once under
// a process-wide mutex, stored in a cache keyed by (precision, kind, size, in-place, batch
// count), and then executed concurrently with FFTW's new-array interface on buffers from
// AlignedBuffer (fftw_malloc), which have the SIMD alignment the plan was made for.
// Plans live until clear_plan_cache(); callers hold them by shared_ptr, so clearing the
// cache while a transform runs is safe (the plan is destroyed when the last user drops it).
#pragma once

#include <complex>
#include <cstddef>
#include <memory>
#include <string>

namespace scatclust {

enum class FftKind : int {
    Forward = 0,   // complex -> complex, exp(-2i pi k n / N), unnormalised
    Backward = 1,  // complex -> complex, exp(+2i pi k n / N), unnormalised
    R2C = 2,       // real (n) -> complex (n/2+1)
    C2R = 3,       // complex (n/2+1) -> real (n); destroys its input
    // Forward c2c of `howmany` contiguous rows (distance n) written transposed:
    // out[k * howmany + t] = X_t[k], so that bin k of all rows is one contiguous run.
    ForwardTransposed = 4,
};

// Auto (the default): FFTW_MEASURE for small transforms (n * howmany <= 4096, where measuring
// takes < 0.25 s once and per-call speed matters most, e.g. STFT frames; measured ~20-40%
// faster), FFTW_ESTIMATE for larger ones (where measuring takes seconds).
enum class PlannerEffort : int { Estimate = 0, Measure = 1, Patient = 2, Auto = 3 };

// Planner effort used for plans created from now on (cached plans are kept).
void set_planner_effort(PlannerEffort e);
PlannerEffort planner_effort();

// Owning, SIMD-aligned buffer (fftw_malloc). Contents are uninitialised.
template <class T>
class AlignedBuffer {
public:
    AlignedBuffer() = default;
    explicit AlignedBuffer(std::size_t n) { resize(n); }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    AlignedBuffer(AlignedBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
    AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
        if (this != &o) { release(); p_ = o.p_; n_ = o.n_; o.p_ = nullptr; o.n_ = 0; }
        return *this;
    }
    ~AlignedBuffer() { release(); }
    // Grows (never shrinks) the buffer; old contents are not kept.
    void resize(std::size_t n);
    T* data() const { return p_; }
    std::size_t size() const { return n_; }
    T& operator[](std::size_t i) const { return p_[i]; }

private:
    void release();
    T* p_ = nullptr;
    std::size_t n_ = 0;
};

template <class T>
class FftPlan {
public:
    using complex = std::complex<T>;
    // howmany > 1: a batch of contiguous transforms (distance n real / n/2+1 complex values).
    FftPlan(FftKind kind, int n, bool inplace, int howmany, bool one_off = false);
    ~FftPlan();
    FftPlan(const FftPlan&) = delete;
    FftPlan& operator=(const FftPlan&) = delete;

    // Buffers must come from AlignedBuffer (checked); sizes are n*howmany complex values for
    // c2c, n*howmany real and (n/2+1)*howmany complex values for r2c / c2r, contiguous.
    void c2c(const complex* in, complex* out) const;
    void r2c(const T* in, complex* out) const;
    void c2r(complex* in, T* out) const;  // overwrites `in`

    FftKind kind() const { return kind_; }
    int n() const { return n_; }
    bool inplace() const { return inplace_; }
    int howmany() const { return howmany_; }

private:
    void check_aligned(const void* p) const;
    FftKind kind_;
    int n_;
    bool inplace_;
    int howmany_;
    void* plan_ = nullptr;  // fftw_plan or fftwf_plan
};

// Returns the cached plan, creating it on first use. Thread-safe.
// one_off: the caller runs this transform a handful of times (filter construction), so a
// newly created plan uses FFTW_ESTIMATE whatever the planner effort.
template <class T>
std::shared_ptr<const FftPlan<T>> get_plan(FftKind kind, int n, bool inplace = false, int howmany = 1,
                                           bool one_off = false);

// Number of cached plans (both precisions) and cache reset.
std::size_t plan_cache_size();
void clear_plan_cache();

// FFTW wisdom, so that HPC users pay FFTW_MEASURE/PATIENT planning once per machine.
// `precision` is "float32" or "float64".
std::string export_wisdom(const std::string& precision);
bool import_wisdom(const std::string& precision, const std::string& wisdom);
void forget_wisdom();

}  // namespace scatclust

namespace scatclust {

// Batched transforms over rows of C-contiguous arrays (any alignment), OpenMP over rows.
// Each row is copied into aligned per-thread scratch, so these are also the "FFTW alone"
// baseline that benchmarks compare the wavelet transform against.
// IN x (batch, n) ; OUT out (batch, n) complex
template <class T>
void fft_c2c_batch(const std::complex<T>* x, std::complex<T>* out, std::size_t batch, int n,
                   bool forward, int n_threads);
// IN x (batch, n) real ; OUT out (batch, n/2+1) complex
template <class T>
void fft_r2c_batch(const T* x, std::complex<T>* out, std::size_t batch, int n, int n_threads);

}  // namespace scatclust
