r"""Baseline separations to compare :func:`scatclust.separate` against.

All take the observation ``x`` (``(n,)`` or ``(C, n)``: C channels) and ``priors``
(``(R, *x.shape)``: R windows of the background alone) and return
``(background_estimate, other_estimate)``, both of ``x``'s shape and precision, with
``background_estimate + other_estimate == x`` (to rounding). They need scipy (and
scikit-learn for FastICA), imported when a baseline runs; inputs are numpy arrays,
array-likes or CPU torch tensors, outputs numpy arrays.

Spectra are Welch estimates (scipy.signal.welch: Hann window, ``nperseg`` samples, half
overlap, no detrending so that the zero frequency keeps a pulse's or glitch's mean), per
channel; the priors' spectrum is the average of their R Welch spectra. The default
``nperseg`` is n / 32 (at least 8): 64 for 2048 samples. The mixture's spectrum comes from
one window only, and its estimation noise costs more than frequency resolution gains: on
an AR(1) background (coefficient 0.9) plus white noise (std 0.5), n = 2048, R = 100, the
Wiener filter is 0.6 dB below the optimum with nperseg = 64 and 2.2 dB below with 256
(the gain computed from the true spectra reaches the optimum). Filters are
zero-phase: a real gain ``G(f)`` multiplies the FFT of ``x`` (per channel), after ``x`` is
extended by ``nperseg`` samples of even reflection at each end (so that the circular
convolution does not wrap one end onto the other); the gain, known on the Welch grid, is
interpolated linearly onto the FFT grid, so its impulse response stays about ``nperseg``
samples long.

wiener_filter
    ``G(f) = clip(S_n(f) / S_x(f), 0, 1)``: S_n the priors' average spectrum, S_x the
    mixture's spectrum. If the other source is independent of the background,
    ``S_x = S_n + S_s`` and G is the Wiener gain ``S_n / (S_n + S_s)``, the linear
    time-invariant filter of least mean-square error for Gaussian stationary sources.
spectral_cap
    ``G(f) = clip(Q_q(f) / S_x(f), 0, 1)`` with Q_q the q-quantile (default 0.75) of the priors'
    R Welch spectra instead of their mean: removes only power above what that fraction of the
    priors show. The optional last step of ``scatclust.separate`` (``post='cap'``); alone it
    is at or above the Wiener filter on the separation bench (bench/RESULTS.md).
bandpass_filter
    The band is the shortest interval of Welch frequencies ``[f_lo, f_hi]`` in which the
    priors' average spectrum holds at least ``fraction`` (default 0.9) of its total power
    (:func:`prior_band`); G = 1 inside, 0 outside, with raised-cosine transitions one
    Welch bin wide centred half a bin outside the band edges (none at 0 and Nyquist).
fastica_separate
    scikit-learn's FastICA on the C channels (C >= 2), or, for one channel, on its delay
    embedding (the ``(n - L + 1, L)`` trajectory matrix of L = ``embedding`` lagged copies,
    as in singular-spectrum analysis). Every independent component is mapped back to the
    data space (its mixing column times its time course; for the embedding the L lagged
    copies are averaged back onto the samples, "Hankelisation"), so that the components
    add up to ``x``. The priors are projected with the same unmixing; a component whose
    mixture spectrum P_x departs from the priors' spectrum P_p of that component by more
    than ``threshold``, the departure being ``max(ln mean_f(P_x / P_p), ln mean_f(P_p / P_x))``
    over the Welch frequencies (a tone in one bin counts as much as broadband excess
    power; every component's time course is centred on its window mean first), is
    assigned to the other source (none may be: then the other estimate is 0). The rest (and the mean,
    and for the embedding what the ``n_components`` components leave out) is background.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._array import as_real_numpy

__all__ = ["bandpass_filter", "fastica_separate", "prior_band", "spectral_cap", "wiener_filter"]


# --------------------------------------------------------------------------------------
# Input checks and helpers.
def _check_inputs(x, priors):
    """(x as (C, n) float64, priors as (R, C, n) float64, x's shape, x's dtype)."""
    xa, _ = as_real_numpy(x, "x")
    if xa.ndim not in (1, 2):
        raise ValueError(f"x has shape {xa.shape}; expected (n,) or (C, n) (channels first, samples last)")
    if xa.shape[-1] < 2:
        raise ValueError(f"x has {xa.shape[-1]} samples on its last axis; at least 2 are needed")
    if not np.isfinite(xa).all():
        raise ValueError("x contains NaN or Inf values; remove or interpolate them first")
    pa, _ = as_real_numpy(priors, "priors")
    if pa.ndim != xa.ndim + 1 or pa.shape[1:] != xa.shape:
        raise ValueError(f"priors has shape {pa.shape}; expected (R, {', '.join(map(str, xa.shape))}): R windows of "
                         f"the background with x's shape {xa.shape} (same channels and length)")
    if pa.shape[0] < 1:
        raise ValueError("priors holds R=0 windows; at least 1 is needed")
    if not np.isfinite(pa).all():
        raise ValueError("priors contains NaN or Inf values; drop those windows")
    shape, dtype = xa.shape, xa.dtype
    x2 = np.asarray(xa, dtype=np.float64).reshape(-1, shape[-1])
    p3 = np.asarray(pa, dtype=np.float64).reshape(pa.shape[0], -1, shape[-1])
    return x2, p3, shape, dtype


def _check_nperseg(nperseg, n):
    if nperseg is None:  # n / 32: 64 for 2048 samples (see the module docstring)
        return int(max(8, min(n // 32, n)))
    if isinstance(nperseg, bool) or not isinstance(nperseg, numbers.Integral) or nperseg < 4:
        raise ValueError(f"nperseg={nperseg!r} must be an int >= 4 (the Welch segment length, e.g. nperseg=256)")
    return int(min(nperseg, n))


def _welch(a, nperseg):
    """One-sided Welch PSD along the last axis (fs = 1): Hann, half overlap, no detrend."""
    from scipy import signal  # optional dependency: imported when a baseline runs

    return signal.welch(a, fs=1.0, window="hann", nperseg=nperseg, noverlap=nperseg // 2,
                        detrend=False, axis=-1)


def _apply_gain(x2, f_coarse, gain, pad):
    """Zero-phase filtering of each row of x2 (C, n) by gain (C, F) known at f_coarse,
    linearly interpolated, after even reflection of ``pad`` samples at both ends."""
    n = x2.shape[-1]
    pad = min(pad, n - 1)
    y = np.pad(x2, ((0, 0), (pad, pad)), mode="reflect") if pad > 0 else x2
    m = y.shape[-1]
    spec = np.fft.rfft(y, axis=-1)
    f = np.fft.rfftfreq(m)
    g = np.stack([np.interp(f, f_coarse, gc) for gc in gain])
    return np.fft.irfft(spec * g, n=m, axis=-1)[:, pad:pad + n]


def _finish(bg2, x2, shape, dtype):
    bg = bg2.reshape(shape)
    other = x2.reshape(shape) - bg
    return bg.astype(dtype, copy=False), other.astype(dtype, copy=False)


# --------------------------------------------------------------------------------------
def wiener_filter(x, priors, nperseg=None):
    r"""Wiener filter from the priors' average spectrum and the mixture's spectrum.

    Gain ``G(f) = clip(S_n(f) / S_x(f), 0, 1)`` per channel, with S_n the average Welch
    spectrum of the priors and S_x the Welch spectrum of ``x`` (where S_x = 0 the gain
    is 1); background estimate = G applied to ``x`` (zero phase, see
    :mod:`scatclust.separation._baselines` for the padding and interpolation).

    Parameters
    ----------
    x : array_like, shape (n,) or (C, n)
        Observation, float32 or float64 (other real dtypes are computed in float64).
    priors : array_like, shape (R, n) or (R, C, n)
        R >= 1 windows of background alone.
    nperseg : int, optional
        Welch segment length (>= 4; clipped to n): frequency resolution 1 / nperseg
        cycles per sample. Default n / 32 (see :mod:`scatclust.separation._baselines`).

    Returns
    -------
    background, other : ndarray, x's shape and precision
        ``background + other == x``.

    Raises
    ------
    ValueError
        Shapes that do not match, NaN/Inf, nperseg < 4.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.separation import wiener_filter, snr_db
    >>> rng = np.random.default_rng(0)
    >>> lowpass = lambda w: np.fft.irfft(np.fft.rfft(w) * (np.fft.rfftfreq(w.shape[-1]) < 0.1))
    >>> priors = lowpass(rng.standard_normal((50, 2048)))
    >>> n = lowpass(rng.standard_normal(2048))
    >>> s = 0.3 * rng.standard_normal(2048)               # white: most of it is out of band
    >>> bg, other = wiener_filter(n + s, priors)
    >>> bool(snr_db(bg, n) > snr_db(n + s, n) + 5)       # better than doing nothing
    True
    """
    x2, p3, shape, dtype = _check_inputs(x, priors)
    nps = _check_nperseg(nperseg, x2.shape[-1])
    f, s_n = _welch(p3, nps)
    s_n = s_n.mean(axis=0)
    _, s_x = _welch(x2, nps)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(s_x > 0, s_n / s_x, 1.0)
    np.clip(gain, 0.0, 1.0, out=gain)
    return _finish(_apply_gain(x2, f, gain, nps), x2, shape, dtype)


def spectral_cap(x, priors, quantile=0.75, nperseg=None):
    r"""Cap the spectrum of ``x`` at a quantile of the priors' spectra (zero-phase gain).

    Gain ``G(f) = clip(Q_q(f) / S_x(f), 0, 1)`` per channel, with Q_q the ``quantile`` over
    the R priors of their Welch spectra (not their average, as in :func:`wiener_filter`) and
    S_x the Welch spectrum of ``x``: only power in excess of what a q-quantile realisation of
    the background shows is removed, and a band where x is within the priors' spread is left
    alone. Used by ``scatclust.separate(post='cap')`` on the scattering estimate ñ, whose
    remaining contaminant is small, and by ``init='cap'``. Applied to a raw mixture it is a
    milder Wiener filter; on the separation bench (bench/RESULTS.md, reported seeds) it gives
    background SNR 11.75 / 16.92 / 13.63 dB on the toy pulses / square / glitch (Wiener 11.73 /
    16.55 / 13.22) and +21.84 / +15.78 dB on Mars-like deglitch / wind (Wiener +21.54 / +15.77).

    Parameters
    ----------
    x : array_like, shape (n,) or (C, n)
    priors : array_like, shape (R, n) or (R, C, n)
    quantile : float in [0, 1]
        Default 0.75 (chosen on tuning seeds, see bench/RESULTS.md "Source separation").
    nperseg : int, optional
        Welch segment length, as in :func:`wiener_filter` (default n / 32).

    Returns
    -------
    background, other : ndarray, x's shape and precision

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> priors = rng.standard_normal((50, 1024))
    >>> bg, other = spectral_cap(priors[0], priors[1:])     # a background alone: barely touched
    >>> bool(np.abs(other).max() < 0.2 * np.abs(bg).max())
    True
    """
    x2, p3, shape, dtype = _check_inputs(x, priors)
    q = float(quantile)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile={quantile!r} must be in [0, 1] (0.5: the priors' median spectrum)")
    nps = _check_nperseg(nperseg, x2.shape[-1])
    f, s_p = _welch(p3, nps)
    cap = np.quantile(s_p, q, axis=0)
    _, s_x = _welch(x2, nps)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(s_x > 0, cap / s_x, 1.0)
    np.clip(gain, 0.0, 1.0, out=gain)
    return _finish(_apply_gain(x2, f, gain, nps), x2, shape, dtype)


def _shortest_band(power, fraction):
    """(i, j): the shortest run power[i..j] (inclusive) whose sum >= fraction * total
    (the lowest such run when several are equally short)."""
    total = float(power.sum())
    if total <= 0:
        return 0, power.size - 1
    target = fraction * total * (1.0 - 1e-12)
    csum = np.concatenate([[0.0], np.cumsum(power)])
    best = (0, power.size - 1)
    j = 0
    for i in range(power.size):  # two pointers: for each start, the first end reaching the target
        j = max(j, i)
        while j < power.size and csum[j + 1] - csum[i] < target:
            j += 1
        if j == power.size:
            break
        if j - i < best[1] - best[0]:
            best = (i, j)
    return best


def _check_fraction(fraction):
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not (0.0 < fraction <= 1.0):
        raise ValueError(f"fraction={fraction!r} must be a number in (0, 1] (the share of the priors' power the band "
                         f"keeps, e.g. fraction=0.9)")
    return float(fraction)


def prior_band(priors, fraction=0.9, nperseg=None):
    r"""The frequency band where the priors carry ``fraction`` of their power, per channel.

    The shortest interval of Welch frequencies ``[f_lo, f_hi]`` (fs = 1: cycles per
    sample, 0 to 0.5) whose bins hold at least ``fraction`` of the total of the priors'
    average Welch spectrum; the lowest such interval when several are equally short.

    Parameters
    ----------
    priors : array_like, shape (R, n) or (R, C, n)
        R >= 1 windows of background alone.
    fraction : float
        Share of the power to keep, in (0, 1].
    nperseg : int, optional
        Welch segment length (>= 4; clipped to n); default n / 32.

    Returns
    -------
    ndarray, shape (2,) or (C, 2), float64
        ``[f_lo, f_hi]`` in cycles per sample (bin centres).

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.separation import prior_band
    >>> rng = np.random.default_rng(0)
    >>> lowpass = lambda w: np.fft.irfft(np.fft.rfft(w) * (np.fft.rfftfreq(w.shape[-1]) < 0.1))
    >>> prior_band(lowpass(rng.standard_normal((20, 2048))), fraction=0.9)
    array([0.     , 0.09375])
    """
    fraction = _check_fraction(fraction)
    pa, _ = as_real_numpy(priors, "priors")
    if pa.ndim not in (2, 3) or pa.shape[0] < 1 or pa.shape[-1] < 2:
        raise ValueError(f"priors has shape {pa.shape}; expected (R, n) or (R, C, n) with R >= 1 and n >= 2")
    p3 = np.asarray(pa, dtype=np.float64).reshape(pa.shape[0], -1, pa.shape[-1])
    nps = _check_nperseg(nperseg, p3.shape[-1])
    f, s_n = _welch(p3, nps)
    s_n = s_n.mean(axis=0)
    band = np.array([[f[i], f[j]] for i, j in (_shortest_band(p, fraction) for p in s_n)])
    return band[0] if pa.ndim == 2 else band


def bandpass_filter(x, priors, fraction=0.9, nperseg=None):
    r"""Keep the frequency band where the priors carry most of their power.

    The band is :func:`prior_band` (the shortest Welch-frequency interval holding
    ``fraction`` of the priors' average power), per channel; the gain is 1 in the band
    and 0 outside with raised-cosine transitions one Welch bin (1 / nperseg) wide,
    centred half a bin outside the band edges (no transition at 0 or at Nyquist);
    zero-phase (see :mod:`scatclust.separation._baselines`).

    Parameters
    ----------
    x : array_like, shape (n,) or (C, n)
        Observation.
    priors : array_like, shape (R, n) or (R, C, n)
        R >= 1 windows of background alone.
    fraction : float
        Share of the priors' power the band holds, in (0, 1].
    nperseg : int, optional
        Welch segment length (>= 4; clipped to n); default n / 32.

    Returns
    -------
    background, other : ndarray, x's shape and precision
        The band-passed ``x`` and the rest.

    Raises
    ------
    ValueError
        Shapes that do not match, NaN/Inf, fraction outside (0, 1], nperseg < 4.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.separation import bandpass_filter
    >>> rng = np.random.default_rng(0)
    >>> lowpass = lambda w: np.fft.irfft(np.fft.rfft(w) * (np.fft.rfftfreq(w.shape[-1]) < 0.1))
    >>> tone = np.cos(2 * np.pi * 0.3 * np.arange(2048))
    >>> bg, other = bandpass_filter(lowpass(rng.standard_normal(2048)) + tone,
    ...                             lowpass(rng.standard_normal((20, 2048))))
    >>> bool(np.abs(np.fft.rfft(bg))[int(0.3 * 2048)] < 1e-3 * np.abs(np.fft.rfft(tone)).max())
    True
    """
    fraction = _check_fraction(fraction)
    x2, p3, shape, dtype = _check_inputs(x, priors)
    nps = _check_nperseg(nperseg, x2.shape[-1])
    f, s_n = _welch(p3, nps)
    s_n = s_n.mean(axis=0)
    # Gain on a grid 8x finer than Welch's, so that the raised-cosine edges survive the
    # linear interpolation onto the FFT grid.
    df = f[1] - f[0]
    fine = np.linspace(0.0, f[-1], 8 * (f.size - 1) + 1)
    gain = np.empty((x2.shape[0], fine.size))
    for c, p in enumerate(s_n):
        i, j = _shortest_band(p, fraction)
        g = np.ones(fine.size)
        if i > 0:  # lower edge: 0 below f_i - df, 1 above f_i, cosine between
            lo = f[i] - df
            t = np.clip((fine - lo) / df, 0.0, 1.0)
            g *= 0.5 - 0.5 * np.cos(np.pi * t)
        if j < f.size - 1:
            hi = f[j] + df
            t = np.clip((hi - fine) / df, 0.0, 1.0)
            g *= 0.5 - 0.5 * np.cos(np.pi * t)
        gain[c] = g
    return _finish(_apply_gain(x2, fine, gain, nps), x2, shape, dtype)


# --------------------------------------------------------------------------------------
def _embed(a, L):
    """Trajectory matrices of the rows of a (..., n): (..., n - L + 1, L), a view."""
    return np.lib.stride_tricks.sliding_window_view(a, L, axis=-1)


def _hankel_average(z, n):
    """Inverse of the embedding for a (n - L + 1, L) matrix: average of the entries that
    land on each sample (z[t, j] lands on sample t + j)."""
    T, L = z.shape
    out = np.zeros(n)
    counts = np.zeros(n)
    for j in range(L):
        out[j:j + T] += z[:, j]
        counts[j:j + T] += 1.0
    return out / counts


def fastica_separate(x, priors, n_components=None, embedding=16, threshold=math.log(2.0), nperseg=None,
                     random_state=0, max_iter=1000):
    r"""FastICA across channels (or delay-embedded lags), components sorted by the priors.

    scikit-learn's :class:`~sklearn.decomposition.FastICA` on the C channels of ``x``
    (C >= 2) or, for a single channel, on its delay embedding with ``embedding`` lags.
    Each component's contribution to ``x`` is compared with the priors' projection on the
    same component: components whose Welch spectrum departs from the priors' by more
    than ``threshold`` (log of the mean spectral ratio, either way) form the other source
    (possibly none); the rest is the background. Details in
    :mod:`scatclust.separation._baselines`.

    Parameters
    ----------
    x : array_like, shape (n,) or (C, n)
        Observation; one channel (shape (n,) or (1, n)) uses the delay embedding.
    priors : array_like, shape (R, n) or (R, C, n)
        R >= 1 windows of background alone.
    n_components : int, optional
        Number of independent components (default: C, or ``embedding`` for one channel);
        at most C (resp. ``embedding``).
    embedding : int
        Delay-embedding dimension L for a single channel (2 <= L <= n / 2).
    threshold : float
        Spectral departure (natural log of the mean power ratio, either way; ln 2 = twice
        or half the priors' power on average over frequencies) above which a component
        goes to the other source.
    nperseg : int, optional
        Welch segment length of the spectra compared (>= 4; clipped to the length);
        default length / 32.
    random_state : int
        Seed of FastICA's initial unmixing matrix.
    max_iter : int
        FastICA's iteration limit.

    Returns
    -------
    background, other : ndarray, x's shape and precision
        ``background + other == x``.

    Raises
    ------
    ValueError
        Shapes that do not match, NaN/Inf, n_components or embedding out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.separation import fastica_separate, snr_db
    >>> rng = np.random.default_rng(0)
    >>> A = np.array([[1.0, 0.6], [0.4, 1.0]])          # mixing: 2 sources -> 2 channels
    >>> n = np.outer(A[:, 0], rng.uniform(-1, 1, 4096))  # background (uniform noise)
    >>> s = np.outer(A[:, 1], np.sign(np.sin(np.arange(4096) / 40.0)))  # square wave
    >>> priors = np.stack([np.outer(A[:, 0], rng.uniform(-1, 1, 4096)) for _ in range(10)])
    >>> bg, other = fastica_separate(n + s, priors)
    >>> bool(snr_db(bg, n) > 20)
    True
    """
    from sklearn.decomposition import FastICA

    x2, p3, shape, dtype = _check_inputs(x, priors)
    C, n = x2.shape
    single = C == 1
    if single:
        if isinstance(embedding, bool) or not isinstance(embedding, numbers.Integral) or not 2 <= embedding <= n // 2:
            raise ValueError(f"embedding={embedding!r} must be an int in [2, n/2 = {n // 2}] (the number of delays "
                             f"of the single-channel embedding, e.g. embedding=16)")
        L = int(embedding)
        data = _embed(x2[0], L)                        # (n - L + 1, L)
        prior_data = [_embed(p[0], L) for p in p3]
        kmax = L
    else:
        data = x2.T                                    # (n, C)
        prior_data = [p.T for p in p3]
        kmax = C
    if n_components is None:
        k = kmax
    elif isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral) or not 1 <= n_components <= kmax:
        raise ValueError(f"n_components={n_components!r} must be an int in [1, {kmax}] "
                         f"({'the embedding dimension' if single else 'the number of channels'})")
    else:
        k = int(n_components)
    if not (isinstance(threshold, numbers.Real) and math.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold={threshold!r} must be a finite number >= 0 (e.g. threshold=math.log(2))")
    nps = _check_nperseg(nperseg, data.shape[0])

    ica = FastICA(n_components=k, whiten="unit-variance", random_state=random_state, max_iter=max_iter)
    sources = ica.fit_transform(np.ascontiguousarray(data))        # (T, k)
    prior_sources = np.stack([ica.transform(np.ascontiguousarray(d)) for d in prior_data])  # (R, T, k)
    # Each time course is centred on its own window mean first: a prior window projected
    # with the mixture's unmixing carries an offset (the mixture's mean, e.g. a glitch's,
    # is not the prior's), which would otherwise fill the low-frequency bins.
    sources_c = sources - sources.mean(axis=0)
    prior_c = prior_sources - prior_sources.mean(axis=1, keepdims=True)
    _, p_mix = _welch(sources_c.T, nps)                             # (k, F)
    _, p_pri = _welch(np.swapaxes(prior_c, 1, 2), nps)             # (R, k, F)
    p_pri = p_pri.mean(axis=0)
    tiny = np.finfo(np.float64).tiny
    ratio = (p_mix + tiny) / (p_pri + tiny)
    # Log mean spectral ratio, both ways: sensitive to a narrow-band excess (a tone in
    # one bin) as much as to a broadband one, and to deficits.
    departure = np.maximum(np.log(ratio.mean(axis=-1)), np.log((1.0 / ratio).mean(axis=-1)))
    other_set = departure > threshold

    # The other source: its components' contributions mapped back to the data space.
    contrib = sources[:, other_set] @ ica.mixing_[:, other_set].T   # (T, L) or (n, C)
    if single:
        other2 = _hankel_average(contrib, n)[None, :]
    else:
        other2 = contrib.T
    return _finish(x2 - other2, x2, shape, dtype)
