"""Gumbel-softmax relaxation of a categorical variable and its temperature schedule.

Jang, Gu & Poole (2017), "Categorical reparameterization with Gumbel-softmax"; Maddison,
Mnih & Teh (2017), "The concrete distribution".
"""
from __future__ import annotations

import math
import numbers

import torch

__all__ = ["TemperatureSchedule", "gumbel_softmax"]


def gumbel_softmax(logits, tau=1.0, *, hard=False, generator=None, eps=1e-10):
    r"""Draw a relaxed one-hot sample ``softmax((logits + g) / tau)``, g ~ Gumbel(0, 1).

    Parameters
    ----------
    logits : torch.Tensor, shape (..., K)
        Unnormalised log-probabilities of K categories (any float dtype and device).
    tau : float
        Temperature (> 0). Small tau gives nearly one-hot samples with high-variance
        gradients; large tau gives nearly uniform ones.
    hard : bool
        Straight-through estimator: the forward value is the one-hot vector of the
        sample's argmax, the gradient is that of the relaxed sample
        (``y_hard - y_soft.detach() + y_soft``).
    generator : torch.Generator, optional
        Source of the uniform draws (a CPU generator; the noise is moved to the logits'
        device). Makes the draw reproducible without touching torch's global seed.
    eps : float
        Clamp of the uniforms away from 0 and 1 (``g = -log(-log u)``).

    Returns
    -------
    torch.Tensor, shape (..., K), logits' dtype
        Rows on the probability simplex (sum 1 along the last axis).

    Examples
    --------
    >>> import torch
    >>> from scatclust.nn import gumbel_softmax
    >>> y = gumbel_softmax(torch.zeros(2, 3), tau=0.5, generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(y.sum(-1), torch.ones(2))
    True
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits of type {type(logits).__name__} must be a torch.Tensor")
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits.shape={tuple(logits.shape)} needs a last (category) axis of length >= 1")
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real) or not tau > 0 or not math.isfinite(tau):
        raise ValueError(f"tau={tau!r} must be a finite number > 0")
    u = torch.rand(logits.shape, generator=generator, dtype=logits.dtype,
                   device="cpu" if generator is not None else logits.device)
    u = u.to(logits.device).clamp(eps, 1.0 - eps)
    g = -torch.log(-torch.log(u))
    y = torch.softmax((logits + g) / tau, dim=-1)
    if not hard:
        return y
    idx = y.argmax(dim=-1, keepdim=True)
    y_hard = torch.zeros_like(y).scatter_(-1, idx, 1.0)
    return y_hard - y.detach() + y


class TemperatureSchedule:
    r"""Exponentially annealed temperature ``tau(step) = max(tau_min, tau0 * exp(-rate * step))``.

    The schedule of Jang et al. (2017), evaluated per optimisation step, so that a resumed
    run continues from the same temperature.

    Parameters
    ----------
    tau0 : float
        Initial temperature (> 0), default 1.
    tau_min : float
        Floor (0 < tau_min <= tau0), default 0.5.
    rate : float
        Decay rate per step (>= 0), default 3e-3; 0 keeps ``tau0``.

    Examples
    --------
    >>> from scatclust.nn import TemperatureSchedule
    >>> s = TemperatureSchedule(tau0=1.0, tau_min=0.5, rate=0.01)
    >>> s(0), round(s(10), 4), s(10**6)
    (1.0, 0.9048, 0.5)
    """

    def __init__(self, tau0=1.0, tau_min=0.5, rate=3e-3):
        for name, v in (("tau0", tau0), ("tau_min", tau_min), ("rate", rate)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise ValueError(f"{name}={v!r} must be a finite number")
        if not tau0 > 0:
            raise ValueError(f"tau0={tau0} must be > 0")
        if not 0 < tau_min <= tau0:
            raise ValueError(f"tau_min={tau_min} must be in (0, tau0={tau0}]")
        if rate < 0:
            raise ValueError(f"rate={rate} must be >= 0")
        self.tau0, self.tau_min, self.rate = float(tau0), float(tau_min), float(rate)

    def __call__(self, step):
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"step={step!r} must be an int >= 0")
        return max(self.tau_min, self.tau0 * math.exp(-self.rate * int(step)))

    def __repr__(self):
        return f"TemperatureSchedule(tau0={self.tau0}, tau_min={self.tau_min}, rate={self.rate})"
