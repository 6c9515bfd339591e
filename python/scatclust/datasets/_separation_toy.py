r"""Source-separation test cases with ground truth: ``x = n + s`` and priors of ``n``.

Every case is a :class:`SeparationCase`: the observation ``x``, the background ``n`` whose
statistics are known from ``priors`` (R independent windows of the same kind of
background), and the unknown other source ``s``, with ``x = n + s``.

Toy cases (:func:`separation_toy`, srcsep's toy setup)
-----------------------------------------------------
Background: increments of a multifractal random walk (:func:`scatclust.datasets.mrw`,
H = 0.5, lambda = 0.2, integral scale = n), unit variance (``sigma = 1``); the priors are
R further independent realisations. Contaminants (t in samples, all parameters drawn per
seed):

'pulses'
    Three two-sided exponential pulses ``a exp(-|t - t0| / tau)``: t0 uniform in
    [0.1 n, 0.9 n], tau uniform in ``PULSE_TAU`` = [4, 16] samples, amplitude of random
    sign and modulus uniform in ``PULSE_AMPLITUDE`` = [3, 6] sigma.
'square'
    One square glitch of amplitude ``SQUARE_AMPLITUDE`` = 0.5 sigma (positive) and width
    uniform in [n/8, n/4] samples, starting uniformly so that it ends before 0.9 n.
'glitch'
    ``GLITCH_COUNT`` = 2 one-sided glitch pulses with the waveform of the Mars-like
    generator (:func:`scatclust.datasets._synthetic_mars.glitch_pulse`,
    ``A (t / tau) exp(1 - t / tau)`` after the onset, the VBB's response to a step of
    acceleration): tau uniform in ``GLITCH_TAU_SAMPLES`` = [20, 60] samples (the pulse is
    above 5 % of its peak for 5.7 tau), onset uniform in [0, n - 6 tau] at a fractional
    sample time, amplitude ``random sign x GLITCH_AMPLITUDE_MEDIAN (= 3 sigma) x
    exp(0.7 N(0, 1))`` (the generator's log-normal spread).

Mars-like cases (:func:`mars_separation_cases`)
----------------------------------------------
Built from one :func:`scatclust.datasets.synthetic_mars` record (3 components U, V, W).
For every event of the source to remove (kind 'deglitch': glitches, 'wind': wind bursts)
one test window of n samples: centred on the event interval (on the event's centre when
the event is longer than n), clipped to the record. In that window ``s`` is that source's
waveform (every event of it in the window) and the truth ``n = x - s`` is everything
else (background, tone, donks, quakes, and the other discrete sources). Priors: windows
of the same record on a grid of hop n/2 in which that source is inactive (its label False
on every sample), overlapping neither any test window nor each other, the R closest in
time to the test window (time-of-day proximity: the background level follows the diurnal
cycle).

Randomness: one ``numpy.random.SeedSequence(seed)`` spawns independent generators for the
background, the priors and the contaminant, so a contaminant does not depend on R.
"""
from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from .._array import check_choice
from ._mrw import _as_rng, mrw
from ._synthetic_mars import glitch_pulse

__all__ = ["SeparationCase", "mars_separation_cases", "separation_toy"]

CONTAMINANTS = ("pulses", "square", "glitch")
PULSE_COUNT = 3
PULSE_TAU = (4.0, 16.0)  # samples
PULSE_AMPLITUDE = (3.0, 6.0)  # background sigma
SQUARE_AMPLITUDE = 0.5  # background sigma (the "0.5 x the background std")
SQUARE_WIDTH = (1.0 / 8.0, 1.0 / 4.0)  # fraction of n
GLITCH_COUNT = 2
GLITCH_TAU_SAMPLES = (20.0, 60.0)
GLITCH_AMPLITUDE_MEDIAN = 3.0  # background sigma
GLITCH_AMPLITUDE_SIGMA_LN = 0.7  # as in the Mars-like generator
MARS_KINDS = {"deglitch": "glitch", "wind": "wind"}


@dataclasses.dataclass
class SeparationCase:
    """One separation problem with its ground truth: ``x = n + s``.

    Attributes
    ----------
    x : ndarray, shape (n,) or (C, n), float64
        The observation (mixture).
    n : ndarray, same shape as ``x``, float64
        The background, the source described by the priors (the truth of the background
        estimate).
    s : ndarray, same shape as ``x``, float64
        The other source (the contaminant to remove).
    priors : ndarray, shape (R, *x.shape), float64
        R windows of background alone (independent realisations for the toy cases,
        source-free windows of the same record for the Mars-like ones).
    info : dict
        How the case was made: 'kind', the contaminant's parameters, and for Mars-like
        cases 'start' (sample index of the window), 'event' and 'prior_starts'.
    """

    x: np.ndarray
    n: np.ndarray
    s: np.ndarray
    priors: np.ndarray
    info: dict


