"""Student-t (DEC) soft assignment: core vs numpy reference, VJP vs torch autograd, numerics
for huge distances, thread-count independence, errors and a small training run.

Tolerances: core vs the float64 reference 1e-5 (float32) / 1e-12 (float64) relative to the
largest reference value (conftest.tol); VJP vs torch autograd 1e-10 in float64.
"""
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from scatclust import _core
from scatclust.cluster import kl_loss, kl_loss_grad, soft_assign, target_distribution
from scatclust.reference import student_t as ref

from conftest import DTYPES, rel_err, tol

torch = pytest.importorskip("torch")
F = torch.nn.functional

ALPHAS = [0.1, 1.0, 10.0, 100.0]
SHAPES = [(1, 1, 1), (7, 3, 2), (300, 10, 16), (513, 33, 5)]  # (n, d, k): odd, non-power-of-two


def make(rng, n, d, k, dtype, spread=1.0):
    z = (rng.normal(size=(n, d)) * spread).astype(dtype)
    mu = rng.normal(size=(k, d)).astype(dtype)
    return z, mu


def blobs(rng, n_per, centres, scale=0.3, dtype=np.float64):
    z = np.concatenate([c + scale * rng.normal(size=(m, len(c))) for c, m in zip(centres, n_per)])
    return z.astype(dtype)


def torch_soft_assign(z, mu, alpha):
    """The DEC formula written in torch (direct differences), for autograd comparisons."""
    dist = ((z[:, None, :] - mu[None, :, :]) ** 2).sum(-1)
    w = (1.0 + dist / alpha) ** (-(alpha + 1.0) / 2.0)
    return w / w.sum(1, keepdim=True)


# ---------------------------------------------------------------- core vs reference
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("shape", SHAPES)
def test_soft_assign_matches_reference(rng, dtype, alpha, shape):
    z, mu = make(rng, *shape, dtype)
    q = soft_assign(z, mu, alpha)
    assert q.dtype == dtype and q.shape == (shape[0], shape[2])
    assert rel_err(q, ref.soft_assign(z, mu, alpha)) < tol(dtype)
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=0, atol=10 * np.finfo(dtype).eps * shape[2])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_vjp_q_matches_reference(rng, dtype, alpha):
    z, mu = make(rng, 300, 10, 16, dtype)
    q = soft_assign(z, mu, alpha)
    G = rng.normal(size=q.shape).astype(dtype)
    dz, dmu = np.empty_like(z), np.empty_like(mu)
    _core.student_t_vjp_q(z, mu, alpha, q, G, dz, dmu, 0)
    dz_r, dmu_r = ref.vjp_q(z, mu, alpha, q, G)
    assert rel_err(dz, dz_r) < tol(dtype)
    assert rel_err(dmu, dmu_r) < tol(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_kl_grad_matches_reference(rng, dtype, alpha):
    z, mu = make(rng, 257, 6, 4, dtype)
    p = target_distribution(soft_assign(z, mu, alpha))
    loss, dz, dmu = kl_loss_grad(z, mu, p, alpha)
    loss_r, dz_r, dmu_r = ref.kl_grad(z, mu, alpha, p)
    assert abs(loss - loss_r) / abs(loss_r) < tol(dtype)
    assert rel_err(dz, dz_r) < tol(dtype)
    assert rel_err(dmu, dmu_r) < tol(dtype)
    assert dz.dtype == dtype and dmu.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_target_and_kl_match_reference_and_torch(rng, dtype):
    z, mu = make(rng, 400, 5, 6, dtype)
    q = soft_assign(z, mu)
    p = target_distribution(q)
    assert p.dtype == dtype
    assert rel_err(p, ref.target_distribution(q)) < tol(dtype)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-13)
    kl = kl_loss(p, q)
    kl_r = ref.kl_loss(p, q)
    assert abs(kl - kl_r) / kl_r < 1e-12  # the core sums in double whatever the dtype
    qt, pt = torch.from_numpy(q).double(), torch.from_numpy(p).double()
    assert abs(kl - F.kl_div(qt.log(), pt, reduction="sum").item()) / kl_r < 1e-12
    kl_bm = kl_loss(p, q, reduction="batchmean")
    assert abs(kl_bm - F.kl_div(qt.log(), pt, reduction="batchmean").item()) / kl_bm < 1e-12
    # torch input: differentiable in q, same value
    assert abs(kl_loss(pt, qt).item() - kl) / kl < 1e-12


