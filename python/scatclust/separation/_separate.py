"""``scatclust.separate``: source separation in scattering-spectra space (issue 8).

Input handling (numpy / ObsPy), segmentation with overlap-add, optional whitening, and the
L-BFGS solve of the loss in :mod:`scatclust.separation._loss`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .._array import check_choice, check_int
from .._spectra_filter_bank import PADDINGS, WAVELETS
from .._threads import resolve_n_threads
from ._gain import TFGain
from ._loss import TERMS, SeparationLoss

INITS = ("x", "wiener", "cap")
POSTS = ("wiener", "cap")
VARIABLES = ("gain", "samples")
#: Frame length of the STFT of ``variable='gain'`` (shorter segments use segment // 2, even).
GAIN_WINDOW = 128
#: Block length of the time-localised prior term chosen by ``pool="auto"`` (segments of at least
#: 4 * AUTO_POOL samples; shorter ones use the global term).
AUTO_POOL = 128

__all__ = ["separate", "SeparationResult", "SegmentResult", "segment_bounds", "overlap_add_weights"]


# ---------------------------------------------------------------- results
@dataclass
class SegmentResult:
    """Outcome of the solve on one segment ``x[..., start:stop]``.

    Attributes
    ----------
    start, stop : int
        Sample range of the segment in the record.
    background : ndarray float64 (C, L)
        ñ on the segment (before stitching).
    loss_history : dict str -> ndarray (n_iter + 1,)
        'total' and every active term (unweighted), at ñ₀ = x and after each iteration.
    n_iter, n_eval : int
        L-BFGS iterations and loss/gradient evaluations.
    time_per_iter : float
        Seconds per iteration (solve time / max(n_iter, 1)).
    converged : bool
        True when L-BFGS stopped on the loss tolerance (not on ``max_iter``).
    message : str
        scipy's stop message.
    """

    start: int
    stop: int
    background: np.ndarray
    loss_history: dict
    n_iter: int
    n_eval: int
    time_per_iter: float
    converged: bool
    message: str


@dataclass
class SeparationResult:
    """What :func:`separate` returns.

    Attributes
    ----------
    background : like the input (ndarray (N,) / (C, N), Trace, Stream)
        ñ, the estimate of the source described by the priors.
    source : like the input
        s = x - ñ, the other source.
    x : ndarray float64 (C, N)
        The observation as used (channels first).
    loss_history : dict str -> ndarray
        Per-iteration values ('total' and each active term, unweighted), segments one after
        the other; ``history_segment`` gives each entry's segment.
    history_segment : ndarray int (n_entries,)
    n_iter : int
        Iterations summed over segments.
    time_per_iter : float
        Solve time divided by the number of iterations (all segments).
    time_total : float
        Wall time of the whole call (s), loss set-up included.
    segments : list of SegmentResult
    diagnostics : dict
        'weights', 'terms', 'pairs' (priors used in L2/L3), 'scale' (the scalar the signals
        were divided by), 'whiten', 'segment', 'overlap', 'R', 'J', 'sigma' (per segment
        loss set-up: the priors' sqrt power spectrum (C, J+1)), 'init', 'pool', 'post',
        'prior_target' (per segment: the discrepancy target of the prior term), 'variable',
        'gain_grid', 'stationary', 'participation' (per segment, with ``variable='gain'``: the
        participation ratio of the removed energy over blocks; None otherwise).
    """

    background: object
    source: object
    x: np.ndarray
    loss_history: dict
    history_segment: np.ndarray
    n_iter: int
    time_per_iter: float
    time_total: float
    segments: list = field(default_factory=list)
    diagnostics: dict = field(default_factory=dict)

    @property
    def background_array(self):
        """ñ as float64 ndarray (C, N)."""
        return self.diagnostics["background_array"]

    @property
    def source_array(self):
        """s = x - ñ as float64 ndarray (C, N)."""
        return self.x - self.diagnostics["background_array"]


# ------------------------------------------------------------- conversion
def _is_trace(obj):
    return type(obj).__name__ == "Trace" and type(obj).__module__.startswith("obspy")


def _is_stream(obj):
    return type(obj).__name__ == "Stream" and type(obj).__module__.startswith("obspy")


def _finite(a, name):
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"{name} contains {int(bad.sum())} NaN/Inf value(s); fill gaps (e.g. "
                         f"scatclust.io.prepare with a gap policy) or interpolate before separating")
    return a


def _as_x(x):
    """x -> (array (C, N) float64, kind, template, sampling_rate)."""
    if _is_trace(x):
        return _finite(np.asarray(x.data, dtype=np.float64)[None], "x"), "trace", x, float(x.stats.sampling_rate)
    if _is_stream(x):
        if len(x) == 0:
            raise ValueError("x is an empty Stream; pass at least one Trace")
        lens = {len(tr.data) for tr in x}
        rates = {float(tr.stats.sampling_rate) for tr in x}
        if len(lens) != 1 or len(rates) != 1:
            raise ValueError(f"x is a Stream whose traces differ in length {sorted(lens)} or sampling rate "
                             f"{sorted(rates)}; merge/trim/resample it so that every channel has the same samples")
        a = np.stack([np.asarray(tr.data, dtype=np.float64) for tr in x])
        return _finite(a, "x"), "stream", x, rates.pop()
    if type(x).__module__.split(".")[0] == "torch":
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"x has dtype {a.dtype}; a real array, Trace or Stream is expected")
    if a.ndim not in (1, 2):
        raise ValueError(f"x has shape {a.shape}; expected (N,) or (C, N) (channels first)")
    kind = "array1" if a.ndim == 1 else "array2"
    return _finite(np.atleast_2d(a.astype(np.float64)), "x"), kind, None, None


def _as_priors(priors, C, rate):
    """priors -> float64 (R, C, L)."""
    if _is_trace(priors) or _is_stream(priors):
        priors = list(priors) if _is_stream(priors) else [priors]
    items = priors if isinstance(priors, (list, tuple)) else None
    if items is not None and len(items) and (_is_trace(items[0]) or _is_stream(items[0])):
        arrs = []
        for i, it in enumerate(items):
            trs = list(it) if _is_stream(it) else [it]
            for tr in trs:
                if rate is not None and float(tr.stats.sampling_rate) != rate:
                    raise ValueError(f"priors[{i}] has sampling_rate={tr.stats.sampling_rate} Hz but x has "
                                     f"{rate} Hz; resample the priors (Trace.resample) to the rate of x")
            arrs.append(np.stack([np.asarray(tr.data, dtype=np.float64) for tr in trs]))
        lens = {a.shape for a in arrs}
        if len(lens) != 1:
            raise ValueError(f"priors windows differ in shape {sorted(lens)}; cut every prior window to "
                             f"the same number of samples")
        p = np.stack(arrs)
        if C == 1 and p.shape[1] != 1 and _is_trace(items[0]):
            p = p.reshape(-1, 1, p.shape[-1])
    elif items is not None:
        try:
            arrs = [np.asarray(a, dtype=np.float64) for a in items]
        except (TypeError, ValueError):
            raise TypeError("priors must be an array (R, N) / (R, C, N), a list of windows, or Traces") from None
        lens = {a.shape for a in arrs}
        if len(lens) != 1:
            raise ValueError(f"priors windows differ in shape {sorted(lens)}; cut every prior window to "
                             f"the same number of samples")
        p = np.stack(arrs) if arrs else np.empty((0, C, 0))
    else:
        if type(priors).__module__.split(".")[0] == "torch":
            priors = priors.detach().cpu().numpy()
        p = np.asarray(priors)
        if p.dtype.kind not in "fiub":
            raise TypeError(f"priors has dtype {p.dtype}; a real array (R, N) or (R, C, N) is expected")
        p = p.astype(np.float64)
    if p.ndim == 2 and C == 1:
        p = p[:, None]
    if p.ndim != 3 or p.shape[1] != C:
        raise ValueError(f"priors has shape {p.shape}; with x of C={C} channel(s) expected (R, N)"
                         + ("" if C > 1 else " or (R, 1, N)") + f" -> (R, {C}, N): one window per prior")
    if p.shape[0] < 2:
        raise ValueError(f"priors holds R={p.shape[0]} window(s); the loss is normalised by the spread of the "
                         f"priors' moments, which needs R >= 2 (use R >= 20 for a stable spread)")
    return _finite(p, "priors")


# ---------------------------------------------------------- segmentation
def segment_bounds(n, segment, overlap):
    """Start/stop of the segments covering ``range(n)``: hop ``segment - overlap``, the last
    segment right-aligned at n.

    >>> segment_bounds(10, 4, 0)
    [(0, 4), (4, 8), (6, 10)]
    >>> segment_bounds(10, 4, 2)
    [(0, 4), (2, 6), (4, 8), (6, 10)]
    """
    if n <= segment:
        return [(0, n)]
    hop = segment - overlap
    starts = list(range(0, n - segment + 1, hop))
    if starts[-1] + segment < n:
        starts.append(n - segment)
    return [(s, s + segment) for s in starts]


def overlap_add_weights(bounds, n, overlap):
    """Weights (n_segments, segment) that sum to one at every sample of ``range(n)``.

    Each segment gets a flat window with raised-sine (sin^2) ramps of ``overlap`` samples at
    the ends it shares with a neighbour (none at the record's ends); the windows are then
    divided by their sum, so they form a partition of unity even where the last,
    right-aligned segment overlaps more. ``overlap=0`` gives rectangular windows (the public
    code's independent segments), averaged where the last segment overlaps its neighbour.
    """
    L = bounds[0][1] - bounds[0][0]
    W = np.ones((len(bounds), L))
    if overlap > 0:
        ramp = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2
        for i, (a, b) in enumerate(bounds):
            if a > 0:
                W[i, :overlap] = ramp
            if b < n:
                W[i, L - overlap:] = ramp[::-1]
    total = np.zeros(n)
    for (a, b), w in zip(bounds, W):
        total[a:b] += w
    return np.stack([w / total[a:b] for (a, b), w in zip(bounds, W)])


# ------------------------------------------------------------------- solve
def _solve(x, priors, J, weights, terms, pairs, max_iter, tol, wavelet, padding, floor, n_threads, maxcor,
           stop, init, pool=None, pool_quantile=0.25, gain=None):
    """L-BFGS on one segment from ñ₀ = ``init`` (C, L). x (C, L), priors (R, C, L) already scaled.

    With ``gain`` (a :class:`TFGain` of the segment), the unknowns are its node gains Θ in [0, 1]
    (L-BFGS-B bounds) from Θ = 1, ñ = gain.apply(Θ), and ``init`` is ignored.
    """
    from scipy.optimize import minimize

    loss = SeparationLoss(x, priors, J, weights, terms, pairs, wavelet=wavelet, padding=padding, floor=floor,
                          n_threads=n_threads, pool=pool, pool_quantile=pool_quantile)
    C, L = x.shape
    hist = {"total": []}
    for t in loss.active:
        hist[t] = []
    last = {}

    if gain is None:
        to_nt = lambda z: z.reshape(C, L)                    # noqa: E731
        z0, bounds = init.ravel().copy(), None
    else:
        to_nt = lambda z: gain.apply(z.reshape(gain.shape))  # noqa: E731
        z0, bounds = np.ones(int(np.prod(gain.shape))), [(0.0, 1.0)] * int(np.prod(gain.shape))
        init = to_nt(z0)

    def fun(z):
        total, values, g = loss(to_nt(z))
        last["z"], last["v"] = z.copy(), (total, values)
        return total, (g if gain is None else gain.vjp(g)).ravel()

    use_target = stop == "discrepancy" and "prior" in loss.active
    stopped = {"target": False}

    def record(intermediate_result):
        z = intermediate_result.x
        if "z" in last and np.array_equal(last["z"], z):
            total, values = last["v"]
        else:
            total, values, _ = loss(to_nt(z), grad=False)
        hist["total"].append(total)
        for t in loss.active:
            hist[t].append(values[t])
        if use_target and values["prior"] <= loss.prior_target:
            stopped["target"] = True
            raise StopIteration

    record_init = loss(init, grad=False)
    hist["total"].append(record_init[0])
    for t in loss.active:
        hist[t].append(record_init[1][t])
    t0 = time.perf_counter()
    if use_target and record_init[1]["prior"] <= loss.prior_target:
        # ñ₀ already looks like a fresh prior: keep it (with init='x': nothing to separate, s = 0).
        return (init.copy(), {k: np.array(v) for k, v in hist.items()}, 0, 1, 0.0, True,
                "prior term at the initial point already below its target", loss)
    res = minimize(fun, z0, jac=True, method="L-BFGS-B", callback=record, bounds=bounds,
                   options={"maxiter": max_iter, "ftol": tol, "gtol": 0.0, "maxcor": maxcor,
                            "maxfun": 4 * max_iter + 20, "maxls": 20})
    dt = time.perf_counter() - t0
    nit = int(res.nit)
    msg = res.message if isinstance(res.message, str) else res.message.decode()
    converged = stopped["target"] or (bool(res.success) and "ITERATIONS" not in msg.upper())
    if stopped["target"]:
        msg = "prior term reached its target (discrepancy principle)"
    return (to_nt(res.x), {k: np.array(v) for k, v in hist.items()}, nit, int(res.nfev), dt / max(nit, 1),
            converged, msg, loss)


def separate(x, priors, *, J=8, weights=(1.0, 1.0, 1.0), terms=("prior",), max_iter=40, tol=1e-6, whiten=False,
             segment=None, overlap=None, n_pairs=16, random_state=None, n_threads=None,
             wavelet="battle_lemarie", padding="symmetric", floor=1e-3, maxcor=20, stop="discrepancy",
             init=None, pool="auto", pool_quantile=0.25, post=None, variable="gain", gain_grid=(64, 33),
             stationary=0.5):
    """Separate the source described by ``priors`` from ``x`` in scattering-spectra space.

    x = n + s; the priors n_1..n_R are realisations of n (e.g. the most confident windows of a
    background cluster). L-BFGS minimises over ñ (float64) — by default over a time-frequency
    gain applied to x (``variable='gain'``), or over its samples from ñ₀ (``init``) —

        w1 L1 + w2 L2 + w3 L3,
        L1 = < |Φ(ñ) - Φ(n_k)|² / σ1² >,
        L2 = < |Φ(x) - Φ(x - ñ + n_k)|² / σ2² >,
        L3 = < |Φ×(x - ñ, n_k)|² / σ3² >  (+ the swapped cross moments),

    with Φ the scattering-spectra moments (``scatclust.ScatteringSpectra``, C++ kernel) and
    gradients from the C++ vector-Jacobian product. The normalisations σ are the spread of the
    priors' moments; see :mod:`scatclust.separation._loss` for every definition.

    Parameters
    ----------
    x : ndarray (N,) or (C, N), ObsPy Trace or Stream (C traces of N samples)
        Observation. NaN/Inf are refused.
    priors : ndarray (R, L) or (R, C, L), list of windows, or list of Traces / Streams
        R >= 2 realisations of the background; L = N, or L = ``segment``. Traces must have the
        sampling rate of ``x``.
    J : int
        Octaves of the scattering spectra (2**J <= L). Default 8.
    weights : 3 floats
        (w1, w2, w3) of the prior, mixture and independence terms. Default (1, 1, 1): the
        terms are normalised so that each is O(1) at a good separation.
    terms : sequence of {'prior', 'mixture', 'independence'}
        Terms to include; a weight of 0 also disables a term. Default ``('prior',)``,
        measured on srcsep's toy setup (``scatclust.datasets.separation_toy``: MRW background,
        N = 2048, R = 100, J = 8; 10 seeds): background SNR 9.0 / 14.2 / 9.9 dB on the pulses
        / square / glitch cases with the prior term alone, 9.5 / 14.1 / 10.1 dB with the full
        loss at 5 to 8 times the cost (input: 4.9 / 12.3 / -1.8 dB). On white noise + short
        pulses the full loss lowers the SNR unless stopped early: the independence term is
        smallest at s = 0, so it pulls ñ back to x, and the mixture term's gradient at ñ = x
        is a combination of the priors' fluctuations.
        ``terms=scatclust.separation.TERMS`` gives the full loss of the issue.
    max_iter : int
        L-BFGS iterations per segment (default 40), a cap: with ``stop='discrepancy'`` the
        solve usually stops after a few iterations.
    tol : float
        Stop when the relative loss decrease (f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= tol
        (scipy's ``ftol``). Default 1e-6.
    whiten : bool
        Per-time-index whitening by the priors: every signal u becomes (u - m_t) / sd_t with m_t,
        sd_t the mean and standard deviation over the priors at sample t; the solve runs on the
        whitened signals and ñ is mapped back. Useful when the priors are aligned on a common
        time reference (e.g. event-aligned windows); default False.
    segment : int, optional
        Segment length L for long records; None: one segment (L = N).
    overlap : int, optional
        Samples shared by neighbouring segments (default ``segment // 4``); overlap-add with
        windows that sum to one. ``overlap=0`` gives independent abutting segments (the public
        srcsep code, 1024-sample segments).
    n_pairs : int or None
        Number of priors used in L2 and L3 (a fixed subset drawn once with ``random_state``; None
        or >= R: all). L1 always uses all R. Default 16. The mixture and independence terms
        cost 3 * ``n_pairs`` single-channel moment evaluations (and their VJP) per loss
        evaluation, against 1 for the prior term; with all R = 100 priors a 2048-sample
        separation would take minutes on two cores.
    random_state : int or numpy Generator, optional
        Seed of the subset; the result is deterministic for a given seed (and bit-identical
        across thread counts: the kernels reduce in a fixed order).
    n_threads : int, optional
        Threads of the C++ kernel (None: ``OMP_NUM_THREADS`` / effective cores).
    wavelet, padding : str
        Filter bank of Φ (``scatclust.SpectraFilterBank``).
    floor : float
        Relative variance floor of the per-coefficient weights (default 1e-3).
    maxcor : int
        L-BFGS memory (default 20).
    stop : {'discrepancy', 'tol'}
        'discrepancy' (default; when the prior term is active): stop as soon as the prior term
        falls to the value it has at a fresh realisation of the background (estimated on the
        priors, leave-one-out), and do nothing when it is already there at x. The loss at the
        true background is not its minimum, so iterating further fits ñ to the priors' mean
        moments and distorts it (Morozov's discrepancy principle). 'tol': only ``tol`` and
        ``max_iter`` stop.
    init : {None, 'x', 'wiener', 'cap'}
        Initial point ñ₀ of L-BFGS. None (default): 'x' with ``variable='gain'`` (the only start
        it takes: gain 1), 'cap' with ``variable='samples'``. 'cap' (the samples default since
        2026-12-07, with ``pool='auto'``): the spectral cap of the segment, see below. 'x' (the
        issue's method): the observation.
        'wiener' (our addition): the Wiener estimate from the priors,
        :func:`scatclust.separation.wiener_filter` applied to the (scaled or whitened) segment,
        which the scattering loss then refines under the same stopping rule. Measured
        (bench/RESULTS.md; toy: MRW, N = 2048, R = 100, J = 8, variants tried on seeds 100-109,
        reported on seeds 0-9): the prior term at the Wiener estimate is already below its
        discrepancy target (0.75 to 0.85 of it, median), so with ``stop='discrepancy'`` the
        result is usually the Wiener estimate itself (26 of the 30 toy cases; background SNR
        11.5 / 16.3 / 12.9 dB on pulses / square / glitch against Wiener's 11.7 / 16.6 / 13.2,
        the other 4 cases losing 1.3-2.9 dB in one L-BFGS step); on Mars-like deglitching it
        iterates 0-3 times and gains 0.5 dB over Wiener (+22.0 dB over the input), on wind it
        loses 0.7 dB. With ``stop='tol'`` the toy SNR falls from the second iteration on (after
        four: pulses 10.6 -> 9.6 dB, square 15.1 -> 12.0, glitch 12.7 -> 10.5): the prior
        term's minimum fits ñ to the priors' mean moments, not to the truth. It does help where
        the prior term at the Wiener estimate is above its target, e.g. a white background with
        a wide pulse (tests/test_separation.py: +0.65 dB over Wiener, +1.6 to 2.2 dB over
        ñ₀ = x). Not used by default: it does not beat the Wiener filter on the toy setups.
        'cap': :func:`scatclust.separation.spectral_cap` of the segment (see ``post``), with
        ``pool`` the local term's starting point (see ``post`` for the measurements).
    pool : int, optional
        Time-localised prior term (our addition): the moments of ñ are averaged over blocks of
        ``pool`` samples (stride ``pool``, the blocks centred in the segment) instead of the
        whole segment, and L1 compares them block by block with the priors' moments of the same
        block (mean and spread over the R priors per block position),

            L1 = < |Φ_b(ñ) - Φ_b(n_k)|² / σ1,b² >_{k, b, i}.

        The global moments change little when a short event (pulse, glitch) is added, so the
        global L1 barely sees it, and a global filter (Wiener) must attenuate the whole record
        in the event's bands; the block moments see a large local excess, which the gradient
        removes where it is. The discrepancy target becomes the ``pool_quantile`` of the
        leave-one-out values at the priors. None: the global term. 'auto' (default):
        ``AUTO_POOL`` = 128 samples on segments of at least 512 samples when the prior term is
        on, else None. Needs the prior term; 2 <= pool <= segment length. Measured with ``pool=128`` (N = 2048, J = 8; see
        ``post`` and bench/RESULTS.md for all numbers): toy background SNR 11.86 / 16.35 /
        12.97 dB on pulses / square / glitch (reported seeds 0-9; Wiener 11.73 / 16.55 / 13.22,
        the global term 9.02 / 14.15 / 9.90), Mars-like improvement +21.20 / +12.91 dB on
        deglitch / wind (Wiener +21.54 / +15.77). Block length chosen on tuning seeds 100-109
        (with ``pool_quantile=0.25``): blocks of 64 / 128 / 256 samples gave +0.90 / +0.95 /
        +0.82 dB over Wiener on pulses, +0.37 / +0.41 / +1.10 on square, +0.25 / +0.45 / +0.05
        on glitch. The defaults (``pool='auto'``, ``init='cap'``) were chosen on those tuning
        seeds, where ``pool=128, init='cap'`` was the only variant above Wiener on all five
        setups (see ``post``); from ñ₀ = x the local term stays below Wiener on Mars-like wind
        removal. On the tuning seeds the local term beat the global one on every setup (toy
        +2.2 / +0.7 / +1.9 dB, Mars-like +1.2 / +0.5 dB).
    pool_quantile : float in [0, 1]
        With ``pool``: the discrepancy target is this quantile of the pooled prior term's
        leave-one-out values at the priors (default 0.25, the lower quartile). The mean, the
        global term's target, is inflated by the heavy-tailed block moments of intermittent
        backgrounds and stopped too early on MRW (tuning seeds: mean / median / lower quartile
        / 0.1 gave -0.11 / +0.59 / +0.95 / +0.89 dB against Wiener on pulses, +0.62 / +0.59 /
        +0.41 / +0.38 on square, -0.30 / +0.13 / +0.45 / +0.08 on glitch).
    post : {None, 'wiener', 'cap'}
        Last step on ñ after the solve. 'cap': :func:`scatclust.separation.spectral_cap`, the
        zero-phase gain clip(Q(f) / S_ñ(f), 0, 1) with Q the upper quartile of the priors' Welch
        spectra: it removes the contaminant power that the solve leaves in bands where ñ exceeds
        what three quarters of the priors show, and leaves the rest alone. 'wiener':
        :func:`scatclust.separation.wiener_filter` applied to ñ (the priors' mean spectrum;
        attenuates the background's own fluctuations: tuning seeds, with ``pool=128``: -0.53 /
        -0.48 dB against Wiener on square / glitch). Measured with ``pool=128, post='cap'``:
        toy 11.86 / 16.30 / 12.97 dB (reported seeds 0-9), Mars-like +22.35 / +14.37 dB: above
        Wiener on pulses and deglitch, 0.25 dB below on square and glitch, 1.4 dB below on wind.
        On the tuning seeds (toy 100-109, Mars-like records 100-103) it was above Wiener on all
        five setups (+0.88 / +0.27 / +0.25 dB toy, +0.92 / +0.30 dB Mars-like), and so was
        ``pool=128, init='cap'`` (+0.94 / +0.36 / +0.38, +0.35 / +0.94), which on the reported
        seeds gives 12.29 / 16.69 / 12.89 dB and +21.99 / +15.00 dB (above Wiener on pulses,
        square and deglitch, 0.33 / 0.77 dB below on glitch / wind). Caveat: the cap alone
        (``spectral_cap(x, priors)``, no scattering) is itself at or above Wiener on every
        setup (reported: 11.75 / 16.92 / 13.63 dB, +21.84 / +15.78 dB) and ahead of every
        ``separate`` variant on square, glitch and wind. Default None.
    variable : {'gain', 'samples'}
        What L-BFGS optimises. 'gain' (default since 2026-12-07, second change): a zero-phase
        time-frequency gain G(t, f) in [0, 1] applied to the segment, ñ = istft(G ⊙ stft(x))
        (:class:`scatclust.separation._gain.TFGain`: 128-sample sine-window frames, hop 32,
        weighted overlap-add; G linearly interpolated from the nodes of ``gain_grid``), from
        G = 1 (ñ₀ = x) under L-BFGS-B bounds, the gradient being the C++ VJP through the
        (linear) gain map. The loss can then only choose where in time and frequency to remove
        energy; with free samples it also adds energy where there is no contaminant (measured:
        the samples solve from the cap degrades the contaminant-free 128-sample blocks by up
        to 10-18 dB of error while improving the contaminated ones). 'samples': the issue's
        method, the samples of ñ from ``init``. Measured (bench/RESULTS.md; background SNR minus
        Wiener's, dB, toy pulses / square / glitch, Mars-like deglitch / wind): tuning seeds (toy
        100-109, Mars-like records 100-103) +2.93 / +1.31 / +1.50, +0.42 / +1.60 with
        'gain' (the spectral cap alone: +0.47 / +1.23 / +1.06, +0.21 / +1.60; 'samples' with
        ``init='cap'``: +0.94 / +0.36 / +0.38, +0.35 / +0.94), chosen there as the default;
        reported seeds (toy 0-9, Mars-like records 0-1, run once afterwards): 13.67 / 16.85 /
        14.36 dB, +21.63 / +15.78 dB (Wiener 11.73 / 16.55 / 13.22, +21.54 / +15.77; the cap
        alone 11.75 / 16.92 / 13.63, +21.84 / +15.78): above Wiener on all five, above the cap
        on pulses and glitch, 0.07 / 0.21 dB below it on square / deglitch, equal on wind (the
        fallback returns the cap there).
    gain_grid : (int, int)
        With ``variable='gain'``: spacing of the gain's time nodes in samples and number of its
        frequency nodes (equally spaced from 0 to Nyquist, at most 65: more are clipped).
        Default (64, 33): 32 time nodes x 33 frequency nodes per channel on 2048 samples (about
        half the unknowns of the samples solve).
    stationary : float in (0, 1] or None
        With ``variable='gain'``: when the energy the gain solve removes, x - ñ, is spread over
        more than this share of the 128-sample blocks (participation ratio (Σ e_b)² / (n_b Σ
        e_b²)), the source is taken as stationary (present all the time, e.g. wind) and the
        segment's :func:`scatclust.separation.spectral_cap` is returned instead: a
        time-invariant gain is then the right model, and the gain solve fits the loss at the
        truth's expense (tuning seeds, wind: -1.13 dB against Wiener without the fallback,
        +1.60 with it; the toy and deglitch cases have ratios 0.07-0.45 except one deglitch
        event at 0.86, the wind cases 0.79-0.94). None: never. ``diagnostics['participation']``
        holds the ratio per segment. Default 0.5.

    Returns
    -------
    SeparationResult
        ``background`` (ñ) and ``source`` (x - ñ) in the input's form (Traces keep their
        stats, with a line appended to ``stats.processing``), loss history per term,
        iterations, time per iteration and diagnostics.

    Raises
    ------
    ValueError
        Wrong shapes, priors of the wrong length or sampling rate, R < 2, NaN/Inf, bad
        parameters; the message names the argument, its value and the fix.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.separation import separate
    >>> rng = np.random.default_rng(0)
    >>> priors = rng.standard_normal((8, 256))
    >>> x = rng.standard_normal(256); x[100:140] += 2.0          # background + square glitch
    >>> res = separate(x, priors, J=4, max_iter=5, n_threads=1)
    >>> res.background.shape, res.source.shape, sorted(res.loss_history)
    ((256,), (256,), ['prior', 'total'])
    >>> full = separate(x, priors, J=4, terms=("prior", "mixture", "independence"), max_iter=3,
    ...                 random_state=0, n_threads=1)
    >>> sorted(full.loss_history)
    ['independence', 'mixture', 'prior', 'total']
    """
    t_start = time.perf_counter()
    xa, kind, template, rate = _as_x(x)
    C, N = xa.shape
    pr = _as_priors(priors, C, rate)
    R, _, L = pr.shape
    if segment is None:
        if L != N:
            raise ValueError(f"priors have {L} samples per window but x has N={N}; pass priors of {N} samples, "
                             f"or segment={L} to separate x in segments of the priors' length")
        seg = N
    else:
        seg = check_int(segment, "segment", 2, None)
        if seg != L:
            raise ValueError(f"segment={seg} but the priors have {L} samples per window; use segment={L} "
                             f"or cut priors of {seg} samples")
        if seg > N:
            raise ValueError(f"segment={seg} is longer than x (N={N}); use segment=None or segment <= {N}")
    if overlap is None:
        ov = seg // 4 if seg < N else 0
    else:
        ov = check_int(overlap, "overlap", 0, seg - 1)
    J = check_int(J, "J", 1, 24)
    if 2 ** J > seg:
        raise ValueError(f"J={J} needs windows of at least 2**J={2 ** J} samples; the segment has {seg}: "
                         f"use J <= {int(np.log2(seg))}")
    try:
        w = tuple(float(v) for v in weights)
    except TypeError:
        raise TypeError(f"weights={weights!r} must be three numbers (prior, mixture, independence)") from None
    if len(w) != 3 or any(not np.isfinite(v) or v < 0 for v in w):
        raise ValueError(f"weights={weights!r} must be three finite numbers >= 0 (prior, mixture, independence)")
    if isinstance(terms, str):
        terms = (terms,)
    terms = tuple(terms)
    for t in terms:
        check_choice(t, "terms", TERMS)
    if not any(t in terms and wt > 0 for t, wt in zip(TERMS, w)):
        raise ValueError(f"terms={terms} with weights={w} disables every loss term; keep at least one of "
                         f"{TERMS} with a non-zero weight")
    max_iter = check_int(max_iter, "max_iter", 1, None)
    tol = float(tol)
    if not tol >= 0:
        raise ValueError(f"tol={tol} must be >= 0")
    check_choice(wavelet, "wavelet", WAVELETS)
    check_choice(padding, "padding", PADDINGS)
    check_choice(stop, "stop", ("discrepancy", "tol"))
    check_choice(variable, "variable", VARIABLES)
    if init is None:
        init = "cap" if variable == "samples" else "x"
    check_choice(init, "init", INITS)
    if variable == "gain" and init != "x":
        raise ValueError(f"init={init!r} is a starting point of variable='samples'; variable='gain' always starts "
                         f"from the gain 1 (ñ₀ = x): use init=None (or 'x'), or variable='samples'")
    try:
        t_step, n_f = gain_grid
    except (TypeError, ValueError):
        raise ValueError(f"gain_grid={gain_grid!r} must be two ints (time-node spacing in samples, number of "
                         f"frequency nodes), e.g. gain_grid=(64, 33)") from None
    t_step = check_int(t_step, "gain_grid[0]", 1, None)
    n_f = check_int(n_f, "gain_grid[1]", 2, None)
    if stationary is not None:
        stationary = float(stationary)
        if not 0.0 < stationary <= 1.0:
            raise ValueError(f"stationary={stationary} must be in (0, 1] (the share of blocks over which the "
                             f"removed energy is spread; 1 never falls back) or None")
    if isinstance(pool, str):
        check_choice(pool, "pool", ("auto",))
        pool = AUTO_POOL if (seg >= 4 * AUTO_POOL and "prior" in terms and w[0] > 0) else None
    if pool is not None:
        pool = check_int(pool, "pool", 2, None)
        if pool > seg:
            raise ValueError(f"pool={pool} is longer than the segment ({seg} samples); use pool <= {seg}, "
                             f"e.g. pool={max(2, seg // 16)}, or pool=None for the global prior term")
        if not ("prior" in terms and w[0] > 0):
            raise ValueError(f"pool={pool} localises the prior term, which terms={terms} with weights={w} "
                             f"disables; add 'prior' to terms or use pool=None")
    pool_quantile = float(pool_quantile)
    if not 0.0 <= pool_quantile <= 1.0:
        raise ValueError(f"pool_quantile={pool_quantile} must be in [0, 1] (0.5: the median)")
    if post is not None:
        check_choice(post, "post", POSTS)
    n_threads = resolve_n_threads(n_threads)
    if n_pairs is None or n_pairs >= R:
        K = R
    else:
        K = check_int(n_pairs, "n_pairs", 1, None)
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    pairs = np.arange(R) if K == R else np.sort(rng.choice(R, size=K, replace=False))

    # Scale: whitening, or one scalar (the priors' std) so that the moments are O(1) and L-BFGS's
    # tolerances do not depend on the units (seismic records are ~1e-9 m/s).
    if whiten:
        mu = pr.mean(axis=0)
        sd = pr.std(axis=0)
        sd = np.maximum(sd, 1e-6 * sd.mean())
        scale = None
    else:
        scale = float(pr.std())
        if scale == 0:
            raise ValueError("priors are constant (zero standard deviation); pass realisations of the background")

    bounds = segment_bounds(N, seg, ov) if seg < N else [(0, N)]
    Wts = overlap_add_weights(bounds, N, ov) if len(bounds) > 1 else np.ones((1, N))
    nt = np.zeros((C, N))
    segments, sigmas, losses, ratios = [], [], [], []
    hist_parts, seg_ids = {}, []
    for i, (a, b) in enumerate(bounds):
        xs = xa[:, a:b]
        if whiten:
            xs_n, pr_n = (xs - mu) / sd, (pr - mu) / sd
        else:
            xs_n, pr_n = xs / scale, pr / scale
        if init in ("wiener", "cap"):
            from ._baselines import spectral_cap, wiener_filter

            init_n = (wiener_filter(xs_n, pr_n) if init == "wiener" else spectral_cap(xs_n, pr_n))[0]
        else:
            init_n = xs_n
        tf = None
        if variable == "gain":
            M = GAIN_WINDOW if b - a >= 2 * GAIN_WINDOW else max(4, 2 * ((b - a) // 4))
            tf = TFGain(xs_n, M=M, t_step=t_step, n_f=min(n_f, M // 2 + 1))
        est, hist, nit, nfev, tpi, conv, msg, loss = _solve(xs_n, pr_n, J, w, terms, pairs, max_iter, tol,
                                                            wavelet, padding, floor, n_threads, maxcor, stop,
                                                            init_n, pool, pool_quantile, gain=tf)
        ratio = None
        if tf is not None:
            # Stationary source: the removed energy x - ñ spread over most blocks means a source
            # present all the time (e.g. wind), for which a time-invariant gain is the right model
            # and the time-varying one fits the loss at the truth's expense (tuning seeds,
            # bench/RESULTS.md): return the spectral cap of the segment instead.
            ratio = _participation(xs_n - est, pool or min(AUTO_POOL, b - a))
            if stationary is not None and ratio > stationary:
                from ._baselines import spectral_cap

                est = spectral_cap(xs_n, pr_n)[0]
                msg = f"stationary source (participation ratio {ratio:.2f} > {stationary}): spectral cap"
        ratios.append(ratio)
        if post is not None:
            from ._baselines import spectral_cap, wiener_filter

            est = (wiener_filter(est, pr_n) if post == "wiener" else spectral_cap(est, pr_n))[0]
        # No iteration from ñ₀ = x: ñ = x exactly (not x scaled and scaled back).
        if nit == 0 and init == "x" and variable == "samples" and post is None:
            est = xs.copy()
        else:
            est = est * sd + mu if whiten else est * scale
        nt[:, a:b] += Wts[i] * est
        sigmas.append(loss.sigma)
        losses.append(loss)
        segments.append(SegmentResult(a, b, est, hist, nit, nfev, tpi, conv, msg))
        for k, v in hist.items():
            hist_parts.setdefault(k, []).append(v)
        seg_ids.append(np.full(len(hist["total"]), i))
    n_iter = sum(s.n_iter for s in segments)
    t_solve = sum(s.time_per_iter * max(s.n_iter, 1) for s in segments)
    src = xa - nt
    background, source = _to_output(nt, kind, template, "background"), _to_output(src, kind, template, "source")
    diag = {"weights": dict(zip(TERMS, w)), "terms": tuple(t for t in TERMS if t in terms), "pairs": pairs,
            "scale": scale, "whiten": bool(whiten), "segment": seg, "overlap": ov, "R": R, "J": J,
            "sigma": sigmas, "background_array": nt, "init": init, "pool": pool, "post": post,
            "prior_target": [s_.prior_target for s_ in losses], "variable": variable,
            "gain_grid": (t_step, n_f), "stationary": stationary, "participation": ratios}
    return SeparationResult(background, source, xa, {k: np.concatenate(v) for k, v in hist_parts.items()},
                            np.concatenate(seg_ids), n_iter, t_solve / max(n_iter, 1),
                            time.perf_counter() - t_start, segments, diag)


def _participation(s, block):
    """Share of the ``block``-sample blocks (centred) over which the energy of s (C, L) is spread:
    (Σ_b e_b)² / (n_b Σ_b e_b²), 1 for equal energies, 1/n_b for one block."""
    L = s.shape[-1]
    n_b = max(1, L // block)
    o = (L - n_b * block) // 2
    e = np.sum(s[:, o:o + n_b * block] ** 2, axis=0).reshape(n_b, -1).sum(axis=1)
    tot = float(np.sum(e ** 2))
    return 1.0 if tot == 0.0 else float(e.sum() ** 2 / (n_b * tot))


def _to_output(a, kind, template, what):
    if kind == "array1":
        return a[0].copy()
    if kind == "array2":
        return a.copy()
    note = f"scatclust.separate: {what} (scattering-spectra separation)"
    if kind == "trace":
        tr = template.copy()
        tr.data = a[0].astype(template.data.dtype if template.data.dtype.kind == "f" else np.float64)
        tr.stats.setdefault("processing", []).append(note)
        return tr
    st = template.copy()
    for tr, row in zip(st, a):
        tr.data = row.astype(tr.data.dtype if tr.data.dtype.kind == "f" else np.float64)
        tr.stats.setdefault("processing", []).append(note)
    return st
