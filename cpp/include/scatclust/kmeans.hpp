// k-means kernels: assignment, one Lloyd iteration, exact inertia, greedy k-means++.
//
// Every call does one step on caller-owned buffers (the Python front end owns the loop,
// as in scikit-learn's _k_means_lloyd). Rows are processed in chunks of 256 under a static
// schedule; sums over rows are formed per block of rows (a fixed number of rows that does
// not depend on the thread count) and the block partials are added in block order, so
// results are bit-identical for any number of threads.
//
// Shapes: X (n, d) row-major, C (k, d) row-major, w (n) sample weights or nullptr (all 1).
// Accumulations (centre sums, cluster weights, inertia, potentials) are in double for both
// float and double inputs.
#pragma once
#include <cstddef>
#include <cstdint>

namespace scatclust {

// Build of the assignment kernel this process uses: 1 baseline, 3 x86-64-v3 (AVX2+FMA),
// 4 x86-64-v4 (AVX-512). Chosen once from the CPU; the environment variable
// SCATCLUST_KMEANS_ISA=baseline|x86-64-v3 (read at the first call) can lower it.
int kmeans_isa_level();

// Labels and squared distances of each row of X to its nearest centre.
// IN  X (n, d), C (k, d)
// OUT labels (n), min_sqdist (n) (may be nullptr when not needed)
// Ties go to the lowest centre index. Distances use the expansion ||x||^2 - 2 x.c + ||c||^2
// (clamped at 0), so they carry a relative rounding error of about eps * ||x||^2.
template <class T>
void kmeans_assign(const T* X, std::size_t n, std::size_t d, const T* C, std::size_t k, std::int32_t* labels,
                   T* min_sqdist, int n_threads);

// One Lloyd iteration: assignment to C_old, then (if update_centers) the weighted means.
// IN    X (n, d), w (n) or nullptr, C_old (k, d)
// INOUT labels (n): on entry the previous labels (e.g. all -1), on exit the new ones
// OUT   min_sqdist (n) squared distance of each row to C_old[label]
// OUT   C_new (k, d), weight_in_clusters (k), center_shift_sq (k) = ||C_new - C_old||^2
//       (only written when update_centers)
// Empty clusters (no weight) are relocated to the rows farthest from their centre (largest
// min_sqdist, ties to the lower row index); the i-th empty cluster (ascending index) takes the
// i-th farthest row, which is moved out of its own cluster's sum (scikit-learn's rule). Unlike
// scikit-learn, only rows with positive weight that are not exactly on their centre are
// candidates (other moves cannot lower the inertia and made Lloyd cycle); a cluster left
// without a candidate keeps its centre.
// Throws std::invalid_argument for non-finite centers or sample weights, negative weights, a
// row of X without a finite squared distance (NaN/inf, or squares overflowing T), and weighted
// means that overflow T.
// Returns the number of rows whose label changed.
template <class T>
std::size_t kmeans_lloyd_step(const T* X, const T* w, std::size_t n, std::size_t d, const T* C_old, std::size_t k,
                              std::int32_t* labels, T* min_sqdist, T* C_new, T* weight_in_clusters,
                              T* center_shift_sq, bool update_centers, int n_threads);

// Exact inertia sum_i w_i ||x_i - C[labels_i]||^2 (direct differences, double accumulation).
// IN X (n, d), w (n) or nullptr, C (k, d), labels (n) in [0, k)
template <class T>
double kmeans_inertia(const T* X, const T* w, std::size_t n, std::size_t d, const T* C, std::size_t k,
                      const std::int32_t* labels, int n_threads);

// Greedy k-means++ (Arthur & Vassilvitskii 2007 with scikit-learn's greedy local trials):
// the first centre is a row drawn with probability proportional to w; each further centre
// is the best of n_local_trials rows drawn with probability proportional to w * D^2
// (D = distance to the nearest chosen centre), "best" meaning lowest resulting potential.
// Random numbers come from xoshiro256** seeded by splitmix64(seed): same seed, same centres.
// IN  X (n, d) finite, w (n) or nullptr (finite, >= 0), 1 <= n_local_trials <= 1024 (the
//     trials' distances are held at once: n_local_trials x n doubles)
// OUT C (k, d), indices (k) row index of each centre
template <class T>
void kmeans_plusplus(const T* X, const T* w, std::size_t n, std::size_t d, std::size_t k, int n_local_trials,
                     std::uint64_t seed, T* C, std::int64_t* indices, int n_threads);

}  // namespace scatclust
