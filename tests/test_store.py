"""Windows -> features -> store -> statistics -> Dask runner (scatclust.features, scatclust.store).

Oracles: ScatteringPyramid.transform on the same array (window features, exact), explicit
loops over the gap mask (gap flags), the written arrays (store and HDF5 round trips, exact),
numpy's mean/var over the concatenated days (statistics, 1e-12 in float64), an
uninterrupted in-process run (resumed and Dask runs, bit for bit).
Records are short 1 Hz synthetic streams with J = 4, scales (256, 1024), hop 256 so that the
whole file runs in well under a minute.
"""
import os
import subprocess
import sys
import types

import numpy as np
import pytest

obspy = pytest.importorskip("obspy", reason="the seismic extra (obspy) is needed")
xr = pytest.importorskip("xarray", reason="the seismic extra (xarray) is needed")
pytest.importorskip("zarr", reason="the seismic extra (zarr) is needed")

import scatclust  # noqa: E402
from scatclust.features import (ExtractSummary, as_real_features, by_channel, extract, flat,  # noqa: E402
                                window_features)
from scatclust.io import PrepareConfig, SDSSource  # noqa: E402
from scatclust.store import (FeatureStore, NormalizationStats, apply_normalization, fit_normalization,  # noqa: E402
                             load_normalization, merge_all, open_features, partial_moments)

from conftest import DTYPES  # noqa: E402

T0 = obspy.UTCDateTime(2019, 6, 1)
FS = 1.0
IDS = ["XB.ELYSE.02.BHU", "XB.ELYSE.02.BHV", "XB.ELYSE.02.BHW"]


def small_pyramid(C=3, **kw):
    return scatclust.ScatteringPyramid(J=4, scales=(256, 1024), hop=256, C=C, margin=512, **kw)


def record(dtype=np.float64, L=6000, C=2, gaps=((2000, 2050),), start=T0, seed=0):
    rng = np.random.default_rng(seed)
    gm = np.zeros(L, bool)
    for a, b in gaps:
        gm[a:b] = True
    data = rng.standard_normal((C, L)).astype(dtype)
    data[:, gm] = 0.0
    return types.SimpleNamespace(data=data, gap_mask=gm, starttime=start, sampling_rate=FS, channels=IDS[:C],
                                 processing=["synthetic"])


