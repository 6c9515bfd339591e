"""Windows of a prepared record -> features of every window position, as an xarray.Dataset.

One job: put the output of :meth:`ScatteringPyramid.transform` on a time axis and say which
windows touch missing data. Nothing is read from files and nothing is written here.

Conventions
    * Window w of scale s covers record samples ``[end_w - s, end_w)`` (right-aligned nested
      windows). ``time_end`` is the time of sample ``end_w`` (the exclusive end, i.e. the
      start of the window plus ``s / fs``); ``time_start[w, k]`` the time of sample
      ``end_w - scales[k]``. Times are UTC, ``datetime64[ns]``, computed in integer
      nanoseconds from ``record.starttime``.
    * ``gap[w, k]`` is True when any sample of ``[end_w - scales[k], end_w)`` is True in
      ``record.gap_mask``. Gap samples are zero in ``record.data``: the features of such a
      window describe a partly zero-filled signal and must be dropped or masked by the
      consumer (:class:`scatclust.store.FeatureStore` drops them by default). The wavelet
      filters also see up to ~2^J samples around a window, so a window that ends just before
      a gap is slightly affected by it; that context effect is not flagged.
    * Coefficient coordinates come from ``pyramid.meta()``: ``family`` (str), ``channel``
      (index into ``seed_id``; -1 for cross-channel families), ``channel_b`` (second channel of
      a cross-channel family, else -1), ``j``, ``j1``, ``j2``, ``j1p`` (-1 where unused) and
      ``part`` ('c' complex, 're'/'im' with ``as_real``), ``real`` (real by construction).
"""
from __future__ import annotations

import numpy as np

__all__ = ["window_features", "coefficient_coords", "as_real_features", "record_station"]

_NS = 1_000_000_000


def _utc_ns(t):
    """obspy.UTCDateTime (or anything with .ns / numpy datetime64) -> int nanoseconds since 1970."""
    if hasattr(t, "ns"):
        return int(t.ns)
    return int(np.datetime64(t, "ns").astype(np.int64))


def record_station(record):
    """'NET.STA.LOC' of a record's channels (the store's station key)."""
    ids = list(record.channels)
    if not ids:
        raise ValueError("record.channels is empty; a PreparedRecord names its channels as 'NET.STA.LOC.CHA'")
    keys = {".".join(str(c).split(".")[:3]) for c in ids}
    if len(keys) != 1:
        raise ValueError(f"record.channels={ids} mix stations/locations {sorted(keys)}; window one station "
                         f"(NET.STA.LOC) at a time")
    return keys.pop()


def coefficient_coords(meta):
    """Coordinate arrays (dim 'coefficient') from a pyramid's ``meta()`` list."""
    def ints(key):
        return np.array([-1 if m[key] is None else int(m[key]) for m in meta], dtype=np.int64)

    channel_b = np.array([m["channels"][1] if len(m["channels"]) > 1 else -1 for m in meta], dtype=np.int64)
    channel = np.array([m["channels"][0] if len(m["channels"]) == 1 else -1 for m in meta], dtype=np.int64)
    return {
        "family": ("coefficient", np.array([m["family"] for m in meta], dtype="U16")),
        "channel": ("coefficient", channel),
        "channel_a": ("coefficient", np.array([m["channels"][0] for m in meta], dtype=np.int64)),
        "channel_b": ("coefficient", channel_b),
        "j": ("coefficient", ints("j")),
        "j1": ("coefficient", ints("j1")),
        "j2": ("coefficient", ints("j2")),
        "j1p": ("coefficient", ints("j1p")),
        "part": ("coefficient", np.array([m["part"] for m in meta], dtype="U2")),
        "real": ("coefficient", np.array([bool(m["real_by_construction"]) for m in meta], dtype=bool)),
    }


def _local_time_coords(t_end_ns, station, longitude):
    """Optional (sol, lmst) for InSight or (local_time) for a given longitude, per window end
    (vectorised over the datetime64 array)."""
    try:
        from .. import io as scio
    except ImportError:  # ObsPy (the seismic extra) missing: times stay UTC only
        return {}
    t = np.asarray(t_end_ns, dtype=np.int64).astype("datetime64[ns]")
    parts = station.split(".")
    if len(parts) > 1 and parts[1] == "ELYSE":
        kw = {} if longitude is None else {"longitude": longitude}
        sol, hours = scio.utc_to_lmst(t, **kw)
        return {"sol": ("window", np.asarray(sol, dtype=np.int64)),
                "lmst": ("window", np.asarray(hours, dtype=np.float64))}
    if longitude is not None:
        return {"local_time": ("window", np.asarray(scio.local_solar_time(t, longitude), dtype=np.float64))}
    return {}