def _check_int(value, name, lo, example):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lo:
        raise ValueError(f"{name}={value!r} must be an int >= {lo} (e.g. {name}={example})")
    return int(value)


def _pulses(rng, n):
    t = np.arange(n, dtype=np.float64)
    s = np.zeros(n)
    params = []
    for _ in range(PULSE_COUNT):
        t0 = rng.uniform(0.1 * n, 0.9 * n)
        tau = rng.uniform(*PULSE_TAU)
        amp = rng.choice([-1.0, 1.0]) * rng.uniform(*PULSE_AMPLITUDE)
        s += amp * np.exp(-np.abs(t - t0) / tau)
        params.append({"t0": float(t0), "tau": float(tau), "amplitude": float(amp)})
    return s, {"pulses": params}


def _square(rng, n):
    width = max(1, int(round(rng.uniform(*SQUARE_WIDTH) * n)))
    hi = max(int(0.9 * n) - width, 1)
    start = int(rng.integers(0, hi))
    s = np.zeros(n)
    s[start:start + width] = SQUARE_AMPLITUDE
    return s, {"start": start, "width": width, "amplitude": SQUARE_AMPLITUDE}


def _glitches(rng, n):
    s = np.zeros(n)
    params = []
    for _ in range(GLITCH_COUNT):
        tau = rng.uniform(*GLITCH_TAU_SAMPLES)
        onset = rng.uniform(0.0, max(n - 6.0 * tau, 1.0))
        amp = rng.choice([-1.0, 1.0]) * GLITCH_AMPLITUDE_MEDIAN * math.exp(
            GLITCH_AMPLITUDE_SIGMA_LN * rng.standard_normal())
        s += amp * glitch_pulse((np.arange(n) - onset) / tau)
        params.append({"onset": float(onset), "tau": float(tau), "amplitude": float(amp)})
    return s, {"glitches": params}


_MAKERS = {"pulses": _pulses, "square": _square, "glitch": _glitches}


def separation_toy(contaminant, n=2048, R=100, seed=0, *, H=0.5, lam=0.2, integral_scale=None):
    """srcsep's toy separation case: MRW background plus a contaminant, with R priors.

    The background and the R priors are independent realisations of
    :func:`scatclust.datasets.mrw` (unit variance); the contaminant models are described in
    :mod:`scatclust.datasets._separation_toy`.

    Parameters
    ----------
    contaminant : {'pulses', 'square', 'glitch'}
        Three two-sided exponential pulses; a square glitch of 0.5 background std; two
        one-sided glitch pulses with the Mars-like generator's waveform.
    n : int
        Signal length in samples (>= 16).
    R : int
        Number of prior realisations of the background (>= 1).
    seed : int, numpy.random.SeedSequence or None
        Same seed, same case (the contaminant does not depend on R).
    H, lam, integral_scale
        Parameters of the MRW background (see :func:`scatclust.datasets.mrw`).

    Returns
    -------
    SeparationCase
        ``x``, ``n``, ``s`` of shape (n,), ``priors`` of shape (R, n), all float64;
        ``info`` holds 'kind' and the contaminant's parameters.

    Raises
    ------
    ValueError
        Unknown contaminant, n < 16, R < 1, bad seed or MRW parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.datasets import separation_toy
    >>> case = separation_toy("pulses", n=2048, R=100, seed=0)
    >>> case.x.shape, case.priors.shape
    ((2048,), (100, 2048))
    >>> bool(np.allclose(case.x, case.n + case.s))
    True
    """
    check_choice(contaminant, "contaminant", CONTAMINANTS)
    n = _check_int(n, "n", 16, 2048)
    R = _check_int(R, "R", 1, 100)
    if isinstance(seed, np.random.Generator):
        raise ValueError("seed must be an int >= 0, a SeedSequence or None (a Generator cannot be "
                         "split into the independent background / priors / contaminant streams)")
    _as_rng(seed)  # validates
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    child_bg, child_pr, child_c = ss.spawn(3)
    background = mrw(n, H=H, lam=lam, seed=np.random.default_rng(child_bg), integral_scale=integral_scale)
    priors = mrw(n, H=H, lam=lam, size=R, seed=np.random.default_rng(child_pr), integral_scale=integral_scale)
    s, params = _MAKERS[contaminant](np.random.default_rng(child_c), n)
    info = {"kind": contaminant, "H": float(H), "lam": float(lam),
            "integral_scale": int(integral_scale) if integral_scale is not None else n, **params}
    return SeparationCase(x=background + s, n=background, s=s, priors=priors, info=info)


