"""Tests of scatclust.datasets.synthetic_mars against independent computations.

Oracles: the documented model (formulas re-typed here from the module docstring), analytic
results (glitch integral e*tau*A, Gabor energy spectra, MRW scaling exponents and kurtosis),
scipy.signal (Welch PSD), plain numpy estimators (periodograms, STA/LTA-style picks,
structure functions) and ObsPy (Stream round trip).
"""
import math
import time
import tracemalloc

import numpy as np
import pytest
from scipy import optimize, signal

from scatclust.datasets import SyntheticMars, synthetic_mars
from scatclust.datasets import _synthetic_mars as sm

SOURCES = ("background", "wind", "glitch", "donk", "quake", "tone")
EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(scope="module")
def small():
    t = time.perf_counter()
    rec = synthetic_mars("small", seed=0)
    return rec, time.perf_counter() - t


@pytest.fixture(scope="module")
def day():
    """The 'day' preset, generated under tracemalloc to measure its peak memory."""
    tracemalloc.start()
    try:
        rec = synthetic_mars("day", seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return rec, peak


def _local_hours(rec):
    """LMST hours of every sample: Mars24 at sample 0, then 24 h per 88775.244 s."""
    ts = rec.starttime.timestamp
    jd_tt = (ts + 69.184) / 86400.0 + 2440587.5
    mst = 24.0 * (((jd_tt - 2451549.5) / 1.0274912517 + 44796.0 - 0.0009626) % 1.0)
    lmst0 = (mst + 135.623447 / 15.0) % 24.0
    n = rec.mixture.shape[1]
    return (lmst0 + np.arange(n) / rec.fs * 24.0 / 88775.244) % 24.0


def _events(rec, source):
    return [e for e in rec.events if e["source"] == source]


# --- determinism, shapes, bookkeeping -----------------------------------------------------
def test_same_seed_identical():
    a = synthetic_mars("small", seed=7)
    b = synthetic_mars("small", seed=7)
    np.testing.assert_array_equal(a.mixture, b.mixture)
    for name in SOURCES:
        np.testing.assert_array_equal(a.sources[name], b.sources[name])
        np.testing.assert_array_equal(a.labels[name], b.labels[name])
    assert a.events == b.events


def test_different_seeds_differ(small):
    a = small[0]
    b = synthetic_mars("small", seed=1)
    for name in SOURCES:
        assert not np.array_equal(a.sources[name], b.sources[name]), name
    assert a.events != b.events


def test_sources_sum_to_mixture(small):
    rec = small[0]
    total = sum(rec.sources[name].astype(np.float64) for name in SOURCES)
    # mixture = float32(sum computed in float64): at most half an ulp of float32 apart.
    bound = 0.5 * EPS32 * np.abs(total) + np.finfo(np.float32).tiny
    assert np.all(np.abs(rec.mixture.astype(np.float64) - total) <= bound)


@pytest.mark.parametrize("kwargs, n", [({}, 144000), ({"days": 0.05}, 86400), ({"days": 0.01, "fs": 50.0}, 43200),
                                       ({"fs": 40}, 288000)])
def test_shapes_dtypes_fs(kwargs, n):
    rec = synthetic_mars("small", **kwargs)
    assert isinstance(rec, SyntheticMars)
    assert rec.fs == float(kwargs.get("fs", 20.0))
    assert rec.mixture.shape == (3, n) and rec.mixture.dtype == np.float32
    assert rec.mixture.flags.c_contiguous
    assert set(rec.sources) == set(SOURCES) == set(rec.labels)
    for name in SOURCES:
        assert rec.sources[name].shape == (3, n) and rec.sources[name].dtype == np.float32
        assert rec.labels[name].shape == (n,) and rec.labels[name].dtype == np.bool_
    for ev in rec.events:
        assert ev["source"] in SOURCES and 0 <= ev["start"] < ev["end"] <= n
    # at least one event of each discrete source, sorted by start
    assert {e["source"] for e in rec.events} == {"wind", "glitch", "donk", "quake"}
    assert [e["start"] for e in rec.events] == sorted(e["start"] for e in rec.events)


def test_presets_lengths_and_small_is_fast(small, day):
    assert small[0].mixture.shape[1] == 2 * 3600 * 20
    assert small[1] < 2.0, f"'small' took {small[1]:.2f} s"
    assert day[0].mixture.shape[1] == 86400 * 20


def test_memory_bounded(day):
    rec, peak = day
    out = rec.mixture.nbytes * 7 + sum(lab.nbytes for lab in rec.labels.values())
    # outputs (mixture + 6 sources + labels) plus a few float64 length-L temporaries
    assert peak < 2.0 * out, f"peak {peak / 1e6:.0f} MB for {out / 1e6:.0f} MB of output"


# --- labels -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["wind", "glitch", "donk", "quake"])
def test_labels_hold_the_energy(small, name):
    rec = small[0]
    e = np.sum(rec.sources[name].astype(np.float64) ** 2, axis=0)
    lab = rec.labels[name]
    assert e.sum() > 0
    # the 5 %-of-peak envelope rule leaves < 1 % of the energy outside the labels ...
    assert e[~lab].sum() < 0.01 * e.sum()
    # ... and the union of the event intervals is the label
    union = np.zeros_like(lab)
    for ev in _events(rec, name):
        union[ev["start"]:ev["end"]] = True
    np.testing.assert_array_equal(union, lab)


@pytest.mark.parametrize("name", ["background", "tone"])
def test_always_on_labels(small, name):
    rec = small[0]
    assert rec.labels[name].all()
    rms = np.sqrt(np.mean(rec.sources[name].astype(np.float64) ** 2, axis=0))
    # active everywhere: no 10-s stretch is silent
    assert rms.reshape(-1, 200).max(axis=1).min() > 0


def test_glitch_label_length_matches_envelope_rule(day):
    """x e^(1-x) >= 0.05 between the two roots x1 < 1 < x2; the label spans (x2 - x1) tau fs."""
    rec = day[0]
    g = lambda x: x * math.exp(1.0 - x) - sm.LABEL_FRACTION  # noqa: E731
    x1, x2 = optimize.brentq(g, 1e-9, 1.0), optimize.brentq(g, 1.0, 50.0)
    n = rec.mixture.shape[1]
    checked = 0
    for ev in _events(rec, "glitch"):
        if ev["end"] < n:
            assert abs((ev["end"] - ev["start"]) - (x2 - x1) * ev["tau"] * rec.fs) <= 2.0
            checked += 1
    assert checked >= 5


# --- spectra --------------------------------------------------------------------------------
def test_tone_frequency_from_periodogram(small):
    rec = small[0]
    x = rec.sources["tone"].astype(np.float64)
    nfft = 4 * x.shape[1]
    p = np.sum(np.abs(np.fft.rfft(x * np.hanning(x.shape[1]), n=nfft, axis=-1)) ** 2, axis=0)
    f = np.fft.rfftfreq(nfft, 1.0 / rec.fs)
    assert abs(f[np.argmax(p)] - sm.TONE_FREQ) <= rec.fs / nfft
    near = np.abs(f - sm.TONE_FREQ) <= 0.02  # narrow band: slow amplitude wander only
    assert p[near].sum() > 0.99 * p.sum()


def test_coloured_noise_psd_slope_and_shape():
    rng = np.random.default_rng(5)
    fs = 20.0
    x = sm._shaped_noise(rng, 2 ** 19, fs, sm._background_psd)
    f, p = signal.welch(x, fs=fs, nperseg=8192)
    band = (f >= 1.5) & (f <= 8.0)  # red component alone: bump < 1e-7 of it, f >> f_lo
    slope = np.polyfit(np.log(f[band]), np.log(p[band]), 1)[0]
    assert abs(slope + 1.0) < 0.05, slope  # documented: PSD ~ f^-beta, beta = 1
    # full documented shape, re-typed from the docstring, normalised to unit variance
    keep = (f >= 0.05) & (f <= 9.0)
    model = (1.0 / (f ** 2 + 0.05 ** 2)) ** 0.5 + 20.0 * np.exp(-np.log(np.maximum(f, 1e-12) / 0.25) ** 2 / (2 * 0.35 ** 2))
    model = model / (np.sum(model) * (f[1] - f[0]))
    assert abs(np.var(x) - 1.0) < 0.05
    ratio = p[keep] / model[keep]
    assert abs(np.median(ratio) - 1.0) < 0.1 and np.percentile(np.abs(np.log(ratio)), 90) < 0.3


def test_donk_energy_in_band(day):
    rec = day[0]
    d = rec.sources["donk"].astype(np.float64)
    spec = np.sum(np.abs(np.fft.rfft(d, axis=-1)) ** 2, axis=0)
    f = np.fft.rfftfreq(d.shape[1], 1.0 / rec.fs)
    lo, hi = sm.DONK_BAND
    measured = spec[(f >= lo) & (f <= hi)].sum() / spec.sum()
    # prediction from the event list: each Gabor atom has a Gaussian energy spectrum around f_c
    # with std 1/(2 sqrt(2) pi sigma), and energy A^2 |pol|^2 sigma sqrt(pi)/2
    phi = lambda z: 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))  # noqa: E731
    num = den = 0.0
    for ev in _events(rec, "donk"):
        s_e = 1.0 / (2.0 * math.sqrt(2.0) * math.pi * ev["sigma"])
        energy = ev["amplitude"] ** 2 * np.sum(np.square(ev["polarization"])) * ev["sigma"]
        num += energy * (phi((hi - ev["frequency"]) / s_e) - phi((lo - ev["frequency"]) / s_e))
        den += energy
    assert measured > 0.95
    assert abs(measured - num / den) < 0.01


