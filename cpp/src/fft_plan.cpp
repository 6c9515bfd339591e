#include "scatclust/fft_plan.hpp"

#include <fftw3.h>

#include <atomic>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <tuple>

#include "scatclust/errors.hpp"

namespace scatclust {

namespace {

std::mutex& planner_mutex() {
    static std::mutex m;
    return m;
}

std::atomic<int> g_effort{static_cast<int>(PlannerEffort::Auto)};

unsigned fftw_flags(long long work) {
    switch (static_cast<PlannerEffort>(g_effort.load())) {
        case PlannerEffort::Measure: return FFTW_MEASURE;
        case PlannerEffort::Patient: return FFTW_PATIENT;
        case PlannerEffort::Auto: return work <= 4096 ? FFTW_MEASURE : FFTW_ESTIMATE;
        default: return FFTW_ESTIMATE;
    }
}

// Thin per-precision shims over the fftw_ / fftwf_ C APIs.
template <class T> struct api;

template <> struct api<double> {
    using plan = fftw_plan;
    using cpx = fftw_complex;
    static void* malloc(std::size_t b) { return fftw_malloc(b); }
    static void free(void* p) { fftw_free(p); }
    static int alignment_of(const void* p) { return fftw_alignment_of((double*)p); }
    static plan many_c2c(int n, int hm, cpx* i, cpx* o, int sign, unsigned f, bool tr = false) {
        return fftw_plan_many_dft(1, &n, hm, i, nullptr, 1, n, o, nullptr, tr ? hm : 1, tr ? 1 : n, sign, f);
    }
    // cs / cd: stride and distance of the complex side (1 and n/2+1 for contiguous batches).
    static plan many_r2c(int n, int hm, double* i, cpx* o, int cs, int cd, unsigned f) {
        return fftw_plan_many_dft_r2c(1, &n, hm, i, nullptr, 1, n, o, nullptr, cs, cd, f);
    }
    static plan many_c2r(int n, int hm, cpx* i, double* o, int cs, int cd, unsigned f) {
        return fftw_plan_many_dft_c2r(1, &n, hm, i, nullptr, cs, cd, o, nullptr, 1, n, f);
    }
    static void exec_c2c(plan p, cpx* i, cpx* o) { fftw_execute_dft(p, i, o); }
    static void exec_r2c(plan p, double* i, cpx* o) { fftw_execute_dft_r2c(p, i, o); }
    static void exec_c2r(plan p, cpx* i, double* o) { fftw_execute_dft_c2r(p, i, o); }
    static void destroy(plan p) { fftw_destroy_plan(p); }
    static std::string export_wisdom() {
        char* s = fftw_export_wisdom_to_string();
        std::string r = s ? s : "";
        std::free(s);
        return r;
    }
    static bool import_wisdom(const std::string& w) { return fftw_import_wisdom_from_string(w.c_str()) != 0; }
};

template <> struct api<float> {
    using plan = fftwf_plan;
    using cpx = fftwf_complex;
    static void* malloc(std::size_t b) { return fftwf_malloc(b); }
    static void free(void* p) { fftwf_free(p); }
    static int alignment_of(const void* p) { return fftwf_alignment_of((float*)p); }
    static plan many_c2c(int n, int hm, cpx* i, cpx* o, int sign, unsigned f, bool tr = false) {
        return fftwf_plan_many_dft(1, &n, hm, i, nullptr, 1, n, o, nullptr, tr ? hm : 1, tr ? 1 : n, sign, f);
    }
    static plan many_r2c(int n, int hm, float* i, cpx* o, int cs, int cd, unsigned f) {
        return fftwf_plan_many_dft_r2c(1, &n, hm, i, nullptr, 1, n, o, nullptr, cs, cd, f);
    }
    static plan many_c2r(int n, int hm, cpx* i, float* o, int cs, int cd, unsigned f) {
        return fftwf_plan_many_dft_c2r(1, &n, hm, i, nullptr, cs, cd, o, nullptr, 1, n, f);
    }
    static void exec_c2c(plan p, cpx* i, cpx* o) { fftwf_execute_dft(p, i, o); }
    static void exec_r2c(plan p, float* i, cpx* o) { fftwf_execute_dft_r2c(p, i, o); }
    static void exec_c2r(plan p, cpx* i, float* o) { fftwf_execute_dft_c2r(p, i, o); }
    static void destroy(plan p) { fftwf_destroy_plan(p); }
    static std::string export_wisdom() {
        char* s = fftwf_export_wisdom_to_string();
        std::string r = s ? s : "";
        std::free(s);
        return r;
    }
    static bool import_wisdom(const std::string& w) { return fftwf_import_wisdom_from_string(w.c_str()) != 0; }
};

using Key = std::tuple<int, int, bool, int>;  // kind, n, inplace, howmany

template <class T>
std::map<Key, std::shared_ptr<const FftPlan<T>>>& cache() {
    static std::map<Key, std::shared_ptr<const FftPlan<T>>> c;
    return c;
}

}  // namespace

void set_planner_effort(PlannerEffort e) { g_effort.store(static_cast<int>(e)); }
PlannerEffort planner_effort() { return static_cast<PlannerEffort>(g_effort.load()); }

// ---- AlignedBuffer -----------------------------------------------------------
template <class T> struct scalar_of { using type = T; };
template <class R> struct scalar_of<std::complex<R>> { using type = R; };

template <class T>
void AlignedBuffer<T>::resize(std::size_t n) {
    if (n <= n_ && p_) return;
    release();
    void* p = api<typename scalar_of<T>::type>::malloc(sizeof(T) * (n ? n : 1));
    if (!p) throw std::bad_alloc();
    p_ = static_cast<T*>(p);
    n_ = n;
}
template <class T>
void AlignedBuffer<T>::release() {
    if (p_) api<typename scalar_of<T>::type>::free(p_);
    p_ = nullptr;
    n_ = 0;
}

template class AlignedBuffer<float>;
template class AlignedBuffer<double>;
template class AlignedBuffer<std::complex<float>>;
template class AlignedBuffer<std::complex<double>>;

// ---- FftPlan -----------------------------------------------------------------
template <class T>
FftPlan<T>::FftPlan(FftKind kind, int n, bool inplace, int howmany, bool one_off)
    : kind_(kind), n_(n), inplace_(inplace), howmany_(howmany) {
    require(n >= 1, "FFT size n=", n, " must be >= 1");
    require(howmany >= 1, "FFT batch count howmany=", howmany, " must be >= 1");
    using A = api<T>;
    using cpx = typename A::cpx;
    const std::size_t nc = static_cast<std::size_t>(n / 2 + 1) * howmany;
    const std::size_t nn = static_cast<std::size_t>(n) * howmany;
    const unsigned flags = one_off ? FFTW_ESTIMATE : fftw_flags(static_cast<long long>(n) * howmany);
    // Planning may overwrite its arrays (FFTW_MEASURE), so it runs on scratch buffers.
    typename A::plan p = nullptr;
    const int cs = 1, cd = n / 2 + 1;  // complex-side stride and distance
    if (kind == FftKind::Forward || kind == FftKind::Backward) {
        AlignedBuffer<std::complex<T>> a(nn), b(inplace ? 0 : nn);
        cpx* in = reinterpret_cast<cpx*>(a.data());
        cpx* out = inplace ? in : reinterpret_cast<cpx*>(b.data());
        p = A::many_c2c(n, howmany, in, out, kind == FftKind::Forward ? FFTW_FORWARD : FFTW_BACKWARD, flags);
    } else if (kind == FftKind::ForwardTransposed) {
        require(!inplace, "transposed-output FFTs are out of place");
        AlignedBuffer<std::complex<T>> a(nn), b(nn);
        p = A::many_c2c(n, howmany, reinterpret_cast<cpx*>(a.data()), reinterpret_cast<cpx*>(b.data()),
                        FFTW_FORWARD, flags, true);
    } else if (kind == FftKind::R2C) {
        require(!inplace, "in-place real FFTs are not supported");
        AlignedBuffer<T> a(nn);
        AlignedBuffer<std::complex<T>> b(nc);
        p = A::many_r2c(n, howmany, a.data(), reinterpret_cast<cpx*>(b.data()), cs, cd, flags);
    } else {
        require(!inplace, "in-place real FFTs are not supported");
        AlignedBuffer<std::complex<T>> a(nc);
        AlignedBuffer<T> b(nn);
        p = A::many_c2r(n, howmany, reinterpret_cast<cpx*>(a.data()), b.data(), cs, cd, flags);
    }
    if (!p) throw std::runtime_error("FFTW could not create a plan for n=" + std::to_string(n));
    plan_ = static_cast<void*>(p);
}

template <class T>
FftPlan<T>::~FftPlan() {
    std::lock_guard<std::mutex> lock(planner_mutex());
    api<T>::destroy(static_cast<typename api<T>::plan>(plan_));
}

template <class T>
void FftPlan<T>::check_aligned(const void* p) const {
    if (api<T>::alignment_of(p) != 0)
        throw std::logic_error("scatclust internal error: FFT buffer is not SIMD-aligned");
}

template <class T>
void FftPlan<T>::c2c(const complex* in, complex* out) const {
    check_aligned(in);
    check_aligned(out);
    if (inplace_ != (static_cast<const void*>(in) == static_cast<void*>(out)))
        throw std::logic_error("scatclust internal error: FFT plan in-place mismatch");
    using cpx = typename api<T>::cpx;
    api<T>::exec_c2c(static_cast<typename api<T>::plan>(plan_),
                     reinterpret_cast<cpx*>(const_cast<complex*>(in)), reinterpret_cast<cpx*>(out));
}

template <class T>
void FftPlan<T>::r2c(const T* in, complex* out) const {
    check_aligned(in);
    check_aligned(out);
    using cpx = typename api<T>::cpx;
    api<T>::exec_r2c(static_cast<typename api<T>::plan>(plan_), const_cast<T*>(in),
                     reinterpret_cast<cpx*>(out));
}

template <class T>
void FftPlan<T>::c2r(complex* in, T* out) const {
    check_aligned(in);
    check_aligned(out);
    using cpx = typename api<T>::cpx;
    api<T>::exec_c2r(static_cast<typename api<T>::plan>(plan_), reinterpret_cast<cpx*>(in), out);
}

template <class T>
std::shared_ptr<const FftPlan<T>> get_plan(FftKind kind, int n, bool inplace, int howmany, bool one_off) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    auto& c = cache<T>();
    Key key{static_cast<int>(kind), n, inplace, howmany};
    auto it = c.find(key);
    if (it != c.end()) return it->second;
    auto plan = std::make_shared<const FftPlan<T>>(kind, n, inplace, howmany, one_off);
    c.emplace(key, plan);
    return plan;
}

