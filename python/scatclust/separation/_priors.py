"""Choosing the prior windows n_1..n_R of a separation: by cluster, confidence, time-of-day
proximity and non-overlap, from arrays/Traces or from a fitted clustering model."""
from __future__ import annotations

import numpy as np

from .._array import check_int

__all__ = ["select_priors", "priors_from_model"]


def _as_windows(windows):
    if isinstance(windows, (list, tuple)) and windows and type(windows[0]).__module__.startswith("obspy"):
        rows = []
        for w in windows:
            trs = list(w) if type(w).__name__ == "Stream" else [w]
            rows.append(np.stack([np.asarray(tr.data, dtype=np.float64) for tr in trs]))
        if len({r.shape for r in rows}) != 1:
            raise ValueError("windows differ in length or channel count; cut them to the same shape")
        W = np.stack(rows)
        return W[:, 0] if W.shape[1] == 1 else W
    W = np.asarray(windows)
    if W.ndim not in (2, 3):
        raise ValueError(f"windows has shape {W.shape}; expected (M, N) or (M, C, N): one row per window")
    return W


def _vec(v, name, M):
    a = np.asarray(v)
    if a.shape != (M,):
        raise ValueError(f"{name} has shape {a.shape}; expected ({M},), one value per window")
    return a


def select_priors(windows, n, *, labels=None, cluster=None, confidence=None, times=None, target_time=None,
                  period=86400.0, starts=None, exclude=None, min_confidence=None):
    """Pick up to ``n`` prior windows.

    Steps: keep the windows of ``cluster`` (``labels == cluster``) and with confidence >=
    ``min_confidence``; rank them by time-of-day distance to ``target_time`` (when given,
    ties broken by confidence), else by decreasing confidence (else in input order); walk
    the ranking and accept a window when it overlaps neither an accepted window nor the
    ``exclude`` interval (needs ``starts``: the window's first sample in the record; windows
    have the length of their last axis); stop at ``n``.

    Parameters
    ----------
    windows : ndarray (M, N) or (M, C, N), or list of Traces / Streams
    n : int
        Number of priors wanted (R).
    labels : array (M,), optional
        Cluster label of each window.
    cluster : int, optional
        Label to keep (needs ``labels``).
    confidence : array (M,), optional
        Higher is better (e.g. ``FVAEClustering.confidence``).
    times : array (M,) of float seconds, optional
        Window times (e.g. UTC or LMST seconds; POSIX timestamps).
    target_time : float, optional
        Time of the window to separate; the distance is taken modulo ``period`` (default one
        Earth day, 86400 s; 88775.244 s for a Mars sol), i.e. time-of-day proximity.
    starts : array (M,) of int, optional
        First sample of each window in the record (for non-overlap).
    exclude : (int, int), optional
        Sample interval [a, b) that no prior may overlap (the window being separated).
    min_confidence : float, optional

    Returns
    -------
    priors : ndarray, (R, N) or (R, C, N), R <= n
    index : ndarray int64 (R,)
        Rows of ``windows`` chosen, in rank order.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.arange(40.0).reshape(10, 4)
    >>> p, idx = select_priors(W, 3, confidence=np.linspace(0, 1, 10), starts=np.arange(10) * 2)
    >>> idx.tolist()                       # 9 first, then every other window (no overlap)
    [9, 7, 5]
    """
    W = _as_windows(windows)
    M, L = W.shape[0], W.shape[-1]
    n = check_int(n, "n", 1, None)
    keep = np.ones(M, dtype=bool)
    if cluster is not None:
        if labels is None:
            raise ValueError("cluster=... needs labels=<one label per window>")
        keep &= _vec(labels, "labels", M) == cluster
    conf = None if confidence is None else _vec(confidence, "confidence", M).astype(np.float64)
    if min_confidence is not None:
        if conf is None:
            raise ValueError("min_confidence=... needs confidence=<one value per window>")
        keep &= conf >= min_confidence
    cand = np.flatnonzero(keep)
    if target_time is not None:
        if times is None:
            raise ValueError("target_time=... needs times=<one time per window>")
        t = _vec(times, "times", M).astype(np.float64)
        if not period > 0:
            raise ValueError(f"period={period} must be > 0 (seconds per day)")
        d = np.abs((t[cand] - float(target_time) + period / 2) % period - period / 2)
        second = -conf[cand] if conf is not None else np.zeros(len(cand))
        cand = cand[np.lexsort((second, d))]
    elif conf is not None:
        cand = cand[np.argsort(-conf[cand], kind="stable")]
    st = None if starts is None else _vec(starts, "starts", M).astype(np.int64)
    if exclude is not None and st is None:
        raise ValueError("exclude=(a, b) needs starts=<first sample of each window>")
    chosen = []
    for i in cand:
        if st is not None:
            a = st[i]
            if exclude is not None and a < exclude[1] and exclude[0] < a + L:
                continue
            if any(abs(a - st[k]) < L for k in chosen):
                continue
        chosen.append(int(i))
        if len(chosen) == n:
            break
    idx = np.array(chosen, dtype=np.int64)
    return W[idx], idx


def priors_from_model(model, X, windows, cluster, n, *, scale=0, **kwargs):
    """Priors from a fitted clustering model: the ``n`` most confident windows of ``cluster``.

    Parameters
    ----------
    model : fitted ``scatclust.models.FVAEClustering`` or ``scatclust.cluster.KMeans``
        (anything with ``predict``; confidence from ``confidence(X)`` (F-VAE: max posterior
        probability at ``scale``) or, for k-means, minus the distance to the centre).
    X : array (M, ...)
        The model's input features of the M windows.
    windows : ndarray (M, N) / (M, C, N) or list of Traces
        The waveforms of the same M windows.
    cluster : int
    n : int
    scale : int
        F-VAE scale whose labels/confidence are used (default 0).
    **kwargs
        Passed to :func:`select_priors` (``times``, ``target_time``, ``starts``, ``exclude``...).

    Returns
    -------
    priors, index : as :func:`select_priors`.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.cluster import KMeans
    >>> rng = np.random.default_rng(0)
    >>> W = np.concatenate([rng.standard_normal((20, 64)), 5 * rng.standard_normal((20, 64))])
    >>> X = np.log(W.var(axis=1, keepdims=True))
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> p, idx = priors_from_model(km, X, W, cluster=km.predict(X[:1])[0], n=5)
    >>> bool((idx < 20).all()), p.shape
    (True, (5, 64))
    """
    if hasattr(model, "confidence"):
        labels = np.asarray(model.predict(X))
        conf = np.asarray(model.confidence(X))
        if labels.ndim == 2:
            labels, conf = labels[:, scale], conf[:, scale]
    else:
        labels = np.asarray(model.predict(X))
        dist = np.asarray(model.transform(X))
        conf = -dist[np.arange(len(labels)), labels]
    return select_priors(windows, n, labels=labels, cluster=cluster, confidence=conf, **kwargs)
