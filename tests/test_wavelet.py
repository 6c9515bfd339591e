"""Batched wavelet transform: C++ core vs kymatio 0.3's first layer, vs a direct FFT
computation written here, and analytic properties."""
import threading

import numpy as np
import pytest

from conftest import DTYPES, kymatio_1d, rel_err, tol
import scatclust
from scatclust import MorletFilterBank, WaveletTransform
from scatclust import _core


def kymatio_U1(x, J, Q, T, N, oversampling=0):
    """First-layer modulus |x * psi1| as kymatio 0.3 computes it inside Scattering1D
    (same backend operations, in the order of kymatio/scattering1d/core/scattering1d.py)."""
    Scat, B = kymatio_1d()
    S = Scat(J=J, shape=N, Q=Q, T=T)
    U0_hat = B.rfft(B.pad(x, S.pad_left, S.pad_right))
    out = []
    for psi in S.psi1_f:
        k1 = max(min(psi["j"], S.log2_T) - oversampling, 0)
        U1 = B.modulus(B.ifft(B.subsample_fourier(B.cdgmm(U0_hat, psi["levels"][0]), 2**k1)))
        out.append(B.unpad(U1, S.ind_start[k1], S.ind_end[k1]))
    return out


@pytest.mark.parametrize("J,Q,T,N", [(6, 8, None, 1024), (8, (8, 2), 128, 4096), (5, 4, 20, 1000), (4, 1, None, 300)])
@pytest.mark.parametrize("oversampling", [0, 1])
@pytest.mark.parametrize("dtype", DTYPES)
def test_first_layer_matches_kymatio(J, Q, T, N, oversampling, dtype, rng):
    x = rng.standard_normal((3, N))
    ref = kymatio_U1(x, J, Q, T, N, oversampling)
    wt = WaveletTransform(N, J, Q, T)
    got = wt.subsampled(x.astype(dtype), oversampling=oversampling, modulus=True)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.dtype == dtype
        # relative to each filter's peak output; the issue asks for 1e-5 against kymatio
        assert rel_err(g, r) < (1e-5 if dtype == np.float32 else 1e-12)


def direct_transform(x, fb, mode):
    """Full-resolution x * psi by numpy's FFT on the padded signal (independent of the core)."""
    npmode = {"reflect": "reflect", "zero": "constant", "periodic": "wrap"}[mode]
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(fb.pad_left, fb.pad_right)], mode=npmode)
    X = np.fft.fft(xp, axis=-1)
    W = np.fft.ifft(X[..., None, :] * fb.psi1_f, axis=-1)
    return W[..., fb.pad_left:fb.pad_left + fb.N]


