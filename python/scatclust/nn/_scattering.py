"""``torch.nn.Module`` wrapper of :class:`scatclust.Scattering1D`."""
from __future__ import annotations

import torch

from .._scattering import Scattering1D as _Scattering1D

__all__ = ["Scattering1D"]


class Scattering1D(torch.nn.Module):
    """Scattering transform as a torch module, differentiable w.r.t. its input.

    Parameters
    ----------
    J, shape, Q, T, max_order, oversampling, log, normalize, eps :
        As :class:`scatclust.Scattering1D` (``out_type`` is always 'array').
    n_threads : int, optional
        Threads of the C++ core for every call (default: ``scatclust.get_num_threads()``).

    Notes
    -----
    The filters are registered as (non-persistent, float64) buffers ``psi1_f``, ``psi2_f``,
    ``phi_f`` for inspection; the transform itself uses the core's copy, built once from
    the same arrays, so editing the buffers has no effect. The module runs on the CPU and
    returns the input's precision (float32 or float64) whatever ``.to(dtype)`` was called;
    the backward pass is the core's vector-Jacobian product.

    Examples
    --------
    >>> import torch
    >>> from scatclust.nn import Scattering1D
    >>> S = Scattering1D(J=5, shape=1024, Q=(4, 1), log=True)
    >>> x = torch.randn(3, 1024, requires_grad=True)
    >>> S(x).sum().backward()
    >>> x.grad.shape
    torch.Size([3, 1024])
    """

    def __init__(self, J, shape, Q=1, T=None, max_order=2, oversampling=0, log=False, normalize=None, eps=1e-6,
                 n_threads=None):
        super().__init__()
        self.transform = _Scattering1D(J, shape, Q=Q, T=T, max_order=max_order, oversampling=oversampling,
                                       out_type="array", log=log, normalize=normalize, eps=eps)
        self.n_threads = n_threads
        fb = self.transform.filter_bank
        for name in ("psi1_f", "psi2_f", "phi_f"):
            self.register_buffer(name, torch.tensor(getattr(fb, name)), persistent=False)

    @property
    def n_paths(self):
        return self.transform.n_paths

    @property
    def n_time(self):
        return self.transform.n_time

    def meta(self):
        """Path metadata, as :meth:`scatclust.Scattering1D.meta`."""
        return self.transform.meta()

    def forward(self, x):
        """x (..., N) real CPU tensor -> (..., n_paths, n_time), same precision."""
        if not torch.is_tensor(x):
            raise TypeError(f"x must be a torch tensor, got {type(x).__name__}; use scatclust.Scattering1D for numpy")
        return self.transform(x, n_threads=self.n_threads)

    def extra_repr(self):
        t = self.transform
        return (f"J={t.J}, shape={t.N}, Q={t.Q}, T={t.T}, max_order={t.max_order}, oversampling={t.oversampling}, "
                f"log={t.log}, normalize={t.normalize!r}, n_paths={t.n_paths}, n_time={t.n_time}")