def test_analytic_values():
    # alpha = 1: q proportional to 1/(1 + d): d = 0 and d = 3 give 1 and 1/4 -> (0.8, 0.2)
    q = soft_assign(np.zeros((2, 3)), np.array([[0.0, 0, 0], [1, 1, 1]]))
    np.testing.assert_allclose(q, [[0.8, 0.2], [0.8, 0.2]], rtol=1e-15)
    # one cluster: q = p = 1, KL = 0, gradients 0
    z = np.random.default_rng(0).normal(size=(20, 3))
    q1 = soft_assign(z, np.zeros((1, 3)))
    assert np.array_equal(q1, np.ones((20, 1)))
    assert np.array_equal(target_distribution(q1), np.ones((20, 1)))
    loss, dz, dmu = kl_loss_grad(z, np.zeros((1, 3)), np.ones((20, 1)))
    assert loss == 0.0 and not dz.any() and not dmu.any()


def test_empty_input():
    q = soft_assign(np.zeros((0, 3)), np.ones((4, 3)))
    assert q.shape == (0, 4)
    assert target_distribution(q).shape == (0, 4)
    assert kl_loss(q, q) == 0.0


def test_dtype_handling(rng):
    z, mu = make(rng, 10, 3, 2, np.float64)
    assert soft_assign(z.astype(np.int64), mu).dtype == np.float64
    assert soft_assign(z.astype(np.float32), mu.astype(np.float32)).dtype == np.float32
    assert soft_assign(z.astype(np.float32), mu).dtype == np.float64  # common precision
    qt = soft_assign(torch.from_numpy(z), mu)
    assert isinstance(qt, torch.Tensor) and qt.dtype == torch.float64
    np.testing.assert_array_equal(qt.numpy(), soft_assign(z, mu))
    # non-contiguous input is copied once and gives the same result
    zz = np.asfortranarray(z)
    np.testing.assert_array_equal(soft_assign(zz, mu), soft_assign(z, mu))


# ---------------------------------------------------------------- autograd
@pytest.mark.parametrize("alpha", ALPHAS)
def test_vjp_matches_torch_autograd(rng, alpha):
    z0, mu0 = make(rng, 200, 7, 5, np.float64)
    G = torch.from_numpy(rng.normal(size=(200, 5)))
    z = torch.tensor(z0, requires_grad=True)
    mu = torch.tensor(mu0, requires_grad=True)
    q = soft_assign(z, mu, alpha)
    (q * G).sum().backward()
    z2 = torch.tensor(z0, requires_grad=True)
    mu2 = torch.tensor(mu0, requires_grad=True)
    q2 = torch_soft_assign(z2, mu2, alpha)
    (q2 * G).sum().backward()
    assert rel_err(q.detach(), q2.detach()) < 1e-12
    assert rel_err(z.grad, z2.grad) < 1e-10
    assert rel_err(mu.grad, mu2.grad) < 1e-10


@pytest.mark.parametrize("alpha", ALPHAS)
def test_kl_grad_matches_torch_autograd(rng, alpha):
    z0, mu0 = make(rng, 150, 4, 3, np.float64)
    p = target_distribution(ref.soft_assign(z0, mu0, alpha))
    z = torch.tensor(z0, requires_grad=True)
    mu = torch.tensor(mu0, requires_grad=True)
    loss_t = F.kl_div(torch_soft_assign(z, mu, alpha).log(), torch.from_numpy(p), reduction="batchmean")
    loss_t.backward()
    loss, dz, dmu = kl_loss_grad(z0, mu0, p, alpha, reduction="batchmean")
    assert abs(loss - loss_t.item()) / abs(loss_t.item()) < 1e-10
    assert rel_err(dz, z.grad) < 1e-10
    assert rel_err(dmu, mu.grad) < 1e-10


@pytest.mark.parametrize("alpha", ALPHAS)
def test_gradcheck(rng, alpha):
    from scatclust.cluster._student_t_torch import SoftAssignFunction

    z = torch.tensor(rng.normal(size=(9, 3)), requires_grad=True)
    mu = torch.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: SoftAssignFunction.apply(a, b, alpha, 0), (z, mu))


def test_autograd_float32_and_mixed_inputs(rng):
    z = torch.tensor(rng.normal(size=(30, 4)), dtype=torch.float32, requires_grad=True)
    mu = torch.tensor(rng.normal(size=(3, 4)), dtype=torch.float64, requires_grad=True)
    q = soft_assign(z, mu)
    assert q.dtype == torch.float64
    q[:, 0].sum().backward()
    assert z.grad.dtype == torch.float32 and mu.grad.dtype == torch.float64
    z64 = z.detach().double().requires_grad_()
    mu64 = mu.detach().clone().requires_grad_()
    torch_soft_assign(z64, mu64, 1.0)[:, 0].sum().backward()
    assert rel_err(z.grad, z64.grad.float()) < 1e-6
    assert rel_err(mu.grad, mu64.grad) < 1e-12
    # no grad mode: plain tensor out
    with torch.no_grad():
        assert soft_assign(z, mu).grad_fn is None


