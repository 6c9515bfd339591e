#include "common.hpp"
#include "scatclust/errors.hpp"
#include "scatclust/scattering.hpp"

#include <nanobind/stl/tuple.h>

namespace sc = scatclust;

namespace {

template <class T>
void def_scattering(nb::module_& m, const char* name) {
    using S = sc::Scattering1D<T>;
    nb::class_<S>(m, name)
        .def("__init__",
             [](S* self, carray<double, nb::ndim<2>> psi1_f, carray<double, nb::ndim<2>> psi2_f,
                carray<double, nb::ndim<1>> phi_f, const std::vector<int>& j1, const std::vector<int>& j2,
                int log2_T, int n_input, int pad_left, const std::vector<int>& ind_start,
                const std::vector<int>& ind_end, int max_order, int oversampling) {
                 const std::size_t np = phi_f.shape(0);
                 sc::require(psi1_f.shape(1) == np && (psi2_f.shape(0) == 0 || psi2_f.shape(1) == np),
                             "psi1_f / psi2_f must have N_padded=", np, " columns, got ", psi1_f.shape(1),
                             " / ", psi2_f.shape(1));
                 new (self) S(psi1_f.data(), static_cast<int>(psi1_f.shape(0)), psi2_f.data(),
                              static_cast<int>(psi2_f.shape(0)), phi_f.data(), static_cast<int>(np), j1, j2,
                              log2_T, n_input, pad_left, ind_start, ind_end, max_order, oversampling);
             },
             nb::arg("psi1_f").noconvert(), nb::arg("psi2_f").noconvert(), nb::arg("phi_f").noconvert(),
             nb::arg("j1"), nb::arg("j2"), nb::arg("log2_T"), nb::arg("n_input"), nb::arg("pad_left"),
             nb::arg("ind_start"), nb::arg("ind_end"), nb::arg("max_order"), nb::arg("oversampling"),
             nb::call_guard<nb::gil_scoped_release>())
        .def_prop_ro("n_input", &S::n_input)
        .def_prop_ro("n_padded", &S::n_padded)
        .def_prop_ro("n_paths", &S::n_paths)
        .def_prop_ro("n_time", &S::n_time)
        .def_prop_ro("path_n1", &S::path_n1)
        .def_prop_ro("path_n2", &S::path_n2)
        .def("forward",
             [](const S& s, carray<T, nb::ndim<2>> x, marray<T, nb::ndim<3>> out, int n_threads) {
                 sc::require(static_cast<int>(x.shape(1)) == s.n_input(), "x has ", x.shape(1),
                             " samples per signal, the transform was built for N=", s.n_input());
                 sc::require(out.shape(0) == x.shape(0) && static_cast<int>(out.shape(1)) == s.n_paths() &&
                                 static_cast<int>(out.shape(2)) == s.n_time(),
                             "out has shape (", out.shape(0), ", ", out.shape(1), ", ", out.shape(2),
                             "), expected (", x.shape(0), ", ", s.n_paths(), ", ", s.n_time(), ")");
                 s.forward(x.data(), x.shape(0), out.data(), n_threads);
             },
             nb::arg("x").noconvert(), nb::arg("out").noconvert(), nb::arg("n_threads") = 0,
             nb::call_guard<nb::gil_scoped_release>(),
             "IN x (batch, N); OUT out (batch, n_paths, n_time).")
        .def("vjp",
             [](const S& s, carray<T, nb::ndim<2>> x, carray<T, nb::ndim<3>> grad_out,
                marray<T, nb::ndim<2>> grad_x, int n_threads) {
                 sc::require(static_cast<int>(x.shape(1)) == s.n_input(), "x has ", x.shape(1),
                             " samples per signal, the transform was built for N=", s.n_input());
                 sc::require(grad_out.shape(0) == x.shape(0) && static_cast<int>(grad_out.shape(1)) == s.n_paths() &&
                                 static_cast<int>(grad_out.shape(2)) == s.n_time(),
                             "grad_output has shape (", grad_out.shape(0), ", ", grad_out.shape(1), ", ",
                             grad_out.shape(2), "), expected (", x.shape(0), ", ", s.n_paths(), ", ", s.n_time(), ")");
                 sc::require(grad_x.shape(0) == x.shape(0) && grad_x.shape(1) == x.shape(1),
                             "grad_x must have the shape of x");
                 s.vjp(x.data(), x.shape(0), grad_out.data(), grad_x.data(), n_threads);
             },
             nb::arg("x").noconvert(), nb::arg("grad_output").noconvert(), nb::arg("grad_x").noconvert(),
             nb::arg("n_threads") = 0, nb::call_guard<nb::gil_scoped_release>(),
             "IN x (batch, N), grad_output (batch, n_paths, n_time); OUT grad_x (batch, N).")
        .def("fft_census",
             [](const S& s, bool vjp) {
                 std::vector<std::tuple<int, int, bool, long long>> out;
                 for (const auto& e : s.fft_census(vjp))
                     out.emplace_back(static_cast<int>(e.kind), e.n, e.inplace, e.count);
                 return out;
             },
             nb::arg("vjp") = false,
             "FFTs executed per signal: list of (kind, n, inplace, count); kind 0 forward c2c, "
             "1 inverse c2c, 2 r2c, 3 c2r.");
}

template <class T>
void def_census(nb::module_& m, const char* name) {
    m.def(name,
          [](const std::vector<std::tuple<int, int, bool, long long>>& census, std::size_t batch, int n_threads) {
              std::vector<sc::FftCensusEntry> c;
              for (const auto& e : census) {
                  const int k = std::get<0>(e);
                  sc::require(k >= 0 && k <= 3, "FFT kind=", k, " must be 0..3");
                  c.push_back({static_cast<sc::FftKind>(k), std::get<1>(e), std::get<2>(e), std::get<3>(e)});
              }
              nb::gil_scoped_release release;
              sc::run_fft_census<T>(c, batch, n_threads);
          },
          nb::arg("census"), nb::arg("batch"), nb::arg("n_threads") = 0,
          "Execute the FFTs of `census` (per signal) for `batch` signals: bare FFT time.");
}

}  // namespace

void bind_scattering(nb::module_& m) {
    def_scattering<float>(m, "Scattering1DF32");
    def_scattering<double>(m, "Scattering1DF64");
    def_census<float>(m, "run_fft_census_f32");
    def_census<double>(m, "run_fft_census_f64");
}
