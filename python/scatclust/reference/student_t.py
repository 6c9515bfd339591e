"""Plain-numpy reference of the Student-t (DEC) soft assignment, written from the formulas.

Everything is computed in float64 (the oracle), whatever the input precision.

- ``soft_assign(z, mu, alpha)``: q_nk = (1 + |z_n - mu_k|^2/alpha)^(-(alpha+1)/2), normalised
  over k (in log space: softmax of s_nk = -(alpha+1)/2 * log1p(|z_n - mu_k|^2 / alpha)).
- ``target_distribution(q)``: f_k = sum_n q_nk, p_nk = (q_nk^2/f_k) / sum_k' (q_nk'^2/f_k').
- ``kl_loss(p, q)``: sum_n sum_k p log(p/q) (a sum over rows, like
  ``torch.nn.functional.kl_div(q.log(), p, reduction='sum')``).
- ``vjp_q(z, mu, alpha, q, G)``: with gs = q (G - rowsum(G q)) and
  c = -(alpha+1)/(alpha + dist) * gs: dz_n = sum_k c_nk (z_n - mu_k),
  dmu_k = -sum_n c_nk (z_n - mu_k).
- ``kl_grad(z, mu, alpha, p)``: the KL loss with P constant and its gradients
  (gs = q rowsum(p) - p).
"""
from __future__ import annotations

import numpy as np

__all__ = ["soft_assign", "target_distribution", "kl_loss", "vjp_q", "kl_grad"]


def _dist(z, mu):
    z = np.asarray(z, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    diff = z[:, None, :] - mu[None, :, :]
    return z, mu, diff, np.einsum("nkd,nkd->nk", diff, diff)


def soft_assign(z, mu, alpha=1.0):
    """q (n, k) float64 of z (n, d) against centres mu (k, d)."""
    _, _, _, dist = _dist(z, mu)
    s = -(alpha + 1.0) / 2.0 * np.log1p(dist / alpha)
    s -= s.max(axis=1, keepdims=True)
    w = np.exp(s)
    return w / w.sum(axis=1, keepdims=True)


def target_distribution(q):
    """p (n, k) float64, with f the column sums of q over all rows given."""
    q = np.asarray(q, dtype=np.float64)
    f = q.sum(axis=0)
    w = np.divide(q ** 2, f, out=np.zeros_like(q), where=f > 0)
    return w / w.sum(axis=1, keepdims=True)


def kl_loss(p, q):
    """sum_nk p log(p / q), with 0 log 0 = 0."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore"):
        terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(q)), 0.0)
    return float(terms.sum())


def _backprop(diff, dist, gs, alpha):
    c = -(alpha + 1.0) / (alpha + dist) * gs
    dz = np.einsum("nk,nkd->nd", c, diff)
    dmu = -np.einsum("nk,nkd->kd", c, diff)
    return dz, dmu


def vjp_q(z, mu, alpha, q, G):
    """(dz (n, d), dmu (k, d)) float64 for the upstream gradient G = dL/dq."""
    _, _, diff, dist = _dist(z, mu)
    q = np.asarray(q, dtype=np.float64)
    G = np.asarray(G, dtype=np.float64)
    gs = q * (G - (G * q).sum(axis=1, keepdims=True))
    return _backprop(diff, dist, gs, alpha)


def kl_grad(z, mu, alpha, p):
    """(loss, dz, dmu): KL(P || Q(z, mu)) summed over rows, P held constant."""
    _, _, diff, dist = _dist(z, mu)
    q = soft_assign(z, mu, alpha)
    p = np.asarray(p, dtype=np.float64)
    gs = q * p.sum(axis=1, keepdims=True) - p
    dz, dmu = _backprop(diff, dist, gs, alpha)
    return kl_loss(p, q), dz, dmu
