"""Tests of the plain-numpy reference filter bank and wavelet transform (scatclust.reference).

Three kinds:
* against kymatio 0.3.0 (the peer whose conventions the reference reproduces): filters,
  parameters, padding geometry and first-order modulus U1, the latter rebuilt here step by
  step from kymatio's own numpy backend operations, as kymatio/scattering1d/core/
  scattering1d.py does for order 1 with average=True;
* against direct computations: time-domain circular convolution, decimation in time;
* analytic properties: zero mean, unit L1 norm, peak at xi, Littlewood-Paley bounds.

Only kymatio's 1-D modules are imported: ``import kymatio.numpy`` also loads the 3-D
frontend, which needs scipy.special.sph_harm (removed in scipy 1.17).
"""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest

from scatclust.reference import (
    border_indices,
    gauss_1d,
    max_dyadic_subsampling,
    morlet_1d,
    morlet_filter_bank,
    morlet_params,
    pad,
    padding_geometry,
    scattering_first_layer,
    sigma_from_xi,
    temporal_support,
    wavelet_transform,
)

kfb = pytest.importorskip("kymatio.scattering1d.filter_bank")
numpy_frontend = pytest.importorskip("kymatio.scattering1d.frontend.numpy_frontend")

EPS = np.finfo(np.float64).eps
# Filters and U1 are the same float64 formulas evaluated in a different order; 1e-12
# (~4500 eps) leaves room for FFT rounding at N_padded up to 2^14.
RTOL = 1e-12

# (J, Q, T, N): kymatio settings compared against.
KYMATIO_SETTINGS = [
    pytest.param(6, (8, 2), None, 1000, id="J6-Q8,2-Tdef-N1000"),       # non-power-of-two N
    pytest.param(4, (1, 1), None, 256, id="J4-Q1,1-Tdef-N256"),
    pytest.param(5, (4, 1), 8, 777, id="J5-Q4,1-T8-N777"),              # T < 2^J, odd N
    pytest.param(3, (2, 2), 12, 300, id="J3-Q2,2-T12-N300"),            # T not a power of two
    pytest.param(3, (1, 1), 64, 513, id="J3-Q1,1-T64-N513"),            # T > 2^J: log2_T > J
    pytest.param(8, (8, 1), None, 4096, id="J8-Q8,1-Tdef-N4096"),
    pytest.param(2, (16, 4), None, 37, id="J2-Q16,4-Tdef-N37"),         # sigma_max <= sigma_min
]


@functools.lru_cache(maxsize=None)
def kymatio_scattering(J, Q, T, N):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kymatio's DeprecationWarnings
        return numpy_frontend.ScatteringNumPy1D(J=J, shape=N, Q=Q, T=T)


@functools.lru_cache(maxsize=None)
def reference_bank(N, J, Q, T, kind="kymatio"):
    return morlet_filter_bank(N, J, Q, T, kind=kind)


