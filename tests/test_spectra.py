"""ScatteringSpectra: front end (C++ moment kernel) against the pure-torch reference,
gradients, analytic properties, layout/meta, and error messages.

Analytic tests run on both implementations ("core" and "reference"), so the oracle is
itself checked against the mathematics.
"""
import math

import numpy as np
import pytest
import torch

import scatclust
from scatclust import _core
from scatclust._spectra import n_coefficients
from scatclust.reference.spectra import scattering_spectra as ref_spectra

from conftest import DTYPES, rel_err

HAS_CORE = hasattr(_core, "ScatteringMomentsF64")
needs_core = pytest.mark.skipif(not HAS_CORE, reason="the C++ moment kernel (_core.ScatteringMomentsF64, "
                                "branch 'moments') is not built into this _core")
IMPLS = [pytest.param("core", marks=needs_core), "reference"]

# float64: both sides are FFT-based with O(log P) rounding per convolution and two layers;
# 1e-10 relative leaves a wide margin over the ~1e-14 seen. float32: ~1e-4 relative
# (products of two float32 series, accumulated over N samples).
TOL = {np.float32: 1e-4, np.float64: 1e-10}


def compute(impl, ss, x):
    """Output of ``ss`` on numpy ``x`` by the front end or by the torch reference (numpy)."""
    if impl == "core":
        return ss(x)
    xt = torch.as_tensor(np.asarray(x)).reshape(-1, ss.C, ss.N)
    pooled = ss.estimator == "pool"
    out, _ = ref_spectra(xt, ss.filter_bank.psi_f, ss.filter_bank.phi_f, ss.padding, ss.per_families,
                         ss.cross_families, kernel=ss.kernel if pooled else None, stride=ss.stride,
                         offset=ss.offset, normalize=ss.normalize, sigma2=ss.sigma2_, as_real=ss.as_real)
    out = out.numpy()
    lead = np.shape(x)[:-2] if ss.C > 1 else np.shape(x)[:-1]
    return out.reshape(lead + out.shape[1:]) if pooled else out[..., 0].reshape(lead + out.shape[1:2])


def family_slice(ss, fam):
    return np.array([i for i, m in enumerate(ss.meta()) if m["family"] == fam])


# ----------------------------------------------------------------------------- layout

