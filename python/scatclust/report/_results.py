"""Inputs of a report: the arrays each section draws, gathered from what the pipeline has
(feature store, fitted model, waveforms, segmentation, separation)."""
from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CubeResults", "SeismicResults", "SeparationResults", "as_waveforms"]

#: Length of the Martian mean solar day (24 h LMST) in SI seconds (Allison & McEwen 2000).
MARS_SOL_SECONDS = 88775.244147


def as_waveforms(waveforms, fs=None, starttime=None):
    """Waveforms as ``(data (C, L) float64, fs, starttime, channel names)``.

    Parameters
    ----------
    waveforms : obspy.Stream, obspy.Trace or array_like (L,) / (C, L)
        A Stream is cut to the span every trace covers (traces of one channel are merged,
        gaps filled with zeros); all traces must share one sampling rate.
    fs : float
        Sampling rate (Hz); required for arrays, checked against a Stream's when given.
    starttime : obspy.UTCDateTime, numpy.datetime64 or str
        Time of sample 0; required for arrays.

    Returns
    -------
    data : ndarray (C, L) float64
    fs : float
    starttime : numpy.datetime64[ns]
    channels : list of str

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.report import as_waveforms
    >>> d, fs, t0, ch = as_waveforms(np.zeros((3, 100)), 20.0, "2019-06-01")
    >>> d.shape, fs, str(t0), ch
    ((3, 100), 20.0, '2019-06-01T00:00:00.000000000', ['0', '1', '2'])
    """
    if hasattr(waveforms, "traces") or hasattr(waveforms, "stats"):  # ObsPy Stream / Trace
        import obspy

        st = obspy.Stream([waveforms]) if hasattr(waveforms, "stats") else waveforms.copy()
        if len(st) == 0:
            raise ValueError("waveforms is an empty Stream")
        st.merge(fill_value=0)
        rates = {float(tr.stats.sampling_rate) for tr in st}
        if len(rates) != 1:
            raise ValueError(f"waveforms has traces at several sampling rates {sorted(rates)}; resample first")
        rate = rates.pop()
        if fs is not None and abs(float(fs) - rate) > 1e-9 * rate:
            raise ValueError(f"fs={fs} differs from the Stream's sampling rate {rate}")
        t0 = max(tr.stats.starttime for tr in st)
        t1 = min(tr.stats.endtime for tr in st)
        if t1 < t0:
            raise ValueError("the traces of waveforms do not overlap in time")
        st.trim(t0, t1, nearest_sample=False)
        n = min(len(tr.data) for tr in st)
        data = np.stack([np.ma.filled(tr.data[:n], 0).astype(np.float64) for tr in st])
        return data, rate, np.datetime64(st[0].stats.starttime.ns, "ns"), [tr.id for tr in st]
    if fs is None or starttime is None:
        raise ValueError("waveforms given as an array need fs= (Hz) and starttime= (time of sample 0)")
    data = np.asarray(waveforms, dtype=np.float64)
    if data.ndim == 1:
        data = data[None]
    if data.ndim != 2:
        raise ValueError(f"waveforms has shape {data.shape}; it must be (L,) or (C, L)")
    fs = float(fs)
    if not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"fs={fs!r} must be a positive sampling rate in Hz")
    if hasattr(starttime, "ns"):  # obspy.UTCDateTime
        t0 = np.datetime64(int(starttime.ns), "ns")
    elif isinstance(starttime, np.datetime64):
        t0 = starttime.astype("datetime64[ns]")
    else:
        t0 = np.datetime64(str(starttime), "ns")
    return data, fs, t0, [str(c) for c in range(data.shape[0])]


def _per_scale_2d(a, n, name, dtype):
    if a is None:
        return None
    a = np.asarray(a)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] != n:
        raise ValueError(f"{name} has shape {a.shape}; it must be (n_windows={n},) or (n_windows, n_scales)")
    return a.astype(dtype)