def max_rel_err(actual, expected):
    """max |actual - expected| / max |expected| (one scale per array)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    return np.abs(actual - expected).max() / np.abs(expected).max()


# --------------------------------------------------------------------------------------
# Against kymatio: single filters and parameter rules
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("N", [64, 100, 1024, 3001])
# P = min(ceil(5.68 sigma + 1), 5) frequency periods are folded; every filter of a
# scattering bank has sigma <= 0.1 (P = 2), so the wider ones are tested here directly.
@pytest.mark.parametrize("xi, sigma", [
    (0.35, 0.1),        # P = 2
    (0.2, 0.02),        # P = 2
    (0.01, 1e-3),       # narrow, P = 2
    (0.25, 0.3),        # P = 3
    (0.1, 0.18),        # P = 3, but 2 with eps = 1e-6: pins the 1e-7 threshold
    (0.3, 0.6),         # P = 5
    (0.4, 1.0),         # P = 7 capped at 5
    (None, 0.1),        # Gaussian, P = 2
    (0, 0.003),         # Gaussian via xi = 0
    (None, 0.4),        # Gaussian, P = 4
    (None, 1.0),        # Gaussian, P capped at 5
])
def test_morlet_1d_matches_kymatio(N, xi, sigma):
    expected = kfb.morlet_1d(N, xi, sigma)
    actual = morlet_1d(N, xi, sigma)
    assert actual.dtype == np.float64 and actual.shape == (N,)
    assert max_rel_err(actual, expected.real) <= RTOL
    np.testing.assert_allclose(gauss_1d(N, sigma), kfb.gauss_1d(N, sigma), rtol=0,
                               atol=RTOL * np.abs(kfb.gauss_1d(N, sigma)).max())


@pytest.mark.parametrize("Q", [1, 2, 3, 8, 16])
@pytest.mark.parametrize("r_psi", [math.sqrt(0.5), 0.5, 0.9])
def test_sigma_from_xi_matches_kymatio(Q, r_psi):
    for xi in (0.35, 0.1, 1e-3):
        assert sigma_from_xi(xi, Q, r_psi) == kfb.compute_sigma_psi(xi, Q, r=r_psi)


@pytest.mark.parametrize("alpha", [1.0, 5.0])
def test_max_dyadic_subsampling_matches_kymatio(alpha):
    for xi, sigma in [(0.35, 0.1), (0.1, 0.01), (0.01, 1e-3), (1e-4, 1e-5), (0.3, 0.3)]:
        assert max_dyadic_subsampling(xi, sigma, alpha) == \
            kfb.get_max_dyadic_subsampling(xi, sigma, alpha)


@pytest.mark.parametrize("Q", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("sigma_min", [0.1 / 2**J for J in (0, 2, 6, 12)] + [0.2])
@pytest.mark.parametrize("alpha", [3.0, 5.0])
def test_morlet_params_match_kymatio_exactly(Q, sigma_min, alpha):
    xis, sigmas, js = kfb.compute_params_filterbank(sigma_min, Q, alpha)
    params = morlet_params(sigma_min, Q, alpha)
    assert [p[0] for p in params] == xis
    assert [p[1] for p in params] == sigmas
    assert [p[2] for p in params] == js


@pytest.mark.parametrize("N", [64, 777, 4096])
@pytest.mark.parametrize("sigma", [0.1, 0.01, 0.1 / 64])
def test_temporal_support_matches_kymatio(N, sigma):
    h_f = gauss_1d(N, sigma)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expected = kfb.compute_temporal_support(h_f.reshape(1, -1), criterion_amplitude=1e-3)
    actual = temporal_support(h_f, criterion=1e-3)
    if caught:  # kymatio warns and falls back to N // 2 when the criterion is never met
        assert actual is None
    else:
        assert actual == expected


def test_temporal_support_none_when_filter_longer_than_signal():
    # sigma = 0.1 / 64 has a time-domain width ~100 samples: it cannot fit in 64.
    assert temporal_support(gauss_1d(64, 0.1 / 64)) is None
    assert temporal_support(gauss_1d(4096, 0.1 / 64)) is not None


def test_temporal_support_of_several_filters_is_the_widest():
    narrow, wide = gauss_1d(1024, 0.1), gauss_1d(1024, 0.01)
    both = temporal_support(np.stack([narrow, wide]))
    assert both == temporal_support(wide) > temporal_support(narrow)


# --------------------------------------------------------------------------------------
# Against kymatio: the whole bank and its geometry
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("J, Q, T, N", KYMATIO_SETTINGS)
def test_geometry_matches_kymatio(J, Q, T, N):
    S = kymatio_scattering(J, Q, T, N)
    bank = reference_bank(N, J, Q, T)
    assert bank["N"] == N
    assert bank["N_padded"] == S._N_padded
    assert (bank["pad_left"], bank["pad_right"]) == (S.pad_left, S.pad_right)
    assert bank["log2_T"] == S.log2_T
    T_eff = 2**J if T is None else T
    assert padding_geometry(N, T_eff) == (S._N_padded, S.pad_left, S.pad_right)
    # kymatio's indices stop at max(log2_T, J); the reference adds one level (as _core).
    k_max = max(S.log2_T, J)
    assert sorted(S.ind_start) == list(range(k_max + 1))
    assert bank["ind_start"][:k_max + 1] == [S.ind_start[k] for k in range(k_max + 1)]
    assert bank["ind_end"][:k_max + 1] == [S.ind_end[k] for k in range(k_max + 1)]
    assert len(bank["ind_start"]) == len(bank["ind_end"]) == k_max + 2
    assert bank["ind_start"][-1] == math.ceil(bank["ind_start"][-2] / 2)
    assert bank["ind_end"][-1] == math.ceil(bank["ind_end"][-2] / 2)


@pytest.mark.parametrize("J, Q, T, N", KYMATIO_SETTINGS)
def test_metadata_matches_kymatio_exactly(J, Q, T, N):
    S = kymatio_scattering(J, Q, T, N)
    bank = reference_bank(N, J, Q, T)
    for order, peer in (("psi1", S.psi1_f), ("psi2", S.psi2_f)):
        meta = bank[order]
        assert len(meta["xi"]) == len(meta["sigma"]) == len(meta["j"]) == len(peer)
        assert list(meta["xi"]) == [f["xi"] for f in peer]
        assert list(meta["sigma"]) == [f["sigma"] for f in peer]
        assert list(meta["j"]) == [f["j"] for f in peer]
    assert list(bank["phi"]["xi"]) == [S.phi_f["xi"]]
    assert list(bank["phi"]["sigma"]) == [S.phi_f["sigma"]]
    assert list(bank["phi"]["j"]) == [S.phi_f["j"]]


@pytest.mark.parametrize("J, Q, T, N", KYMATIO_SETTINGS)
def test_filters_match_kymatio(J, Q, T, N):
    S = kymatio_scattering(J, Q, T, N)
    bank = reference_bank(N, J, Q, T)
    Np = S._N_padded
    for order, peer in (("psi1_f", S.psi1_f), ("psi2_f", S.psi2_f)):
        assert bank[order].shape == (len(peer), Np) and bank[order].dtype == np.float64
        for n, filt in enumerate(peer):
            assert max_rel_err(bank[order][n], filt["levels"][0]) <= RTOL, (order, n)
    assert bank["phi_f"].shape == (Np,)
    assert max_rel_err(bank["phi_f"], S.phi_f["levels"][0]) <= RTOL


def kymatio_first_order_U1(S, x, oversampling):
    """U1 for every first-order filter, by kymatio's backend ops (core/scattering1d.py)."""
    be = S.backend
    U_0 = be.pad(x.reshape(-1, 1, x.shape[-1]), pad_left=S.pad_left, pad_right=S.pad_right)
    U_0_hat = be.rfft(U_0)
    log2_T = S.phi_f["j"]
    out = []
    for filt in S.psi1_f:
        k1 = max(min(filt["j"], log2_T) - oversampling, 0)
        U_1_c = be.cdgmm(U_0_hat, filt["levels"][0])
        U_1_hat = be.subsample_fourier(U_1_c, 2**k1)
        U_1_m = be.modulus(be.ifft(U_1_hat))
        U_1 = be.unpad(U_1_m, S.ind_start[k1], S.ind_end[k1])
        out.append(U_1.reshape(x.shape[:-1] + U_1.shape[-1:]))
    return out


