"""Tests of the separation test data: scatclust.datasets.mrw, separation_toy,
mars_separation_cases.

Oracles: exact moments of the multifractal random walk (derived in the docstring of
scatclust.datasets._mrw and re-derived in the comments here: Gaussian moment identities and
the log-normal volatility), the fGn autocorrelation formula, the glitch pulse's analytic
integral (A e tau), the documented contaminant models re-typed here, the record's own
per-source waveforms and labels, and the pre-refactor synthetic_mars code (verbatim copies
below) for the bit-for-bit check.
"""
import math

import numpy as np
import pytest

from scatclust.datasets import SeparationCase, mars_separation_cases, mrw, separation_toy, synthetic_mars
from scatclust.datasets import _synthetic_mars as sm

LAM = 0.2


def _pair_sum(l, fn):
    """sum_{j,k<l} fn(|j-k|), by counting: lag d occurs (l - d) times, twice for d > 0."""
    d = np.arange(l, dtype=np.float64)
    w = np.where(d == 0, l, 2.0 * (l - d))
    return float(np.sum(w * fn(d)))


def _fgn_rho(d, h):
    d = np.abs(np.asarray(d, dtype=np.float64))
    return 0.5 * (np.abs(d + 1) ** (2 * h) - 2 * d ** (2 * h) + np.abs(d - 1) ** (2 * h))


# --- mrw: shapes, determinism -----------------------------------------------------------------
@pytest.mark.parametrize("size, shape", [(None, (64,)), (3, (3, 64)), ((2, 3), (2, 3, 64)), ((), (64,))])
def test_mrw_shapes_and_dtype(size, shape):
    m = mrw(64, size=size, seed=0)
    assert m.shape == shape and m.dtype == np.float64
    assert np.isfinite(m).all()


def test_mrw_deterministic_and_seeds_differ():
    np.testing.assert_array_equal(mrw(256, H=0.7, size=2, seed=5), mrw(256, H=0.7, size=2, seed=5))
    assert not np.array_equal(mrw(256, seed=5), mrw(256, seed=6))
    g = np.random.default_rng(3)
    np.testing.assert_array_equal(mrw(128, seed=g), mrw(128, seed=np.random.default_rng(3)))
    # realisations of one call are independent draws, not copies
    m = mrw(256, size=2, seed=1)
    assert not np.array_equal(m[0], m[1])


def test_mrw_lam_zero_is_gaussian_white_noise():
    m = mrw(4096, lam=0.0, size=50, seed=2)
    # N(0, 1): variance 1, kurtosis 3 (standard errors ~0.003 and ~0.01 over 204800 samples)
    assert abs(m.var() - 1.0) < 0.02
    assert abs(np.mean(m ** 4) / np.mean(m ** 2) ** 2 - 3.0) < 0.1
    assert abs(np.mean(m[:, 1:] * m[:, :-1])) < 0.01


@pytest.fixture(scope="module")
def mrw_half():
    """400 realisations of 2048 increments, H = 0.5, lam = 0.2, T = 2048."""
    return mrw(2048, H=0.5, lam=LAM, size=400, seed=1)


def test_mrw_variance_and_log_moments(mrw_half):
    m = mrw_half
    big_t = 2048
    lam2 = LAM ** 2
    # E[m^2] = E[eps^2] E[exp(2 omega)] = 1 (the mean of omega is chosen so)
    assert abs(m.var() - 1.0) < 0.1
    # ln|m| = ln|eps| + omega: E ln|eps| = -(gamma + ln 2) / 2, Var ln|eps| = pi^2 / 8
    lm = np.log(np.abs(m))
    e_log = -lam2 * math.log(big_t) - (np.euler_gamma + math.log(2.0)) / 2.0
    v_log = lam2 * math.log(big_t) + math.pi ** 2 / 8.0
    assert abs(lm.mean() - e_log) < 0.05
    assert abs(lm.var() / v_log - 1.0) < 0.05


@pytest.mark.parametrize("lag", [1, 4, 16, 64, 256])
def test_mrw_log_covariance_is_logarithmic(mrw_half, lag):
    # Cov(ln|m_j|, ln|m_k|) = Cov(omega_j, omega_k) = lam^2 ln(T / (|j-k| + 1)) for j != k
    # (eps white, independent of omega); the realisations share no volatility, so the
    # estimate over 400 x 2048 samples has a standard error of about 0.01.
    lm = np.log(np.abs(mrw_half))
    mu = lm.mean()
    cov = np.mean((lm[:, lag:] - mu) * (lm[:, :-lag] - mu))
    assert abs(cov - LAM ** 2 * math.log(2048 / (lag + 1))) < 0.03


