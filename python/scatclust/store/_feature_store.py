"""Feature store: one Zarr v3 group per (station, day), written by exactly one task.

Layout (a Zarr v3 directory; the HDF5 export has the same names)::

    <root>/zarr.json                      attrs: format, version, layout (scales, hop, J,
                                          coefficient metadata), pyramid (its parameters)
    <root>/<NET.STA.LOC>_<YYYY-MM-DD>/    one group per station and UTC day
        features    (window, scale, coefficient) float32/float64, one chunk (the whole day)
        time_end    (window,) int64, ns since 1970 UTC (exclusive end of every window)
        time_start  (window, scale) int64 ns
        gap         (window, scale) bool
        sol, lmst | local_time  (window,) optional
        attrs: station, day, channels, sampling_rate, processing, files, n_windows,
               n_dropped_gap, gaps, checksum (sha256 of the arrays), complete (written LAST)
    <root>/_normalization/                count, mean, m2, shift (scale, coefficient) float64;
                                          attrs: days, complete

Why it is safe to run many writers
    A day group is a directory that only its task writes; each task opens its group as a
    store of its own, so no task touches the root's or another group's metadata (the root is
    written by the driver before any task starts). Zarr writes each array chunk to disk when
    the assignment returns; only then is ``complete=True`` set, in a separate metadata write.
    A crash at any point before that leaves a group without ``complete`` (or with unreadable
    metadata), which readers ignore and a rerun deletes and rewrites.

Complex features
    Stored real, in the layout of ``as_real=True`` (:func:`scatclust.features.as_real_features`:
    real parts of every coefficient, then the imaginary parts of those not real by
    construction, coordinate ``part`` = 're'/'im'). Normalisation statistics are then plain
    per-column statistics, and any HDF5/xarray reader sees ordinary floats.

Gaps
    ``gaps='drop'`` (default) leaves out every window whose largest scale touches a gap
    (nested right-aligned windows: then it is the only test needed — a gap at any scale lies
    in the largest). ``gaps='mask'`` keeps them and sets the features of the flagged
    (window, scale) pairs to NaN; the ``gap`` flag is stored either way.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil

import numpy as np

from ._stats import NormalizationStats, merge_all, partial_moments

__all__ = ["FeatureStore", "open_features", "apply_normalization", "fit_normalization", "load_normalization",
           "day_key"]

FORMAT = "scatclust-features"
VERSION = 1
NORM_GROUP = "_normalization"
GAP_POLICIES = ("drop", "mask")
_COEF_KEYS = ("family", "channel", "channel_a", "channel_b", "j", "j1", "j2", "j1p", "part", "real")
_OPTIONAL_WINDOW = ("sol", "lmst", "local_time")


def day_key(day):
    """'YYYY-MM-DD' of a day given as str, datetime, numpy datetime64 or obspy.UTCDateTime."""
    if isinstance(day, str):
        s = day[:10]
        np.datetime64(s, "D")  # validates
        return s
    if hasattr(day, "ns"):
        return str(np.datetime64(int(day.ns), "ns").astype("datetime64[D]"))
    return str(np.datetime64(day).astype("datetime64[D]"))


def _group_name(station, day):
    return f"{station}_{day_key(day)}"


def _split_name(name):
    station, _, day = name.rpartition("_")
    return station, day


def _layout_from_dataset(ds):
    return {
        "scales": [int(s) for s in ds["scale"].values],
        "hop": int(ds.attrs["hop"]),
        "J": int(ds.attrs["J"]),
        "coefficients": {k: ds[k].values.tolist() for k in _COEF_KEYS},
    }


def _pyramid_layout(pyramid):
    """Stored layout (real coefficient order) of a pyramid, without computing anything."""
    from ..features._windows import coefficient_coords

    meta = pyramid.meta()
    coords = {k: v[1] for k, v in coefficient_coords(meta).items()}
    if meta and meta[0]["part"] == "c":  # complex output -> as_real layout
        im = np.flatnonzero(~coords["real"])
        idx = np.concatenate([np.arange(len(meta)), im])
        coords = {k: v[idx] for k, v in coords.items()}
        coords["part"] = np.array(["re"] * len(meta) + ["im"] * len(im))
    return {"scales": list(pyramid.scales), "hop": int(pyramid.hop), "J": int(pyramid.J),
            "coefficients": {k: np.asarray(coords[k]).tolist() for k in _COEF_KEYS}}


def _checksum(arrays):
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _jsonable(v):
    return json.loads(json.dumps(v, default=str))


class FeatureStore:
    """A Zarr v3 directory of window features, one group per (station, day).

    Parameters
    ----------
    path : str or os.PathLike
        Directory of the store (created in mode 'a' if missing).
    mode : {'a', 'r'}
        'a' read/write (default), 'r' read only.

    Examples
    --------
    >>> store = FeatureStore("features.zarr")                     # doctest: +SKIP
    >>> store.write_day(window_features(record, pyramid))         # doctest: +SKIP
    'XB.ELYSE.02_2019-06-01'
    >>> store.days()                                              # doctest: +SKIP
    ['XB.ELYSE.02_2019-06-01']
    """

    def __init__(self, path, mode="a"):
        import zarr

        if mode not in ("a", "r"):
            raise ValueError(f"mode={mode!r} must be 'a' (read/write) or 'r' (read only)")
        self.path = os.fspath(path)
        self.mode = mode
        if mode == "r" and not os.path.isdir(self.path):
            raise FileNotFoundError(f"no feature store at path={self.path!r} (a Zarr directory); run "
                                    f"scatclust.features.extract first or check the path")
        if os.path.isfile(self.path):
            raise ValueError(f"path={self.path!r} is a file; a FeatureStore is a directory (for an HDF5 export "
                             f"use scatclust.open_features on the file)")
        self._root = zarr.open_group(self.path, mode=mode)
        if mode == "a" and "format" not in self._root.attrs:
            self._root.attrs.update({"format": FORMAT, "version": VERSION})
        elif self._root.attrs.get("format") != FORMAT:
            raise ValueError(f"path={self.path!r} is a Zarr group but not a scatclust feature store "
                             f"(attribute format={self._root.attrs.get('format')!r})")

    def __repr__(self):
        return f"FeatureStore({self.path!r}, {len(self.days())} complete days)"

    # ----------------------------------------------------------------- layout
    @property
    def layout(self):
        """Scales, hop, J and coefficient metadata shared by every day (None until set)."""
        return self._root.attrs.get("layout")

    def set_layout(self, layout, pyramid=None):
        """Record the layout once (driver side); a different layout than the stored one is an error."""
        self._check_writable()
        layout = _jsonable(layout)
        old = self.layout
        if old is not None:
            if old != layout:
                raise ValueError(f"the store at {self.path!r} holds features of another layout (scales "
                                 f"{old['scales']}, hop {old['hop']}, J {old['J']}, "
                                 f"{len(old['coefficients']['family'])} coefficients) than the new ones "
                                 f"(scales {layout['scales']}, hop {layout['hop']}, J {layout['J']}, "
                                 f"{len(layout['coefficients']['family'])} coefficients); use a new store path")
            return
        attrs = {"layout": layout}
        if pyramid is not None:
            attrs["pyramid"] = _jsonable(pyramid)
        self._root.attrs.update(attrs)

    def _check_writable(self):
        if self.mode == "r":
            raise ValueError(f"the store at {self.path!r} is open read-only (mode='r')")

    # ----------------------------------------------------------------- groups
    def _group_dir(self, name):
        return os.path.join(self.path, name)

    def group_name(self, station, day):
        """Name of the group of a station ('NET.STA.LOC') and a UTC day."""
        return _group_name(station, day)

    def _group_names(self):
        return sorted(n for n in os.listdir(self.path)
                      if not n.startswith((".", "_")) and os.path.isfile(os.path.join(self.path, n, "zarr.json")))

    def _attrs(self, name):
        try:
            with open(os.path.join(self._group_dir(name), "zarr.json"), encoding="utf-8") as f:
                return json.load(f).get("attributes", {})
        except (OSError, ValueError):  # missing or half-written metadata: not complete
            return {}

    def is_complete(self, name):
        """True when the group's ``complete`` attribute is set (written last by :meth:`write_day`)."""
        return self._attrs(name).get("complete") is True

    def days(self, complete=True):
        """Sorted group names ('NET.STA.LOC_YYYY-MM-DD'); only complete ones unless complete=False."""
        names = self._group_names()
        return [n for n in names if self.is_complete(n)] if complete else names

    def incomplete_days(self):
        """Groups present on disk but not complete (e.g. left by a crash)."""
        return [n for n in self._group_names() if not self.is_complete(n)]

    # ------------------------------------------------------------------ write
    def write_day(self, ds, *, day=None, gaps="drop", files=None):
        """Write one station-day of :func:`window_features` output; returns the group name.

        Parameters
        ----------
        ds : xarray.Dataset
            Output of :func:`scatclust.features.window_features` (complex features are stored
            in the as_real layout, see the module notes), restricted to the windows of the day.
        day : str / datetime / UTCDateTime, optional
            The UTC day (default: the day of the first window's ``time_end``).
        gaps : {'drop', 'mask'}
            Policy for windows flagged ``gap`` (see the module notes).
        files : list of str, optional
            Source files, recorded in the group's attributes.

        Any existing group of that station and day (e.g. a half-written one) is replaced.
        """
        import zarr

        from ..features._windows import as_real_features

        self._check_writable()
        if gaps not in GAP_POLICIES:
            raise ValueError(f"gaps={gaps!r} must be one of {GAP_POLICIES}: 'drop' leaves out windows that "
                             f"touch a gap, 'mask' keeps them with NaN features")
        if "features" not in ds or ds["features"].dims != ("window", "scale", "coefficient"):
            raise ValueError("ds must be the output of window_features: a 'features' variable with dims "
                             "(window, scale, coefficient)")
        ds = as_real_features(ds)
        layout = _layout_from_dataset(ds)
        if self.layout is None:
            self.set_layout(layout)
        elif self.layout != _jsonable(layout):
            self.set_layout(layout)  # raises with the explanation
        if day is None:
            if ds.sizes["window"] == 0:
                raise ValueError("ds has no windows; give day= to record an empty day")
            day = ds["time_end"].values[0]
        station = ds.attrs["station"]
        name = _group_name(station, day)

        feats = np.asarray(ds["features"].values)
        gap = np.asarray(ds["gap"].values, dtype=bool)
        keep = np.ones(feats.shape[0], dtype=bool)
        if gaps == "drop":
            keep = ~gap[:, -1]
            feats = feats[keep]
        else:
            feats = np.where(gap[:, :, None], np.nan, feats).astype(feats.dtype)
        arrays = {
            "features": np.ascontiguousarray(feats),
            "time_end": ds["time_end"].values[keep].astype("datetime64[ns]").astype(np.int64),
            "time_start": ds["time_start"].values[keep].astype("datetime64[ns]").astype(np.int64),
            "gap": gap[keep],
        }
        for k in _OPTIONAL_WINDOW:
            if k in ds.coords:
                arrays[k] = ds[k].values[keep]

        gdir = self._group_dir(name)
        if os.path.exists(gdir):
            shutil.rmtree(gdir)  # a stale (incomplete or superseded) group: start over
        grp = zarr.open_group(gdir, mode="w")  # its own store: nothing outside gdir is written
        for k, a in arrays.items():
            arr = grp.create_array(k, shape=a.shape, chunks=tuple(max(1, s) for s in a.shape), dtype=a.dtype)
            if a.size:
                arr[...] = a
        meta = {
            "station": station, "day": day_key(day), "channels": ds.attrs["channels"].split(","),
            "sampling_rate": float(ds.attrs["sampling_rate"]), "processing": list(ds.attrs.get("processing", [])),
            "files": list(files or []), "n_windows": int(arrays["features"].shape[0]),
            "n_dropped_gap": int((~keep).sum()), "gaps": gaps,
            "dtype": str(arrays["features"].dtype), "arrays": list(arrays), "checksum": _checksum([arrays[k] for k in arrays]),
        }
        grp.attrs.update(_jsonable(meta))
        self._mark_complete(grp)
        return name

    @staticmethod
    def _mark_complete(grp):
        # A separate metadata write, after every chunk and the other attributes are on disk.
        grp.attrs["complete"] = True

    # ------------------------------------------------------------------- read
    def _open_group(self, name):
        import zarr

        if not self.is_complete(name):
            raise ValueError(f"group {name!r} is not a complete day of the store at {self.path!r}; complete days: "
                             f"{self.days()[:5]}{' ...' if len(self.days()) > 5 else ''}")
        return zarr.open_group(self._group_dir(name), mode="r")

    def read_arrays(self, name, lazy=False):
        """The arrays of a complete group as numpy (or dask with lazy=True) plus its attributes."""
        grp = self._open_group(name)
        attrs = dict(grp.attrs)
        out = {}
        for k in attrs["arrays"]:
            if lazy and k == "features":
                import dask.array as da

                out[k] = da.from_zarr(grp[k])
            else:
                out[k] = grp[k][...]
        return out, attrs

    def verify(self, name):
        """Recompute a group's checksum; True when it matches the stored one."""
        arrays, attrs = self.read_arrays(name)
        return _checksum([arrays[k] for k in attrs["arrays"]]) == attrs["checksum"]

    @property
    def normalization(self):
        """The stored :class:`NormalizationStats` (None if not fitted)."""
        return load_normalization(self.path)

    # ----------------------------------------------------------------- export
    def to_hdf5(self, path, *, compression="gzip"):
        """Write every complete day (and the normalisation statistics) to an HDF5 file with the
        same layout: root attributes (JSON strings), one group per day, the same dataset names.

        Read it back with :func:`open_features`.
        """
        import h5py

        with h5py.File(path, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["version"] = VERSION
            for k in ("layout", "pyramid"):
                if k in self._root.attrs:
                    f.attrs[k] = json.dumps(self._root.attrs[k])
            for name in self.days():
                arrays, attrs = self.read_arrays(name)
                g = f.create_group(name)
                for k, a in arrays.items():
                    g.create_dataset(k, data=a, compression=compression if a.size else None)
                for k, v in attrs.items():
                    g.attrs[k] = json.dumps(v)
            stats = self.normalization
            if stats is not None:
                g = f.create_group(NORM_GROUP)
                for k in ("count", "mean", "m2", "shift"):
                    g.create_dataset(k, data=getattr(stats, k))
                g.attrs["days"] = json.dumps(stats.days)
                g.attrs["scales"] = json.dumps(list(stats.scales))
                g.attrs["complete"] = json.dumps(True)
        return path


# ---------------------------------------------------------------------- readers
class _Hdf5Reader:
    """Read side of an HDF5 export with the FeatureStore interface used by open_features."""

    def __init__(self, path):
        import h5py

        self.path = os.fspath(path)
        with h5py.File(self.path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise ValueError(f"{self.path!r} is not a scatclust feature export (attribute format="
                                 f"{f.attrs.get('format')!r})")
            self.layout = json.loads(f.attrs["layout"]) if "layout" in f.attrs else None
            self._days = sorted(k for k in f.keys() if not k.startswith("_")
                                and json.loads(f[k].attrs.get("complete", "false")) is True)

    def days(self, complete=True):
        return list(self._days)

    def incomplete_days(self):
        return []

    def read_arrays(self, name, lazy=False):
        import h5py

        with h5py.File(self.path, "r") as f:
            g = f[name]
            attrs = {k: json.loads(v) for k, v in g.attrs.items()}
            return {k: g[k][...] for k in attrs["arrays"]}, attrs

    @property
    def normalization(self):
        import h5py

        with h5py.File(self.path, "r") as f:
            if NORM_GROUP not in f:
                return None
            g = f[NORM_GROUP]
            return NormalizationStats(*(g[k][...] for k in ("count", "mean", "m2", "shift")),
                                      days=json.loads(g.attrs["days"]), scales=tuple(json.loads(g.attrs["scales"])))


def _reader(path):
    if isinstance(path, FeatureStore):
        return path
    p = os.fspath(path)
    if os.path.isfile(p):
        return _Hdf5Reader(p)
    return FeatureStore(p, mode="r")


def _select(reader, days):
    complete = reader.days()
    if days is None:
        return complete
    if isinstance(days, (str, bytes)) or not hasattr(days, "__iter__"):
        days = [days]
    chosen, missing = [], []
    for d in days:
        if isinstance(d, str) and d in complete:
            chosen.append(d)
            continue
        key = day_key(d)
        hits = [n for n in complete if _split_name(n)[1] == key]
        if hits:
            chosen.extend(hits)
        else:
            missing.append(d if isinstance(d, str) else key)
    if missing:
        raise ValueError(f"days {missing} are not complete days of the store {getattr(reader, 'path', '')!r} "
                         f"(complete: {complete[:5]}{' ...' if len(complete) > 5 else ''}; incomplete: "
                         f"{reader.incomplete_days()[:5]})")
    return sorted(set(chosen))


LAYOUTS = ("channel", "flat")


def open_features(path, days=None, *, layout="channel"):
    """All complete days of a feature store as one ``xarray.Dataset``.

    Parameters
    ----------
    path : str, os.PathLike or FeatureStore
        A store directory (Zarr v3) or an HDF5 export (:meth:`FeatureStore.to_hdf5`).
    days : iterable, optional
        Days ('YYYY-MM-DD', datetime, UTCDateTime: every station of that day) or group names
        ('NET.STA.LOC_YYYY-MM-DD'). Default: every complete day. Asking for a day that is not
        complete is an error; incomplete groups are never read.
    layout : {'channel', 'flat'}
        'channel' (default): ``features`` (window, scale, channel, coefficient) as made by
        :func:`scatclust.features.by_channel`; 'flat': the stored layout (window, scale,
        coefficient), the coefficient axis mixing every channel.

    Returns
    -------
    xarray.Dataset
        ``features`` float32/float64, real (see the store notes), lazily loaded per day (a
        dask array, one chunk per day) from Zarr, in memory from HDF5:

        * layout='channel': dims (window, scale, channel, coefficient); ``channel`` labelled
          with the SEED ids ('XB.ELYSE.02.BHU'; by channel code when several stations are
          read), ``channel_index``; per-channel coefficient metadata ``family``, ``j``,
          ``j1``, ``j2``, ``j1p``, ``part``, ``real`` (coefficient) and ``flat_coefficient``
          (channel, coefficient, the stored column). With cross-channel families also
          ``cross_features`` (window, scale, pair, cross_coefficient), ``pair`` ('U-V'),
          ``channel_a``/``channel_b`` (pair), ``cross_family``, ``cross_j``, ...
        * layout='flat': dims (window, scale, coefficient); coefficient metadata family,
          channel (index, -1 for cross-channel), channel_a, channel_b, j, j1, j2, j1p, part,
          real.

        Both: coordinates ``time_end`` (window) and ``time_start`` (window, scale)
        datetime64[ns] UTC, ``gap`` (window, scale), ``station`` and ``day`` (window, str),
        ``sol``/``lmst``/``local_time`` (window) when every selected day has them,
        ``scale``, ``scale_seconds``; with stored normalisation statistics, data variables
        ``norm_mean`` and ``norm_std`` ((scale, channel, coefficient) and
        ``cross_norm_mean``/``cross_norm_std`` (scale, pair, cross_coefficient), or (scale,
        coefficient) in the flat layout) used by :func:`apply_normalization`. Attributes:
        ``store``, ``days``, ``channels`` (dict station -> SEED ids), ``hop``, ``J``.

    Examples
    --------
    >>> ds = scatclust.open_features("features.zarr")               # doctest: +SKIP
    >>> ds.features.dims                                             # doctest: +SKIP
    ('window', 'scale', 'channel', 'coefficient')
    >>> ds.features.sel(channel="XB.ELYSE.02.BHU", scale=65536).where(ds.family == "sparsity", drop=True)  # doctest: +SKIP
    >>> scatclust.open_features("features.zarr", layout="flat").features.dims  # doctest: +SKIP
    ('window', 'scale', 'coefficient')
    """
    import xarray as xr

    from .._array import check_choice
    from ..features._layout import by_channel

    check_choice(layout, "layout", LAYOUTS)
    reader = _reader(path)
    stored = reader.layout
    if stored is None:
        raise ValueError(f"the store {getattr(reader, 'path', path)!r} holds no features yet (no layout)")
    names = _select(reader, days)
    parts, attrs_all = [], {}
    for n in names:
        arrays, attrs = reader.read_arrays(n, lazy=True)
        parts.append((n, arrays))
        attrs_all[n] = attrs
    n_s, n_c = len(stored["scales"]), len(stored["coefficients"]["family"])

    def cat(key, empty_shape, dtype):
        vals = [a[key] for _, a in parts]
        if not vals:
            return np.empty(empty_shape, dtype=dtype)
        if any(hasattr(v, "dask") for v in vals):
            import dask.array as da

            return da.concatenate(vals, axis=0)
        return np.concatenate(vals, axis=0)

    dtype = attrs_all[names[0]].get("dtype", "float32") if names else "float32"
    feats = cat("features", (0, n_s, n_c), dtype)
    coords = {
        "time_end": ("window", cat("time_end", (0,), np.int64).astype("datetime64[ns]")),
        "time_start": (("window", "scale"), cat("time_start", (0, n_s), np.int64).astype("datetime64[ns]")),
        "gap": (("window", "scale"), cat("gap", (0, n_s), bool)),
        "station": ("window", np.concatenate([np.full(len(a["time_end"]), attrs_all[n]["station"], dtype="U32")
                                              for n, a in parts]) if parts else np.empty(0, "U32")),
        "day": ("window", np.concatenate([np.full(len(a["time_end"]), attrs_all[n]["day"], dtype="U10")
                                          for n, a in parts]) if parts else np.empty(0, "U10")),
        "scale": ("scale", np.asarray(stored["scales"], dtype=np.int64)),
    }
    for k in _OPTIONAL_WINDOW:
        if parts and all(k in a for _, a in parts):
            coords[k] = ("window", np.concatenate([a[k] for _, a in parts]))
    rates = {attrs_all[n]["sampling_rate"] for n in names}
    if len(rates) == 1:
        coords["scale_seconds"] = ("scale", np.asarray(stored["scales"], dtype=np.float64) / rates.pop())
    cf = stored["coefficients"]
    for k in _COEF_KEYS:
        v = np.asarray(cf[k])
        coords[k] = ("coefficient", v.astype(bool) if k == "real" else v)
    data_vars = {"features": (("window", "scale", "coefficient"), feats)}
    ds_attrs = {"store": getattr(reader, "path", str(path)), "days": names, "hop": stored["hop"], "J": stored["J"],
                "channels": {attrs_all[n]["station"]: attrs_all[n]["channels"] for n in names}}
    stats = reader.normalization
    if stats is not None:
        data_vars["norm_mean"] = (("scale", "coefficient"), stats.mean)
        data_vars["norm_std"] = (("scale", "coefficient"), stats.std)
        ds_attrs["normalization_days"] = list(stats.days)
    ds = xr.Dataset(data_vars, coords=coords, attrs=ds_attrs)
    return by_channel(ds) if layout == "channel" else ds


# ---------------------------------------------------------------- normalisation
def _day_moments(path, name, shift):
    """Partial moments of one stored day (a task of fit_normalization)."""
    store = FeatureStore(path, mode="r")
    arrays, _ = store.read_arrays(name)
    return partial_moments(arrays["features"], shift, valid=~arrays["gap"][:, :, None])


def fit_normalization(path, days=None, *, client=None):
    """Per (scale, coefficient) count / mean / M2 over chosen stored days, stored in the store.

    Each day is a partition (computed in parallel on a dask ``client`` if given, else in
    this process); partitions are merged with Chan et al.'s pairwise formula in stored-day
    order (see :mod:`scatclust.store._stats`), so the result does not depend on the number of
    workers. Entries flagged ``gap`` or non-finite are left out.

    Parameters
    ----------
    path : str or FeatureStore
    days : iterable, optional
        Training subset (as in :func:`open_features`); default every complete day.
    client : dask.distributed.Client, optional

    Returns
    -------
    NormalizationStats (also written to the store's ``_normalization`` group, with the days)
    """
    import zarr

    store = path if isinstance(path, FeatureStore) else FeatureStore(path, mode="a")
    store._check_writable()
    names = _select(store, days)
    if not names:
        raise ValueError(f"the store at {store.path!r} has no complete day to compute statistics from")
    # Shift (Chan, Golub & LeVeque 1983): the mean of the first day with data, per column.
    shift = None
    for n in names:
        arrays, _ = store.read_arrays(n)
        if arrays["features"].shape[0]:
            m = partial_moments(arrays["features"], 0.0, valid=~arrays["gap"][:, :, None])
            shift = m.mean
            break
    if shift is None:
        raise ValueError(f"the selected days {names[:5]} hold no windows (all dropped as gaps?)")
    if client is None:
        parts = [_day_moments(store.path, n, shift) for n in names]
    else:
        futs = [client.submit(_day_moments, store.path, n, shift, pure=False) for n in names]
        parts = client.gather(futs)
    stats = NormalizationStats.from_moments(merge_all(parts), names, store.layout["scales"])
    gdir = os.path.join(store.path, NORM_GROUP)
    if os.path.exists(gdir):
        shutil.rmtree(gdir)
    grp = zarr.open_group(gdir, mode="w")
    for k in ("count", "mean", "m2", "shift"):
        a = getattr(stats, k)
        grp.create_array(k, shape=a.shape, chunks=a.shape, dtype=np.float64)[...] = a
    grp.attrs.update({"days": names, "scales": list(stats.scales)})
    grp.attrs["complete"] = True
    return stats


def load_normalization(path):
    """The :class:`NormalizationStats` stored in a store directory or HDF5 export (None if absent)."""
    import zarr

    if isinstance(path, FeatureStore):
        path = path.path
    if os.path.isfile(os.fspath(path)):
        return _Hdf5Reader(path).normalization
    gdir = os.path.join(os.fspath(path), NORM_GROUP)
    if not os.path.isfile(os.path.join(gdir, "zarr.json")):
        return None
    grp = zarr.open_group(gdir, mode="r")
    if grp.attrs.get("complete") is not True:
        return None
    return NormalizationStats(*(grp[k][...] for k in ("count", "mean", "m2", "shift")),
                              days=list(grp.attrs["days"]), scales=tuple(grp.attrs["scales"]))


def apply_normalization(ds, stats=None):
    """Standardise features with stored statistics: (x - mean) / std per (scale, coefficient).

    Works on both layouts with identical numbers: the statistics are stored per (scale, flat
    coefficient) and, for the channel layout, taken at ``flat_coefficient`` /
    ``cross_flat_coefficient`` (or read from the ``norm_mean``/``norm_std`` variables
    :func:`open_features` reshaped the same way).

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`open_features` (either layout; it carries ``norm_mean``/``norm_std`` when
        the store has statistics), :func:`scatclust.features.window_features` or
        :func:`scatclust.features.by_channel` (complex features are converted to the stored
        real layout first).
    stats : NormalizationStats, store path or None
        None: use ``ds.norm_mean`` / ``ds.norm_std``. At inference time pass the training
        store's path (or its stats) to apply them unchanged to new features.

    Returns
    -------
    xarray.Dataset in the layout of ``ds`` with ``features`` (and ``cross_features``)
    standardised (float64 for float64 input, else the input's float type) and
    ``attrs['normalized'] = True``.

    Examples
    --------
    >>> z = apply_normalization(scatclust.open_features("features.zarr"))            # doctest: +SKIP
    >>> z.features.sel(channel="XB.ELYSE.02.BHU").mean("window")                     # doctest: +SKIP
    """
    from ..features._layout import CROSS, by_channel, flat, is_channel_layout
    from ..features._windows import as_real_features

    channel = is_channel_layout(ds)
    if channel:
        if np.issubdtype(ds["features"].dtype, np.complexfloating):
            ds = by_channel(as_real_features(flat(ds)))
        names = ["features"] + ([CROSS + "features"] if "pair" in ds.dims else [])
        index = {"features": ds["flat_coefficient"].values}
        if len(names) > 1:
            index[names[1]] = ds["cross_flat_coefficient"].values
        n_flat = sum(v.size for v in index.values())
    else:
        ds = as_real_features(ds)
        names = ["features"]
        n_flat = ds.sizes["coefficient"]
    trailing = {k: ds[k].dims[-3:] if channel else ("scale", "coefficient") for k in names}
    if stats is None:
        if "norm_mean" not in ds:
            raise ValueError("ds carries no normalisation statistics (no norm_mean/norm_std); pass stats= "
                             "(a NormalizationStats or the training store's path), or run fit_normalization")
        pre = {"features": "", CROSS + "features": CROSS}
        mean = {k: ds[pre[k] + "norm_mean"].transpose(*trailing[k]).values for k in names}
        std = {k: ds[pre[k] + "norm_std"].transpose(*trailing[k]).values for k in names}
    else:
        if not isinstance(stats, NormalizationStats):
            src = stats
            stats = load_normalization(src)
            if stats is None:
                raise ValueError(f"the store {src!r} has no normalisation statistics; run fit_normalization first")
        shape = (ds.sizes["scale"], n_flat)
        if stats.mean.shape != shape:
            raise ValueError(f"the statistics have shape {stats.mean.shape} (scale, coefficient) but ds has {shape}; "
                             f"they come from features of another layout")
        if tuple(stats.scales) != tuple(int(s) for s in ds["scale"].values):
            raise ValueError(f"the statistics were fitted on scales {stats.scales}, ds has "
                             f"{ds['scale'].values.tolist()}")
        if channel:  # (scale, flat) -> (scale, channel, coefficient) / (scale, pair, cross_coefficient)
            mean = {k: stats.mean[:, index[k]] for k in names}
            std = {k: stats.std[:, index[k]] for k in names}
        else:
            mean, std = {"features": stats.mean}, {"features": stats.std}
    res = ds
    for k in names:
        want = tuple(ds.sizes[d] for d in trailing[k])
        if mean[k].shape != want:
            raise ValueError(f"the statistics of {k!r} have shape {mean[k].shape} but ds has {want} "
                             f"{trailing[k]}; they come from features of another layout")
        s = np.where((std[k] > 0) & np.isfinite(std[k]), std[k], 1.0)
        f = ds[k]
        res = res.assign({k: ((f - mean[k]) / s).astype(f.dtype)})
    res.attrs = dict(ds.attrs, normalized=True)
    return res