@pytest.mark.parametrize("oversampling", [0, 1])
@pytest.mark.parametrize("J, Q, T, N", KYMATIO_SETTINGS)
def test_first_layer_matches_kymatio(J, Q, T, N, oversampling):
    S = kymatio_scattering(J, Q, T, N)
    bank = reference_bank(N, J, Q, T)
    x = np.random.default_rng(N).standard_normal((2, 3, N))
    expected = kymatio_first_order_U1(S, x, oversampling)
    actual = scattering_first_layer(x, bank, oversampling=oversampling)
    assert len(actual) == len(expected) == len(S.psi1_f)
    for n, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape and a.dtype == np.float64, n
        assert max_rel_err(a, e) <= RTOL, n


# --------------------------------------------------------------------------------------
# 'spectra' parameterisation
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("J, T, N", [(4, None, 256), (6, 16, 1000), (3, 100, 513)])
def test_spectra_bank_parameters(J, T, N):
    bank = morlet_filter_bank(N, J, 1, T, kind="spectra")
    xi = 0.425 * 2.0 ** -np.arange(J)
    np.testing.assert_array_equal(bank["psi1"]["xi"], xi)
    np.testing.assert_array_equal(bank["psi1"]["sigma"], [sigma_from_xi(v, 1) for v in xi])
    np.testing.assert_array_equal(
        bank["psi1"]["j"], [max_dyadic_subsampling(v, sigma_from_xi(v, 1), 5.0) for v in xi])
    for key in ("xi", "sigma", "j"):
        np.testing.assert_array_equal(bank["psi2"][key], bank["psi1"][key])
    np.testing.assert_array_equal(bank["psi2_f"], bank["psi1_f"])
    T_eff = 2**J if T is None else T
    assert bank["phi"]["sigma"][0] == 0.1 / T_eff
    assert (bank["N_padded"], bank["pad_left"], bank["pad_right"]) == padding_geometry(N, T_eff)
    for n in range(J):
        np.testing.assert_array_equal(bank["psi1_f"][n],
                                      morlet_1d(bank["N_padded"], xi[n], sigma_from_xi(xi[n], 1)))