@pytest.mark.parametrize("lag", [4, 32, 256])
def test_mrw_walk_second_and_fourth_moments(mrw_half, lag):
    walk = np.cumsum(mrw_half, axis=-1)
    inc = walk[:, lag:] - walk[:, :-lag]
    big_t, lam2 = 2048, LAM ** 2
    # E[X(l)^2] = sum_jk E[eps_j eps_k] E[e^{omega_j + omega_k}] = l (white eps)
    assert abs(np.mean(inc ** 2) / _pair_sum(lag, lambda d: (d == 0) * (d + 1.0) ** (-lam2)) - 1.0) < 0.1
    # E[X(l)^4] = 3 sum_jk E[e^{2 omega_j + 2 omega_k}] = 3 sum_jk (T / (|j-k| + 1))^(4 lam^2)
    # (Isserlis for eps); the sample 4th moment of a log-normal mixture is biased low and
    # noisy (heavy tails), hence 35 %; lam^2 in place of lam would miss by a factor > 3.
    m4 = 3.0 * _pair_sum(lag, lambda d: (big_t / (d + 1.0)) ** (4.0 * lam2))
    assert abs(np.mean(inc ** 4) / m4 - 1.0) < 0.35


def test_mrw_structure_function_exponent_q2():
    # zeta(2) = 1 exactly for H = 0.5 (Bacry et al.: zeta(q) = q/2 - lam^2 q (q-2) / 2),
    # and 2H - lam^2 = qH - lam^2 q (q-1)/2 at q = 2 for H > 0.5 (exact second moment below).
    lags = np.array([2, 4, 8, 16, 32])
    for h, zeta2, tol in ((0.5, 1.0, 0.03), (0.8, 2 * 0.8 - LAM ** 2, 0.05)):
        walk = np.cumsum(mrw(2048, H=h, lam=LAM, size=200, seed=4), axis=-1)
        s2 = [np.mean((walk[:, l:] - walk[:, :-l]) ** 2) for l in lags]
        slope = np.polyfit(np.log(lags), np.log(s2), 1)[0]
        # the exact finite-l moments have local slope close to zeta(2) already at these lags
        exact = [_pair_sum(l, lambda d: _fgn_rho(d, h) * (d + 1.0) ** (-LAM ** 2)) for l in lags]
        exact_slope = np.polyfit(np.log(lags), np.log(exact), 1)[0]
        assert abs(exact_slope - zeta2) < tol
        assert abs(slope - exact_slope) < 0.03


@pytest.mark.parametrize("h", [0.3, 0.7])
def test_mrw_fractional_increments_covariance(h):
    # E[m_j m_k] = rho_H(|j-k|) (|j-k| + 1)^(-lam^2) and E[X(l)^2] the double sum of it
    m = mrw(2048, H=h, lam=LAM, size=300, seed=7)
    for d in (1, 2, 8):
        want = _fgn_rho(d, h) * (d + 1.0) ** (-LAM ** 2)
        got = np.mean(m[:, d:] * m[:, :-d])
        assert abs(got - want) < 0.02 + 0.06 * abs(want), (d, got, want)
    walk = np.cumsum(m, axis=-1)
    for lag in (16, 128):
        exact = _pair_sum(lag, lambda d: _fgn_rho(d, h) * (d + 1.0) ** (-LAM ** 2))
        assert abs(np.mean((walk[:, lag:] - walk[:, :-lag]) ** 2) / exact - 1.0) < 0.1


def test_mrw_integral_scale_sets_the_log_covariance_range():
    # beyond T the log-volatilities are uncorrelated, within it logarithmically correlated
    m = mrw(1024, lam=0.3, size=400, seed=9, integral_scale=64)
    lm = np.log(np.abs(m))
    mu = lm.mean()
    c = lambda d: np.mean((lm[:, d:] - mu) * (lm[:, :-d] - mu))  # noqa: E731
    assert abs(c(200)) < 0.015
    assert abs(c(7) - 0.09 * math.log(64 / 8)) < 0.03


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, r"n=0 must be an int >= 1"),
    ({"n": 2.5}, r"n=2.5 must be an int >= 1"),
    ({"n": 64, "H": 1.0}, r"H=1.0 is out of range; valid range is \(0.0, 1.0\)"),
    ({"n": 64, "H": 0.0}, r"H=0.0 is out of range"),
    ({"n": 64, "lam": -0.1}, r"lam=-0.1 is out of range; valid range is \[0.0, None\]"),
    ({"n": 64, "lam": float("nan")}, r"lam=nan must be a finite real number"),
    ({"n": 64, "integral_scale": 1}, r"integral_scale=1 must be an int >= 2"),
    ({"n": 64, "size": -1}, r"size=\(-1,\) must hold ints >= 0"),
    ({"n": 64, "size": "a"}, r"size=\('a',\) must hold ints"),
    ({"n": 64, "seed": -2}, r"seed=-2 must be >= 0"),
    ({"n": 64, "seed": 1.5}, r"seed=1.5 must be None, an int >= 0 or a numpy Generator"),
])
def test_mrw_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mrw(**kwargs)


