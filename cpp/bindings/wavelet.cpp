#include "common.hpp"
#include "scatclust/errors.hpp"
#include "scatclust/wavelet_transform.hpp"

namespace sc = scatclust;

template <class T>
static void def_wt(nb::module_& m, const char* name) {
    using W = sc::WaveletTransform<T>;
    using C = std::complex<T>;
    nb::class_<W>(m, name)
        .def("__init__",
             [](W* self, carray<double, nb::ndim<2>> filters, const std::vector<int>& log2_sub, int n_input,
                int pad_left, const std::vector<int>& ind_start, const std::vector<int>& ind_end, int mode) {
                 sc::require(mode >= 0 && mode <= 2, "padding mode=", mode, " must be 0, 1 or 2");
                 new (self) W(filters.data(), static_cast<int>(filters.shape(0)), static_cast<int>(filters.shape(1)),
                              log2_sub, n_input, pad_left, ind_start, ind_end, static_cast<sc::PadMode>(mode));
             },
             nb::arg("filters").noconvert(), nb::arg("log2_sub"), nb::arg("n_input"), nb::arg("pad_left"),
             nb::arg("ind_start"), nb::arg("ind_end"), nb::arg("mode"))
        .def_prop_ro("n_filters", &W::n_filters)
        .def_prop_ro("n_input", &W::n_input)
        .def_prop_ro("n_padded", &W::n_padded)
        .def("out_length", &W::out_length, nb::arg("f"))
        .def("execute_complex",
             [](const W& w, carray<T, nb::ndim<2>> x, marray<C> out, bool batch_major, int n_threads) {
                 sc::require(static_cast<int>(x.shape(1)) == w.n_input(), "x has ", x.shape(1),
                             " samples per signal, the transform was built for N=", w.n_input());
                 sc::require(out.size() == x.shape(0) * w.total_out_length(), "out has ", out.size(),
                             " elements, expected ", x.shape(0) * w.total_out_length());
                 w.execute(x.data(), x.shape(0), out.data(), false, batch_major, n_threads);
             },
             nb::arg("x").noconvert(), nb::arg("out").noconvert(), nb::arg("batch_major"),
             nb::arg("n_threads") = 0, nb::call_guard<nb::gil_scoped_release>())
        .def("execute_modulus",
             [](const W& w, carray<T, nb::ndim<2>> x, marray<T> out, bool batch_major, int n_threads) {
                 sc::require(static_cast<int>(x.shape(1)) == w.n_input(), "x has ", x.shape(1),
                             " samples per signal, the transform was built for N=", w.n_input());
                 sc::require(out.size() == x.shape(0) * w.total_out_length(), "out has ", out.size(),
                             " elements, expected ", x.shape(0) * w.total_out_length());
                 w.execute(x.data(), x.shape(0), out.data(), true, batch_major, n_threads);
             },
             nb::arg("x").noconvert(), nb::arg("out").noconvert(), nb::arg("batch_major"),
             nb::arg("n_threads") = 0, nb::call_guard<nb::gil_scoped_release>());
}

void bind_wavelet(nb::module_& m) {
    def_wt<float>(m, "WaveletTransformF32");
    def_wt<double>(m, "WaveletTransformF64");
    m.def("pad_signal",
          [](carray<double, nb::ndim<1>> x, int n_padded, int left, int mode) {
              const int n = static_cast<int>(x.shape(0));
              sc::require(n >= 1, "x must not be empty");
              sc::require(left >= 0 && n_padded >= n + left, "n_padded=", n_padded, " and left=", left,
                          " must satisfy n_padded >= N + left (N=", n, ")");
              sc::require(mode >= 0 && mode <= 2, "padding mode=", mode, " must be 0, 1 or 2");
              if (mode == 0) sc::require(std::max(left, n_padded - n - left) < n, "reflect pad must be < N=", n);
              std::vector<double> out(n_padded);
              sc::pad_signal<double>(x.data(), n, out.data(), n_padded, left, static_cast<sc::PadMode>(mode));
              return out;
          },
          nb::arg("x").noconvert(), nb::arg("n_padded"), nb::arg("left"), nb::arg("mode"));
}