def test_bad_arguments_raise_with_the_parameter_named():
    with pytest.raises(ValueError, match=r"kind='spectra' uses one wavelet per octave: Q=\(2, 1\)"):
        morlet_filter_bank(256, 4, 2, kind="spectra")
    with pytest.raises(ValueError, match=r"kind='wide' must be 'kymatio' or 'spectra'"):
        morlet_filter_bank(256, 4, 1, kind="wide")
    with pytest.raises(ValueError, match=r"T=512 must be in \[1, N=256\]"):
        morlet_filter_bank(256, 4, 1, T=512)
    with pytest.raises(ValueError, match=r"Q=\(0, 1\) must be >= 1"):
        morlet_filter_bank(256, 4, 0)
    with pytest.raises(ValueError, match=r"reflect padding of 10 samples needs a signal longer"):
        pad(np.ones(10), 10, 0)


# --------------------------------------------------------------------------------------
# Analytic properties of the filters
# --------------------------------------------------------------------------------------

ANALYTIC_BANKS = [
    pytest.param(1000, 6, (8, 2), None, "kymatio", id="kymatio-N1000-J6-Q8,2"),
    pytest.param(777, 5, (4, 1), 8, "kymatio", id="kymatio-N777-J5-Q4,1-T8"),
    pytest.param(300, 3, (2, 2), 12, "kymatio", id="kymatio-N300-J3-Q2,2-T12"),
    pytest.param(256, 4, (1, 1), None, "kymatio", id="kymatio-N256-J4-Q1"),
    pytest.param(8192, 8, (16, 1), None, "kymatio", id="kymatio-N8192-J8-Q16"),
    pytest.param(16384, 10, (1, 1), None, "spectra", id="spectra-N16384-J10"),
    pytest.param(513, 3, (1, 1), 64, "spectra", id="spectra-N513-J3-T64"),
]


@pytest.mark.parametrize("N, J, Q, T, kind", ANALYTIC_BANKS)
def test_wavelets_have_zero_mean_unit_l1_and_peak_at_xi(N, J, Q, T, kind):
    bank = reference_bank(N, J, Q, T, kind)
    Np = bank["N_padded"]
    freqs = np.arange(Np) / Np
    for order in ("psi1", "psi2"):
        filters_f = bank[order + "_f"]
        # Zero mean: the kappa correction cancels the DC term (peaks are ~1, see below).
        assert np.abs(filters_f[:, 0]).max() <= 1e-12
        # Unit L1 norm in time.
        l1 = np.abs(np.fft.ifft(filters_f, axis=-1)).sum(axis=-1)
        np.testing.assert_allclose(l1, 1.0, rtol=0, atol=64 * EPS)
        # The response peaks near xi: the kappa term pulls the peak of wide (Q = 1) and
        # low-frequency constant-bandwidth filters up a little; measured |peak - xi| <=
        # 0.078 sigma on J = 10, Q in {1, 2, 8, 16} banks at N = 2^15 (grid 2^-16), so
        # allow one bin plus 0.1 sigma. Its height is about 1 (L1 = 1 bounds it by 1;
        # measured >= 0.99).
        peak = freqs[np.argmax(filters_f, axis=-1)]
        offset = np.abs(peak - bank[order]["xi"])
        assert np.all(offset <= 1.0 / Np + 0.1 * bank[order]["sigma"])
        assert np.all(filters_f.max(axis=-1) <= 1.0 + 64 * EPS)
        assert np.all(filters_f.max(axis=-1) >= 0.99)
    phi_l1 = np.abs(np.fft.ifft(bank["phi_f"])).sum()
    assert abs(phi_l1 - 1.0) <= 64 * EPS
    assert np.argmax(bank["phi_f"]) == 0


