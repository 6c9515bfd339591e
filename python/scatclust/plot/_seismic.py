"""Figures of seismic clustering results: per scale and cluster, time-of-day histograms,
cross-correlation-aligned waveforms and their centroid, centroid spectra, occupancy through
time, cross-scale nesting and a 2-D view of the latent space.

Every function takes plain arrays (labels, times, waveforms), never a model or a store:
:class:`scatclust.report.SeismicResults` gathers those arrays from a feature store and a
fitted model.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ._common import amplitude_spectral_density, cluster_colors, finish, new_figure

__all__ = ["AlignedWaveforms", "align_waveforms", "centroid_asd", "cluster_centroids", "cluster_waveforms",
           "contingency_heatmap", "contingency_table", "embed_2d", "latent_embedding", "occupancy",
           "occupancy_raster", "time_of_day_histogram", "window_start_samples"]


# ----------------------------------------------------------------------------- checks
def _labels(labels, name="labels", n=None):
    lab = np.asarray(labels)
    if lab.ndim != 1 or not (np.issubdtype(lab.dtype, np.integer) or lab.size == 0):
        raise ValueError(f"{name} must be a 1-D integer array (one cluster per window, -1 = none); got "
                         f"shape {lab.shape}, dtype {lab.dtype}")
    if n is not None and lab.shape[0] != n:
        raise ValueError(f"{name} has {lab.shape[0]} entries but {n} windows were given")
    return lab.astype(np.int64)


def _n_clusters(labels, n_clusters):
    if n_clusters is None:
        return int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 1
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral) or n_clusters < 1:
        raise ValueError(f"n_clusters={n_clusters!r} must be an int >= 1")
    if labels.size and labels.max() >= n_clusters:
        raise ValueError(f"labels go up to {int(labels.max())} but n_clusters={n_clusters}")
    return int(n_clusters)


def _grid(k, max_cols=4):
    ncols = min(k, max_cols)
    return -(-k // ncols), ncols


def _hours(hours, n):
    h = np.asarray(hours, dtype=np.float64)
    if h.shape != (n,):
        raise ValueError(f"hours has shape {h.shape}; it must be ({n},), one time of day per window")
    if h.size and (not np.isfinite(h).all() or h.min() < 0 or h.max() >= 24):
        raise ValueError("hours must be finite times of day in [0, 24)")
    return h


# ----------------------------------------------------------------------------- time of day
def time_of_day_histogram(hours, labels, *, n_clusters=None, bins=24, weights=None, time_label="LMST",
                          title=None, path=None):
    """Histogram of the time of day of every cluster's windows, one panel per cluster.

    Parameters
    ----------
    hours : array_like (n_windows,)
        Time of day in hours, [0, 24) (e.g. the store's ``lmst`` coordinate for InSight, or
        ``local_time``).
    labels : array_like (n_windows,) int
        Cluster of every window at one scale (-1: unassigned, not drawn).
    n_clusters : int, optional
        Number of panels (default ``labels.max() + 1``).
    bins : int
        Equal bins over [0, 24) h (default 24: hourly).
    weights : array_like (n_windows,), optional
        Weight of every window (e.g. its confidence); default 1 (counts).
    time_label : str
        Name of the clock on the x axis ('LMST', 'UTC', 'local time').
    title : str, optional
    path : str, os.PathLike or sequence of them, optional
        Save the figure there (PNG/PDF/SVG by suffix).

    Returns
    -------
    matplotlib.figure.Figure
        Panel k's bars are ``numpy.histogram(hours[labels == k], bins, (0, 24), weights=...)``.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import time_of_day_histogram
    >>> rng = np.random.default_rng(0)
    >>> fig = time_of_day_histogram(rng.uniform(0, 24, 500), rng.integers(0, 3, 500))
    >>> len(fig.axes), len(fig.axes[0].patches)
    (3, 24)
    """
    lab = _labels(labels)
    h = _hours(hours, lab.shape[0])
    w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w is not None and w.shape != lab.shape:
        raise ValueError(f"weights has {w.shape[0]} entries for {lab.shape[0]} windows")
    if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"bins={bins!r} must be an int >= 1")
    k = _n_clusters(lab, n_clusters)
    nrows, ncols = _grid(k)
    fig, axes = new_figure((2.6 * ncols, 1.9 * nrows), nrows, ncols, sharex=True)
    colors = cluster_colors(k)
    edges = np.linspace(0.0, 24.0, bins + 1)
    for c in range(nrows * ncols):
        ax = axes.flat[c]
        if c >= k:
            ax.set_visible(False)
            continue
        sel = lab == c
        counts, _ = np.histogram(h[sel], bins=edges, weights=None if w is None else w[sel])
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=colors[c], edgecolor="none")
        ax.set_title(f"cluster {c} ({int(sel.sum())} windows)", fontsize="medium")
        ax.set_xlim(0, 24)
        ax.set_xticks([0, 6, 12, 18, 24])
        if c % ncols == 0:
            ax.set_ylabel("weight" if w is not None else "windows")
        if c >= k - ncols:
            ax.set_xlabel(f"{time_label} (h)")
    if title:
        fig.suptitle(title)
    return finish(fig, path)


# ----------------------------------------------------------------------------- waveforms
def window_start_samples(time_start, starttime, fs):
    """Sample index of every window start in a record.

    Parameters
    ----------
    time_start : array_like of datetime64 (any shape)
        Window start times (the store's ``time_start`` coordinate, UTC).
    starttime : obspy.UTCDateTime, numpy.datetime64 or str
        Time of the record's sample 0.
    fs : float
        Sampling rate (Hz).

    Returns
    -------
    ndarray int64, same shape: ``round((time_start - starttime) * fs)``.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import window_start_samples
    >>> t = np.array(["2019-06-01T00:00:10", "2019-06-01T00:01:00"], dtype="datetime64[ns]")
    >>> window_start_samples(t, "2019-06-01T00:00:00", 20.0).tolist()
    [200, 1200]
    """
    if hasattr(starttime, "ns"):
        t0 = int(starttime.ns)
    else:
        t0 = int(np.datetime64(str(starttime) if not isinstance(starttime, np.datetime64) else starttime, "ns")
                 .astype(np.int64))
    ts = np.asarray(time_start).astype("datetime64[ns]").astype(np.int64)
    return np.round((ts - t0) * (float(fs) / 1e9)).astype(np.int64)


def _record(data):
    x = np.asarray(data, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"data has shape {np.shape(data)}; it must be (n_samples,) or (n_channels, n_samples)")
    if not np.isfinite(x).all():
        raise ValueError("data contains NaN or inf values (fill gaps with zeros first)")
    return x


@dataclass
class AlignedWaveforms:
    """Windows of a record aligned by cross-correlation on a reference window.

    Attributes
    ----------
    segments : ndarray (n, C, length) float64
        ``data[:, starts[i] + lags[i] : ... + length]``.
    lags : ndarray (n,) int64
        Shift (samples) added to every window start; the reference has lag 0.
    index : ndarray (n,) int64
        Position of every segment in the ``starts`` given to :func:`align_waveforms`.
    weights : ndarray (n,) float64
    correlation : ndarray (n,) float64
        Normalised cross-correlation with the reference at the chosen lag.
    centroid : ndarray (C, length) float64
        ``sum_i weights[i] segments[i] / sum_i weights[i]``.
    reference : int
        Position of the reference window in ``starts``.
    """

    segments: np.ndarray
    lags: np.ndarray
    index: np.ndarray
    weights: np.ndarray
    correlation: np.ndarray
    centroid: np.ndarray
    reference: int


def align_waveforms(data, starts, length, *, reference=0, max_lag=None, weights=None):
    """Align windows of a record on a reference window by normalised cross-correlation.

    For every window i the lag ``l`` in ``[-max_lag, max_lag]`` (restricted to the record)
    maximises ``<r, x_l> / (||r|| ||x_l||)``, where r is the reference window and x_l the
    window shifted by l samples, summed over channels (the channels move together).

    Parameters
    ----------
    data : array_like (n_samples,) or (n_channels, n_samples)
        The record (gaps filled with zeros).
    starts : array_like (n,) int
        First sample of every window; ``starts[i] + length <= n_samples``.
    length : int
        Window length (samples), e.g. the scale.
    reference : int
        Position in ``starts`` of the reference window (e.g. the most confident one).
    max_lag : int, optional
        Largest shift searched (default ``length // 4``).
    weights : array_like (n,), optional
        Centroid weights (e.g. confidences); default equal.

    Returns
    -------
    AlignedWaveforms

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import align_waveforms
    >>> x = np.zeros(1000); pulse = np.hanning(21)
    >>> for s in (100, 403, 695):           # pulses 0, +3 and -5 samples from window offset 100
    ...     x[s:s + 21] += pulse
    >>> al = align_waveforms(x, [0, 300, 600], 200, max_lag=20)
    >>> al.lags.tolist()
    [0, 3, -5]
    """
    x = _record(data)
    C, L = x.shape
    st = np.asarray(starts).astype(np.int64).reshape(-1)
    n = st.shape[0]
    if n < 1:
        raise ValueError("starts is empty; give at least the reference window")
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 1:
        raise ValueError(f"length={length!r} must be an int >= 1 (samples)")
    length = int(length)
    if st.min() < 0 or st.max() + length > L:
        bad = int(np.flatnonzero((st < 0) | (st + length > L))[0])
        raise ValueError(f"window {bad} (start {int(st[bad])}, length {length}) lies outside the record of {L} "
                         f"samples")
    if isinstance(reference, bool) or not isinstance(reference, numbers.Integral) or not 0 <= reference < n:
        raise ValueError(f"reference={reference!r} must be an index into starts (0..{n - 1})")
    m = length // 4 if max_lag is None else max_lag
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 0:
        raise ValueError(f"max_lag={max_lag!r} must be an int >= 0 (samples)")
    m = int(m)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be {n} finite non-negative numbers with a positive sum")
    from scipy.signal import fftconvolve

    r = x[:, st[reference]:st[reference] + length]
    rnorm = np.sqrt((r * r).sum())
    lags = np.zeros(n, np.int64)
    corr = np.zeros(n)
    for i in range(n):
        lo = max(0, int(st[i]) - m)
        hi = min(L, int(st[i]) + length + m)
        seg = x[:, lo:hi]
        # cross-correlation at every valid shift, summed over channels
        cc = sum(fftconvolve(seg[c], r[c, ::-1], mode="valid") for c in range(C))
        energy = np.concatenate([[0.0], np.cumsum((seg * seg).sum(0))])
        norms = np.sqrt(np.maximum(energy[length:] - energy[:-length], 0.0))
        denom = rnorm * norms
        ncc = np.where(denom > 0, cc / np.where(denom > 0, denom, 1.0), 0.0)
        shifts = np.arange(lo, hi - length + 1) - st[i]
        # best correlation; ties go to the smallest |shift|
        best = np.lexsort((np.abs(shifts), -np.round(ncc, 12)))[0]
        lags[i], corr[i] = shifts[best], ncc[best]
    lags[reference] = 0
    corr[reference] = 1.0 if rnorm > 0 else 0.0
    segs = np.stack([x[:, s + lag:s + lag + length] for s, lag in zip(st, lags)])
    centroid = np.tensordot(w, segs, axes=1) / w.sum()
    return AlignedWaveforms(segs, lags, np.arange(n), w, corr, centroid, int(reference))


def cluster_centroids(data, starts, length, labels, confidence=None, *, n_clusters=None, n_windows=20,
                      max_lag=None):
    """Aligned waveforms of every cluster: its ``n_windows`` most confident windows aligned
    on the most confident one (:func:`align_waveforms`), weighted by confidence.

    Parameters
    ----------
    data : array_like (n_samples,) or (n_channels, n_samples)
    starts : array_like (n_windows,) int
        First sample of every window (:func:`window_start_samples`); windows outside the
        record are skipped.
    length : int
        Window length (samples).
    labels : array_like (n_windows,) int
    confidence : array_like (n_windows,), optional
        Default 1 for every window (ties: the earliest windows).
    n_clusters : int, optional
    n_windows : int
        Windows per cluster (default 20).
    max_lag : int, optional
        Default ``length // 4``.

    Returns
    -------
    dict int -> AlignedWaveforms
        Clusters with at least one window inside the record; ``index`` refers to the
        windows of ``labels``.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import cluster_centroids
    >>> x = np.random.default_rng(0).standard_normal(4000)
    >>> cents = cluster_centroids(x, np.arange(0, 3600, 200), 200, np.arange(18) % 2, n_windows=5)
    >>> sorted(cents), cents[0].segments.shape, cents[0].centroid.shape
    ([0, 1], (5, 1, 200), (1, 200))
    """
    x = _record(data)
    lab = _labels(labels)
    st = np.asarray(starts).astype(np.int64).reshape(-1)
    if st.shape != lab.shape:
        raise ValueError(f"starts has {st.shape[0]} entries for {lab.shape[0]} labels")
    conf = np.ones(lab.shape) if confidence is None else np.asarray(confidence, dtype=np.float64).reshape(-1)
    if conf.shape != lab.shape:
        raise ValueError(f"confidence has {conf.shape[0]} entries for {lab.shape[0]} labels")
    if isinstance(n_windows, bool) or not isinstance(n_windows, numbers.Integral) or n_windows < 1:
        raise ValueError(f"n_windows={n_windows!r} must be an int >= 1")
    k = _n_clusters(lab, n_clusters)
    inside = (st >= 0) & (st + int(length) <= x.shape[1])
    out = {}
    for c in range(k):
        idx = np.flatnonzero((lab == c) & inside)
        if idx.size == 0:
            continue
        idx = idx[np.argsort(-conf[idx], kind="stable")][:n_windows]
        al = align_waveforms(x, st[idx], length, reference=0, max_lag=max_lag, weights=conf[idx])
        al.index = idx
        out[c] = al
    return out


def _envelope(t, y, max_points):
    """Min/max decimation for drawing long traces (keeps peaks)."""
    n = y.shape[-1]
    if n <= max_points:
        return t, y
    step = -(-n // (max_points // 2))
    nb = n // step
    yb = y[..., :nb * step].reshape(y.shape[:-1] + (nb, step))
    tb = t[:nb * step].reshape(nb, step)[:, 0]
    out = np.stack([yb.min(-1), yb.max(-1)], -1).reshape(y.shape[:-1] + (2 * nb,))
    return np.repeat(tb, 2), out


def cluster_waveforms(centroids, fs, *, channels=None, max_points=4000, title=None, path=None):
    """Aligned windows (grey) and their weighted centroid (colour) of every cluster; rows =
    clusters, columns = channels.

    Parameters
    ----------
    centroids : dict int -> AlignedWaveforms
        From :func:`cluster_centroids`.
    fs : float
        Sampling rate (Hz), for the time axis (seconds from the aligned window start).
    channels : sequence of str, optional
        Column titles (e.g. 'BHU', 'BHV', 'BHW').
    max_points : int
        Traces longer than this are drawn as min/max envelopes of that many points (display
        only; the data are not changed).
    title : str, optional
    path : str, os.PathLike or sequence, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import cluster_centroids, cluster_waveforms
    >>> x = np.random.default_rng(0).standard_normal((3, 4000))
    >>> cents = cluster_centroids(x, np.arange(0, 3600, 200), 200, np.arange(18) % 2, n_windows=5)
    >>> fig = cluster_waveforms(cents, fs=20.0, channels=["U", "V", "W"])
    >>> len(fig.axes)
    6
    """
    if not centroids:
        raise ValueError("centroids is empty: no cluster has a window inside the record")
    keys = sorted(centroids)
    C = next(iter(centroids.values())).segments.shape[1]
    names = list(channels) if channels is not None else [f"channel {c}" for c in range(C)]
    if len(names) != C:
        raise ValueError(f"channels has {len(names)} names for {C} channels")
    fig, axes = new_figure((3.0 * C, 1.5 * len(keys) + 0.4), len(keys), C, sharex=True)
    colors = cluster_colors(max(keys) + 1)
    for r, k in enumerate(keys):
        al = centroids[k]
        t = np.arange(al.segments.shape[-1]) / float(fs)
        for c in range(C):
            ax = axes[r, c]
            segs = al.segments[:, c]
            scale = np.abs(segs).max() or 1.0
            te, se = _envelope(t, segs / scale, max_points)
            for s in se:
                ax.plot(te, s, color="0.6", linewidth=0.4, alpha=0.6)
            tc, cc = _envelope(t, al.centroid[c] / scale, max_points)
            ax.plot(tc, cc, color=colors[k], linewidth=1.0)
            ax.set_yticks([])
            if r == 0:
                ax.set_title(names[c], fontsize="medium")
            if c == 0:
                ax.set_ylabel(f"cluster {k}\n(n={len(al.lags)})")
            if r == len(keys) - 1:
                ax.set_xlabel("time in window (s)")
    if title:
        fig.suptitle(title)
    return finish(fig, path)


def centroid_asd(centroids, fs, *, channels=None, nperseg=None, title=None, path=None):
    """Amplitude spectral densities (Welch, :func:`amplitude_spectral_density`) of the
    cluster centroids, one panel per channel, one curve per cluster (log-log).

    Parameters
    ----------
    centroids : dict int -> AlignedWaveforms or dict int -> array (C, n) / (n,)
    fs : float
        Sampling rate (Hz).
    channels : sequence of str, optional
    nperseg : int, optional
        Welch segment length (default: see :func:`amplitude_spectral_density`).
    title : str, optional
    path : str, os.PathLike or sequence, optional

    Returns
    -------
    matplotlib.figure.Figure
        Line of cluster k in panel c: (f, ASD of centroid k, channel c), zero frequency left out.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import centroid_asd
    >>> rng = np.random.default_rng(0)
    >>> fig = centroid_asd({0: rng.standard_normal((2, 1024)), 1: rng.standard_normal((2, 1024))}, fs=20.0)
    >>> len(fig.axes), len(fig.axes[0].lines)
    (2, 2)
    """
    if not centroids:
        raise ValueError("centroids is empty")
    keys = sorted(centroids)
    cents = {k: np.atleast_2d(np.asarray(getattr(v, "centroid", v), dtype=np.float64)) for k, v in centroids.items()}
    C = cents[keys[0]].shape[0]
    names = list(channels) if channels is not None else [f"channel {c}" for c in range(C)]
    if len(names) != C:
        raise ValueError(f"channels has {len(names)} names for {C} channels")
    fig, axes = new_figure((3.2 * C, 2.8), 1, C, sharey=True)
    colors = cluster_colors(max(keys) + 1)
    for k in keys:
        f, a = amplitude_spectral_density(cents[k], fs, nperseg)
        for c in range(C):
            axes[0, c].loglog(f[1:], a[c, 1:], color=colors[k], linewidth=1.0, label=f"cluster {k}")
    for c in range(C):
        axes[0, c].set_title(names[c], fontsize="medium")
        axes[0, c].set_xlabel("frequency (Hz)")
    axes[0, 0].set_ylabel("ASD (units / sqrt(Hz))")
    axes[0, -1].legend(fontsize="small", loc="best")
    if title:
        fig.suptitle(title)
    return finish(fig, path)


# ----------------------------------------------------------------------------- occupancy
def occupancy(day, hours, labels, *, n_clusters=None, bins=24):
    """Fraction of each (day, time-of-day bin) cell's windows that fall in every cluster.

    Parameters
    ----------
    day : array_like (n_windows,) int
        Sol (InSight's ``sol`` coordinate) or day number of every window.
    hours : array_like (n_windows,)
        Time of day in [0, 24) h.
    labels : array_like (n_windows,) int
        -1: unassigned (counted in the cell, in no cluster).
    n_clusters : int, optional
    bins : int
        Equal time-of-day bins over [0, 24) (default 24).

    Returns
    -------
    days : ndarray (n_days,) int64
        The distinct days, increasing (rows).
    edges : ndarray (bins + 1,) float64
    fraction : ndarray (n_clusters, n_days, bins) float64
        NaN in cells without windows.

    Examples
    --------
    >>> from scatclust.plot import occupancy
    >>> days, edges, frac = occupancy([0, 0, 0, 1], [1.0, 1.5, 13.0, 1.2], [0, 1, 1, 0], bins=2)
    >>> days.tolist(), frac[1].tolist()
    ([0, 1], [[0.5, 1.0], [0.0, nan]])
    """
    lab = _labels(labels)
    n = lab.shape[0]
    h = _hours(hours, n)
    d = np.asarray(day).reshape(-1)
    if d.shape != (n,) or not np.issubdtype(d.dtype, np.integer):
        raise ValueError(f"day must be {n} integers (sol or day number per window); got shape {d.shape}, "
                         f"dtype {d.dtype}")
    if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"bins={bins!r} must be an int >= 1")
    k = _n_clusters(lab, n_clusters)
    days, row = np.unique(d.astype(np.int64), return_inverse=True)
    edges = np.linspace(0.0, 24.0, bins + 1)
    col = np.minimum((h * bins / 24.0).astype(np.int64), bins - 1)
    total = np.zeros((len(days), bins))
    np.add.at(total, (row, col), 1.0)
    counts = np.zeros((k, len(days), bins))
    ok = lab >= 0
    np.add.at(counts, (lab[ok], row[ok], col[ok]), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(total > 0, counts / np.where(total > 0, total, 1.0), np.nan)
    return days, edges, frac


def occupancy_raster(day, hours, labels, *, n_clusters=None, bins=24, day_label="sol", time_label="LMST",
                     title=None, path=None):
    """Cluster occupancy through time: per cluster, a day x time-of-day raster of the
    fraction of windows in the cluster (:func:`occupancy`; grey = no data).

    Parameters
    ----------
    day, hours, labels, n_clusters, bins
        As :func:`occupancy`.
    day_label, time_label : str
        Axis names ('sol' / 'LMST' for InSight; 'day' / 'UTC' elsewhere).
    title : str, optional
    path : str, os.PathLike or sequence, optional

    Returns
    -------
    matplotlib.figure.Figure
        Panel k shows ``occupancy(...)[2][k]`` as an image (rows = days).

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import occupancy_raster
    >>> rng = np.random.default_rng(0)
    >>> fig = occupancy_raster(rng.integers(100, 103, 300), rng.uniform(0, 24, 300), rng.integers(0, 2, 300))
    >>> fig.axes[0].images[0].get_array().shape
    (3, 24)
    """
    days, edges, frac = occupancy(day, hours, labels, n_clusters=n_clusters, bins=bins)
    k = frac.shape[0]
    nrows, ncols = _grid(k)
    fig, axes = new_figure((2.8 * ncols, 0.9 + 1.6 * nrows + 0.02 * len(days) * nrows), nrows, ncols,
                           sharex=True, sharey=True)
    from matplotlib import colormaps
    from matplotlib.ticker import MaxNLocator

    cmap = colormaps["viridis"].with_extremes(bad="0.85")
    extent = (0.0, 24.0, days[-1] + 0.5, days[0] - 0.5) if len(days) else (0, 24, 0.5, -0.5)
    im = None
    for c in range(nrows * ncols):
        ax = axes.flat[c]
        if c >= k:
            ax.set_visible(False)
            continue
        im = ax.imshow(np.ma.masked_invalid(frac[c]), aspect="auto", extent=extent, cmap=cmap, vmin=0.0,
                       vmax=1.0, interpolation="nearest")
        ax.set_title(f"cluster {c}", fontsize="medium")
        ax.set_xticks([0, 6, 12, 18, 24])
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        if c % ncols == 0:
            ax.set_ylabel(day_label)
        if c >= k - ncols:
            ax.set_xlabel(f"{time_label} (h)")
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="fraction of windows")
    if title:
        fig.suptitle(title)
    return finish(fig, path)


# ----------------------------------------------------------------------------- nesting
def contingency_table(labels_a, labels_b, n_a=None, n_b=None):
    """``T[i, j]`` = windows in cluster i of ``labels_a`` and cluster j of ``labels_b``
    (int64; windows with a -1 label are left out).

    Examples
    --------
    >>> from scatclust.plot import contingency_table
    >>> contingency_table([0, 0, 1, 1], [1, 1, 0, 1]).tolist()
    [[0, 2], [1, 1]]
    """
    a, b = _labels(labels_a, "labels_a"), _labels(labels_b, "labels_b", None)
    if a.shape != b.shape:
        raise ValueError(f"labels_a has {a.shape[0]} windows, labels_b {b.shape[0]}")
    ka, kb = _n_clusters(a, n_a), _n_clusters(b, n_b)
    t = np.zeros((ka, kb), np.int64)
    ok = (a >= 0) & (b >= 0)
    np.add.at(t, (a[ok], b[ok]), 1)
    return t


def contingency_heatmap(table, *, normalize="row", row_label="scale a", col_label="scale b", annotate=True,
                        title=None, path=None):
    """Cross-scale nesting: the contingency table of two scales as a heat map.

    Parameters
    ----------
    table : array_like (K_a, K_b)
        Counts, e.g. ``FVAEClustering.contingency(a, b)`` or :func:`contingency_table`.
    normalize : {'row', 'column', 'all', None}
        Colour = count / row total (default: the share of each small-scale cluster that
        falls in each large-scale cluster), / column total, / grand total, or raw counts.
    row_label, col_label : str
        Axis names (e.g. 'cluster at 51 s', 'cluster at 3277 s').
    annotate : bool
        Write the counts in the cells (default True; skipped above 400 cells).
    title : str, optional
    path : str, os.PathLike or sequence, optional

    Returns
    -------
    matplotlib.figure.Figure
        The image holds the normalised table.

    Examples
    --------
    >>> from scatclust.plot import contingency_heatmap
    >>> fig = contingency_heatmap([[5, 0], [1, 4], [0, 3]])
    >>> fig.axes[0].images[0].get_array()[1].tolist()
    [0.2, 0.8]
    """
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2 or 0 in t.shape or not np.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"table has shape {t.shape}; it must be a non-empty 2-D array of counts >= 0")
    if normalize not in ("row", "column", "all", None):
        raise ValueError(f"normalize={normalize!r} must be 'row', 'column', 'all' or None")
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize == "row":
            v = t / t.sum(1, keepdims=True)
        elif normalize == "column":
            v = t / t.sum(0, keepdims=True)
        elif normalize == "all":
            v = t / t.sum()
        else:
            v = t.copy()
    v = np.where(np.isfinite(v), v, 0.0)
    ka, kb = t.shape
    fig, axes = new_figure((1.2 + 0.45 * kb + 1.0, 0.9 + 0.4 * ka), 1, 1)
    ax = axes[0, 0]
    im = ax.imshow(v, cmap="Blues", vmin=0.0, vmax=(1.0 if normalize else max(v.max(), 1.0)), aspect="auto",
                   interpolation="nearest")
    if annotate and t.size <= 400:
        vmax = im.get_clim()[1]
        for i in range(ka):
            for j in range(kb):
                ax.text(j, i, f"{int(t[i, j])}", ha="center", va="center", fontsize="x-small",
                        color="white" if v[i, j] > 0.6 * vmax else "black")
    ax.set_xticks(range(kb))
    ax.set_yticks(range(ka))
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    label = {"row": "share of row", "column": "share of column", "all": "share of windows", None: "windows"}
    fig.colorbar(im, ax=ax, label=label[normalize])
    if title:
        ax.set_title(title)
    return finish(fig, path)


# ----------------------------------------------------------------------------- latent space
def embed_2d(Z, method="auto", *, random_state=0):
    """2-D embedding of latent vectors for display.

    Parameters
    ----------
    Z : array_like (n, D)
    method : {'auto', 'umap', 'pca', 'tsne'}
        'auto': UMAP (umap-learn) when installed, else PCA. 'pca' is numpy's SVD of the
        centred data (signs fixed so that each axis's largest loading is positive);
        'tsne' is scikit-learn's TSNE. With D <= 2 the data are returned as they are
        (padded with a zero column when D = 1).
    random_state : int
        Seed of UMAP / t-SNE.

    Returns
    -------
    Y : ndarray (n, 2) float64
    method : str
        The method used ('umap', 'pca', 'tsne' or 'identity').

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import embed_2d
    >>> Y, how = embed_2d(np.random.default_rng(0).standard_normal((50, 5)), "pca")
    >>> Y.shape, how
    ((50, 2), 'pca')
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] < 1:
        raise ValueError(f"Z has shape {Z.shape}; it must be (n_samples, n_dims) with n_samples >= 1")
    if not np.isfinite(Z).all():
        raise ValueError("Z contains NaN or inf values (drop masked rows first)")
    if method not in ("auto", "umap", "pca", "tsne"):
        raise ValueError(f"method={method!r} must be 'auto', 'umap', 'pca' or 'tsne'")
    if Z.shape[1] <= 2:
        return (Z if Z.shape[1] == 2 else np.column_stack([Z, np.zeros(len(Z))])), "identity"
    if method in ("auto", "umap"):
        try:
            import umap  # noqa: F401
        except ImportError:
            if method == "umap":
                raise ImportError("method='umap' needs umap-learn (pip install umap-learn); use 'pca' or "
                                  "'tsne'") from None
            method = "pca"
        else:
            import umap

            n_nb = max(2, min(15, len(Z) - 1))
            return np.asarray(umap.UMAP(n_neighbors=n_nb, random_state=random_state).fit_transform(Z),
                              dtype=np.float64), "umap"
    if method == "tsne":
        from sklearn.manifold import TSNE

        perp = float(min(30.0, max(1.0, (len(Z) - 1) / 3.0)))
        return np.asarray(TSNE(2, perplexity=perp, init="pca", random_state=random_state).fit_transform(Z),
                          dtype=np.float64), "tsne"
    mean, v = _pca_axes(Z)
    return (Z - mean) @ v.T, "pca"


def _pca_axes(Z):
    """Mean and the first two principal axes (2, D) of Z, each axis's largest loading positive."""
    mean = Z.mean(0)
    _, _, vt = np.linalg.svd(Z - mean, full_matrices=False)
    v = vt[:2]
    return mean, v * np.sign(v[np.arange(2), np.abs(v).argmax(1)])[:, None]


def latent_embedding(Z, labels, *, method="auto", centers=None, max_points=5000, random_state=0, title=None,
                     path=None):
    """Scatter plot of latent vectors in 2-D (:func:`embed_2d`), coloured by cluster.

    Parameters
    ----------
    Z : array_like (n, D)
        Latent means (e.g. ``FVAEClustering.transform(X)[:, s]``, ``DEC.transform(X)``,
        ``CubeSegmentation.latent`` reshaped).
    labels : array_like (n,) int
    method : {'auto', 'umap', 'pca', 'tsne'}
    centers : array_like (K, D), optional
        Cluster centres, drawn as crosses (PCA and identity embeddings only: they are
        projected with the same map).
    max_points : int
        Larger sets are subsampled (every ``ceil(n / max_points)``-th point) before embedding.
    random_state : int
    title : str, optional
    path : str, os.PathLike or sequence, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import latent_embedding
    >>> rng = np.random.default_rng(0)
    >>> Z = np.concatenate([rng.normal(m, 0.2, (40, 4)) for m in (0, 2)]); y = np.repeat([0, 1], 40)
    >>> fig = latent_embedding(Z, y, method="pca")
    >>> fig.axes[0].collections[0].get_offsets().shape
    (40, 2)
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2:
        raise ValueError(f"Z has shape {Z.shape}; it must be (n_samples, n_dims)")
    lab = _labels(labels, n=Z.shape[0])
    step = max(1, -(-len(Z) // int(max_points)))
    Zs, ls = Z[::step], lab[::step]
    Y, used = embed_2d(Zs, method, random_state=random_state)
    k = _n_clusters(ls, None)
    colors = cluster_colors(k)
    fig, axes = new_figure((4.2, 3.6), 1, 1)
    ax = axes[0, 0]
    for c in range(-1 if (ls < 0).any() else 0, k):
        sel = ls == c
        if not sel.any():
            continue
        ax.scatter(Y[sel, 0], Y[sel, 1], s=6, color="0.7" if c < 0 else colors[c], linewidths=0,
                   label="none" if c < 0 else f"{c}")
    if centers is not None and used in ("pca", "identity"):
        Cz = np.asarray(centers, dtype=np.float64)
        if used == "identity":
            Cy = Cz if Cz.shape[1] == 2 else np.column_stack([Cz, np.zeros(len(Cz))])
        else:
            mean, v = _pca_axes(Zs)
            Cy = (Cz - mean) @ v.T
        ax.scatter(Cy[:, 0], Cy[:, 1], marker="x", s=40, color="black", linewidths=1.2, label="centres")
    ax.set_xlabel(f"{used} 1")
    ax.set_ylabel(f"{used} 2")
    ax.legend(fontsize="x-small", markerscale=2, loc="best", title="cluster", title_fontsize="x-small")
    if title:
        ax.set_title(title)
    return finish(fig, path)
