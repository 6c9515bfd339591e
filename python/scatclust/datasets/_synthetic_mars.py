r"""Mars-like synthetic 3-component seismic records with ground truth.

``synthetic_mars`` builds a multi-day, 3-component (U, V, W) record at 20 samples/s that
mimics the signal classes described for the InSight VBB seismometer (Lognonné et al. 2020,
Nat. Geosci.; Scholz et al. 2020, Earth Space Sci., for glitches; Clinton et al. 2021,
PEPI, for the marsquake catalogue; Siahkoohi et al. 2023, arXiv:2305.16189, for the
unsupervised source-separation setting). It returns the mixture, every source's waveform
and a per-sample activity label for each source, so that clustering and separation
results can be scored against a known truth.

The record is a plain sum of six independent sources::

    mixture = background + wind + glitch + donk + quake + tone

Units are arbitrary, velocity-like: the quiet-evening background has an RMS of 1
(``BACKGROUND_RMS``). Every amplitude below is relative to that level.

Clock
-----
Local time is Mars local mean solar time (LMST) at the InSight lander
(``INSIGHT_LONGITUDE`` = 135.623447 deg E). LMST at sample 0 comes from the Mars24
formula (Allison & McEwen 2000): JD_TT = JD_UTC + 69.184 s (TT - UTC valid from 2017 on),
MST = 24 h x frac((JD_TT - 2451549.5) / 1.0274912517 + 44796.0 - 0.0009626),
LMST = MST + longitude / 15 h; afterwards LMST advances 24 h per sol of
``SOL_SECONDS`` = 88775.244 s. Diurnal modulations and event rates are functions of
LMST hours ``h`` in [0, 24).

Geometry
--------
Sources with a ground-motion direction (wind, donks, quakes) and the background are built
as (Z up, N, E) motion and projected on the VBB's oblique axes (``UVW_DIP`` = -29.4,
-29.2, -29.7 deg, SEED convention, negative = up; ``UVW_AZIMUTH`` = 135.1, 15.0,
255.0 deg): u_i = -sin(dip_i) Z + cos(dip_i) (cos(az_i) N + sin(az_i) E). Isotropic
motion therefore gives weakly anti-correlated U, V, W (about -0.14), a polarised one
strongly correlated components.

Sources
-------
background (always on; mimics the ambient/self noise of the quiet VBB, and its strong
    day/night contrast)
    ``g(h) * BACKGROUND_RMS * (sqrt(1 - phi) G(t) + sqrt(phi) M(t))``, phi =
    ``MRW_FRACTION`` = 0.3 of the variance.

    * G: coloured Gaussian noise, isotropic in (Z, N, E), unit variance, one-sided PSD
      shape ``S(f) = (f_ref^2 / (f^2 + f_lo^2))^(beta/2) + B exp(-ln(f/f_b)^2 / (2 w^2))``:
      a red component (``BACKGROUND_BETA`` = 1.0, i.e. PSD ~ f^-1 above f_lo =
      ``BACKGROUND_F_LO`` = 0.05 Hz, f_ref = 1 Hz) plus a microseism-like log-normal bump
      (f_b = ``BACKGROUND_BUMP_FREQ`` = 0.25 Hz, w = ``BACKGROUND_BUMP_WIDTH`` = 0.35
      in ln f, B = ``BACKGROUND_BUMP_LEVEL`` = 20, i.e. 5x the red level at f_b).
      Synthesised by shaping white noise in the Fourier domain (circular, length >= L).
    * M: increments of a multifractal random walk (Bacry, Delour & Muzy 2001), built from
      its definition: ``M[k] = eps[k] exp(omega[k])`` with eps i.i.d. N(0, 1) per
      component and one log-volatility omega shared by the three components: a stationary
      Gaussian process with covariance ``lambda^2 ln(T / (|k| + 1))`` for lags |k| < T
      (samples), 0 beyond, and mean ``-lambda^2 ln T`` so that E[M^2] = 1. Intermittency
      ``MRW_LAMBDA2`` = 0.04, integral scale ``MRW_INTEGRAL_SCALE`` = 600 s. omega is
      synthesised exactly by circulant embedding (the embedded spectrum is positive for
      this kernel). The running sum of M is the MRW: its structure functions scale as
      E|X(t+l) - X(t)|^q ~ l^zeta(q), zeta(q) = q/2 - lambda^2 q (q - 2) / 2 (concave),
      and its one-sample increments have kurtosis 3 exp(4 lambda^2 ln T) (about 12).
    * g(h): diurnal gain, linear in log-amplitude between the knots ``DIURNAL_KNOTS``
      (LMST hour, gain): (0, 1.5), (5, 1.5), (8, 5), (16, 5), (18, 1), (23, 1), periodic.
      Noisy days (gain ``DIURNAL_DAY_GAIN`` = 5 on 8-16 h), the quietest evenings (gain 1
      on 18-23 h), a slightly noisier night (1.5). The day/evening RMS ratio is 5.

wind (bursts; mimics atmospheric/wind-induced noise of convective daytime gusts)
    Burst onsets: inhomogeneous Poisson process with rate ``WIND_RATE_NIGHT`` = 0.1 /h +
    (``WIND_RATE_DAY`` = 1.2 /h - 0.1 /h) x D(h), D = 0 outside 7-18 h, 1 on 9-16 h,
    linear ramps. Duration: log-normal, median ``WIND_DURATION_MEDIAN`` = 20 min,
    sigma_ln = 0.5, clipped to 5-90 min (tens of minutes). Envelope: cosine ramps (rise
    20 %, decay 30 % of the duration) times a gust factor exp(0.4 s(t) - 0.08), s a
    smooth unit-variance Gaussian process with 20 s correlation. Amplitude (about the mean
    component RMS at the
    envelope's plateau): log-normal, median ``WIND_AMPLITUDE_MEDIAN`` = 6, sigma_ln 0.5.
    Spectrum: PSD ``S_w(f) = (f/f1)^2 / (1 + (f/f1)^2) / (1 + (f/f2)^4)``, f1 =
    ``WIND_F1`` = 0.1 Hz, f2 = ``WIND_F2`` = 4 Hz: flat (broadband) from 0.1 to 4 Hz,
    f^2 below, f^-4 above. Polarisation: one noise along the wind azimuth (uniform),
    weight 1; independent cross-wind (0.3) and vertical (0.4) noises; hence strongly
    correlated U, V, W.

glitch (mimics the VBB's "glitches": its response to a step in acceleration, Scholz et al.
    2020)
    A step of acceleration a is a ramp of velocity; through the velocity transfer
    function of a critically damped 2nd-order high-pass s^2 / (s + w0)^2 it gives the
    one-sided pulse ``y(t) = A (t / tau) exp(1 - t / tau)`` for t >= 0 (tau = 1 / w0, peak A
    at t = tau, integral ``A e tau``). tau: uniform ``GLITCH_TAU`` = 8-14 s (corner
    periods 50-90 s), so the pulse lasts about a minute (5.7 tau above 5 % of its
    peak). Onsets: Poisson with rate ``GLITCH_RATE_BASE`` = 0.5 /h plus von Mises bumps
    (kappa = 20, i.e. about 0.9 h wide) of peak rate 3 /h at dawn (6.5 h) and 4 /h at dusk
    (17.5 h): the temperature-driven clustering. Components: one (55 %), two (25 %) or
    three (20 %), chosen at random; per component amplitude: random sign x median
    ``GLITCH_AMPLITUDE_MEDIAN`` = 30 x log-normal(sigma_ln 0.7). Onsets at fractional
    sample times.

donk (short high-frequency transients, mimics the thermally driven "donks")
    Gabor atoms ``A cos(2 pi f_c (t - t0) + phi) exp(-(t - t0)^2 / (2 sigma^2))`` with
    f_c uniform ``DONK_FREQ`` = 6-7.5 Hz and sigma uniform ``DONK_SIGMA`` = 0.12-0.35 s
    (0.6-1.7 s above 5 % of the peak), amplitude log-normal median
    ``DONK_AMPLITUDE_MEDIAN`` = 6 (sigma_ln 0.5), random 3-D polarisation. Energy
    spectrum: Gaussian around f_c with standard deviation 1 / (2 sqrt(2) pi sigma)
    (<= 0.94 Hz), so most energy lies in ``DONK_BAND`` = 5-9 Hz. Onsets: Poisson, rate
    ``DONK_RATE_BASE`` = 4 /h plus an evening von Mises bump (kappa 8) peaking at 15 /h at
    19 h.

quake (occasional marsquakes, Clinton et al. 2021 families)
    Onsets: Poisson, ``QUAKE_RATE`` = 1 per sol, uniform in time (the order of the
    InSight catalogue rate in quiet seasons). Family 'LF' (p = 0.5):
    band 0.1-1 Hz (PSD 1/(1 + (0.1/f)^8) / (1 + (f/1)^8)), S-P delay uniform 120-400 s,
    coda decay time tau_c uniform 60-180 s; family 'HF': narrow band around 2.4 Hz
    (Gaussian PSD, standard deviation 0.25 Hz, the 2.4 Hz resonance), S-P delay 60-240 s,
    tau_c 150-400 s. Each arrival (P at t_P, S at t_S = t_P + S-P) has the envelope
    ``e(t) = (1 - exp(-t / tau_r)) exp(-t / tau_c)`` (t from the arrival; rise time
    tau_r uniform 1-4 s for P, 2-8 s for S; the same tau_c for both, i.e. one coda Q) and
    carries band-limited Gaussian noise: 80 % of the energy polarised (P along the ray,
    incidence 25 deg, back azimuth uniform; S transverse) and 20 % isotropic. Peak RMS
    amplitudes: A_P log-normal median ``QUAKE_AMPLITUDE_MEDIAN`` = 4 (sigma_ln 0.6),
    A_S = A_P x uniform(1.5, 3). Waveform length: t_S - t_P + 5 tau_c.

tone (always on; mimics the narrow-band lander/electronics line)
    ``a(t) cos(2 pi f_t t + phi_c)`` with f_t = ``TONE_FREQ`` = 1.0 Hz, per-component
    random phase phi_c and weights (1, 0.7, 0.5) x ``TONE_AMPLITUDE`` = 0.3; slow
    amplitude wander a(t) = exp(0.3 s(t) - 0.045), s a smooth unit-variance Gaussian
    process with a 30-minute correlation time.

Labels and events
-----------------
Always-on sources (background, tone) are labelled True everywhere. For each event of a
discrete source (wind, glitch, donk, quake) the label is True over the event interval
``[start, end)``, from the first to the last sample where that event's deterministic
amplitude envelope is at least ``LABEL_FRACTION`` = 5 % of its peak (glitch: |y|; donk:
the Gaussian; wind: ramps x gust factor; quake: sqrt(A_P^2 e_P^2 + A_S^2 e_S^2)), clipped
to the record. A source's label is the union of its events' intervals. ``events`` lists
every discrete event (sorted by start) with ``source``, ``start``, ``end`` (sample
indices, end exclusive), ``onset`` (sample index, float), ``lmst`` (hours at onset) and
the event's parameters.

Every record holds at least one event of each discrete source: when the Poisson draw
gives none, one is drawn from the rate-weighted time distribution (the quake then starts
early enough to fit in the record when possible).

Reproducibility: one ``numpy.random.SeedSequence(seed)`` spawns an independent generator
per source, so the same seed gives identical output and sources do not depend on each
other's draws. Memory: each source is synthesised straight into its float32 (3, L) array;
the largest temporaries are a few float64 length-L vectors.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import numbers

import numpy as np

from .._array import check_choice
from ._mrw import _fast_len, log_volatility

__all__ = ["SyntheticMars", "synthetic_mars"]

# ---------------------------------------------------------------------------------------
# Model parameters (documented in the module docstring).
SOL_SECONDS = 88775.244
INSIGHT_LONGITUDE = 135.623447  # deg E
TT_MINUS_UTC = 69.184  # s, valid from 2017-01-01 on
UVW_DIP = (-29.4, -29.2, -29.7)  # deg, SEED convention (positive down)
UVW_AZIMUTH = (135.1, 15.0, 255.0)  # deg clockwise from north
COMPONENTS = "UVW"
SOURCES = ("background", "wind", "glitch", "donk", "quake", "tone")
PRESETS = {"small": 2.0 / 24.0, "day": 1.0, "multiday": 3.0}  # days
MIN_DURATION = 600.0  # s
MIN_FS = 20.0  # Hz: the donk band reaches 9 Hz
LABEL_FRACTION = 0.05

BACKGROUND_RMS = 1.0
BACKGROUND_BETA = 1.0
BACKGROUND_F_LO = 0.05
BACKGROUND_BUMP_FREQ = 0.25
BACKGROUND_BUMP_WIDTH = 0.35
BACKGROUND_BUMP_LEVEL = 20.0
MRW_FRACTION = 0.3
MRW_LAMBDA2 = 0.04
MRW_INTEGRAL_SCALE = 600.0  # s
DIURNAL_KNOTS = ((0.0, 1.5), (5.0, 1.5), (8.0, 5.0), (16.0, 5.0), (18.0, 1.0), (23.0, 1.0))
DIURNAL_DAY_GAIN = 5.0

WIND_RATE_NIGHT = 0.1  # per hour
WIND_RATE_DAY = 1.2
WIND_DURATION_MEDIAN = 1200.0  # s
WIND_DURATION_RANGE = (300.0, 5400.0)
WIND_AMPLITUDE_MEDIAN = 6.0
WIND_F1 = 0.1
WIND_F2 = 4.0

GLITCH_TAU = (8.0, 14.0)  # s
GLITCH_RATE_BASE = 0.5  # per hour
GLITCH_RATE_DAWN = (6.5, 3.0)  # (LMST hour, peak extra rate per hour)
GLITCH_RATE_DUSK = (17.5, 4.0)
GLITCH_KAPPA = 20.0
GLITCH_AMPLITUDE_MEDIAN = 30.0

DONK_FREQ = (6.0, 7.5)  # Hz
DONK_SIGMA = (0.12, 0.35)  # s
DONK_BAND = (5.0, 9.0)
DONK_AMPLITUDE_MEDIAN = 6.0
DONK_RATE_BASE = 4.0  # per hour
DONK_RATE_EVENING = (19.0, 15.0)
DONK_KAPPA = 8.0

QUAKE_RATE = 1.0  # per sol
QUAKE_AMPLITUDE_MEDIAN = 4.0
QUAKE_FAMILIES = {
    "LF": {"sp": (120.0, 400.0), "coda_tau": (60.0, 180.0), "band": (0.1, 1.0)},
    "HF": {"sp": (60.0, 240.0), "coda_tau": (150.0, 400.0), "center": 2.4, "width": 0.25},
}
QUAKE_RISE_P = (1.0, 4.0)
QUAKE_RISE_S = (2.0, 8.0)

TONE_FREQ = 1.0
TONE_AMPLITUDE = 0.3
TONE_WEIGHTS = (1.0, 0.7, 0.5)


# ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class SyntheticMars:
    """A synthetic Mars-like record: mixture, per-source waveforms, labels and events.

    Attributes
    ----------
    mixture : ndarray, shape (3, L), float32
        Components U, V, W; equals the sum of ``sources`` (to float32 rounding).
    sources : dict[str, ndarray]
        'background', 'wind', 'glitch', 'donk', 'quake', 'tone' -> (3, L) float32.
    labels : dict[str, ndarray]
        Same keys -> (L,) bool, True where that source is active (see the module
        docstring for the rule).
    events : list[dict]
        One dict per discrete event, sorted by start: 'source', 'start', 'end' (sample
        indices, end exclusive), 'onset', 'lmst' and the event's parameters.
    fs : float
        Sampling rate in Hz.
    starttime : obspy.UTCDateTime
        Time of sample 0 (a ``numpy.datetime64`` when ObsPy is not installed).
    """

    mixture: np.ndarray
    sources: dict
    labels: dict
    events: list
    fs: float
    starttime: object

    def to_stream(self, network="XB", station="ELYSE", location="02"):
        """The mixture as an ObsPy Stream of three float32 traces (channels BHU, BHV, BHW).

        Parameters
        ----------
        network, station, location : str
            SEED codes of the traces.

        Returns
        -------
        obspy.Stream
            Traces NET.STA.LOC.BHU/BHV/BHW starting at ``starttime``, sampling rate ``fs``,
            data copied from ``mixture`` (float32).

        Examples
        --------
        >>> st = synthetic_mars("small").to_stream()   # doctest: +SKIP
        >>> [tr.id for tr in st]                        # doctest: +SKIP
        ['XB.ELYSE.02.BHU', 'XB.ELYSE.02.BHV', 'XB.ELYSE.02.BHW']
        """
        import obspy

        start = self.starttime
        if not isinstance(start, obspy.UTCDateTime):
            start = obspy.UTCDateTime(str(np.datetime_as_string(np.datetime64(start, "ns"))))
        traces = []
        for i, comp in enumerate(COMPONENTS):
            header = {"network": network, "station": station, "location": location,
                      "channel": "BH" + comp, "sampling_rate": float(self.fs), "starttime": start}
            traces.append(obspy.Trace(data=np.array(self.mixture[i], dtype=np.float32), header=header))
        return obspy.Stream(traces)


# ---------------------------------------------------------------------------------------
# Argument handling and clock.
def _start_timestamp(start):
    """POSIX seconds (float) of ``start``: ISO string, datetime, numpy.datetime64,
    obspy.UTCDateTime or a POSIX timestamp."""
    if hasattr(start, "timestamp") and type(start).__name__ == "UTCDateTime":
        return float(start.timestamp)
    if isinstance(start, _dt.datetime):
        if start.tzinfo is None:
            start = start.replace(tzinfo=_dt.timezone.utc)
        return start.timestamp()
    if isinstance(start, (numbers.Real,)) and not isinstance(start, bool):
        return float(start)
    if isinstance(start, (str, np.datetime64)):
        try:
            t = np.datetime64(start.rstrip("Z") if isinstance(start, str) else start, "ns")
        except ValueError as exc:
            raise ValueError(f"start={start!r} is not a valid date/time; use an ISO string "
                             f"such as '2019-06-01T00:00:00'") from exc
        if np.isnat(t):
            raise ValueError(f"start={start!r} is not a valid date/time")
        return t.astype(np.int64) / 1e9
    raise TypeError(f"start={start!r} must be an ISO date string, datetime, numpy.datetime64 "
                    f"or obspy.UTCDateTime")


def _lmst_hours_at(timestamp, longitude=INSIGHT_LONGITUDE):
    """Mars local mean solar time (hours) at a POSIX time (Mars24 / Allison & McEwen 2000)."""
    jd_tt = (timestamp + TT_MINUS_UTC) / 86400.0 + 2440587.5
    msd = (jd_tt - 2451549.5) / 1.0274912517 + 44796.0 - 0.0009626
    mst = 24.0 * (msd % 1.0)
    return (mst + longitude / 15.0) % 24.0


def _local_hours(lmst0, seconds):
    """LMST hours at ``seconds`` after a time whose LMST is ``lmst0``."""
    return (lmst0 + np.asarray(seconds, dtype=np.float64) * (24.0 / SOL_SECONDS)) % 24.0


def _check_positive_real(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a real number")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    return value


# ---------------------------------------------------------------------------------------
# Building blocks.
def _projection():
    """(3, 3) matrix mapping (Z up, N, E) motion to U, V, W."""
    dip = np.radians(UVW_DIP)
    az = np.radians(UVW_AZIMUTH)
    return np.stack([-np.sin(dip), np.cos(dip) * np.cos(az), np.cos(dip) * np.sin(az)], axis=1)


def _shaped_noise(rng, n, fs, psd, out=None):
    """Unit-variance stationary Gaussian noise of length ``n`` with one-sided PSD shape
    ``psd(f)`` (f in Hz), by shaping white noise in the Fourier domain (circular, length
    ``_fast_len(n)``). The variance is normalised analytically, not by the sample."""
    nfft = _fast_len(max(n, 2))
    f = np.fft.rfftfreq(nfft, d=1.0 / fs)
    gain = np.asarray(psd(f), dtype=np.float64)
    weights = np.full(gain.shape, 2.0)
    weights[0] = 1.0
    if nfft % 2 == 0:
        weights[-1] = 1.0
    var = float(np.dot(weights, gain)) / nfft  # variance of the shaped noise per unit white variance
    spec = np.fft.rfft(rng.standard_normal(nfft))
    spec *= np.sqrt(gain / var)
    x = np.fft.irfft(spec, n=nfft)[:n]
    if out is not None:
        out[...] = x
        return out
    return x


def _mrw_increments(rng, n, fs, lam2=MRW_LAMBDA2, integral_scale=MRW_INTEGRAL_SCALE, n_channels=3):
    """Increments of a multifractal random walk (Bacry, Delour & Muzy 2001), (n_channels, n).

    ``eps[c, k] * exp(omega[k])`` with eps i.i.d. N(0, 1) and omega Gaussian with covariance
    ``lam2 * ln(T / (|k| + 1))`` for |k| < T = integral_scale * fs samples (0 beyond) and
    mean ``-lam2 * ln(T)`` (so that E[x^2] = 1), synthesised by circulant embedding
    (:func:`scatclust.datasets._mrw.log_volatility`, shared with :func:`scatclust.datasets.mrw`).
    """
    big_t = max(2, int(round(integral_scale * fs)))
    vol = log_volatility(rng, n, lam2, big_t)
    np.exp(vol, out=vol)
    return rng.standard_normal((n_channels, n)) * vol


def _background_psd(f):
    red = (1.0 / (f * f + BACKGROUND_F_LO ** 2)) ** (BACKGROUND_BETA / 2.0)
    with np.errstate(divide="ignore"):
        lf = np.log(np.where(f > 0, f, 1e-300) / BACKGROUND_BUMP_FREQ)
    bump = BACKGROUND_BUMP_LEVEL * np.exp(-lf * lf / (2.0 * BACKGROUND_BUMP_WIDTH ** 2))
    return red + np.where(f > 0, bump, 0.0)


def _diurnal_gain(hours):
    """Background gain at LMST ``hours`` (periodic log-linear interpolation of DIURNAL_KNOTS)."""
    kh = np.array([k[0] for k in DIURNAL_KNOTS])
    kg = np.log([k[1] for k in DIURNAL_KNOTS])
    kh = np.concatenate([kh - 24.0, kh, kh + 24.0])
    kg = np.concatenate([kg, kg, kg])
    return np.exp(np.interp(np.asarray(hours) % 24.0, kh, kg))


def _daytime(hours):
    """D(h): 0 outside 7-18 h, 1 on 9-16 h, linear ramps (wind rate modulation)."""
    return np.interp(np.asarray(hours) % 24.0, [0, 7, 9, 16, 18, 24], [0, 0, 1, 1, 0, 0])


def _von_mises(hours, centre, kappa):
    return np.exp(kappa * (np.cos(2.0 * np.pi * (np.asarray(hours) - centre) / 24.0) - 1.0))


def _wind_rate(h):
    return WIND_RATE_NIGHT + (WIND_RATE_DAY - WIND_RATE_NIGHT) * _daytime(h)


def _glitch_rate(h):
    return (GLITCH_RATE_BASE + GLITCH_RATE_DAWN[1] * _von_mises(h, GLITCH_RATE_DAWN[0], GLITCH_KAPPA)
            + GLITCH_RATE_DUSK[1] * _von_mises(h, GLITCH_RATE_DUSK[0], GLITCH_KAPPA))


def _donk_rate(h):
    return DONK_RATE_BASE + DONK_RATE_EVENING[1] * _von_mises(h, DONK_RATE_EVENING[0], DONK_KAPPA)


def _quake_rate(h):
    return np.full(np.shape(h), QUAKE_RATE * 3600.0 / SOL_SECONDS)


def _event_times(rng, duration, lmst0, rate, rate_max, min_count=1, latest=None):
    """Onset times (s) of an inhomogeneous Poisson process with hourly rate ``rate(h)``
    (by thinning), at least ``min_count`` of them; forced extra events are drawn from the
    same rate-weighted distribution on [0, latest)."""
    n = rng.poisson(rate_max * duration / 3600.0)
    t = np.sort(rng.uniform(0.0, duration, n))
    keep = rng.uniform(0.0, rate_max, n) < rate(_local_hours(lmst0, t))
    t = list(t[keep])
    hi = duration if latest is None else max(min(latest, duration), 1e-9)
    while len(t) < min_count:
        cand = rng.uniform(0.0, hi)
        if rng.uniform(0.0, rate_max) < rate(_local_hours(lmst0, cand)):
            t.append(cand)
    return sorted(t)


def _smooth_process(rng, n, fs, corr_time):
    """Smooth stationary Gaussian process, unit variance, correlation time ~corr_time (s):
    white noise on a coarse grid convolved with a Gaussian kernel, linearly interpolated."""
    step = corr_time / 4.0
    m = int(math.ceil(n / fs / step)) + 1
    half = 12
    kern = np.exp(-0.5 * (np.arange(-half, half + 1) / 4.0) ** 2)
    kern /= np.sqrt(np.sum(kern * kern))
    coarse = np.convolve(rng.standard_normal(m + 2 * half), kern, mode="valid")
    return np.interp(np.arange(n) / fs, np.arange(m) * step, coarse)


def _interval(env, offset, length, frac=LABEL_FRACTION):
    """[start, end) of the samples where ``env`` >= frac * max(env), shifted by ``offset``
    and clipped to [0, length)."""
    idx = np.flatnonzero(env >= frac * env.max())
    start = int(offset + idx[0])
    end = int(offset + idx[-1] + 1)
    return max(start, 0), min(end, length)


def _add_segment(dst, seg, offset):
    """dst[:, offset:offset+len] += seg, clipped to dst's extent."""
    n = dst.shape[1]
    a, b = offset, offset + seg.shape[1]
    lo, hi = max(a, 0), min(b, n)
    if hi > lo:
        dst[:, lo:hi] += seg[:, lo - a:hi - a].astype(dst.dtype)