@pytest.mark.parametrize("J", range(1, 11))
def test_count_formula(J):
    full = 1 + J + (J + 1) + J * (J + 1) + J * (J + 1) * (J + 2) // 6
    assert n_coefficients(J) == full
    assert n_coefficients(J, families=["mean", "sparsity", "power", "phase_env", "env_cross"]) == full - J * (J + 1) // 2
    ss = scatclust.ScatteringSpectra(2**J, J)
    assert ss.n_coefficients == len(ss.meta()) == full
    # as_real adds the imaginary parts of phase_env (j2 < J) and env_cross (j1' < j1 < j2 < J).
    extra = J * (J - 1) // 2 + (J - 2) * (J - 1) * J // 6
    assert n_coefficients(J, as_real=True) == full + extra
    cross = n_coefficients(J, C=3, cross_channel=True)
    assert cross == 3 * full + 3 * ((J + 1) + J * (J + 1) // 2)


def test_count_j8():
    assert n_coefficients(8) == 210
    assert n_coefficients(8, families=["mean", "sparsity", "power", "phase_env", "env_cross"]) == 174


def test_meta_order_and_fields():
    J = 3
    ss = scatclust.ScatteringSpectra(64, J, C=2, cross_channel=True, as_real=True)
    meta = ss.meta()
    fams = [m["family"] for m in meta if m["part"] == "re"]
    per = ["mean"] + ["sparsity"] * 3 + ["power"] * 4 + ["envelope"] * 6 + ["phase_env"] * 6 + ["env_cross"] * 10
    assert fams == per + per + ["cross_power"] * 4 + ["cross_env"] * 6
    assert [m["channel"] for m in meta[:30]] == [0] * 30
    env = [(m["j1"], m["j2"]) for m in meta[:30] if m["family"] == "envelope"]
    assert env == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    ec = [(m["j2"], m["j1"], m["j1p"]) for m in meta[:30] if m["family"] == "env_cross"]
    assert ec == [(1, 0, 0), (2, 0, 0), (2, 1, 0), (2, 1, 1), (3, 0, 0), (3, 1, 0), (3, 1, 1),
                  (3, 2, 0), (3, 2, 1), (3, 2, 2)]
    im = [m for m in meta if m["part"] == "im"]
    assert all(not m["real_by_construction"] for m in im)
    assert [(m["j1"], m["j2"]) for m in im if m["family"] == "phase_env" and m["channel"] == 0] == \
        [(0, 1), (0, 2), (1, 2)]
    assert len([m for m in im if m["family"] == "cross_power"]) == J


def test_meta_matches_reference_labels():
    ss = scatclust.ScatteringSpectra(64, 3, C=2, cross_channel=True, as_real=True, estimator="pool", kernel=16)
    x = torch.zeros(1, 2, 64, dtype=torch.float64)
    _, labels = ref_spectra(x + 1.0, ss.filter_bank.psi_f, ss.filter_bank.phi_f, "symmetric", ss.per_families,
                            ss.cross_families, kernel=16, as_real=True)
    got = []
    for m in ss.meta():
        if m["family"] == "env_cross":
            idx = (m["j2"], m["j1"], m["j1p"])
        elif m["j1"] is not None:
            idx = (m["j1"], m["j2"])
        elif m["family"] == "mean":
            idx = ()
        else:
            idx = (m["j"],)
        got.append((m["family"], m["channels"], idx, m["part"]))
    assert got == labels


# -------------------------------------------------------------- front end vs reference

CONFIGS = [
    dict(),
    dict(padding="periodic", normalize="each_ps"),
    dict(normalize="correlation", estimator="pool", kernel=32, stride=16, offset=3),
    dict(normalize="batch_ps", sigma2=[0.5, 0.4, 0.3, 0.2, 0.1], as_real=True),
    dict(C=2, cross_channel=True, normalize="correlation", as_real=True),
    dict(C=3, cross_channel=True, estimator="pool", kernel=40, stride=50, padding="periodic"),
    dict(families=["envelope", "phase_env"], normalize="correlation", wavelet="morlet"),
]


@needs_core
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", CONFIGS)
def test_core_vs_reference(cfg, dtype, rng):
    N, J = 128, 4
    ss = scatclust.ScatteringSpectra(N, J, **cfg)
    C = ss.C
    x = rng.standard_normal((2, 3) + ((C,) if C > 1 else ()) + (N,)).astype(dtype)
    y = ss(x)
    r = compute("reference", ss, x.astype(np.float64))
    assert y.shape == r.shape
    assert y.dtype == (dtype if ss.as_real else np.result_type(dtype, np.complex64))
    assert rel_err(y, r) < TOL[dtype]


@needs_core
def test_torch_in_torch_out(rng):
    ss = scatclust.ScatteringSpectra(128, 4, estimator="pool", kernel=64)
    x = torch.from_numpy(rng.standard_normal((3, 128)).astype(np.float32))
    y = ss(x)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.complex64 and y.shape == (3, 50, 2)
    np.testing.assert_array_equal(y.numpy(), ss(x.numpy()))


@needs_core
def test_float32_vs_float64(rng):
    ss = scatclust.ScatteringSpectra(256, 5, normalize="correlation", as_real=True)
    x = rng.standard_normal((4, 256))
    assert rel_err(ss(x.astype(np.float32)), ss(x)) < 1e-4


@needs_core
def test_threads_bit_identical(rng):
    x = rng.standard_normal((5, 2, 256))
    a = scatclust.ScatteringSpectra(256, 5, C=2, cross_channel=True, n_threads=1)(x)
    b = scatclust.ScatteringSpectra(256, 5, C=2, cross_channel=True, n_threads=2)(x)
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- gradients

@needs_core
@pytest.mark.parametrize("cfg", [dict(), dict(normalize="correlation", estimator="pool", kernel=32, stride=16),
                                 dict(C=2, cross_channel=True, padding="periodic", normalize="each_ps")])
def test_gradcheck(cfg):
    N, J = 64, 3
    ss = scatclust.ScatteringSpectra(N, J, **cfg)
    g = torch.Generator().manual_seed(0)
    x = torch.randn((2,) + ((ss.C,) if ss.C > 1 else ()) + (N,), dtype=torch.float64, generator=g,
                    requires_grad=True)
    # fast_mode: finite differences against the VJP along random directions (a full Jacobian
    # costs a minute); test_gradient_vs_reference_autograd compares whole gradients.
    assert torch.autograd.gradcheck(ss, (x,), eps=1e-6, atol=1e-6, rtol=1e-5, fast_mode=True)
    # One full (slow-mode) check on a small output set.
    if not cfg:
        small = scatclust.ScatteringSpectra(N, J, families=["sparsity", "phase_env"], normalize="correlation")
        assert torch.autograd.gradcheck(small, (x[:1].detach().requires_grad_(),), eps=1e-6, atol=1e-6, rtol=1e-5)


@needs_core
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradient_vs_reference_autograd(dtype):
    N, J = 128, 4
    ss = scatclust.ScatteringSpectra(N, J, normalize="correlation", estimator="pool", kernel=64, stride=32)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, N, dtype=torch.float64, generator=g)
    w = torch.randn(3, ss.n_coefficients, ss.n_time, dtype=torch.complex128, generator=g)
    xa = x.detach().clone().to(dtype).requires_grad_(True)
    cdt = torch.complex64 if dtype == torch.float32 else torch.complex128
    (ss(xa) * w.to(cdt).conj()).real.sum().backward()
    xb = x.detach().clone().requires_grad_(True)
    out, _ = ref_spectra(xb[:, None], ss.filter_bank.psi_f, ss.filter_bank.phi_f, "symmetric", ss.per_families,
                         (), kernel=64, stride=32, normalize="correlation")
    (out * w.conj()).real.sum().backward()
    assert rel_err(xa.grad.double().numpy(), xb.grad.numpy()) < (1e-3 if dtype == torch.float32 else 1e-9)