def window_features(record, pyramid, *, longitude=None, local_time=True):
    """Scattering-spectra features of every window position of a prepared record.

    Parameters
    ----------
    record : scatclust.io.PreparedRecord
        ``data`` (C, L) float32/float64, ``gap_mask`` (L,) bool, ``starttime`` (UTC of sample 0),
        ``sampling_rate`` (Hz), ``channels`` (C SEED ids 'NET.STA.LOC.CHA'), ``processing``.
    pyramid : scatclust.ScatteringPyramid
        Built for ``C`` channels; L must be >= its largest scale.
    longitude : float, optional
        East longitude (degrees) for the local-time coordinate. For InSight (station ELYSE)
        the LMST coordinates ``sol`` and ``lmst`` (hours) are added with
        ``scatclust.io.utc_to_lmst`` (the InSight mission clock unless a longitude is given); for other
        stations ``local_time`` (hours, local mean solar time) is added when a longitude is
        given. Skipped when ``scatclust.io`` is unavailable or ``local_time=False``.
    local_time : bool
        Add the LMST / local-time coordinates (default True).

    Returns
    -------
    xarray.Dataset
        ``features`` (window, scale, coefficient): the pyramid's output unchanged
        (complex64/complex128, or float32/float64 with ``as_real``); coordinates
        ``time_end`` (window) and ``time_start`` (window, scale) datetime64[ns] UTC,
        ``gap`` (window, scale) bool, ``scale`` (samples), ``scale_seconds``, ``seed_id``
        (dim ``chan``), coefficient metadata (see the module notes), optional ``sol``/``lmst``
        or ``local_time``; attributes ``station`` ('NET.STA.LOC'), ``channels``
        (comma-separated SEED ids), ``sampling_rate``, ``hop``, ``J``, ``processing``.
        This flat layout (every channel on one coefficient axis) is the store's write format;
        :func:`scatclust.features.by_channel` gives the channel view (window, scale, channel,
        coefficient) that :func:`scatclust.open_features` returns by default.

    Examples
    --------
    >>> import numpy as np, scatclust, types, obspy
    >>> from scatclust.features import window_features
    >>> rec = types.SimpleNamespace(data=np.random.default_rng(0).standard_normal((1, 4096)).astype(np.float32),
    ...     gap_mask=np.zeros(4096, bool), starttime=obspy.UTCDateTime(2019, 6, 1), sampling_rate=20.0,
    ...     channels=["XB.ELYSE.02.BHU"], processing=[])
    >>> ds = window_features(rec, scatclust.ScatteringPyramid(J=4, scales=(256, 1024), hop=256), local_time=False)
    >>> ds.features.shape
    (13, 2, 50)
    """
    import xarray as xr

    data = np.asarray(record.data)
    gap_mask = np.asarray(record.gap_mask, dtype=bool)
    if data.ndim == 1:
        data = data[None]
    if data.ndim != 2:
        raise ValueError(f"record.data has shape {data.shape}; a PreparedRecord holds (C, L) samples")
    if gap_mask.shape != (data.shape[1],):
        raise ValueError(f"record.gap_mask has shape {gap_mask.shape}; it must be ({data.shape[1]},), one flag "
                         f"per sample of record.data")
    if len(record.channels) != data.shape[0]:
        raise ValueError(f"record.channels has {len(record.channels)} ids for {data.shape[0]} data rows")
    fs = float(record.sampling_rate)
    if not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"record.sampling_rate={record.sampling_rate!r} must be a positive number of Hz")
    station = record_station(record)

    out = pyramid.transform(data)
    ends = out.window_end
    scales = np.asarray(out.scales, dtype=np.int64)
    # gap flag: any gap sample in [end - s, end), from a prefix count
    cg = np.concatenate([[0], np.cumsum(gap_mask, dtype=np.int64)])
    starts = ends[:, None] - scales[None, :]
    gap = (cg[ends][:, None] - cg[starts]) > 0

    t0 = _utc_ns(record.starttime)
    ns_per_sample = _NS / fs
    t_end = t0 + np.round(ends * ns_per_sample).astype(np.int64)
    t_start = t0 + np.round(starts * ns_per_sample).astype(np.int64)

    coords = {
        "time_end": ("window", t_end.astype("datetime64[ns]")),
        "time_start": (("window", "scale"), t_start.astype("datetime64[ns]")),
        "gap": (("window", "scale"), gap),
        "scale": ("scale", scales),
        "scale_seconds": ("scale", scales / fs),
        "seed_id": ("chan", np.array(list(record.channels), dtype="U32")),
    }
    coords.update(coefficient_coords(out.columns))
    if local_time and len(t_end):
        coords.update(_local_time_coords(t_end, station, longitude))
    attrs = {
        "station": station,
        "channels": ",".join(record.channels),
        "sampling_rate": fs,
        "hop": int(out.hop),
        "J": int(pyramid.J),
        "processing": list(getattr(record, "processing", []) or []),
    }
    return xr.Dataset({"features": (("window", "scale", "coefficient"), out.features)}, coords=coords,
                      attrs=attrs)


def as_real_features(ds):
    """Complex features -> the real layout of ``as_real=True``: real parts of every column,
    then imaginary parts of the columns not real by construction (coordinate ``real``).

    The result equals ``window_features`` of the same record with a pyramid built with
    ``as_real=True``, bit for bit. A dataset with real features is returned unchanged.
    """
    f = ds["features"]
    if not np.issubdtype(f.dtype, np.complexfloating):
        return ds
    im_cols = np.flatnonzero(~ds["real"].values)
    vals = f.values
    feats = np.concatenate([vals.real, vals.imag[..., im_cols]], axis=-1)
    idx = np.concatenate([np.arange(vals.shape[-1]), im_cols])
    out = ds.drop_vars("features").isel(coefficient=idx)
    part = np.array(["re"] * vals.shape[-1] + ["im"] * len(im_cols), dtype="U2")
    out = out.assign_coords(part=("coefficient", part))
    return out.assign(features=(("window", "scale", "coefficient"), feats))
