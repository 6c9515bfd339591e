"""Tests of the multi-scale pyramid (scatclust.ScatteringPyramid).

Oracles: the pure-torch reference scattering spectra of the whole record with average pooling
(kernel = scale, stride = hop, offset chosen so that pooling windows are the pyramid's
right-aligned sub-windows), the exact pooling identity between nested scales, and separate
transforms of each window (equal up to their own edge effects, documented in the module).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import scatclust
from scatclust import ScatteringPyramid, ScatteringSpectra, SpectraFilterBank
from scatclust.reference.spectra import scattering_spectra as ref_spectra

from conftest import DTYPES, tol

J = 4
HOP = 64
SCALES = (64, 128, 256, 512)


def record(C, L, seed=0, dtype=np.float64):
    """Non-stationary test record: coloured noise with a bursty envelope and a tone."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((C, L))
    x = np.cumsum(w, axis=1) * 0.05 + w
    t = np.arange(L)
    x *= 1 + 0.8 * np.sin(2 * np.pi * t / 1500.0) ** 2
    x += 0.7 * np.sin(2 * np.pi * 0.11 * t)
    return x.astype(dtype)


def rel_to_scale(a, b):
    """max |a - b| per column, relative to the column's largest |b| (moments of different
    families have very different magnitudes)."""
    a = np.asarray(a).reshape(-1, a.shape[-1])
    b = np.asarray(b).reshape(-1, b.shape[-1])
    scale = np.maximum(np.abs(b).max(axis=0), 1e-300)
    return float((np.abs(a - b).max(axis=0) / scale).max())


def reference_windows(x, scale, n_max, hop, normalize=None, cross=False):
    """Reference spectra (n_windows, n_coef) of the sub-windows of length `scale` ending at
    (w + n_max) * hop, from the record-wide transform with average pooling."""
    C, L = x.shape
    fb = SpectraFilterBank(L, J)
    out, _ = ref_spectra(torch.from_numpy(x)[None], fb.psi_f, fb.phi_f, kernel=scale, stride=hop,
                         offset=n_max * hop - scale, normalize=normalize,
                         cross_families=("cross_power", "cross_env") if cross else ())
    return out[0].numpy().T  # (n_windows, n_coef)