def _random_unit(rng):
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


# ---------------------------------------------------------------------------------------
# Sources. Each writes into ``out`` ((3, L) float32) and returns its events.
def _make_background(rng, out, fs, lmst0):
    n = out.shape[1]
    proj = _projection()
    zne = np.empty((3, n))
    for j in range(3):
        _shaped_noise(rng, n, fs, _background_psd, out=zne[j])
    mrw = _mrw_increments(rng, n, fs)
    gain = _diurnal_gain(_local_hours(lmst0, np.arange(n) / fs)) * BACKGROUND_RMS
    a, b = math.sqrt(1.0 - MRW_FRACTION), math.sqrt(MRW_FRACTION)
    for i in range(3):
        comp = proj[i, 0] * zne[0]
        comp += proj[i, 1] * zne[1]
        comp += proj[i, 2] * zne[2]
        comp *= a
        comp += b * mrw[i]
        comp *= gain
        out[i] = comp
    return []


def _make_tone(rng, out, fs, lmst0):
    n = out.shape[1]
    t = np.arange(n) / fs
    wander = np.exp(0.3 * _smooth_process(rng, n, fs, 1800.0) - 0.045)
    phases = rng.uniform(0.0, 2.0 * np.pi, 3)
    for i in range(3):
        out[i] = TONE_AMPLITUDE * TONE_WEIGHTS[i] * wander * np.cos(2.0 * np.pi * TONE_FREQ * t + phases[i])
    return []


