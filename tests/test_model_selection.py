"""Model selection: silhouette / Calinski-Harabasz against scikit-learn, the gap statistic
against its formula and on data with known structure, select_k's table, text and plot.

Tolerances: the scores are float64 sums of O(n^2) (silhouette) or O(n) terms; 1e-10 relative
leaves ~1e5 ulps for the different summation orders and the distance expansion.
"""
import io

import numpy as np
import pytest

from scatclust.cluster import (GapResult, KMeans, KSelection, calinski_harabasz_score, gap_statistic,
                               select_k, silhouette_score)

sklearn_metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is a test dependency")
sklearn_datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is a test dependency")

RTOL = 1e-10


def blobs(k, n_per=40, d=2, std=0.4, seed=0):
    """k Gaussian blobs with centres 10 apart on a circle (radius chosen for that spacing)."""
    rng = np.random.default_rng(seed)
    radius = 10.0 / (2 * np.sin(np.pi / k))
    ang = 2 * np.pi * np.arange(k) / k
    centres = np.zeros((k, d))
    centres[:, 0], centres[:, 1] = radius * np.cos(ang), radius * np.sin(ang)
    X = np.concatenate([rng.normal(c, std, (n_per, d)) for c in centres])
    y = np.repeat(np.arange(k), n_per)
    return X, y


@pytest.fixture(scope="module")
def digits():
    return sklearn_datasets.load_digits(return_X_y=True)


# ---- silhouette / Calinski-Harabasz vs scikit-learn -----------------------------------------
@pytest.mark.parametrize("k", [2, 3, 7])
def test_scores_match_sklearn_on_blobs(k):
    X, y = blobs(k, n_per=31, d=3, std=2.0, seed=k)  # overlapping enough for negative s(i)
    y = y.copy()
    y[::7] = (y[::7] + 1) % k  # some wrong labels, so the scores are not trivial
    assert silhouette_score(X, y) == pytest.approx(sklearn_metrics.silhouette_score(X, y), rel=RTOL)
    assert calinski_harabasz_score(X, y) == pytest.approx(sklearn_metrics.calinski_harabasz_score(X, y), rel=RTOL)


def test_scores_match_sklearn_on_digits(digits):
    X, y = digits
    assert silhouette_score(X, y) == pytest.approx(sklearn_metrics.silhouette_score(X, y), rel=RTOL)
    assert calinski_harabasz_score(X, y) == pytest.approx(sklearn_metrics.calinski_harabasz_score(X, y), rel=RTOL)
    # String labels and a shifted origin (far from 0: the distance expansion must stay accurate).
    names = np.array(list("abcdefghij"))[y]
    assert silhouette_score(X + 1e3, names) == pytest.approx(sklearn_metrics.silhouette_score(X, y), rel=RTOL)


def test_silhouette_singletons_and_float32_and_torch():
    X, y = blobs(3, n_per=10, seed=1)
    y = y.copy()
    y[0] = 7  # a singleton cluster scores 0 for its row (scikit-learn's convention)
    ref = sklearn_metrics.silhouette_score(X, y)
    assert silhouette_score(X, y) == pytest.approx(ref, rel=RTOL)
    # float32 input is scored in float64 after conversion: equal to sklearn on the rounded data.
    X32 = X.astype(np.float32)
    assert silhouette_score(X32, y) == pytest.approx(sklearn_metrics.silhouette_score(X32.astype(np.float64), y),
                                                     rel=RTOL)
    torch = pytest.importorskip("torch")
    assert silhouette_score(torch.from_numpy(X), torch.from_numpy(y)) == pytest.approx(ref, rel=RTOL)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 10_000])
def test_silhouette_chunking_does_not_change_the_result(digits, chunk_size):
    X, y = digits
    X, y = X[:500], y[:500]
    one_block = silhouette_score(X, y, chunk_size=X.shape[0])
    # Only the BLAS blocking of X[block] @ X.T changes: agreement to rounding (1e-13 relative).
    assert silhouette_score(X, y, chunk_size=chunk_size) == pytest.approx(one_block, rel=1e-13)


