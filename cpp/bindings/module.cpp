#include "common.hpp"

NB_MODULE(_core, m) {
    m.doc() = "scatclust C++/OpenMP core (FFTW3). Use the Python front ends in scatclust.";
    // Kernel objects referenced from torch autograd graphs (saved on the Function's ctx) are
    // released by torch after this module's teardown when a graph is still alive at
    // interpreter exit; nanobind would then print "leaked instance" warnings for objects that
    // are freed correctly a moment later.
    nb::set_leak_warnings(false);
    bind_parallel(m);
    bind_fft(m);
    bind_filter_bank(m);
    bind_wavelet(m);
    bind_stft(m);
    bind_student_t(m);
    bind_kmeans(m);
    bind_moments(m);
    bind_scattering(m);
}
