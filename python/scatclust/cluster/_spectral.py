"""Laplacian eigenmap of a k-nearest-neighbour graph, for the spectral start of :class:`DEC`.

Ng, Jordan & Weiss (2002): on the symmetric k-nearest-neighbour graph W of the points, with
degrees D, take the eigenvectors of the ``n_components`` smallest eigenvalues of the normalised
graph Laplacian ``L = I - D^-1/2 W D^-1/2`` (for a connected graph the first is the trivial
``D^1/2 1``) and divide each row by its Euclidean norm. k-means on those rows is spectral
clustering.

Eigen solver: a dense symmetric eigendecomposition (``numpy.linalg.eigh``, O(n^3), exact) up to
``_DENSE_MAX`` points; above, ``scipy.sparse.linalg.eigsh`` (Lanczos on the sparse
``D^-1/2 W D^-1/2``; scipy is imported only then). The neighbour search is brute force in row
chunks (O(n^2 d) time, O(n) memory per chunk row).
"""
from __future__ import annotations

import warnings

import numpy as np

from .._array import check_int

__all__ = ["knn_graph", "laplacian_eigenmap"]

# Up to this many points the eigenproblem is solved densely (n = 3000: 72 MB, a few seconds).
_DENSE_MAX = 3000


def _check_neighbors(n_neighbors, n, name="spectral_neighbors"):
    k = check_int(n_neighbors, name, lo=1)
    if k >= n:
        raise ValueError(f"{name}={k} must be < n_samples={n} (each point needs {k} other points); "
                         f"use a smaller value, e.g. {max(1, min(10, n - 1))}")
    return k


def _sq_dist_rows(z, sq, s, e):
    """Squared distances (e - s, n) of rows s:e of z to all rows (float64)."""
    # ||x||^2 - 2 x.c + ||c||^2; clipped at 0 against rounding.
    d2 = sq[s:e, None] - 2.0 * (z[s:e] @ z.T) + sq[None, :]
    return np.maximum(d2, 0.0, out=d2)


def _components(n, rows, cols):
    """Connected-component label (a vertex id, constant per component) of each vertex of the graph."""
    lab = np.arange(n)
    while True:
        new = lab.copy()
        # each vertex takes the smallest label among itself and its neighbours ...
        np.minimum.at(new, rows, lab[cols])
        np.minimum.at(new, cols, lab[rows])
        # ... then follows label pointers (labels are vertex ids of the same component)
        while True:
            nxt = new[new]
            if np.array_equal(nxt, new):
                break
            new = nxt
        if np.array_equal(new, lab):
            return lab
        lab = new


