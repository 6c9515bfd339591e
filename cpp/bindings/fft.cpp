#include "common.hpp"
#include "scatclust/errors.hpp"
#include "scatclust/fft_plan.hpp"

namespace sc = scatclust;

template <class T>
static void def_fft(nb::module_& m) {
    using C = std::complex<T>;
    m.def("fft_c2c",
          [](carray<C, nb::ndim<2>> x, marray<C, nb::ndim<2>> out, bool forward, int n_threads) {
              sc::require(x.shape(0) == out.shape(0) && x.shape(1) == out.shape(1),
                          "out shape (", out.shape(0), ", ", out.shape(1), ") must equal x shape (",
                          x.shape(0), ", ", x.shape(1), ")");
              sc::fft_c2c_batch<T>(x.data(), out.data(), x.shape(0), static_cast<int>(x.shape(1)),
                                   forward, n_threads);
          },
          nb::arg("x").noconvert(), nb::arg("out").noconvert(), nb::arg("forward") = true,
          nb::arg("n_threads") = 0, nb::call_guard<nb::gil_scoped_release>());
    m.def("fft_r2c",
          [](carray<T, nb::ndim<2>> x, marray<C, nb::ndim<2>> out, int n_threads) {
              sc::require(x.shape(0) == out.shape(0) && out.shape(1) == x.shape(1) / 2 + 1,
                          "out shape (", out.shape(0), ", ", out.shape(1), ") must be (", x.shape(0),
                          ", ", x.shape(1) / 2 + 1, ")");
              sc::fft_r2c_batch<T>(x.data(), out.data(), x.shape(0), static_cast<int>(x.shape(1)),
                                   n_threads);
          },
          nb::arg("x").noconvert(), nb::arg("out").noconvert(), nb::arg("n_threads") = 0,
          nb::call_guard<nb::gil_scoped_release>());
}

void bind_fft(nb::module_& m) {
    def_fft<float>(m);
    def_fft<double>(m);
    m.def("plan_cache_size", &sc::plan_cache_size);
    m.def("clear_plan_cache", &sc::clear_plan_cache);
    m.def("set_planner_effort", [](int e) {
        sc::require(e >= 0 && e <= 3, "planner effort=", e,
                    " must be 0 (estimate), 1 (measure), 2 (patient) or 3 (auto)");
        sc::set_planner_effort(static_cast<sc::PlannerEffort>(e));
    });
    m.def("planner_effort", []() { return static_cast<int>(sc::planner_effort()); });
    m.def("export_wisdom", &sc::export_wisdom, nb::arg("precision"));
    m.def("import_wisdom", &sc::import_wisdom, nb::arg("precision"), nb::arg("wisdom"));
    m.def("forget_wisdom", &sc::forget_wisdom);
}
