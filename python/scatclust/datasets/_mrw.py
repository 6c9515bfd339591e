r"""Multifractal random walk (Bacry, Delour & Muzy 2001) and fractional Gaussian noise.

The increments of a multifractal random walk (MRW) are

    ``m[k] = eps[k] * exp(omega[k])``,   k = 0 .. n-1,

with ``eps`` a unit-variance Gaussian noise (white for H = 1/2, fractional Gaussian noise
of Hurst exponent H otherwise) and ``omega`` an independent stationary Gaussian process,
the log-volatility, with the log-correlated covariance

    ``Cov(omega[j], omega[k]) = lambda^2 ln(T / (|j - k| + 1))``  for |j - k| < T, 0 beyond

(T the integral scale in samples) and the mean ``-lambda^2 ln T``, so that
``E[exp(2 omega)] = 1`` and ``E[m^2] = 1``. The walk is the running sum ``X = cumsum(m)``.

Both Gaussian processes are synthesised exactly by circulant embedding: the covariance row
is embedded in a symmetric circulant of length ``nfft >= n + T`` (resp. ``>= 2n``), whose
eigenvalues (its FFT) are non-negative for the log kernel and for fractional Gaussian
noise (Dietrich & Newsam 1997; Craigmile 2003); a white noise shaped by their square root
then has exactly the wanted covariance on its first n samples.

Exact moments used by the tests (``d = |j - k|``, ``rho_H`` the fGn autocorrelation
``(|d+1|^{2H} - 2|d|^{2H} + |d-1|^{2H}) / 2``, and d < T):

* ``E[m[j] m[k]] = rho_H(d) (d + 1)^(-lambda^2)``;
* ``E[X(l)^2] = sum_{j,k<l} rho_H(|j-k|) (|j-k| + 1)^(-lambda^2)``;
* for H = 1/2, ``E[X(l)^4] = 3 sum_{j,k<l} (T / (|j-k| + 1))^(4 lambda^2)`` and
  ``Cov(ln|m[j]|, ln|m[k]|) = lambda^2 ln(T / (d + 1))`` for j != k,
  ``Var ln|m| = lambda^2 ln T + pi^2 / 8``.

Scaling: for H = 1/2 the structure functions of the walk scale, for l << T, as
``E|X(t+l) - X(t)|^q ~ l^zeta(q)`` with ``zeta(q) = q/2 - lambda^2 q (q - 2) / 2``
(Bacry et al. 2001; zeta(2) = 1 exactly since the increments are uncorrelated). For
H > 1/2 the exact second moment above gives ``zeta(2) = 2H - lambda^2``, which is the
value of ``qH - lambda^2 q (q - 1) / 2`` at q = 2 (the formula of Abry et al. 2009 for
MRWs built on fractional Gaussian noise).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["mrw"]


def _fast_len(n):
    """Smallest 2^a 3^b 5^c >= n (fast FFT sizes)."""
    best = 1 << max(0, int(n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _circulant_gaussian(rng, cov_half, nfft, n, size=()):
    """Stationary Gaussian samples of length ``n`` with covariance row ``cov_half`` (lags
    0 .. nfft // 2), by exact circulant embedding of length ``nfft``; shape (*size, n).

    The circulant row is ``cov_half`` mirrored; its FFT (the circulant's eigenvalues) must be
    non-negative up to round-off, which is clipped. One ``rng.standard_normal`` draw of
    shape (*size, nfft).
    """
    cov = np.concatenate([cov_half, cov_half[1:(nfft + 1) // 2][::-1]])  # symmetric circulant row
    spec_cov = np.fft.rfft(cov).real
    del cov
    np.maximum(spec_cov, 0.0, out=spec_cov)
    spec = np.fft.rfft(rng.standard_normal(tuple(size) + (nfft,)))
    spec *= np.sqrt(spec_cov)
    return np.fft.irfft(spec, n=nfft)[..., :n]


def log_volatility(rng, n, lam2, big_t, size=()):
    """Log-volatility ``omega`` of an MRW, shape (*size, n): Gaussian, covariance
    ``lam2 ln(big_t / (|k| + 1))`` for |k| < big_t (0 beyond), mean ``-lam2 ln(big_t)``."""
    nfft = _fast_len(n + big_t)
    lag = np.arange(nfft // 2 + 1, dtype=np.float64)
    cov_half = np.where(lag < big_t, lam2 * np.log(big_t / (lag + 1.0)), 0.0)
    omega = _circulant_gaussian(rng, cov_half, nfft, n, size)
    omega += -lam2 * math.log(big_t)
    return omega


def fgn_autocorrelation(lag, hurst):
    """Autocorrelation of unit-variance fractional Gaussian noise at integer ``lag``."""
    d = np.abs(np.asarray(lag, dtype=np.float64))
    h2 = 2.0 * hurst
    return 0.5 * (np.abs(d + 1.0) ** h2 - 2.0 * d ** h2 + np.abs(d - 1.0) ** h2)


def fgn(rng, n, hurst, size=()):
    """Unit-variance fractional Gaussian noise of Hurst exponent ``hurst``, shape (*size, n)
    (white Gaussian noise for hurst = 0.5, drawn directly)."""
    if hurst == 0.5:
        return rng.standard_normal(tuple(size) + (n,))
    nfft = _fast_len(2 * max(n, 2))
    cov_half = fgn_autocorrelation(np.arange(nfft // 2 + 1), hurst)
    return _circulant_gaussian(rng, cov_half, nfft, n, size)


def _check_real(value, name, lo=None, hi=None, lo_open=False, hi_open=False, example=""):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite real number{example}")
    value = float(value)
    bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
    bad_hi = hi is not None and (value >= hi if hi_open else value > hi)
    if bad_lo or bad_hi:
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        raise ValueError(f"{name}={value!r} is out of range; valid range is {lb}{lo}, {hi}{rb}{example}")
    return value


def _as_rng(seed):
    """numpy Generator from None, an int >= 0, a SeedSequence or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed={seed!r} must be None, an int >= 0 or a numpy Generator (e.g. seed=0)")
    if seed < 0:
        raise ValueError(f"seed={seed} must be >= 0 (e.g. seed=0)")
    return np.random.default_rng(int(seed))


def _size_tuple(size):
    if size is None:
        return ()
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (size,)
    try:
        size = tuple(size)
    except TypeError:
        raise ValueError(f"size={size!r} must be None, an int or a tuple of ints (e.g. size=100)") from None
    for s in size:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"size={size!r} must hold ints >= 0 (e.g. size=100)")
    return tuple(int(s) for s in size)


def mrw(n, H=0.5, lam=0.2, size=None, seed=None, integral_scale=None):
    r"""Increments of a multifractal random walk (Bacry, Delour & Muzy 2001).

    ``m[k] = eps[k] exp(omega[k])``: ``eps`` unit-variance Gaussian noise (white for
    H = 0.5, fractional Gaussian noise of Hurst exponent H otherwise), ``omega`` an
    independent Gaussian log-volatility with covariance
    ``lam^2 ln(T / (|tau| + 1))`` for lags |tau| < T (0 beyond) and mean
    ``-lam^2 ln T`` so that ``E[exp(2 omega)] = 1``: the increments have unit variance.
    ``np.cumsum(m, axis=-1)`` is the walk. Both processes are synthesised exactly by
    circulant embedding; every realisation has its own ``eps`` and ``omega``. See
    :mod:`scatclust.datasets._mrw` for the exact moments and scaling exponents.

    Parameters
    ----------
    n : int
        Number of increments (>= 1).
    H : float
        Hurst exponent of ``eps``, in (0, 1); 0.5 gives white ``eps`` (the classical MRW).
    lam : float
        Intermittency coefficient lambda (>= 0); 0 gives (fractional) Gaussian noise.
        srcsep's toy background uses lam = 0.2.
    size : None, int or tuple of ints
        Number (shape) of independent realisations; the output has shape ``(*size, n)``.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Randomness; the same int gives identical output.
    integral_scale : int, optional
        T, the correlation length of ``omega`` in samples (>= 2); default ``max(n, 2)``.

    Returns
    -------
    ndarray, shape (n,) or (*size, n), float64
        The increments.

    Raises
    ------
    ValueError
        n < 1, H outside (0, 1), lam < 0 or not finite, integral_scale < 2, bad size or seed.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.datasets import mrw
    >>> m = mrw(2048, H=0.5, lam=0.2, size=100, seed=0)
    >>> m.shape, m.dtype
    ((100, 2048), dtype('float64'))
    >>> bool(abs(np.mean(m ** 2) - 1.0) < 0.1)   # unit variance
    True
    >>> walk = np.cumsum(m, axis=-1)
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n={n!r} must be an int >= 1 (the number of increments, e.g. n=2048)")
    n = int(n)
    H = _check_real(H, "H", 0.0, 1.0, lo_open=True, hi_open=True, example=" (H=0.5: white eps)")
    lam = _check_real(lam, "lam", 0.0, example=" (e.g. lam=0.2)")
    if integral_scale is None:
        big_t = max(n, 2)
    else:
        if isinstance(integral_scale, bool) or not isinstance(integral_scale, numbers.Integral) or integral_scale < 2:
            raise ValueError(f"integral_scale={integral_scale!r} must be an int >= 2 (samples), "
                             f"or None for the signal length")
        big_t = int(integral_scale)
    size = _size_tuple(size)
    rng = _as_rng(seed)
    if lam > 0.0:
        vol = log_volatility(rng, n, lam * lam, big_t, size)
        np.exp(vol, out=vol)
    else:
        vol = np.ones(size + (n,))
    eps = fgn(rng, n, H, size)
    eps *= vol
    return eps