@pytest.mark.parametrize("N,J,Q", [(512, 5, 4), (777, 4, 2), (2048, 7, 8)])
@pytest.mark.parametrize("padding", ["reflect", "zero", "periodic"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_full_resolution_vs_direct(N, J, Q, padding, dtype, rng):
    fb = MorletFilterBank(N, J, Q)
    x = rng.standard_normal((2, 3, N))
    ref = direct_transform(x, fb, padding)
    wt = WaveletTransform(filter_bank=fb, padding=padding)
    W = wt(x.astype(dtype))
    assert W.shape == (2, 3, fb.n_filters, N)
    assert W.dtype == (np.complex64 if dtype == np.float32 else np.complex128)
    assert rel_err(W, ref) < tol(dtype)
    U = wt(x.astype(dtype), modulus=True)
    assert U.dtype == dtype
    assert rel_err(U, np.abs(ref)) < tol(dtype)


def test_subsampled_equals_decimated_full_resolution(rng):
    """Periodising in frequency then a short inverse FFT == subsampling in time."""
    N = 1024
    wt = WaveletTransform(N, 6, 8)
    fb = wt.filter_bank
    x = rng.standard_normal((2, N))
    xp = np.pad(x, [(0, 0), (fb.pad_left, fb.pad_right)], mode="reflect")
    full = np.fft.ifft(np.fft.fft(xp)[:, None, :] * fb.psi1_f, axis=-1)  # on the padded grid
    subs = wt.log2_subsampling(0)
    for f, (c, k) in enumerate(zip(wt.subsampled(x), subs)):
        dec = full[:, f, :: 2**k][:, fb.ind_start[k]:fb.ind_end[k]]
        assert rel_err(c, dec) < 1e-12


@pytest.mark.parametrize("dtype", DTYPES)
def test_pure_tone_peaks_at_nearest_filter(dtype):
    N = 4096
    wt = WaveletTransform(N, 8, 8)
    xi = wt.filter_bank.xi1
    t = np.arange(N)
    for target in [3, 10, 25, 40]:
        f0 = xi[target] * 1.01
        x = np.cos(2 * np.pi * f0 * t).astype(dtype)
        U = wt(x, modulus=True)
        energy = (U[:, N // 4: 3 * N // 4] ** 2).mean(axis=1)  # away from the borders
        assert int(np.argmax(energy)) == int(np.argmin(np.abs(xi - f0)))


def test_zero_in_zero_out():
    wt = WaveletTransform(1024, 6, 8)
    assert not np.any(wt(np.zeros((2, 1024))))
    assert all(not np.any(u) for u in wt.subsampled(np.zeros(1024), modulus=True))


def test_linearity(rng):
    wt = WaveletTransform(600, 5, 4)
    a, b = rng.standard_normal((2, 600))
    assert rel_err(wt(2 * a - 3 * b), 2 * wt(a) - 3 * wt(b)) < 1e-12


@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_bitwise_identical(dtype, rng):
    wt = WaveletTransform(2048, 7, 8)
    x = rng.standard_normal((5, 2048)).astype(dtype)
    with scatclust.threads(1):
        a = wt.subsampled(x, modulus=True)
        c = wt(x)
    with scatclust.threads(2):
        b = wt.subsampled(x, modulus=True)
        d = wt(x)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(c, d)
    np.testing.assert_array_equal(wt(x, n_threads=1), wt(x, n_threads=2))


def test_concurrent_python_threads(rng):
    """The same call from several Python threads at once (GIL released) gives identical results."""
    scatclust.fft.clear_plan_cache()  # force plan creation to race, too
    wt = WaveletTransform(3000, 7, 4)
    x = rng.standard_normal((4, 3000))
    results = [None] * 6

    def work(i):
        results[i] = (wt(x), wt.subsampled(x.astype(np.float32), modulus=True))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ref_full, ref_sub = wt(x), wt.subsampled(x.astype(np.float32), modulus=True)
    for full, sub in results:
        np.testing.assert_array_equal(full, ref_full)
        for u, v in zip(sub, ref_sub):
            np.testing.assert_array_equal(u, v)


def test_torch_tensors_in_and_out(rng):
    torch = pytest.importorskip("torch")
    wt = WaveletTransform(512, 5, 4)
    x = rng.standard_normal((2, 512)).astype(np.float32)
    W = wt(torch.from_numpy(x))
    assert isinstance(W, torch.Tensor) and W.dtype == torch.complex64
    np.testing.assert_array_equal(W.numpy(), wt(x))
    U = wt.subsampled(torch.from_numpy(x), modulus=True)
    assert all(isinstance(u, torch.Tensor) and u.dtype == torch.float32 for u in U)
    # a non-contiguous tensor is copied once and gives the same numbers
    xt = torch.from_numpy(np.ascontiguousarray(np.stack([x, x], axis=-1)))[..., 0]
    assert not xt.is_contiguous()
    np.testing.assert_array_equal(wt(xt).numpy(), wt(x))


def test_dtype_conversion_and_batch_shapes(rng):
    wt = WaveletTransform(256, 4, 2)
    xi = rng.integers(-5, 5, size=(2, 2, 256))
    W = wt(xi)
    assert W.dtype == np.complex128 and W.shape == (2, 2, wt.n_filters, 256)
    np.testing.assert_allclose(W, wt(xi.astype(np.float64)), rtol=0, atol=0)
    assert wt(rng.standard_normal(256)).shape == (wt.n_filters, 256)
    assert wt(np.zeros((0, 256))).shape == (0, wt.n_filters, 256)
    xs = rng.standard_normal((256, 3))[:, 0]  # non-contiguous view
    np.testing.assert_array_equal(wt(xs), wt(np.ascontiguousarray(xs)))


@pytest.mark.parametrize(
    "x,exc,match",
    [
        (np.zeros((2, 100)), ValueError, r"x has 100 samples on its last axis but the transform was built for N=256"),
        (np.array([np.nan] * 256), ValueError, r"x contains NaN or Inf"),
        (np.full(256, np.inf), ValueError, r"x contains NaN or Inf"),
        (np.zeros(256, dtype=complex), TypeError, r"x has complex dtype complex128"),
        (np.float64(1.0), ValueError, r"x must have at least one axis"),
        ("abc", TypeError, r"x has dtype <U3"),
        (object(), TypeError, r"x must be a numpy array or torch tensor, got object"),
    ],
)
def test_bad_input(x, exc, match):
    wt = WaveletTransform(256, 4, 2)
    with pytest.raises(exc, match=match):
        wt(x)


def test_bad_arguments():
    wt = WaveletTransform(256, 4, 2)
    x = np.zeros(256)
    with pytest.raises(ValueError, match=r"oversampling=-1 is out of range"):
        wt.subsampled(x, oversampling=-1)
    with pytest.raises(ValueError, match=r"n_threads=0 must be >= 1"):
        wt(x, n_threads=0)
    with pytest.raises(ValueError, match=r"padding='edge' must be one of 'reflect', 'zero', 'periodic'"):
        WaveletTransform(256, 4, padding="edge")
    with pytest.raises(TypeError, match=r"pass N and J"):
        WaveletTransform()
    with pytest.raises(TypeError, match=r"filter_bank must be a MorletFilterBank"):
        WaveletTransform(filter_bank="bank")


def test_core_validates_input_itself():
    """The C++ kernel rejects NaN and mismatched arrays even when called directly."""
    fb = MorletFilterBank(256, 4, 2)
    k = _core.WaveletTransformF64(np.ascontiguousarray(fb.psi1_f), [0] * fb.n_filters, 256, fb.pad_left,
                                  fb.ind_start, fb.ind_end, 0)
    x = np.zeros((1, 256))
    x[0, 7] = np.nan
    out = np.empty((1, fb.n_filters, 256), dtype=np.complex128)
    with pytest.raises(ValueError, match=r"x contains a non-finite value \(nan\) at flat index 7"):
        k.execute_complex(x, out, True)
    with pytest.raises(ValueError, match=r"out has 10 elements, expected"):
        k.execute_complex(np.zeros((1, 256)), np.empty(10, dtype=np.complex128), True)
    with pytest.raises(TypeError):  # wrong dtype is not converted silently (noconvert)
        k.execute_complex(np.zeros((1, 256), dtype=np.float32), out, True)
    with pytest.raises(ValueError, match=r"x has 100 samples per signal, the transform was built for N=256"):
        k.execute_complex(np.zeros((1, 100)), out, True)