def multiday_stream(days=3, seed=1, fs=FS):
    rng = np.random.default_rng(seed)
    n = int(days * 86400 * fs) - 7200  # ends two hours before the last midnight
    t = np.arange(n) / fs
    st = obspy.Stream()
    for k, c in enumerate("UVW"):
        x = rng.standard_normal(n) + 3.0 * np.sin(2 * np.pi * t / 600.0 + k) * (1 + (t // 86400))
        st += obspy.Trace(x.astype(np.float32), header=dict(network="XB", station="ELYSE", location="02",
                                                              channel=f"BH{c}", sampling_rate=fs, starttime=T0))
    return st


def write_sds(st, root):
    """One file per channel and day in an SDS tree (root/YEAR/NET/STA/CHA.D/NET.STA.LOC.CHA.D.YEAR.DOY)."""
    paths = []
    for tr in st:
        d = obspy.UTCDateTime(tr.stats.starttime.date)
        while d < tr.stats.endtime:
            piece = tr.slice(d, d + 86400 - 1e-3)
            s = tr.stats
            folder = os.path.join(root, str(d.year), s.network, s.station, f"{s.channel}.D")
            os.makedirs(folder, exist_ok=True)
            p = os.path.join(folder, f"{s.network}.{s.station}.{s.location}.{s.channel}.D.{d.year}.{d.julday:03d}")
            piece.write(p, format="MSEED")
            paths.append(p)
            d += 86400
    return paths


PREP = PrepareConfig(components="UVW", detrend=None)


@pytest.fixture(scope="module")
def stream3():
    return multiday_stream()


@pytest.fixture(scope="module")
def reference_store(tmp_path_factory, stream3):
    """An uninterrupted in-process run over the 3-day stream: the oracle of the runner tests."""
    path = str(tmp_path_factory.mktemp("ref") / "ref.zarr")
    summary = extract(stream3, path, pyramid=small_pyramid(), prepare=PREP, client=False, progress=False)
    assert summary.ok, str(summary)
    return path, summary


def assert_same_features(a, b):
    """Bit-for-bit equality of two open_features datasets (features, times, gap, coefficients)."""
    for k in ("features", "time_end", "time_start", "gap", "station", "day", "family", "j", "j1", "j2", "part"):
        np.testing.assert_array_equal(np.asarray(a[k].values), np.asarray(b[k].values), err_msg=k)


# --------------------------------------------------------------------------- windows
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("as_real", [False, True])
def test_window_features_equal_pyramid_transform(dtype, as_real):
    rec = record(dtype)
    pyr = small_pyramid(C=2, as_real=as_real)
    ds = window_features(rec, pyr)
    ref = pyr.transform(rec.data)
    np.testing.assert_array_equal(ds["features"].values, ref.features)  # same computation: exact
    assert ds["features"].dtype == ref.features.dtype
    # times: window end sample e -> starttime + e / fs (exclusive end), start = end - scale
    exp_end = np.array([np.datetime64((T0 + int(e) / FS).datetime, "ns") for e in ref.window_end])
    np.testing.assert_array_equal(ds["time_end"].values, exp_end)
    for k, s in enumerate(pyr.scales):
        exp_start = np.array([np.datetime64((T0 + int(e - s) / FS).datetime, "ns") for e in ref.window_end])
        np.testing.assert_array_equal(ds["time_start"].values[:, k], exp_start)
    meta = pyr.meta()
    assert list(ds["family"].values) == [m["family"] for m in meta]
    assert list(ds["j1"].values) == [-1 if m["j1"] is None else m["j1"] for m in meta]
    assert list(ds["part"].values) == [m["part"] for m in meta]
    assert list(ds["seed_id"].values) == IDS[:2] and ds.attrs["station"] == "XB.ELYSE.02"


def test_gap_flags_match_explicit_oracle():
    rec = record(gaps=((0, 3), (2000, 2050), (4095, 4096), (5990, 6000)))
    pyr = small_pyramid(C=2)
    ds = window_features(rec, pyr)
    ends = pyr.transform(rec.data).window_end
    oracle = np.array([[bool(rec.gap_mask[e - s:e].any()) for s in pyr.scales] for e in ends])
    np.testing.assert_array_equal(ds["gap"].values, oracle)
    assert oracle.any() and not oracle.all()  # the test distinguishes flagged and clean windows


@pytest.mark.parametrize("dtype", DTYPES)
def test_as_real_features_equal_as_real_pyramid(dtype):
    rec = record(dtype)
    a = as_real_features(window_features(rec, small_pyramid(C=2)))
    b = window_features(rec, small_pyramid(C=2, as_real=True))
    np.testing.assert_array_equal(a["features"].values, b["features"].values)
    for k in ("family", "part", "j", "j1", "j2", "j1p", "channel", "real"):
        np.testing.assert_array_equal(a[k].values, b[k].values, err_msg=k)


def test_local_time_coordinates():
    """InSight (ELYSE): sol / LMST per window end; other stations: local time from a longitude.
    Oracle: scatclust.io's scalar conversions (tested against published values in test_io)."""
    from scatclust.io import local_solar_time, utc_to_lmst

    ds = window_features(record(), small_pyramid(C=2))
    exp = [utc_to_lmst(obspy.UTCDateTime(str(t))) for t in ds["time_end"].values]
    np.testing.assert_array_equal(ds["sol"].values, [e[0] for e in exp])
    np.testing.assert_allclose(ds["lmst"].values, [e[1] for e in exp], rtol=0, atol=1e-9)  # hours
    rec = record()
    rec.channels = ["BW.RJOB..EHZ", "BW.RJOB..EHN"]
    ds = window_features(rec, small_pyramid(C=2), longitude=12.8)
    assert "lmst" not in ds and "sol" not in ds
    np.testing.assert_allclose(ds["local_time"].values,
                               [local_solar_time(obspy.UTCDateTime(str(t)), 12.8) for t in ds["time_end"].values],
                               rtol=0, atol=1e-9)
    assert "local_time" not in window_features(rec, small_pyramid(C=2))  # no longitude, no local time


# ----------------------------------------------------------------------------- store
@pytest.mark.parametrize("dtype", DTYPES)
def test_store_round_trip(tmp_path, dtype):
    pyr = small_pyramid(C=2, as_real=True)
    recs = [record(dtype, start=T0 + 86400 * k + 3600, seed=k) for k in range(2)]
    store = FeatureStore(tmp_path / "s.zarr")
    names = [store.write_day(window_features(r, pyr)) for r in recs]
    assert names == ["XB.ELYSE.02_2019-06-01", "XB.ELYSE.02_2019-06-02"] and store.days() == names
    assert all(store.verify(n) for n in names)
    ds = open_features(tmp_path / "s.zarr", layout="flat")
    wf = [window_features(r, pyr) for r in recs]
    keep = [~w["gap"].values[:, -1] for w in wf]  # default policy: drop windows touching a gap
    assert sum(k.sum() for k in keep) < sum(k.size for k in keep)
    np.testing.assert_array_equal(ds["features"].values,
                                  np.concatenate([w["features"].values[k] for w, k in zip(wf, keep)]))
    np.testing.assert_array_equal(ds["time_end"].values,
                                  np.concatenate([w["time_end"].values[k] for w, k in zip(wf, keep)]))
    np.testing.assert_array_equal(ds["time_start"].values,
                                  np.concatenate([w["time_start"].values[k] for w, k in zip(wf, keep)]))
    assert ds["features"].dtype == dtype and ds.sizes["coefficient"] == wf[0].sizes["coefficient"]
    assert list(ds["day"].values[[0, -1]]) == ["2019-06-01", "2019-06-02"]
    assert scatclust.open_features is open_features
    one = open_features(tmp_path / "s.zarr", days=["2019-06-02"], layout="flat")
    np.testing.assert_array_equal(one["features"].values, wf[1]["features"].values[keep[1]])


def test_store_mask_policy(tmp_path):
    pyr = small_pyramid(C=2)
    rec = record()
    wf = as_real_features(window_features(rec, pyr))
    store = FeatureStore(tmp_path / "m.zarr")
    store.write_day(wf, gaps="mask")
    ds = open_features(store.path, layout="flat")
    f, g = ds["features"].values, ds["gap"].values
    assert ds.sizes["window"] == wf.sizes["window"] and g.any()
    assert np.isnan(f[g]).all()
    np.testing.assert_array_equal(f[~g], wf["features"].values[~g])


def test_extract_in_process_matches_window_features(reference_store, stream3):
    """The runner's day 2 equals window_features of the prepared, padded day, cut to the day."""
    from scatclust.io import iter_days, prepare

    path, summary = reference_store
    assert summary.processed == [f"XB.ELYSE.02_2019-06-0{k}" for k in (1, 2, 3)]
    pyr = small_pyramid()
    pad = (1024 + 512) / FS
    day = T0 + 86400
    dd = next(iter_days(stream3, start=day, end=day + 86400, pad=pad))
    rec = prepare(dd.stream, PREP, starttime=day - pad, endtime=day + 86400 + 512 / FS)
    wf = as_real_features(window_features(rec, pyr))
    t = wf["time_end"].values
    sel = (t > np.datetime64(day.datetime, "ns")) & (t <= np.datetime64((day + 86400).datetime, "ns"))
    assert sel.sum() == 86400 // 256  # every window that ends in the day, grid anchored at midnight
    ds = open_features(path, days=["2019-06-02"], layout="flat")
    np.testing.assert_array_equal(ds["features"].values, wf["features"].values[sel])
    np.testing.assert_array_equal(ds["time_end"].values, t[sel])
    assert ds.sizes["coefficient"] == summary.n_coefficients


# ---------------------------------------------------------------- resumable / failures
def test_crash_before_complete_is_not_complete_and_rerun_completes(tmp_path, stream3, reference_store,
                                                                   monkeypatch):
    path = str(tmp_path / "crash.zarr")
    real_mark = FeatureStore._mark_complete

    def crash_on_day2(grp):
        if str(grp.store).rstrip("/").endswith("2019-06-02") or "2019-06-02" in str(grp.store):
            raise RuntimeError("simulated crash after the arrays, before 'complete'")
        real_mark(grp)

    monkeypatch.setattr(FeatureStore, "_mark_complete", staticmethod(crash_on_day2))
    s1 = extract(stream3, path, pyramid=small_pyramid(), prepare=PREP, client=False, retries=1, progress=False)
    assert s1.processed == ["XB.ELYSE.02_2019-06-01", "XB.ELYSE.02_2019-06-03"]
    assert list(s1.failed) == ["XB.ELYSE.02_2019-06-02"] and "simulated crash" in s1.failed["XB.ELYSE.02_2019-06-02"]
    store = FeatureStore(path, mode="r")
    assert store.incomplete_days() == ["XB.ELYSE.02_2019-06-02"]  # arrays on disk, but not complete
    assert os.path.isdir(os.path.join(path, "XB.ELYSE.02_2019-06-02", "features"))
    assert list(open_features(path)["day"].to_series().unique()) == ["2019-06-01", "2019-06-03"]
    with pytest.raises(ValueError, match=r"days \['2019-06-02'\] are not complete days"):
        open_features(path, days=["2019-06-02"])

    monkeypatch.setattr(FeatureStore, "_mark_complete", staticmethod(real_mark))
    mtimes = {n: os.stat(os.path.join(path, n, "zarr.json")).st_mtime_ns for n in store.days()}
    s2 = extract(stream3, path, pyramid=small_pyramid(), prepare=PREP, client=False, progress=False)
    assert s2.processed == ["XB.ELYSE.02_2019-06-02"]
    assert s2.skipped == ["XB.ELYSE.02_2019-06-01", "XB.ELYSE.02_2019-06-03"]
    assert {n: os.stat(os.path.join(path, n, "zarr.json")).st_mtime_ns for n in mtimes} == mtimes  # untouched
    assert FeatureStore(path).incomplete_days() == []
    assert_same_features(open_features(path), open_features(reference_store[0]))


def test_corrupt_day_is_reported_and_others_stored(tmp_path, stream3, reference_store):
    root = str(tmp_path / "sds")
    paths = write_sds(stream3, root)
    bad = [p for p in paths if p.endswith("BHV.D.2019.153")][0]  # 2019-06-02
    with open(bad, "r+b") as f:  # cut the file in the middle of a record
        size = f.seek(0, 2)
        f.truncate(size // 2 + 100)
    src = SDSSource(root, "XB", "ELYSE", "02", "BH?")
    path = str(tmp_path / "sds.zarr")
    s = extract(src, path, pyramid=small_pyramid(), prepare=PREP, client=False, progress=False)
    assert list(s.failed) == ["XB.ELYSE.02_2019-06-02"]
    assert os.path.basename(bad) in s.failed["XB.ELYSE.02_2019-06-02"]
    # the neighbours read the bad file only for their padding: processed, padding as a gap
    assert s.processed == ["XB.ELYSE.02_2019-06-01", "XB.ELYSE.02_2019-06-03"]
    assert all(os.path.basename(bad) in r.reason for r in s.results if r.status == "processed")
    assert "failed XB.ELYSE.02_2019-06-02" in str(s)
    assert FeatureStore(path).days() == s.processed
    # Windows away from the missing padding equal the in-memory run's (same float32 samples;
    # the zeroed padding reaches them only through the filter tails, hence a tolerance).
    ref = open_features(reference_store[0], days=["2019-06-01", "2019-06-03"])
    got = open_features(path)
    far = 4 * 1024 / FS  # seconds from the unreadable span
    day2, day3 = (np.datetime64((T0 + k * 86400).datetime, "ns") for k in (1, 2))
    te = got["time_end"].values
    ok = (te < day2 - np.timedelta64(int(far), "s")) | (got["time_start"].values[:, -1] >= day3 +
                                                         np.timedelta64(int(far), "s"))
    assert ok.sum() > 300 and got.sizes["window"] < ref.sizes["window"]  # day 3's first windows dropped
    rsel = np.isin(ref["time_end"].values, te[ok])
    np.testing.assert_array_equal(ref["time_end"].values[rsel], te[ok])
    a, b = got["features"].values[ok], ref["features"].values[rsel]
    assert np.abs(a - b).max() <= 1e-4 * np.abs(b).max()


def test_dask_local_cluster_equals_in_process(tmp_path, stream3, reference_store):
    """2 worker processes x 1 thread (real processes, not processes=False), bit for bit."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed is in the seismic extra")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        s = extract(stream3, str(tmp_path / "dask.zarr"), pyramid=small_pyramid(), prepare=PREP, client=client,
                    threads_per_worker=1, progress=False)
        assert s.ok and len(s.processed) == 3
        assert all(r.worker in cluster.scheduler_info["workers"] for r in s.results)
        assert set(s.peak_rss_mb) <= set(cluster.scheduler_info["workers"]) and min(s.peak_rss_mb.values()) > 0
    assert_same_features(open_features(tmp_path / "dask.zarr"), open_features(reference_store[0]))


def test_obspy_example_through_the_whole_path(tmp_path):
    """ObsPy's shipped example (BW.RJOB, 3 x 3000 samples at 100 Hz): read -> prepare -> windows -> store."""
    st = obspy.read()
    pyr = scatclust.ScatteringPyramid(J=4, scales=(256, 1024), hop=256, C=3, margin=256)
    s = extract(st, str(tmp_path / "rjob.zarr"), pyramid=pyr, prepare=PrepareConfig(components="ZNE"),
                client=False, progress=False)
    assert s.processed == ["BW.RJOB._2009-08-24"], str(s)
    ds = open_features(tmp_path / "rjob.zarr")
    # oracle: window ends on the 256-sample grid anchored at midnight whose 1024-sample window
    # lies inside the data (samples [120300, 123300) of the day: 00:20:03, 30 s at 100 Hz)
    a = int(round((st[0].stats.starttime - obspy.UTCDateTime(2009, 8, 24)) * 100))
    ends = [e for e in range(0, 86400 * 100 + 1, 256) if e - 1024 >= a and e <= a + 3000]
    assert a == 120300 and ds.sizes["window"] == len(ends) == 8
    exp = [np.datetime64((obspy.UTCDateTime(2009, 8, 24) + e / 100).datetime, "ns") for e in ends]
    np.testing.assert_array_equal(ds["time_end"].values, exp)
    assert (ds["time_start"].values[:, -1] >= np.datetime64(st[0].stats.starttime.datetime, "ns")).all()
    assert not ds["gap"].values.any()


# ---------------------------------------------------------------------------- statistics
def naive_var(x):
    """Textbook one-pass formula E[x^2] - E[x]^2 (what the stats must not do)."""
    n = x.shape[0]
    return (x * x).sum(0) / n - (x.sum(0) / n) ** 2


def test_chan_merge_matches_numpy_and_naive_formula_fails():
    rng = np.random.default_rng(7)
    sizes = [1, 2, 17, 1000, 30000]  # very different partition sizes
    offset = 1e6  # large common offset: where E[x^2] - E[x]^2 cancels catastrophically
    days = [offset + m + rng.standard_normal((n, 2, 3)) for n, m in zip(sizes, [0.0, 3.0, -2.0, 0.5, 1.0])]
    allx = np.concatenate(days)
    shift = days[0].mean(0)
    parts = [partial_moments(d, shift) for d in days]
    m = merge_all(parts)
    stats = NormalizationStats.from_moments(m, [f"d{k}" for k in range(len(days))], (1, 2))
    np.testing.assert_array_equal(stats.count, len(allx))
    np.testing.assert_allclose(stats.mean, allx.mean(0), rtol=1e-12, atol=0)
    np.testing.assert_allclose(stats.var, allx.var(0), rtol=1e-12, atol=0)
    # a different partitioning gives the same result (to rounding)
    m2 = merge_all([partial_moments(allx[:5], shift), partial_moments(allx[5:], shift)])
    np.testing.assert_allclose(m2.m2 / m2.count, allx.var(0), rtol=1e-12)
    # the naive formula is wrong by far more than the tolerance on the same data
    naive_err = np.abs(naive_var(allx) / allx.var(0) - 1).max()
    assert naive_err > 1e-6, naive_err


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_normalization_stored_and_reused(tmp_path, dtype):
    pyr = small_pyramid(C=2, as_real=True)
    lengths = [1100, 6000, 20000]  # days of very different sizes
    recs = [record(dtype, L=n, start=T0 + 86400 * k, seed=k, gaps=((500, 520),)) for k, n in enumerate(lengths)]
    for r in recs:
        r.data = (r.data * 0.01 + 10.0 * (1 + np.arange(r.data.shape[0])[:, None])).astype(dtype)
    store = FeatureStore(tmp_path / "n.zarr")
    for r in recs:
        store.write_day(window_features(r, pyr))
    stats = fit_normalization(store.path, days=["2019-06-01", "2019-06-03"])
    train = open_features(store.path, days=["2019-06-01", "2019-06-03"], layout="flat")
    x = train["features"].values.astype(np.float64)
    np.testing.assert_allclose(stats.mean, x.mean(0), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(stats.var, x.var(0), rtol=1e-12, atol=1e-300)
    loaded = load_normalization(store.path)
    assert loaded.days == ["XB.ELYSE.02_2019-06-01", "XB.ELYSE.02_2019-06-03"]
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.m2, stats.m2)
    # the stats travel with the features and are applied unchanged
    ds = open_features(store.path, layout="flat")
    assert ds.attrs["normalization_days"] == loaded.days
    z = apply_normalization(ds)
    std = np.where(stats.std > 0, stats.std, 1.0)
    np.testing.assert_allclose(z["features"].values, ((ds["features"].values - stats.mean) / std).astype(dtype),
                               rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)
    # inference: features of a new record, with the training store's statistics
    new = window_features(record(dtype, L=3000, seed=9), pyr)
    zn = apply_normalization(new, store.path)
    np.testing.assert_allclose(zn["features"].values, ((new["features"].values - stats.mean) / std).astype(dtype),
                               rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)


def test_fit_normalization_on_dask_equals_in_process(reference_store):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is in the seismic extra")
    path = reference_store[0]
    a = fit_normalization(path)
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0") as c:
        b = fit_normalization(path, client=c)
    for k in ("count", "mean", "m2"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))


# ------------------------------------------------------------------------ channel layout
META = ("family", "j", "j1", "j2", "j1p", "part", "real")


def channel_oracle(ds):
    """Numpy oracle of the channel view: per channel index c, the flat columns whose coordinate
    ``channel`` == c, in flat order; per pair (a, b) the columns with channel == -1,
    channel_a == a, channel_b == b, in flat order."""
    x = np.asarray(ds["features"].values)
    ch, a, b = (np.asarray(ds[k].values) for k in ("channel", "channel_a", "channel_b"))
    per = {int(c): x[..., ch == c] for c in np.unique(ch[ch >= 0])}
    pairs = []
    for i in np.flatnonzero(ch < 0):
        if (a[i], b[i]) not in pairs:
            pairs.append((a[i], b[i]))
    cross = {(int(p), int(q)): x[..., (ch < 0) & (a == p) & (b == q)] for p, q in pairs}
    return per, cross


@pytest.mark.parametrize("cross_channel", [False, True])
@pytest.mark.parametrize("as_real", [False, True])
@pytest.mark.parametrize("lazy", [False, True])
def test_by_channel_matches_flat_columns_and_round_trips(cross_channel, as_real, lazy):
    rec = record(C=3, L=3000)
    flat_ds = window_features(rec, small_pyramid(C=3, as_real=as_real, cross_channel=cross_channel))
    # interleave the channels' columns at random (each channel's own order kept): the view
    # must read the channel coordinates, not assume positions
    group = np.stack([flat_ds[k].values for k in ("channel", "channel_a", "channel_b")], axis=1)
    key = np.random.default_rng(3).random(len(group))
    for g in np.unique(group, axis=0):
        members = np.flatnonzero((group == g).all(axis=1))
        key[members] = np.sort(key[members])
    flat_ds = flat_ds.isel(coefficient=np.argsort(key))
    assert flat_ds["channel"].values[0] != 0 or flat_ds["channel"].values[1] != 0
    if lazy:
        flat_ds = flat_ds.chunk({"window": 4})
    per, cross = channel_oracle(flat_ds)
    ds = by_channel(flat_ds)
    assert ds["features"].dims == ("window", "scale", "channel", "coefficient")
    assert ds["features"].dtype == flat_ds["features"].dtype
    assert (hasattr(ds["features"].data, "dask")) is lazy
    assert ds["channel"].values.tolist() == IDS  # SEED ids, in channel-index order
    for c, cid in enumerate(IDS):
        np.testing.assert_array_equal(ds["features"].sel(channel=cid).values, per[c])
        cols = np.flatnonzero(flat_ds["channel"].values == c)
        for k in META:
            np.testing.assert_array_equal(ds[k].values, flat_ds[k].values[cols], err_msg=k)
    if as_real:
        assert set(ds["part"].values) == {"re", "im"}
    if cross_channel:
        assert ds["pair"].values.tolist() == ["U-V", "U-W", "V-W"]
        for p, q in cross:
            name = f"{'UVW'[p]}-{'UVW'[q]}"
            got = ds["cross_features"].sel(pair=name)
            np.testing.assert_array_equal(got.values, cross[(p, q)])
            assert (str(got["channel_a"].values), str(got["channel_b"].values)) == (IDS[p], IDS[q])
        assert "family" in ds.coords and "cross_family" in ds.coords
    else:
        assert "cross_features" not in ds and "pair" not in ds.dims
    for k in ("time_end", "time_start", "gap", "sol", "lmst", "scale", "scale_seconds", "seed_id"):
        assert ds[k].identical(flat_ds[k]), k
    assert ds.attrs == flat_ds.attrs
    back = flat(ds)
    assert hasattr(back["features"].data, "dask") is lazy
    assert back.identical(flat_ds)  # exact round trip: values, dtypes, coordinates, attributes
    assert by_channel(ds) is ds and flat(flat_ds) is flat_ds


def test_by_channel_rejects_channels_with_different_coefficients():
    ds = as_real_features(window_features(record(C=2, L=3000), small_pyramid(C=2)))
    j = ds["j"].values.copy()
    j[np.flatnonzero(ds["channel"].values == 1)[0]] += 1
    with pytest.raises(ValueError, match="coefficient coordinate 'j' differs between channel 0 and channel 1"):
        by_channel(ds.assign_coords(j=("coefficient", j)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_open_features_channel_layout_and_normalization(tmp_path, dtype):
    pyr = small_pyramid(C=3, as_real=True, cross_channel=True)
    store = FeatureStore(tmp_path / "c.zarr")
    for k in range(2):
        store.write_day(window_features(record(dtype, C=3, L=3000, start=T0 + 86400 * k + 3600, seed=k), pyr))
    stats = fit_normalization(store.path)
    ds = open_features(store.path)
    fl = open_features(store.path, layout="flat")
    assert ds["features"].dims == ("window", "scale", "channel", "coefficient")
    assert ds["channel"].values.tolist() == IDS
    assert hasattr(ds["features"].data, "dask") and hasattr(ds["cross_features"].data, "dask")  # lazy
    per, cross = channel_oracle(fl)
    for c, cid in enumerate(IDS):
        np.testing.assert_array_equal(ds["features"].sel(channel=cid).values, per[c])
    np.testing.assert_array_equal(ds["cross_features"].sel(pair="V-W").values, cross[(1, 2)])
    assert flat(ds).identical(fl)
    # statistics reshaped to the channel layout: norm_mean.sel(channel=c) = stats of c's columns
    cols = np.flatnonzero(fl["channel"].values == 1)
    np.testing.assert_array_equal(ds["norm_mean"].sel(channel=IDS[1]).values, stats.mean[:, cols])
    # same numbers in both layouts, from the carried variables and from explicit stats
    zf = apply_normalization(fl)
    for z in (apply_normalization(ds), apply_normalization(ds, store.path), apply_normalization(ds, stats)):
        assert z["features"].dims == ds["features"].dims and z.attrs["normalized"]
        assert z["features"].dtype == dtype
        np.testing.assert_array_equal(flat(z)["features"].values, zf["features"].values)
    # oracle for the flat numbers: (x - mean) / std with numpy
    std = np.where(stats.std > 0, stats.std, 1.0)
    np.testing.assert_allclose(zf["features"].values, ((fl["features"].values - stats.mean) / std).astype(dtype),
                               rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)
    # complex window features in the channel layout: converted to the stored real layout first
    new = window_features(record(dtype, C=3, L=3000, seed=9), small_pyramid(C=3, cross_channel=True))
    a = apply_normalization(by_channel(new), stats)
    b = apply_normalization(new, stats)
    np.testing.assert_array_equal(flat(a)["features"].values, b["features"].values)
    with pytest.raises(ValueError, match=r"layout='stacked' must be one of 'channel', 'flat'"):
        open_features(store.path, layout="stacked")


# ------------------------------------------------------------------------------- HDF5
def test_hdf5_export_round_trip(tmp_path, reference_store):
    pytest.importorskip("h5py", reason="h5py is in the seismic extra")
    import shutil

    path = str(tmp_path / "copy.zarr")
    shutil.copytree(reference_store[0], path)
    fit_normalization(path)
    h5 = FeatureStore(path).to_hdf5(str(tmp_path / "f.h5"))
    a, b = open_features(path), open_features(h5)
    assert_same_features(b, a)
    for k in ("norm_mean", "norm_std", "lmst", "sol"):
        assert k in a, k
        np.testing.assert_array_equal(b[k].values, a[k].values, err_msg=k)
    assert b.attrs["days"] == a.attrs["days"] and b.attrs["normalization_days"] == a.attrs["normalization_days"]


# ----------------------------------------------------------------------------- errors
def test_error_messages(tmp_path):
    pyr = small_pyramid(C=2)
    rec = record()
    rec.gap_mask = rec.gap_mask[:-1]
    with pytest.raises(ValueError, match=r"record.gap_mask has shape \(5999,\); it must be \(6000,\)"):
        window_features(rec, pyr)
    rec = record()
    rec.channels = ["XB.ELYSE.02.BHU", "XB.OTHER.02.BHV"]
    with pytest.raises(ValueError, match="mix stations"):
        window_features(rec, pyr)
    store = FeatureStore(tmp_path / "e.zarr")
    ds = window_features(record(), pyr)
    with pytest.raises(ValueError, match="gaps='keep' must be one of"):
        store.write_day(ds, gaps="keep")
    store.write_day(ds)
    with pytest.raises(ValueError, match="holds features of another layout"):
        store.write_day(window_features(record(), small_pyramid(C=2, families=["mean", "power"])))
    with pytest.raises(ValueError, match=r"days \['2020-01-01'\] are not complete days"):
        open_features(store.path, days=["2020-01-01"])
    with pytest.raises(ValueError, match="carries no normalisation statistics"):
        apply_normalization(open_features(store.path))
    with pytest.raises(ValueError, match="has no normalisation statistics; run fit_normalization"):
        apply_normalization(ds, store.path)
    with pytest.raises(FileNotFoundError, match="no feature store at path="):
        FeatureStore(tmp_path / "missing.zarr", mode="r")
    with pytest.raises(ValueError, match="open read-only"):
        FeatureStore(store.path, mode="r").write_day(ds)
    st = multiday_stream(days=1)
    with pytest.raises(TypeError, match="client=3 must be None"):
        extract(st, str(tmp_path / "x.zarr"), client=3)
    with pytest.raises(ValueError, match="retries=-1 must be an int >= 0"):
        extract(st, str(tmp_path / "x.zarr"), retries=-1)
    with pytest.raises(ValueError, match="n_workers=0 must be an int >= 1"):
        extract(st, str(tmp_path / "x.zarr"), n_workers=0)


def test_import_scatclust_does_not_import_the_seismic_stack():
    code = ("import sys, scatclust; bad = [m for m in ('zarr', 'xarray', 'dask', 'h5py', 'obspy') "
            "if m in sys.modules]; print(bad); assert not bad; assert callable(scatclust.open_features)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