def _wind_psd(f):
    r1 = (f / WIND_F1) ** 2
    return r1 / (1.0 + r1) / (1.0 + (f / WIND_F2) ** 4)


def _make_wind(rng, out, fs, lmst0):
    n = out.shape[1]
    duration = n / fs
    proj = _projection()
    events = []
    rate_max = max(WIND_RATE_DAY, WIND_RATE_NIGHT)
    for t0 in _event_times(rng, duration, lmst0, _wind_rate, rate_max):
        dur = float(np.clip(WIND_DURATION_MEDIAN * math.exp(0.5 * rng.standard_normal()), *WIND_DURATION_RANGE))
        amp = WIND_AMPLITUDE_MEDIAN * math.exp(0.5 * rng.standard_normal())
        azimuth = rng.uniform(0.0, 360.0)
        m = max(int(round(dur * fs)), 4)
        tt = np.arange(m) / max(m - 1, 1)
        rise, fall = 0.2, 0.3
        taper = np.ones(m)
        up = tt < rise
        taper[up] = 0.5 - 0.5 * np.cos(np.pi * tt[up] / rise)
        down = tt > 1.0 - fall
        taper[down] = 0.5 - 0.5 * np.cos(np.pi * (1.0 - tt[down]) / fall)
        env = taper * np.exp(0.4 * _smooth_process(rng, m, fs, 20.0) - 0.08)
        az = math.radians(azimuth)
        along = np.array([0.0, math.cos(az), math.sin(az)])
        cross = np.array([0.0, -math.sin(az), math.cos(az)])
        vert = np.array([1.0, 0.0, 0.0])
        motion = np.zeros((3, m))
        for w, d in ((1.0, along), (0.3, cross), (0.4, vert)):
            motion += w * np.outer(d, _shaped_noise(rng, m, fs, _wind_psd))
        seg = proj @ motion
        seg *= amp / math.sqrt((1.0 + 0.09 + 0.16) / 3.0) * env  # mean component RMS = amp at gain 1
        i0 = int(round(t0 * fs))
        _add_segment(out, seg, i0)
        start, end = _interval(env, i0, n)
        events.append({"source": "wind", "start": start, "end": end, "onset": float(i0),
                       "lmst": float(_local_hours(lmst0, t0)), "duration": dur,
                       "amplitude": amp, "azimuth": azimuth})
    return events