def test_wind_spectrum_and_polarisation(small):
    rec = small[0]
    ev = _events(rec, "wind")[0]
    seg = rec.sources["wind"][:, ev["start"]:ev["end"]].astype(np.float64)
    f, p = signal.welch(seg, fs=rec.fs, nperseg=2048, axis=-1)
    p = p.sum(axis=0)
    # documented shape, re-typed: flat 0.1-4 Hz, f^2 below f1 = 0.1 Hz, f^-4 above f2 = 4 Hz
    model = (f / 0.1) ** 2 / (1 + (f / 0.1) ** 2) / (1 + (f / 4.0) ** 4)
    bands = [(0.3, 0.7), (1.5, 2.5), (7.0, 9.0)]
    meas = np.array([p[(f >= a) & (f < b)].mean() for a, b in bands])
    pred = np.array([model[(f >= a) & (f < b)].mean() for a, b in bands])
    assert np.all(np.abs(np.log((meas / meas[0]) / (pred / pred[0]))) < 0.25), (meas / meas[0], pred / pred[0])
    # correlated components: one dominant direction of motion
    w = np.linalg.eigvalsh(np.cov(seg))
    assert w[-1] > 0.6 * w.sum()


# --- marsquakes ---------------------------------------------------------------------------
def _picks(rec, ev):
    """P pick (first sample of 2-s smoothed energy above 1 % of its max), S pick (max of the
    10-s forward/backward energy ratio at least 30 s after P) and the coda decay time from a
    log-linear fit of the 10-s smoothed energy from S + 20 s until it has dropped by e^-4."""
    fs = rec.fs
    x = rec.sources["quake"][:, ev["start"]:ev["end"]].astype(np.float64)
    e = np.sum(x ** 2, axis=0)
    smooth = lambda y, s: np.convolve(y, np.ones(int(s * fs)) / int(s * fs), mode="same")  # noqa: E731
    sta = smooth(e, 2.0)
    i_p = int(np.argmax(sta > 0.01 * sta.max()))
    w = int(10 * fs)
    c = np.concatenate([[0.0], np.cumsum(e)])
    idx = np.arange(w, len(e) - w)
    ratio = (c[idx + w] - c[idx]) / (c[idx] - c[idx - w] + 1e-300)
    lo = i_p + int(30 * fs) - w
    i_s = int(idx[lo + np.argmax(ratio[lo:])])
    ew = smooth(e, 10.0)
    a = i_s + int(20 * fs)
    b = a + int(np.argmax(ew[a:] < ew[a] * math.exp(-4.0)))
    slope = np.polyfit(np.arange(a, b) / fs, np.log(ew[a:b]), 1)[0]
    return (i_p + ev["start"]) / fs, (i_s - i_p) / fs, -2.0 / slope


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_quake_arrivals_and_coda_from_envelope(seed):
    rec = synthetic_mars("small", seed=seed)
    n = rec.mixture.shape[1]
    # quakes whose S arrival and 3 coda times lie inside the record (the forced one does)
    quakes = [e for e in _events(rec, "quake") if e["s_onset"] + 3 * e["coda_tau"] * rec.fs < n]
    assert quakes
    ev = quakes[0]
    t_p, sp, coda_tau = _picks(rec, ev)
    # pick precision is bounded by the rise times (P: 1-4 s, S: 2-8 s) and the envelope's
    # random fluctuations; S-P delays are 60-400 s
    assert abs(t_p - ev["p_onset"] / rec.fs) < 8.0
    assert abs(sp - ev["sp_delay"]) < 10.0, (sp, ev["sp_delay"])
    assert abs(coda_tau / ev["coda_tau"] - 1.0) < 0.15, (coda_tau, ev["coda_tau"])
    assert abs(ev["s_onset"] - ev["p_onset"] - ev["sp_delay"] * rec.fs) < 1e-6
    # all three components carry the event
    x = rec.sources["quake"][:, ev["start"]:ev["end"]].astype(np.float64)
    rms = np.sqrt(np.mean(x ** 2, axis=1))
    assert rms.min() > 0.1 * rms.max()