def _test_window(ev, length, n):
    start, end = int(ev["start"]), int(ev["end"])
    if end - start <= n:
        a = start - (n - (end - start)) // 2
    else:
        a = (start + end) // 2 - n // 2
    return int(min(max(a, 0), length - n))


def mars_separation_cases(kind="deglitch", n=2048, R=100, seed=0, *, days=0.5, start="2019-06-01T00:00:00",
                          record=None, max_events=None):
    """Mars-like separation cases, one per glitch ('deglitch') or wind burst ('wind').

    From one :func:`scatclust.datasets.synthetic_mars` record: per event a window of the
    3-component mixture ``x`` containing it, the truth ``n = x - s`` (the record without
    that source) and R priors (windows of the same record free of that source, not
    overlapping any test window, closest in time); see
    :mod:`scatclust.datasets._separation_toy` for the rules.

    Parameters
    ----------
    kind : {'deglitch', 'wind'}
        Source to remove: glitches or wind bursts.
    n : int
        Window length in samples (>= 16; 2048 = 102.4 s at 20 Hz).
    R : int
        Number of prior windows per case (>= 1).
    seed : int
        Seed of the record (ignored when ``record`` is given).
    days, start
        Length and start time of the record (see :func:`synthetic_mars`); 0.5 day holds a
        few glitches and wind bursts and enough source-free windows for R = 100.
    record : SyntheticMars, optional
        Use this record instead of generating one.
    max_events : int, optional
        Keep only the first ``max_events`` events (by start time).

    Returns
    -------
    list of SeparationCase
        ``x``, ``n``, ``s`` of shape (3, n) and ``priors`` of shape (R, 3, n), float64;
        ``info``: 'kind', 'source', 'start' (window start, samples), 'event' (the event dict
        of the record), 'prior_starts' (R window starts), 'fs'.

    Raises
    ------
    ValueError
        Unknown kind, n or R out of range, a record shorter than n, or fewer than R
        eligible prior windows (the message says how many there are).

    Examples
    --------
    >>> from scatclust.datasets import mars_separation_cases
    >>> cases = mars_separation_cases("deglitch", n=1024, R=8, seed=0, days=0.05)
    >>> c = cases[0]
    >>> c.x.shape, c.priors.shape, c.info["source"]
    ((3, 1024), (8, 3, 1024), 'glitch')
    """
    check_choice(kind, "kind", tuple(MARS_KINDS))
    n = _check_int(n, "n", 16, 2048)
    R = _check_int(R, "R", 1, 100)
    if max_events is not None:
        max_events = _check_int(max_events, "max_events", 1, 10)
    if record is None:
        from ._synthetic_mars import synthetic_mars

        record = synthetic_mars("small", days=days, seed=seed, start=start)
    source = MARS_KINDS[kind]
    length = record.mixture.shape[1]
    if length < n:
        raise ValueError(f"n={n} is longer than the record ({length} samples); use a shorter n or a longer record "
                         f"(days=...)")
    events = [e for e in record.events if e["source"] == source]
    if max_events is not None:
        events = events[:max_events]
    starts = [_test_window(ev, length, n) for ev in events]

    # Candidate priors: grid of hop n/2, source inactive throughout, no overlap with tests.
    hop = max(n // 2, 1)
    cand = np.arange(0, length - n + 1, hop)
    active = np.concatenate([[0], np.cumsum(record.labels[source], dtype=np.int64)])
    free = (active[cand + n] - active[cand]) == 0
    tests = np.asarray(starts, dtype=np.int64)
    if tests.size:
        overlap = (np.abs(cand[:, None] - tests[None, :]) < n).any(axis=1)
        free &= ~overlap
    cand = cand[free]

    mixture = record.mixture
    src = record.sources[source]
    cases = []
    for ev, a in zip(events, starts):
        centre = a + n / 2.0
        order = cand[np.argsort(np.abs(cand + n / 2.0 - centre), kind="stable")]
        chosen = []
        for c in order:  # greedy: nearest first, no overlap among the priors
            if all(abs(int(c) - p) >= n for p in chosen):
                chosen.append(int(c))
                if len(chosen) == R:
                    break
        if len(chosen) < R:
            raise ValueError(f"R={R}: only {len(chosen)} windows of n={n} samples free of {source} and of the test "
                             f"windows exist in this record; use a longer record (days > {days}), a smaller R or a "
                             f"smaller n")
        chosen.sort()
        x = mixture[:, a:a + n].astype(np.float64)
        s = src[:, a:a + n].astype(np.float64)
        priors = np.stack([mixture[:, p:p + n] for p in chosen]).astype(np.float64)
        cases.append(SeparationCase(x=x, n=x - s, s=s, priors=priors,
                                    info={"kind": kind, "source": source, "start": a, "event": ev,
                                          "prior_starts": np.asarray(chosen), "fs": record.fs}))
    return cases