# Littlewood-Paley sum LP(w) = sum_n |psi1_f[n](w)|^2 over positive frequencies, bounds
# measured on the banks of ANALYTIC_BANKS and on J = 8..10 banks with Q = 1, 2, 4, 8, 16
# (reference == kymatio there to 1e-15):
#   constant-Q region [xi of the last geometric filter, xi_max]:
#       Q1 = 1 (kymatio and spectra): 0.8717 .. 1.2396     -> asserted [0.86, 1.25]
#       Q1 = 2: 0.9571 .. 1.1663;  Q1 = 4: 0.9875 .. 1.1363;
#       Q1 = 8: 0.9972 .. 1.1279;  Q1 = 16: 1.0002 .. 1.1258 -> asserted [0.95, 1.17]
#   whole band [lowest xi, xi_max] (kymatio's Q1 - 1 constant-bandwidth filters of width
#   sigma_min below the elbow do not tile evenly): 0.3525 .. 1.2396 -> asserted [0.34, 1.25]
LP_BOUNDS_CONSTANT_Q = {1: (0.86, 1.25), "Q>=2": (0.95, 1.17)}
LP_BOUNDS_WHOLE_BAND = (0.34, 1.25)


@pytest.mark.parametrize("N, J, Q, T, kind", ANALYTIC_BANKS)
def test_littlewood_paley_sum_within_measured_bounds(N, J, Q, T, kind):
    bank = reference_bank(N, J, Q, T, kind)
    Np = bank["N_padded"]
    freqs = np.arange(Np) / Np
    xi = bank["psi1"]["xi"]
    lp = (bank["psi1_f"] ** 2).sum(axis=0)

    Q1 = Q[0]
    n_constant_q = len(xi) - (Q1 - 1) if kind == "kymatio" else len(xi)
    elbow = xi[n_constant_q - 1]
    in_constant_q = (freqs >= elbow) & (freqs <= xi.max())
    in_band = (freqs >= xi.min()) & (freqs <= xi.max())
    assert in_constant_q.sum() >= 10 and in_band.sum() >= in_constant_q.sum()

    lo, hi = LP_BOUNDS_CONSTANT_Q[1 if Q1 == 1 else "Q>=2"]
    assert lo <= lp[in_constant_q].min() and lp[in_constant_q].max() <= hi
    lo, hi = LP_BOUNDS_WHOLE_BAND
    assert lo <= lp[in_band].min() and lp[in_band].max() <= hi
    # Analytic wavelets: little energy at negative frequencies for Q1 >= 2 (Q1 = 1 wavelets
    # are wide enough at xi_max to reach past Nyquist, so only the band is checked there).
    if Q1 >= 2:
        assert lp[freqs > 0.5].max() <= 0.05


# --------------------------------------------------------------------------------------
# Wavelet transform against direct computations
# --------------------------------------------------------------------------------------

def circular_convolution(x_padded, h):
    """y[n] = sum_m x[m] h[(n - m) mod M], straight from the definition."""
    M = x_padded.shape[-1]
    y = np.zeros(x_padded.shape[:-1] + (M,), dtype=np.complex128)
    for n in range(M):
        for m in range(M):
            y[..., n] += x_padded[..., m] * h[(n - m) % M]
    return y


@pytest.mark.parametrize("mode", ["reflect", "zero", "periodic"])
@pytest.mark.parametrize("N, J, Q", [(40, 2, 2), (33, 2, 1), (64, 3, 1)])
@pytest.mark.parametrize("batch_shape", [(), (2,)])
def test_wavelet_transform_matches_time_domain_convolution(N, J, Q, mode, batch_shape):
    bank = reference_bank(N, J, Q, None)
    Np, left = bank["N_padded"], bank["pad_left"]
    x = np.random.default_rng(7).standard_normal(batch_shape + (N,))
    y = wavelet_transform(x, bank["psi1_f"], left, Np, mode=mode)
    n_filters = bank["psi1_f"].shape[0]
    assert y.shape == batch_shape + (n_filters, N) and y.dtype == np.complex128

    x_padded = pad(x, left, Np - N - left, mode)
    for n in range(n_filters):
        h = np.fft.ifft(bank["psi1_f"][n])
        expected = circular_convolution(x_padded, h)[..., left:left + N]
        assert max_rel_err(y[..., n, :], expected) <= RTOL, n

    modulus = wavelet_transform(x, bank["psi1_f"], left, Np, mode=mode, modulus=True)
    np.testing.assert_array_equal(modulus, np.abs(y))


