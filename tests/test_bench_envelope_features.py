"""Tests of the bench's time-envelope features (bench/_envelope_features.py).

Oracle: the pure-torch reference scattering spectra (``scatclust.reference.spectra``) of the
whole record with average pooling over blocks gives the per-block power of every component;
the window features are then recomputed with explicit loops over windows, octaves and
sub-blocks using numpy's own statistics (``sorted`` for the quantiles, ``np.polyfit`` for the
slope, ``np.corrcoef`` for the octave correlations).
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
from _envelope_features import block_power, envelope_quantiles, envelope_summaries, n_envelope_summaries  # noqa: E402

J, BLOCK, L = 4, 8, 4096


def noise(seed=0, n=L):
    return np.random.default_rng(seed).standard_normal((3, n))


def reference_power(x):
    fb = SpectraFilterBank(N=x.shape[1], J=J)
    out, labels = ref_spectra(torch.from_numpy(x[None]), fb.psi_f, fb.phi_f, families=("power",),
                              cross_families=(), kernel=BLOCK)
    out = out[0].numpy().real
    P = np.zeros((out.shape[1], J + 1))
    for i, (fam, ch, idx, _) in enumerate(labels):
        assert fam == "power"
        P[:, idx[0]] += out[i]
    return P


def test_block_power_matches_reference():
    x = noise(1) * np.linspace(0.5, 3, L)[None]
    P = block_power(x, J, BLOCK)
    R = reference_power(x)
    assert P.shape == R.shape == (L // BLOCK, J + 1)
    # float64 FFT round-off: 1e-9 of the largest block power per octave
    assert np.max(np.abs(P - R) / R.max(0, keepdims=True)) < 1e-9


def wandering(seed):
    rng = np.random.default_rng(seed)
    return noise(seed) * np.exp(0.8 * np.cumsum(rng.standard_normal(L)) / np.sqrt(L))[None]  # wandering power


@pytest.mark.parametrize("n_sub", [4, 8])
def test_quantiles_match_loops(n_sub):
    x = wandering(7)
    scales = (512, 2048)
    end = np.arange(2048, L + 1, 128)
    F = envelope_quantiles(x, end, scales, J=J, block=BLOCK, n_sub=n_sub)
    R = reference_power(x)
    assert F.shape == (end.size, len(scales), n_sub * (J + 1))
    for wi, e in enumerate(end):
        for si, s in enumerate(scales):
            m = s // BLOCK // n_sub
            first = (e - s) // BLOCK
            for j in range(J + 1):
                Pi = [R[first + i * m:first + (i + 1) * m, j].mean() for i in range(n_sub)]
                exp = sorted(np.log(p / np.mean(Pi)) for p in Pi)
                # log round-off on O(1) values
                np.testing.assert_allclose(F[wi, si, n_sub * j:n_sub * (j + 1)], exp, rtol=0, atol=1e-8)


def test_quantiles_of_a_step_burst():
    # Analytic property: a burst 100x louder than the floor covering the last quarter of the
    # window puts its 2 loudest of 8 sub-blocks near log(100 / (0.75 + 25)) = +1.36 (above the
    # mean) and the 6 others near log(1 / 25.75) = -3.25, at every octave (up to the wavelet
    # edge smearing of the sub-blocks next to the step and the sampling spread of the floor).
    s = 2048
    t = np.arange(L)
    amp = np.where(t >= L - s // 4, 10.0, 1.0)
    x = noise(8) * amp[None]
    Q = envelope_quantiles(x, np.array([L]), (s,), J=J, block=BLOCK, n_sub=8)[0, 0].reshape(J + 1, 8)
    np.testing.assert_allclose(Q[:J, 6:], np.log(100 / 25.75), atol=0.35)
    np.testing.assert_allclose(Q[:J, :4], np.log(1 / 25.75), atol=0.6)
    assert np.all(np.diff(Q, axis=1) >= 0)


@pytest.mark.parametrize("n_sub", [4, 8])
def test_window_features_match_loops(n_sub):
    x = wandering(2)
    scales = (512, 2048)
    end = np.arange(2048, L + 1, 128)
    F = envelope_summaries(x, end, scales, J=J, block=BLOCK, n_sub=n_sub)
    R = reference_power(x)
    assert F.shape == (end.size, len(scales), n_envelope_summaries(J)) == (end.size, 2, 6 * (J + 1) + J)
    t = (np.arange(n_sub) + 0.5) / n_sub - 0.5
    for wi, e in enumerate(end):
        for si, s in enumerate(scales):
            m = s // BLOCK // n_sub
            first = (e - s) // BLOCK
            rs = []
            for j in range(J + 1):
                Pi = np.array([R[first + i * m:first + (i + 1) * m, j].mean() for i in range(n_sub)])
                r = np.log(Pi / Pi.mean())
                rs.append(r)
                k = int(np.argmax(r))
                fall = r[k + 1:].mean() - r[k] if k < n_sub - 1 else 0.0
                exp = [r.max(), r.min(), r.std(), np.polyfit(t, r, 1)[0], t[k], fall]
                # log / polyfit round-off on O(1) values
                np.testing.assert_allclose(F[wi, si, 6 * j:6 * j + 6], exp, rtol=0, atol=1e-8)
            corr = [np.corrcoef(rs[j], rs[j + 1])[0, 1] for j in range(J)]
            np.testing.assert_allclose(F[wi, si, 6 * (J + 1):], corr, rtol=0, atol=1e-8)


def test_decaying_burst_has_negative_slope_and_noise_none():
    # Analytic property: noise x exp(-t / tau) starting at the window's start has log power
    # -2 t / tau: slope -2 s / tau = -8 per window length for tau = s / 4 (minus the edge
    # effects of the wavelets); stationary noise has slope 0 up to its sampling spread
    # (std of the slope about 0.3 at the coarsest octave for 8 sub-blocks of 256 samples).
    s = 2048
    t = np.arange(L)
    env = np.where(t >= L - s, np.exp(-(t - (L - s)) / (s / 4)), 0.0)
    burst = noise(3) * env[None] * 50 + 0.01 * noise(4)
    end = np.array([L])
    Fb = envelope_summaries(burst, end, (s,), J=J, block=BLOCK, n_sub=8)[0, 0, :6 * (J + 1)].reshape(J + 1, 6)
    assert np.all(Fb[:, 3] < -6), Fb[:, 3]  # slope
    assert np.all(Fb[:, 4] < -0.3), Fb[:, 4]  # peak in the first sub-blocks (t = -0.4375)
    assert np.all(Fb[:, 5] < -3), Fb[:, 5]  # post-peak fall
    for seed in range(5):
        Fn = envelope_summaries(noise(10 + seed), end, (s,), J=J, block=BLOCK, n_sub=8)[0, 0, :6 * (J + 1)]
        assert np.all(np.abs(Fn.reshape(J + 1, 6)[:, 3]) < 1.5), Fn.reshape(J + 1, 6)[:, 3]


def test_rotation_invariant():
    # The channel-summed power is the trace of the cross-channel matrix: any orthogonal mix of
    # the components leaves every feature unchanged (float64 round-off).
    x = noise(5) * np.linspace(1, 4, L)[None]
    Q, _ = np.linalg.qr(np.random.default_rng(6).standard_normal((3, 3)))
    end = np.arange(2048, L + 1, 256)
    for fn in (envelope_quantiles, envelope_summaries):
        a = fn(x, end, (1024, 2048), J=J, block=BLOCK, n_sub=8)
        b = fn(Q @ x, end, (1024, 2048), J=J, block=BLOCK, n_sub=8)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8)


@pytest.mark.parametrize("fn", [envelope_quantiles, envelope_summaries])
def test_bad_geometry_raises(fn):
    x = noise()
    with pytest.raises(ValueError, match="window_end must be multiples of block=8"):
        fn(x, np.array([2052]), (512,), J=J, block=BLOCK)
    with pytest.raises(ValueError, match=r"scale 520 must be a multiple of block \* n_sub = 128"):
        fn(x, np.array([2048]), (520,), J=J, block=BLOCK)
    with pytest.raises(ValueError, match="n_sub=2 must be an int >= 3"):
        fn(x, np.array([2048]), (512,), J=J, block=BLOCK, n_sub=2)
    with pytest.raises(ValueError, match="window_end min 256 < the largest scale 512"):
        fn(x, np.array([256]), (512,), J=J, block=BLOCK)
    with pytest.raises(ValueError, match="window_end max 8192 > record length 4096"):
        fn(x, np.array([8192]), (512,), J=J, block=BLOCK)
    with pytest.raises(ValueError, match="window_end must be a 1-D integer array"):
        fn(x, np.array([2048.0]), (512,), J=J, block=BLOCK)