def test_silhouette_sample_size_reproducible_and_as_sklearn(digits):
    X, y = digits
    a = silhouette_score(X, y, sample_size=300, random_state=3)
    b = silhouette_score(X, y, sample_size=300, random_state=3)
    c = silhouette_score(X, y, sample_size=300, random_state=4)
    assert a == b
    assert a != c
    # Same subsampling rule as scikit-learn: same rows for the same seed.
    assert a == pytest.approx(sklearn_metrics.silhouette_score(X, y, sample_size=300, random_state=3), rel=RTOL)
    assert silhouette_score(X, y, sample_size=X.shape[0], random_state=0) == pytest.approx(
        silhouette_score(X, y), rel=RTOL)


def test_calinski_harabasz_zero_within_dispersion_is_one():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]])
    assert calinski_harabasz_score(X, [0, 0, 1, 1]) == 1.0
    assert sklearn_metrics.calinski_harabasz_score(X, [0, 0, 1, 1]) == 1.0


# ---- gap statistic ---------------------------------------------------------------------------
@pytest.mark.parametrize("reference", ["uniform", "pca"])
@pytest.mark.parametrize("k_true", [3, 5])
def test_gap_finds_separated_blobs(k_true, reference):
    X, _ = blobs(k_true, n_per=40, seed=k_true)
    res = gap_statistic(X, range(1, 9), n_refs=5, reference=reference, random_state=0, n_init=3)
    assert isinstance(res, GapResult)
    assert res.best_k == k_true
    np.testing.assert_array_equal(res.k, np.arange(1, 9))