# --- background: multifractal and Gaussian parts, diurnal cycle --------------------------------
def _zeta(x, qs=(1, 2, 3, 4), lags=2 ** np.arange(10)):
    """Structure-function exponents of the walk cumsum(x) over lags 1..512 samples."""
    walk = np.cumsum(x, axis=-1)
    out = []
    for q in qs:
        s = [np.mean(np.abs(walk[..., lag:] - walk[..., :-lag]) ** q) for lag in lags]
        out.append(np.polyfit(np.log(lags), np.log(s), 1)[0])
    return np.array(out)


def test_mrw_is_multifractal_gaussian_part_is_not():
    rng = np.random.default_rng(11)
    n = 2 ** 19
    m = sm._mrw_increments(rng, n, 20.0)
    g = sm._shaped_noise(rng, n, 20.0, sm._background_psd)
    lam2 = sm.MRW_LAMBDA2
    big_t = sm.MRW_INTEGRAL_SCALE * 20.0
    # unit variance; increments heavy-tailed: kurtosis 3 exp(4 lambda^2 ln T) (about 13.5)
    assert abs(np.mean(m ** 2) - 1.0) < 0.15
    kurt = np.mean(m ** 4, axis=-1) / np.mean(m ** 2, axis=-1) ** 2
    assert kurt.min() > 6.0
    assert np.all(np.abs(np.log(kurt / (3 * math.exp(4 * lam2 * math.log(big_t))))) < 0.4)
    assert abs(np.mean(g ** 4) / np.mean(g ** 2) ** 2 - 3.0) < 0.1
    zm, zg = _zeta(m), _zeta(g)
    q = np.arange(1, 5)
    # MRW: zeta(q) = q/2 - lambda^2 q (q - 2)/2, concave (second differences -lambda^2)
    assert np.all(np.diff(zm, 2) < -0.01), zm
    assert np.all(np.abs(zm - (q / 2 - lam2 * q * (q - 2) / 2)) < 0.1), zm
    # Gaussian: zeta(q) = q zeta(2) / 2 whatever the spectrum (linear)
    assert np.all(np.abs(np.diff(zg, 2)) < 0.005), zg
    assert np.all(np.abs(zg - q * zg[1] / 2) < 0.01)