def glitch_pulse(x):
    """The glitch waveform at times ``x = (t - onset) / tau``, unit peak (at x = 1):
    ``x exp(1 - x)`` for x > 0, 0 before the onset. The VBB's critically damped response
    to a step of acceleration (see the module docstring); also used by
    :func:`scatclust.datasets.separation_toy` ('glitch')."""
    return np.where(x > 0, x * np.exp(1.0 - np.maximum(x, 0.0)), 0.0)


def _make_glitch(rng, out, fs, lmst0):
    n = out.shape[1]
    duration = n / fs
    rate_max = GLITCH_RATE_BASE + GLITCH_RATE_DAWN[1] + GLITCH_RATE_DUSK[1]
    events = []
    for t0 in _event_times(rng, duration, lmst0, _glitch_rate, rate_max):
        tau = rng.uniform(*GLITCH_TAU)
        ncomp = int(rng.choice([1, 2, 3], p=[0.55, 0.25, 0.2]))
        comps = np.sort(rng.choice(3, size=ncomp, replace=False))
        amps = np.zeros(3)
        for c in comps:
            amps[c] = rng.choice([-1.0, 1.0]) * GLITCH_AMPLITUDE_MEDIAN * math.exp(0.7 * rng.standard_normal())
        onset = t0 * fs  # fractional sample
        i0 = int(math.floor(onset))
        m = int(math.ceil(12.0 * tau * fs)) + 2
        shape = glitch_pulse((np.arange(m) + i0 - onset) / (tau * fs))
        _add_segment(out, amps[:, None] * shape[None, :], i0)
        start, end = _interval(shape, i0, n)
        events.append({"source": "glitch", "start": start, "end": end, "onset": float(onset),
                       "lmst": float(_local_hours(lmst0, t0)), "tau": float(tau),
                       "components": "".join(COMPONENTS[c] for c in comps),
                       "amplitudes": [float(a) for a in amps]})
    return events