@pytest.mark.parametrize("reference", ["uniform", "pca"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gap_single_blob_suggests_one(reference, seed):
    # One Gaussian blob with k = 1 in the range: the rule stops at k = 1 (no structure).
    X = np.random.default_rng(seed).normal(size=(150, 2)) * [3.0, 1.0]
    res = gap_statistic(X, range(1, 6), n_refs=5, reference=reference, random_state=seed)
    assert res.best_k == 1


def test_gap_reproducible_with_random_state():
    X, _ = blobs(3, n_per=20, seed=5)
    a = gap_statistic(X, [1, 2, 3, 4], n_refs=4, random_state=11)
    b = gap_statistic(X, [1, 2, 3, 4], n_refs=4, random_state=11)
    c = gap_statistic(X, [1, 2, 3, 4], n_refs=4, random_state=12)
    np.testing.assert_array_equal(a.gap, b.gap)
    np.testing.assert_array_equal(a.gap_sd, b.gap_sd)
    assert not np.array_equal(a.ref_log_w, c.ref_log_w)


def _best_two_means_1d(z):
    """Optimal 2-means inertia of 1-D data: the best split of the sorted values."""
    z = np.sort(z)
    return min(((z[:i] - z[:i].mean()) ** 2).sum() + ((z[i:] - z[i:].mean()) ** 2).sum()
               for i in range(1, z.size))


@pytest.mark.parametrize("reference", ["uniform", "pca"])
def test_gap_matches_direct_formula_tiny_case(reference):
    # 1-D data, k in {1, 2}: W_1 is the total sum of squares and W_2 the best split, both exact.
    x = np.array([0.0, 0.3, 1.1, 4.0, 4.2, 5.5, 6.1])
    X = x[:, None]
    B = 3
    res = gap_statistic(X, [2, 1], n_refs=B, reference=reference, random_state=7, n_init=10)
    # Reference sets as documented: a RandomState from random_state gives the seed of the fits
    # on X, then the seed of a second RandomState that draws the B sets in order.
    rs = np.random.RandomState(7)
    rs.randint(0, 2**31 - 1)
    ref_rs = np.random.RandomState(rs.randint(0, 2**31 - 1))
    lo, hi = x.min(), x.max()  # in 1-D the principal-axis box is the bounding box
    refs = [lo + (hi - lo) * ref_rs.random_sample((x.size, 1))[:, 0] for _ in range(B)]
    log_w = np.log([((x - x.mean()) ** 2).sum(), _best_two_means_1d(x)])
    ref_log_w = np.log([[((z - z.mean()) ** 2).sum(), _best_two_means_1d(z)] for z in refs])
    gap = ref_log_w.mean(axis=0) - log_w
    sd = np.sqrt(((ref_log_w - ref_log_w.mean(axis=0)) ** 2).mean(axis=0)) * np.sqrt(1 + 1 / B)
    np.testing.assert_array_equal(res.k, [1, 2])
    np.testing.assert_allclose(res.log_w, log_w, rtol=1e-12)
    np.testing.assert_allclose(res.ref_log_w, ref_log_w, rtol=1e-12)
    np.testing.assert_allclose(res.gap, gap, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.gap_sd, sd, rtol=1e-10)
    assert res.best_k == (1 if gap[0] >= gap[1] - sd[1] else 2)


def test_gap_rule_on_given_values():
    from scatclust.cluster._model_selection import _gap_rule

    ks = np.array([1, 2, 3, 4])
    # Gap(1) < Gap(2) - s2; Gap(2) < Gap(3) - s3; Gap(3) >= Gap(4) - s4 -> 3
    assert _gap_rule(ks, np.array([0.1, 0.5, 1.0, 1.05]), np.array([0.1, 0.1, 0.1, 0.1])) == 3
    # Always increasing beyond the error bar -> the largest k
    assert _gap_rule(ks, np.array([0.0, 1.0, 2.0, 3.0]), np.full(4, 0.1)) == 4
    # Within one s of the next -> the first k
    assert _gap_rule(ks, np.array([1.0, 1.05, 3.0, 3.0]), np.full(4, 0.1)) == 1


# ---- select_k --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def selection():
    X, _ = blobs(4, n_per=30, seed=2)
    return X, select_k(X, range(1, 8), n_refs=4, random_state=0, n_init=3)


def test_select_k_table_and_best(selection):
    X, sel = selection
    assert isinstance(sel, KSelection)
    assert list(sel.table) == ["k", "inertia", "silhouette", "calinski_harabasz", "gap", "gap_sd"]
    for col in sel.table.values():
        assert col.shape == (7,)
    np.testing.assert_array_equal(sel.table["k"], np.arange(1, 8))
    assert sel.table["k"].dtype == np.int64
    # silhouette / CH undefined at k = 1
    assert np.isnan(sel.table["silhouette"][0]) and np.isnan(sel.table["calinski_harabasz"][0])
    assert np.isfinite(sel.table["silhouette"][1:]).all()
    assert sel.best["silhouette"] == 4
    assert sel.best["calinski_harabasz"] == 4
    assert sel.best["gap"] == 4
    assert sel.best["inertia"] == 4
    # The stored models are the fits behind every column.
    assert set(sel.models) == set(range(1, 8))
    for j, k in enumerate(range(1, 8)):
        m = sel.models[k]
        assert isinstance(m, KMeans) and m.n_clusters == k
        assert sel.table["inertia"][j] == m.inertia_
        if k >= 2:
            assert sel.table["silhouette"][j] == pytest.approx(silhouette_score(X, m.labels_), rel=RTOL)
            assert sel.table["calinski_harabasz"][j] == pytest.approx(
                calinski_harabasz_score(X, m.labels_), rel=RTOL)


def test_select_k_gap_equals_gap_statistic(selection):
    X, sel = selection
    res = gap_statistic(X, range(1, 8), n_refs=4, random_state=0, n_init=3)
    np.testing.assert_array_equal(sel.table["gap"], res.gap)
    np.testing.assert_array_equal(sel.table["gap_sd"], res.gap_sd)
    assert sel.best["gap"] == res.best_k


def test_select_k_subset_of_metrics_and_silhouette_sample():
    X, _ = blobs(3, n_per=30, seed=4)
    sel = select_k(X, [2, 3, 4], metrics="silhouette", random_state=1, silhouette_sample_size=60)
    assert sel.best == {"silhouette": 3}
    assert np.isnan(sel.table["gap"]).all() and np.isnan(sel.table["calinski_harabasz"]).all()
    again = select_k(X, [2, 3, 4], metrics=["silhouette"], random_state=1, silhouette_sample_size=60)
    np.testing.assert_array_equal(sel.table["silhouette"], again.table["silhouette"])
    # models do not depend on which metrics were asked for
    full = select_k(X, [2, 3, 4], metrics=("inertia", "gap"), n_refs=2, random_state=1)
    for k in (2, 3, 4):
        np.testing.assert_array_equal(sel.models[k].cluster_centers_, full.models[k].cluster_centers_)


def test_elbow_rule():
    from scatclust.cluster._model_selection import _elbow

    ks = np.arange(1, 8)
    assert _elbow(ks, np.array([100.0, 40.0, 10.0, 8.0, 7.0, 6.5, 6.0])) == 3
    assert _elbow(ks[:2], np.array([10.0, 5.0])) is None


def test_to_markdown_has_every_k(selection):
    _, sel = selection
    text = sel.to_markdown()
    lines = text.splitlines()
    assert lines[0] == "| k | inertia | silhouette | calinski_harabasz | gap | gap_sd |"
    rows = [ln for ln in lines[2:] if ln.startswith("|")]
    assert [int(r.split("|")[1]) for r in rows] == list(range(1, 8))
    assert "silhouette: 4" in text


def test_plot_returns_figure_and_saves_png(selection, tmp_path):
    mpl = pytest.importorskip("matplotlib", reason="matplotlib is a test dependency")
    mpl.use("Agg")
    from matplotlib.figure import Figure

    _, sel = selection
    fig = sel.plot()
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4
    path = tmp_path / "select_k.png"
    fig.savefig(path)
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"
    # Into given Axes: one per metric.
    import matplotlib.pyplot as plt

    fig2, axes = plt.subplots(1, 4)
    assert sel.plot(axes) is fig2
    plt.close(fig2)
    with pytest.raises(ValueError, match="ax has 2 Axes but 4 metrics"):
        sel.plot(axes[:2])


# ---- errors ----------------------------------------------------------------------------------
def test_k_range_errors():
    X, _ = blobs(2, n_per=5)
    with pytest.raises(ValueError, match=r"k_range contains k=0; every k must satisfy 1 <= k <= n_samples=10"):
        select_k(X, [0, 1, 2])
    with pytest.raises(ValueError, match=r"k_range contains k=11; every k must satisfy 1 <= k <= n_samples=10"):
        gap_statistic(X, [2, 11])
    with pytest.raises(ValueError, match="k_range is empty"):
        select_k(X, [])
    with pytest.raises(TypeError, match=r"k_range entry=2.0 must be an int"):
        select_k(X, [2.0, 3])
    with pytest.raises(TypeError, match="n_clusters cannot be passed"):
        select_k(X, [2], n_clusters=3)


def test_label_errors():
    X, y = blobs(2, n_per=5)
    with pytest.raises(ValueError, match=r"labels has shape \(9,\) but X has 10 rows"):
        silhouette_score(X, y[:9])
    with pytest.raises(ValueError, match=r"labels has shape \(9,\) but X has 10 rows"):
        calinski_harabasz_score(X, y[:9])
    with pytest.raises(ValueError, match=r"silhouette_score needs 2 <= n_labels <= n_samples - 1, got n_labels=1"):
        silhouette_score(X, np.zeros(10))
    with pytest.raises(ValueError, match=r"needs 2 <= n_labels <= n_samples - 1, got n_labels=10"):
        silhouette_score(X, np.arange(10))
    with pytest.raises(ValueError, match=r"calinski_harabasz_score needs 2 <= n_labels"):
        calinski_harabasz_score(X, np.zeros(10))
    with pytest.raises(ValueError, match=r"sample_size=1 is out of range; valid range is \[2, 10\]"):
        silhouette_score(X, y, sample_size=1)


def test_name_errors():
    X, _ = blobs(2, n_per=5)
    with pytest.raises(ValueError, match=r"metrics entry='bic' must be one of 'inertia', 'silhouette'"):
        select_k(X, [2, 3], metrics=("silhouette", "bic"))
    with pytest.raises(ValueError, match=r"reference='gaussian' must be one of 'uniform', 'pca'"):
        gap_statistic(X, [1, 2], reference="gaussian")
    with pytest.raises(ValueError, match=r"reference='box' must be one of"):
        select_k(X, [2, 3], reference="box")


@pytest.mark.parametrize("func", [
    lambda X: silhouette_score(X, np.arange(X.shape[0]) % 2),
    lambda X: calinski_harabasz_score(X, np.arange(X.shape[0]) % 2),
    lambda X: gap_statistic(X, [1, 2]),
    lambda X: select_k(X, [2, 3]),
])
def test_nan_in_X(func):
    X, _ = blobs(2, n_per=5)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity; remove or impute those rows first"):
        func(X)


def test_X_shape_error():
    with pytest.raises(ValueError, match=r"X must be 2-D \(n_samples, n_features\), got shape \(5,\)"):
        silhouette_score(np.arange(5.0), [0, 0, 1, 1, 1])
