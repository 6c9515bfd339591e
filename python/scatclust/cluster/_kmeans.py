"""k-means (Lloyd) with greedy k-means++ seeding, scikit-learn compatible.

The compiled core does one step per call (assignment, Lloyd iteration, inertia, seeding) on
buffers allocated here; this module owns the loop, the restarts and the input checks.
scikit-learn is optional: when it is importable the estimator inherits its base classes
(so it works in pipelines, grid searches and ``check_estimator``), otherwise a minimal
``get_params``/``set_params`` base is used.
"""
from __future__ import annotations

import inspect
import math
import numbers
import warnings

import numpy as np

from .. import _core
from .._array import check_choice, check_int, is_torch
from .._threads import resolve_n_threads

try:  # scikit-learn is optional
    from sklearn.base import BaseEstimator as _Base
    from sklearn.base import ClusterMixin as _ClusterMixin
    from sklearn.base import TransformerMixin as _TransformerMixin
    from sklearn.exceptions import NotFittedError
    from sklearn.utils import check_random_state
    from sklearn.utils.validation import check_is_fitted

    try:
        from sklearn.utils.validation import validate_data as _sk_validate_data
    except ImportError:  # scikit-learn < 1.6
        _sk_validate_data = None
    _HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    _HAVE_SKLEARN = False
    _sk_validate_data = None

    class NotFittedError(ValueError, AttributeError):
        """Raised when predict/transform is called before fit."""

    class _Base:
        """Minimal get_params/set_params (scikit-learn's contract) when sklearn is absent."""

        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for key, value in params.items():
                if key not in valid:
                    raise ValueError(f"Invalid parameter {key!r} for estimator {type(self).__name__}; "
                                     f"valid parameters are {valid}")
                setattr(self, key, value)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class _ClusterMixin:
        pass

    class _TransformerMixin:
        pass

    def check_random_state(seed):
        if seed is None or seed is np.random:
            return np.random.mtrand._rand
        if isinstance(seed, numbers.Integral):
            return np.random.RandomState(seed)
        if isinstance(seed, np.random.RandomState):
            return seed
        raise ValueError(f"random_state={seed!r} cannot be used to seed a numpy.random.RandomState instance")

    def check_is_fitted(estimator, attributes=None):
        if not hasattr(estimator, "cluster_centers_"):
            raise NotFittedError(f"This {type(estimator).__name__} instance is not fitted yet; call fit first.")


__all__ = ["KMeans", "MiniBatchKMeans", "kmeans_plusplus"]

def _validate_X(est, X, reset):
    """2-D C-contiguous float32/float64 array (other dtypes become float64), finite."""
    if is_torch(X):
        X = X.detach().cpu().numpy()
    if _sk_validate_data is not None:
        return _sk_validate_data(est, X, dtype=[np.float64, np.float32], order="C", reset=reset,
                                 accept_large_sparse=False)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D array (n_samples, n_features), got X with shape {X.shape}")
    if X.dtype.kind not in "fiub":
        raise TypeError(f"X has dtype {X.dtype}; a real numeric array is expected")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X = np.ascontiguousarray(X)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"Found array with shape {X.shape}; at least one sample and one feature are required")
    if not np.isfinite(X).all():
        raise ValueError("Input X contains NaN or infinity")
    if reset:
        est.n_features_in_ = X.shape[1]
    elif X.shape[1] != est.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
                         f"{est.n_features_in_} features as input.")
    return X


def _check_sample_weight(sample_weight, n, dtype):
    """None (all ones, the fast path), or a (n,) finite non-negative array of X's dtype."""
    if sample_weight is None:
        return None
    if is_torch(sample_weight):
        sample_weight = sample_weight.detach().cpu().numpy()
    if isinstance(sample_weight, numbers.Number):  # same checks as an array (0, -1 and NaN are refused)
        if not isinstance(sample_weight, numbers.Real):
            raise TypeError(f"sample_weight={sample_weight!r} must be a real number or an array of them")
        w = np.full(n, sample_weight, dtype=dtype)
    else:
        w = np.ascontiguousarray(np.asarray(sample_weight), dtype=dtype)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight.shape={w.shape} must be ({n},): one weight per sample")
    if not np.isfinite(w).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (w < 0).any():
        raise ValueError("sample_weight contains negative values; weights must be >= 0")
    if not w.sum() > 0:
        raise ValueError("sample_weight sums to zero; at least one sample needs a positive weight")
    return w


