"""Two layouts of window features: flat (the store's write format) and per channel (the view).

Flat layout (what :func:`window_features` returns and the store writes)
    ``features`` (window, scale, coefficient); the coefficient axis mixes every channel.
    Coordinates on ``coefficient``: ``channel`` (channel index, -1 for a cross-channel
    column), ``channel_a``/``channel_b`` (the two channels of a cross-channel column; for a
    single-channel column ``channel_a = channel`` and ``channel_b = -1``), ``family``, ``j``,
    ``j1``, ``j2``, ``j1p``, ``part``, ``real``.

Channel layout (what :func:`scatclust.open_features` returns by default)
    ``features`` (window, scale, channel, coefficient): ``channel`` is labelled with the SEED
    ids ('NET.STA.LOC.CHA'); ``coefficient`` enumerates the coefficients of ONE channel, in
    the flat layout's order, with the same metadata for every channel. Cross-channel columns,
    when present, go to ``cross_features`` (window, scale, pair, cross_coefficient) with
    ``pair`` labels such as 'U-V' and metadata ``cross_family``, ``cross_j``, ... .
    ``flat_coefficient`` (channel, coefficient) and ``cross_flat_coefficient``
    (pair, cross_coefficient) hold every value's column in the flat layout, so that
    :func:`flat` is an exact inverse. Every data variable with a ``coefficient`` dimension
    (e.g. ``norm_mean``/``norm_std``) is split the same way (``cross_<name>`` for its
    cross-channel part).

Only integer indexing and reshapes are used, so numpy and dask arrays both stay what they are
(nothing is computed for a dask array).
"""
from __future__ import annotations

import numpy as np

__all__ = ["by_channel", "flat", "is_channel_layout"]

_CHANNEL_KEYS = ("channel", "channel_a", "channel_b")
CROSS = "cross_"


def is_channel_layout(ds):
    """True when ``ds['features']`` has a ``channel`` dimension (the channel layout)."""
    return "features" in ds and "channel" in ds["features"].dims


def _labels(ds, chans):
    """SEED ids of the channel indices ``chans`` (from ``seed_id`` or ``attrs['channels']``)."""
    ids = None
    if "seed_id" in ds.coords:
        ids = [str(s) for s in ds["seed_id"].values]
    else:
        ch = ds.attrs.get("channels")
        if isinstance(ch, str) and ch:
            ids = ch.split(",")
        elif isinstance(ch, (list, tuple)) and ch:
            ids = [str(s) for s in ch]
        elif isinstance(ch, dict) and ch:  # open_features: station -> SEED ids
            lists = [[str(s) for s in v] for v in ch.values()]
            if all(v == lists[0] for v in lists):
                ids = lists[0]
            else:  # several stations: label by channel code when the codes agree
                codes = [[s.split(".")[-1] for s in v] for v in lists]
                if not all(c == codes[0] for c in codes):
                    raise ValueError(f"the stations {sorted(ch)} have different channel sets {lists}; the channel "
                                     f"layout needs one channel label per index: select one station's days "
                                     f"(days=) or use layout='flat'")
                ids = codes[0]
    if ids is None:  # e.g. a store without any day: no SEED ids recorded
        return np.array([str(int(c)) for c in chans])
    if len(chans) and int(chans.max()) >= len(ids):
        raise ValueError(f"the coefficient coordinate 'channel' refers to channel {int(chans.max())} but only "
                         f"{len(ids)} SEED ids are known ({ids})")
    return np.array([ids[int(c)] for c in chans])


def _short_names(labels):
    """Shortest distinct names of the channels: component letter, channel code, SEED id."""
    for f in (lambda s: s.split(".")[-1][-1:], lambda s: s.split(".")[-1], lambda s: s):
        names = [f(str(s)) for s in labels]
        if all(names) and len(set(names)) == len(names):
            return names
    return [str(s) for s in labels]


def _take(data, axis, index, shape):
    """data[..., index (flattened), ...] along ``axis`` reshaped to ``shape`` there (numpy or dask)."""
    taken = data[(slice(None),) * axis + (np.asarray(index).ravel(),)]
    return taken.reshape(data.shape[:axis] + tuple(shape) + data.shape[axis + 1:])


