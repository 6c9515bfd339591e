"""Fuzzing the clustering front ends and the raw k-means / Student-t bindings with hypothesis:
any input either works or raises ValueError/TypeError/IndexError with a message -- never a
crash, a hang, an allocation sized by a bad parameter, or silently non-finite results.

Sizes stay small (at most a few dozen rows, features and clusters), so a parameter that would
need a huge allocation (n_clusters=10**12 with 5 rows) must be refused before allocating."""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scatclust import _core
from scatclust.cluster import (KMeans, MiniBatchKMeans, kl_loss, kl_loss_grad, kmeans_plusplus, soft_assign,
                               target_distribution)

# Overflowing casts (1e300 -> float32) and complex -> real casts are part of the inputs.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::numpy.exceptions.ComplexWarning")

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OK_ERRORS = (ValueError, TypeError, IndexError)

special = st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-300, 1e30, -1e30, 1e300, np.nan, np.inf, -np.inf])
values = st.one_of(st.floats(-10, 10), special)
params = st.one_of(st.integers(-3, 12), st.sampled_from([0, 2**31, 2**63, 10**12, -(2**31)]),
                   st.floats(allow_nan=True, allow_infinity=True), st.none(), st.booleans(), st.text(max_size=2))
dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.complex64, np.bool_])


