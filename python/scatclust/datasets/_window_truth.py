r"""Ground truth of windowed clusterings on the Mars-like synthetic record.

A clustering of the :class:`scatclust.ScatteringPyramid` windows (right-aligned nested
sub-windows of lengths ``scales``) is scored against the per-sample source labels of
:func:`scatclust.datasets.synthetic_mars`. This module fixes what the "true" class of a
window is at each scale and which scale "matches" each source's duration.

Typical durations
-----------------
``MARS_DURATIONS`` gives the median labelled event length (s) of each discrete source of
the generator (labels run where the event's envelope is >= 5 % of its peak; values from
the model's parameters and checked on a 1-day record, seed 100: donk 22 samples = 1.1 s,
glitch 1243 = 62 s, quake 793 s, wind 1124 s at 20 Hz):

=========  ==========  ===============================================================
source     duration    from the model
=========  ==========  ===============================================================
donk       1.1 s       Gabor atom, 4.9 sigma above 5 %, sigma ~ U(0.12, 0.35) s
glitch     62 s        t/tau exp(1 - t/tau) above 5 %: ~5.6 tau, tau ~ U(8, 14) s
quake      800 s       S-P delay + ~3 coda decay times (LF ~620 s, HF ~975 s)
wind       1120 s      log-normal bursts, median 20 min, minus the 5 % ends of the ramps
=========  ==========  ===============================================================

Matching scale
--------------
The matching scale of a source is the pyramid scale nearest to its duration on a log
axis (``matching_scales``). With the benchmark's scales 256, 1024, 4096, 16384 samples at
20 Hz (12.8 s, 51 s, 3.4 min, 13.7 min): donk -> 256 (the smallest; a donk is shorter
than every window), glitch -> 1024, quake -> 16384, wind -> 16384.

Per-scale truth (``window_truth``)
----------------------------------
At scale s the sub-window of window w is ``[end_w - s, end_w)``. A discrete source k
*counts* in it when both

1. it is resolvable at that scale: ``s <= max_ratio * d_k`` (d_k its duration in
   samples, ``max_ratio`` = 16, two pyramid steps of 4). Beyond that an event fills less
   than 1/16 of the sub-window. Without this rule donks (one every few minutes) would be
   present in nearly every 14-min window and label it 'donk', a class no window statistic
   at that scale can be expected to represent; and
2. it covers at least ``min_overlap`` (= 0.5) of ``min(s, d_k)`` labelled samples of the
   sub-window: half of an event when the event is shorter than the window, half of the
   window otherwise, so that a window clipping the edge of an event does not count.

The window's class is the counting source with the most labelled samples in the
sub-window, or 'background' when none counts (background and the tone are always on).
Every source stays in the truth at every scale where it is resolvable, so at the small
scales the long sources (wind, quakes) are classes too: the truth is not reduced to the
matched sources of the scale, which would make the task easier than it is.

Per-source score (``source_scores``)
------------------------------------
For source k at its matching scale: every cluster is mapped to the truth class most
frequent among its windows (many-to-one, the usual read-out when there are more clusters
than classes), and the adjusted Rand index of the binary partitions "truth is k" vs
"mapped cluster is k" is the score (NaN when k is absent from the truth at that scale).
The mapping uses the truth, so the score rewards any number of clusters that are pure;
comparisons between methods are therefore made at the same number of clusters.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["MARS_DURATIONS", "matching_scales", "window_truth", "source_scores"]

MARS_DURATIONS = {"wind": 1120.0, "glitch": 62.0, "donk": 1.1, "quake": 800.0}  # seconds, see module docs
DISCRETE_SOURCES = ("wind", "glitch", "donk", "quake")


def _check_scales(scales):
    try:
        scales = tuple(scales)
    except TypeError:
        raise TypeError(f"scales={scales!r} must be a sequence of window lengths in samples") from None
    if not scales or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in scales):
        raise ValueError(f"scales={scales!r} must be a non-empty sequence of ints >= 1")
    return tuple(int(s) for s in scales)


def _durations_samples(durations, fs):
    if isinstance(fs, bool) or not isinstance(fs, numbers.Real) or not fs > 0:
        raise ValueError(f"fs={fs!r} must be a number > 0 (Hz)")
    durations = MARS_DURATIONS if durations is None else durations
    out = {}
    for k, d in durations.items():
        if isinstance(d, bool) or not isinstance(d, numbers.Real) or not d > 0:
            raise ValueError(f"durations[{k!r}]={d!r} must be a number > 0 (seconds)")
        out[k] = float(d) * float(fs)
    return out


def matching_scales(scales, fs=20.0, durations=None):
    """Scale nearest (on a log axis) to each source's typical duration.

    Parameters
    ----------
    scales : sequence of int
        Window lengths in samples.
    fs : float
        Sampling rate in Hz.
    durations : dict, optional
        Source -> duration in seconds (default ``MARS_DURATIONS``).

    Returns
    -------
    dict
        Source -> one of ``scales``.

    Examples
    --------
    >>> from scatclust.datasets import matching_scales
    >>> matching_scales((256, 1024, 4096, 16384), fs=20.0)
    {'wind': 16384, 'glitch': 1024, 'donk': 256, 'quake': 16384}
    """
    scales = _check_scales(scales)
    d = _durations_samples(durations, fs)
    return {k: min(scales, key=lambda s: abs(math.log(s / v))) for k, v in d.items()}


def window_truth(labels, window_end, scales, fs=20.0, *, durations=None, min_overlap=0.5, max_ratio=16.0):
    """True class of every (window, scale) of a pyramid (rule in the module docs).

    Parameters
    ----------
    labels : dict
        Source -> (L,) bool per-sample activity, e.g. ``synthetic_mars(...).labels``
        (sources missing from ``durations``, such as 'background' and 'tone', are ignored).
    window_end : array_like of int, shape (n_windows,)
        Exclusive end sample of every window (``PyramidFeatures.window_end``).
    scales : sequence of int
        Sub-window lengths in samples (``PyramidFeatures.scales``).
    fs : float
        Sampling rate in Hz (converts ``durations`` to samples).
    durations : dict, optional
        Source -> typical duration in seconds (default ``MARS_DURATIONS``).
    min_overlap : float in (0, 1]
        Share of ``min(scale, duration)`` a source must cover to count.
    max_ratio : float > 0
        A source counts only at scales <= ``max_ratio`` x its duration.

    Returns
    -------
    ndarray of str (object), shape (n_windows, n_scales)
        A source name or 'background'.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.datasets import window_truth
    >>> lab = {"donk": np.zeros(2000, bool), "glitch": np.zeros(2000, bool)}
    >>> lab["donk"][990:1010] = True                      # a 1-s donk
    >>> window_truth(lab, [1024, 2000], (256, 1024), durations={"donk": 1.0, "glitch": 60.0})
    array([['donk', 'background'],
           ['background', 'background']], dtype=object)
    """
    scales = _check_scales(scales)
    d = _durations_samples(durations, fs)
    if isinstance(min_overlap, bool) or not isinstance(min_overlap, numbers.Real) or not 0 < min_overlap <= 1:
        raise ValueError(f"min_overlap={min_overlap!r} must be in (0, 1]")
    if isinstance(max_ratio, bool) or not isinstance(max_ratio, numbers.Real) or not max_ratio > 0:
        raise ValueError(f"max_ratio={max_ratio!r} must be a number > 0")
    names = [k for k in d if k in labels]
    if not names:
        raise ValueError(f"labels has none of the sources {sorted(d)}")
    lengths = {np.asarray(labels[k]).shape for k in names}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise ValueError(f"labels must be 1-D arrays of one length; got shapes {sorted(lengths)}")
    L = next(iter(lengths))[0]
    end = np.asarray(window_end)
    if end.ndim != 1 or not np.issubdtype(end.dtype, np.integer):
        raise ValueError(f"window_end must be a 1-D integer array; got {end.dtype} with shape {end.shape}")
    if end.size and (end.min() < max(scales) or end.max() > L):
        raise ValueError(f"window_end spans [{end.min()}, {end.max()}]; every window needs "
                         f"{max(scales)} <= end <= {L} (the labels' length)")
    csum = {k: np.concatenate([[0], np.cumsum(np.asarray(labels[k], dtype=bool), dtype=np.int64)]) for k in names}
    out = np.empty((end.size, len(scales)), dtype=object)
    for j, s in enumerate(scales):
        occ = np.stack([csum[k][end] - csum[k][end - s] for k in names], 1).astype(np.float64)
        for i, k in enumerate(names):
            if s > max_ratio * d[k]:
                occ[:, i] = 0.0
            else:
                occ[occ[:, i] < min_overlap * min(s, d[k]), i] = 0.0
        lab = np.array(names, dtype=object)[occ.argmax(1)] if names else np.empty(end.size, object)
        lab[occ.max(1) <= 0] = "background"
        out[:, j] = lab
    return out


def source_scores(truth, labels, scales, fs=20.0, *, durations=None):
    """Per-source adjusted Rand index at the source's matching scale (see the module docs).

    Parameters
    ----------
    truth : ndarray, shape (n_windows, n_scales)
        From :func:`window_truth`.
    labels : array_like of int, shape (n_windows, n_scales)
        Cluster of every window at every scale.
    scales, fs, durations :
        As :func:`window_truth` (they give the matching scales).

    Returns
    -------
    dict
        Source -> {'scale': matching scale, 'ari': float (NaN when the source is absent
        from the truth at that scale), 'support': windows of that class}.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.datasets import source_scores
    >>> truth = np.array([["donk"], ["background"], ["background"], ["donk"]], dtype=object)
    >>> source_scores(truth, np.array([[0], [1], [2], [0]]), (256,), durations={"donk": 1.0})
    {'donk': {'scale': 256, 'ari': 1.0, 'support': 2}}
    """
    from sklearn.metrics import adjusted_rand_score

    scales = _check_scales(scales)
    truth = np.asarray(truth, dtype=object)
    labels = np.asarray(labels)
    if truth.shape != labels.shape or truth.ndim != 2 or truth.shape[1] != len(scales):
        raise ValueError(f"truth.shape={truth.shape} and labels.shape={labels.shape} must both be "
                         f"(n_windows, n_scales={len(scales)})")
    out = {}
    for k, s in matching_scales(scales, fs, durations).items():
        j = scales.index(s)
        t, c = truth[:, j], labels[:, j]
        mapped = np.empty(t.shape, dtype=object)
        for cl in np.unique(c):
            vals, cnt = np.unique(t[c == cl], return_counts=True)
            mapped[c == cl] = vals[cnt.argmax()]  # ties: the first name in sorted order
        support = int((t == k).sum())
        ari = float(adjusted_rand_score(t == k, mapped == k)) if support else float("nan")
        out[k] = {"scale": s, "ari": ari, "support": support}
    return out