# ---------------------------------------------------------------------------- analytic

@pytest.mark.parametrize("impl", IMPLS)
def test_white_noise_sparsity_is_sqrt_pi_over_2(impl):
    # For Gaussian white noise, x * psi_j (analytic) is a circular complex Gaussian, so |.| is
    # Rayleigh: E|z| / sqrt(E|z|^2) = sqrt(pi)/2. Periodic padding keeps the noise stationary.
    N, J, seeds = 2**15, 6, 6
    ss = scatclust.ScatteringSpectra(N, J, padding="periodic", families=["sparsity"], normalize="correlation")
    x = np.random.default_rng(7).standard_normal((seeds, N))
    r = compute(impl, ss, x).real  # (seeds, J) = Phi1 / sqrt(Phi2)
    mean, se = r.mean(axis=0), r.std(axis=0, ddof=1) / math.sqrt(seeds)
    # Sampling error: the estimate from N samples has std ~ 0.52 / sqrt(N_eff), N_eff ~ N / (2 s_j);
    # allow 5 standard errors of the seed spread (plus a floor for the finite-N bias).
    assert np.all(se < 0.01)
    assert np.all(np.abs(mean - math.sqrt(math.pi) / 2) < 5 * se + 2e-3), (mean, se)


@pytest.mark.parametrize("impl", IMPLS)
def test_white_noise_phase_env_vanishes(impl):
    N, J = 2**14, 5
    ss = scatclust.ScatteringSpectra(N, J, padding="periodic", families=["phase_env"], normalize="correlation")
    x = np.random.default_rng(3).standard_normal((4, N))
    r = compute(impl, ss, x).mean(axis=0)
    meta = ss.meta()
    inner = np.array([m["j2"] < J for m in meta])
    # Correlation coefficients of independent-phase processes: ~ 1/sqrt(4 N / 2^j2) ~ < 0.04.
    assert np.abs(r[inner]).max() < 0.1
    # The same statistic on a signal with a phase-envelope dependence is large: a train of
    # one-sided (causal, asymmetric) pulses.
    y = np.zeros((1, N))
    y[0, ::256] = 1.0
    y = np.apply_along_axis(lambda v: np.convolve(v, np.exp(-np.arange(64) / 8.0))[:N], 1, y)
    assert np.abs(compute(impl, ss, y)[0][inner]).max() > 0.3


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("j", [1, 3])
def test_pure_tone_power_in_matching_scale(impl, j):
    N, J = 4096, 6
    ss = scatclust.ScatteringSpectra(N, J, padding="periodic", families=["power"], normalize="correlation")
    t = np.arange(N)
    k = round(ss.filter_bank.xi[j] * N)  # an integer number of periods: exact in periodic mode
    p = compute(impl, ss, np.cos(2 * np.pi * k / N * t)[None]).real[0]
    assert int(np.argmax(p)) == j
    assert p[j] > 0.9