@st.composite
def matrices(draw, max_rows=12, max_cols=5, dtype=None):
    """Small 2-D arrays: empty, 0 features, specials (NaN, inf, overflow-prone 1e30) mixed in."""
    n = draw(st.integers(0, max_rows))
    d = draw(st.integers(0, max_cols))
    dt = draw(dtypes) if dtype is None else dtype
    a = np.array(draw(st.lists(values, min_size=n * d, max_size=n * d)), dtype=np.float64).reshape(n, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nan/inf -> int casts
        return a.astype(dt)


def weights(n):
    return st.one_of(st.none(), st.sampled_from([0.0, -1.0, np.nan, 2.0]),
                     st.lists(values, min_size=n, max_size=n).map(np.array),
                     st.lists(values, min_size=0, max_size=n + 2).map(np.array))


def assert_refused(e):
    assert str(e), f"{type(e).__name__} without a message"


def assert_finite(*arrays):
    for a in arrays:
        assert np.isfinite(np.asarray(a, dtype=np.float64)).all()


# ------------------------------------------------------------------- front ends: k-means
@FUZZ
@given(data=st.data(), X=matrices(), n_clusters=params, max_iter=params, tol=params, n_init=params,
       init=st.sampled_from(["k-means++", "random", "array", "bad"]))
def test_kmeans_estimator(data, X, n_clusters, max_iter, tol, n_init, init):
    w = data.draw(weights(X.shape[0]))
    if init == "array":
        init = data.draw(matrices(max_rows=6, max_cols=6, dtype=np.float64))
    km = KMeans(n_clusters=n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol, random_state=0,
                n_threads=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # n_init reduced for explicit centres, ConvergenceWarning
            km.fit(X, sample_weight=w)
    except OK_ERRORS as e:
        assert_refused(e)
    else:
        assert km.cluster_centers_.shape == (n_clusters, X.shape[1])
        assert ((km.labels_ >= 0) & (km.labels_ < n_clusters)).all()
        assert_finite(km.cluster_centers_, km.inertia_)
        Y = data.draw(matrices(max_rows=6, max_cols=6))
        for method in (km.predict, km.transform):
            try:
                out = method(Y)
            except OK_ERRORS as e:
                assert_refused(e)
            else:
                assert out.shape[0] == Y.shape[0]


@FUZZ
@given(data=st.data(), X=matrices(), n_clusters=params, batch_size=params, reassignment_ratio=params,
       calls=st.integers(1, 3))
def test_minibatch_partial_fit(data, X, n_clusters, batch_size, reassignment_ratio, calls):
    mbk = MiniBatchKMeans(n_clusters=n_clusters, batch_size=batch_size, reassignment_ratio=reassignment_ratio,
                          random_state=0, n_threads=1)
    refused = False
    for _ in range(calls):
        if refused:  # once a call is refused, the estimator's state is not checked further
            break
        w = data.draw(weights(X.shape[0]))
        try:
            mbk.partial_fit(X, sample_weight=w)
        except OK_ERRORS as e:
            assert_refused(e)
            refused = True
        else:
            assert_finite(mbk.cluster_centers_)
            X = data.draw(st.one_of(st.just(X), matrices()))


@FUZZ
@given(data=st.data(), X=matrices(), n_clusters=params, n_local_trials=params)
def test_kmeans_plusplus_function(data, X, n_clusters, n_local_trials):
    w = data.draw(weights(X.shape[0]))
    try:
        centers, indices = kmeans_plusplus(X, n_clusters, sample_weight=w, n_local_trials=n_local_trials,
                                           random_state=0, n_threads=1)
    except OK_ERRORS as e:
        assert_refused(e)
    else:
        assert centers.shape == (n_clusters, X.shape[1])
        assert ((indices >= 0) & (indices < X.shape[0])).all()
        np.testing.assert_array_equal(centers, np.asarray(X)[indices])


# ------------------------------------------------------------------- front ends: Student-t
@FUZZ
@given(z=matrices(), mu=matrices(max_rows=5), p=matrices(), alpha=params,
       reduction=st.sampled_from(["sum", "mean", "none", "x"]))
def test_student_t_functions(z, mu, p, alpha, reduction):
    for call in (lambda: soft_assign(z, mu, alpha), lambda: target_distribution(p),
                 lambda: kl_loss(p, p, reduction=reduction), lambda: kl_loss_grad(z, mu, p, alpha, reduction)):
        try:
            out = call()
        except OK_ERRORS as e:
            assert_refused(e)
        else:
            assert_finite(*(out if isinstance(out, tuple) else (out,)))


# ------------------------------------------------------------------- raw k-means bindings
def _buf(shape, dtype):
    return np.zeros(shape, dtype=dtype)


@st.composite
def kmeans_case(draw):
    """A raw-binding call: X, centres and buffers whose sizes/dtypes agree or, often, do not."""
    dt = draw(st.sampled_from([np.float32, np.float64]))
    X = draw(matrices(max_rows=40, max_cols=6, dtype=dt))
    n, d = X.shape
    k = draw(st.integers(0, 6))
    C = draw(st.one_of(matrices(max_rows=6, max_cols=6, dtype=dt),
                       st.lists(values, min_size=k * d, max_size=k * d).map(
                           lambda v: np.array(v, dtype=dt).reshape(k, d))))
    k = C.shape[0]
    odd = lambda m: draw(st.sampled_from([m, m, m, m + 1, max(m - 1, 0)]))  # noqa: E731
    other = lambda: draw(st.sampled_from([dt, dt, dt, np.float32 if dt == np.float64 else np.float64]))  # noqa: E731
    n_lab, n_w = odd(n), odd(n)
    labels = np.array(draw(st.lists(st.integers(-3, k + 3) | st.sampled_from([2**31 - 1, -(2**31)]),
                                    min_size=n_lab, max_size=n_lab)), dtype=np.int32)
    w = draw(st.one_of(st.none(), st.lists(values, min_size=n_w, max_size=n_w).map(
        lambda v: np.array(v, dtype=other()))))
    return dict(X=X, C=C, labels=labels, w=w, dist=_buf(odd(n), other()), new=_buf((odd(k), odd(d)), other()),
                wic=_buf(odd(k), other()), shift=_buf(odd(k), other()), idx=_buf(odd(k), np.int64),
                trials=draw(st.one_of(st.integers(-2, 8), st.sampled_from([2**31 - 1]))),
                n_threads=draw(st.sampled_from([0, 1, 2, -1, 10**6])), update=draw(st.booleans()))


@FUZZ
@given(case=kmeans_case())
def test_core_kmeans_bindings(case):
    X, C, w, nt = case["X"], case["C"], case["w"], case["n_threads"]
    labels = case["labels"]
    n, k = X.shape[0], C.shape[0]
    calls = {
        "assign": lambda: _core.kmeans_assign(X, C, labels, case["dist"], nt),
        "lloyd": lambda: _core.kmeans_lloyd_step(X, w, C, labels, case["dist"], case["new"], case["wic"],
                                                  case["shift"], case["update"], nt),
        "inertia": lambda: _core.kmeans_inertia(X, w, C, labels, nt),
        "plusplus": lambda: _core.kmeans_plusplus(X, w, case["new"], case["idx"], case["trials"], 7, nt),
    }
    for name, call in calls.items():
        try:
            out = call()
        except OK_ERRORS as e:
            assert_refused(e)
            continue
        if name in ("assign", "lloyd") and n:
            assert ((labels >= 0) & (labels < k)).all(), name
        if name == "lloyd" and n and case["update"]:
            assert_finite(case["new"], case["wic"])
        if name == "inertia":
            assert np.isfinite(out) and out >= 0
        if name == "plusplus":
            assert ((case["idx"] >= 0) & (case["idx"] < n)).all()


# ------------------------------------------------------------------- raw Student-t bindings
@st.composite
def student_t_case(draw):
    dt = draw(st.sampled_from([np.float32, np.float64]))
    z = draw(matrices(max_rows=20, max_cols=5, dtype=dt))
    mu = draw(matrices(max_rows=5, max_cols=6, dtype=dt))
    n, d, k = z.shape[0], z.shape[1], mu.shape[0]
    odd = lambda m: draw(st.sampled_from([m, m, m, m + 1, max(m - 1, 0)]))  # noqa: E731
    other = lambda: draw(st.sampled_from([dt, dt, dt, np.float32 if dt == np.float64 else np.float64]))  # noqa: E731
    q = draw(st.one_of(matrices(max_rows=20, max_cols=6, dtype=dt),
                       st.builds(lambda r, c: np.full((r, c), 1.0 / max(c, 1), dtype=dt), st.just(odd(n)),
                                 st.just(odd(k)))))
    return dict(z=z, mu=mu, q=q, alpha=draw(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                                       st.sampled_from([1.0, 0.5, 1e-300, 1e300]))),
                out_q=_buf((odd(n), odd(k)), other()), p=_buf((odd(q.shape[0]), odd(q.shape[1])), other()),
                f=_buf(odd(q.shape[1]), other()), G=_buf((odd(n), odd(k)), other()),
                dz=_buf((odd(n), odd(d)), other()), dmu=_buf((odd(k), odd(mu.shape[1])), other()),
                n_threads=draw(st.sampled_from([0, 1, 2, -1])))


@FUZZ
@given(c=student_t_case())
def test_core_student_t_bindings(c):
    nt = c["n_threads"]
    calls = [
        lambda: _core.student_t_soft_assign(c["z"], c["mu"], c["alpha"], c["out_q"], nt),
        lambda: _core.student_t_target(c["q"], c["p"], c["f"], nt),
        lambda: _core.student_t_kl(c["q"], c["q"], nt),
        lambda: _core.student_t_vjp_q(c["z"], c["mu"], c["alpha"], c["q"], c["G"], c["dz"], c["dmu"], nt),
        lambda: _core.student_t_kl_grad(c["z"], c["mu"], c["alpha"], c["q"], c["dz"], c["dmu"], nt),
    ]
    for i, call in enumerate(calls):
        try:
            out = call()
        except OK_ERRORS as e:
            assert_refused(e)
            continue
        if i == 0:
            assert_finite(c["out_q"])
        elif i == 1:
            assert_finite(c["p"])
        elif i in (3, 4):
            assert_finite(c["dz"], c["dmu"], *([out] if out is not None else []))


# ------------------------------------------------------------------- regressions found by fuzzing
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_row_is_refused_not_indexed(dtype, bad):
    """A NaN/inf row had no nearest centre: the tile left label INT32_MAX or -1, which the Lloyd
    step then used as an index into the centre sums (out-of-bounds write)."""
    X = np.zeros((5, 3), dtype)
    X[2, 1] = bad
    C = np.eye(2, 3, dtype=dtype)
    labels, dist = np.zeros(5, np.int32), np.empty(5, dtype)
    for call in (lambda: _core.kmeans_assign(X, C, labels, dist, 1),
                 lambda: _core.kmeans_lloyd_step(X, None, C, labels, dist, np.empty_like(C), np.empty(2, dtype),
                                                 np.empty(2, dtype), True, 1)):
        with pytest.raises(ValueError, match="X has a row whose squared distance to the nearest centre is"):
            call()


def test_float32_overflowing_squares_are_refused():
    """Finite float32 rows whose squared norms overflow (1e30**2) passed the front end's
    isfinite check and reached the kernel with the same out-of-range labels."""
    X = np.array([[1e30, 0], [-1e30, 0], [1e30, 1e30], [0, -1e30]], np.float32)
    with pytest.raises(ValueError, match=r"squared distance .* is -?(nan|inf) \(float32\)"):
        KMeans(n_clusters=2, init=X[:2].copy(), n_init=1, n_threads=1).fit(X)
    km = KMeans(n_clusters=2, random_state=0, n_threads=1).fit(X.astype(np.float64))  # float64 has the range
    assert np.isfinite(km.cluster_centers_).all()


def test_raw_bindings_check_weights_and_centres():
    X = np.arange(12.0).reshape(6, 2)
    C = X[:2].copy()
    labels = np.zeros(6, np.int32)
    with pytest.raises(ValueError, match=r"sample_weight\[1\]=-1 is negative; weights must be >= 0"):
        _core.kmeans_inertia(X, np.array([1, -1, 1, 1, 1, 1.0]), C, labels, 1)
    with pytest.raises(ValueError, match="sample_weight"):
        _core.kmeans_plusplus(X, np.full(6, np.nan), np.empty((2, 2)), np.empty(2, np.int64), 2, 0, 1)
    C[1, 0] = np.nan
    with pytest.raises(ValueError, match="centers"):
        _core.kmeans_assign(X, C, labels, np.empty(6), 1)
    with pytest.raises(ValueError, match="centers_new"):  # w * x overflows float64 in the weighted mean
        _core.kmeans_lloyd_step(X * 1e100, np.full(6, 1e300), X[:2] * 1e100, labels, np.empty(6), np.empty((2, 2)),
                                np.empty(2), np.empty(2), True, 1)


def test_kmeans_plusplus_trials_are_bounded_before_allocating():
    """n_local_trials=2**31-1 allocated n_local_trials x n doubles (MemoryError or an OOM kill)."""
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match=r"n_local_trials=2147483647 must be <= 1024"):
        kmeans_plusplus(X, 2, n_local_trials=2**31 - 1, random_state=0)
    centers, _ = kmeans_plusplus(X, 2, n_local_trials=1024, random_state=0)
    assert np.isfinite(centers).all()


