#include "common.hpp"

NB_MODULE(_core, m) {
    m.doc() = "scatclust C++/OpenMP core (FFTW3). Use the Python front ends in scatclust.";
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