def _make_donk(rng, out, fs, lmst0):
    n = out.shape[1]
    duration = n / fs
    proj = _projection()
    rate_max = DONK_RATE_BASE + DONK_RATE_EVENING[1]
    events = []
    for t0 in _event_times(rng, duration, lmst0, _donk_rate, rate_max):
        fc = rng.uniform(*DONK_FREQ)
        sigma = rng.uniform(*DONK_SIGMA)
        amp = DONK_AMPLITUDE_MEDIAN * math.exp(0.5 * rng.standard_normal())
        phase = rng.uniform(0.0, 2.0 * np.pi)
        pol = proj @ _random_unit(rng)
        half = int(math.ceil(5.0 * sigma * fs))
        onset = t0 * fs
        i0 = int(round(onset)) - half
        t = (np.arange(2 * half + 1) + i0 - onset) / fs
        env = np.exp(-0.5 * (t / sigma) ** 2)
        wave = amp * env * np.cos(2.0 * np.pi * fc * t + phase)
        _add_segment(out, pol[:, None] * wave[None, :], i0)
        start, end = _interval(env, i0, n)
        events.append({"source": "donk", "start": start, "end": end, "onset": float(onset),
                       "lmst": float(_local_hours(lmst0, t0)), "frequency": float(fc),
                       "sigma": float(sigma), "amplitude": float(amp),
                       "polarization": [float(p) for p in pol]})
    return events