def _seed(rs):
    """A 64-bit seed for the core's generator, drawn from a numpy RandomState."""
    return int(rs.randint(0, np.iinfo(np.int64).max, dtype=np.int64))


def kmeans_plusplus(X, n_clusters, *, sample_weight=None, x_squared_norms=None, random_state=None,
                    n_local_trials=None, n_threads=None):
    """Greedy k-means++ seeding (scikit-learn's ``kmeans_plusplus`` semantics).

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64 (others become float64)
    n_clusters : int >= 1
    sample_weight : array (n_samples,) or None
    x_squared_norms : ignored (accepted for scikit-learn compatibility)
    random_state : int, RandomState or None
    n_local_trials : int >= 1 or None (``2 + int(ln(n_clusters))``)
    n_threads : int >= 1 or None

    Returns
    -------
    centers : array (n_clusters, n_features) of X's dtype
    indices : int64 array (n_clusters,), rows of X used as centres

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.cluster import kmeans_plusplus
    >>> X = np.array([[0., 0.], [0., 1.], [10., 10.], [10., 11.]])
    >>> centers, idx = kmeans_plusplus(X, 2, random_state=0)
    >>> centers.shape
    (2, 2)
    """
    del x_squared_norms
    X = np.ascontiguousarray(np.asarray(X.detach().cpu().numpy() if is_torch(X) else X))
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    k = check_int(n_clusters, "n_clusters", lo=1)
    if X.shape[0] < k:
        raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={k}.")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity")
    trials = 2 + int(math.log(k)) if n_local_trials is None else check_int(n_local_trials, "n_local_trials", lo=1)
    w = _check_sample_weight(sample_weight, X.shape[0], X.dtype)
    centers = np.empty((k, X.shape[1]), dtype=X.dtype)
    indices = np.empty(k, dtype=np.int64)
    _core.kmeans_plusplus(X, w, centers, indices, trials, _seed(check_random_state(random_state)),
                          resolve_n_threads(n_threads))
    return centers, indices