@pytest.mark.parametrize("N, J, Q, T", [(1000, 6, (8, 2), None), (777, 5, (4, 1), 8)])
def test_subsampled_transform_is_decimated_full_transform(N, J, Q, T):
    bank = reference_bank(N, J, Q, T)
    Np, left = bank["N_padded"], bank["pad_left"]
    x = np.random.default_rng(3).standard_normal((2, N))
    ks = [min(int(j), bank["log2_T"]) for j in bank["psi1"]["j"]]
    assert max(ks) >= 2  # the test must exercise real subsampling
    sub = wavelet_transform(x, bank["psi1_f"], left, Np, log2_sub=ks,
                            ind_start=bank["ind_start"], ind_end=bank["ind_end"])
    x_hat = np.fft.fft(pad(x, left, Np - N - left), axis=-1)
    for n, k in enumerate(ks):
        full = np.fft.ifft(x_hat * bank["psi1_f"][n], axis=-1)  # full-resolution, padded
        expected = full[..., :: 2**k][..., bank["ind_start"][k]:bank["ind_end"][k]]
        assert sub[n].shape == expected.shape
        assert max_rel_err(sub[n], expected) <= RTOL, n
    # Default bounds are the ceil-halved padding bounds.
    default = wavelet_transform(x, bank["psi1_f"], left, Np, log2_sub=ks)
    for a, b in zip(default, sub):
        np.testing.assert_array_equal(a, b)


def test_zero_signal_gives_zero_and_constant_gives_zero_band_pass():
    bank = reference_bank(300, 3, (2, 2), 12)
    Np, left = bank["N_padded"], bank["pad_left"]
    assert not np.any(wavelet_transform(np.zeros(300), bank["psi1_f"], left, Np))
    # A constant survives reflect padding unchanged; zero-mean wavelets remove it.
    y = wavelet_transform(np.full(300, 3.0), bank["psi1_f"], left, Np)
    assert np.abs(y).max() <= 1e-12 * 3.0


@pytest.mark.parametrize("N, xi_tone", [(1000, 0.2), (1000, 0.05), (777, 0.3)])
def test_tone_lands_in_the_nearest_filter(N, xi_tone):
    bank = reference_bank(N, 6, (8, 1), None)
    t = np.arange(N)
    U1 = wavelet_transform(np.cos(2 * np.pi * xi_tone * t), bank["psi1_f"], bank["pad_left"],
                           bank["N_padded"], modulus=True)
    energy = (U1[:, N // 4: 3 * N // 4] ** 2).mean(axis=-1)  # away from the borders
    assert np.argmax(energy) == np.argmin(np.abs(bank["psi1"]["xi"] - xi_tone))


# --------------------------------------------------------------------------------------
# Padding and border indices
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("N, left, right", [(10, 3, 4), (7, 6, 0), (5, 0, 4), (1, 0, 0)])
def test_pad_modes_by_definition(N, left, right):
    x = np.arange(1.0, N + 1)
    idx = np.arange(-left, N + right)
    reflect = pad(x, left, right, "reflect")
    # reflect about the edge samples without repeating them: x[-i] = x[i], x[N-1+i] = x[N-1-i]
    expected = x[np.where(idx < 0, -idx, np.where(idx >= N, 2 * (N - 1) - idx, idx))]
    np.testing.assert_array_equal(reflect, expected)
    np.testing.assert_array_equal(pad(x, left, right, "periodic"), x[idx % N])
    zero = pad(x, left, right, "zero")
    np.testing.assert_array_equal(zero, np.where((idx >= 0) & (idx < N), x[idx % N], 0.0))


def test_border_indices_ceil_halving():
    ind_start, ind_end = border_indices(3, 5, 13, 1013)
    assert ind_start == [13, 7, 4, 2, 1, 1, 1]
    assert ind_end == [1013, 507, 254, 127, 64, 32, 16]
    ind_start, ind_end = border_indices(6, 2, 0, 8)  # log2_T > J sets the depth
    assert len(ind_start) == 8 and ind_end[-1] == 1 and ind_start == [0] * 8