def _quake_psd(family):
    spec = QUAKE_FAMILIES[family]
    if family == "LF":
        lo, hi = spec["band"]

        def psd(f):
            with np.errstate(divide="ignore"):
                low = np.where(f > 0, 1.0 / (1.0 + (lo / np.where(f > 0, f, 1.0)) ** 8), 0.0)
            return low / (1.0 + (f / hi) ** 8)
    else:
        def psd(f):
            return np.exp(-0.5 * ((f - spec["center"]) / spec["width"]) ** 2)
    return psd


def _arrival_envelope(t, rise, coda_tau):
    tp = np.maximum(t, 0.0)
    return np.where(t >= 0, (1.0 - np.exp(-tp / rise)) * np.exp(-tp / coda_tau), 0.0)


def _make_quake(rng, out, fs, lmst0):
    n = out.shape[1]
    duration = n / fs
    proj = _projection()
    rate = QUAKE_RATE * 3600.0 / SOL_SECONDS
    # A forced quake starts early enough for the longest S-P + 3 coda times to fit.
    latest = duration - (400.0 + 3.0 * 400.0)
    latest = latest if latest > 0 else duration * 0.1
    events = []
    for t0 in _event_times(rng, duration, lmst0, _quake_rate, rate, latest=latest):
        family = "LF" if rng.uniform() < 0.5 else "HF"
        spec = QUAKE_FAMILIES[family]
        sp = rng.uniform(*spec["sp"])
        coda_tau = rng.uniform(*spec["coda_tau"])
        rise_p = rng.uniform(*QUAKE_RISE_P)
        rise_s = rng.uniform(*QUAKE_RISE_S)
        amp_p = QUAKE_AMPLITUDE_MEDIAN * math.exp(0.6 * rng.standard_normal())
        amp_s = amp_p * rng.uniform(1.5, 3.0)
        baz = rng.uniform(0.0, 360.0)
        onset = t0 * fs
        i0 = int(math.floor(onset))
        m = int(math.ceil((sp + 5.0 * coda_tau) * fs)) + 2
        t = (np.arange(m) + i0 - onset) / fs
        env_p = amp_p * _arrival_envelope(t, rise_p, coda_tau)
        env_s = amp_s * _arrival_envelope(t - sp, rise_s, coda_tau)
        psd = _quake_psd(family)
        b = math.radians(baz)
        inc = math.radians(25.0)
        # Ground motion arrives from the back azimuth: radial = -(cos baz, sin baz).
        p_dir = np.array([math.cos(inc), -math.sin(inc) * math.cos(b), -math.sin(inc) * math.sin(b)])
        s_dir = np.array([0.0, -math.sin(b), math.cos(b)])  # transverse
        motion = np.zeros((3, m))
        for env, direction in ((env_p, p_dir), (env_s, s_dir)):
            pol = _shaped_noise(rng, m, fs, psd)
            iso = np.stack([_shaped_noise(rng, m, fs, psd) for _ in range(3)])
            motion += env * (math.sqrt(0.8) * np.outer(direction, pol) + math.sqrt(0.2 / 3.0) * iso)
        _add_segment(out, proj @ motion, i0)
        total_env = np.sqrt(env_p ** 2 + env_s ** 2)
        start, end = _interval(total_env, i0, n)
        ev = {"source": "quake", "start": start, "end": end, "onset": float(onset),
              "lmst": float(_local_hours(lmst0, t0)), "family": family,
              "p_onset": float(onset), "s_onset": float(onset + sp * fs), "sp_delay": float(sp),
              "coda_tau": float(coda_tau), "rise_p": float(rise_p), "rise_s": float(rise_s),
              "amplitude_p": float(amp_p), "amplitude_s": float(amp_s), "backazimuth": float(baz)}
        if family == "LF":
            ev["band"] = [float(v) for v in spec["band"]]
        else:
            ev["band"] = [spec["center"] - 2 * spec["width"], spec["center"] + 2 * spec["width"]]
        events.append(ev)
    return events