@dataclass
class SeismicResults:
    """What the seismic section of a report draws (one row per window of the store).

    Build it with :meth:`from_model` (a fitted model + the feature store) or
    :meth:`from_features` (labels given or stored), or directly from arrays.

    Attributes
    ----------
    labels : ndarray (n_windows, n_scales) int64
        Cluster of every window at every scale (-1: none).
    hours : ndarray (n_windows, n_scales) float64
        Time of day of every window, [0, 24) h (LMST for InSight); :meth:`from_features`
        gives the window centres. A (n_windows,) array is used for every scale.
    day : ndarray (n_windows, n_scales) int64
        Sol (InSight) or day number of the same instants.
    confidence : ndarray (n_windows, n_scales) float64 or None
        Confidence of every label (weights the waveform centroids; picks the reference).
    latent : list of ndarray (n_windows, D), one per scale, or None
    centers : list of ndarray (K, D) or None, one per scale, or None
    scale_names : list of str
        E.g. '51.2 s'.
    waveforms : ndarray (C, L) float64 or None
    fs : float or None
        Sampling rate of ``waveforms`` (Hz).
    window_start : ndarray (n_windows, n_scales) int64 or None
        First sample of every window in ``waveforms``.
    window_length : ndarray (n_scales,) int64 or None
        Window length per scale (samples of ``waveforms``).
    channels : list of str or None
    history : list, dict or None
        The model's training history (:func:`scatclust.plot.training_curves`).
    time_label, day_label : str
        'LMST' / 'sol' (InSight), 'local time' / 'day', or 'UTC' / 'day'.
    model_name : str
    n_clusters : list of int or None
        Clusters per scale of the model (default ``labels.max() + 1`` per scale), so that
        empty clusters are listed too.
    """

    labels: np.ndarray
    hours: np.ndarray
    day: np.ndarray
    confidence: np.ndarray = None
    latent: list = None
    centers: list = None
    scale_names: list = None
    waveforms: np.ndarray = None
    fs: float = None
    window_start: np.ndarray = None
    window_length: np.ndarray = None
    channels: list = None
    history: object = None
    time_label: str = "LMST"
    day_label: str = "sol"
    model_name: str = ""
    n_clusters: list = None

    def __post_init__(self):
        self.labels = _per_scale_2d(self.labels, np.shape(self.labels)[0], "labels", np.int64)
        n, S = self.labels.shape
        try:
            self.hours = np.broadcast_to(_per_scale_2d(self.hours, n, "hours", np.float64), (n, S)).copy()
            self.day = np.broadcast_to(_per_scale_2d(self.day, n, "day", np.int64), (n, S)).copy()
        except ValueError as exc:
            if "broadcast" not in str(exc):
                raise
            raise ValueError(f"hours and day must be (n_windows,) or (n_windows, n_scales={S})") from None
        self.confidence = _per_scale_2d(self.confidence, n, "confidence", np.float64)
        if self.confidence is not None and self.confidence.shape[1] != S:
            raise ValueError(f"confidence has {self.confidence.shape[1]} scales, labels {S}")
        if self.latent is not None:
            if isinstance(self.latent, (list, tuple)):
                lat = list(self.latent)
            else:
                arr = np.asarray(self.latent)
                lat = [arr[:, s] for s in range(arr.shape[1])] if arr.ndim == 3 else [arr]
            if len(lat) != S or any(np.shape(z)[0] != n for z in lat):
                raise ValueError(f"latent must be one (n_windows={n}, D) array per scale ({S}), or "
                                 f"(n_windows, n_scales, D)")
            self.latent = [np.asarray(z, dtype=np.float64) for z in lat]
        top = [int(self.labels[:, s].max()) + 1 if n and self.labels[:, s].max() >= 0 else 1 for s in range(S)]
        if self.n_clusters is None:
            self.n_clusters = top
        else:
            ks = np.broadcast_to(np.asarray(self.n_clusters, dtype=np.int64).reshape(-1), (S,))
            if any(k < t for k, t in zip(ks, top)):
                raise ValueError(f"n_clusters={ks.tolist()} is smaller than the labels need ({top})")
            self.n_clusters = [int(k) for k in ks]
        if self.scale_names is None:
            self.scale_names = [f"scale {s}" for s in range(S)]
        if len(self.scale_names) != S:
            raise ValueError(f"scale_names has {len(self.scale_names)} names for {S} scales")
        if self.waveforms is not None:
            if self.fs is None or self.window_start is None or self.window_length is None:
                raise ValueError("waveforms need fs, window_start and window_length (see from_features)")
            self.waveforms = np.atleast_2d(np.asarray(self.waveforms, dtype=np.float64))
            self.window_start = _per_scale_2d(self.window_start, n, "window_start", np.int64)
            self.window_length = np.asarray(self.window_length, dtype=np.int64).reshape(-1)
            if self.window_start.shape[1] != S or self.window_length.shape != (S,):
                raise ValueError(f"window_start must be (n_windows, {S}) and window_length ({S},)")

    @property
    def n_scales(self):
        return self.labels.shape[1]

    @classmethod
    def from_features(cls, ds, labels=None, confidence=None, *, latent=None, centers=None, waveforms=None,
                      fs=None, starttime=None, history=None, scales=None, model_name="", n_clusters=None):
        """From a feature store's dataset and per-window results.

        Parameters
        ----------
        ds : xarray.Dataset
            ``scatclust.open_features(path)`` (either layout) or
            ``scatclust.features.window_features(...)``: coordinates ``time_end``,
            ``time_start``, ``scale_seconds`` and, when present, ``sol``/``lmst`` (InSight) or
            ``local_time``; the time of day of a window is that of its centre (the stored
            end time minus half the scale, on the same clock; UTC hours when the
            store has no local time).
        labels : array_like (n_windows,) or (n_windows, n_scales) int, optional
            Default: the dataset's ``labels`` variable (window, scale).
        confidence : array_like, same shape, optional
            Default: the dataset's ``confidence`` variable when present.
        latent : list of (n_windows, D) or array (n_windows, n_scales, D), optional
        centers : list of (K, D) arrays, optional
        waveforms : obspy.Stream or array_like (C, L), optional
            The record the windows come from (:func:`as_waveforms`; arrays need ``fs`` and
            ``starttime``).
        fs, starttime : optional
            For array waveforms.
        history : optional
            Training history.
        scales : sequence of int, optional
            Positions in ``ds.scale`` of the label columns (default: all scales when labels
            have one column per scale, else scale 0).
        model_name : str
        n_clusters : int or list of int, optional
            Clusters per scale (default from the labels).

        Returns
        -------
        SeismicResults
        """
        n = ds.sizes["window"]
        if labels is None:
            if "labels" not in ds:
                raise ValueError("no labels given and the dataset has no 'labels' variable; pass labels=")
            labels = np.asarray(ds["labels"].values)
            if confidence is None and "confidence" in ds:
                confidence = np.asarray(ds["confidence"].values)
        lab = _per_scale_2d(labels, n, "labels", np.int64)
        all_scales = np.arange(ds.sizes["scale"])
        if scales is None:
            scales = all_scales if lab.shape[1] == len(all_scales) else all_scales[:lab.shape[1]]
        scales = np.asarray(scales, dtype=np.int64).reshape(-1)
        if len(scales) != lab.shape[1] or scales.min() < 0 or scales.max() >= len(all_scales):
            raise ValueError(f"scales={scales.tolist()} must give one store scale (0..{len(all_scales) - 1}) per "
                             f"label column ({lab.shape[1]})")
        t_end = np.asarray(ds["time_end"].values).astype("datetime64[ns]")
        if "lmst" in ds.coords and "sol" in ds.coords:
            hours, day = np.asarray(ds["lmst"].values), np.asarray(ds["sol"].values)
            tl, dl = "LMST", "sol"
        else:
            days = t_end.astype("datetime64[D]")
            day = (days - days.min()).astype(np.int64) if n else np.zeros(0, np.int64)
            dl = f"day from {days.min()}" if n else "day"
            if "local_time" in ds.coords:
                hours, tl = np.asarray(ds["local_time"].values, dtype=np.float64), "local time"
                # local calendar day: the UTC day moved by the local offset (in (-12, 12] h)
                utc_h = (t_end - days).astype(np.int64) / 3.6e12
                offset = (hours - utc_h + 12.0) % 24.0 - 12.0
                day = day + np.floor((utc_h + offset) / 24.0).astype(np.int64)
                dl = f"local day from {days.min()}" if n else "day"
            else:
                hours = (t_end - days).astype(np.int64) / 3.6e12
                tl = "UTC"
        sec = np.asarray(ds["scale_seconds"].values, dtype=np.float64)[scales]
        # window centres: back from the end by half a window, in hours of the clock's day
        day_seconds = MARS_SOL_SECONDS if tl == "LMST" else 86400.0
        h = np.asarray(hours, dtype=np.float64)[:, None] - (sec / 2.0)[None, :] * (24.0 / day_seconds)
        wrap = np.floor(h / 24.0)
        hours = h - 24.0 * wrap
        day = np.asarray(day, dtype=np.int64)[:, None] + wrap.astype(np.int64)
        names = [f"{s:g} s" for s in sec]
        kw = {}
        if waveforms is not None:
            data, rate, t0, ch = as_waveforms(waveforms, fs, starttime)
            t_start = np.asarray(ds["time_start"].values)[:, scales]
            from ..plot import window_start_samples

            kw = dict(waveforms=data, fs=rate, channels=ch, window_start=window_start_samples(t_start, t0, rate),
                      window_length=np.round(sec * rate).astype(np.int64))
        return cls(labels=lab, hours=hours, day=day, confidence=confidence, latent=latent, centers=centers,
                   scale_names=names, history=history, time_label=tl, day_label=dl, model_name=model_name,
                   n_clusters=n_clusters, **kw)

    @classmethod
    def from_model(cls, model, ds, X=None, *, waveforms=None, fs=None, starttime=None, scale=0):
        """From a fitted clustering model and the feature store it was trained on.

        Parameters
        ----------
        model : scatclust.models.FVAEClustering, scatclust.cluster.DEC or KMeans (fitted)
            FVAEClustering: labels, confidences and latent means at every scale
            (``labels_``/``confidence_``/``z_mean_`` of the training data, or
            ``predict``/``confidence``/``transform`` of X), ``history_``. DEC: ``labels_``
            (or ``predict(X)``), confidence ``max predict_proba(X)`` and latent
            ``transform(X)`` when X is given, ``cluster_centers_``, ``history_``. KMeans:
            ``labels_`` (or ``predict(X)``), X itself as the "latent" space with the
            centres; no confidence.
        ds : xarray.Dataset
            The windows (``scatclust.open_features``), one per row of the model's data.
        X : array_like, optional
            The model's input for these windows (needed for a model loaded from a
            checkpoint, and for DEC confidences/latents).
        waveforms, fs, starttime : optional
            The record (see :meth:`from_features`).
        scale : int
            Store scale of a single-scale model (DEC, KMeans); default 0.

        Returns
        -------
        SeismicResults
        """
        name = type(model).__name__
        latent = centers = conf = None
        if hasattr(model, "contingency") and hasattr(model, "model_"):  # FVAEClustering
            if X is None:
                if not hasattr(model, "labels_"):
                    raise ValueError(f"{name} has no training read-out (loaded from a checkpoint): pass X")
                labels, conf, latent = model.labels_, model.confidence_, list(model.z_mean_)
            else:
                labels, conf = model.predict(X), model.confidence(X)
                latent = model.transform(X)
            scales = None
            ks = list(model.model_.n_clusters)
        else:
            ks = getattr(model, "n_clusters", None)
            if X is None:
                labels = getattr(model, "labels_", None)
                if labels is None:
                    raise ValueError(f"{name} has no labels_; fit it or pass X")
            else:
                labels = model.predict(X)
            if X is not None and hasattr(model, "predict_proba"):
                conf = np.asarray(model.predict_proba(X)).max(1)
            if X is not None:
                latent = [np.asarray(model.transform(X) if hasattr(model, "predict_proba") else X,
                                     dtype=np.float64).reshape(len(labels), -1)]
                if hasattr(model, "cluster_centers_"):
                    centers = [np.asarray(model.cluster_centers_, dtype=np.float64).reshape(
                        len(model.cluster_centers_), -1)]
            scales = [scale]
        return cls.from_features(ds, labels, conf, latent=latent, centers=centers, waveforms=waveforms, fs=fs,
                                 starttime=starttime, history=getattr(model, "history_", None), scales=scales,
                                 model_name=name, n_clusters=ks)