# --- synthetic_mars unchanged by the refactor ------------------------------------------------------
def _old_mrw_increments(rng, n, fs, lam2=sm.MRW_LAMBDA2, integral_scale=sm.MRW_INTEGRAL_SCALE, n_channels=3):
    """Verbatim copy of _synthetic_mars._mrw_increments before the log-volatility moved to _mrw."""
    big_t = max(2, int(round(integral_scale * fs)))
    nfft = sm._fast_len(n + big_t)
    lag = np.arange(nfft // 2 + 1, dtype=np.float64)
    cov_half = np.where(lag < big_t, lam2 * np.log(big_t / (lag + 1.0)), 0.0)
    cov = np.concatenate([cov_half, cov_half[1:(nfft + 1) // 2][::-1]])
    spec_cov = np.fft.rfft(cov).real
    del cov
    np.maximum(spec_cov, 0.0, out=spec_cov)
    spec = np.fft.rfft(rng.standard_normal(nfft))
    spec *= np.sqrt(spec_cov)
    omega = np.fft.irfft(spec, n=nfft)[:n]
    del spec, spec_cov
    omega += -lam2 * math.log(big_t)
    vol = np.exp(omega, out=omega)
    return rng.standard_normal((n_channels, n)) * vol


def _old_make_glitch(rng, out, fs, lmst0):
    """Verbatim copy of _synthetic_mars._make_glitch before glitch_pulse was factored out."""
    n = out.shape[1]
    duration = n / fs
    rate_max = sm.GLITCH_RATE_BASE + sm.GLITCH_RATE_DAWN[1] + sm.GLITCH_RATE_DUSK[1]
    events = []
    for t0 in sm._event_times(rng, duration, lmst0, sm._glitch_rate, rate_max):
        tau = rng.uniform(*sm.GLITCH_TAU)
        ncomp = int(rng.choice([1, 2, 3], p=[0.55, 0.25, 0.2]))
        comps = np.sort(rng.choice(3, size=ncomp, replace=False))
        amps = np.zeros(3)
        for c in comps:
            amps[c] = rng.choice([-1.0, 1.0]) * sm.GLITCH_AMPLITUDE_MEDIAN * math.exp(0.7 * rng.standard_normal())
        onset = t0 * fs
        i0 = int(math.floor(onset))
        m = int(math.ceil(12.0 * tau * fs)) + 2
        x = (np.arange(m) + i0 - onset) / (tau * fs)
        shape = np.where(x > 0, x * np.exp(1.0 - np.maximum(x, 0.0)), 0.0)
        sm._add_segment(out, amps[:, None] * shape[None, :], i0)
        start, end = sm._interval(shape, i0, n)
        events.append({"source": "glitch", "start": start, "end": end, "onset": float(onset),
                       "lmst": float(sm._local_hours(lmst0, t0)), "tau": float(tau),
                       "components": "".join(sm.COMPONENTS[c] for c in comps),
                       "amplitudes": [float(a) for a in amps]})
    return events


@pytest.mark.parametrize("seed", [0, 3])
def test_synthetic_mars_unchanged_bit_for_bit(monkeypatch, seed):
    new = synthetic_mars("small", days=0.05, seed=seed)
    monkeypatch.setattr(sm, "_mrw_increments", _old_mrw_increments)
    monkeypatch.setitem(sm._BUILDERS, "glitch", _old_make_glitch)
    old = synthetic_mars("small", days=0.05, seed=seed)
    np.testing.assert_array_equal(new.mixture, old.mixture)
    for name in sm.SOURCES:
        np.testing.assert_array_equal(new.sources[name], old.sources[name])
        np.testing.assert_array_equal(new.labels[name], old.labels[name])
    assert new.events == old.events


# --- separation_toy -----------------------------------------------------------------------------------
@pytest.mark.parametrize("contaminant", ["pulses", "square", "glitch"])
def test_toy_shapes_sum_and_determinism(contaminant):
    a = separation_toy(contaminant, n=512, R=7, seed=2)
    assert isinstance(a, SeparationCase)
    assert a.x.shape == a.n.shape == a.s.shape == (512,) and a.priors.shape == (7, 512)
    assert all(v.dtype == np.float64 for v in (a.x, a.n, a.s, a.priors))
    np.testing.assert_array_equal(a.x, a.n + a.s)
    b = separation_toy(contaminant, n=512, R=7, seed=2)
    for f in ("x", "n", "s", "priors"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    c = separation_toy(contaminant, n=512, R=3, seed=2)  # R changes the priors only
    np.testing.assert_array_equal(c.s, a.s)
    np.testing.assert_array_equal(c.n, a.n)
    d = separation_toy(contaminant, n=512, R=7, seed=3)
    assert not np.array_equal(d.s, a.s) and not np.array_equal(d.n, a.n)
    assert a.info["kind"] == contaminant


def test_toy_background_and_priors_are_independent_unit_variance_mrw():
    case = separation_toy("square", n=2048, R=200, seed=0)
    p = case.priors
    assert abs(p.var() - 1.0) < 0.1
    # kurtosis 3 T^(4 lam^2) (E m^4 = 3 E e^{4 omega}), lognormal: a loose check that the
    # priors are the multifractal walk (Gaussian noise would give 3)
    kurt = np.mean(p ** 4) / np.mean(p ** 2) ** 2
    assert kurt > 6.0
    # independent realisations: no correlation between priors or with the background
    corr = np.corrcoef(np.vstack([case.n, p[:20]]))
    assert np.abs(corr[np.triu_indices(21, 1)]).max() < 0.15


def test_toy_pulses_follow_their_model():
    n = 2048
    case = separation_toy("pulses", n=n, R=1, seed=11)
    t = np.arange(n)
    pulses = case.info["pulses"]
    assert len(pulses) == 3
    want = sum(p["amplitude"] * np.exp(-np.abs(t - p["t0"]) / p["tau"]) for p in pulses)
    np.testing.assert_allclose(case.s, want, rtol=1e-12, atol=1e-12)
    for p in pulses:
        assert 0.1 * n <= p["t0"] <= 0.9 * n and 4 <= p["tau"] <= 16 and 3 <= abs(p["amplitude"]) <= 6


def test_toy_square_is_half_the_background_std():
    for seed in range(5):
        case = separation_toy("square", n=1024, R=1, seed=seed)
        on = case.s != 0
        assert np.all(case.s[on] == 0.5)  # 0.5 x the background std (1)
        idx = np.flatnonzero(on)
        assert np.all(np.diff(idx) == 1)  # one contiguous block
        assert 1024 / 8 - 1 <= idx.size <= 1024 / 4 + 1 and idx[-1] < 0.9 * 1024


def test_toy_glitches_are_one_sided_mars_pulses():
    n = 4096
    for seed in range(4):
        case = separation_toy("glitch", n=n, R=1, seed=seed)
        gl = case.info["glitches"]
        assert len(gl) == 2
        total = np.zeros(n)
        for g in gl:
            x = (np.arange(n + 30 * 60) - g["onset"]) / g["tau"]  # past the window: whole pulse
            pulse = g["amplitude"] * np.where(x > 0, x * np.exp(1.0 - x), 0.0)
            # the critically damped step response integrates to A e tau, peaks at A
            assert abs(pulse.sum() / (g["amplitude"] * math.e * g["tau"]) - 1.0) < 0.01
            assert abs(pulse[np.argmax(np.abs(pulse))] / g["amplitude"] - 1.0) < 0.01
            assert np.all(pulse[: int(g["onset"]) + 1] == 0.0)  # nothing before the onset
            total += pulse[:n]
        np.testing.assert_allclose(case.s, total, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"contaminant": "spike"}, r"contaminant='spike' must be one of 'pulses', 'square', 'glitch'"),
    ({"contaminant": "square", "n": 8}, r"n=8 must be an int >= 16"),
    ({"contaminant": "square", "R": 0}, r"R=0 must be an int >= 1 \(e.g. R=100\)"),
    ({"contaminant": "square", "seed": -1}, r"seed=-1 must be >= 0"),
    ({"contaminant": "square", "seed": np.random.default_rng(0)}, r"seed must be an int >= 0, a SeedSequence"),
    ({"contaminant": "square", "lam": -1.0}, r"lam=-1.0 is out of range"),
])
def test_toy_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        separation_toy(**kwargs)


# --- Mars-like cases ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def record():
    return synthetic_mars("small", days=0.1, seed=2)


@pytest.mark.parametrize("kind, source", [("deglitch", "glitch"), ("wind", "wind")])
def test_mars_cases_truth_priors_and_windows(record, kind, source):
    n, R = 1024, 12
    cases = mars_separation_cases(kind, n=n, R=R, record=record)
    events = [e for e in record.events if e["source"] == source]
    assert len(cases) == len(events) >= 1
    starts = [c.info["start"] for c in cases]
    for c, ev in zip(cases, events):
        a = c.info["start"]
        assert c.x.shape == c.n.shape == c.s.shape == (3, n) and c.priors.shape == (R, 3, n)
        assert c.info["event"] is ev and c.info["source"] == source and c.info["fs"] == record.fs
        # truth: the record's own waveforms
        np.testing.assert_array_equal(c.x, record.mixture[:, a:a + n].astype(np.float64))
        np.testing.assert_array_equal(c.s, record.sources[source][:, a:a + n].astype(np.float64))
        np.testing.assert_allclose(c.n + c.s, c.x, rtol=0, atol=1e-12 * np.abs(c.x).max())
        others = sum(record.sources[k][:, a:a + n].astype(np.float64) for k in sm.SOURCES if k != source)
        np.testing.assert_allclose(c.n, others, atol=1e-4 * np.abs(c.x).max())
        # the window holds the event (all of it when it fits)
        lo, hi = ev["start"], ev["end"]
        if hi - lo <= n:
            assert a <= lo and hi <= a + n
        else:
            assert lo <= a and a + n <= hi
        assert np.abs(c.s).max() > 0
        # priors: source-free, disjoint from every test window and from each other
        ps = c.info["prior_starts"]
        assert ps.size == R and np.all(np.diff(ps) >= n)
        for p, w in zip(ps, c.priors):
            assert not record.labels[source][p:p + n].any()
            assert all(abs(int(p) - t) >= n for t in starts)
            np.testing.assert_array_equal(w, record.mixture[:, p:p + n].astype(np.float64))


def test_mars_priors_are_the_closest_in_time(record):
    n, R = 1024, 5
    c = mars_separation_cases("deglitch", n=n, R=R, record=record)[0]
    ps = c.info["prior_starts"]
    far = np.abs(ps + n / 2 - (c.info["start"] + n / 2)).max()
    # every eligible (source-free, disjoint) grid window closer than the farthest prior
    # overlaps a chosen prior
    lab = record.labels["glitch"]
    tests = [k.info["start"] for k in mars_separation_cases("deglitch", n=n, R=R, record=record)]
    for q in range(0, record.mixture.shape[1] - n + 1, n // 2):
        if lab[q:q + n].any() or any(abs(q - t) < n for t in tests) or q in ps:
            continue
        if abs(q + n / 2 - (c.info["start"] + n / 2)) < far:
            assert any(abs(q - p) < n for p in ps)


def test_mars_cases_deterministic_and_max_events(record):
    a = mars_separation_cases("deglitch", n=512, R=4, seed=1, days=0.05)
    b = mars_separation_cases("deglitch", n=512, R=4, seed=1, days=0.05)
    assert len(a) == len(b)
    for ca, cb in zip(a, b):
        np.testing.assert_array_equal(ca.priors, cb.priors)
        np.testing.assert_array_equal(ca.x, cb.x)
    assert len(mars_separation_cases("deglitch", n=512, R=4, record=record, max_events=1)) == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "donk"}, r"kind='donk' must be one of 'deglitch', 'wind'"),
    ({"n": 4}, r"n=4 must be an int >= 16"),
    ({"R": 0}, r"R=0 must be an int >= 1"),
    ({"R": 5000}, r"R=5000: only \d+ windows of n=1024 samples free of glitch"),
    ({"n": 10 ** 6}, r"n=1000000 is longer than the record \(172800 samples\)"),
    ({"max_events": 0}, r"max_events=0 must be an int >= 1"),
])
def test_mars_bad_arguments(record, kwargs, match):
    args = {"kind": "deglitch", "n": 1024, "R": 4, "record": record, **kwargs}
    with pytest.raises(ValueError, match=match):
        mars_separation_cases(**args)