@pytest.mark.parametrize("normalize", [None, "each_ps", "correlation"])
def test_single_segment_equals_reference_pooling(normalize):
    # One segment covering the whole record: the pyramid's windows are exactly average
    # pooling of the record-wide transform (float64: 1e-10 of each column's scale).
    C, L = 2, 4096
    x = record(C, L, seed=1)
    pyr = ScatteringPyramid(J=J, scales=SCALES, hop=HOP, C=C, normalize=normalize, cross_channel=True,
                            block=L, margin=0)
    res = pyr.transform(x)
    n_max = SCALES[-1] // HOP
    assert res.features.shape == (L // HOP - n_max + 1, len(SCALES), pyr.n_coefficients)
    assert res.window_end[0] == SCALES[-1] and np.all(np.diff(res.window_end) == HOP)
    for k, s in enumerate(SCALES):
        ref = reference_windows(x, s, n_max, HOP, normalize=normalize, cross=True)
        assert rel_to_scale(res.features[:, k], ref) < 1e-10, s
        np.testing.assert_array_equal(res.window_start(s), res.window_end - s)


def test_segments_match_whole_record_transform():
    # The documented overlap rule: segments with the default margin max(16 * 2^J, 4096)
    # reproduce the record-wide transform's block moments to < 1e-6 of each term's scale; the
    # error shrinks with the margin.
    C, L = 2, 16384
    x = record(C, L, seed=2)
    whole = ScatteringPyramid(J=J, scales=SCALES, hop=HOP, C=C, block=L, margin=0).block_moments(x)
    errs = {}
    for m in (2 * 2**J, 4 * 2**J, 16 * 2**J, None):
        seg = ScatteringPyramid(J=J, scales=SCALES, hop=HOP, C=C, block=1024, margin=m).block_moments(x)
        errs[m] = rel_to_scale(seg, whole)
    assert errs[None] < 1e-6, errs
    assert errs[None] < errs[16 * 2**J] < errs[4 * 2**J] < errs[2 * 2**J], errs
    assert ScatteringPyramid(J=J, scales=SCALES, hop=HOP).margin == 4096
    assert ScatteringPyramid(J=9, scales=(1024,), hop=HOP).margin == 16 * 2**9


def test_default_segments_match_reference():
    # Default geometry (several segments with margins) against the record-wide reference.
    C, L = 1, 12288
    x = record(C, L, seed=3)[0]
    pyr = ScatteringPyramid(J=J, scales=SCALES, hop=HOP, block=2048)
    res = pyr.transform(x)
    n_max = SCALES[-1] // HOP
    for k, s in enumerate(SCALES):
        ref = reference_windows(x[None], s, n_max, HOP)
        assert rel_to_scale(res.features[:, k], ref) < 1e-6, s


def test_smaller_scales_pool_to_larger_ones():
    # Raw moments of a 2s window are the mean of its two s sub-windows (exact up to rounding).
    x = record(3, 8192, seed=4)
    pyr = ScatteringPyramid(J=J, scales=SCALES, hop=HOP, C=3, cross_channel=True)
    f = pyr.transform(x).features
    for k in range(len(SCALES) - 1):
        s = SCALES[k]
        d = s // HOP
        pooled = 0.5 * (f[d:, k] + f[:-d, k])
        assert rel_to_scale(pooled, f[d:, k + 1]) < 1e-12


def test_pyramid_close_to_separate_windows():
    # A window transformed on its own sees mirrored data at its ends instead of the record's
    # neighbours: the difference is an edge effect that shrinks with the window length
    # (documented in scatclust._pyramid). Measured here for 'correlation' (scale-free) moments.
    L = 16384
    x = record(1, L, seed=5)[0]
    scales = (256, 4096)
    pyr = ScatteringPyramid(J=J, scales=scales, hop=HOP, normalize="correlation")
    res = pyr.transform(x)
    errs = {}
    for k, s in enumerate(scales):
        ss = ScatteringSpectra(N=s, J=J, normalize="correlation")
        picks = np.arange(0, len(res.window_end), 20)
        direct = np.stack([ss(x[e - s:e]) for e in res.window_end[picks]])
        errs[s] = float(np.abs(res.features[picks, k] - direct).max())
    # correlations are O(1): measured 0.28 at s = 16 * 2^J and 1.2e-2 at 256 * 2^J
    assert errs[4096] < 3e-2 and errs[256] < 0.5 and errs[4096] < errs[256] / 10, errs


@pytest.mark.parametrize("as_real", [False, True])
def test_float32_matches_float64(as_real):
    x = record(2, 8192, seed=6)
    pyr = ScatteringPyramid(J=J, scales=SCALES, hop=HOP, C=2, normalize="each_ps", as_real=as_real)
    f64 = pyr.transform(x).features
    f32 = pyr.transform(x.astype(np.float32)).features
    assert f32.dtype == (np.float32 if as_real else np.complex64)
    assert f64.dtype == (np.float64 if as_real else np.complex128)
    assert rel_to_scale(f32, f64) < tol(np.float32, 2e-4, 0)


def test_threads_bit_identical_and_torch_input():
    x = record(2, 8192, seed=7).astype(np.float32)
    a = ScatteringPyramid(J=J, scales=SCALES, hop=HOP, C=2, n_threads=1).transform(x).features
    b = ScatteringPyramid(J=J, scales=SCALES, hop=HOP, C=2, n_threads=2).transform(x).features
    np.testing.assert_array_equal(a, b)
    c = ScatteringPyramid(J=J, scales=SCALES, hop=HOP, C=2, n_threads=2).transform(torch.from_numpy(x)).features
    np.testing.assert_array_equal(b, c)


def test_windows_from_joined_blocks():
    # Blocks of two consecutive pieces, joined, give the windows that cross the boundary;
    # with margins covering the cut they equal the single-record result.
    x = record(1, 16384, seed=8)[0]
    pyr = ScatteringPyramid(J=J, scales=SCALES, hop=HOP)
    whole = pyr.block_moments(x)
    m = pyr.margin
    cut = 8192
    # each piece carries `m` samples of context from the other, then its edge rows are dropped
    left = pyr.block_moments(x[:cut + m])[:cut // HOP]
    right = pyr.block_moments(x[cut - m:])[m // HOP:]
    joined = np.concatenate([left, right])
    assert rel_to_scale(joined, whole) < 1e-6
    f_joined, ends = pyr.windows_from_blocks(joined)
    f_whole = pyr.transform(x)
    assert rel_to_scale(f_joined, f_whole.features) < 1e-6
    np.testing.assert_array_equal(ends, f_whole.window_end)


def test_batch_ps_fit():
    x = record(1, 8192, seed=9)[0]
    pyr = ScatteringPyramid(J=J, scales=SCALES, hop=HOP, normalize="batch_ps").fit(x)
    s2 = pyr._template.sigma2_
    plain = ScatteringPyramid(J=J, scales=SCALES, hop=HOP)
    cols = plain.meta()
    p2 = [i for i, c in enumerate(cols) if c["family"] == "power"]
    raw = plain.transform(x).features[:, -1, p2].real.mean(axis=0)
    np.testing.assert_allclose(s2[0], raw, rtol=1e-12)
    f = pyr.transform(x).features
    np.testing.assert_allclose(f[:, :, p2].real, plain.transform(x).features[:, :, p2].real / raw, rtol=1e-10)


def test_errors():
    with pytest.raises(ValueError, match="scale 100 is not a multiple of hop=64"):
        ScatteringPyramid(J=J, scales=(64, 100), hop=HOP)
    with pytest.raises(ValueError, match="shorter than 2\\*\\*J=16"):
        ScatteringPyramid(J=J, scales=(8, 64), hop=8)
    with pytest.raises(ValueError, match="strictly increasing"):
        ScatteringPyramid(J=J, scales=(128, 64), hop=HOP)
    with pytest.raises(ValueError, match="block=100 must be a multiple of hop=64"):
        ScatteringPyramid(J=J, scales=SCALES, hop=HOP, block=100)
    with pytest.raises(ValueError, match="hop=0"):
        ScatteringPyramid(J=J, scales=SCALES, hop=0)
    pyr = ScatteringPyramid(J=J, scales=SCALES, hop=HOP, C=3)
    with pytest.raises(ValueError, match="C=3 channels"):
        pyr.transform(np.zeros((2, 4096)))
    with pytest.raises(ValueError, match="shorter than the largest scale 512"):
        pyr.transform(np.zeros((3, 500)))
    x = np.zeros((3, 4096))
    x[1, 777] = np.nan
    with pytest.raises(ValueError, match="non-finite value .* at sample 777"):
        pyr.transform(x)
    with pytest.raises(ValueError, match="blocks has shape"):
        pyr.windows_from_blocks(np.zeros((10, 3)))


def test_exported():
    assert scatclust.ScatteringPyramid is ScatteringPyramid
    assert "ScatteringPyramid" in scatclust.__all__
