r"""Latent regularisers of the spectral VAE variants of :func:`scatclust.cube.segment`.

Both act on an encoder that outputs, per pixel, a Gaussian posterior
``q(z | x) = N(mu, diag(exp(logvar)))`` (sampled by the reparameterisation
``z = mu + exp(logvar / 2) * eps``), against the prior ``p(z) = N(0, I)``:

* ``"kl"`` (the VAE of Kingma & Welling 2014): the closed-form
  ``KL(q(z|x) || p(z)) = 1/2 sum_d (mu_d^2 + exp(logvar_d) - 1 - logvar_d)`` per pixel,
  averaged over the batch (:func:`kl_normal`).
* ``"mmd"`` (InfoVAE / MMD-VAE, Zhao, Song & Ermon 2019): the squared maximum mean
  discrepancy between the batch of posterior samples (draws of the aggregate posterior
  q(z)) and as many prior draws, with a Gaussian (RBF) kernel (:func:`mmd_rbf`). It pulls the
  *aggregate* posterior towards the prior instead of every pixel's posterior, so it does not
  push the codes of different pigments together the way the per-pixel KL does.
"""
from __future__ import annotations

import math


def kl_normal(mu, logvar):
    """Mean over rows of ``KL(N(mu, diag(exp(logvar))) || N(0, I))``, summed over dimensions.

    Parameters
    ----------
    mu, logvar : torch.Tensor (N, D)
        Posterior means and log-variances.

    Returns
    -------
    torch.Tensor scalar (nats per row)

    Example
    -------
    >>> import torch
    >>> round(float(kl_normal(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2))), 6)
    0.5
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1).mean()


def mmd_rbf(x, y, bandwidth=None):
    r"""Squared maximum mean discrepancy between two samples, Gaussian kernel (V-statistic).

    ``MMD^2 = mean k(x_i, x_j) + mean k(y_i, y_j) - 2 mean k(x_i, y_j)`` with
    ``k(a, b) = exp(-||a - b||^2 / (2 h^2))``, all pairs including i = j (the biased
    estimator: non-negative, exactly 0 for identical samples; its bias is O(1/N)).

    Parameters
    ----------
    x : torch.Tensor (N, D); y : torch.Tensor (M, D)
    bandwidth : float > 0 or None
        Kernel width h; None: ``h = sqrt(D / 2)``, i.e. ``k = exp(-||a - b||^2 / D)``, the
        InfoVAE choice, which keeps the kernel informative for unit-variance codes in D
        dimensions.

    Returns
    -------
    torch.Tensor scalar

    Example
    -------
    >>> import torch
    >>> x = torch.randn(50, 3)
    >>> float(mmd_rbf(x, x)) < 1e-6
    True
    """
    import torch

    d = x.shape[1]
    h = math.sqrt(d / 2.0) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise ValueError(f"bandwidth={bandwidth!r} must be > 0")
    g = 1.0 / (2.0 * h * h)

    def k(a, b):
        # ||a||^2 - 2 a.b + ||b||^2, clamped at 0 against rounding; smooth everywhere
        # (cdist's gradient is undefined at zero distance, which the diagonal always has).
        d2 = a.pow(2).sum(1, keepdim=True) - 2.0 * a @ b.T + b.pow(2).sum(1)
        return torch.exp(-g * d2.clamp_min(0.0))

    return k(x, x).mean() + k(y, y).mean() - 2.0 * k(x, y).mean()
