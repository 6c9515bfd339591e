"""Choosing the number of clusters: silhouette, Calinski-Harabasz, the gap statistic and the
inertia elbow, over a range of k, with one k-means fit per k reused by every criterion.

The scores are plain numpy. The silhouette needs all pairwise distances; they are computed
one block of rows at a time (a block holds at most ``_BLOCK_ELEMENTS`` distances), so memory
stays O(block x n_samples) however many rows there are.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .._array import check_choice, check_int, is_torch
from ._kmeans import KMeans, check_random_state

__all__ = ["GapResult", "KSelection", "calinski_harabasz_score", "gap_statistic", "select_k",
           "silhouette_score"]

METRICS = ("inertia", "silhouette", "calinski_harabasz", "gap")
REFERENCES = ("uniform", "pca")
COLUMNS = ("k", "inertia", "silhouette", "calinski_harabasz", "gap", "gap_sd")
# 2**22 float64 distances = 32 MiB per block (plus one temporary of the same size).
_BLOCK_ELEMENTS = 1 << 22
_SEED_MAX = 2**31 - 1


# ---- input checks ---------------------------------------------------------------------------
def _check_X(X, name="X"):
    """2-D finite real array (n_samples >= 1, n_features >= 1); float32/float64 kept."""
    if is_torch(X):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{name} has dtype {X.dtype}; a real numeric array is expected")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}; "
                         f"use {name}.reshape(-1, 1) for a single feature")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{name} has shape {X.shape}; at least one sample and one feature are required")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X = np.ascontiguousarray(X)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinity; remove or impute those rows first")
    return X


def _check_labels(labels, n):
    """Codes 0..L-1 (int64, (n,)) and their counts for a 1-D label array of length n."""
    if is_torch(labels):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"labels has shape {labels.shape} but X has {n} rows; pass one label per row "
                         f"(shape ({n},))")
    _, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return codes.reshape(-1).astype(np.int64), counts


def _check_n_labels(n_labels, n, func):
    if not 2 <= n_labels <= n - 1:
        raise ValueError(f"{func} needs 2 <= n_labels <= n_samples - 1, got n_labels={n_labels} with "
                         f"n_samples={n}; pass a clustering with at least two and fewer than "
                         f"n_samples clusters")


def _check_k_range(k_range, n):
    """Sorted unique ks, each an int in [1, n_samples]."""
    if isinstance(k_range, numbers.Integral):
        raise TypeError(f"k_range={k_range!r} must be an iterable of ints, e.g. range(2, 11)")
    ks = list(k_range)
    if not ks:
        raise ValueError("k_range is empty; pass at least one number of clusters, e.g. range(2, 11)")
    out = []
    for k in ks:
        k = check_int(k, "k_range entry")
        if not 1 <= k <= n:
            raise ValueError(f"k_range contains k={k}; every k must satisfy 1 <= k <= n_samples={n}, "
                             f"e.g. k_range=range(2, {min(n, 10) + 1})")
        out.append(k)
    return np.unique(np.asarray(out, dtype=np.int64))


def _check_kmeans_kwargs(kwargs):
    for key in ("n_clusters", "random_state"):
        if key in kwargs:
            raise TypeError(f"{key} cannot be passed as a KMeans keyword here: n_clusters comes from "
                            f"k_range and random_state is this function's own argument")
    return kwargs


# ---- silhouette ------------------------------------------------------------------------------
def _silhouette_samples(X, codes, counts, chunk_size=None):
    """Silhouette of every row (float64, (n,)), scikit-learn's definition (0 for singletons).

    Rows are sorted by label so that per-cluster distance sums are one ``np.add.reduceat`` over
    contiguous column ranges of each block of distances.
    """
    n = X.shape[0]
    # Centring first keeps the expansion ||x||^2 - 2x.y + ||y||^2 accurate (less cancellation).
    Xs = X.astype(np.float64) - X.mean(axis=0, dtype=np.float64)
    order = np.argsort(codes, kind="stable")
    Xs = np.ascontiguousarray(Xs[order])
    cs = codes[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sq = np.einsum("ij,ij->i", Xs, Xs)
    if chunk_size is None:
        chunk_size = max(1, _BLOCK_ELEMENTS // n)
    intra = np.empty(n)
    inter = np.empty(n)
    cnt = counts.astype(np.float64)
    for lo in range(0, n, chunk_size):
        hi = min(n, lo + chunk_size)
        # Squared distances by the expansion ||x||^2 - 2x.y + ||y||^2, clamped at 0 (in place:
        # one block-sized buffer).
        d = Xs[lo:hi] @ Xs.T
        d *= -2.0
        d += sq[lo:hi, None]
        d += sq[None, :]
        np.maximum(d, 0.0, out=d)
        np.sqrt(d, out=d)
        d[np.arange(hi - lo), np.arange(lo, hi)] = 0.0  # exact zero self-distance
        sums = np.add.reduceat(d, starts, axis=1)  # (block, n_labels)
        own = cs[lo:hi]
        rows = np.arange(hi - lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            intra[lo:hi] = sums[rows, own] / (cnt[own] - 1.0)
        means = sums / cnt[None, :]
        means[rows, own] = np.inf
        inter[lo:hi] = means.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (inter - intra) / np.maximum(intra, inter)
    s[cnt[cs] == 1] = 0.0  # singleton clusters score 0 (Rousseeuw's convention, as scikit-learn)
    s = np.nan_to_num(s)  # both distances 0 (duplicate points): 0
    out = np.empty(n)
    out[order] = s
    return out


def silhouette_score(X, labels, sample_size=None, random_state=None, *, chunk_size=None):
    """Mean silhouette coefficient of a clustering (Rousseeuw 1987), Euclidean distance.

    For row i with mean distance a(i) to the other members of its cluster and smallest mean
    distance b(i) to the members of another cluster, s(i) = (b - a) / max(a, b); rows alone in
    their cluster score 0. The result is the mean of s over the rows (scikit-learn's
    ``silhouette_score`` with ``metric='euclidean'``).

    Parameters
    ----------
    X : array (n_samples, n_features) or torch CPU tensor, real; computed in float64
    labels : array (n_samples,) of any hashable dtype
        Cluster label of each row; 2 <= number of distinct labels <= n_samples - 1.
    sample_size : int in [2, n_samples] or None
        Score a random subset of that many rows (drawn without replacement as scikit-learn
        does: ``RandomState(random_state).permutation(n_samples)[:sample_size]``).
    random_state : int, RandomState or None
        Seeds the subsample when ``sample_size`` is given.
    chunk_size : int >= 1 or None, keyword only
        Rows per block of pairwise distances. None: as many as keep a block at 2**22
        distances (32 MiB). The result does not depend on it beyond rounding.

    Returns
    -------
    float in [-1, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.cluster import silhouette_score
    >>> X = np.array([[0., 0.], [0., 1.], [10., 0.], [10., 1.]])
    >>> round(silhouette_score(X, [0, 0, 1, 1]), 4)
    0.9002
    """
    X = _check_X(X)
    n = X.shape[0]
    codes, counts = _check_labels(labels, n)
    chunk_size = check_int(chunk_size, "chunk_size", lo=1, allow_none=True)
    if sample_size is not None:
        sample_size = check_int(sample_size, "sample_size", lo=2, hi=n)
        idx = check_random_state(random_state).permutation(n)[:sample_size]
        X = X[idx]
        codes, counts = _check_labels(codes[idx], sample_size)
        n = sample_size
    _check_n_labels(counts.size, n, "silhouette_score")
    return float(np.mean(_silhouette_samples(X, codes, counts, chunk_size)))


# ---- Calinski-Harabasz ---------------------------------------------------------------------
def calinski_harabasz_score(X, labels):
    """Calinski-Harabasz (variance ratio) index of a clustering.

    ``CH = [B / (L - 1)] / [W / (n - L)]`` with B the between-cluster dispersion
    (sum over clusters of n_c ||mean_c - mean||^2), W the within-cluster dispersion (sum of
    squared distances to the cluster means), L clusters and n rows; 1.0 when W = 0
    (scikit-learn's convention). Higher is better.

    Parameters
    ----------
    X : array (n_samples, n_features) or torch CPU tensor, real; computed in float64
    labels : array (n_samples,); 2 <= number of distinct labels <= n_samples - 1

    Returns
    -------
    float >= 0

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.cluster import calinski_harabasz_score
    >>> X = np.array([[0., 0.], [0., 1.], [10., 0.], [10., 1.]])
    >>> calinski_harabasz_score(X, [0, 0, 1, 1])
    200.0
    """
    X = _check_X(X)
    n = X.shape[0]
    codes, counts = _check_labels(labels, n)
    n_labels = counts.size
    _check_n_labels(n_labels, n, "calinski_harabasz_score")
    Xd = X.astype(np.float64)
    mean = Xd.mean(axis=0)
    sums = np.zeros((n_labels, X.shape[1]))
    np.add.at(sums, codes, Xd)
    centres = sums / counts[:, None]
    extra = float((counts * ((centres - mean) ** 2).sum(axis=1)).sum())
    intra = float(((Xd - centres[codes]) ** 2).sum())
    if intra == 0.0:
        return 1.0
    return extra * (n - n_labels) / (intra * (n_labels - 1.0))


# ---- gap statistic -------------------------------------------------------------------------
@dataclass(frozen=True)
class GapResult:
    """Output of :func:`gap_statistic` (arrays have one entry per k, in increasing k).

    Attributes
    ----------
    k : int64 array (n_k,)
    gap : float64 array (n_k,), Gap(k) = mean_b log W*_kb - log W_k
    gap_sd : float64 array (n_k,), s_k = sd_k sqrt(1 + 1/B)
    log_w : float64 array (n_k,), log W_k of the data (log of the k-means inertia)
    ref_log_w : float64 array (n_refs, n_k), log W*_kb of every reference set
    best_k : int, the smallest k with Gap(k) >= Gap(k+1) - s_{k+1} (see :func:`gap_statistic`)
    """

    k: np.ndarray
    gap: np.ndarray
    gap_sd: np.ndarray
    log_w: np.ndarray
    ref_log_w: np.ndarray
    best_k: int


def _draw_reference(X, reference, rs):
    """One reference set shaped like X, uniform over its bounding box ('uniform') or over the
    box aligned with its principal axes ('pca'); one ``rs.random_sample(X.shape)`` call."""
    Xd = X.astype(np.float64)
    if reference == "uniform":
        lo, hi = Xd.min(axis=0), Xd.max(axis=0)
        return (lo + (hi - lo) * rs.random_sample(X.shape)).astype(X.dtype)
    mean = Xd.mean(axis=0)
    _, _, vt = np.linalg.svd(Xd - mean, full_matrices=False)
    proj = (Xd - mean) @ vt.T
    lo, hi = proj.min(axis=0), proj.max(axis=0)
    u = rs.random_sample(X.shape)[:, : vt.shape[0]]
    return ((lo + (hi - lo) * u) @ vt + mean).astype(X.dtype)


def _gap_rule(ks, gap, gap_sd):
    """Smallest k with Gap(k) >= Gap(k') - s_k' for the next k' in ks; the largest k if none."""
    for i in range(len(ks) - 1):
        if gap[i] >= gap[i + 1] - gap_sd[i + 1]:
            return int(ks[i])
    return int(ks[-1])


def _log(w):
    with np.errstate(divide="ignore"):
        return np.log(w)


def _streams(random_state):
    """Seeds of the k-means fits on X and the generator of the reference sets (and their fits),
    taken from one RandomState so that gap_statistic and select_k agree for the same seed."""
    rs = check_random_state(random_state)
    return rs.randint(0, _SEED_MAX), np.random.RandomState(rs.randint(0, _SEED_MAX))


def _fit(X, k, seed, kmeans_kwargs):
    return KMeans(n_clusters=int(k), random_state=int(seed), **kmeans_kwargs).fit(X)


def _gap(X, ks, log_w, n_refs, reference, ref_rs, kmeans_kwargs):
    refs = [_draw_reference(X, reference, ref_rs) for _ in range(n_refs)]
    seeds = ref_rs.randint(0, _SEED_MAX, size=(n_refs, ks.size))
    ref_log_w = np.array([[_log(_fit(Z, k, seeds[b, j], kmeans_kwargs).inertia_) for j, k in enumerate(ks)]
                          for b, Z in enumerate(refs)], dtype=np.float64).reshape(n_refs, ks.size)
    with np.errstate(invalid="ignore"):
        gap = ref_log_w.mean(axis=0) - log_w
        gap_sd = ref_log_w.std(axis=0) * math.sqrt(1.0 + 1.0 / n_refs)
    return GapResult(ks, gap, gap_sd, np.asarray(log_w, dtype=np.float64), ref_log_w,
                     _gap_rule(ks, gap, gap_sd))


def gap_statistic(X, k_range, n_refs=10, reference="uniform", random_state=None, **kmeans_kwargs):
    """Gap statistic of Tibshirani, Walther & Hastie (2001) for each k in ``k_range``.

    W_k is the within-cluster dispersion, the inertia of a k-means fit (:class:`KMeans`). B =
    ``n_refs`` reference sets of X's shape are drawn from a single-cluster null model and
    clustered the same way; then

    - Gap(k) = (1/B) sum_b log W*_kb - log W_k,
    - sd_k = population standard deviation of log W*_kb over b, s_k = sd_k sqrt(1 + 1/B),
    - suggested k: the smallest k with Gap(k) >= Gap(k+1) - s_{k+1}, where k+1 means the next
      k in the (sorted) range; the largest k in the range when no k qualifies.

    Include k = 1 in the range to let the rule answer "no cluster structure".

    Parameters
    ----------
    X : array (n_samples, n_features) or torch CPU tensor; float32 is clustered in float32
    k_range : iterable of int, each in [1, n_samples]; sorted and deduplicated
    n_refs : int >= 1, default 10
        Number B of reference sets.
    reference : {'uniform', 'pca'}, default 'uniform'
        'uniform': uniform over the bounding box of X (the paper's method a). 'pca': uniform
        over the box aligned with the principal axes of X (method b), which follows the
        shape of elongated data.
    random_state : int, RandomState or None
        Seeds the references and every k-means fit; the same value gives the same result.
        Its RandomState gives first the seed of the fits on X, then the seed of a second
        RandomState that draws the B reference sets (one ``random_sample((n_samples,
        n_features))`` each, in order) and then the seeds of their fits.
    **kmeans_kwargs
        Passed to :class:`KMeans` (e.g. ``n_init=5``, ``max_iter``, ``n_threads``), except
        ``n_clusters`` and ``random_state``.

    Returns
    -------
    GapResult
        ``k``, ``gap``, ``gap_sd`` (s_k), ``log_w``, ``ref_log_w`` (n_refs, n_k) and ``best_k``.

    Notes
    -----
    W_k = 0 (k = n_samples or duplicated rows) gives log W_k = -inf and a non-finite gap;
    such k never satisfy the rule.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.cluster import gap_statistic
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(c, 0.1, (30, 2)) for c in (0, 5, 10)])
    >>> gap_statistic(X, range(1, 6), random_state=0).best_k
    3
    """
    X = _check_X(X)
    ks = _check_k_range(k_range, X.shape[0])
    n_refs = check_int(n_refs, "n_refs", lo=1)
    check_choice(reference, "reference", REFERENCES)
    kmeans_kwargs = _check_kmeans_kwargs(kmeans_kwargs)
    fit_seed, ref_rs = _streams(random_state)
    fit_seeds = np.random.RandomState(fit_seed).randint(0, _SEED_MAX, size=ks.size)
    log_w = np.array([_log(_fit(X, k, s, kmeans_kwargs).inertia_) for k, s in zip(ks, fit_seeds)])
    return _gap(X, ks, log_w, n_refs, reference, ref_rs, kmeans_kwargs)


# ---- elbow ---------------------------------------------------------------------------------
def _elbow(ks, inertia):
    """Knee of a decreasing inertia curve (Kneedle, Satopaa et al. 2011).

    k and inertia are both scaled to [0, 1]; the knee is the k whose point lies furthest
    below the chord joining the first and last points (the largest value of
    ``(1 - x) - y``), i.e. where the curve bends most. None with fewer than 3 ks or a flat
    curve.
    """
    ok = np.isfinite(inertia)
    ks, inertia = ks[ok], inertia[ok]
    if ks.size < 3 or inertia.max() == inertia.min():
        return None
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    y = (inertia - inertia.min()) / (inertia.max() - inertia.min())
    return int(ks[np.argmax((1.0 - x) - y)])


# ---- select_k ------------------------------------------------------------------------------
class KSelection:
    """Result of :func:`select_k`.

    Attributes
    ----------
    table : dict str -> array (n_k,)
        Columns 'k' (int64), 'inertia', 'silhouette', 'calinski_harabasz', 'gap', 'gap_sd'
        (float64; NaN where a metric was not asked for or is undefined, e.g. silhouette at k=1).
    best : dict str -> int or None
        Suggested k per requested metric: 'silhouette' and 'calinski_harabasz' the maximum,
        'gap' Tibshirani's rule, 'inertia' the elbow (knee) of the inertia curve (None when it
        is undefined, e.g. fewer than three ks).
    models : dict int -> KMeans
        The fitted model for each k (every metric uses these fits).
    metrics : tuple of str
        The metrics computed, in the order given.
    gap : GapResult or None
        The full gap-statistic result when 'gap' was requested.
    """

    def __init__(self, table, best, models, metrics, gap=None):
        self.table = table
        self.best = best
        self.models = models
        self.metrics = metrics
        self.gap = gap

    def __repr__(self):
        return f"KSelection(k={self.table['k'].tolist()}, best={self.best})"

    def to_markdown(self, digits=6):
        """The table as Markdown text, one row per k, then a line with the suggested ks."""
        cols = ["k", "inertia"] + [m for m in self.metrics if m != "inertia"]
        if "gap" in self.metrics:
            cols.append("gap_sd")
        lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---:" for _ in cols) + "|"]
        for i, k in enumerate(self.table["k"]):
            cells = [str(int(k))]
            for c in cols[1:]:
                v = float(self.table[c][i])
                cells.append(f"{v:.{digits}g}" if np.isfinite(v) else "n/a")
            lines.append("| " + " | ".join(cells) + " |")
        best = ", ".join(f"{m}: {'n/a' if k is None else k}" for m, k in self.best.items())
        lines.append("")
        lines.append(f"Suggested k ({best})")
        return "\n".join(lines) + "\n"

    def plot(self, ax=None):
        """One panel per metric against k, the suggested k marked by a dashed line and a dot.

        Parameters
        ----------
        ax : sequence of matplotlib Axes (one per metric) or None
            None makes a new Figure (no pyplot state is touched).

        Returns
        -------
        matplotlib.figure.Figure
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
            raise ImportError("KSelection.plot needs matplotlib; install it with "
                              "`pip install matplotlib`") from exc
        metrics = self.metrics
        if ax is None:
            fig = Figure(figsize=(3.2 * len(metrics), 3.0), layout="constrained")
            axes = np.atleast_1d(fig.subplots(1, len(metrics), squeeze=False)[0])
        else:
            axes = list(np.atleast_1d(np.asarray(ax, dtype=object)).ravel())
            if len(axes) != len(metrics):
                raise ValueError(f"ax has {len(axes)} Axes but {len(metrics)} metrics are plotted "
                                 f"({', '.join(metrics)}); pass one Axes per metric or ax=None")
            fig = axes[0].figure
        ks = self.table["k"]
        titles = {"inertia": "inertia (elbow)", "silhouette": "silhouette",
                  "calinski_harabasz": "Calinski-Harabasz", "gap": "gap statistic"}
        for a, m in zip(axes, metrics):
            y = self.table[m]
            if m == "gap":
                a.errorbar(ks, y, yerr=self.table["gap_sd"], marker="o", capsize=3)
            else:
                a.plot(ks, y, marker="o")
            best = self.best.get(m)
            if best is not None:
                i = int(np.flatnonzero(ks == best)[0])
                a.axvline(best, color="C3", linestyle="--", linewidth=1)
                a.plot([best], [y[i]], "o", color="C3", label=f"k = {best}")
                a.legend(loc="best", fontsize="small")
            a.set_title(titles[m])
            a.set_xlabel("k")
        return fig


def select_k(X, k_range=range(2, 11), metrics=METRICS, n_refs=10, reference="uniform", random_state=None,
             silhouette_sample_size=None, **kmeans_kwargs):
    """Fit :class:`KMeans` once per k and score each fit by several criteria.

    Parameters
    ----------
    X : array (n_samples, n_features) or torch CPU tensor; float32 is clustered in float32
    k_range : iterable of int, each in [1, n_samples], default range(2, 11)
    metrics : str or sequence of {'inertia', 'silhouette', 'calinski_harabasz', 'gap'}
        The inertia column is always filled (it comes with every fit); 'inertia' in
        ``metrics`` adds its elbow to ``best`` and a panel to ``plot``.
    n_refs, reference : the gap statistic's (see :func:`gap_statistic`)
    random_state : int, RandomState or None
        Seeds every fit and the gap references. With the same value the gap columns equal
        :func:`gap_statistic`'s, and the models do not depend on ``metrics``.
    silhouette_sample_size : int in [2, n_samples] or None
        Score the silhouette on this many random rows (the same rows for every k) to bound
        its O(n_samples^2) cost.
    **kmeans_kwargs
        Passed to :class:`KMeans` (not ``n_clusters`` or ``random_state``).

    Returns
    -------
    KSelection
        ``table`` (columns k, inertia, silhouette, calinski_harabasz, gap, gap_sd), ``best``
        (metric -> k), ``models`` (k -> KMeans), ``to_markdown()``, ``plot()``.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.cluster import select_k
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(c, 0.1, (30, 2)) for c in (0, 5, 10)])
    >>> sel = select_k(X, range(2, 6), metrics=("silhouette", "calinski_harabasz"), random_state=0)
    >>> sel.best
    {'silhouette': 3, 'calinski_harabasz': 3}
    """
    X = _check_X(X)
    n = X.shape[0]
    ks = _check_k_range(k_range, n)
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    if not metrics:
        raise ValueError(f"metrics is empty; pass some of {', '.join(map(repr, METRICS))}")
    for m in metrics:
        check_choice(m, "metrics entry", METRICS)
    metrics = tuple(dict.fromkeys(metrics))
    n_refs = check_int(n_refs, "n_refs", lo=1)
    check_choice(reference, "reference", REFERENCES)
    sample_size = check_int(silhouette_sample_size, "silhouette_sample_size", lo=2, hi=n, allow_none=True)
    kmeans_kwargs = _check_kmeans_kwargs(kmeans_kwargs)

    fit_seed, ref_rs = _streams(random_state)
    fit_rs = np.random.RandomState(fit_seed)
    fit_seeds = fit_rs.randint(0, _SEED_MAX, size=ks.size)
    models = {int(k): _fit(X, k, s, kmeans_kwargs) for k, s in zip(ks, fit_seeds)}
    table = {c: np.full(ks.size, np.nan) for c in COLUMNS}
    table["k"] = ks.copy()
    table["inertia"] = np.array([models[int(k)].inertia_ for k in ks], dtype=np.float64)

    sil_idx = fit_rs.permutation(n)[:sample_size] if sample_size is not None else None
    for j, k in enumerate(ks):
        labels = models[int(k)].labels_
        if "calinski_harabasz" in metrics:
            codes, counts = _check_labels(labels, n)
            if 2 <= counts.size <= n - 1:
                table["calinski_harabasz"][j] = calinski_harabasz_score(X, codes)
        if "silhouette" in metrics:
            Xs, ls = (X, labels) if sil_idx is None else (X[sil_idx], labels[sil_idx])
            codes, counts = _check_labels(ls, Xs.shape[0])
            if 2 <= counts.size <= Xs.shape[0] - 1:
                table["silhouette"][j] = float(np.mean(_silhouette_samples(Xs, codes, counts)))

    gap = None
    if "gap" in metrics:
        gap = _gap(X, ks, _log(table["inertia"]), n_refs, reference, ref_rs, kmeans_kwargs)
        table["gap"] = gap.gap
        table["gap_sd"] = gap.gap_sd

    best = {}
    for m in metrics:
        if m == "inertia":
            best[m] = _elbow(ks, table["inertia"])
        elif m == "gap":
            best[m] = gap.best_k
        else:
            col = table[m]
            best[m] = int(ks[np.nanargmax(col)]) if np.isfinite(col).any() else None
    return KSelection(table, best, models, metrics, gap)
