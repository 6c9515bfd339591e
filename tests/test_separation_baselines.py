"""Tests of scatclust.separation's metrics and baselines (Wiener, band-pass, FastICA).

Oracles: analytic SNR values; the optimal (non-causal) Wiener filter's error for two
Gaussian processes of known spectra, MSE = int S_n S_s / (S_n + S_s) df (numerical
quadrature of the closed-form AR(1) spectrum); a tone's FFT bin; the known band of a
band-limited process; known mixing of independent sources (FastICA up to sign/scale).
"""
import math
import warnings

import numpy as np
import pytest
from scipy import signal

from scatclust.separation import (bandpass_filter, fastica_separate, prior_band, snr_db, snr_improvement_db,
                                  wiener_filter)

DTYPES = [np.float32, np.float64]
BASELINES = {"wiener": wiener_filter, "bandpass": bandpass_filter, "fastica": fastica_separate}


def _quiet(fn, *args, **kwargs):
    """FastICA may warn about convergence on noise-only components; that is not tested here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _lowpass(w, fc=0.1):
    return np.fft.irfft(np.fft.rfft(w) * (np.fft.rfftfreq(w.shape[-1]) < fc), n=w.shape[-1])


# --- metrics ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_snr_db_analytic_values(dtype):
    rng = np.random.default_rng(0)
    truth = rng.standard_normal(1000).astype(dtype)
    # estimate = (1 + e) truth: error e * truth, SNR = -20 log10 |e|
    for e in (0.1, -0.01, 1.0, 3.0):
        est = (truth.astype(np.float64) * (1 + e)).astype(dtype)
        tol = 1e-4 if dtype == np.float32 else 1e-9  # float32 rounding of est, relative to e
        assert abs(snr_db(est, truth) + 20 * math.log10(abs(e))) < tol / abs(e) * 10
    assert snr_db(np.zeros(1000, dtype), truth) == 0.0
    assert snr_db(truth, truth) == math.inf
    assert snr_db(np.zeros(5), np.zeros(5)) == math.inf
    assert snr_db(np.ones(5), np.zeros(5)) == -math.inf
    assert isinstance(snr_db(truth, truth * 2), float)


def test_snr_db_axis_and_channels():
    truth = np.ones((2, 100))
    est = truth + np.array([[0.1], [1.0]])
    np.testing.assert_allclose(snr_db(est, truth, axis=-1), [20.0, 0.0], atol=1e-12)
    # over all channels: 10 log10(200 / (100 * 0.01 + 100 * 1))
    assert abs(snr_db(est, truth) - 10 * math.log10(200 / 101.0)) < 1e-12


def test_snr_improvement_db():
    truth = np.ones(100)
    mixture = truth + 1.0
    assert abs(snr_improvement_db(truth + 0.1, truth, mixture) - 20.0) < 1e-9
    assert snr_improvement_db(mixture, truth, mixture) == 0.0
    np.testing.assert_allclose(snr_improvement_db(np.vstack([truth + 0.1, mixture]), np.vstack([truth, truth]),
                                                  np.vstack([mixture, mixture]), axis=1), [20.0, 0.0], atol=1e-9)


def test_snr_shape_mismatch():
    with pytest.raises(ValueError, match=r"estimate has shape \(3,\) but truth has shape \(4,\); pass arrays"):
        snr_db(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"mixture has shape \(2,\) but truth has shape \(3,\)"):
        snr_improvement_db(np.ones(3), np.ones(3), np.ones(2))


# --- Wiener ------------------------------------------------------------------------------------------
AR = 0.9
S_STD = 0.5


def _ar1(rng, shape, n):
    w = rng.standard_normal(tuple(shape) + (n + 300,))
    return signal.lfilter([1.0], [1.0, -AR], w, axis=-1)[..., 300:]


def _optimal_wiener_snr():
    """SNR (dB) of the non-causal Wiener filter for an AR(1) background (S_n = 1 / |1 - a
    e^{-i w}|^2) in white noise of variance S_STD^2: 10 log10(int S_n / int S_n S_s/(S_n + S_s))."""
    f = np.linspace(-0.5, 0.5, 200001)
    s_n = 1.0 / np.abs(1.0 - AR * np.exp(-2j * np.pi * f)) ** 2
    s_s = S_STD ** 2
    return 10 * math.log10(np.trapezoid(s_n, f) / np.trapezoid(s_n * s_s / (s_n + s_s), f))


def test_wiener_near_the_theoretical_optimum():
    opt = _optimal_wiener_snr()  # 14.64 dB
    snrs = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        n = _ar1(rng, (), 2048)
        s = S_STD * rng.standard_normal(2048)
        priors = _ar1(rng, (100,), 2048)
        bg, other = wiener_filter(n + s, priors)
        snrs.append(snr_db(bg, n))
        np.testing.assert_allclose(bg + other, n + s, atol=1e-12)
    # estimated spectra (one window for the mixture) cost about 0.6 dB; the mean over 10
    # seeds has a standard error of about 0.2 dB. Nothing beats the optimum by more than noise.
    mean = float(np.mean(snrs))
    assert opt - 1.0 < mean < opt + 0.3, (mean, opt)


def test_wiener_gain_for_white_processes():
    # white background (variance 1) + white noise (variance 1/3): the Wiener gain is the
    # constant 1 / (1 + 1/3) = 0.75, so the estimate is 0.75 x; its regression slope on x
    # has a standard error of about 0.01 (63 Welch segments of the mixture, 100 priors).
    slopes = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        n = rng.standard_normal(2048)
        x = n + rng.standard_normal(2048) / math.sqrt(3.0)
        bg, _ = wiener_filter(x, rng.standard_normal((100, 2048)))
        slopes.append(np.dot(bg, x) / np.dot(x, x))
    assert abs(np.mean(slopes) - 0.75) < 0.03, slopes


def test_wiener_passes_pure_background_and_removes_out_of_band_noise():
    rng = np.random.default_rng(1)
    priors = _lowpass(rng.standard_normal((50, 2048)))
    n = _lowpass(rng.standard_normal(2048))
    # background alone: S_x ~ S_n, the gain is ~1 and the background passes (> 15 dB)
    bg, _ = wiener_filter(n, priors)
    assert snr_db(bg, n) > 15
    # plus high-frequency noise: removed where the priors have no power
    s = np.fft.irfft(np.fft.rfft(rng.standard_normal(2048)) * (np.fft.rfftfreq(2048) > 0.2), n=2048)
    bg, other = wiener_filter(n + s, priors)
    assert snr_db(bg, n) > snr_db(n + s, n) + 15
    assert snr_db(other, s) > 15


# --- band-pass -----------------------------------------------------------------------------------------
def test_prior_band_of_a_band_limited_process():
    rng = np.random.default_rng(2)
    # flat spectrum on [0.1, 0.3): 90 % of its power lies in an interval 0.18 wide
    w = rng.standard_normal((40, 4096))
    f = np.fft.rfftfreq(4096)
    p = np.fft.irfft(np.fft.rfft(w) * ((f >= 0.1) & (f < 0.3)), n=4096)
    lo, hi = prior_band(p, fraction=0.9, nperseg=256)
    assert 0.1 - 1 / 256 <= lo <= 0.12 + 1 / 256 and 0.28 - 1 / 256 <= hi <= 0.3 + 1 / 256
    assert abs((hi - lo) - 0.18) <= 2 / 256 + 1e-12
    lo1, hi1 = prior_band(p, fraction=1.0, nperseg=256)
    assert lo1 <= lo and hi1 >= hi  # more power, wider band
    # two channels: one band each
    two = np.stack([p, _lowpass(w, 0.05)], axis=1)
    bands = prior_band(two, fraction=0.9, nperseg=256)
    assert bands.shape == (2, 2) and bands[1, 0] == 0.0 and bands[1, 1] <= 0.05 + 1 / 256


@pytest.mark.parametrize("dtype", DTYPES)
def test_bandpass_removes_an_out_of_band_tone(dtype):
    rng = np.random.default_rng(3)
    n = 2048
    priors = _lowpass(rng.standard_normal((20, n)))
    back = _lowpass(rng.standard_normal(n))
    tone = 2.0 * np.cos(2 * np.pi * 0.3 * np.arange(n) + 0.4)   # bin 614.4: not periodic in the window
    x = (back + tone).astype(dtype)
    bg, other = bandpass_filter(x, priors.astype(dtype))
    assert bg.dtype == dtype and other.dtype == dtype
    # The filter is linear (its gain depends on the priors only): what the tone leaves in
    # the background estimate is the filter applied to the tone alone. Away from the ends
    # it is 60 dB below the tone; the even reflection at the ends (a kink in the tone)
    # leaks a little over the first and last nperseg samples: 40 dB below overall.
    bg_tone, _ = bandpass_filter(tone.astype(dtype), priors.astype(dtype))
    bg_tone = bg_tone.astype(np.float64)
    inner = slice(64, n - 64)
    assert np.sum(bg_tone[inner] ** 2) / np.sum(tone[inner] ** 2) < 1e-6
    assert np.sum(bg_tone ** 2) / np.sum(tone ** 2) < 1e-4
    lin_tol = 1e-5 if dtype == np.float32 else 1e-12
    back_only, _ = bandpass_filter(back.astype(dtype), priors.astype(dtype))
    np.testing.assert_allclose(bg, back_only + bg_tone, atol=lin_tol * 10)
    # the tone went to the other part; the in-band background is kept (band: 90 % of it)
    assert snr_db(other, tone) > 8
    assert snr_db(bg, back) > 8


# --- FastICA ---------------------------------------------------------------------------------------------
def test_fastica_recovers_mixed_independent_sources():
    rng = np.random.default_rng(4)
    n = 4096
    A = np.array([[1.0, 0.6, 0.3], [0.4, 1.0, -0.5], [-0.3, 0.5, 1.0]])   # 3 sources -> 3 channels
    t = np.arange(n)

    def background(r):  # two independent non-Gaussian sources: uniform and Laplace noise
        return np.outer(A[:, 0], r.uniform(-1, 1, n)) + np.outer(A[:, 1], r.laplace(0, 0.5, n))

    sq = np.sign(np.sin(2 * np.pi * t / 300.0))                          # the other source
    n_true = background(rng)
    s_true = np.outer(A[:, 2], sq)
    priors = np.stack([background(rng) for _ in range(10)])
    bg, other = _quiet(fastica_separate, n_true + s_true, priors)
    assert bg.shape == other.shape == (3, n)
    # the other part is the square wave up to sign and scale in every channel
    for c in range(3):
        assert abs(np.corrcoef(other[c], sq)[0, 1]) > 0.95
    assert snr_db(bg, n_true) > 15 and snr_db(other, s_true) > 15


def test_fastica_single_channel_delay_embedding_removes_a_tone():
    rng = np.random.default_rng(5)
    n = 2048
    back = _ar1(rng, (), n)
    tone = 3.0 * np.cos(2 * np.pi * 0.2 * np.arange(n) + 1.0)
    priors = _ar1(rng, (20,), n)
    bg, other = _quiet(fastica_separate, back + tone, priors)
    # the tone spans two components of the embedding, both far from the priors' spectra
    assert snr_improvement_db(bg, back, back + tone) > 4
    assert abs(np.corrcoef(other, tone)[0, 1]) > 0.9


# --- common behaviour --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(BASELINES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(512,), (2, 512)])
def test_baselines_shapes_dtypes_and_sum(name, dtype, shape):
    rng = np.random.default_rng(6)
    # uniform noise: non-Gaussian, so that FastICA converges quickly
    x = rng.uniform(-1, 1, shape).astype(dtype)
    priors = rng.uniform(-1, 1, (5,) + shape).astype(dtype)
    bg, other = _quiet(BASELINES[name], x, priors)
    assert bg.shape == other.shape == shape and bg.dtype == other.dtype == dtype
    eps = float(np.finfo(dtype).eps)
    np.testing.assert_allclose(bg.astype(np.float64) + other, x, atol=8 * eps * np.abs(x).max())
    # deterministic
    bg2, _ = _quiet(BASELINES[name], x, priors)
    np.testing.assert_array_equal(bg, bg2)


@pytest.mark.parametrize("name", list(BASELINES))
def test_baselines_zero_contaminant_keeps_a_gaussian_background(name):
    # x is pure background, as the priors: nothing much should be removed
    rng = np.random.default_rng(7)
    priors = _ar1(rng, (30,), 2048)
    x = _ar1(rng, (), 2048)
    bg, _ = _quiet(BASELINES[name], x, priors)
    assert snr_db(bg, x) > 8  # band-pass keeps 90 % of the power: about 10 dB at best
    if name == "fastica":  # no component departs from the priors: nothing is removed
        np.testing.assert_allclose(bg, x, atol=1e-12)


@pytest.mark.parametrize("name", list(BASELINES))
@pytest.mark.parametrize("x_shape, p_shape, match", [
    ((64,), (3, 65), r"priors has shape \(3, 65\); expected \(R, 64\): R windows of the background with x's "
                     r"shape \(64,\)"),
    ((2, 64), (3, 64), r"priors has shape \(3, 64\); expected \(R, 2, 64\)"),
    ((2, 2, 64), (3, 2, 2, 64), r"x has shape \(2, 2, 64\); expected \(n,\) or \(C, n\)"),
    ((64,), (0, 64), r"priors holds R=0 windows; at least 1 is needed"),
    ((1,), (3, 1), r"x has 1 samples on its last axis; at least 2 are needed"),
])
def test_baselines_bad_shapes(name, x_shape, p_shape, match):
    with pytest.raises(ValueError, match=match):
        BASELINES[name](np.ones(x_shape), np.ones(p_shape))


@pytest.mark.parametrize("name", list(BASELINES))
def test_baselines_refuse_nan(name):
    x = np.ones(64)
    x[3] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN or Inf values"):
        BASELINES[name](x, np.ones((3, 64)))
    p = np.ones((3, 64))
    p[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"priors contains NaN or Inf values; drop those windows"):
        BASELINES[name](np.ones(64), p)


@pytest.mark.parametrize("fn, kwargs, match", [
    (wiener_filter, {"nperseg": 2}, r"nperseg=2 must be an int >= 4 \(the Welch segment length"),
    (bandpass_filter, {"fraction": 0.0}, r"fraction=0.0 must be a number in \(0, 1\]"),
    (bandpass_filter, {"fraction": 1.5}, r"fraction=1.5 must be a number in \(0, 1\]"),
    (fastica_separate, {"n_components": 20}, r"n_components=20 must be an int in \[1, 16\] \(the embedding"),
    (fastica_separate, {"embedding": 1}, r"embedding=1 must be an int in \[2, n/2 = 32\]"),
    (fastica_separate, {"threshold": -1.0}, r"threshold=-1.0 must be a finite number >= 0"),
])
def test_baseline_parameter_errors(fn, kwargs, match):
    rng = np.random.default_rng(8)
    with pytest.raises(ValueError, match=match):
        fn(rng.standard_normal(64), rng.standard_normal((3, 64)), **kwargs)


def test_fastica_multichannel_n_components_error():
    with pytest.raises(ValueError, match=r"n_components=4 must be an int in \[1, 3\] \(the number of channels\)"):
        fastica_separate(np.ones((3, 64)), np.ones((2, 3, 64)), n_components=4)