@pytest.mark.parametrize("w", [0.0, -1.0, np.nan])
def test_scalar_sample_weight_is_checked(w):
    """A scalar weight skipped the array checks: 0.0 ended in numpy's ZeroDivisionError."""
    X = np.random.default_rng(0).normal(size=(8, 2))
    with pytest.raises(ValueError, match="sample_weight"):
        KMeans(n_clusters=2, random_state=0).fit(X, sample_weight=w)
    with pytest.raises(TypeError, match="sample_weight=1j must be a real number"):
        KMeans(n_clusters=2, random_state=0).fit(X, sample_weight=1j)
    assert KMeans(n_clusters=2, random_state=0).fit(X, sample_weight=2.0).inertia_ > 0


def test_alpha_underflowing_float32_is_refused():
    """alpha=1e-300 is 0 in float32: (alpha + 0) / (alpha + 0) gave NaN assignments."""
    z = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match=r"alpha=1e-300 underflows float32; must be >= 1\.17549e-38"):
        soft_assign(z, z, alpha=1e-300)
    q = soft_assign(z.astype(np.float64), z.astype(np.float64), alpha=1e-300)
    np.testing.assert_allclose(q, 0.5)


@pytest.mark.parametrize("fn", [target_distribution, lambda q: kl_loss(q, q)])
def test_probabilities_above_one_are_refused(fn):
    """q=1e300 passed the >= 0 check and its square overflowed to NaN in the target."""
    with pytest.raises(ValueError, match=r"contains a value > 1 \(1e\+300\) at flat index 0; must be in \[0, 1\]"):
        fn(np.array([[1e300, 0.0]]))


@pytest.mark.parametrize("X, w, k", [
    ([[2.0], [0.0], [1.0]], [1.0, 1.0, 0.0], 3),  # an empty cluster refilled by a zero-weight row
    ([[0.0], [0.0], [0.0], [5.0]], None, 3),  # more clusters than distinct rows
])
def test_empty_cluster_relocation_does_not_cycle(X, w, k):
    """Relocating a zero-weight row (its cluster stays empty) or a row already on its centre
    made Lloyd move labels back and forth every step until max_iter; such rows are no longer
    candidates, so the run stops as soon as no label changes."""
    X = np.array(X)
    w = None if w is None else np.array(w)
    km = KMeans(n_clusters=k, init=X[:k].copy(), n_init=1, max_iter=10**6, tol=0.0, n_threads=1)
    km.fit(X, sample_weight=w)
    assert km.n_iter_ <= 5
    assert np.isfinite(km.cluster_centers_).all() and km.inertia_ >= 0
