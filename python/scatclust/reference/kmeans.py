"""Plain-numpy k-means oracles: brute-force assignment, one Lloyd step, inertia.

Written from the definitions (no expansion tricks), in float64, for the tests.
"""
from __future__ import annotations

import numpy as np

__all__ = ["assign", "lloyd_step", "inertia"]


def _sqdist(X, C):
    """(n, k) squared Euclidean distances by direct differences."""
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=-1)


def assign(X, C):
    """Brute-force nearest centre: (labels int64 (n,), squared distances float64 (n,))."""
    D = _sqdist(X, C)
    labels = D.argmin(axis=1)
    return labels, D[np.arange(D.shape[0]), labels]


def inertia(X, C, labels, sample_weight=None):
    """sum_i w_i ||x_i - C[labels_i]||^2 in float64."""
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    return float((w * ((X - C[labels]) ** 2).sum(axis=1)).sum())


def lloyd_step(X, C, sample_weight=None):
    """One Lloyd iteration without empty clusters: (labels, new centres, weight per cluster).

    Clusters that receive no weight keep their centre (the compiled kernel relocates them
    instead; the tests compare only on inputs without empty clusters).
    """
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    labels, _ = assign(X, C)
    k = C.shape[0]
    weights = np.bincount(labels, weights=w, minlength=k)
    sums = np.zeros_like(C)
    np.add.at(sums, labels, w[:, None] * X)
    new = C.copy()
    nz = weights > 0
    new[nz] = sums[nz] / weights[nz, None]
    return labels, new, weights