template class FftPlan<float>;
template class FftPlan<double>;
template std::shared_ptr<const FftPlan<float>> get_plan<float>(FftKind, int, bool, int, bool);
template std::shared_ptr<const FftPlan<double>> get_plan<double>(FftKind, int, bool, int, bool);

std::size_t plan_cache_size() {
    std::lock_guard<std::mutex> lock(planner_mutex());
    return cache<float>().size() + cache<double>().size();
}

void clear_plan_cache() {
    // Move the plans out first: their destructors take the planner mutex themselves.
    std::map<Key, std::shared_ptr<const FftPlan<float>>> f;
    std::map<Key, std::shared_ptr<const FftPlan<double>>> d;
    {
        std::lock_guard<std::mutex> lock(planner_mutex());
        f.swap(cache<float>());
        d.swap(cache<double>());
    }
}

std::string export_wisdom(const std::string& precision) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    if (precision == "float64") return api<double>::export_wisdom();
    if (precision == "float32") return api<float>::export_wisdom();
    fail("precision='", precision, "' must be 'float32' or 'float64'");
}

bool import_wisdom(const std::string& precision, const std::string& wisdom) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    if (precision == "float64") return api<double>::import_wisdom(wisdom);
    if (precision == "float32") return api<float>::import_wisdom(wisdom);
    fail("precision='", precision, "' must be 'float32' or 'float64'");
}

void forget_wisdom() {
    std::lock_guard<std::mutex> lock(planner_mutex());
    fftw_forget_wisdom();
    fftwf_forget_wisdom();
}

}  // namespace scatclust
