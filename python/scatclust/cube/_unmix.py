r"""Autoencoder spectral unmixing: the ``model="unmix"`` variant of :func:`scatclust.cube.segment`.

The synthetic MA-XRF cubes (and real paint layers at boundaries) are linear mixtures: the
expected spectrum of pixel i is ``g_i sum_k a_ik S_k`` with abundances ``a_i`` on the
simplex and pure-pigment spectra ``S_k``. This model has that form:

* encoder (the fully connected / conv encoder of ``segment``) -> K logits -> abundances
  ``a_i = softmax(logits)`` (non-negative, summing to 1);
* decoder: K non-negative endmember spectra ``E_k = softmax_c(W_k)`` (each sums to 1 over
  the channels, so ``a_ik`` is the FRACTION OF PHOTONS from endmember k, the generator's
  abundance when its pure spectra have equal totals);
* expected counts ``mu_ic = n_i sum_k a_ik E_kc`` with ``n_i`` the pixel's total count:
  for a unit-sum mixture the Poisson maximum-likelihood scale is exactly ``n_i``, so the
  per-pixel intensity (paint thickness, distance) needs no parameter;
* loss: Poisson negative log-likelihood ``mu - x log mu + log x!`` averaged over pixels
  and channels (:func:`poisson_nll`);
* endmembers start from the summed raw spectra of a k-means partition (:func:`init_endmembers`);
  labels are ``argmax_k a_ik``, i.e. the nearest simplex vertex.

No separate continuum component: the scattered continuum has one shape for every pigment
and enters every endmember at the same fraction, so a shared component would not be
identifiable from the endmembers' own continuum share.
"""
from __future__ import annotations

import numpy as np


def poisson_nll(x, mu):
    """Mean Poisson negative log-likelihood ``mu - x log mu + log Gamma(x + 1)`` (nats).

    Parameters
    ----------
    x : torch.Tensor, non-negative counts; mu : torch.Tensor (same shape), expected counts > 0
        (mu = 0 is allowed where x = 0: that entry adds 0, with gradient 1 / size in mu).

    Returns
    -------
    torch.Tensor scalar: the mean over all entries.

    Example
    -------
    >>> import torch
    >>> round(float(poisson_nll(torch.tensor([0.0]), torch.tensor([2.0]))), 6)  # -log P(0 | 2)
    2.0
    """
    import torch

    # mu is clamped inside the log only: at x = mu = 0 (a pixel with no counts) the value is
    # 0 and the gradient 1 / size, where xlogy's own gradient x / mu would be 0 / 0 = NaN.
    return (mu - torch.xlogy(x, mu.clamp_min(torch.finfo(mu.dtype).tiny)) + torch.lgamma(x + 1.0)).mean()


def init_endmembers(spectra, labels, n_clusters, floor=1e-3):
    """Unit-sum endmember spectra from a partition: each cluster's summed spectrum, normalised.

    Parameters
    ----------
    spectra : ndarray (N, C), raw counts; labels : ndarray (N,) in [0, n_clusters)
    n_clusters : int
    floor : float in [0, 1)
        Mixed in as ``(1 - floor) E + floor / C`` so that no channel starts at 0 (the
        softmax parametrisation needs a finite logarithm); an empty cluster starts flat.

    Returns
    -------
    ndarray (K, C), float64, rows sum to 1

    Example
    -------
    >>> init_endmembers(np.array([[1.0, 3.0], [2.0, 2.0]]), np.array([0, 1]), 2, floor=0.0).tolist()
    [[0.25, 0.75], [0.5, 0.5]]
    """
    x = np.asarray(spectra, dtype=np.float64)
    c = x.shape[1]
    e = np.stack([x[labels == k].sum(0) for k in range(n_clusters)])
    tot = e.sum(1, keepdims=True)
    e = np.where(tot > 0, e / np.where(tot > 0, tot, 1.0), 1.0 / c)
    return (1.0 - floor) * e + floor / c


def fit_unmix(data, counts, encoder, endmembers0, n_frozen, n_joint, batch_size, lr, rng):
    """Train the unmixing autoencoder; returns (abundances (N, K) tensor, endmembers (K, C) tensor, history).

    ``data``: encoder input (N, C) float32 tensor; ``counts``: raw counts (N, C) float32
    tensor; ``n_frozen`` epochs train the encoder with the endmembers fixed at
    ``endmembers0``, then ``n_joint`` epochs train both. History: per-epoch 'recon'
    (mean Poisson NLL), 'cluster' (NaN), 'reg' (0) and 'spread' (mean squared distance of
    the abundances to their batch mean).
    """
    import torch

    from ..nn._guard import check_finite_loss

    n = data.shape[0]
    total = counts.sum(1, keepdim=True)
    logits_e = torch.nn.Parameter(torch.log(torch.as_tensor(endmembers0, dtype=torch.float32)))
    history = {"recon": [], "cluster": [], "reg": [], "spread": []}

    def run(epochs, params):
        if epochs == 0:
            return
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(epochs):
            tr = ts = 0.0
            perm = torch.from_numpy(rng.permutation(n))
            for i in range(0, n, batch_size):
                idx = perm[i:i + batch_size]
                a = torch.softmax(encoder(data[idx]), dim=1)
                mu = total[idx] * (a @ torch.softmax(logits_e, dim=1))
                loss = poisson_nll(counts[idx], mu)
                check_finite_loss(loss, "segment(model='unmix') training", lr=lr)
                opt.zero_grad()
                loss.backward()
                opt.step()
                tr += float(loss.detach()) * len(idx)
                ts += float((a - a.mean(0)).detach().pow(2).sum(1).mean()) * len(idx)
            history["recon"].append(tr / n)
            history["cluster"].append(float("nan"))
            history["reg"].append(0.0)
            history["spread"].append(ts / n)

    run(n_frozen, list(encoder.parameters()))
    run(n_joint, list(encoder.parameters()) + [logits_e])
    with torch.no_grad():
        return torch.softmax(encoder(data), dim=1), torch.softmax(logits_e, dim=1), history
