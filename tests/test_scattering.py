"""Scattering1D: C++ core vs kymatio 0.3's numpy frontend (the issue's acceptance test), vs
the torch reference (scatclust.reference.scattering), meta() vs kymatio's, the VJP vs torch
autograd of the reference, finite differences and gradcheck, thread-count determinism,
numpy/torch agreement, analytic properties and error messages.

Tolerances: against kymatio, the issue's 1e-5 (float64) / 1e-4 (float32) relative to each
path's peak; against the reference, 50 eps log2(N_padded) per path (FFT round-off grows
like eps log2 N per transform and a path chains up to six transforms).
"""
import subprocess
import sys

import numpy as np
import pytest

from conftest import DTYPES, kymatio_1d, rel_err
import scatclust
from scatclust import Scattering1D
from scatclust.reference.scattering import scattering1d as ref_scattering

torch = pytest.importorskip("torch")
import scatclust.nn  # noqa: E402  (needs torch)

# (N, J, Q, T, max_order, oversampling): non-power-of-two N, Q=(8,1) and (1,1), T < 2^J,
# oversampling, both orders.
CONFIGS = [
    (1000, 5, (8, 1), None, 2, 0),
    (1024, 6, (1, 1), None, 2, 0),
    (777, 5, (4, 2), 12, 2, 1),
    (2048, 7, (8, 1), None, 1, 0),
    (1500, 6, (8, 1), 20, 2, 0),
    (4096, 8, (8, 1), None, 2, 1),
]


