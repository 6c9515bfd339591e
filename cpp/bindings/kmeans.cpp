#include "common.hpp"
#include "scatclust/errors.hpp"
#include "scatclust/kmeans.hpp"

#include <cstdint>

namespace sc = scatclust;

namespace {

template <class A>
void check_len(const A& a, std::size_t n, const char* name, const char* what) {
    sc::require(a.shape(0) == n, name, " has length ", a.shape(0), "; expected ", n, " (", what, ")");
}

template <class A>
void check_centres(const A& c, std::size_t d, const char* name) {
    sc::require(c.shape(1) == d, name, " has ", c.shape(1), " features per row; expected n_features=", d);
}

template <class T>
const T* weights_ptr(const std::optional<carray<T, nb::ndim<1>>>& w, std::size_t n) {
    if (!w) return nullptr;
    check_len(*w, n, "sample_weight", "one weight per row of X");
    return w->data();
}

template <class T>
void def_kmeans(nb::module_& m) {
    using W = std::optional<carray<T, nb::ndim<1>>>;
    m.def("kmeans_assign",
          [](carray<T, nb::ndim<2>> X, carray<T, nb::ndim<2>> C, marray<std::int32_t, nb::ndim<1>> labels,
             marray<T, nb::ndim<1>> min_sqdist, int n_threads) {
              const std::size_t n = X.shape(0), d = X.shape(1), k = C.shape(0);
              check_centres(C, d, "centers");
              check_len(labels, n, "labels", "one per row of X");
              check_len(min_sqdist, n, "min_sqdist", "one per row of X");
              sc::kmeans_assign<T>(X.data(), n, d, C.data(), k, labels.data(), min_sqdist.data(), n_threads);
          },
          nb::arg("X").noconvert(), nb::arg("centers").noconvert(), nb::arg("labels").noconvert(),
          nb::arg("min_sqdist").noconvert(), nb::arg("n_threads") = 0, nb::call_guard<nb::gil_scoped_release>(),
          "Nearest centre of each row of X (n, d) among centers (k, d): writes labels (int32) and squared "
          "distances.");
    m.def("kmeans_lloyd_step",
          [](carray<T, nb::ndim<2>> X, W w, carray<T, nb::ndim<2>> C_old, marray<std::int32_t, nb::ndim<1>> labels,
             marray<T, nb::ndim<1>> min_sqdist, marray<T, nb::ndim<2>> C_new, marray<T, nb::ndim<1>> weight_in_clusters,
             marray<T, nb::ndim<1>> center_shift_sq, bool update_centers, int n_threads) {
              const std::size_t n = X.shape(0), d = X.shape(1), k = C_old.shape(0);
              check_centres(C_old, d, "centers_old");
              check_len(labels, n, "labels", "one per row of X");
              check_len(min_sqdist, n, "min_sqdist", "one per row of X");
              sc::require(C_new.shape(0) == k && C_new.shape(1) == d, "centers_new shape (", C_new.shape(0), ", ",
                          C_new.shape(1), ") must be (", k, ", ", d, ")");
              check_len(weight_in_clusters, k, "weight_in_clusters", "one per centre");
              check_len(center_shift_sq, k, "center_shift_sq", "one per centre");
              const T* wp = weights_ptr<T>(w, n);
              return sc::kmeans_lloyd_step<T>(X.data(), wp, n, d, C_old.data(), k, labels.data(), min_sqdist.data(),
                                              C_new.data(), weight_in_clusters.data(), center_shift_sq.data(),
                                              update_centers, n_threads);
          },
          nb::arg("X").noconvert(), nb::arg("sample_weight").noconvert().none(), nb::arg("centers_old").noconvert(),
          nb::arg("labels").noconvert(), nb::arg("min_sqdist").noconvert(), nb::arg("centers_new").noconvert(),
          nb::arg("weight_in_clusters").noconvert(), nb::arg("center_shift_sq").noconvert(),
          nb::arg("update_centers") = true, nb::arg("n_threads") = 0, nb::call_guard<nb::gil_scoped_release>(),
          "One Lloyd iteration on preallocated buffers; labels is INOUT (previous labels in, new out). "
          "Returns the number of labels that changed.");
    m.def("kmeans_inertia",
          [](carray<T, nb::ndim<2>> X, W w, carray<T, nb::ndim<2>> C, carray<std::int32_t, nb::ndim<1>> labels,
             int n_threads) {
              const std::size_t n = X.shape(0), d = X.shape(1), k = C.shape(0);
              check_centres(C, d, "centers");
              check_len(labels, n, "labels", "one per row of X");
              const T* wp = weights_ptr<T>(w, n);
              return sc::kmeans_inertia<T>(X.data(), wp, n, d, C.data(), k, labels.data(), n_threads);
          },
          nb::arg("X").noconvert(), nb::arg("sample_weight").noconvert().none(), nb::arg("centers").noconvert(),
          nb::arg("labels").noconvert(), nb::arg("n_threads") = 0, nb::call_guard<nb::gil_scoped_release>(),
          "Exact inertia sum_i w_i ||x_i - centers[labels_i]||^2 (float64).");
    m.def("kmeans_plusplus",
          [](carray<T, nb::ndim<2>> X, W w, marray<T, nb::ndim<2>> C, marray<std::int64_t, nb::ndim<1>> indices,
             int n_local_trials, std::uint64_t seed, int n_threads) {
              const std::size_t n = X.shape(0), d = X.shape(1), k = C.shape(0);
              check_centres(C, d, "centers");
              check_len(indices, k, "indices", "one per centre");
              const T* wp = weights_ptr<T>(w, n);
              sc::kmeans_plusplus<T>(X.data(), wp, n, d, k, n_local_trials, seed, C.data(), indices.data(),
                                     n_threads);
          },
          nb::arg("X").noconvert(), nb::arg("sample_weight").noconvert().none(), nb::arg("centers").noconvert(),
          nb::arg("indices").noconvert(), nb::arg("n_local_trials"), nb::arg("seed"), nb::arg("n_threads") = 0,
          nb::call_guard<nb::gil_scoped_release>(),
          "Greedy k-means++ seeding into centers (k, d) and indices (k,), reproducible for a given seed.");
}

}  // namespace

void bind_kmeans(nb::module_& m) {
    m.def("kmeans_isa_level", &sc::kmeans_isa_level,
          "Build of the k-means assignment kernel in use: 1 baseline, 3 x86-64-v3, 4 x86-64-v4.");
    def_kmeans<float>(m);
    def_kmeans<double>(m);
}
