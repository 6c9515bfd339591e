#include "common.hpp"
#include "scatclust/errors.hpp"
#include "scatclust/student_t.hpp"


namespace sc = scatclust;

namespace {

template <class T>
using mat = carray<T, nb::ndim<2>>;
template <class T>
using omat = marray<T, nb::ndim<2>>;

template <class A, class B>
void check_features(const A& z, const B& mu) {
    sc::require(z.shape(1) == mu.shape(1), "z has ", z.shape(1), " features but mu has ", mu.shape(1));
}

template <class A>
void check_shape(const A& a, const char* name, std::size_t r, std::size_t c) {
    sc::require(a.shape(0) == r && a.shape(1) == c, name, " has shape (", a.shape(0), ", ", a.shape(1),
                "); expected (", r, ", ", c, ")");
}

template <class T>
void def_student_t(nb::module_& m) {
    m.def("student_t_soft_assign",
          [](mat<T> z, mat<T> mu, double alpha, omat<T> q, int n_threads) {
              check_features(z, mu);
              check_shape(q, "q", z.shape(0), mu.shape(0));
              sc::student_t_soft_assign<T>(z.data(), mu.data(), z.shape(0), z.shape(1), mu.shape(0), alpha,
                                           q.data(), n_threads);
          },
          nb::arg("z").noconvert(), nb::arg("mu").noconvert(), nb::arg("alpha"), nb::arg("q").noconvert(),
          nb::arg("n_threads") = 0, nb::call_guard<nb::gil_scoped_release>(),
          "Student-t soft assignment q (n, k) of z (n, d) to centres mu (k, d), written into q.");
    m.def("student_t_target",
          [](mat<T> q, omat<T> p, marray<T, nb::ndim<1>> f, int n_threads) {
              check_shape(p, "p", q.shape(0), q.shape(1));
              sc::require(f.shape(0) == q.shape(1), "f has ", f.shape(0), " entries; expected ", q.shape(1));
              sc::student_t_target<T>(q.data(), q.shape(0), q.shape(1), p.data(), f.data(), n_threads);
          },
          nb::arg("q").noconvert(), nb::arg("p").noconvert(), nb::arg("f").noconvert(), nb::arg("n_threads") = 0,
          nb::call_guard<nb::gil_scoped_release>(),
          "DEC target distribution p (n, k) of q, with f = column sums of q over all rows.");
    m.def("student_t_kl",
          [](mat<T> p, mat<T> q, int n_threads) {
              check_shape(q, "q", p.shape(0), p.shape(1));
              return sc::student_t_kl<T>(p.data(), q.data(), p.shape(0), p.shape(1), n_threads);
          },
          nb::arg("p").noconvert(), nb::arg("q").noconvert(), nb::arg("n_threads") = 0,
          nb::call_guard<nb::gil_scoped_release>(), "KL(P || Q) summed over rows (float, computed in double).");
    m.def("student_t_vjp_q",
          [](mat<T> z, mat<T> mu, double alpha, mat<T> q, mat<T> G, omat<T> dz, omat<T> dmu, int n_threads) {
              check_features(z, mu);
              check_shape(q, "q", z.shape(0), mu.shape(0));
              check_shape(G, "G", z.shape(0), mu.shape(0));
              check_shape(dz, "dz", z.shape(0), z.shape(1));
              check_shape(dmu, "dmu", mu.shape(0), mu.shape(1));
              sc::student_t_vjp_q<T>(z.data(), mu.data(), z.shape(0), z.shape(1), mu.shape(0), alpha, q.data(),
                                     G.data(), dz.data(), dmu.data(), n_threads);
          },
          nb::arg("z").noconvert(), nb::arg("mu").noconvert(), nb::arg("alpha"), nb::arg("q").noconvert(),
          nb::arg("G").noconvert(), nb::arg("dz").noconvert(), nb::arg("dmu").noconvert(),
          nb::arg("n_threads") = 0, nb::call_guard<nb::gil_scoped_release>(),
          "Vector-Jacobian product of the soft assignment: G = dL/dq -> dz = dL/dz, dmu = dL/dmu.");
    m.def("student_t_kl_grad",
          [](mat<T> z, mat<T> mu, double alpha, mat<T> p, omat<T> dz, omat<T> dmu, int n_threads) {
              check_features(z, mu);
              check_shape(p, "p", z.shape(0), mu.shape(0));
              check_shape(dz, "dz", z.shape(0), z.shape(1));
              check_shape(dmu, "dmu", mu.shape(0), mu.shape(1));
              return sc::student_t_kl_grad<T>(z.data(), mu.data(), z.shape(0), z.shape(1), mu.shape(0), alpha,
                                              p.data(), dz.data(), dmu.data(), n_threads);
          },
          nb::arg("z").noconvert(), nb::arg("mu").noconvert(), nb::arg("alpha"), nb::arg("p").noconvert(),
          nb::arg("dz").noconvert(), nb::arg("dmu").noconvert(), nb::arg("n_threads") = 0,
          nb::call_guard<nb::gil_scoped_release>(),
          "KL(P || Q) (sum over rows, P constant) and its gradients dz, dmu; returns the loss.");
}

}  // namespace

void bind_student_t(nb::module_& m) {
    def_student_t<float>(m);
    def_student_t<double>(m);
}
