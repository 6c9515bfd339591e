#include "common.hpp"
#include "scatclust/parallel.hpp"

#include <omp.h>

void bind_parallel(nb::module_& m) {
    m.def("set_num_threads", &scatclust::set_default_num_threads, nb::arg("n"),
          "Default thread count for core kernels (n <= 0 restores the OpenMP default).");
    m.def("get_num_threads", &scatclust::default_num_threads,
          "Thread count core kernels use when none is given.");
    m.def("omp_max_threads", []() { return omp_get_max_threads(); });
}
