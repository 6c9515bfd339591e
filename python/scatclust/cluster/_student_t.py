"""Student-t soft assignment of Deep Embedded Clustering (DEC): numpy / torch front end.

q_nk = (1 + |z_n - mu_k|^2 / alpha)^(-(alpha+1)/2) / sum_k' (...)   (Xie et al., 2016, eq. 1)
p_nk = (q_nk^2 / f_k) / sum_k' (q_nk'^2 / f_k'),  f_k = sum_n q_nk     (eq. 3)
L    = KL(P || Q) = sum_n sum_k p_nk log(p_nk / q_nk)                  (eq. 2)

The kernels are in the C++ core (``scatclust._core.student_t_*``): float32 and float64,
OpenMP over rows, reductions independent of the thread count. torch CPU tensors are
accepted everywhere; a tensor that requires grad goes through a ``torch.autograd.Function``
whose backward calls the core's vector-Jacobian product. torch is never imported here unless
a torch tensor is passed in.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _core
from .._array import as_real_numpy, check_choice, is_torch
from .._threads import resolve_n_threads

__all__ = ["soft_assign", "target_distribution", "kl_loss", "kl_loss_grad"]


def check_alpha(alpha):
    """Return alpha as float; ValueError unless it is a finite real number > 0."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha={alpha!r} must be a real number > 0")
    alpha = float(alpha)
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha={alpha} must be a finite number > 0")
    return alpha


