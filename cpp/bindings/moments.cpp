#include "common.hpp"
#include "scatclust/errors.hpp"
#include "scatclust/moments.hpp"

namespace sc = scatclust;

template <class T>
static void def_moments(nb::module_& m, const char* name) {
    using M = sc::ScatteringMoments<T>;
    using C = std::complex<T>;
    auto check_x = [](const M& k, std::size_t b, std::size_t c, std::size_t n) {
        sc::require(static_cast<long long>(c) == k.n_channels() && static_cast<long long>(n) == k.n_input(),
                    "x has shape (", b, ", ", c, ", ", n, "); the kernel was built for (B, n_channels=",
                    k.n_channels(), ", n_input=", k.n_input(), ")");
    };
    nb::class_<M>(m, name,
                  "Scattering-spectra moment kernel (raw pooled moments and their VJP); see "
                  "cpp/include/scatclust/moments.hpp for the definitions.")
        .def("__init__",
             [](M* self, carray<double, nb::ndim<2>> psi_f, carray<double, nb::ndim<1>> phi_f, int n_input,
                int padding, int n_channels, carray<std::int32_t, nb::ndim<2>> terms) {
                 sc::require(phi_f.shape(0) == psi_f.shape(1), "phi_f has ", phi_f.shape(0),
                             " samples; expected P=", psi_f.shape(1), " like psi_f");
                 sc::require(terms.shape(1) == 5, "terms has shape (", terms.shape(0), ", ", terms.shape(1),
                             "); expected (n_terms, 5) rows (kind, ca, ia, cb, ib)");
                 new (self) M(psi_f.data(), static_cast<int>(psi_f.shape(0)), static_cast<int>(psi_f.shape(1)),
                              phi_f.data(), n_input, padding, n_channels, terms.data(),
                              static_cast<int>(terms.shape(0)));
             },
             nb::arg("psi_f").noconvert(), nb::arg("phi_f").noconvert(), nb::arg("n_input"), nb::arg("padding"),
             nb::arg("n_channels"), nb::arg("terms").noconvert())
        .def_prop_ro("J", &M::J)
        .def_prop_ro("n_padded", &M::n_padded)
        .def_prop_ro("n_input", &M::n_input)
        .def_prop_ro("n_channels", &M::n_channels)
        .def_prop_ro("n_terms", &M::n_terms)
        .def("n_out", &M::n_out, nb::arg("kernel"), nb::arg("stride"), nb::arg("offset"))
        .def("forward",
             [check_x](const M& k, carray<T, nb::ndim<3>> x, marray<C, nb::ndim<3>> out, int kernel, int stride,
                       int offset, int n_threads) {
                 check_x(k, x.shape(0), x.shape(1), x.shape(2));
                 const int no = k.n_out(kernel, stride, offset);
                 sc::require(out.shape(0) == x.shape(0) && static_cast<long long>(out.shape(1)) == k.n_terms() &&
                                 static_cast<long long>(out.shape(2)) == no,
                             "out has shape (", out.shape(0), ", ", out.shape(1), ", ", out.shape(2),
                             "); expected (B=", x.shape(0), ", n_terms=", k.n_terms(), ", n_out=", no, ")");
                 k.forward(x.data(), x.shape(0), out.data(), kernel, stride, offset, n_threads);
             },
             nb::arg("x").noconvert(), nb::arg("out").noconvert(), nb::arg("kernel"), nb::arg("stride"),
             nb::arg("offset"), nb::arg("n_threads") = 0, nb::call_guard<nb::gil_scoped_release>())
        .def("backward",
             [check_x](const M& k, carray<T, nb::ndim<3>> x, carray<C, nb::ndim<3>> grad_out,
                       marray<T, nb::ndim<3>> grad_x, int kernel, int stride, int offset, int n_threads) {
                 check_x(k, x.shape(0), x.shape(1), x.shape(2));
                 const int no = k.n_out(kernel, stride, offset);
                 sc::require(grad_out.shape(0) == x.shape(0) &&
                                 static_cast<long long>(grad_out.shape(1)) == k.n_terms() &&
                                 static_cast<long long>(grad_out.shape(2)) == no,
                             "grad_out has shape (", grad_out.shape(0), ", ", grad_out.shape(1), ", ",
                             grad_out.shape(2), "); expected (B=", x.shape(0), ", n_terms=", k.n_terms(),
                             ", n_out=", no, ")");
                 sc::require(grad_x.shape(0) == x.shape(0) && grad_x.shape(1) == x.shape(1) &&
                                 grad_x.shape(2) == x.shape(2),
                             "grad_x has shape (", grad_x.shape(0), ", ", grad_x.shape(1), ", ", grad_x.shape(2),
                             "); expected the shape of x (", x.shape(0), ", ", x.shape(1), ", ", x.shape(2), ")");
                 k.backward(x.data(), x.shape(0), grad_out.data(), grad_x.data(), kernel, stride, offset,
                            n_threads);
             },
             nb::arg("x").noconvert(), nb::arg("grad_out").noconvert(), nb::arg("grad_x").noconvert(),
             nb::arg("kernel"), nb::arg("stride"), nb::arg("offset"), nb::arg("n_threads") = 0,
             nb::call_guard<nb::gil_scoped_release>());
}

void bind_moments(nb::module_& m) {
    def_moments<float>(m, "ScatteringMomentsF32");
    def_moments<double>(m, "ScatteringMomentsF64");
}
