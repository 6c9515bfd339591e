"""SpectraFilterBank (Battle–Lemarié / Morlet, one wavelet per octave) against the numpy
reference and the analytic properties of the cubic-spline Battle–Lemarié construction."""
import math

import numpy as np
import pytest

import scatclust
from scatclust import _core
from scatclust.reference import spectra_filter_bank as ref

# Filters are computed in double precision from closed forms; C++ and reference agree to
# a few ulps of the filter peak (~1): 1e-12 leaves a 1000x margin.
TOL = 1e-12
CASES = [(256, 8), (1000, 5), (77, 3), (4096, 12), (65536, 8)]


@pytest.fixture(scope="module")
def bl_constants():
    return ref.battle_lemarie_constants()


def test_constants_match_quadrature(bl_constants):
    xi, sigma = bl_constants
    assert abs(xi - scatclust._spectra_filter_bank.BATTLE_LEMARIE_XI) < 1e-12
    assert abs(sigma - scatclust._spectra_filter_bank.BATTLE_LEMARIE_SIGMA) < 1e-12
    # The scattering-spectra literature's constant 0.75 * 1.012470304985129 is the same
    # centroid computed on a grid (agrees to 1e-4).
    assert abs(xi - 0.75 * 1.012470304985129) < 1e-4


@pytest.mark.parametrize("wavelet", ["battle_lemarie", "morlet"])
@pytest.mark.parametrize("padding", ["symmetric", "periodic"])
@pytest.mark.parametrize("N,J", CASES)
def test_core_matches_reference(N, J, wavelet, padding, bl_constants):
    fb = scatclust.SpectraFilterBank(N, J, wavelet=wavelet, padding=padding)
    r = ref.spectra_filter_bank(N, J, wavelet, padding, bl_constants)
    assert fb.P == r["P"] == (2 * N if padding == "symmetric" else N)
    assert fb.psi_f.shape == (J, fb.P) and fb.phi_f.shape == (fb.P,)
    assert np.abs(fb.psi_f - r["psi_f"]).max() < TOL
    assert np.abs(fb.phi_f - r["phi_f"]).max() < TOL
    np.testing.assert_allclose(fb.xi, r["xi"], rtol=1e-15)
    np.testing.assert_allclose(fb.sigma, r["sigma"], rtol=1e-12)
    assert list(fb.cut) == list(r["cut"]) and fb.phi_cut == r["phi_cut"]


def test_morlet_matches_existing_spectra_bank():
    # Same xi, sigma and morlet_1d as MorletFilterBank(kind='spectra'), evaluated on P points.
    fb = scatclust.SpectraFilterBank(512, 6, wavelet="morlet", padding="periodic")
    mb = scatclust.MorletFilterBank(512, 6, kind="spectra")
    np.testing.assert_allclose(fb.xi, mb.xi1, rtol=1e-15)
    np.testing.assert_allclose(fb.sigma, mb.sigma1, rtol=1e-15)
    for j in range(6):
        np.testing.assert_allclose(fb.psi_f[j], _core.morlet_1d(512, mb.xi1[j], mb.sigma1[j]), atol=1e-15)
    assert abs(fb.phi_f[0] - 1.0) < 1e-12


@pytest.mark.parametrize("w", [0.3, 1.0, 2.5, math.pi, 4.27, 5.0, 7.5, 11.0, 20.0])
def test_closed_forms_vs_series(w):
    # S8 closed form (Mallat eq. 7.24) against its defining series, and both mother
    # functions in the core against the textbook expressions evaluated with the series.
    s = ref.S8_series([w, w / 2, w / 2 + math.pi])
    assert abs(ref.S8(w) - s[0]) <= 1e-12 * s[0]
    psi = w**-4 * math.sqrt(s[2] / (s[0] * s[1]))
    phi = w**-4 / math.sqrt(s[0])
    assert abs(_core.battle_lemarie_psi_hat(w) - psi) < 1e-13
    assert abs(_core.battle_lemarie_phi_hat(w) - phi) < 1e-13


def test_analytic_points():
    # phi^(0) = 1, psi^(0) = 0 (four vanishing moments), zeros of phi^ at 2 pi k and of
    # psi^ at 4 pi k, and the orthonormality identities sum_j |psi^(2^j w)|^2 = 1,
    # |phi^(w)|^2 = sum_{j>=1} |psi^(2^j w)|^2 (Mallat Thm 7.3 / eq. 7.58).
    assert _core.battle_lemarie_phi_hat(0.0) == 1.0
    assert _core.battle_lemarie_psi_hat(0.0) == 0.0
    for k in (1, 2, 3):
        assert abs(_core.battle_lemarie_phi_hat(2 * math.pi * k)) < 1e-30
        assert abs(_core.battle_lemarie_psi_hat(4 * math.pi * k)) < 1e-30
    assert _core.battle_lemarie_psi_hat(2 * math.pi) > 0.5  # inside the main lobe
    # Small w: psi^ ~ c w^4.
    r = _core.battle_lemarie_psi_hat(2e-3) / _core.battle_lemarie_psi_hat(1e-3)
    assert abs(r - 16.0) < 1e-3
    for w in (0.1, 0.7, 2.0, 5.0, 9.0):
        tot = sum(_core.battle_lemarie_psi_hat(2.0**j * w) ** 2 for j in range(-40, 40))
        assert abs(tot - 1.0) < 1e-12
        tail = sum(_core.battle_lemarie_psi_hat(2.0**j * w) ** 2 for j in range(1, 60))
        assert abs(_core.battle_lemarie_phi_hat(w) ** 2 - tail) < 1e-12