def _to_numpy(x, name):
    """(C-contiguous 2-D float32/float64 numpy array, was_torch). Other real dtypes -> float64."""
    arr, was_torch = as_real_numpy(x, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {tuple(arr.shape)}")
    return np.ascontiguousarray(arr), was_torch


def _common(a, b):
    dt = np.result_type(a.dtype, b.dtype)
    return np.ascontiguousarray(a, dtype=dt), np.ascontiguousarray(b, dtype=dt)


def _check_z_mu(z, mu):
    if z.shape[1] != mu.shape[1]:
        raise ValueError(f"z has {z.shape[1]} features but mu has {mu.shape[1]}")
    if mu.shape[0] < 1:
        raise ValueError("mu has 0 cluster centres; at least 1 is needed")


def _wrap(x, torch_out):
    if torch_out:
        import torch

        return torch.from_numpy(x)
    return x


def _soft_assign_numpy(z, mu, alpha, nt):
    q = np.empty((z.shape[0], mu.shape[0]), dtype=z.dtype)
    _core.student_t_soft_assign(z, mu, alpha, q, nt)
    return q


def soft_assign(z, mu, alpha=1.0, n_threads=None):
    """Student-t soft assignment of points to cluster centres.

    Parameters
    ----------
    z : numpy.ndarray or torch.Tensor, shape (n, d)
        Embedded points, float32 or float64 (other real dtypes become float64).
    mu : numpy.ndarray or torch.Tensor, shape (k, d)
        Cluster centres. z and mu are computed at their common precision.
    alpha : float
        Degrees of freedom of the Student-t kernel, finite and > 0 (DEC uses 1).
    n_threads : int or None
        Threads for the core (None: the process default).

    Returns
    -------
    q : same kind as the inputs (torch if either is a tensor), shape (n, k)
        Rows sum to 1. If a torch input requires grad (and grad mode is on), q is part of
        the autograd graph; its backward runs the core's vector-Jacobian product.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.cluster import soft_assign
    >>> q = soft_assign(np.zeros((2, 3)), np.array([[0., 0, 0], [1, 1, 1]]))
    >>> np.round(q, 3)
    array([[0.8, 0.2],
           [0.8, 0.2]])
    """
    alpha = check_alpha(alpha)
    nt = resolve_n_threads(n_threads)
    if (is_torch(z) and z.requires_grad) or (is_torch(mu) and mu.requires_grad):
        import torch

        if torch.is_grad_enabled():
            from ._student_t_torch import SoftAssignFunction

            return SoftAssignFunction.apply(z, mu, alpha, nt)
    zn, tz = _to_numpy(z, "z")
    mun, tm = _to_numpy(mu, "mu")
    _check_z_mu(zn, mun)
    zn, mun = _common(zn, mun)
    return _wrap(_soft_assign_numpy(zn, mun, alpha, nt), tz or tm)


def target_distribution(q, n_threads=None):
    """DEC target distribution p of soft assignments q (n, k).

    f_k = sum_n q_nk is taken over ALL rows of q: computing p per mini-batch gives a
    different p. Pass the soft assignment of the whole data set (as DEC does at each
    target update) and index p by batch afterwards. torch input gives a tensor that does
    not require grad (P is a constant target).
    """
    nt = resolve_n_threads(n_threads)
    qn, tq = _to_numpy(q, "q")
    if qn.shape[1] < 1:
        raise ValueError("q has 0 columns (clusters); at least 1 is needed")
    p = np.empty_like(qn)
    f = np.empty(qn.shape[1], dtype=qn.dtype)
    _core.student_t_target(qn, p, f, nt)
    return _wrap(p, tq)


def _reduce(loss, n, reduction):
    return loss / max(n, 1) if reduction == "batchmean" else loss


def kl_loss(p, q, reduction="sum", n_threads=None):
    """KL(P || Q) = sum_n sum_k p log(p / q), with 0 log 0 = 0.

    ``reduction='sum'`` equals ``torch.nn.functional.kl_div(q.log(), p, reduction='sum')``;
    ``'batchmean'`` divides by the number of rows n (DEC's usual per-batch average).
    numpy input returns a float (computed in double in the core); torch input returns a
    0-d tensor differentiable with respect to q, with p treated as a constant (detached).
    """
    check_choice(reduction, "reduction", ("sum", "batchmean"))
    nt = resolve_n_threads(n_threads)
    if is_torch(p) or is_torch(q):
        import torch

        pt = torch.as_tensor(p).detach()
        qt = torch.as_tensor(q)
        if pt.shape != qt.shape or qt.ndim != 2:
            raise ValueError(f"p has shape {tuple(pt.shape)} but q has shape {tuple(qt.shape)}; "
                             "both must be the same (n, k)")
        pt = pt.to(qt.dtype)
        loss = torch.special.xlogy(pt, pt).sum() - (pt * qt.log()).sum()
        return _reduce(loss, qt.shape[0], reduction)
    pn, _ = _to_numpy(p, "p")
    qn, _ = _to_numpy(q, "q")
    if pn.shape != qn.shape:
        raise ValueError(f"p has shape {pn.shape} but q has shape {qn.shape}; both must be the same (n, k)")
    pn, qn = _common(pn, qn)
    return _reduce(float(_core.student_t_kl(pn, qn, nt)), qn.shape[0], reduction)


def kl_loss_grad(z, mu, p, alpha=1.0, reduction="sum", n_threads=None):
    """KL(P || Q(z, mu)) with P constant and its gradients, in one fused core pass.

    Returns ``(loss, dz, dmu)``: loss a float, dz (n, d) and dmu (k, d) arrays (tensors for
    torch input) of the input precision, the gradients of the reduced loss.
    """
    check_choice(reduction, "reduction", ("sum", "batchmean"))
    alpha = check_alpha(alpha)
    nt = resolve_n_threads(n_threads)
    zn, tz = _to_numpy(z, "z")
    mun, tm = _to_numpy(mu, "mu")
    pn, tp = _to_numpy(p, "p")
    _check_z_mu(zn, mun)
    if pn.shape != (zn.shape[0], mun.shape[0]):
        raise ValueError(f"p has shape {pn.shape}; expected (n, k) = {(zn.shape[0], mun.shape[0])}")
    zn, mun = _common(zn, mun)
    pn = np.ascontiguousarray(pn, dtype=zn.dtype)
    dz = np.empty_like(zn)
    dmu = np.empty_like(mun)
    loss = float(_core.student_t_kl_grad(zn, mun, alpha, pn, dz, dmu, nt))
    if reduction == "batchmean" and zn.shape[0] > 0:
        loss /= zn.shape[0]
        dz /= zn.shape[0]
        dmu /= zn.shape[0]
    t = tz or tm or tp
    return loss, _wrap(dz, t), _wrap(dmu, t)
