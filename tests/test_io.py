"""scatclust.io: reading, SDS days, preparation, LMST, InSight download.

Oracles: ObsPy's own functions applied by hand (detrend, taper, filter, remove_response,
merge, the SDS client), numpy masks built from the known gap boundaries of ObsPy's test
file, analytic signals for resampling, and published InSight times for LMST.
"""
import os
import shutil

import numpy as np
import pytest

obspy = pytest.importorskip("obspy", reason="obspy is a test dependency (pip install obspy)")
from obspy import Stream, Trace, UTCDateTime  # noqa: E402

from conftest import DTYPES, rel_err, tol  # noqa: E402
from scatclust import io as sio  # noqa: E402

OBSPY_DIR = os.path.dirname(obspy.__file__)
MSEED_DATA = os.path.join(OBSPY_DIR, "io", "mseed", "tests", "data")
GAPS = os.path.join(MSEED_DATA, "gaps.mseed")                          # 200 Hz, 3 gaps
DAY_1HZ = os.path.join(MSEED_DATA, "CH.BALST..LH_two_channels")        # 24 h, 1 Hz, LHE+LHZ


def _write_sds(root, st):
    """Write a Stream as SDS day files (the layout ObsPy's SDS client reads)."""
    paths = []
    for tr in st:
        t = UTCDateTime(tr.stats.starttime.date)
        while t <= tr.stats.endtime:
            part = tr.slice(t, t + 86400 - 1e-9, nearest_sample=False)
            if part.stats.npts:
                s = part.stats
                path = os.path.join(root, str(t.year), s.network, s.station, f"{s.channel}.D",
                                    f"{tr.id}.D.{t.year}.{t.julday:03d}")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                part.write(path, format="MSEED")
                paths.append(path)
            t += 86400
    return paths


# ----------------------------------------------------------------------------- read
def test_read_sources_agree_with_obspy(tmp_path):
    ref = obspy.read(DAY_1HZ)
    for src in (DAY_1HZ, [DAY_1HZ], os.path.join(MSEED_DATA, "CH.BALST..LH_two_*"), ref):
        st = sio.read(src)
        assert [tr.id for tr in st] == [tr.id for tr in ref]
        for a, b in zip(st, ref):
            np.testing.assert_array_equal(a.data, b.data)
    t0 = UTCDateTime("2025-11-10T06:00:00")
    st = sio.read(DAY_1HZ, starttime=t0, endtime=t0 + 600)
    ref = obspy.read(DAY_1HZ).trim(t0, t0 + 600, nearest_sample=False)
    np.testing.assert_array_equal(st[0].data, ref[0].data)
    assert len(sio.read(obspy.read()[0])) == 1