def test_background_diurnal_ratio(day):
    rec = day[0]
    h = _local_hours(rec)
    bg = rec.sources["background"].astype(np.float64)
    noisy_day = (h >= 9.0) & (h < 15.0)  # inside the documented 8-16 h plateau (gain 5)
    evening = (h >= 18.5) & (h < 22.5)  # inside the 18-23 h plateau (gain 1)
    ratio = math.sqrt(np.mean(bg[:, noisy_day] ** 2) / np.mean(bg[:, evening] ** 2))
    assert abs(ratio / sm.DIURNAL_DAY_GAIN - 1.0) < 0.15, ratio
    assert abs(math.sqrt(np.mean(bg[:, evening] ** 2)) - sm.BACKGROUND_RMS) < 0.15
    # non-Gaussian background: kurtosis of the evening samples above 3
    z = bg[:, evening]
    assert np.mean(z ** 4) / np.mean(z ** 2) ** 2 > 3.5


def test_wind_more_frequent_in_local_day(day):
    rec = day[0]
    h = _local_hours(rec)
    is_day = (h >= 9.0) & (h < 16.0)
    is_night = (h >= 19.0) | (h < 5.0)
    onsets = [int(round(e["onset"])) for e in _events(rec, "wind")]
    n_day = sum(is_day[i] for i in onsets if i < len(h))
    n_night = sum(is_night[i] for i in onsets if i < len(h))
    hours_day, hours_night = is_day.sum() / rec.fs / 3600, is_night.sum() / rec.fs / 3600
    assert n_day >= 3 and n_day / hours_day > 3.0 * n_night / hours_night


