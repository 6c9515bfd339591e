// Shared binding helpers. Compute calls release the GIL; arrays arrive as C-contiguous
// CPU ndarrays of the exact dtype (the Python front end makes the one explicit copy).
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <nanobind/stl/optional.h>
#include <complex>
#include <limits>

namespace nb = nanobind;

template <class T, class... Ex>
using carray = nb::ndarray<const T, nb::c_contig, nb::device::cpu, Ex...>;
template <class T, class... Ex>
using marray = nb::ndarray<T, nb::c_contig, nb::device::cpu, Ex...>;

void bind_parallel(nb::module_& m);
void bind_fft(nb::module_& m);
void bind_filter_bank(nb::module_& m);
void bind_wavelet(nb::module_& m);
void bind_stft(nb::module_& m);
void bind_student_t(nb::module_& m);
void bind_kmeans(nb::module_& m);
void bind_moments(nb::module_& m);
void bind_scattering(nb::module_& m);