@pytest.mark.parametrize("impl", IMPLS)
def test_scaling(impl):
    N, J = 512, 4
    x = np.random.default_rng(5).standard_normal((2, N))
    raw = scatclust.ScatteringSpectra(N, J)
    a, b = compute(impl, raw, x), compute(impl, raw, 2.5 * x)
    powers = {"mean": 1, "sparsity": 1, "power": 2, "envelope": 1, "phase_env": 2, "env_cross": 2}
    for fam, p in powers.items():
        i = family_slice(raw, fam)
        assert rel_err(b[:, i], 2.5**p * a[:, i]) < 1e-10
    # c < 0: |.| moments see |c|, the mean and Phi3 (linear in s1) flip sign.
    n = compute(impl, raw, -2.5 * x)
    for fam, p in powers.items():
        i = family_slice(raw, fam)
        sign = -1 if fam in ("mean", "phase_env") else 1
        assert rel_err(n[:, i], sign * 2.5**p * a[:, i]) < 1e-10
    for mode in ("correlation", "each_ps"):
        ss = scatclust.ScatteringSpectra(N, J, normalize=mode)
        keep = np.array([m["family"] != "power" for m in ss.meta()]) if mode == "each_ps" else slice(None)
        assert rel_err(compute(impl, ss, 7.0 * x)[:, keep], compute(impl, ss, x)[:, keep]) < 1e-10


@pytest.mark.parametrize("impl", IMPLS)
def test_time_shift(impl):
    N, J = 2048, 5
    x = np.random.default_rng(9).standard_normal((2, N))
    xs = np.roll(x, 37, axis=-1)
    per = scatclust.ScatteringSpectra(N, J, padding="periodic")
    assert rel_err(compute(impl, per, xs), compute(impl, per, x)) < 1e-10
    # Symmetric padding: only the borders change; the relative change of the global moments
    # is of the order of (support of the largest filters) / N.
    sym = scatclust.ScatteringSpectra(N, J)
    a, b = compute(impl, sym, x), compute(impl, sym, xs)
    i = family_slice(sym, "power")
    assert rel_err(b[:, i], a[:, i]) < 0.1


@pytest.mark.parametrize("impl", IMPLS)
def test_as_real_drops_only_zero_imaginary_parts(impl):
    N, J = 256, 4
    cfg = dict(C=2, cross_channel=True, estimator="pool", kernel=64, stride=64)
    x = np.random.default_rng(11).standard_normal((2, 2, N))
    cplx = compute(impl, scatclust.ScatteringSpectra(N, J, **cfg), x)
    ss = scatclust.ScatteringSpectra(N, J, as_real=True, **cfg)
    real = compute(impl, ss, x)
    n = cplx.shape[1]
    flags = np.array([m["real_by_construction"] for m in ss.meta()[:n]])
    scale = np.abs(cplx).max()
    assert np.abs(cplx.imag[:, flags]).max() < 1e-13 * scale
    # The kept imaginary parts are not zero (a random signal has complex Phi3, Phi4, ...).
    assert np.abs(cplx.imag[:, ~flags]).max(axis=(0, 2)).min() > 1e-8 * scale
    np.testing.assert_array_equal(real[:, :n], cplx.real)
    np.testing.assert_array_equal(real[:, n:], cplx.imag[:, ~flags])


