"""Cluster labels and confidences of stored windows, kept inside the feature store.

Layout::

    <store>/_labels/                     a Zarr group holding one group per label set
        <name>/                          written under a temporary name, then renamed in
            labels      (window, scale) int32, -1 where a window could not be assigned
            confidence  (window, scale) float32, max_k q(y = k | window), NaN with label -1
            time_end    (window,) int64 ns, to check the alignment with the features
            attrs: format, version, days (store groups, in order), n_windows (per group),
                   scales, n_clusters, model (path, kind), created_by, complete (written LAST)
            (any other files a writer adds, e.g. the run record)

Windows are those of :func:`scatclust.open_features` on the same ``days``, in the same
order. A label set is replaced as a whole (see :func:`write_labels`): readers see the
complete old set or the complete new one, never a mix.
"""
from __future__ import annotations

import os
import shutil
import uuid

import numpy as np

__all__ = ["write_labels", "read_labels", "label_sets"]

LABELS_GROUP = "_labels"
FORMAT = "scatclust-labels"

# The renames that swap a label set in (a module attribute so that tests can interrupt them
# without touching os.replace, which zarr's I/O thread uses too).
_rename = os.replace
VERSION = 1


def _root(store):
    return os.fspath(getattr(store, "path", store))


def _check_name(name):
    if not isinstance(name, str) or not name or name.startswith((".", "_")) or "/" in name or os.sep in name:
        raise ValueError(f"name={name!r} must be a non-empty label-set name without '/' that does not start "
                         f"with '.' or '_' (e.g. 'fvae')")