def test_event_rates_follow_the_documented_clocks():
    """Onset sampler over 40 sols vs the integral of the documented hourly rates."""
    rng = np.random.default_rng(3)
    duration = 40 * sm.SOL_SECONDS
    for rate, rmax in ((sm._wind_rate, sm.WIND_RATE_DAY),
                       (sm._glitch_rate, sm.GLITCH_RATE_BASE + sm.GLITCH_RATE_DAWN[1] + sm.GLITCH_RATE_DUSK[1])):
        t = np.asarray(sm._event_times(rng, duration, 0.0, rate, rmax))
        hours = (t * 24.0 / sm.SOL_SECONDS) % 24.0
        counts, edges = np.histogram(hours, bins=8, range=(0, 24))
        grid = np.linspace(0, 24, 24001)[:-1]
        r = rate(grid)
        expected = np.array([r[(grid >= a) & (grid < b)].mean() * (b - a) for a, b in zip(edges[:-1], edges[1:])])
        expected *= 40 * sm.SOL_SECONDS / 86400.0  # Earth hours per LMST hour
        # Poisson counts: within 4 standard deviations in every 3-hour bin
        assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected) + 1), (counts, expected.round(1))
    # glitches cluster at dawn (6.5 h) and dusk (17.5 h)
    assert counts[2] > 2 * counts[0] and counts[5] > 2 * counts[0]