@pytest.mark.parametrize("impl", IMPLS)
def test_batch_ps_fit(impl):
    N, J = 256, 4
    x = np.random.default_rng(2).standard_normal((6, N))
    raw = compute(impl, scatclust.ScatteringSpectra(N, J, families=["power"]), x).real
    sigma2 = raw.mean(axis=0)
    ss = scatclust.ScatteringSpectra(N, J, families=["power", "sparsity"], normalize="batch_ps", sigma2=sigma2)
    out = compute(impl, ss, x).real
    # Normalised power averages to 1 over the reference batch; sparsity divided by sigma_j.
    np.testing.assert_allclose(out[:, family_slice(ss, "power")].mean(axis=0), 1.0, rtol=1e-10)
    sp = compute(impl, scatclust.ScatteringSpectra(N, J, families=["sparsity"]), x).real
    np.testing.assert_allclose(out[:, family_slice(ss, "sparsity")], sp / np.sqrt(sigma2[:J]), rtol=1e-10)


@needs_core
def test_fit_stores_sigma2():
    N, J = 256, 4
    x = np.random.default_rng(2).standard_normal((6, N))
    ss = scatclust.ScatteringSpectra(N, J, normalize="batch_ps").fit(x)
    raw = scatclust.ScatteringSpectra(N, J, families=["power"])(x).real
    np.testing.assert_allclose(ss.sigma2_[0], raw.mean(axis=0), rtol=1e-12)


# ------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(N=100, J=7), ValueError, r"J=7 is too large for N=100"),
    (dict(N=256, J=4, families=["mean", "bispectrum"]), ValueError, r"unknown family 'bispectrum'"),
    (dict(N=256, J=4, cross_channel=True), ValueError, r"need C >= 2"),
    (dict(N=256, J=4, estimator="median"), ValueError, r"estimator='median' must be one of"),
    (dict(N=256, J=4, estimator="pool"), ValueError, r"needs kernel="),
    (dict(N=256, J=4, estimator="pool", kernel=0), ValueError, r"kernel=0 is out of range"),
    (dict(N=256, J=4, estimator="pool", kernel=300), ValueError, r"kernel=300 is out of range"),
    (dict(N=256, J=4, estimator="pool", kernel=16, stride=0), ValueError, r"stride=0 must be >= 1"),
    (dict(N=256, J=4, estimator="pool", kernel=200, offset=100), ValueError, r"offset=100 \+ kernel=200"),
    (dict(N=256, J=4, kernel=16), ValueError, r"apply to estimator='pool'"),
    (dict(N=256, J=4, normalize="l2"), ValueError, r"normalize='l2' must be one of"),
    (dict(N=256, J=4, normalize="batch_ps", sigma2=[1, 2]), ValueError, r"sigma2 has shape \(2,\)"),
    (dict(N=256, J=4, normalize="batch_ps", sigma2=[1, 2, 0, 1, 1]), ValueError, r"sigma2 must be positive"),
    (dict(N=256, J=4, wavelet="haar"), ValueError, r"wavelet='haar'"),
    (dict(N=256, J=4, stride=1.5), ValueError, r"apply to estimator='pool'"),
    (dict(N=256.0, J=4), TypeError, r"N=256.0 must be an int"),
])
def test_constructor_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        scatclust.ScatteringSpectra(**kwargs)


def test_call_errors():
    ss = scatclust.ScatteringSpectra(128, 4)
    with pytest.raises(ValueError, match=r"x has 100 samples on its last axis; .* N=128"):
        ss(np.zeros((2, 100)))
    x = np.zeros((2, 128))
    x[1, 5] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN or Inf"):
        ss(x)
    with pytest.raises(TypeError, match=r"x has complex dtype"):
        ss(np.zeros(128, dtype=complex))
    ss2 = scatclust.ScatteringSpectra(128, 4, C=3)
    with pytest.raises(ValueError, match=r"with C=3 channels the input must be \(\.\.\., 3, 128\)"):
        ss2(np.zeros((2, 128)))
    with pytest.raises(ValueError, match=r"normalize='batch_ps' needs sigma2"):
        scatclust.ScatteringSpectra(128, 4, normalize="batch_ps")._sources(np.zeros((1, 3, 1), complex))