@dataclass
class CubeResults:
    """What the cube section of a report draws.

    Attributes
    ----------
    labels : ndarray (H, W) int64, -1 on masked pixels
    mean_spectra : ndarray (K, C)
    latent : ndarray (H, W, D) or None (NaN on masked pixels)
    centers : ndarray (K, D) or None
    cube : ndarray (H, W, C) or None
        For the integrated image under the label map.
    energies : ndarray (C,) or None
        Channel energies (keV).
    lines : list of str or list of dict, or None
        Elements or line records to mark (:func:`scatclust.plot.cube_mean_spectra`).
    history : dict or None
    """

    labels: np.ndarray
    mean_spectra: np.ndarray
    latent: np.ndarray = None
    centers: np.ndarray = None
    cube: np.ndarray = None
    energies: np.ndarray = None
    lines: list = None
    history: object = None

    @classmethod
    def from_segmentation(cls, seg, cube=None, *, energies=None, lines=None):
        """From :func:`scatclust.cube.segment`'s result (and the cube and energy axis it
        segmented, e.g. a ``SyntheticXRF``'s ``cube``, ``energies`` and ``lines``)."""
        return cls(labels=np.asarray(seg.labels), mean_spectra=np.asarray(seg.mean_spectra),
                   latent=getattr(seg, "latent", None), centers=getattr(seg, "centers", None), cube=cube,
                   energies=energies, lines=lines, history=getattr(seg, "history", None))


@dataclass
class SeparationResults:
    """A mixture and its separated sources (each shaped like ``x``), sampled at ``fs`` Hz."""

    x: np.ndarray
    sources: dict = field(default_factory=dict)
    fs: float = 1.0

    @classmethod
    def coerce(cls, obj):
        """From a SeparationResults, a dict (``x``, ``fs`` and ``sources`` or ``background``/
        ``other``) or an object with those attributes."""
        if isinstance(obj, cls):
            return obj
        get = (lambda k: obj.get(k)) if isinstance(obj, Mapping) else (lambda k: getattr(obj, k, None))
        x, fs = get("x"), get("fs")
        if x is None or fs is None or not isinstance(fs, numbers.Real):
            raise ValueError("separation needs the mixture 'x' and the sampling rate 'fs' (Hz) besides the "
                             "sources")
        sources = get("sources")
        if sources is None:
            sources = {k: get(k) for k in ("background", "other") if get(k) is not None}
        if not sources:
            raise ValueError("separation has no sources: give 'sources' (dict) or 'background'/'other'")
        return cls(np.asarray(x), dict(sources), float(fs))
