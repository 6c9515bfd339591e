"""C++ core vs the plain-numpy reference (scatclust.reference), float32 and float64.

Tolerance (relative to the largest reference magnitude): 1e-5 for float32, 1e-12 for float64.
"""
import numpy as np
import pytest

from conftest import DTYPES, rel_err, tol
from scatclust import MorletFilterBank, WaveletTransform, reference

# (N, J, Q, T): powers of two and not, several J/Q/T; T=None means 2**J.
SETTINGS = [
    (256, 4, 1, None),
    (1000, 6, 8, None),
    (1024, 5, (4, 2), 16),
    (777, 4, 2, 50.0),
    (4096, 8, (8, 1), 128),
    (3000, 7, 12, None),
    (513, 3, (1, 1), 64),
]


@pytest.mark.parametrize("N,J,Q,T", SETTINGS)
@pytest.mark.parametrize("kind", ["kymatio", "spectra"])
def test_filter_bank(N, J, Q, T, kind):
    if kind == "spectra":
        Q = 1
    core = MorletFilterBank(N, J, Q, T, kind=kind)
    ref = reference.morlet_filter_bank(N, J, Q, T, kind=kind)
    assert (core.N_padded, core.pad_left, core.pad_right) == (ref["N_padded"], ref["pad_left"], ref["pad_right"])
    assert core.ind_start == list(ref["ind_start"]) and core.ind_end == list(ref["ind_end"])
    assert core.log2_T == ref["log2_T"]
    assert rel_err(core.psi1_f, ref["psi1_f"]) < 1e-12
    assert rel_err(core.psi2_f, ref["psi2_f"]) < 1e-12
    assert rel_err(core.phi_f, ref["phi_f"]) < 1e-12
    np.testing.assert_allclose(core.xi1, ref["psi1"]["xi"], rtol=1e-14)
    np.testing.assert_array_equal(core.j1, ref["psi1"]["j"])
    np.testing.assert_array_equal(core.j2, ref["psi2"]["j"])


@pytest.mark.parametrize("N,J,Q,T", SETTINGS)
@pytest.mark.parametrize("batch_shape", [(), (1,), (3,), (2, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_first_layer(N, J, Q, T, batch_shape, dtype):
    rng = np.random.default_rng(N + J)
    x = rng.standard_normal(batch_shape + (N,))
    bank = reference.morlet_filter_bank(N, J, Q, T)
    ref = reference.scattering_first_layer(x, bank)
    got = WaveletTransform(N, J, Q, T).subsampled(x.astype(dtype), modulus=True)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g.shape == r.shape
        assert rel_err(g, r) < tol(dtype)


@pytest.mark.parametrize("N,J,Q,T", SETTINGS[:4])
@pytest.mark.parametrize("padding", ["reflect", "zero", "periodic"])
@pytest.mark.parametrize("oversampling", [0, 2, 64])
@pytest.mark.parametrize("dtype", DTYPES)
def test_complex_transform(N, J, Q, T, padding, oversampling, dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, N))
    fb = MorletFilterBank(N, J, Q, T)
    wt = WaveletTransform(filter_bank=fb, padding=padding)
    subs = wt.log2_subsampling(oversampling)
    ref = reference.wavelet_transform(x, fb.psi1_f, fb.pad_left, fb.N_padded, log2_sub=subs,
                                      ind_start=fb.ind_start, ind_end=fb.ind_end, mode=padding)
    got = wt.subsampled(x.astype(dtype), oversampling=oversampling)
    if isinstance(ref, np.ndarray):  # all k = 0: reference returns (..., n_filters, N)
        ref = [ref[..., f, :] for f in range(ref.shape[-2])]
    for g, r in zip(got, ref):
        assert rel_err(g, r) < tol(dtype)
    full_ref = reference.wavelet_transform(x, fb.psi1_f, fb.pad_left, fb.N_padded, mode=padding)
    assert rel_err(wt(x.astype(dtype)), full_ref) < tol(dtype)


@pytest.mark.parametrize("mode", ["reflect", "zero", "periodic"])
@pytest.mark.parametrize("n,left,right", [(10, 3, 4), (5, 4, 4), (2, 1, 1), (7, 0, 6), (9, 8, 0)])
def test_padding(mode, n, left, right):
    from scatclust import _core

    x = np.arange(1.0, n + 1)
    got = np.asarray(_core.pad_signal(x, n + left + right, left, {"reflect": 0, "zero": 1, "periodic": 2}[mode]))
    np.testing.assert_array_equal(got, reference.pad(x, left, right, mode))
