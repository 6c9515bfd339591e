"""One check shared by the package's training loops: a loss that is not finite stops the fit
with an error naming where it happened and the settings that control the step size."""
from __future__ import annotations

import torch

__all__ = ["check_finite_loss"]


def check_finite_loss(loss, where, what="loss", **settings):
    """Raise ``FloatingPointError`` when the tensor ``loss`` holds a NaN or an infinity.

    ``where`` says which fit and phase (e.g. ``"DEC pretraining, epoch 3"``), ``what`` the
    checked quantity (default 'loss'; e.g. 'embedding' for a model's outputs), and
    ``settings`` are the caller's parameters that bound the step (e.g. ``lr=1e-3``), named in
    the message with their values so that the user knows what to lower. A diverged
    optimisation otherwise carries NaN into k-means, L-BFGS or the saved model, where it fails
    far from its cause or not at all.

    >>> import torch
    >>> check_finite_loss(torch.tensor(1.0), "fit")
    >>> check_finite_loss(torch.tensor(float("nan")), "fit, epoch 2", lr=0.1)
    Traceback (most recent call last):
    ...
    FloatingPointError: training diverged in fit, epoch 2: the loss is nan; use a smaller lr (lr=0.1), ...
    """
    if bool(torch.isfinite(loss.detach()).all()):
        return
    value = float(loss.detach()) if loss.numel() == 1 else "not finite"
    hint = " or ".join(f"{k} ({k}={v!r})" for k, v in settings.items())
    fix = f"use a smaller {hint}, or " if hint else ""
    raise FloatingPointError(f"training diverged in {where}: the {what} is {value}; {fix}check the input for "
                             f"extreme outliers")