def knn_graph(z, n_neighbors):
    """Symmetric k-nearest-neighbour affinity of the rows of ``z``, as an edge list.

    ``A[i, j] = 1`` if j is one of the ``n_neighbors`` nearest other rows of i (Euclidean, ties
    broken by ``numpy.argpartition``); ``W = (A + A^T) / 2`` (weight 1 for mutual neighbours,
    1/2 otherwise, as scikit-learn's spectral clustering). If W has several connected
    components, a ``RuntimeWarning`` says so and the components are joined, smallest first, by
    the shortest edge from each to the rest (weight 1).

    Parameters
    ----------
    z : float array (n, d)
    n_neighbors : int, 1 <= n_neighbors < n

    Returns
    -------
    rows, cols : int64 arrays (m,)
        Edges i < j of W, each listed once.
    weights : float64 array (m,)
    n_components : int
        Connected components before joining.
    """
    z = np.ascontiguousarray(z, dtype=np.float64)
    n = z.shape[0]
    k = _check_neighbors(n_neighbors, n)
    sq = np.einsum("ij,ij->i", z, z)
    nbr = np.empty((n, k), dtype=np.int64)
    step = max(1, min(256, (1 << 22) // max(n, 1)))  # about 32 MB of distances per chunk
    for s in range(0, n, step):
        e = min(n, s + step)
        d2 = _sq_dist_rows(z, sq, s, e)
        d2[np.arange(e - s), np.arange(s, e)] = np.inf  # not one's own neighbour
        nbr[s:e] = np.argpartition(d2, k - 1, axis=1)[:, :k]
    i = np.repeat(np.arange(n), k)
    j = nbr.ravel()
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key, counts = np.unique(lo * n + hi, return_counts=True)  # 2: mutual neighbours
    rows, cols = key // n, key % n
    weights = counts.astype(np.float64) / 2.0
    lab = _components(n, rows, cols)
    n_comp = len(np.unique(lab))
    if n_comp > 1:
        warnings.warn(f"the {k}-nearest-neighbour graph of the {n} points has {n_comp} connected components; "
                      "they were joined by their shortest edges (weight 1). A larger spectral_neighbors "
                      "connects the graph by itself", RuntimeWarning, stacklevel=3)
        extra_r, extra_c = [], []
        while True:
            ids, sizes = np.unique(lab, return_counts=True)
            if len(ids) == 1:
                break
            members = np.flatnonzero(lab == ids[np.argmin(sizes)])
            others = lab != lab[members[0]]
            d2 = np.concatenate([_sq_dist_rows(z, sq, m, m + 1) for m in members])
            d2[:, ~others] = np.inf
            a, b = np.unravel_index(np.argmin(d2), d2.shape)
            a = members[a]
            extra_r.append(min(a, b))
            extra_c.append(max(a, b))
            lab[lab == lab[b]] = lab[a]
        rows = np.concatenate([rows, extra_r]).astype(np.int64)
        cols = np.concatenate([cols, extra_c]).astype(np.int64)
        weights = np.concatenate([weights, np.ones(len(extra_r))])
    return rows, cols, weights, n_comp


def laplacian_eigenmap(z, n_components, n_neighbors=10, random_state=0):
    """Row-normalised Laplacian eigenmap (Ng-Jordan-Weiss) of the k-NN graph of ``z``.

    Parameters
    ----------
    z : float array (n, d)
    n_components : int, 1 <= n_components < n
        Number of eigenvectors (the smallest eigenvalues of the normalised Laplacian, the trivial
        one included); the number of clusters for spectral clustering.
    n_neighbors : int, default 10
        Neighbours of the graph (:func:`knn_graph`).
    random_state : int, default 0
        Start vector of the sparse solver (n > ``_DENSE_MAX``); unused by the dense one.

    Returns
    -------
    U : float64 array (n, n_components)
        Eigenvectors of ``D^-1/2 W D^-1/2`` for its largest eigenvalues, each row divided by
        its Euclidean norm. Defined up to a rotation of the columns (k-means is invariant to it).
    eigenvalues : float64 array (n_components,)
        The matching eigenvalues of ``L = I - D^-1/2 W D^-1/2``, ascending (0 first).
    """
    z = np.asarray(z)
    if z.ndim != 2:
        raise ValueError(f"z has shape {z.shape}; expected (n_samples, n_features)")
    n = z.shape[0]
    m = check_int(n_components, "n_components", lo=1)
    if m >= n:
        raise ValueError(f"n_components={m} must be < n_samples={n}")
    rows, cols, w, _ = knn_graph(z, n_neighbors)
    deg = np.bincount(rows, w, n) + np.bincount(cols, w, n)  # > 0: every point has a neighbour
    dinv = 1.0 / np.sqrt(deg)
    sw = w * dinv[rows] * dinv[cols]  # entries of D^-1/2 W D^-1/2
    if n <= _DENSE_MAX:
        S = np.zeros((n, n))
        S[rows, cols] = sw
        S[cols, rows] = sw
        evals, evecs = np.linalg.eigh(S)
        evals, U = evals[::-1][:m], evecs[:, ::-1][:, :m]
    else:
        try:
            from scipy.sparse import coo_matrix
            from scipy.sparse.linalg import eigsh
        except ImportError as exc:  # pragma: no cover - scipy is installed with the tests
            raise ImportError(f"the spectral start on n_samples={n} > {_DENSE_MAX} points needs scipy "
                              "(pip install scipy); below that a dense numpy solver is used") from exc
        S = coo_matrix((np.concatenate([sw, sw]), (np.concatenate([rows, cols]), np.concatenate([cols, rows]))),
                       shape=(n, n)).tocsr()
        v0 = np.random.default_rng(random_state).uniform(-1.0, 1.0, n)
        evals, U = eigsh(S, k=m, which="LA", v0=v0, tol=1e-10)
        order = np.argsort(evals)[::-1]
        evals, U = evals[order], U[:, order]
    norms = np.linalg.norm(U, axis=1, keepdims=True)
    U = U / np.maximum(norms, np.finfo(np.float64).tiny)
    return U, 1.0 - evals
