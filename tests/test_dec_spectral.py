"""Spectral start of DEC (``init_embedding='spectral'``): the k-NN graph and Laplacian eigenmap of
``scatclust.cluster._spectral`` against scikit-learn / scipy, and DEC's use of it."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")
csgraph = pytest.importorskip("scipy.sparse.csgraph")
pytest.importorskip("sklearn")
from sklearn.manifold import spectral_embedding  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402
from sklearn.neighbors import kneighbors_graph  # noqa: E402

import scatclust.cluster._spectral as spectral  # noqa: E402
from scatclust.cluster import DEC  # noqa: E402
from scatclust.cluster._spectral import knn_graph, laplacian_eigenmap  # noqa: E402


def blobs(n_per=(40, 50, 60, 45, 55), d=4, seed=0, spread=0.5):
    """Gaussian blobs (unequal sizes) centred on a scaled simplex: well separated clusters."""
    rng = np.random.default_rng(seed)
    means = 4.0 * np.eye(len(n_per), d)
    X = np.concatenate([rng.normal(means[c], spread, (m, d)) for c, m in enumerate(n_per)])
    return X, np.repeat(np.arange(len(n_per)), n_per)


def dense_w(rows, cols, w, n):
    W = np.zeros((n, n))
    W[rows, cols] = w
    W[cols, rows] = w
    return W


def gram(U):
    """U U^T: invariant to a rotation of the columns of U (the eigenmap is defined up to one)."""
    return U @ U.T


# ---- graph ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.filterwarnings("ignore:the 1-nearest-neighbour graph")
def test_knn_graph_equals_sklearn_connectivity(k):
    X = np.random.default_rng(k).normal(size=(250, 4))
    rows, cols, w, n_comp = knn_graph(X, k)
    assert (n_comp > 1) == (k == 1)
    # joining edges (n_comp - 1 of them) come last; the graph before them is the k-NN graph
    m = len(w) - (n_comp - 1)
    A = kneighbors_graph(X, k, mode="connectivity", include_self=False).toarray()
    want = 0.5 * (A + A.T)  # scikit-learn's spectral clustering symmetrisation
    np.testing.assert_array_equal(dense_w(rows[:m], cols[:m], w[:m], len(X)), want)
    assert (rows < cols).all()


def test_components_equal_scipy():
    rng = np.random.default_rng(3)
    for n, m in [(1, 0), (50, 10), (200, 150), (300, 600)]:
        rows, cols = rng.integers(0, n, m), rng.integers(0, n, m)
        lab = spectral._components(n, rows, cols)
        nc, want = csgraph.connected_components(sp.coo_matrix((np.ones(m), (rows, cols)), shape=(n, n)),
                                                directed=False)
        assert len(np.unique(lab)) == nc
        assert adjusted_rand_score(want, lab) == 1.0  # the same partition


def test_disconnected_graph_warns_and_joins_by_shortest_edge():
    # Three groups far apart: a 3-NN graph has three components. Oracle for the joining edges:
    # the closest pair between the smallest group and the rest, then the next one (brute force).
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.1, (12, 2)), rng.normal((5, 0), 0.1, (20, 2)),
                        rng.normal((0, 9), 0.1, (30, 2))])
    with pytest.warns(RuntimeWarning, match="3-nearest-neighbour graph of the 62 points has 3 connected "
                                            "components; they were joined"):
        rows, cols, w, n_comp = knn_graph(X, 3)
    assert n_comp == 3
    n = len(X)
    nc, _ = csgraph.connected_components(sp.coo_matrix((w, (rows, cols)), shape=(n, n)), directed=False)
    assert nc == 1
    D = np.linalg.norm(X[:, None] - X[None], axis=-1)
    g = np.repeat([0, 1, 2], [12, 20, 30])
    inside, outside = np.flatnonzero(g == 0), np.flatnonzero(g != 0)
    a, b = np.unravel_index(np.argmin(D[np.ix_(inside, outside)]), (len(inside), len(outside)))
    first = tuple(sorted((int(inside[a]), int(outside[b]))))
    extra = set(zip(rows[-2:].tolist(), cols[-2:].tolist()))
    assert first in extra and (w[-2:] == 1.0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # connected: no warning
        knn_graph(X, 40)


# ---- eigenmap ------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_components,k", [(5, 10), (5, 6), (3, 15)])
def test_eigenmap_equals_sklearn_spectral_embedding(n_components, k):
    # as many blobs as components, so that the eigengap after them is clear
    X, _ = blobs(n_per=(40, 50, 60, 45, 55)[:n_components], seed=n_components + k, spread=1.1)
    n = len(X)
    rows, cols, w, n_comp = knn_graph(X, k)
    assert n_comp == 1
    W = sp.coo_matrix((np.r_[w, w], (np.r_[rows, cols], np.r_[cols, rows])), shape=(n, n)).tocsr()
    U, evals = laplacian_eigenmap(X, n_components, k)
    # Oracle 1: eigenvalues of scipy's normalised Laplacian, dense LAPACK.
    lam = np.linalg.eigvalsh(csgraph.laplacian(W.toarray(), normed=True))
    np.testing.assert_allclose(evals, lam[:n_components], atol=1e-10)
    assert lam[n_components] - lam[n_components - 1] > 1e-2  # the subspace is well defined
    # Oracle 2: scikit-learn's embedding (ARPACK, returned as D^-1/2 v); scaled back by D^1/2
    # and row-normalised it must equal ours up to a rotation: compare Gram matrices.
    E = spectral_embedding(W, n_components=n_components, norm_laplacian=True, drop_first=False,
                           eigen_solver="arpack", random_state=0)
    V = E * np.sqrt(np.asarray(W.sum(axis=1)).ravel())[:, None]
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    np.testing.assert_allclose(gram(U), gram(V), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0, rtol=1e-12)


def test_sparse_solver_equals_dense(monkeypatch):
    X, _ = blobs(seed=7, spread=0.9)
    U, ev = laplacian_eigenmap(X, 5, 8)
    monkeypatch.setattr(spectral, "_DENSE_MAX", 10)  # force scipy's eigsh
    Us, evs = laplacian_eigenmap(X, 5, 8, random_state=3)
    np.testing.assert_allclose(evs, ev, atol=1e-9)
    np.testing.assert_allclose(gram(Us), gram(U), atol=1e-6)


def test_eigenmap_separates_connected_pieces_spectral_clustering():
    # Two concentric rings: no linear boundary separates them, the 8-NN graph does. The rows of
    # the 2-D eigenmap form two tight, orthogonal groups, one per ring.
    rng = np.random.default_rng(2)
    t = rng.uniform(0, 2 * np.pi, 300)
    r = np.repeat([1.0, 3.0], 150)
    X = np.stack([r * np.cos(t), r * np.sin(t)], axis=1) + rng.normal(0, 0.05, (300, 2))
    with pytest.warns(RuntimeWarning, match="2 connected components"):  # one ring, one component
        U, evals = laplacian_eigenmap(X, 2, 8)
    ring = np.repeat([0, 1], 150)
    a, b = U[ring == 0].mean(0), U[ring == 1].mean(0)
    assert abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)) < 0.05  # nearly orthogonal
    nearest = np.argmax(np.stack([U @ a / np.linalg.norm(a), U @ b / np.linalg.norm(b)], axis=1), axis=1)
    np.testing.assert_array_equal(nearest, ring)
    assert evals[1] < 1e-3  # joined by one edge: a second eigenvalue close to 0


def test_eigenmap_errors():
    X, _ = blobs()
    with pytest.raises(ValueError, match="spectral_neighbors=250 must be < n_samples=250"):
        laplacian_eigenmap(X, 3, 250)
    with pytest.raises(ValueError, match="n_components=250 must be < n_samples=250"):
        laplacian_eigenmap(X, 250, 5)
    with pytest.raises(ValueError, match="z has shape"):
        laplacian_eigenmap(X[0], 3, 5)


# ---- DEC -----------------------------------------------------------------------------------------
def strips(seed=0):
    """Two long thin parallel strips (y = 0 and y = 1, x in [-5, 5]): k-means with k = 2 cuts them
    across (left / right halves have the lower inertia), a k-NN graph keeps each strip whole; the
    means of the strips are at (0, 0) and (0, 1), so nearest-centre labels are the strips."""
    rng = np.random.default_rng(seed)
    # evenly spaced along x (0.1 apart, jittered): no gap splits a strip in the 10-NN graph
    x = np.tile(np.linspace(-5, 5, 100), 2) + rng.uniform(-0.02, 0.02, 200)
    g = np.repeat([0, 1], 100)
    return np.stack([x, g + rng.normal(0, 0.03, 200)], axis=1).astype(np.float32), g


@pytest.mark.filterwarnings("ignore:the 10-nearest-neighbour graph")
def test_initial_centers_spectral_recovers_strips():
    z, g = strips()
    want = np.stack([z[g == c].mean(0) for c in range(2)])
    got = DEC(2, init_embedding="spectral", spectral_neighbors=10, n_init=5)._initial_centers(z, 2, 0)
    got = got[np.argsort(got[:, 1])]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    raw = DEC(2, init_embedding="raw", n_init=5)._initial_centers(z, 2, 0)
    assert abs(raw[0, 0] - raw[1, 0]) > 3  # raw k-means cuts the strips across


@pytest.mark.filterwarnings("ignore:the 8-nearest-neighbour graph")  # one component per ray
def test_initial_centers_spectral_cosine_partition_by_direction():
    # Two rays (0 and 25 degrees), norms spread evenly over [1, 10]: cosine neighbours keep each
    # ray together whatever the norms. Oracle: the direction partition and its raw means.
    rng = np.random.default_rng(0)
    ang = np.repeat(np.radians([0.0, 25.0]), 60) + rng.normal(0, 0.01, 120)
    norm = np.tile(np.linspace(1.0, 10.0, 60), 2)
    z = np.stack([norm * np.cos(ang), norm * np.sin(ang)], axis=1).astype(np.float32)
    direction = np.repeat([0, 1], 60)
    want = np.stack([z[direction == c].mean(0) for c in range(2)])
    est = DEC(2, init_embedding="spectral", spectral_neighbors=8, spectral_metric="cosine", n_init=5)
    got = est._initial_centers(z, 2, 0)
    got = got[np.argsort(np.arctan2(got[:, 1], got[:, 0]))]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert adjusted_rand_score(direction, est.start_labels_) == 1.0
    # Euclidean neighbours of unit vectors are scikit-learn's cosine neighbours (no near-ties here)
    x = rng.normal(size=(150, 4))
    A = kneighbors_graph(x, 8, metric="cosine", include_self=False).toarray()
    rows, cols, w, _ = knn_graph(x / np.linalg.norm(x, axis=1, keepdims=True), 8)
    np.testing.assert_array_equal(dense_w(rows, cols, w, 150), 0.5 * (A + A.T))


class _IdentityEmbedding(DEC):
    """DEC whose embedding is the input itself, so the start can be checked end to end."""

    def _embed(self, X):
        return np.ascontiguousarray(X, dtype=np.float32)


@pytest.mark.filterwarnings("ignore:the 10-nearest-neighbour graph")
def test_dec_fit_uses_spectral_start():
    X, g = strips(1)
    p = dict(hidden=(4,), latent_dim=2, pretrain_epochs=0, max_iter=0, n_init=5, random_state=0)
    est = _IdentityEmbedding(2, init_embedding="spectral", spectral_neighbors=10, **p).fit(X)
    assert adjusted_rand_score(g, est.labels_) == 1.0
    raw = _IdentityEmbedding(2, **p).fit(X)
    assert adjusted_rand_score(g, raw.labels_) < 0.2


@pytest.mark.parametrize("first_target", ["start", "soft"])
def test_first_target_start_is_one_hot_start_partition(first_target):
    # init_embedding='l2': the start partition is k-means on the unit embeddings (independent
    # oracle, as in test_dec_pretrain). 'start': the first full-data target is its one-hot
    # labels; 'soft' and every later target: DEC's q^2 / f, renormalised (numpy oracle).
    from scatclust.cluster import KMeans

    X, _ = blobs(n_per=(30, 30, 30), d=10)
    X = X.astype(np.float32)
    seen = []

    class Spy(DEC):
        def _target(self, q_full, it):
            p = super()._target(q_full, it)
            seen.append((it, q_full.copy(), p.copy(), self._embed(X_model)))
            return p

    X_model = X  # 'mlp': the model input is X itself
    est = Spy(3, hidden=(32,), latent_dim=3, pretrain_epochs=5, max_iter=10, batch_size=30, update_interval=5,
              tol=0.0, n_init=5, init_embedding="l2", first_target=first_target, random_state=2).fit(X)
    assert [it for it, *_ in seen] == [0, 5]
    it, q, p, z = seen[0]
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    labels = np.asarray(KMeans(3, n_init=5, random_state=2).fit(np.ascontiguousarray(u)).labels_)

    def dec_target(q):
        w = q.astype(np.float64) ** 2 / q.sum(0)
        return w / w.sum(1, keepdims=True)
    if first_target == "start":
        np.testing.assert_array_equal(p, np.eye(3, dtype=p.dtype)[labels])
    else:
        np.testing.assert_allclose(p, dec_target(q), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(seen[1][2], dec_target(seen[1][1]), rtol=1e-5, atol=1e-7)
    assert est.labels_.shape == (90,)


@pytest.mark.parametrize("first_target,start_weight", [("start", 0.3), ("start", 1.0), ("soft", 0.6)])
def test_start_weight_mixes_start_partition_into_every_target(first_target, start_weight):
    # Every target after the first (and the first unless first_target='start') must be
    # (1 - w) * DEC's q^2 / f (renormalised) + w * one-hot(start partition); the start partition
    # is k-means on the unit embeddings, recomputed here independently (numpy / KMeans oracle).
    # Ignoring start_weight would give DEC's target alone, off by >= 0.3 * (1 - max p) per row.
    from scatclust.cluster import KMeans

    X, _ = blobs(n_per=(30, 30, 30), d=10)
    X = X.astype(np.float32)
    seen, z0 = [], []

    class Spy(DEC):
        def _target(self, q_full, it):
            if not z0:
                z0.append(self._embed(X))
            p = super()._target(q_full, it)
            seen.append((it, q_full.copy(), p.copy()))
            return p

    est = Spy(3, hidden=(32,), latent_dim=3, pretrain_epochs=5, max_iter=15, batch_size=30, update_interval=5,
              tol=0.0, n_init=5, init_embedding="l2", first_target=first_target, start_weight=start_weight,
              random_state=2).fit(X)
    assert [it for it, *_ in seen] == [0, 5, 10]
    u = z0[0] / np.linalg.norm(z0[0], axis=1, keepdims=True)
    onehot = np.eye(3)[np.asarray(KMeans(3, n_init=5, random_state=2).fit(np.ascontiguousarray(u)).labels_)]
    for it, q, p in seen:
        w = q.astype(np.float64) ** 2 / q.sum(0)
        dec = w / w.sum(1, keepdims=True)
        weight = 1.0 if it == 0 and first_target == "start" else start_weight
        want = (1 - weight) * dec + weight * onehot
        assert p.dtype == np.float32
        # float32 target: rtol 1e-5 (about 100 float32 eps), atol 1e-7 for near-zero entries
        np.testing.assert_allclose(p, want, rtol=1e-5, atol=1e-7)
        assert np.abs(dec - want).max() > 0.1  # the check above separates the two targets
    assert est.labels_.shape == (90,)


@pytest.mark.filterwarnings("ignore:the 7-nearest-neighbour graph")
def test_dec_spectral_reproducible_and_save_load(tmp_path):
    X, _ = blobs(n_per=(30, 30, 30), d=10)
    X = X.astype(np.float32)
    p = dict(hidden=(32,), latent_dim=3, pretrain_epochs=10, max_iter=20, batch_size=32, update_interval=10,
             n_init=5, init_embedding="spectral", spectral_neighbors=7, random_state=5)
    a = DEC(3, **p).fit(X)
    b = DEC(3, **p).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    a.save(tmp_path / "dec.pt")
    c = DEC.load(tmp_path / "dec.pt")
    assert c.get_params()["spectral_neighbors"] == 7 and c.init_embedding == "spectral"
    np.testing.assert_array_equal(c.predict(X), a.predict(X))


def test_dec_spectral_errors():
    X, _ = blobs(n_per=(5, 5, 5), d=4)
    X = X.astype(np.float32)
    with pytest.raises(ValueError, match="spectral_neighbors=15 must be < n_samples=15"):
        DEC(3, init_embedding="spectral", spectral_neighbors=15).fit(X)
    with pytest.raises(ValueError, match="spectral_neighbors=0 must be >= 1"):
        DEC(3, init_embedding="spectral", spectral_neighbors=0).fit(X)
    with pytest.raises(ValueError, match="spectral_neighbors=0 must be >= 1"):
        DEC(3, spectral_neighbors=0).fit(X)
    with pytest.raises(TypeError, match="spectral_neighbors=2.5 must be an int"):
        DEC(3, init_embedding="spectral", spectral_neighbors=2.5).fit(X)
    with pytest.raises(ValueError, match="init_embedding='spectral' needs n_samples=3 > n_clusters=3"):
        DEC(3, init_embedding="spectral", spectral_neighbors=2).fit(X[:3])
    with pytest.raises(ValueError, match="spectral_metric='manhattan' must be one of 'euclidean', 'cosine'"):
        DEC(3, init_embedding="spectral", spectral_metric="manhattan").fit(X)
    with pytest.raises(ValueError, match="first_target='hard' must be one of 'soft', 'start'"):
        DEC(3, first_target="hard").fit(X)
    for bad in (1.5, -0.1, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match=rf"start_weight={bad!r} must be a real number in \[0, 1\]"):
            DEC(3, start_weight=bad).fit(X)
    with pytest.raises(ValueError, match="init_embedding='pca' must be one of 'raw', 'l2', 'standard', "
                                         "'spectral'"):
        DEC(3, init_embedding="pca").fit(X)