def test_read_errors_name_the_file(tmp_path):
    bad = tmp_path / "truncated.mseed"
    raw = open(os.path.join(MSEED_DATA, "CH.BALST..LHE.D.2025.314"), "rb").read()
    bad.write_bytes(raw[: len(raw) // 2 + 100])   # cut inside a record
    with pytest.raises(sio.ReadError, match=r"truncated\.mseed.*corrupt or truncated"):
        sio.read(str(bad))
    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"\x00" * 5000)
    with pytest.raises(sio.ReadError, match=r"junk\.dat"):
        sio.read([str(junk)])
    assert issubclass(sio.ReadError, ValueError)
    with pytest.raises(FileNotFoundError, match="no file matches"):
        sio.read(str(tmp_path / "nothing*.mseed"))
    with pytest.raises(ValueError, match="needs starttime and endtime"):
        sio.read(sio.SDSSource(str(tmp_path), "XB", "ELYSE", "02", "BH?"))
    with pytest.raises(TypeError, match="not supported"):
        sio.read(42)


# ----------------------------------------------------------------------------- SDS / days
@pytest.fixture
def sds_tree(tmp_path):
    root = str(tmp_path / "sds")
    st = obspy.read(DAY_1HZ)          # 2025-11-10 00:01 .. 2025-11-11 00:03, two days
    paths = _write_sds(root, st)
    return root, st, paths


def test_sds_read_matches_obspy_client(sds_tree):
    from obspy.clients.filesystem.sds import Client

    root, _, _ = sds_tree
    src = sio.SDSSource(root, "CH", "BALST", "", "LH?")
    t0, t1 = UTCDateTime("2025-11-10T23:50:00"), UTCDateTime("2025-11-11T00:02:00")
    st = sio.read(src, starttime=t0, endtime=t1).merge()
    ref = Client(root).get_waveforms("CH", "BALST", "", "LH?", t0, t1, merge=None)
    ref = ref.trim(t0, t1, nearest_sample=False).merge()   # samples inside [t0, t1] only
    assert sorted(tr.id for tr in st) == sorted(tr.id for tr in ref)
    for tr in ref:
        np.testing.assert_array_equal(st.select(id=tr.id)[0].data, tr.data)


def test_iter_days_splits_days_and_pads(sds_tree):
    root, full, _ = sds_tree
    src = sio.SDSSource(root, "CH", "BALST", "", "LH?")
    days = list(sio.iter_days(src))
    assert [d.day for d in days] == [UTCDateTime("2025-11-10"), UTCDateTime("2025-11-11")]
    assert all(d.error is None for d in days)
    for d in days:
        for tr in d.stream.merge():
            # oracle: the original samples with times in [day, day + 1 d)
            ref = full.select(id=tr.id)[0]
            times = ref.stats.starttime.timestamp + np.arange(ref.stats.npts) / ref.stats.sampling_rate
            keep = (times >= d.day.timestamp) & (times < d.day.timestamp + 86400)
            np.testing.assert_array_equal(tr.data, ref.data[keep])
    padded = list(sio.iter_days(src, start="2025-11-11", pad=120.0))
    assert len(padded) == 1
    lhe = padded[0].stream.select(channel="LHE").merge()[0]
    assert lhe.stats.starttime < UTCDateTime("2025-11-11") - 119   # 120 s from the day before
    # the same split from a Stream and from a file list
    for source in (full, [DAY_1HZ]):
        got = list(sio.iter_days(source))
        assert [d.day for d in got] == [d.day for d in days]
        for a, b in zip(got, days):
            assert sum(tr.stats.npts for tr in a.stream) == sum(tr.stats.npts for tr in b.stream)


def test_iter_days_corrupt_file_other_days_continue(sds_tree):
    root, _, paths = sds_tree
    bad = next(p for p in paths if p.endswith("LHE.D.2025.314"))
    raw = open(bad, "rb").read()
    open(bad, "wb").write(raw[: len(raw) // 2 + 100])
    src = sio.SDSSource(root, "CH", "BALST", "", "LH?")
    with pytest.warns(UserWarning, match=r"2025-11-11: neighbouring file skipped: .*LHE\.D\.2025\.314"):
        days = list(sio.iter_days(src))   # day 2 reads the end of day 1's file (spill-over)
    assert len(days) == 2
    assert days[0].error is not None and "LHE.D.2025.314" in days[0].error
    assert len(days[0].stream) == 0
    assert days[1].error is None and len(days[1].stream) == 2   # the next day still read
    with pytest.raises(ValueError, match="pad=-1.0 must be >= 0"):
        next(sio.iter_days(src, pad=-1))


# ----------------------------------------------------------------------------- gaps
def _gap_oracle():
    """Known gap boundaries of ObsPy's gaps.mseed as a numpy mask on the 200 Hz grid."""
    st = obspy.read(GAPS)
    t0 = st[0].stats.starttime
    n = int(round((st[-1].stats.endtime - t0) * 200)) + 1
    have = np.zeros(n, bool)
    values = np.zeros(n)
    for tr in st:
        i = int(round((tr.stats.starttime - t0) * 200))
        have[i:i + tr.stats.npts] = True
        values[i:i + tr.stats.npts] = tr.data
    return st, have, values


@pytest.mark.parametrize("dtype", DTYPES)
def test_gap_policy_drop(dtype):
    st, have, values = _gap_oracle()
    rec = sio.prepare(st, sio.PrepareConfig(detrend=None, dtype=np.dtype(dtype).name))
    assert rec.data.dtype == dtype and rec.data.flags.c_contiguous
    np.testing.assert_array_equal(rec.gap_mask, ~have)
    assert rec.starttime == st[0].stats.starttime
    np.testing.assert_array_equal(rec.data[0, have], values[have].astype(dtype))
    assert np.all(rec.data[0, ~have] == 0.0)
    assert any(p.startswith("gaps: drop: 3 gap(s)") for p in rec.processing)


def test_gap_policy_interpolate():
    st, have, values = _gap_oracle()
    # gaps in the file: 2.06 s, 2.06 s and 4.12 s of missing samples
    rec = sio.prepare(st, sio.PrepareConfig(detrend=None, gap_policy="interpolate", max_gap=3.0,
                                            dtype="float64"))
    starts = np.flatnonzero(np.diff(have.astype(int)) == -1) + 1
    stops = np.flatnonzero(np.diff(have.astype(int)) == 1) + 1
    expect_mask = ~have.copy()
    expect = values.copy()
    for a, b in zip(starts, stops):
        if (b - a) / 200.0 <= 3.0:   # filled: straight line between the neighbours
            expect[a - 1:b + 1] = np.interp(np.arange(a - 1, b + 1), [a - 1, b],
                                            [values[a - 1], values[b]])
            expect_mask[a:b] = False
    np.testing.assert_array_equal(rec.gap_mask, expect_mask)
    assert expect_mask.sum() == 824          # only the 4.12 s gap is left
    np.testing.assert_allclose(rec.data[0, ~expect_mask], expect[~expect_mask], rtol=1e-12)
    assert "2 gap(s) of <= 3.0 s filled linearly, 1 longer gap(s)" in " ".join(rec.processing)


def test_merge_overlap_keeps_later_trace():
    tr = obspy.read()[0]
    a = tr.slice(tr.stats.starttime, tr.stats.starttime + 10)
    b = tr.slice(tr.stats.starttime + 8, tr.stats.starttime + 20).copy()
    b.data = b.data * 2.0    # the overlap differs between the two traces
    rec = sio.prepare(Stream([a, b]), sio.PrepareConfig(detrend=None, dtype="float64"))
    ref = Stream([a.copy(), b.copy()]).merge(method=1)[0]   # ObsPy's rule as the oracle
    np.testing.assert_array_equal(rec.data[0], ref.data.astype(float))
    assert not rec.gap_mask.any()
    with pytest.raises(ValueError, match="has 2 traces but merge=False"):
        sio.prepare(Stream([a, b]), sio.PrepareConfig(merge=False))


# ----------------------------------------------------------------------------- processing
@pytest.mark.parametrize("dtype", DTYPES)
def test_detrend_taper_bandpass_match_obspy(dtype):
    st = obspy.read()
    cfg = sio.PrepareConfig(detrend="linear", taper=0.05, bandpass=(1.0, 10.0),
                            components="ZNE", dtype=np.dtype(dtype).name)
    rec = sio.prepare(st, cfg)
    for row, tr in enumerate(st):
        ref = tr.copy()
        ref.data = ref.data.astype(np.float64)
        ref.detrend("linear").taper(max_percentage=0.05, type="hann")
        ref.filter("bandpass", freqmin=1.0, freqmax=10.0, corners=4, zerophase=True)
        assert rel_err(rec.data[row], ref.data) <= tol(dtype, 1e-6, 1e-12)
    assert [p.split(":")[0] for p in rec.processing] == [
        "components", "merge", "gaps", "detrend", "taper", "bandpass", "align", "components",
        "dtype"]
    out = rec.to_stream()
    assert out[0].stats.processing == rec.processing and out[0].id == "BW.RJOB..EHZ"


def test_spline_detrend_and_response_match_obspy():
    from obspy.signal.detrend import spline

    st = obspy.read()
    inv = obspy.read_inventory()
    rec = sio.prepare(st, sio.PrepareConfig(detrend="spline", spline_order=3, spline_dspline=5.0,
                                            dtype="float64"))
    for row, tr in enumerate(st):
        ref = spline(tr.data.astype(np.float64), order=3, dspline=500)   # 5 s at 100 Hz
        assert rel_err(rec.data[row], ref) <= 1e-12
    rec = sio.prepare(st, sio.PrepareConfig(detrend=None, inventory=inv, response_output="VEL",
                                            pre_filt=(0.5, 1.0, 40.0, 45.0), dtype="float64"))
    for row, tr in enumerate(st):
        ref = tr.copy()
        ref.data = ref.data.astype(np.float64)
        ref.remove_response(inventory=inv, output="VEL", pre_filt=(0.5, 1.0, 40.0, 45.0))
        assert rel_err(rec.data[row], ref.data) <= 1e-12
    assert "response: ObsPy remove_response output=VEL" in " ".join(rec.processing)
    with pytest.raises(ValueError, match="remove_response failed on XX.TEST..BHZ"):
        sio.prepare(Trace(np.ones(100), header={"network": "XX", "station": "TEST",
                                                "channel": "BHZ"}),
                    sio.PrepareConfig(inventory=inv))


def test_resample_is_antialiased_and_on_grid():
    fs, n = 100.0, 6000
    t0 = UTCDateTime("2020-01-01T00:00:00.013")   # not on the 20 Hz grid
    t = np.arange(n) / fs
    low = np.sin(2 * np.pi * 2.0 * t)              # kept (new Nyquist 10 Hz)
    high = np.sin(2 * np.pi * 30.0 * t)            # above the new Nyquist: must not alias
    st = Stream([Trace(low + high, header={"channel": "BHZ", "starttime": t0,
                                           "sampling_rate": fs})])
    rec = sio.prepare(st, sio.PrepareConfig(detrend=None, sampling_rate=20.0, dtype="float64"))
    assert rec.sampling_rate == 20.0
    assert rec.starttime.ns % 50_000_000 == 0 and rec.starttime >= t0
    tn = (rec.starttime - t0) + np.arange(rec.data.shape[1]) / 20.0
    inner = slice(100, -100)   # away from the filter's edge transients (5 s)
    err = np.abs(rec.data[0, inner] - np.sin(2 * np.pi * 2.0 * tn[inner])).max()
    assert err < 2e-3   # 30 Hz tone suppressed by 2 x 96 dB, pass band ripple ~1e-3
    # differing rates without resampling: error naming the channel
    other = Trace(np.zeros(500), header={"channel": "BHN", "starttime": t0, "sampling_rate": 50.0})
    with pytest.raises(ValueError, match=r"channel \.\.\.BHN has sampling rate 50.0 Hz"):
        sio.prepare(Stream([st[0], other]))
    rec = sio.prepare(Stream([st[0], other]), sio.PrepareConfig(sampling_rate=20.0))
    assert rec.data.shape[0] == 2


def test_components_order_and_errors():
    st = obspy.read()     # EHZ, EHN, EHE
    rec = sio.prepare(st, sio.PrepareConfig(components="ENZ", detrend=None, dtype="float64"))
    assert rec.channels == ["BW.RJOB..EHE", "BW.RJOB..EHN", "BW.RJOB..EHZ"]
    np.testing.assert_array_equal(rec.data[0], st.select(channel="EHE")[0].data)
    with pytest.raises(ValueError, match=r"component 'U' requested by components='UVW' is missing"):
        sio.prepare(st, sio.PrepareConfig(components="UVW"))
    with pytest.raises(ValueError, match="gap_policy='zero' must be one of"):
        sio.PrepareConfig(gap_policy="zero")
    with pytest.raises(ValueError, match=r"bandpass freqmax=60.0 Hz must be below the Nyquist"):
        sio.prepare(st, sio.PrepareConfig(bandpass=(1.0, 60.0)))
    with pytest.raises(ValueError, match="stream has no data"):
        sio.prepare(Stream())


def test_alignment_common_span_and_explicit_span():
    st = obspy.read()
    a = st[0].slice(st[0].stats.starttime + 1, st[0].stats.endtime)        # starts 1 s later
    b = st[1].slice(st[1].stats.starttime, st[1].stats.endtime - 2)        # ends 2 s earlier
    rec = sio.prepare(Stream([a, b]), sio.PrepareConfig(detrend=None))
    assert rec.starttime == a.stats.starttime and rec.data.shape[1] == 2700
    assert not rec.gap_mask.any()
    t0 = st[0].stats.starttime
    rec = sio.prepare(Stream([a, b]), sio.PrepareConfig(detrend=None), starttime=t0,
                      endtime=t0 + 30)
    assert rec.starttime == t0 and rec.data.shape[1] == 3000    # [t0, t0 + 30 s)
    expect = np.zeros(3000, bool)
    expect[:100] = True       # first channel missing
    expect[2800:] = True      # second channel missing (ends 2 s early)
    np.testing.assert_array_equal(rec.gap_mask, expect)


def test_day_at_100hz_bounded():
    """A full 100 Hz day, 3 channels, through the main steps (documents the cost)."""
    n = 8_640_000
    rng = np.random.default_rng(0)
    t0 = UTCDateTime("2021-01-01")
    st = Stream([Trace(rng.standard_normal(n).astype(np.float32),
                       header={"channel": f"HH{c}", "starttime": t0, "sampling_rate": 100.0})
                 for c in "ZNE"])
    rec = sio.prepare(st, sio.PrepareConfig(components="ZNE", bandpass=(0.1, 10.0),
                                            sampling_rate=20.0), starttime=t0,
                      endtime=t0 + 86400)
    assert rec.data.shape == (3, 1_728_000) and rec.data.dtype == np.float32
    assert not rec.gap_mask[10:-10].any()


# ----------------------------------------------------------------------------- LMST
# Published sol starts (LMST 00:00:00) of the InSight mission clock, from NAIF's InSight
# time service (chronos, setup nsyttime), as used in the InSight team's tools.
NAIF_SOL_STARTS = [(0, "2018-11-26T05:10:50.336037"), (1, "2018-11-27T05:50:25.580014"),
                   (2, "2018-11-28T06:30:00.823990")]
# Marsquake Service catalogue events: the name gives the sol (S + sol), e.g. S0173a
# (2019-05-23T02:22:59 UTC), S0235b (2019-07-26T12:19:18), S0325a (2019-10-26T06:58:58),
# S1222a (2022-05-04T23:23:07; Kawamura et al. 2023, GRL).
MQS_EVENTS = [(173, "2019-05-23T02:22:59"), (235, "2019-07-26T12:19:18"),
              (325, "2019-10-26T06:58:58"), (1222, "2022-05-04T23:23:07")]


def test_lmst_against_published_times():
    for sol, utc in NAIF_SOL_STARTS:
        # tolerance 0.05 s: Mars24's mean sol vs the SPICE-based clock drift < 1 ms/sol.
        # The default longitude is the mission clock's.
        t = sio.lmst_to_utc(sol, 0.0)
        assert abs(t - UTCDateTime(utc)) < 0.05
        assert t == sio.lmst_to_utc(sol, 0.0, longitude=sio.INSIGHT_CLOCK_LONGITUDE)
        s, h = sio.utc_to_lmst(UTCDateTime(utc) + 1.0)
        assert s == sol and abs(h * 3600 * 1.0274912517 - 1.0) < 0.05
    # true LMST at the lander (135.623447 E) runs 86 s behind the mission clock
    s, h = sio.utc_to_lmst(UTCDateTime(NAIF_SOL_STARTS[1][1]), longitude=sio.INSIGHT_LONGITUDE)
    assert s == 0 and abs((24 - h) * 3600 * 1.0274912517 - 85.9) < 0.5
    for sol, utc in MQS_EVENTS:
        assert sio.utc_to_lmst(utc)[0] == sol
    # landing: sol 0, early afternoon (14:17 LMST true, 14:18 on the mission clock)
    s, h = sio.utc_to_lmst("2018-11-26T19:52:59")
    assert s == 0 and 14.2 < h < 14.4


def test_lmst_round_trip_and_arrays():
    times = np.array(["2019-01-01T00:00:00", "2020-06-15T12:34:56.5", "2022-12-15T00:00:01"],
                     dtype="datetime64[ns]")
    sols, hours = sio.utc_to_lmst(times)
    for t, s, h in zip(times, sols, hours):
        back = sio.lmst_to_utc(int(s), float(h))
        assert abs(back - UTCDateTime(str(t))) < 1e-4
        assert sio.utc_to_lmst(np.datetime64(t)) == (s, pytest.approx(h, abs=1e-9))
    with pytest.raises(ValueError, match=r"hours=25.0 must be LMST hours in \[0, 24\)"):
        sio.lmst_to_utc(10, 25.0)
    with pytest.raises(ValueError, match="before 1972"):
        sio.utc_to_lmst("1960-01-01")


def test_local_solar_time():
    assert sio.local_solar_time("2020-01-01T12:00:00", -90.0) == pytest.approx(6.0)
    assert sio.local_solar_time("2020-01-01T23:00:00", 30.0) == pytest.approx(1.0)
    t = np.array(["2020-01-01T00:00:00", "2020-01-01T06:30:00"], dtype="datetime64[s]")
    np.testing.assert_allclose(sio.local_solar_time(t, 135.0), [9.0, 15.5])
    with pytest.raises(ValueError, match="longitude=400.0 must be degrees east"):
        sio.local_solar_time(t, 400.0)


# ----------------------------------------------------------------------------- fetch
class FakeClient:
    """Stands in for obspy.clients.fdsn.Client: records requests, serves 20 Hz noise."""

    def __init__(self, fail=0, nodata=False):
        self.requests = []
        self.fail = fail
        self.nodata = nodata

    def get_waveforms(self, network, station, location, channel, starttime, endtime):
        self.requests.append((network, station, location, channel, starttime, endtime))
        if self.fail:
            self.fail -= 1
            raise ConnectionError("service unavailable")
        if self.nodata:
            from obspy.clients.fdsn.header import FDSNNoDataException
            raise FDSNNoDataException("No data available")
        st = Stream()
        t0 = starttime - 30          # data centres return a little more than asked
        n = int((endtime - starttime + 60) * 20)
        for c in "UVW":
            st.append(Trace(np.arange(n, dtype=np.int32) % 1000, header=dict(
                network=network, station=station, location=location, channel="BH" + c,
                starttime=t0, sampling_rate=20.0)))
        return st


def test_fetch_insight_layout_days_and_resume(tmp_path):
    root = str(tmp_path / "sds")
    client = FakeClient()
    paths = sio.fetch_insight("2019-05-22T12:00:00", "2019-05-24T06:00:00", root, client=client)
    days = [UTCDateTime(d) for d in ("2019-05-22", "2019-05-23", "2019-05-24")]
    assert [r[:4] for r in client.requests] == [("XB", "ELYSE", "02", "BH?")] * 3
    assert [(r[4], r[5]) for r in client.requests] == [(d, d + 86400) for d in days]
    expect = [os.path.join(root, str(d.year), "XB", "ELYSE", f"BH{c}.D",
                           f"XB.ELYSE.02.BH{c}.D.{d.year}.{d.julday:03d}")
              for d in days for c in "UVW"]
    assert paths == expect
    st = obspy.read(expect[3])
    assert st[0].stats.starttime == days[1] and st[0].stats.npts == 86400 * 20
    # ObsPy's SDS client reads the tree back
    src = sio.SDSSource(root, "XB", "ELYSE", "02", "BH?")
    assert [d.day for d in sio.iter_days(src)] == days
    # resume: nothing requested again
    again = FakeClient()
    assert sio.fetch_insight("2019-05-22", "2019-05-25T01:00:00", root, client=again) == [
        os.path.join(root, "2019", "XB", "ELYSE", f"BH{c}.D", f"XB.ELYSE.02.BH{c}.D.2019.145")
        for c in "UVW"]
    assert len(again.requests) == 1 and again.requests[0][4] == UTCDateTime("2019-05-25")


def test_fetch_insight_crash_mid_day_is_not_complete(tmp_path, monkeypatch):
    # A crash after the first channel file of a day was renamed into place: the day has no
    # completion marker, so a rerun downloads it again (files alone never mark a day done).
    import scatclust.io._fetch as fetch_mod

    root = str(tmp_path / "sds")
    real_replace = os.replace
    calls = []

    def crashing_replace(src, dst):
        calls.append(dst)
        real_replace(src, dst)
        if len(calls) == 1:
            raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(fetch_mod.os, "replace", crashing_replace)
    with pytest.raises(KeyboardInterrupt):
        sio.fetch_insight("2019-05-22", "2019-05-23", root, client=FakeClient())
    monkeypatch.setattr(fetch_mod.os, "replace", real_replace)
    assert os.path.exists(calls[0])  # one channel file is there ...
    again = FakeClient()
    paths = sio.fetch_insight("2019-05-22", "2019-05-23", root, client=again)
    assert len(again.requests) == 1 and len(paths) == 3  # ... but the day is fetched again
    third = FakeClient()
    assert sio.fetch_insight("2019-05-22", "2019-05-23", root, client=third) == []
    assert third.requests == []


def test_fetch_insight_retries_and_errors(tmp_path):
    root = str(tmp_path / "sds")
    flaky = FakeClient(fail=2)
    paths = sio.fetch_insight("2019-05-22", "2019-05-23", root, client=flaky, retries=3,
                              retry_wait=0)
    assert len(flaky.requests) == 3 and len(paths) == 3
    down = FakeClient(fail=10)
    with pytest.raises(sio.FetchError, match=r"XB\.ELYSE\.02\.BH\? 2019-06-01.*failed 2 time"
                                             r"\(s\); last error: ConnectionError"):
        sio.fetch_insight("2019-06-01", "2019-06-02", root, client=down, retries=2, retry_wait=0)
    empty = FakeClient(nodata=True)
    assert sio.fetch_insight("2019-07-01", "2019-07-02", root, client=empty) == []
    with pytest.raises(ValueError, match="must be after start"):
        sio.fetch_insight("2019-07-02", "2019-07-01", root, client=empty)


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("SCATCLUST_NETWORK_TESTS") != "1",
                    reason="network test: set SCATCLUST_NETWORK_TESTS=1 to download from IRIS")
def test_fetch_insight_network(tmp_path):
    paths = sio.fetch_insight("2019-05-23", "2019-05-23T00:00:01", str(tmp_path))
    assert paths and all(os.path.getsize(p) > 0 for p in paths)
    st = obspy.read(paths[0])
    assert st[0].stats.network == "XB" and st[0].stats.sampling_rate == 20.0


def test_fetch_insight_command_line(tmp_path, capsys):
    from scatclust.io.__main__ import main

    root = str(tmp_path / "sds")
    client = FakeClient()
    assert main(["fetch-insight", "2019-05-22", "2019-05-24", root, "--retry-wait", "0"], client=client) == 0
    assert "6 file(s) written" in capsys.readouterr().out
    assert [r[4] for r in client.requests] == [UTCDateTime("2019-05-22"), UTCDateTime("2019-05-23")]
    assert main(["fetch-insight", "2019-05-22", "2019-05-24", root], client=FakeClient()) == 0
    assert "0 file(s) written" in capsys.readouterr().out  # resumed: both days complete
    assert main(["fetch-insight", "2019-06-01", "2019-06-02", root, "--retries", "1"],
                client=FakeClient(fail=5)) == 2
    assert "error: request XB.ELYSE.02.BH? 2019-06-01" in capsys.readouterr().err
    assert main(["fetch-insight", "2019-06-02", "2019-06-01", root], client=FakeClient()) == 2
    assert "must be after start" in capsys.readouterr().err
