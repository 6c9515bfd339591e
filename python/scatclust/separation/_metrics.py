r"""Separation quality: signal-to-noise ratios against a known truth.

``snr_db(estimate, truth) = 10 log10(||truth||^2 / ||estimate - truth||^2)`` in decibels,
with ``||.||`` the Euclidean norm over all samples (and channels) or over ``axis``. It is
+inf for an exact estimate (including a zero truth estimated as zero), -inf for a zero
truth estimated as non-zero, and 0 dB when the error is as large as the truth itself
(e.g. estimating a contaminant as 0).

``snr_improvement_db(estimate, truth, mixture) = snr_db(estimate, truth) -
snr_db(mixture, truth)``: how much the estimate improves on doing nothing (taking the
mixture itself as the estimate of the truth).
"""
from __future__ import annotations

import numpy as np

from .._array import as_real_numpy

__all__ = ["snr_db", "snr_improvement_db"]


def _pair(estimate, truth, names):
    a, _ = as_real_numpy(estimate, names[0])
    b, _ = as_real_numpy(truth, names[1])
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} has shape {a.shape} but {names[1]} has shape {b.shape}; "
                         f"pass arrays of the same shape")
    return a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)


def snr_db(estimate, truth, axis=None):
    r"""Signal-to-noise ratio of an estimate, in dB: ``10 log10(||truth||^2 / ||estimate - truth||^2)``.

    Parameters
    ----------
    estimate, truth : array_like, same shape
        Real arrays (numpy arrays, array-likes or CPU torch tensors); computed in float64.
    axis : None, int or tuple of ints
        Axes summed in the norms; None = all (one number for the whole array, channels
        included).

    Returns
    -------
    float or ndarray
        The SNR in dB (a float when ``axis`` is None). +inf where the estimate is exact
        (zero error, whatever the truth), -inf where the truth is zero and the estimate
        is not; 0 dB for a zero estimate of a non-zero truth.

    Raises
    ------
    ValueError
        Shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.separation import snr_db
    >>> truth = np.ones(100)
    >>> round(snr_db(truth + 0.1, truth), 6)   # 10 log10(100 / 1)
    20.0
    >>> snr_db(np.zeros(100), truth)            # doing nothing to a contaminant
    0.0
    >>> snr_db(truth, truth)
    inf
    """
    a, b = _pair(estimate, truth, ("estimate", "truth"))
    num = np.sum(b * b, axis=axis)
    err = a - b
    den = np.sum(err * err, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10.0 * (np.log10(num) - np.log10(den))
    out = np.where(den == 0.0, np.inf, out)  # exact (also 0/0: a zero truth estimated as zero)
    if np.ndim(out) == 0:
        return float(out)
    return out


def snr_improvement_db(estimate, truth, mixture, axis=None):
    r"""SNR improvement over the input: ``snr_db(estimate, truth) - snr_db(mixture, truth)``.

    Parameters
    ----------
    estimate, truth, mixture : array_like, same shape
        The estimate of ``truth`` and the observation it was made from.
    axis : None, int or tuple of ints
        As in :func:`snr_db`.

    Returns
    -------
    float or ndarray
        Improvement in dB (positive: the estimate is closer to the truth than the mixture
        is). inf - inf (an exact mixture and an exact estimate) gives nan.

    Raises
    ------
    ValueError
        Shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.separation import snr_improvement_db
    >>> truth = np.ones(100)
    >>> mixture = truth + 1.0            # input SNR 0 dB
    >>> round(snr_improvement_db(truth + 0.1, truth, mixture), 6)
    20.0
    """
    m, b = _pair(mixture, truth, ("mixture", "truth"))
    with np.errstate(invalid="ignore"):
        return snr_db(estimate, truth, axis=axis) - snr_db(m, b, axis=axis)
