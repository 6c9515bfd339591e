// Thread-count policy shared by all kernels.
// n_threads <= 0 in a call means "use the process default", which is the value set by
// set_num_threads(), or, if never set, omp_get_max_threads() (respects OMP_NUM_THREADS).
// Kernels use a num_threads(n) clause rather than omp_set_num_threads so that they never
// change the OpenMP state that other libraries in the process (torch, BLAS) see.
#pragma once

namespace scatclust {

void set_default_num_threads(int n);   // n <= 0 resets to the OpenMP default
int default_num_threads();             // the value kernels use when given n <= 0
int resolve_num_threads(int n);        // n > 0 -> n, otherwise default_num_threads()

}  // namespace scatclust

#include <exception>
#include <mutex>

namespace scatclust {

// An exception escaping an OpenMP region terminates the process. Kernels run the body of
// each parallel region through guard.run(...) and call guard.rethrow() after the region,
// so errors (bad_alloc, invalid input found late) reach Python as exceptions.
class ParallelGuard {
public:
    template <class F>
    void run(F&& f) noexcept {
        try {
            f();
        } catch (...) {
            std::lock_guard<std::mutex> lock(m_);
            if (!err_) err_ = std::current_exception();
        }
    }
    void rethrow() const {
        if (err_) std::rethrow_exception(err_);
    }

private:
    std::exception_ptr err_;
    std::mutex m_;
};

}  // namespace scatclust
