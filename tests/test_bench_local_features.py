"""Tests of the bench's time-localised polarisation features (bench/_local_features.py).

Oracle: the pure-torch reference scattering spectra (``scatclust.reference.spectra``) of the
whole record with average pooling over blocks gives the per-block cross-channel power
matrices; the window features are then recomputed with explicit loops over windows and
sub-blocks (eigenvalues from ``numpy.linalg.eigvalsh`` of each sub-block mean, the definition).
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

from scatclust import SpectraFilterBank
from scatclust.reference.spectra import scattering_spectra as ref_spectra

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "bench"))
from _local_features import block_matrices, local_polarization  # noqa: E402

J, BLOCK, L = 4, 8, 2048


def record(seed=0):
    """3 components: isotropic noise plus a linearly polarised burst at 0.2 cycles/sample."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, L))
    t = np.arange(L)
    burst = np.exp(-0.5 * ((t - 1300) / 12.0) ** 2) * np.cos(2 * np.pi * 0.2 * t) * 6
    x += np.array([0.8, -0.5, 0.33])[:, None] * burst[None]
    return x


def reference_blocks(x):
    fb = SpectraFilterBank(N=L, J=J)
    out, labels = ref_spectra(torch.from_numpy(x[None]), fb.psi_f, fb.phi_f, families=("power",),
                              cross_families=("cross_power",), kernel=BLOCK)
    out = out[0].numpy()
    M = np.zeros((out.shape[1], J + 1, 3, 3), complex)
    for i, (fam, ch, idx, _) in enumerate(labels):
        if fam == "power":
            M[:, idx[0], ch[0], ch[0]] = out[i].real
        else:
            M[:, idx[0], ch[0], ch[1]] = out[i]
            M[:, idx[0], ch[1], ch[0]] = np.conj(out[i])
    return M


def test_block_matrices_match_reference():
    x = record()
    M = block_matrices(x, J, BLOCK)
    R = reference_blocks(x)
    assert M.shape == R.shape == (L // BLOCK, J + 1, 3, 3)
    # float64 FFT round-off on moments of order 1..40: 1e-9 of the largest entry per octave
    scale = np.abs(R).max(axis=(0, 2, 3), keepdims=True)
    assert np.max(np.abs(M - R) / scale) < 1e-9


@pytest.mark.parametrize("widths", [(2, 4), (1, 3)])
def test_window_features_match_loops(widths):
    x = record(1)
    scales = (64, 256)
    end = np.arange(256, L + 1, 64)
    F = local_polarization(x, end, scales, J=J, block=BLOCK, widths=widths)
    R = reference_blocks(x)
    assert F.shape == (end.size, len(scales), 4 * len(widths) * (J + 1))
    exp = np.empty_like(F)
    for wi, e in enumerate(end):
        for si, s in enumerate(scales):
            col = 0
            for j in range(J + 1):
                blocks = list(range((e - s) // BLOCK, e // BLOCK))
                P = np.mean([np.trace(R[q, j]).real for q in blocks])
                for w in widths:
                    stats = []
                    for i in blocks[:len(blocks) - w + 1]:
                        ev = np.sort(np.maximum(np.linalg.eigvalsh(R[i:i + w, j].mean(0)), 0))[::-1]
                        stats.append((ev[0] - ev[1:].mean(), ev.sum(), ev[0] / ev.sum()))
                    stats = np.array(stats)
                    exp[wi, si, col:col + 4] = [np.log(max(stats[:, 0].max(), 1e-12 * P) / P),
                                                np.log(stats[:, 1].max() / P), stats[:, 2].max(),
                                                stats[stats[:, 1].argmax(), 2]]
                    col += 4
    assert np.max(np.abs(F - exp)) < 1e-8


def test_polarised_burst_is_detected():
    # Analytic property: the window holding the rank-1 burst has a polarisation degree near 1
    # at the burst's octave (j = 1: 0.2125 cycles/sample), an isotropic-noise window near 1/3..0.6.
    x = record(2)
    end = np.array([1024, 1408])  # the burst (sample 1300) lies in the second window only
    F = local_polarization(x, end, (256,), J=J, block=BLOCK, widths=(2,))
    deg = F[:, 0, 4 * 1 + 2]  # j = 1, width 2, max degree
    assert deg[1] > 0.95 and deg[0] < 0.9, deg


def test_bad_geometry_raises():
    x = record()
    with pytest.raises(ValueError, match="window_end must be multiples of block=8"):
        local_polarization(x, np.array([260]), (64,), J=J, block=BLOCK)
    with pytest.raises(ValueError, match="scale 12 must be a multiple of block=8"):
        local_polarization(x, np.array([256]), (12,), J=J, block=BLOCK)