def _concatenate(arrays, axis):
    if any(hasattr(a, "dask") for a in arrays):
        import dask.array as da

        return da.concatenate(arrays, axis=axis)
    return np.concatenate(arrays, axis=axis)


def _common(ds, key, index, what):
    """Values of coordinate ``key`` that must be equal across the rows of ``index``."""
    v = np.asarray(ds[key].values)[index]
    if len(v) and not (v == v[:1]).all():
        bad = int(np.flatnonzero(~(v == v[:1]).all(axis=1))[0])
        raise ValueError(f"coefficient coordinate {key!r} differs between {what} 0 and {what} {bad} "
                         f"({v[0].tolist()} vs {v[bad].tolist()}); the channel layout needs the same "
                         f"coefficients for every {what}: use the flat layout")
    return v[0] if len(v) else v.reshape(0)


def by_channel(ds):
    """Split the flat coefficient axis into (channel, coefficient) and (pair, cross_coefficient).

    Parameters
    ----------
    ds : xarray.Dataset
        Flat layout: ``features`` (window, scale, coefficient) as returned by
        :func:`window_features` or ``open_features(..., layout='flat')``, complex or real
        (as_real layout, ``part`` 're'/'im'), numpy or dask. A dataset already in the channel
        layout is returned unchanged.

    Returns
    -------
    xarray.Dataset
        ``features`` (window, scale, channel, coefficient), same dtype and array type
        (dask stays lazy). ``features.sel(channel=c)`` holds the flat columns whose
        ``channel`` coordinate is c's index, in flat order. Coordinates: ``channel`` (SEED
        ids from ``seed_id`` or ``attrs['channels']``; several stations with the same
        channel codes are labelled by code, e.g. 'BHU'), ``channel_index`` (channel),
        the per-channel metadata ``family``, ``j``, ``j1``, ``j2``, ``j1p``, ``part``,
        ``real`` (coefficient), ``flat_coefficient`` (channel, coefficient). With
        cross-channel columns: ``cross_features`` (window, scale, pair, cross_coefficient),
        ``pair`` (e.g. 'U-V', sorted by channel index), ``channel_a``/``channel_b`` (pair, SEED ids),
        ``cross_family``, ``cross_j``, ... (cross_coefficient), ``cross_flat_coefficient``
        (pair, cross_coefficient). Other data variables with a ``coefficient`` dimension
        (``norm_mean``, ``norm_std``) are split the same way; every other coordinate
        (``time_end``, ``time_start``, ``gap``, ``sol``/``lmst``/``local_time``,
        ``station``, ``day``, ``scale``, ``scale_seconds``, ``seed_id``) and the attributes
        are kept.

    Raises
    ------
    ValueError
        When the channels do not share the same coefficients (metadata differ), or the
        channel coordinates are inconsistent.

    Examples
    --------
    >>> import numpy as np, scatclust, types, obspy
    >>> from scatclust.features import by_channel, flat, window_features
    >>> rec = types.SimpleNamespace(data=np.random.default_rng(0).standard_normal((3, 4096)),
    ...     gap_mask=np.zeros(4096, bool), starttime=obspy.UTCDateTime(2019, 6, 1), sampling_rate=20.0,
    ...     channels=["XB.ELYSE.02.BHU", "XB.ELYSE.02.BHV", "XB.ELYSE.02.BHW"], processing=[])
    >>> pyr = scatclust.ScatteringPyramid(J=4, scales=(256, 1024), hop=256, C=3, cross_channel=True)
    >>> ds = by_channel(window_features(rec, pyr, local_time=False))
    >>> ds.features.dims, ds.features.shape
    (('window', 'scale', 'channel', 'coefficient'), (13, 2, 3, 50))
    >>> ds.cross_features.shape, ds.pair.values.tolist()
    ((13, 2, 3, 15), ['U-V', 'U-W', 'V-W'])
    >>> flat(ds).identical(window_features(rec, pyr, local_time=False))
    True
    """
    if "features" not in ds:
        raise ValueError("ds has no 'features' variable; pass the output of window_features or open_features")
    if is_channel_layout(ds):
        return ds
    if "coefficient" not in ds["features"].dims:
        raise ValueError(f"ds['features'] has dims {ds['features'].dims}; the flat layout has a 'coefficient' "
                         f"dimension")
    missing = [k for k in _CHANNEL_KEYS if k not in ds.coords]
    if missing:
        raise ValueError(f"ds lacks the coefficient coordinates {missing}; pass the output of window_features "
                         f"or open_features(..., layout='flat')")
    ch, a, b = (np.asarray(ds[k].values) for k in _CHANNEL_KEYS)
    per = ch >= 0
    if (a[per] != ch[per]).any() or (b[per] != -1).any() or (a[~per] < 0).any() or (b[~per] < 0).any():
        raise ValueError("inconsistent coefficient coordinates: a single-channel column needs channel_a == "
                         "channel and channel_b == -1, a cross-channel column (channel == -1) channel_a and "
                         "channel_b >= 0")
    chans = np.unique(ch[per])
    cols = [np.flatnonzero(ch == c) for c in chans]
    if len({len(c) for c in cols}) > 1:
        raise ValueError(f"the channels {chans.tolist()} have different numbers of coefficients "
                         f"{[len(c) for c in cols]}; use the flat layout")
    idx = np.stack(cols) if cols else np.empty((0, 0), np.int64)
    cross = np.flatnonzero(~per)
    pairs = sorted(set(zip(a[cross].tolist(), b[cross].tolist())))  # channel-index order, as channels
    pcols = [cross[(a[cross] == pa) & (b[cross] == pb)] for pa, pb in pairs]
    if len({len(c) for c in pcols}) > 1:
        raise ValueError(f"the channel pairs {pairs} have different numbers of cross-channel coefficients "
                         f"{[len(c) for c in pcols]}; use the flat layout")
    pidx = np.stack(pcols) if pcols else None

    coef_vars = [k for k in ds.variables if "coefficient" in ds[k].dims]
    meta = [k for k in coef_vars if k in ds.coords and k not in _CHANNEL_KEYS]
    bad = [k for k in meta if ds[k].dims != ("coefficient",)]
    if bad:
        raise ValueError(f"coordinates {bad} have dims other than ('coefficient',); drop them first")
    labels = _labels(ds, chans)
    ch_dtype = ds["channel"].dtype

    out = ds.drop_vars(coef_vars)
    coords = {"channel": ("channel", labels), "channel_index": ("channel", chans.astype(ch_dtype)),
              "flat_coefficient": (("channel", "coefficient"), idx.astype(np.int64))}
    for k in meta:
        coords[k] = ("coefficient", _common(ds, k, idx, "channel"))
    if pidx is not None:
        short = dict(zip(chans.tolist(), _short_names(labels)))
        lab = dict(zip(chans.tolist(), labels.tolist()))
        if any(p not in lab for pair in pairs for p in pair):
            raise ValueError(f"cross-channel columns refer to channels {pairs} that have no single-channel "
                             f"coefficients ({chans.tolist()}); use the flat layout")
        coords["pair"] = ("pair", np.array([f"{short[p]}-{short[q]}" for p, q in pairs]))
        coords["channel_a"] = ("pair", np.array([lab[p] for p, _ in pairs]))
        coords["channel_b"] = ("pair", np.array([lab[q] for _, q in pairs]))
        coords["cross_flat_coefficient"] = (("pair", "cross_coefficient"), pidx.astype(np.int64))
        for k in meta:
            coords[CROSS + k] = ("cross_coefficient", _common(ds, k, pidx, "pair"))
    out = out.assign_coords(coords)
    for k in coef_vars:
        if k in ds.coords:
            continue
        da_ = ds[k]
        axis = da_.dims.index("coefficient")
        dims = da_.dims[:axis] + ("channel", "coefficient") + da_.dims[axis + 1:]
        out[k] = (dims, _take(da_.data, axis, idx, idx.shape), da_.attrs)
        if pidx is not None:
            dims = da_.dims[:axis] + ("pair", "cross_coefficient") + da_.dims[axis + 1:]
            out[CROSS + k] = (dims, _take(da_.data, axis, pidx, pidx.shape), da_.attrs)
    return out


