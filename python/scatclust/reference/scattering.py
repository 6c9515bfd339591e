"""Plain torch 1-D scattering transform: the oracle for ``scatclust.Scattering1D``.

Written from the definition kymatio 0.3 uses (``average=True``), step by step, with torch
operations so that autograd of this code is an independent check of the core's hand-written
vector-Jacobian product. Every filtering step is "multiply the spectrum by a real filter,
subsample by 2^k in time", and subsampling in time is the mean of the 2^k periods of the
spectrum (a reshape and a mean). A filter applied to a signal already subsampled by 2^k is
the full-length filter periodised the same way.

Works in float64 internally; numpy input gives a numpy float64 output, a torch tensor input
a torch float64 tensor (differentiable).
"""
from __future__ import annotations

import numpy as np

from .filter_bank import morlet_filter_bank

__all__ = ["scattering1d", "scattering_paths"]


def _periodise(spec, k):
    """Mean of the 2^k periods of the last axis (= subsampling by 2^k in time)."""
    if k == 0:
        return spec
    P = 2**k
    return spec.reshape(spec.shape[:-1] + (P, spec.shape[-1] // P)).mean(dim=-2)


def _filter_level(h_f, k, torch):
    """Real Fourier-domain filter for a signal subsampled by 2^k (periods averaged)."""
    h = torch.as_tensor(np.asarray(h_f, dtype=np.float64))
    return _periodise(h, k)


def scattering_paths(bank, max_order=2):
    """kymatio's path list: [()] + [(n1,)] + [(n1, n2) for j2 > j1], in output order."""
    j1s, j2s = bank["psi1"]["j"], bank["psi2"]["j"]
    paths = [()] + [(n1,) for n1 in range(len(j1s))]
    if max_order == 2:
        paths += [(n1, n2) for n1 in range(len(j1s)) for n2 in range(len(j2s)) if j2s[n2] > j1s[n1]]
    return paths


def scattering1d(x, bank=None, *, J=None, Q=1, T=None, max_order=2, oversampling=0):
    """Scattering coefficients S of ``x``, shape (..., n_paths, n_time).

    Parameters
    ----------
    x : ndarray or torch.Tensor, shape (..., N), real
    bank : dict, optional
        From :func:`~scatclust.reference.filter_bank.morlet_filter_bank` (N must match);
        built from ``J, Q, T`` when omitted.
    max_order : {1, 2}
    oversampling : int >= 0
        Subsampling exponents are reduced by this much (not below 0).

    Returns
    -------
    Same kind as ``x`` (numpy or torch), float64: order 0, then every first-order path,
    then the second-order paths (n1, n2) with j2 > j1 in (n1, n2) order.

    Examples
    --------
    >>> S = scattering1d(np.random.default_rng(0).standard_normal(512), J=4, Q=(4, 1))
    >>> S.shape
    (29, 32)
    """
    import torch

    is_np = not torch.is_tensor(x)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64)) if is_np else x.to(torch.float64)
    N = xt.shape[-1]
    if bank is None:
        bank = morlet_filter_bank(N, J, Q, T)
    if bank["N"] != N:
        raise ValueError(f"x has N={N} samples but the bank was built for N={bank['N']}")
    if max_order not in (1, 2):
        raise ValueError(f"max_order={max_order!r} must be 1 or 2")
    if oversampling < 0:
        raise ValueError(f"oversampling={oversampling} must be >= 0")
    log2_T = bank["log2_T"]
    ind_start, ind_end = bank["ind_start"], bank["ind_end"]
    j1s = [int(j) for j in bank["psi1"]["j"]]
    j2s = [int(j) for j in bank["psi2"]["j"]]

    def lowpass(U_hat, k):
        """Low-pass of a spectrum at level k, subsampled to the final rate, unpadded."""
        k_sub = max(log2_T - k - oversampling, 0)
        S = torch.fft.ifft(_periodise(U_hat * _filter_level(bank["phi_f"], k, torch), k_sub)).real
        kf = k + k_sub
        return S[..., ind_start[kf]:ind_end[kf]]

    # reflect padding, as numpy's np.pad(mode='reflect')
    pl, pr = bank["pad_left"], bank["pad_right"]
    left = xt[..., 1:pl + 1].flip(-1)
    right = xt[..., N - 1 - pr:N - 1].flip(-1)
    U0_hat = torch.fft.fft(torch.cat([left, xt, right], dim=-1))

    out = [lowpass(U0_hat, 0)]
    second = []
    for n1, j1 in enumerate(j1s):
        k1 = max(min(j1, log2_T) - oversampling, 0)
        U1 = torch.fft.ifft(_periodise(U0_hat * _filter_level(bank["psi1_f"][n1], 0, torch), k1)).abs()
        U1_hat = torch.fft.fft(U1)
        out.append(lowpass(U1_hat, k1))
        if max_order < 2:
            continue
        for n2, j2 in enumerate(j2s):
            if not j2 > j1:
                continue
            k2 = max(min(j2, log2_T) - k1 - oversampling, 0)
            U2 = torch.fft.ifft(_periodise(U1_hat * _filter_level(bank["psi2_f"][n2], k1, torch), k2)).abs()
            second.append(lowpass(torch.fft.fft(U2), k1 + k2))
    S = torch.stack(out + second, dim=-2)
    return S.numpy() if is_np else S