# --- glitches -------------------------------------------------------------------------------
def test_glitches_one_sided_pulses(day):
    rec = day[0]
    n = rec.mixture.shape[1]
    glitches = _events(rec, "glitch")
    checked = 0
    for k, ev in enumerate(glitches):
        span = int(13 * ev["tau"] * rec.fs)
        a, b = int(ev["onset"]), int(ev["onset"]) + span
        if b > n or any(o is not ev and o["onset"] < b and o["onset"] + 13 * o["tau"] * rec.fs > a for o in glitches):
            continue  # truncated or overlapping another glitch
        x = rec.sources["glitch"][:, a:b].astype(np.float64)
        for c, amp in enumerate(ev["amplitudes"]):
            if amp == 0.0:
                assert not np.any(x[c])
                continue
            integral = x[c].sum() / rec.fs
            peak = x[c][np.argmax(np.abs(x[c]))]
            assert np.sign(integral) == np.sign(amp) == np.sign(peak)
            assert abs(integral) > 0.999 * np.abs(x[c]).sum() / rec.fs  # one-sided
            assert abs(peak / amp - 1.0) < 1e-3
            # critically damped response to an acceleration step: integral = e tau peak
            assert abs(integral / (math.e * ev["tau"] * peak) - 1.0) < 5e-3
        checked += 1
    assert checked >= 5
    assert any(len(ev["components"]) > 1 for ev in glitches)


# --- ObsPy ------------------------------------------------------------------------------------
def test_to_stream_round_trip(small):
    obspy = pytest.importorskip("obspy")
    rec = small[0]
    st = rec.to_stream()
    assert [tr.id for tr in st] == ["XB.ELYSE.02.BHU", "XB.ELYSE.02.BHV", "XB.ELYSE.02.BHW"]
    for i, tr in enumerate(st):
        assert tr.data.dtype == np.float32
        np.testing.assert_array_equal(tr.data, rec.mixture[i])
        assert tr.stats.starttime == obspy.UTCDateTime("2019-06-01T00:00:00")
        assert tr.stats.sampling_rate == 20.0 and tr.stats.npts == rec.mixture.shape[1]
    st[0].data[0] += 1.0  # the stream owns a copy
    assert st[0].data[0] != rec.mixture[0, 0]
    other = rec.to_stream(network="AA", station="BBB", location="")
    assert other[2].id == "AA.BBB..BHW"


def test_start_forms_agree():
    obspy = pytest.importorskip("obspy")
    import datetime

    a = synthetic_mars("small", days=0.01, start="2020-03-01T12:00:00")
    b = synthetic_mars("small", days=0.01, start=obspy.UTCDateTime(2020, 3, 1, 12))
    c = synthetic_mars("small", days=0.01, start=datetime.datetime(2020, 3, 1, 12))
    assert a.starttime == b.starttime == c.starttime == obspy.UTCDateTime(2020, 3, 1, 12)
    np.testing.assert_array_equal(a.mixture, c.mixture)


# --- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, exc, match", [
    ({"preset": "week"}, ValueError, r"preset='week' must be one of 'small', 'day', 'multiday'"),
    ({"days": 0}, ValueError, r"days=0.0 must be a finite number > 0"),
    ({"days": -1.5}, ValueError, r"days=-1.5 must be"),
    ({"days": float("nan")}, ValueError, r"days=nan"),
    ({"days": "2"}, TypeError, r"days='2' must be a real number"),
    ({"days": 0.001}, ValueError, r"days=0.001 gives a 86.4 s record; at least 600 s"),
    ({"fs": 0}, ValueError, r"fs=0.0 must be a finite number > 0"),
    ({"fs": -20.0}, ValueError, r"fs=-20.0 must be"),
    ({"fs": 10.0}, ValueError, r"fs=10.0 must be >= 20"),
    ({"seed": 1.5}, TypeError, r"seed=1.5 must be an int"),
    ({"seed": "3"}, TypeError, r"seed='3' must be an int"),
    ({"seed": None}, TypeError, r"seed=None must be an int"),
    ({"seed": True}, TypeError, r"seed=True must be an int"),
    ({"seed": -1}, ValueError, r"seed=-1 must be >= 0"),
    ({"start": "not a date"}, ValueError, r"start='not a date' is not a valid date"),
    ({"start": [2019]}, TypeError, r"start=\[2019\] must be"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        synthetic_mars(**kwargs)


def test_numpy_int_seed_accepted():
    a = synthetic_mars("small", days=0.01, seed=np.int64(4))
    b = synthetic_mars("small", days=0.01, seed=4)
    np.testing.assert_array_equal(a.mixture, b.mixture)
