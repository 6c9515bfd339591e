"""torch autograd for Scattering1D (imported only when a tensor requires grad)."""
from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

__all__ = ["ScatteringFunction", "scattering_autograd"]


class ScatteringFunction(torch.autograd.Function):
    """S = scattering(x) for x (batch, N) float32/float64; backward = the core's VJP.

    The VJP recomputes the forward internally, so nothing but x is saved.
    """

    @staticmethod
    def forward(ctx, x, transform, n_threads):
        xn = x.detach().contiguous().numpy()
        out = np.empty((xn.shape[0], transform.n_paths, transform.n_time), dtype=xn.dtype)
        if xn.shape[0]:
            transform._kernel(xn.dtype).forward(xn, out, n_threads)
        ctx.save_for_backward(x)
        ctx.transform = transform
        ctx.n_threads = n_threads
        return torch.from_numpy(out)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        xn = x.detach().contiguous().numpy()
        g = np.ascontiguousarray(grad.detach().to(x.dtype).numpy())
        gx = np.empty_like(xn)
        if xn.shape[0]:
            ctx.transform._kernel(xn.dtype).vjp(xn, g, gx, ctx.n_threads)
        return torch.from_numpy(gx), None, None


def scattering_autograd(transform, x, n_threads):
    """Differentiable scattering of a CPU tensor x (..., N): (..., n_paths, n_time)."""
    if x.device.type != "cpu":
        raise ValueError(f"x is on device '{x.device}'; scatclust's core runs on the CPU: pass x.cpu()")
    if x.is_complex():
        raise TypeError(f"x has complex dtype {x.dtype}; a real array is expected (use .real or .abs())")
    if x.ndim == 0:
        raise ValueError("x must have at least one axis (signal samples last), got a scalar")
    if x.dtype not in (torch.float32, torch.float64):
        x = x.to(torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else torch.float64)
    transform._check_n(int(x.shape[-1]))
    batch_shape = tuple(x.shape[:-1])
    flat = x.reshape(-1, x.shape[-1])
    if flat.numel() and not bool(torch.isfinite(flat.detach()).all()):
        raise ValueError("x contains NaN or Inf values; remove or interpolate them first "
                         "(e.g. ObsPy's Stream.merge(fill_value='interpolate'))")
    S = ScatteringFunction.apply(flat, transform, n_threads)
    return S.reshape(batch_shape + (transform.n_paths, transform.n_time))