def write_labels(store, name, labels, confidence, *, days, n_windows, time_end, scales, n_clusters=None,
                 attrs=None, extra_files=None):
    """Write (or replace) the label set ``name`` of a feature store.

    Parameters
    ----------
    store : str or FeatureStore
    name : str
        Label-set name, e.g. 'default' or the model's name.
    labels : int array (n_windows, n_scales)
    confidence : float array (n_windows, n_scales)
    days : list of str
        Store groups the windows come from, in order.
    n_windows : list of int
        Windows of each group (sums to n_windows).
    time_end : int64 array (n_windows,)
        Window end times (ns since 1970) of the features, for alignment checks.
    scales : list of int
        Window length of every column (samples).
    n_clusters : list of int, optional
    attrs : dict, optional
        More JSON-serialisable attributes (model path, kind, ...).
    extra_files : dict {filename: bytes or str}, optional
        Files placed in the group with the arrays (e.g. a run record), swapped in with them.

    Returns
    -------
    str, the group's path.

    Notes
    -----
    The set is written to ``_labels/.<name>.tmp-<random>`` with ``complete`` last, then moved
    into place by renames (the old set is renamed aside and deleted afterwards); a crash
    leaves either set intact, plus at worst a dot-named leftover that readers ignore and the
    next write removes.
    """
    import zarr

    _check_name(name)
    labels = np.ascontiguousarray(labels, dtype=np.int32)
    confidence = np.ascontiguousarray(confidence, dtype=np.float32)
    time_end = np.ascontiguousarray(time_end, dtype=np.int64)
    if labels.ndim != 2 or confidence.shape != labels.shape or time_end.shape != labels.shape[:1]:
        raise ValueError(f"labels {labels.shape}, confidence {confidence.shape} and time_end {time_end.shape} "
                         f"must be (n_windows, n_scales), (n_windows, n_scales) and (n_windows,)")
    if sum(int(n) for n in n_windows) != labels.shape[0] or len(n_windows) != len(days):
        raise ValueError(f"n_windows={list(n_windows)} must give the windows of each of the {len(days)} days and "
                         f"sum to {labels.shape[0]}")
    if len(scales) != labels.shape[1]:
        raise ValueError(f"scales={list(scales)} must have one entry per column of labels ({labels.shape[1]})")
    base = os.path.join(_root(store), LABELS_GROUP)
    zarr.open_group(base, mode="a")
    for leftover in os.listdir(base):  # from an interrupted earlier write
        if leftover.startswith(f".{name}.tmp-") or leftover.startswith(f".{name}.old-"):
            shutil.rmtree(os.path.join(base, leftover), ignore_errors=True)
    tmp = os.path.join(base, f".{name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        grp = zarr.open_group(tmp, mode="w")
        for key, a in (("labels", labels), ("confidence", confidence), ("time_end", time_end)):
            arr = grp.create_array(key, shape=a.shape, chunks=tuple(max(1, s) for s in a.shape), dtype=a.dtype)
            if a.size:
                arr[...] = a
        for fname, content in (extra_files or {}).items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(os.path.join(tmp, fname), mode) as f:
                f.write(content)
        from .. import __version__

        meta = {"format": FORMAT, "version": VERSION, "days": list(days), "n_windows": [int(n) for n in n_windows],
                "scales": [int(s) for s in scales], "created_by": f"scatclust {__version__}"}
        if n_clusters is not None:
            meta["n_clusters"] = [int(k) for k in n_clusters]
        meta.update(attrs or {})
        grp.attrs.update(meta)
        grp.attrs["complete"] = True  # a separate metadata write, after every array is on disk
        dest = os.path.join(base, name)
        old = None
        if os.path.lexists(dest):
            old = os.path.join(base, f".{name}.old-{uuid.uuid4().hex[:8]}")
            _rename(dest, old)
        _rename(tmp, dest)
        tmp = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp is not None and os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def label_sets(store):
    """Names of the complete label sets of a store (sorted)."""
    import json

    base = os.path.join(_root(store), LABELS_GROUP)
    if not os.path.isdir(base):
        return []
    out = []
    for n in sorted(os.listdir(base)):
        meta = os.path.join(base, n, "zarr.json")
        if n.startswith((".", "_")) or not os.path.isfile(meta):
            continue
        try:
            with open(meta, encoding="utf-8") as f:
                if json.load(f).get("attributes", {}).get("complete") is True:
                    out.append(n)
        except (OSError, ValueError):
            continue
    return out


def read_labels(store, name="default", *, check=True):
    """A label set as an ``xarray.Dataset``.

    Parameters
    ----------
    store : str or FeatureStore
    name : str
    check : bool
        Compare the stored window end times with the features of the same days (default
        True): a mismatch (features rewritten since) raises ValueError.

    Returns
    -------
    xarray.Dataset
        ``labels`` (window, scale) int32 and ``confidence`` (window, scale) float32, with
        coordinates ``time_end`` (window, datetime64[ns]) and ``scale`` (samples); attributes
        as written (days, n_clusters, model, ...).

    Examples
    --------
    >>> ds = read_labels("features.zarr", "default")           # doctest: +SKIP
    >>> feats = scatclust.open_features("features.zarr", days=ds.attrs["days"])   # doctest: +SKIP
    """
    import xarray as xr
    import zarr

    _check_name(name)
    if name not in label_sets(store):
        raise ValueError(f"the store {_root(store)!r} has no complete label set {name!r}; it has "
                         f"{label_sets(store)} (run 'scatclust cluster')")
    grp = zarr.open_group(os.path.join(_root(store), LABELS_GROUP, name), mode="r")
    attrs = dict(grp.attrs)
    t = grp["time_end"][...]
    if check:
        from ._feature_store import FeatureStore

        fs = FeatureStore(_root(store), mode="r")
        stored = [fs.read_arrays(d)[0]["time_end"] if fs.is_complete(d) else None for d in attrs["days"]]
        if any(s is None for s in stored) or not np.array_equal(np.concatenate(stored) if stored else
                                                                np.empty(0, np.int64), t):
            raise ValueError(f"label set {name!r} of {_root(store)!r} no longer matches the stored features "
                             f"(days rewritten or removed since it was written); run 'scatclust cluster' again")
    return xr.Dataset(
        {"labels": (("window", "scale"), grp["labels"][...]),
         "confidence": (("window", "scale"), grp["confidence"][...])},
        coords={"time_end": ("window", t.astype("datetime64[ns]")),
                "scale": ("scale", np.asarray(attrs["scales"], dtype=np.int64))},
        attrs=attrs)
