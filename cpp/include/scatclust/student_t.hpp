// Student-t soft assignment of Deep Embedded Clustering (Xie, Girshick & Farhadi, 2016):
// forward, target distribution, KL loss and vector-Jacobian products.
//
// Notation: z (n, d) embedded points, mu (k, d) cluster centres, alpha > 0 degrees of freedom,
//   dist_nk = ||z_n - mu_k||^2                       (direct differences, see below)
//   s_nk    = -e * log(alpha + dist_nk),  e = (alpha + 1) / 2
//   q_nk    = softmax_k(s_nk) = (1 + dist_nk/alpha)^-e / sum_k' (1 + dist_nk'/alpha)^-e
// Forward in log space: with m_n = min_k dist_nk, s_nk - max_k s_nk = e * log(r_nk) where
// r_nk = (alpha + m_n) / (alpha + dist_nk) is in (0, 1]; the weights r^e never overflow, the
// nearest centre has weight exactly 1, and far centres underflow to 0 (log-sum-exp trick).
// Rows whose nearest squared distance overflows T are redone in long double.
// Distances use direct differences (z_nj - mu_kj)^2, not the expansion |z|^2 - 2 z.mu + |mu|^2:
// the same number of multiply-adds at these widths (d = 10..256) and no cancellation when
// points lie far from the origin but near a centre.
//
// Target distribution (DEC eq. 3): f_k = sum_n q_nk over ALL n rows given,
//   p_nk = (q_nk^2 / f_k) / sum_k' (q_nk'^2 / f_k')      (terms with f_k = 0 count as 0).
// KL loss: L = sum_n sum_k p_nk log(p_nk / q_nk), a SUM over rows (torch's
//   F.kl_div(q.log(), p, reduction='sum'); divide by n for reduction='batchmean'), 0 log 0 = 0.
//
// VJP (derivation). Given an upstream gradient G_nk = dL/dq_nk:
//   dL/ds_nk   = q_nk (G_nk - sum_k' G_nk' q_nk')                       (softmax)
//   ds/ddist   = -e / (alpha + dist_nk)
//   ddist/dz_n = 2 (z_n - mu_k),  ddist/dmu_k = -2 (z_n - mu_k)
// so with c_nk = -(alpha + 1) / (alpha + dist_nk) * dL/ds_nk:
//   dL/dz_n  =  sum_k c_nk (z_n - mu_k)
//   dL/dmu_k = -sum_n c_nk (z_n - mu_k)
// For the KL loss with P held constant (as DEC does), dL/dlog q_nk = -p_nk, hence
//   dL/ds_nk = q_nk sum_k' p_nk' - p_nk   (= q_nk - p_nk when the rows of p sum to 1).
//
// Determinism: rows are split into blocks that depend only on n (at most 256 blocks of >= 256
// rows); every reduction over rows (f, the loss, dmu) accumulates per block in double (dmu
// first in T over 256-row tiles, then in double) and adds the block partials in block order,
// so results are bit-identical for any thread count.
//
// All pointers are C-contiguous row-major; n = 0 returns early (outputs untouched, loss 0).
// Errors (std::invalid_argument) name the parameter: alpha must be finite and > 0, d >= 1,
// k >= 1, inputs finite (z, mu, q, G, p), probabilities (q, p) >= 0.
#pragma once

#include <cstddef>

namespace scatclust {

// IN  z (n, d), mu (k, d)
// OUT q (n, k)
template <class T>
void student_t_soft_assign(const T* z, const T* mu, std::size_t n, std::size_t d, std::size_t k,
                           double alpha, T* q, int n_threads);

// IN  q (n, k) soft assignments (non-negative)
// OUT p (n, k) target distribution; f (k) column sums of q (may be null)
template <class T>
void student_t_target(const T* q, std::size_t n, std::size_t k, T* p, T* f, int n_threads);

// IN  p, q (n, k); returns sum_nk p log(p/q) (computed in double)
template <class T>
double student_t_kl(const T* p, const T* q, std::size_t n, std::size_t k, int n_threads);

// IN  z (n, d), mu (k, d), q (n, k) = soft_assign(z, mu, alpha), G (n, k) = dL/dq
// OUT dz (n, d) = dL/dz, dmu (k, d) = dL/dmu
template <class T>
void student_t_vjp_q(const T* z, const T* mu, std::size_t n, std::size_t d, std::size_t k, double alpha,
                     const T* q, const T* G, T* dz, T* dmu, int n_threads);

// KL(P || Q) with P held constant, Q = soft_assign(z, mu, alpha) computed on the fly.
// IN  z (n, d), mu (k, d), p (n, k)
// OUT dz (n, d), dmu (k, d) gradients of the summed loss; returns the loss (sum over rows)
template <class T>
double student_t_kl_grad(const T* z, const T* mu, std::size_t n, std::size_t d, std::size_t k, double alpha,
                         const T* p, T* dz, T* dmu, int n_threads);

}  // namespace scatclust