@pytest.mark.parametrize("padding", ["symmetric", "periodic"])
def test_centre_frequencies_and_analyticity(padding):
    N, J = 8192, 8
    fb = scatclust.SpectraFilterBank(N, J, padding=padding)
    np.testing.assert_allclose(fb.xi, 0.425 * 2.0 ** -np.arange(J), rtol=0)
    P = fb.P
    f = np.arange(P) / P
    neg = np.arange(P) > P // 2
    assert np.all(fb.psi_f[:, neg] == 0)
    for j in range(2, J):  # j = 0, 1 are cut at Nyquist; their centroid is lower by design
        w2 = fb.psi_f[j] ** 2
        centroid = (f * w2).sum() / w2.sum()
        # Riemann sum of the defining integral: error ~ (bin / width)^2, < 1e-4 relative here.
        assert abs(centroid / fb.xi[j] - 1) < 1e-4
        rms = math.sqrt(((f - centroid) ** 2 * w2).sum() / w2.sum())
        assert abs(rms / fb.sigma[j] - 1) < 1e-3


def test_tails_cut_after_first_minimum():
    N, J = 2048, 6
    fb = scatclust.SpectraFilterBank(N, J)
    P = fb.P
    for j in range(J):
        row = fb.psi_f[j]
        c = fb.cut[j]
        assert np.all(row[c + 1:] == 0) and row[c] >= 0
        if c < P // 2:
            # The last kept sample is at most one bin before the zero at w = 4 pi
            # (f = 2 xi_j / xi_BL), the next one is past it.
            f_zero = 2 * fb.xi[j] / scatclust._spectra_filter_bank.BATTLE_LEMARIE_XI
            assert c / P <= f_zero < (c + 1) / P
            # The sampled first-local-minimum rule agrees where the lobe is resolved: the
            # uncut samples would rise again right after the cut (side lobe).
            w = 2 * np.pi * scatclust._spectra_filter_bank.BATTLE_LEMARIE_XI / fb.xi[j] / P
            after = [_core.battle_lemarie_psi_hat(w * k) for k in range(c + 1, c + 4)]
            if c >= 8:
                full = np.concatenate([row[:c + 1], after])
                _, kmin = ref.cut_after_first_minimum(full)
                assert kmin in (c, c + 1)
        # Main lobe: one maximum, no interior zero.
        kept = row[1:c]
        assert np.all(kept > 0)
        d = np.sign(np.diff(row[: c + 1]))
        assert np.count_nonzero(np.diff(d[d != 0]) != 0) <= 1
    # phi: symmetric, phi(0) = 1, cut after its zero at |f| = xi_{J-1} / xi_BL.
    assert fb.phi_f[0] == 1.0
    np.testing.assert_array_equal(fb.phi_f[1:], fb.phi_f[1:][::-1])
    assert np.all(fb.phi_f[fb.phi_cut + 1: P - fb.phi_cut] == 0)
    assert np.all(np.diff(fb.phi_f[: fb.phi_cut + 1]) <= 0)


@pytest.mark.parametrize("padding", ["symmetric", "periodic"])
@pytest.mark.parametrize("N,J", [(4096, 8), (1024, 4), (65536, 8)])
def test_littlewood_paley(N, J, padding):
    fb = scatclust.SpectraFilterBank(N, J, padding=padding)
    lp = fb.littlewood_paley()
    f = np.arange(fb.P // 2 + 1) / fb.P
    below = (f > 0) & (f <= 0.4)
    # <= 1 everywhere (the identity sums to 1 before the cuts); >= 0.84 on positive
    # frequencies below the Nyquist taper (the worst loss, from the cut side lobes, is about
    # 15% at a bin); over the taper (0.4, 0.5] at least the taper's square times that bound.
    assert lp.max() <= 1 + 1e-12
    assert lp[: f.size][below].min() > 0.84
    taper = ref.nyquist_taper(f[f > 0.4])
    assert np.all(lp[: f.size][f > 0.4] >= 0.84 * taper**2 - 1e-15)
    assert lp[fb.P // 2] == 0.0  # analytic and C^1: nothing at Nyquist
    assert lp[0] == pytest.approx(1.0, abs=1e-15)


def test_describe_and_meta():
    fb = scatclust.SpectraFilterBank(256, 4, wavelet="morlet")
    text = fb.describe()
    assert "psi_3" in text and "phi" in text
    assert set(fb.meta()) == {"j", "xi", "sigma", "cut"}
    assert not fb.psi_f.flags.writeable


@pytest.mark.parametrize("kwargs,match", [
    (dict(N=100, J=7), r"J=7 is too large for N=100"),
    (dict(N=256, J=0), r"J=0 is out of range"),
    (dict(N=256, J=4, wavelet="haar"), r"wavelet='haar' must be one of"),
    (dict(N=256, J=4, padding="zero"), r"padding='zero' must be one of"),
])
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        scatclust.SpectraFilterBank(**kwargs)
    with pytest.raises(ValueError):
        _core.SpectraFilterBankCore(kwargs["N"], kwargs["J"], kwargs.get("wavelet", "battle_lemarie"),
                                    kwargs.get("padding", "symmetric"))
