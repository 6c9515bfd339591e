"""Plain-numpy wavelet transform: the oracle for ``scatclust._core``'s wavelet kernel.

The transform is the one kymatio 0.3's 1-D scattering applies at every order: pad, FFT,
multiply by a real Fourier-domain filter, subsample by ``2^k`` *in frequency* (average the
``2^k`` periods of the product, which equals keeping every ``2^k``-th sample of the
full-resolution convolution), inverse FFT of the shorter length, cut away the padding.
"""
from __future__ import annotations

import numpy as np

from .filter_bank import border_indices

__all__ = ["pad", "wavelet_transform", "scattering_first_layer"]

_NP_PAD_MODES = {"reflect": "reflect", "zero": "constant", "periodic": "wrap"}


def pad(x: np.ndarray, pad_left: int, pad_right: int, mode: str = "reflect") -> np.ndarray:
    """Pad the last axis of ``x`` by ``pad_left`` / ``pad_right`` samples.

    Parameters
    ----------
    x : ndarray, shape (..., N)
    pad_left, pad_right : int
        Samples added before and after.
    mode : {'reflect', 'zero', 'periodic'}
        numpy's 'reflect' (mirror without repeating the edge sample; each side must be
        shorter than N, as in kymatio), 'constant' with zeros, or 'wrap'.

    Returns
    -------
    ndarray, shape (..., pad_left + N + pad_right), same dtype as ``x``.
    """
    if mode not in _NP_PAD_MODES:
        raise ValueError(f"mode={mode!r} must be 'reflect', 'zero' or 'periodic'")
    if pad_left < 0 or pad_right < 0:
        raise ValueError(f"pad_left={pad_left}, pad_right={pad_right} must be >= 0")
    n = x.shape[-1]
    if mode == "reflect" and max(pad_left, pad_right) >= n and (pad_left or pad_right):
        raise ValueError(f"reflect padding of {max(pad_left, pad_right)} samples needs a signal "
                         f"longer than that (N={n}); use mode='zero' or 'periodic'")
    widths = [(0, 0)] * (x.ndim - 1) + [(pad_left, pad_right)]
    return np.pad(x, widths, mode=_NP_PAD_MODES[mode])


def wavelet_transform(x, filters_f, pad_left, N_padded, log2_sub=None, ind_start=None,
                      ind_end=None, mode="reflect", modulus=False):
    """Convolve ``x`` with every filter, optionally subsampled by ``2^k`` per filter.

    Parameters
    ----------
    x : ndarray, shape (..., N), real
        Signals (any batch shape).
    filters_f : ndarray, shape (n_filters, N_padded), real
        Fourier-domain filters (``np.fft.fftfreq(N_padded)`` order).
    pad_left : int
        Padding before the signal; ``N_padded - N - pad_left`` samples go after it.
    N_padded : int
        Padded length, divisible by ``2^k`` for every k used.
    log2_sub : int or sequence of int, optional
        Subsampling exponent k per filter (or one for all); default 0.
    ind_start, ind_end : sequence of int, optional
        Bounds of the unpadded signal after subsampling by ``2^k``, indexed by k; default
        from :func:`~scatclust.reference.filter_bank.border_indices` (ceil halving of
        ``pad_left`` and ``pad_left + N``).
    mode : {'reflect', 'zero', 'periodic'}
        Padding mode, see :func:`pad`.
    modulus : bool
        Return ``|x * psi|`` (float64) instead of the complex convolution.

    Returns
    -------
    ndarray of shape (..., n_filters, N) if every k is 0, else a list with one array of
    shape (..., ind_end[k] - ind_start[k]) per filter; complex128, or float64 with modulus.

    Examples
    --------
    >>> from scatclust.reference import morlet_filter_bank
    >>> bank = morlet_filter_bank(500, J=4, Q=4)
    >>> x = np.random.default_rng(0).standard_normal((3, 500))
    >>> wavelet_transform(x, bank['psi1_f'], bank['pad_left'], bank['N_padded']).shape
    (3, 14, 500)
    """
    x = np.asarray(x, dtype=np.float64)
    filters_f = np.atleast_2d(np.asarray(filters_f, dtype=np.float64))
    n = x.shape[-1]
    n_filters = filters_f.shape[0]
    if filters_f.shape[-1] != N_padded:
        raise ValueError(f"filters_f has length {filters_f.shape[-1]}, expected N_padded={N_padded}")
    pad_right = N_padded - n - pad_left
    if pad_right < 0:
        raise ValueError(f"N_padded={N_padded} is shorter than pad_left + N = {pad_left + n}")

    if log2_sub is None:
        log2_sub = 0
    ks = [int(log2_sub)] * n_filters if np.ndim(log2_sub) == 0 else [int(k) for k in log2_sub]
    if len(ks) != n_filters:
        raise ValueError(f"log2_sub has {len(ks)} entries, expected n_filters={n_filters}")
    if ind_start is None or ind_end is None:
        ind_start, ind_end = border_indices(max(ks), 0, pad_left, pad_left + n)

    x_hat = np.fft.fft(pad(x, pad_left, pad_right, mode), axis=-1)

    outputs = []
    for psi_f, k in zip(filters_f, ks):
        y_hat = x_hat * psi_f
        if k > 0:
            factor = 2**k
            if N_padded % factor:
                raise ValueError(f"2^k={factor} must divide N_padded={N_padded}")
            # Keeping every 2^k-th time sample <=> averaging the 2^k frequency periods.
            y_hat = y_hat.reshape(y_hat.shape[:-1] + (factor, N_padded // factor)).mean(axis=-2)
        y = np.fft.ifft(y_hat, axis=-1)[..., ind_start[k]:ind_end[k]]
        outputs.append(np.abs(y) if modulus else y)

    if all(k == 0 for k in ks):
        return np.stack(outputs, axis=-2)
    return outputs


def scattering_first_layer(x, bank, oversampling=0):
    """First-order scattering modulus ``U1 = |x * psi1|``, subsampled as kymatio's averaged path.

    Filter ``n`` with maximal subsampling ``j1`` is subsampled by ``2^k1``,
    ``k1 = max(min(j1, log2_T) - oversampling, 0)`` (kymatio 0.3, ``average=True``).

    Parameters
    ----------
    x : ndarray, shape (..., N), real
    bank : dict
        From :func:`~scatclust.reference.filter_bank.morlet_filter_bank` with the same N.
    oversampling : int
        Reduce every subsampling exponent by this much (not below 0).

    Returns
    -------
    list of ndarray, one per first-order filter, shape (..., ind_end[k1] - ind_start[k1]).
    """
    if oversampling < 0:
        raise ValueError(f"oversampling={oversampling} must be >= 0")
    log2_T = bank["log2_T"]
    ks = [max(min(int(j1), log2_T) - oversampling, 0) for j1 in bank["psi1"]["j"]]
    out = wavelet_transform(x, bank["psi1_f"], bank["pad_left"], bank["N_padded"], log2_sub=ks,
                            ind_start=bank["ind_start"], ind_end=bank["ind_end"], modulus=True)
    return list(np.moveaxis(out, -2, 0)) if isinstance(out, np.ndarray) else out