_BUILDERS = {"background": _make_background, "wind": _make_wind, "glitch": _make_glitch,
             "donk": _make_donk, "quake": _make_quake, "tone": _make_tone}


# ---------------------------------------------------------------------------------------
def synthetic_mars(preset="small", *, days=None, seed=0, fs=20.0, start="2019-06-01T00:00:00"):
    """Generate a Mars-like 3-component record with per-source waveforms and labels.

    The model of every source and all its parameters are described in the module
    docstring (:mod:`scatclust.datasets._synthetic_mars`).

    Parameters
    ----------
    preset : {'small', 'day', 'multiday'}
        Record length: 'small' = 2 hours (tests; well under 2 s to generate), 'day' = 24 h,
        'multiday' = 3 days (benchmarks).
    days : float, optional
        Record length in (Earth) days, overriding the preset's; the record must last at
        least 600 s.
    seed : int
        Seed (>= 0) of the ``numpy.random.SeedSequence`` that drives every source; the
        same seed gives identical output.
    fs : float
        Sampling rate in Hz (>= 20, InSight's BH channels; the donk band reaches 9 Hz).
    start : str, datetime, numpy.datetime64 or obspy.UTCDateTime
        UTC time of sample 0; sets the Mars local time (LMST at InSight) of the record.

    Returns
    -------
    SyntheticMars
        ``mixture`` (3, L) float32 with L = round(days * 86400 * fs), ``sources`` and
        ``labels`` for 'background', 'wind', 'glitch', 'donk', 'quake', 'tone', ``events``,
        ``fs`` and ``starttime``.

    Raises
    ------
    ValueError
        Unknown preset, days or fs not > 0 (or too short a record / fs < 20), negative
        seed, unparseable start.
    TypeError
        Non-int seed, non-real days/fs.

    Examples
    --------
    >>> from scatclust.datasets import synthetic_mars
    >>> rec = synthetic_mars("small", seed=1)
    >>> rec.mixture.shape, rec.mixture.dtype
    ((3, 144000), dtype('float32'))
    >>> sorted(rec.sources) == sorted(rec.labels)
    True
    """
    check_choice(preset, "preset", tuple(PRESETS))
    if days is None:
        days = PRESETS[preset]
    else:
        days = _check_positive_real(days, "days")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed={seed!r} must be an int (e.g. seed=0)")
    if seed < 0:
        raise ValueError(f"seed={seed} must be >= 0")
    fs = _check_positive_real(fs, "fs")
    if fs < MIN_FS:
        raise ValueError(f"fs={fs} must be >= {MIN_FS} Hz: the donk band reaches {DONK_BAND[1]} Hz")
    if days * 86400.0 < MIN_DURATION:
        raise ValueError(f"days={days} gives a {days * 86400.0:g} s record; at least {MIN_DURATION:g} s "
                         f"(days >= {MIN_DURATION / 86400.0:.5f}) is needed")
    ts = _start_timestamp(start)
    n = int(round(days * 86400.0 * fs))
    lmst0 = float(_lmst_hours_at(ts))

    children = np.random.SeedSequence(int(seed)).spawn(len(SOURCES))
    sources, labels, events = {}, {}, []
    for name, child in zip(SOURCES, children):
        out = np.zeros((3, n), dtype=np.float32)
        evs = _BUILDERS[name](np.random.default_rng(child), out, fs, lmst0)
        lab = np.zeros(n, dtype=bool)
        if name in ("background", "tone"):
            lab[:] = True
        for ev in evs:
            lab[ev["start"]:ev["end"]] = True
        sources[name], labels[name] = out, lab
        events.extend(evs)
    events.sort(key=lambda e: (e["start"], e["source"]))

    # The mixture: float64 accumulation in blocks (bounded memory), one rounding to float32.
    mixture = np.empty((3, n), dtype=np.float32)
    block = 1 << 18
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        acc = np.zeros((3, hi - lo))
        for name in SOURCES:
            acc += sources[name][:, lo:hi]
        mixture[:, lo:hi] = acc

    try:
        import obspy

        starttime = obspy.UTCDateTime(ts)
    except ImportError:  # the generator itself needs only numpy
        starttime = np.datetime64(int(round(ts * 1e9)), "ns")
    return SyntheticMars(mixture=mixture, sources=sources, labels=labels, events=events,
                         fs=fs, starttime=starttime)