def per_path_rel_err(a, b):
    """max over paths of max_t |a - b| / max_t |b| (arrays (..., n_paths, n_time))."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = np.abs(a - b).max(axis=-1)
    den = np.abs(b).max(axis=-1)
    return float((num / den).max())


def ref_tol(dtype, S):
    return 50 * np.finfo(dtype).eps * np.log2(S.N_padded)


@pytest.mark.parametrize("N,J,Q,T,max_order,oversampling", CONFIGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_kymatio_numpy(N, J, Q, T, max_order, oversampling, dtype, rng):
    Kym, _ = kymatio_1d()
    x = rng.standard_normal((3, N))
    ky = Kym(J, N, Q=Q, T=T, max_order=max_order, oversampling=oversampling)(x)
    S = Scattering1D(J, N, Q=Q, T=T, max_order=max_order, oversampling=oversampling)
    got = S(x.astype(dtype))
    assert got.shape == ky.shape and got.dtype == dtype
    assert per_path_rel_err(got, ky) < (1e-4 if dtype == np.float32 else 1e-5)


@pytest.mark.parametrize("N,J,Q,T,max_order,oversampling", CONFIGS[:4])
def test_meta_equals_kymatio(N, J, Q, T, max_order, oversampling):
    Kym, _ = kymatio_1d()
    ky = Kym(J, N, Q=Q, T=T, max_order=max_order, oversampling=oversampling).meta()
    S = Scattering1D(J, N, Q=Q, T=T, max_order=max_order, oversampling=oversampling)
    m = S.meta()
    assert set(m) == set(ky)
    assert m["key"] == [tuple(k) for k in ky["key"]]
    for name in ("order", "j", "n"):
        np.testing.assert_array_equal(m[name], ky[name], err_msg=name)
    for name in ("xi", "sigma"):
        assert m[name].shape == ky[name].shape
        np.testing.assert_allclose(m[name], ky[name], rtol=1e-12, err_msg=name)
    assert S.n_paths == len(m["key"]) == S.output_size()
    assert S.output_size(detail=True) == tuple(np.bincount(m["order"]))


@pytest.mark.parametrize("out_type", ["list", "dict"])
def test_out_types_match_kymatio(out_type, rng):
    Kym, _ = kymatio_1d()
    N, J, Q = 600, 4, (4, 1)
    x = rng.standard_normal((2, N))
    ky = Kym(J, N, Q=Q, out_type=out_type)(x)
    got = Scattering1D(J, N, Q=Q, out_type=out_type)(x)
    if out_type == "dict":
        assert list(got) == list(ky)
        for k in ky:
            assert rel_err(got[k], ky[k]) < 1e-12
    else:
        assert [(d["j"], d["n"]) for d in got] == [(tuple(d["j"]), tuple(d["n"])) for d in ky]
        for g, r in zip(got, ky):
            assert g["coef"].shape == r["coef"].shape and rel_err(g["coef"], r["coef"]) < 1e-12


@pytest.mark.parametrize("N,J,Q,T,max_order,oversampling", CONFIGS[:3] + [(300, 4, (2, 2), 8, 2, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_core_vs_reference(N, J, Q, T, max_order, oversampling, dtype, rng):
    x = rng.standard_normal((2, 2, N))
    S = Scattering1D(J, N, Q=Q, T=T, max_order=max_order, oversampling=oversampling)
    ref = ref_scattering(x, J=J, Q=Q, T=T, max_order=max_order, oversampling=oversampling)
    got = S(x.astype(dtype))
    assert got.shape == ref.shape == (2, 2, S.n_paths, S.n_time)
    assert per_path_rel_err(got, ref) < ref_tol(dtype, S)


@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_bit_identical(dtype, rng):
    N, J, Q = 1000, 5, (8, 2)
    S = Scattering1D(J, N, Q=Q)
    x = rng.standard_normal((5, N)).astype(dtype)
    g = rng.standard_normal((5, S.n_paths, S.n_time)).astype(dtype)
    np.testing.assert_array_equal(S(x, n_threads=1), S(x, n_threads=2))
    np.testing.assert_array_equal(S(x[:1], n_threads=1), S(x[:1], n_threads=2))
    np.testing.assert_array_equal(S.vjp(x, g, n_threads=1), S.vjp(x, g, n_threads=2))
    np.testing.assert_array_equal(S.vjp(x[:1], g[:1], n_threads=1), S.vjp(x[:1], g[:1], n_threads=2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_and_torch_inputs_agree(dtype, rng):
    N, J = 512, 4
    S = Scattering1D(J, N, Q=(4, 1), log=True, normalize="parent")
    x = rng.standard_normal((3, N)).astype(dtype)
    a = S(x)
    b = S(torch.from_numpy(x))
    c = S(torch.from_numpy(x).requires_grad_())  # autograd path, out-of-place post-processing
    assert isinstance(b, torch.Tensor) and b.dtype == torch.from_numpy(x).dtype
    np.testing.assert_array_equal(a, b.numpy())
    np.testing.assert_allclose(c.detach().numpy(), a, rtol=4 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vjp_vs_reference_autograd(dtype, rng):
    N, J, Q, T = 700, 5, (4, 2), 16
    S = Scattering1D(J, N, Q=Q, T=T, oversampling=1)
    x = rng.standard_normal((2, N))
    xt = torch.tensor(x, requires_grad=True)
    out = ref_scattering(xt, J=J, Q=Q, T=T, oversampling=1)
    g = rng.standard_normal(tuple(out.shape))
    (out * torch.from_numpy(g)).sum().backward()
    got = S.vjp(x.astype(dtype), g.astype(dtype))
    assert got.dtype == dtype and got.shape == x.shape
    assert rel_err(got, xt.grad.numpy()) < ref_tol(dtype, S)
    # through the autograd Function of the front end
    xs = torch.tensor(x.astype(dtype), requires_grad=True)
    (S(xs) * torch.from_numpy(g.astype(dtype))).sum().backward()
    np.testing.assert_array_equal(xs.grad.numpy(), got)


def test_vjp_vs_finite_differences(rng):
    N, J, Q = 256, 4, (2, 1)
    S = Scattering1D(J, N, Q=Q)
    x = rng.standard_normal(N)
    g = rng.standard_normal((S.n_paths, S.n_time))
    v = rng.standard_normal(N)
    h = 1e-6
    fd = ((S(x + h * v) - S(x - h * v)) * g).sum() / (2 * h)
    an = float(S.vjp(x, g) @ v)
    # central differences: O(h^2) truncation, O(eps/h) round-off
    assert abs(fd - an) < 1e-7 * max(1.0, abs(an))


@pytest.mark.parametrize("log,normalize", [(False, None), (True, "parent")])
def test_gradcheck(log, normalize):
    S = scatclust.nn.Scattering1D(J=3, shape=64, Q=(2, 1), log=log, normalize=normalize, eps=1e-3)
    x = torch.randn(2, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    assert torch.autograd.gradcheck(S, (x,), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_log_and_parent_normalisation_definition(rng):
    N, J, Q = 800, 5, (4, 1)
    x = rng.standard_normal((2, N))
    raw = Scattering1D(J, N, Q=Q)(x)
    S = Scattering1D(J, N, Q=Q, log=True, normalize="parent", eps=1e-4)
    got = S(x)
    m = S.meta()
    expect = raw.copy()
    for p, key in enumerate(m["key"]):
        if len(key) == 2:
            expect[..., p, :] = raw[..., p, :] / raw[..., 1 + key[0], :]
    expect[..., 1:, :] = np.log(expect[..., 1:, :] + 1e-4)
    np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_analytic_properties(dtype, rng):
    N, J = 900, 5
    S = Scattering1D(J, N, Q=(4, 1))
    assert not S(np.zeros((2, N), dtype=dtype)).any()  # zero in -> zero out
    x = rng.standard_normal(N).astype(dtype)
    c = dtype(-3.0)
    Sx, Scx = S(x), S(c * x)
    order = S.meta()["order"]
    tol = 50 * np.finfo(dtype).eps * np.log2(S.N_padded)
    # order 0 is linear, orders 1 and 2 are positively homogeneous: S(cx) = |c| S(x)
    assert per_path_rel_err(Scx[order == 0], c * Sx[order == 0]) < tol
    assert per_path_rel_err(Scx[order > 0], abs(c) * Sx[order > 0]) < tol
    # parent normalisation removes the amplitude
    Sn = Scattering1D(J, N, Q=(4, 1), normalize="parent")
    assert per_path_rel_err(Sn(c * x)[order == 2], Sn(x)[order == 2]) < 2 * tol
    # empty batch
    assert S(np.zeros((0, N), dtype=dtype)).shape == (0, S.n_paths, S.n_time)


def test_nn_module(rng):
    from scatclust.nn import Scattering1D as SNN

    mod = SNN(J=4, shape=512, Q=(4, 1), n_threads=1)
    assert mod.psi1_f.shape == (len(mod.transform.filter_bank.xi1), mod.transform.N_padded)
    assert "psi1_f" not in mod.state_dict()
    x = torch.from_numpy(rng.standard_normal((2, 3, 512))).float().requires_grad_()
    y = mod(x)
    assert y.shape == (2, 3, mod.n_paths, mod.n_time) and y.dtype == torch.float32
    np.testing.assert_array_equal(y.detach().numpy(), Scattering1D(4, 512, Q=(4, 1))(x.detach().numpy()))
    y.square().sum().backward()
    assert x.grad.shape == x.shape and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert "n_paths=" in repr(mod)
    with pytest.raises(TypeError, match="must be a torch tensor"):
        mod(np.zeros(512))


def test_import_does_not_load_torch():
    code = "import sys, scatclust; scatclust.Scattering1D(4, 256); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(J=8, shape=100), ValueError, r"T defaults to 2\*\*J = 256, which exceeds N=100"),
    (dict(J=8, shape=300, T=64), ValueError, r"N=300 is shorter than the support of the largest wavelet"),
    (dict(J=0, shape=256), ValueError, r"J=0 is out of range"),
    (dict(J=25, shape=256), ValueError, r"J=25 is out of range"),
    (dict(J=2.5, shape=256), TypeError, r"J=2.5 must be an int"),
    (dict(J=4, shape=256, Q=0), ValueError, r"Q\[0\]=0 is out of range"),
    (dict(J=4, shape=256, Q=(1, 2, 3)), TypeError, r"Q=\(1, 2, 3\) must be an int or a tuple"),
    (dict(J=4, shape=256, T=0), ValueError, r"T=0 asks for unaveraged scattering"),
    (dict(J=4, shape=256, T=300), ValueError, r"T=300 is out of range; valid range is \[1, N=256\]"),
    (dict(J=4, shape=256, T="a"), TypeError, r"T='a' must be a finite number"),
    (dict(J=4, shape=256, max_order=3), ValueError, r"max_order=3 must be one of 1, 2"),
    (dict(J=4, shape=256, oversampling=-1), ValueError, r"oversampling=-1 is out of range"),
    (dict(J=4, shape=256, oversampling=1.0), TypeError, r"oversampling=1.0 must be an int"),
    (dict(J=4, shape=(256, 2)), ValueError, r"shape=\(256, 2\) must be an int or a 1-tuple"),
    (dict(J=4, shape=256, out_type="tensor"), ValueError, r"out_type='tensor' must be one of"),
    (dict(J=4, shape=256, normalize="l2"), ValueError, r"normalize='l2' must be one of None, 'parent'"),
    (dict(J=4, shape=256, eps=0.0), ValueError, r"eps=0.0 must be a positive finite number"),
    (dict(J=4, shape=256, log="yes"), TypeError, r"log='yes' must be True or False"),
])
def test_constructor_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Scattering1D(**kwargs)


def test_call_errors():
    S = Scattering1D(4, 256)
    x = np.zeros((2, 256))
    x[1, 7] = np.nan
    with pytest.raises(ValueError, match="x contains NaN or Inf"):
        S(x)
    xt = torch.from_numpy(x).requires_grad_()
    with pytest.raises(ValueError, match="x contains NaN or Inf"):
        S(xt)
    with pytest.raises(ValueError, match="x has 255 samples on its last axis but the transform was built for shape=256"):
        S(np.zeros(255))
    with pytest.raises(TypeError, match="complex dtype"):
        S(np.zeros(256, dtype=complex))
    with pytest.raises(ValueError, match=r"grad_output has shape \(3, 4\); expected"):
        S.vjp(np.zeros(256), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="n_threads=0 must be >= 1"):
        S(np.zeros(256), n_threads=0)


def test_vjp_mixed_kinds_and_precisions(rng):
    S = Scattering1D(4, 256, Q=(2, 1))
    x = rng.standard_normal((2, 256))
    g = rng.standard_normal((2, S.n_paths, S.n_time))
    ref = S.vjp(x, g)
    got = S.vjp(torch.from_numpy(x), torch.from_numpy(g.astype(np.float32)))
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), S.vjp(x, g.astype(np.float32).astype(np.float64)))
    got32 = S.vjp(x.astype(np.float32), torch.from_numpy(g))
    assert got32.dtype == np.float32 and rel_err(got32, ref) < 1e-5