def flat(ds):
    """Inverse of :func:`by_channel`: the flat layout (window, scale, coefficient), exactly.

    Parameters
    ----------
    ds : xarray.Dataset
        Channel layout (from :func:`by_channel` or :func:`scatclust.open_features`). A dataset
        already in the flat layout is returned unchanged.

    Returns
    -------
    xarray.Dataset
        ``features`` (window, scale, coefficient) with the columns back in their flat order
        (from ``flat_coefficient`` / ``cross_flat_coefficient``) and the flat coefficient
        coordinates (``channel``, ``channel_a``, ``channel_b``, ``family``, ...); numpy or
        dask as given. ``flat(by_channel(x))`` is identical to ``x``.

    Examples
    --------
    >>> ds = scatclust.open_features("features.zarr")     # doctest: +SKIP
    >>> flat(ds).features.dims                             # doctest: +SKIP
    ('window', 'scale', 'coefficient')
    """
    if "features" not in ds:
        raise ValueError("ds has no 'features' variable; pass the output of by_channel or open_features")
    if not is_channel_layout(ds):
        return ds
    if "flat_coefficient" not in ds.coords or "channel_index" not in ds.coords:
        raise ValueError("ds lacks the coordinates 'flat_coefficient'/'channel_index' that by_channel writes; "
                         "it is not a channel layout this package made")
    idx = np.asarray(ds["flat_coefficient"].values)
    chans = np.asarray(ds["channel_index"].values)
    has_pairs = "pair" in ds.dims
    pidx = np.asarray(ds["cross_flat_coefficient"].values) if has_pairs else np.empty((0, 0), np.int64)
    pos = np.concatenate([idx.ravel(), pidx.ravel()])
    if not np.array_equal(np.sort(pos), np.arange(pos.size)):
        raise ValueError("flat_coefficient/cross_flat_coefficient are not a permutation of the flat columns")
    perm = np.argsort(pos, kind="stable")
    C, K = idx.shape
    P, Kc = pidx.shape
    lab2idx = dict(zip(ds["channel"].values.tolist(), chans.tolist()))

    meta = [k for k in ds.coords if ds[k].dims == ("coefficient",)]
    coords = {}
    for k in meta:
        parts = [np.tile(np.asarray(ds[k].values), C)]
        if has_pairs:
            parts.append(np.tile(np.asarray(ds[CROSS + k].values), P))
        coords[k] = ("coefficient", np.concatenate(parts)[perm])
    cd = chans.dtype
    per_ch = np.repeat(chans, K)
    pa = np.array([lab2idx[s] for s in ds["channel_a"].values.tolist()], dtype=cd) if has_pairs else chans[:0]
    pb = np.array([lab2idx[s] for s in ds["channel_b"].values.tolist()], dtype=cd) if has_pairs else chans[:0]
    minus = np.full(P * Kc, -1, dtype=cd)
    coords["channel"] = ("coefficient", np.concatenate([per_ch, minus])[perm])
    coords["channel_a"] = ("coefficient", np.concatenate([per_ch, np.repeat(pa, Kc)])[perm])
    coords["channel_b"] = ("coefficient", np.concatenate([np.full(C * K, -1, dtype=cd), np.repeat(pb, Kc)])[perm])

    split = [k for k in ds.data_vars if "channel" in ds[k].dims and "coefficient" in ds[k].dims]
    gone = [k for k in ds.variables if set(ds[k].dims) & {"channel", "coefficient", "pair", "cross_coefficient"}]
    out = ds.drop_vars(gone).assign_coords(coords)
    for k in split:
        da_ = ds[k]
        axis = da_.dims.index("channel")
        if da_.dims[axis + 1:axis + 2] != ("coefficient",):
            raise ValueError(f"ds[{k!r}] has dims {da_.dims}; 'coefficient' must follow 'channel'")
        s = da_.shape
        arrays = [da_.data.reshape(s[:axis] + (C * K,) + s[axis + 2:])]
        if has_pairs:
            cx = ds[CROSS + k]
            if cx.dims != da_.dims[:axis] + ("pair", "cross_coefficient") + da_.dims[axis + 2:]:
                raise ValueError(f"ds[{CROSS + k!r}] has dims {cx.dims}, not those of ds[{k!r}] with "
                                 f"(pair, cross_coefficient)")
            arrays.append(cx.data.reshape(s[:axis] + (P * Kc,) + s[axis + 2:]))
        joined = _concatenate(arrays, axis)
        data = joined[(slice(None),) * axis + (perm,)]
        out[k] = (da_.dims[:axis] + ("coefficient",) + da_.dims[axis + 2:], data, da_.attrs)
    return out
