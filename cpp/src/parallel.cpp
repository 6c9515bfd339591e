#include "scatclust/parallel.hpp"

#include <atomic>
#include <omp.h>

namespace scatclust {

namespace {
std::atomic<int> g_default_threads{0};
}

void set_default_num_threads(int n) { g_default_threads.store(n > 0 ? n : 0); }

int default_num_threads() {
    int n = g_default_threads.load();
    return n > 0 ? n : omp_get_max_threads();
}

int resolve_num_threads(int n) { return n > 0 ? n : default_num_threads(); }

}  // namespace scatclust
