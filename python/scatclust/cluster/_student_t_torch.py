"""torch parts of the Student-t soft assignment (imported only when torch is needed)."""
from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .. import _core
from .._array import check_int
from .._threads import resolve_n_threads
from ._student_t import _check_z_mu, _common, _soft_assign_numpy, _to_numpy, check_alpha, soft_assign

__all__ = ["SoftAssignFunction", "StudentTAssignment"]


class SoftAssignFunction(torch.autograd.Function):
    """q = soft_assign(z, mu, alpha); backward = the core's VJP (first order only)."""

    @staticmethod
    def forward(ctx, z, mu, alpha, n_threads):
        zn, _ = _to_numpy(z, "z")
        mun, _ = _to_numpy(mu, "mu")
        _check_z_mu(zn, mun)
        zn, mun = _common(zn, mun)
        q = torch.from_numpy(_soft_assign_numpy(zn, mun, alpha, n_threads))
        # The inputs themselves are saved (torch then detects in-place changes before backward).
        z_t = z if torch.is_tensor(z) else torch.from_numpy(zn)
        mu_t = mu if torch.is_tensor(mu) else torch.from_numpy(mun)
        ctx.save_for_backward(z_t, mu_t, q)
        ctx.alpha = alpha
        ctx.n_threads = n_threads
        return q

    @staticmethod
    @once_differentiable
    def backward(ctx, G):
        z_t, mu_t, q = ctx.saved_tensors
        zn, _ = _to_numpy(z_t, "z")
        mun, _ = _to_numpy(mu_t, "mu")
        zn, mun = _common(zn, mun)
        Gn = np.ascontiguousarray(G.detach().to(q.dtype).numpy())
        dz = np.empty_like(zn)
        dmu = np.empty_like(mun)
        _core.student_t_vjp_q(zn, mun, ctx.alpha, q.numpy(), Gn, dz, dmu, ctx.n_threads)
        gz = torch.from_numpy(dz).to(z_t.dtype) if ctx.needs_input_grad[0] else None
        gmu = torch.from_numpy(dmu).to(mu_t.dtype) if ctx.needs_input_grad[1] else None
        return gz, gmu, None, None


class StudentTAssignment(torch.nn.Module):
    """DEC clustering layer: learnable centres, Student-t soft assignment q = forward(z).

    Parameters
    ----------
    n_clusters, n_features : int
        k and d; ``cluster_centers`` has shape (k, d).
    alpha : float
        Degrees of freedom (> 0, DEC uses 1).
    init : array-like (k, d), optional
        Initial centres (e.g. k-means centres). Default: Xavier-uniform random values.
    dtype : torch.dtype, optional
        float32 or float64; default ``torch.get_default_dtype()``.
    n_threads : int or None
        Threads for the core.

    Examples
    --------
    >>> import torch
    >>> from scatclust.cluster import StudentTAssignment
    >>> layer = StudentTAssignment(3, 8, init=torch.zeros(3, 8))
    >>> layer(torch.randn(5, 8)).shape
    torch.Size([5, 3])
    """

    def __init__(self, n_clusters, n_features, alpha=1.0, init=None, dtype=None, n_threads=None):
        super().__init__()
        self.n_clusters = check_int(n_clusters, "n_clusters", lo=1)
        self.n_features = check_int(n_features, "n_features", lo=1)
        self.alpha = check_alpha(alpha)
        self.n_threads = n_threads
        resolve_n_threads(n_threads)
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype={dtype} must be torch.float32 or torch.float64")
        if init is None:
            centres = torch.empty(self.n_clusters, self.n_features, dtype=dtype)
            torch.nn.init.xavier_uniform_(centres)
        else:
            arr, _ = _to_numpy(init, "init")
            if arr.shape != (self.n_clusters, self.n_features):
                raise ValueError(f"init has shape {arr.shape}; expected (n_clusters, n_features) = "
                                 f"{(self.n_clusters, self.n_features)}")
            if not np.isfinite(arr).all():
                raise ValueError("init contains NaN or Inf values")
            centres = torch.tensor(arr, dtype=dtype)
        self.cluster_centers = torch.nn.Parameter(centres)

    def forward(self, z):
        if not torch.is_tensor(z):
            raise TypeError(f"z must be a torch tensor, got {type(z).__name__}")
        if z.ndim != 2 or z.shape[1] != self.n_features:
            raise ValueError(f"z has shape {tuple(z.shape)}; expected (n, {self.n_features})")
        return soft_assign(z, self.cluster_centers, self.alpha, self.n_threads)

    def extra_repr(self):
        return f"n_clusters={self.n_clusters}, n_features={self.n_features}, alpha={self.alpha}"