class KMeans(_ClusterMixin, _TransformerMixin, _Base):
    """k-means clustering (Lloyd's algorithm) on the C++/OpenMP core.

    Parameters
    ----------
    n_clusters : int, default 8
        Number of clusters K >= 1.
    init : {'k-means++', 'random'} or array (n_clusters, n_features), default 'k-means++'
        Greedy k-means++ seeding (``2 + int(ln K)`` local trials, as scikit-learn), K distinct
        rows drawn uniformly, or explicit initial centres.
    n_init : int >= 1 or 'auto', default 'auto'
        Restarts; the run with the lowest inertia is kept. 'auto' means 1 for 'k-means++' or
        an array and 10 for 'random' (scikit-learn's rule).
    max_iter : int >= 1, default 300
        Lloyd iterations per run.
    tol : float >= 0, default 1e-4
        Stop when the summed squared centre shift is <= tol * mean feature variance of X
        (scikit-learn's definition); a run also stops when no label changes.
    random_state : int, RandomState or None
        Seeds the initialisation: the same value gives the same result.
    n_threads : int >= 1 or None
        OpenMP threads for the core (None: the process default, which respects
        OMP_NUM_THREADS). Results do not depend on it.

    Attributes
    ----------
    cluster_centers_ : array (n_clusters, n_features), X's dtype
    labels_ : int32 array (n_samples,)
    inertia_ : float, sum of (weighted) squared distances to the closest centre
    n_iter_ : int, Lloyd iterations of the kept run
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.cluster import KMeans
    >>> X = np.array([[1., 2.], [1., 4.], [1., 0.], [10., 2.], [10., 4.], [10., 0.]])
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> sorted(km.cluster_centers_[:, 0].tolist())
    [1.0, 10.0]
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 random_state=None, n_threads=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.n_threads = n_threads

    # ---- parameter checks ---------------------------------------------------------------
    def _check_params(self, X):
        n, d = X.shape
        k = check_int(self.n_clusters, "n_clusters", lo=1)
        if n < k:
            raise ValueError(f"n_samples={n} should be >= n_clusters={k}.")
        max_iter = check_int(self.max_iter, "max_iter", lo=1)
        if isinstance(self.tol, bool) or not isinstance(self.tol, numbers.Real) or not self.tol >= 0:
            raise ValueError(f"tol={self.tol!r} must be a float >= 0")
        init = self.init
        if isinstance(init, str):
            check_choice(init, "init", ("k-means++", "random"))
        else:
            if is_torch(init):
                init = init.detach().cpu().numpy()
            init = np.array(init, dtype=X.dtype, order="C")
            if init.shape != (k, d):
                raise ValueError(f"init has shape {init.shape}; the initial centres must have shape "
                                 f"(n_clusters, n_features) = ({k}, {d})")
            if not np.isfinite(init).all():
                raise ValueError("init contains NaN or infinity")
        if isinstance(self.n_init, str):
            check_choice(self.n_init, "n_init", ("auto",))
            n_init = 10 if isinstance(init, str) and init == "random" else 1
        else:
            n_init = check_int(self.n_init, "n_init", lo=1)
        if not isinstance(init, str) and n_init != 1:
            warnings.warn(f"Explicit initial centres given: n_init={n_init} is reduced to 1", RuntimeWarning,
                          stacklevel=3)
            n_init = 1
        return k, max_iter, float(self.tol), init, n_init, resolve_n_threads(self.n_threads)

    # ---- fitting --------------------------------------------------------------------------
    def _init_centroids(self, X, w, init, k, rs, n_threads):
        if isinstance(init, np.ndarray):
            return init.copy()
        if init == "random":
            idx = rs.choice(X.shape[0], size=k, replace=False)
            return X[idx].copy()
        centers = np.empty((k, X.shape[1]), dtype=X.dtype)
        indices = np.empty(k, dtype=np.int64)
        _core.kmeans_plusplus(X, w, centers, indices, 2 + int(math.log(k)), _seed(rs), n_threads)
        return centers

    @staticmethod
    def _lloyd(X, w, centers, max_iter, tol_abs, n_threads):
        """Lloyd iterations from ``centers``: (labels, inertia, centers, n_iter)."""
        n = X.shape[0]
        k = centers.shape[0]
        labels = np.full(n, -1, dtype=np.int32)
        dist = np.empty(n, dtype=X.dtype)
        new = np.empty_like(centers)
        weight = np.empty(k, dtype=X.dtype)
        shift = np.empty(k, dtype=X.dtype)
        strict = False
        it = 0
        for it in range(max_iter):
            changed = _core.kmeans_lloyd_step(X, w, centers, labels, dist, new, weight, shift, True, n_threads)
            centers, new = new, centers
            if changed == 0:
                strict = True  # labels unchanged: the centres are a fixed point
                break
            if float(shift.sum(dtype=np.float64)) <= tol_abs:
                break
        if not strict:
            # Labels consistent with the final centres (one more assignment, no update).
            _core.kmeans_lloyd_step(X, w, centers, labels, dist, new, weight, shift, False, n_threads)
        inertia = _core.kmeans_inertia(X, w, centers, labels, n_threads)
        return labels, float(inertia), centers, it + 1

    def fit(self, X, y=None, sample_weight=None):
        """Compute the clustering.

        Parameters
        ----------
        X : array (n_samples, n_features) or torch CPU tensor; float32 stays float32
        y : ignored
        sample_weight : array (n_samples,) of weights >= 0, or None (all 1)

        Returns
        -------
        self
        """
        X = _validate_X(self, X, reset=True)
        k, max_iter, tol, init, n_init, n_threads = self._check_params(X)
        w = _check_sample_weight(sample_weight, X.shape[0], X.dtype)
        rs = check_random_state(self.random_state)
        # Work on centred data (as scikit-learn): the distance expansion ||x||^2 - 2x.c + ||c||^2
        # loses precision when the data sit far from the origin.
        # Mean and variance are weighted, so integer weights act like repeated rows (with unit
        # weights this is scikit-learn's tol: tol * mean of the per-feature variances of X).
        mean = np.average(X, axis=0, weights=w).astype(np.float64) if w is not None else X.mean(axis=0, dtype=np.float64)
        Xc = np.ascontiguousarray(X - mean.astype(X.dtype))
        if w is None:
            var = np.var(X, axis=0, dtype=np.float64)
        else:
            var = np.average((Xc.astype(np.float64)) ** 2, axis=0, weights=w) - (np.average(Xc, axis=0, weights=w)) ** 2
        tol_abs = float(np.mean(var)) * tol
        if isinstance(init, np.ndarray):
            init = np.ascontiguousarray(init - mean.astype(X.dtype))
        best = None
        for _ in range(n_init):
            c0 = self._init_centroids(Xc, w, init, k, rs, n_threads)
            run = self._lloyd(Xc, w, c0, max_iter, tol_abs, n_threads)
            if best is None or run[1] < best[1]:
                best = run
        labels, inertia, centers, n_iter = best
        self.cluster_centers_ = (centers + mean.astype(X.dtype)).astype(X.dtype, copy=False)
        self.labels_ = labels
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        self._n_threads = n_threads
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """fit(X) then return ``labels_`` (int32, (n_samples,))."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X, y=None, sample_weight=None):
        """fit(X) then return the distances of X to the centres, (n_samples, n_clusters)."""
        self.fit(X, sample_weight=sample_weight)
        return self._transform(_validate_X(self, X, reset=False))

    # ---- using a fitted model ---------------------------------------------------------------
    def _check_fitted_X(self, X):
        check_is_fitted(self, "cluster_centers_")
        X = _validate_X(self, X, reset=False)
        return X, np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype)

    def predict(self, X):
        """Index of the closest centre for each row of X: int32 array (n_samples,)."""
        X, C = self._check_fitted_X(X)
        labels = np.empty(X.shape[0], dtype=np.int32)
        dist = np.empty(X.shape[0], dtype=X.dtype)
        _core.kmeans_assign(X, C, labels, dist, resolve_n_threads(self.n_threads))
        return labels

    def _transform(self, X):
        C = np.asarray(self.cluster_centers_, dtype=X.dtype)
        # Euclidean distances by the expansion ||x||^2 - 2x.c + ||c||^2, clamped at 0.
        d2 = (X * X).sum(axis=1)[:, None] - 2 * (X @ C.T) + (C * C).sum(axis=1)[None, :]
        return np.sqrt(np.maximum(d2, 0, out=d2), out=d2)

    def transform(self, X):
        """Euclidean distances of each row of X to every centre: (n_samples, n_clusters)."""
        X, _ = self._check_fitted_X(X)
        return self._transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the inertia of X under the fitted centres (higher is better)."""
        X, C = self._check_fitted_X(X)
        w = _check_sample_weight(sample_weight, X.shape[0], X.dtype)
        nt = resolve_n_threads(self.n_threads)
        labels = np.empty(X.shape[0], dtype=np.int32)
        dist = np.empty(X.shape[0], dtype=X.dtype)
        _core.kmeans_assign(X, C, labels, dist, nt)
        return -float(_core.kmeans_inertia(X, w, C, labels, nt))

    def get_feature_names_out(self, input_features=None):
        """Output names of ``transform``: 'kmeans0', 'kmeans1', ..."""
        check_is_fitted(self, "cluster_centers_")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self.cluster_centers_.shape[0])], dtype=object)


class MiniBatchKMeans(KMeans):
    """Mini-batch k-means (Sculley 2010): centres follow running means over random batches.

    Each step assigns a batch with the compiled kernel and moves every centre that received
    weight to the weighted running mean of all rows it has been given so far
    (``c <- (n_c c + sum_batch w x) / (n_c + sum_batch w)``), as scikit-learn does. Centres
    whose running weight falls below ``reassignment_ratio`` times the largest are moved to
    random rows of the current batch every ``10 * (1 + n_min)`` steps (scikit-learn's rule).

    Parameters
    ----------
    n_clusters : int, default 8
    init : {'k-means++', 'random'} or array (n_clusters, n_features), default 'k-means++'
        Seeding on a random subset of ``init_size`` rows.
    max_iter : int, default 100
        Passes (epochs) over the data.
    batch_size : int, default 1024
    tol : float, default 0.0
        Stop when the summed squared centre shift of a step, divided by the batch size, is
        <= tol * mean feature variance (0 disables this criterion).
    max_no_improvement : int or None, default 10
        Stop after this many steps without improvement of the smoothed batch inertia.
    init_size : int or None
        Rows used for seeding (default ``3 * batch_size``, at least ``3 * n_clusters``).
    n_init : int or 'auto', default 'auto'
        Seedings tried on the init subset (lowest inertia kept); 'auto': 3 for 'random', else 1.
    reassignment_ratio : float, default 0.01
    random_state, n_threads : as in :class:`KMeans`.

    Attributes
    ----------
    cluster_centers_, labels_, inertia_, n_iter_ (epochs), n_steps_, n_features_in_

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.cluster import MiniBatchKMeans
    >>> X = np.r_[np.zeros((50, 2)), np.full((50, 2), 10.0)]
    >>> mbk = MiniBatchKMeans(n_clusters=2, batch_size=20, random_state=0).fit(X)
    >>> sorted(np.round(mbk.cluster_centers_[:, 0]).tolist())
    [0.0, 10.0]
    """

    def __init__(self, n_clusters=8, *, init="k-means++", max_iter=100, batch_size=1024, tol=0.0,
                 max_no_improvement=10, init_size=None, n_init="auto", reassignment_ratio=0.01,
                 random_state=None, n_threads=None):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.random_state = random_state
        self.n_threads = n_threads

    def _check_mb_params(self, X):
        k, max_iter, tol, init, n_init, n_threads = self._check_params(X)
        if isinstance(self.n_init, str) and not (isinstance(init, str) and init == "random"):
            n_init = 1
        elif isinstance(self.n_init, str):
            n_init = 3
        batch_size = check_int(self.batch_size, "batch_size", lo=1)
        mni = check_int(self.max_no_improvement, "max_no_improvement", lo=0, allow_none=True)
        init_size = check_int(self.init_size, "init_size", lo=1, allow_none=True)
        r = self.reassignment_ratio
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or not r >= 0:
            raise ValueError(f"reassignment_ratio={r!r} must be a float >= 0")
        return k, max_iter, tol, init, n_init, n_threads, batch_size, mni, init_size, float(r)

    def _init_from_subset(self, X, w, init, k, n_init, init_size, rs, n_threads):
        n = X.shape[0]
        m = min(n, max(init_size if init_size is not None else 3 * self.batch_size, 3 * k)) \
            if init_size is None else min(n, max(init_size, k))
        idx = rs.randint(0, n, m) if m < n else np.arange(n)
        Xi = np.ascontiguousarray(X[idx])
        wi = None if w is None else np.ascontiguousarray(w[idx])
        if wi is not None and not wi.sum() > 0:
            Xi, wi = X, w
        best = None
        for _ in range(n_init):
            c = self._init_centroids(Xi, wi, init, k, rs, n_threads)
            labels = np.empty(Xi.shape[0], np.int32)
            _core.kmeans_assign(Xi, c, labels, np.empty(Xi.shape[0], Xi.dtype), n_threads)
            inertia = _core.kmeans_inertia(Xi, wi, c, labels, n_threads)
            if best is None or inertia < best[0]:
                best = (inertia, c)
        return np.ascontiguousarray(best[1])

    def _step(self, Xb, wb, centers, counts, n_threads, rs, reassign):
        """One mini-batch update in place; returns (batch inertia, summed squared shift)."""
        m = Xb.shape[0]
        k = centers.shape[0]
        labels = np.empty(m, np.int32)
        dist = np.empty(m, Xb.dtype)
        _core.kmeans_assign(Xb, centers, labels, dist, n_threads)
        wb64 = np.ones(m) if wb is None else wb.astype(np.float64)
        bw = np.bincount(labels, weights=wb64, minlength=k)
        sums = np.zeros((k, Xb.shape[1]))
        order = np.argsort(labels, kind="stable")
        present = np.flatnonzero(bw > 0)
        starts = np.searchsorted(labels[order], present)
        sums[present] = np.add.reduceat(Xb[order].astype(np.float64) * wb64[order, None], starts, axis=0)
        old = centers.astype(np.float64)
        upd = bw > 0
        new = old.copy()
        new[upd] = (old[upd] * counts[upd, None] + sums[upd]) / (counts[upd] + bw[upd])[:, None]
        counts += bw
        shift = float(((new - old) ** 2).sum())
        if reassign and self.reassignment_ratio > 0:
            low = counts < self.reassignment_ratio * counts.max()
            n_low = int(low.sum())
            if 0 < n_low and n_low < k:
                n_low = min(n_low, m)
                picks = rs.choice(m, size=n_low, replace=False)
                which = np.flatnonzero(low)[:n_low]
                new[which] = Xb[picks]
                counts[which] = np.minimum(counts[which], counts[~low].min())
        centers[...] = new.astype(centers.dtype)
        return float((wb64 * dist).sum()), shift

    def fit(self, X, y=None, sample_weight=None):
        """Compute the clustering from random mini-batches of X (see class docstring)."""
        X = _validate_X(self, X, reset=True)
        k, max_iter, tol, init, n_init, nt, batch_size, mni, init_size, _ = self._check_mb_params(X)
        w = _check_sample_weight(sample_weight, X.shape[0], X.dtype)
        rs = check_random_state(self.random_state)
        n = X.shape[0]
        var = np.var(X, axis=0, dtype=np.float64)
        tol_abs = float(np.mean(var)) * tol
        centers = self._init_from_subset(X, w, init, k, n_init, init_size, rs, nt)
        counts = np.zeros(k)
        bs = min(batch_size, n)
        n_steps = max(1, (max_iter * n) // bs)
        ewa = None
        best_ewa = np.inf
        no_improve = 0
        step = 0
        for step in range(n_steps):
            idx = rs.randint(0, n, bs)
            Xb = np.ascontiguousarray(X[idx])
            wb = None if w is None else np.ascontiguousarray(w[idx])
            reassign = (step + 1) % (10 * (1 + int(counts.min()))) == 0 if step else False
            inertia, shift = self._step(Xb, wb, centers, counts, nt, rs, reassign)
            # Early stopping on the smoothed batch inertia (scikit-learn's EWA rule).
            batch_inertia = inertia / bs
            alpha = min(1.0, bs * 2.0 / (n + 1))
            ewa = batch_inertia if ewa is None else ewa * (1 - alpha) + batch_inertia * alpha
            if tol_abs > 0 and shift / bs <= tol_abs:
                break
            if ewa < best_ewa:
                best_ewa = ewa
                no_improve = 0
            else:
                no_improve += 1
            if mni is not None and no_improve >= mni:
                break
        self.n_steps_ = step + 1
        self.n_iter_ = int(np.ceil(self.n_steps_ * bs / n))
        self._counts = counts
        self._random_state = rs  # later partial_fit calls continue the same stream
        self.cluster_centers_ = centers
        self._finalise(X, w, nt)
        return self

    def _finalise(self, X, w, nt):
        labels = np.empty(X.shape[0], np.int32)
        _core.kmeans_assign(X, np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype), labels,
                            np.empty(X.shape[0], X.dtype), nt)
        self.labels_ = labels
        self.inertia_ = float(_core.kmeans_inertia(X, w, np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype),
                                                   labels, nt))

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the centres with one mini-batch X (the first call also seeds them).

        Returns
        -------
        self
        """
        first = not hasattr(self, "cluster_centers_")
        X = _validate_X(self, X, reset=first)
        k, _, _, init, n_init, nt, _, _, init_size, _ = self._check_mb_params(X)
        w = _check_sample_weight(sample_weight, X.shape[0], X.dtype)
        if first:
            self._random_state = check_random_state(self.random_state)
            self.cluster_centers_ = self._init_from_subset(X, w, init, k, n_init, init_size, self._random_state, nt)
            self._counts = np.zeros(k)
            self.n_steps_ = 0
        centers = np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype)
        reassign = self.n_steps_ > 0 and (self.n_steps_ + 1) % (10 * (1 + int(self._counts.min()))) == 0
        self._step(X, w, centers, self._counts, nt, self._random_state, reassign)
        self.cluster_centers_ = centers
        self.n_steps_ += 1
        self.n_iter_ = self.n_steps_
        self._finalise(X, w, nt)
        return self