def test_inplace_change_before_backward_is_detected(rng):
    z = torch.tensor(rng.normal(size=(5, 2)), requires_grad=True)
    w = z * 1.0
    q = soft_assign(w, torch.zeros(2, 2))
    w.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        q.sum().backward()


# ---------------------------------------------------------------- numerics
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_huge_distances_finite(rng, dtype, alpha):
    z = (1e6 + rng.normal(size=(50, 32))).astype(dtype)
    mu = rng.normal(size=(16, 32)).astype(dtype)
    mu[3] += 1e6  # one centre near the points
    q = soft_assign(z, mu, alpha)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-13)
    assert (q.argmax(1) == 3).all()
    G = rng.normal(size=q.shape).astype(dtype)
    dz, dmu = np.empty_like(z), np.empty_like(mu)
    _core.student_t_vjp_q(z, mu, alpha, q, G, dz, dmu, 0)
    assert np.isfinite(dz).all() and np.isfinite(dmu).all()
    # all centres far away: q still defined; compare with the float64 reference
    q_far = soft_assign(z, rng.normal(size=(4, 32)).astype(dtype), alpha)
    assert np.isfinite(q_far).all()
    np.testing.assert_allclose(q_far.sum(1), 1.0, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype,scale", [(np.float32, 1e30), (np.float64, 1e200)])
@pytest.mark.parametrize("alpha", [1.0, 10.0])
def test_overflowing_distances_use_wide_fallback(dtype, scale, alpha):
    # |z - mu|^2 overflows the dtype; q must follow the limit q_k ~ |z - mu_k|^(-(alpha+1)).
    z = np.full((3, 1), scale, dtype=dtype)
    mu = (-scale * np.array([[1.0], [2.0], [4.0]])).astype(dtype)
    q = soft_assign(z, mu, alpha)
    logs = -(alpha + 1) * np.log(1.0 + np.array([1.0, 2.0, 4.0]))  # |z - mu_k| / scale = 2, 3, 5
    expected = np.exp(logs - logs.max())
    expected /= expected.sum()
    assert np.isfinite(q).all()
    assert rel_err(q, np.broadcast_to(expected, q.shape)) < tol(dtype)


def test_target_uses_whole_dataset(rng):
    # Imbalanced blobs: the first mini-batch holds mostly cluster 0, so its column sums differ.
    z = blobs(rng, [300, 100], [np.zeros(2), np.full(2, 2.0)], scale=0.8)
    mu = np.array([[0.0, 0.0], [2.0, 2.0]])
    q = soft_assign(z, mu)
    p_all = target_distribution(q)
    p_batch = target_distribution(q[:200])
    assert rel_err(p_all, ref.target_distribution(q)) < 1e-12
    assert np.abs(p_all[:200] - p_batch).max() > 1e-2
    assert rel_err(p_batch, ref.target_distribution(q[:200])) < 1e-12


# ---------------------------------------------------------------- threads
@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_bit_identical(rng, dtype):
    z, mu = make(rng, 20011, 12, 7, dtype)  # many reduction blocks, ragged end
    out = {}
    for nt in (1, 2, 3):
        q = soft_assign(z, mu, 2.0, n_threads=nt)
        p = target_distribution(q, n_threads=nt)
        G = np.cos(np.arange(q.size, dtype=dtype)).reshape(q.shape)
        dz, dmu = np.empty_like(z), np.empty_like(mu)
        _core.student_t_vjp_q(z, mu, 2.0, q, G, dz, dmu, nt)
        kl = kl_loss(p, q, n_threads=nt)
        g = kl_loss_grad(z, mu, p, 2.0, n_threads=nt)
        out[nt] = (q, p, dz, dmu, kl, *g)
    for nt in (2, 3):
        for a, b in zip(out[1], out[nt]):
            assert np.array_equal(a, b)


def test_concurrent_python_threads(rng):
    cases = [make(rng, 3000, 8, 5, dt) for dt in (np.float32, np.float64, np.float32, np.float64)]

    def work(zm):
        z, mu = zm
        q = soft_assign(z, mu, 1.0, n_threads=2)
        return q, kl_loss_grad(z, mu, target_distribution(q), 1.0, n_threads=2)

    serial = [work(c) for c in cases]
    with ThreadPoolExecutor(4) as ex:
        parallel = list(ex.map(work, cases * 3))
    for i, (q, (loss, dz, dmu)) in enumerate(parallel):
        q0, (loss0, dz0, dmu0) = serial[i % 4]
        assert np.array_equal(q, q0) and loss == loss0
        assert np.array_equal(dz, dz0) and np.array_equal(dmu, dmu0)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_inputs_raise(rng, bad):
    z, mu = make(rng, 10, 3, 2, np.float64)
    z[4, 1] = bad
    with pytest.raises(ValueError, match=r"z contains a non-finite value .* at flat index 13"):
        soft_assign(z, mu)
    z[4, 1] = 0
    mu[1, 0] = bad
    with pytest.raises(ValueError, match="mu contains a non-finite value"):
        soft_assign(z, mu)
    with pytest.raises(ValueError, match="mu contains a non-finite value"):
        kl_loss_grad(z, mu, np.full((10, 2), 0.5))
    q = np.full((10, 2), 0.5)
    q[0, 0] = bad
    with pytest.raises(ValueError, match="q contains a non-finite value"):
        target_distribution(q)


@pytest.mark.parametrize("alpha,exc,msg", [
    (0, ValueError, r"alpha=0.0 must be a finite number > 0"),
    (-1.0, ValueError, r"alpha=-1.0 must be a finite number > 0"),
    (float("nan"), ValueError, r"alpha=nan must be a finite number > 0"),
    (float("inf"), ValueError, r"alpha=inf must be a finite number > 0"),
    (True, TypeError, r"alpha=True must be a real number > 0"),
    ("1", TypeError, r"alpha='1' must be a real number > 0"),
])
def test_bad_alpha(alpha, exc, msg):
    with pytest.raises(exc, match=msg):
        soft_assign(np.zeros((2, 2)), np.zeros((1, 2)), alpha)


def test_core_validates_too():
    z, mu, q = np.zeros((2, 2)), np.zeros((1, 2)), np.empty((2, 1))
    with pytest.raises(ValueError, match=r"alpha=0 must be a finite number > 0"):
        _core.student_t_soft_assign(z, mu, 0.0, q, 0)
    with pytest.raises(ValueError, match=r"z has 2 features but mu has 3"):
        _core.student_t_soft_assign(z, np.zeros((1, 3)), 1.0, q, 0)
    with pytest.raises(ValueError, match=r"q has shape \(2, 3\); expected \(2, 1\)"):
        _core.student_t_soft_assign(z, mu, 1.0, np.empty((2, 3)), 0)
    with pytest.raises(ValueError, match=r"mu has k=0 cluster centres"):
        _core.student_t_soft_assign(z, np.zeros((0, 2)), 1.0, np.empty((2, 0)), 0)
    with pytest.raises(ValueError, match=r"G has shape \(2, 2\); expected \(2, 1\)"):
        _core.student_t_vjp_q(z, mu, 1.0, np.ones((2, 1)), np.ones((2, 2)), np.empty((2, 2)), np.empty((1, 2)), 0)
    with pytest.raises(ValueError, match=r"G contains a non-finite value"):
        _core.student_t_vjp_q(z, mu, 1.0, np.ones((2, 1)), np.full((2, 1), np.nan), np.empty((2, 2)),
                              np.empty((1, 2)), 0)
    with pytest.raises(TypeError):  # float32 z with float64 mu: no silent conversion
        _core.student_t_soft_assign(z.astype(np.float32), mu, 1.0, q, 0)


def test_shape_and_value_errors(rng):
    with pytest.raises(ValueError, match="z has 5 features but mu has 4"):
        soft_assign(np.zeros((3, 5)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"z must be 2-D \(n_samples, n_features\); got shape \(5,\)"):
        soft_assign(np.zeros(5), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="mu has 0 cluster centres"):
        soft_assign(np.zeros((3, 2)), np.zeros((0, 2)))
    with pytest.raises(TypeError, match="z has complex dtype"):
        soft_assign(torch.zeros(3, 2, dtype=torch.complex64), np.zeros((1, 2)))
    with pytest.raises(TypeError, match="mu has complex dtype complex128"):
        soft_assign(np.zeros((3, 2)), np.zeros((1, 2), dtype=complex))
    with pytest.raises(ValueError, match="n_threads=0 must be >= 1"):
        soft_assign(np.zeros((3, 2)), np.zeros((1, 2)), n_threads=0)
    with pytest.raises(ValueError, match=r"p has shape \(3, 2\) but q has shape \(3, 4\)"):
        kl_loss(np.full((3, 2), 0.5), np.full((3, 4), 0.25))
    with pytest.raises(ValueError, match=r"reduction='mean' must be one of 'sum', 'batchmean'"):
        kl_loss(np.full((3, 2), 0.5), np.full((3, 2), 0.5), reduction="mean")
    with pytest.raises(ValueError, match=r"q contains a negative value \(-0.5\) at flat index 1"):
        target_distribution(np.array([[1.0, -0.5]]))
    with pytest.raises(ValueError, match=r"p has shape \(3, 3\); expected \(n, k\) = \(3, 2\)"):
        kl_loss_grad(np.zeros((3, 2)), np.zeros((2, 2)), np.zeros((3, 3)))


def test_module_errors():
    from scatclust.cluster import StudentTAssignment

    with pytest.raises(ValueError, match="n_clusters=0 must be >= 1"):
        StudentTAssignment(0, 3)
    with pytest.raises(ValueError, match=r"alpha=-2.0 must be a finite number > 0"):
        StudentTAssignment(2, 3, alpha=-2)
    with pytest.raises(ValueError, match=r"init has shape \(3, 3\); expected \(n_clusters, n_features\) = \(2, 3\)"):
        StudentTAssignment(2, 3, init=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="init contains NaN or Inf"):
        StudentTAssignment(2, 3, init=np.full((2, 3), np.nan))
    layer = StudentTAssignment(2, 3)
    with pytest.raises(ValueError, match=r"z has shape \(4, 5\); expected \(n, 3\)"):
        layer(torch.zeros(4, 5))
    z = torch.zeros(4, 3)
    z[1, 1] = float("nan")
    with pytest.raises(ValueError, match="z contains a non-finite value"):
        layer(z)


# ---------------------------------------------------------------- torch module
def test_module_init_and_forward(rng):
    from scatclust.cluster import StudentTAssignment

    init = rng.normal(size=(4, 6))
    layer = StudentTAssignment(4, 6, alpha=1.0, init=init, dtype=torch.float64)
    assert isinstance(layer.cluster_centers, torch.nn.Parameter)
    np.testing.assert_array_equal(layer.cluster_centers.detach().numpy(), init)
    z = torch.from_numpy(rng.normal(size=(20, 6)))
    q = layer(z)
    assert rel_err(q.detach(), ref.soft_assign(z.numpy(), init)) < 1e-12
    q[:, 1].sum().backward()
    assert layer.cluster_centers.grad is not None and layer.cluster_centers.grad.abs().sum() > 0
    assert StudentTAssignment(3, 5).cluster_centers.dtype == torch.get_default_dtype()


def test_module_trains_on_blobs():
    from scatclust.cluster import StudentTAssignment

    rng = np.random.default_rng(7)
    centres = [np.array([0.0, 0, 0, 0]), np.array([4.0, 0, 0, 0]), np.array([0.0, 4, 0, 0])]
    z = torch.from_numpy(blobs(rng, [60, 60, 60], centres, dtype=np.float32))
    init = np.stack(centres) + rng.normal(scale=1.0, size=(3, 4))  # perturbed k-means-like start
    layer = StudentTAssignment(3, 4, init=init)
    encoder = torch.nn.Linear(4, 4)  # z goes through a trainable layer: grads flow into it too
    with torch.no_grad():
        encoder.weight.copy_(torch.eye(4))
        encoder.bias.zero_()
        p = target_distribution(layer(encoder(z)))  # DEC: P fixed for a few steps
    opt = torch.optim.SGD(list(layer.parameters()) + list(encoder.parameters()), lr=0.05)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = kl_loss(p, layer(encoder(z)), reduction="batchmean")
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert encoder.weight.grad.abs().sum() > 0
    assert losses[-1] < 0.8 * losses[0]
    assert all(b <= a + 1e-7 for a, b in zip(losses, losses[1:]))
    labels = layer(encoder(z)).argmax(1).numpy()
    assert (labels == np.repeat([0, 1, 2], 60)).mean() > 0.95


def test_import_without_torch():
    code = textwrap.dedent("""
        import sys

        class _NoTorch:  # any import of torch now raises ImportError, as if not installed
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked for this test")

        sys.meta_path.insert(0, _NoTorch())
        import numpy as np
        import scatclust.cluster as c
        q = c.soft_assign(np.zeros((2, 3)), np.array([[0., 0, 0], [1, 1, 1]]))
        assert np.allclose(q, [[0.8, 0.2], [0.8, 0.2]])
        try:
            c.StudentTAssignment
        except ImportError:
            print("lazy-ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ})
    assert out.returncode == 0, out.stderr
    assert "lazy-ok" in out.stdout
