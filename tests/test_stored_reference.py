"""Core vs stored reference values from kymatio 0.3 and scipy (tests/data/make_reference.py).

Tolerances: 1e-12 relative (float64), 1e-5 (float32), relative to the largest magnitude.
"""
import os

import numpy as np
import pytest

from conftest import DTYPES, rel_err, tol
import scatclust

DATA = os.path.join(os.path.dirname(__file__), "data", "reference_values.npz")


@pytest.fixture(scope="module")
def ref():
    with np.load(DATA) as d:
        return {k: d[k] for k in d.files}


def test_filter_bank_stored(ref):
    fb = scatclust.MorletFilterBank(300, 4, (4, 2))
    assert rel_err(fb.psi1_f, ref["psi1_f"]) < 1e-12
    assert rel_err(fb.psi2_f, ref["psi2_f"]) < 1e-12
    assert rel_err(fb.phi_f, ref["phi_f"]) < 1e-12
    np.testing.assert_allclose(fb.xi1, ref["xi1"], rtol=1e-14)
    np.testing.assert_allclose(fb.sigma1, ref["sigma1"], rtol=1e-14)
    np.testing.assert_array_equal(fb.j1, ref["j1"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_first_layer_stored(ref, dtype):
    U = scatclust.WaveletTransform(300, 4, (4, 2)).subsampled(ref["x_wavelet"].astype(dtype), modulus=True)
    assert [u.shape[-1] for u in U] == list(ref["u1_len"])
    assert rel_err(np.concatenate(U, axis=-1), ref["u1_flat"]) < tol(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_stft_stored(ref, dtype):
    sft = scatclust.STFT(scatclust.get_window("hann", 64), 16, mfft=80)
    x = ref["x_stft"].astype(dtype)
    S = sft.stft(x, padding="even")
    assert S.shape == ref["stft_even"].shape
    assert rel_err(S, ref["stft_even"]) < tol(dtype)
    xr = sft.istft(ref["stft_even"].astype(S.dtype), k1=500)
    assert rel_err(xr, ref["istft"]) < tol(dtype)
