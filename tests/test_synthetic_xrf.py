"""Synthetic MA-XRF generator against independent oracles (xraylib, the Fano law, Poisson)."""
from __future__ import annotations

import math

import numpy as np
import pytest

xraylib = pytest.importorskip("xraylib")
pytest.importorskip("skimage")

from scatclust.datasets import synthetic_xrf  # noqa: E402

E0 = 20.0
NOISE = 120.0  # eV
FANO = 0.114
N_CH = 2000  # 9.5 eV channels over 1-20 keV


def sigma_kev(e_kev):
    # Oracle written out independently of the generator: eV units inside.
    return math.sqrt((NOISE / 2.3548200450309493) ** 2 + 3.85 * FANO * e_kev * 1000.0) / 1000.0


def group(symbol, names):
    """xraylib energies and production cross sections of a line group."""
    z = xraylib.SymbolToAtomicNumber(symbol)
    e = np.array([xraylib.LineEnergy(z, getattr(xraylib, n + "_LINE")) for n in names])
    w = np.array([xraylib.CS_FluorLine_Kissel_Cascade(z, getattr(xraylib, n + "_LINE"), E0) for n in names])
    return e, w / w.sum()


@pytest.fixture(scope="module")
def pure():
    pig = {"Fe": {"Fe": 1.0}, "Cu": {"Cu": 1.0}, "Pb": {"Pb": 1.0}, "TiZn": {"Ti": 1.0, "Zn": 1.0}}
    return synthetic_xrf(shape=(8, 8), pigments=pig, n_channels=N_CH, excitation_energy=E0, noise_fwhm=NOISE,
                         fano=FANO, continuum_fraction=0.0, random_state=0)


def window_moments(energies, spectrum, centre, half):
    sel = np.abs(energies - centre) <= half
    p = spectrum[sel] / spectrum[sel].sum()
    mean = float(np.sum(p * energies[sel]))
    var = float(np.sum(p * (energies[sel] - mean) ** 2))
    return mean, var


@pytest.mark.parametrize("pigment, symbol, names, half", [
    ("Fe", "Fe", ["KA1", "KA2"], 5),
    ("Fe", "Fe", ["KB1", "KB3"], 5),
    ("Cu", "Cu", ["KA1", "KA2"], 5),
    ("Pb", "Pb", ["LA1", "LA2"], 5),
    ("TiZn", "Ti", ["KA1", "KA2"], 3),  # Ti K-beta is only 7 sigma away: narrower window
    ("TiZn", "Zn", ["KA1", "KA2"], 5),
])
def test_peak_centroids_match_xraylib(pure, pigment, symbol, names, half):
    e, w = group(symbol, names)
    centre = float(np.sum(w * e))
    spec = pure.pigment_spectra[pure.pigments.index(pigment)]
    mean, _ = window_moments(pure.energies, spec, centre, half * sigma_kev(centre))
    # Channel width 9.5 eV; the centroid of a channel-integrated Gaussian is exact to far below 1 eV.
    assert abs(mean - centre) < 1e-3, (mean, centre)


@pytest.mark.parametrize("pigment, symbol", [("Fe", "Fe"), ("TiZn", "Zn")])
def test_peak_widths_follow_fano_law(pure, pigment, symbol):
    e, w = group(symbol, ["KA1", "KA2"])
    centre = float(np.sum(w * e))
    # Mixture variance of the two Gaussians + Sheppard's correction for the channel width.
    h = pure.energies[1] - pure.energies[0]
    var_true = float(np.sum(w * (np.array([sigma_kev(x) ** 2 for x in e]) + (e - centre) ** 2))) + h * h / 12
    spec = pure.pigment_spectra[pure.pigments.index(pigment)]
    # K-beta lies > 8 sigma away: a +-5 sigma window holds the K-alpha pair only.
    _, var = window_moments(pure.energies, spec, centre, 5 * sigma_kev(centre))
    assert abs(var / var_true - 1) < 5e-3, (var, var_true)


def test_line_table_uses_xraylib_energies(pure):
    for r in pure.lines:
        z = xraylib.SymbolToAtomicNumber(r["element"])
        assert r["energy"] == xraylib.LineEnergy(z, getattr(xraylib, r["line"] + "_LINE"))
        assert abs(r["sigma"] - sigma_kev(r["energy"])) < 1e-12


def test_poisson_statistics_on_flat_region():
    d = synthetic_xrf(shape=(48, 48), pigments=["azurite", "lead white"], n_channels=256, counts=3000.0,
                      blur=0.0, intensity_variation=0.0, random_state=3)
    assert np.array_equal(d.cube, np.round(d.cube)) and d.cube.dtype == np.float32
    for k in range(2):
        x = d.cube[d.labels == k].astype(np.float64)  # (n, C), all pixels share one expected spectrum
        n = x.shape[0]
        lam = d.pigment_spectra[k]
        ch = lam > 20
        mean, var = x[:, ch].mean(0), x[:, ch].var(0, ddof=1)
        # Per-channel sample mean within 5 standard errors of the expected count.
        assert np.all(np.abs(mean - lam[ch]) < 5 * np.sqrt(lam[ch] / n))
        ratio = var / mean
        # var/mean has standard error ~ sqrt(2/(n-1)) per channel; averaged over channels.
        se = math.sqrt(2 / (n - 1)) / math.sqrt(ch.sum())
        assert abs(ratio.mean() - 1) < 5 * se + 1e-3, ratio.mean()


def test_labels_are_abundance_argmax_and_regions_balanced():
    d = synthetic_xrf(shape=(40, 50), pigments=4, n_channels=64, image="coffee", random_state=0)
    assert d.abundances.shape == (40, 50, 4)
    np.testing.assert_allclose(d.abundances.sum(-1), 1.0, rtol=0, atol=1e-12)
    assert np.array_equal(d.labels, np.argmax(d.abundances, -1))
    # Expected cube = gain * abundances @ spectra: recover the gain-free mix on pure pixels.
    p = synthetic_xrf(shape=(40, 50), pigments=4, n_channels=64, image="coffee", blur=0.0, random_state=0)
    assert np.array_equal(np.bincount(p.labels.ravel()), [500, 500, 500, 500])
    assert set(np.unique(p.abundances)) == {0.0, 1.0}


def test_reproducible_by_seed():
    a = synthetic_xrf(shape=(16, 16), n_channels=64, random_state=7)
    b = synthetic_xrf(shape=(16, 16), n_channels=64, random_state=7)
    c = synthetic_xrf(shape=(16, 16), n_channels=64, random_state=8)
    assert np.array_equal(a.cube, b.cube)
    assert not np.array_equal(a.cube, c.cube)
    assert np.array_equal(a.labels, c.labels)


def test_continuum_is_kramers_like():
    d = synthetic_xrf(shape=(4, 4), pigments={"Fe": {"Fe": 1.0}, "Cu": {"Cu": 1.0}}, n_channels=400,
                      continuum_fraction=0.5, random_state=0)
    diff = d.pigment_spectra[0] - d.pigment_spectra[1]  # lines differ, continuum cancels
    far = (d.energies > 12) & (d.energies < 19)  # no Fe/Cu line there
    np.testing.assert_allclose(diff[far], 0.0, atol=1e-9)
    c = d.pigment_spectra[0][far]
    e = d.energies[far]
    kramers = (20.0 - e) / e * np.exp(-(1.5 / e) ** 3)
    np.testing.assert_allclose(c / c[0], kramers / kramers[0], rtol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape=(0, 5)), "shape"),
    (dict(shape="ab"), "shape"),
    (dict(n_channels=4), "n_channels"),
    (dict(energy_range=(5.0, 2.0)), "energy_range"),
    (dict(excitation_energy=-1.0), "excitation_energy"),
    (dict(noise_fwhm=float("nan")), "noise_fwhm"),
    (dict(fano=0.0), "fano"),
    (dict(counts=0.0), "counts"),
    (dict(continuum_fraction=1.0), "continuum_fraction"),
    (dict(blur=-1.0), "blur"),
    (dict(intensity_variation=-0.1), "intensity_variation"),
    (dict(image="lena"), "image"),
    (dict(pigments=["unobtainium"]), "pigments"),
    (dict(pigments=1), "pigments"),
    (dict(pigments={"a": {"Xx": 1.0}, "b": {"Fe": 1.0}}), "unknown element"),
    (dict(pigments={"a": {"C": 1.0}, "b": {"Fe": 1.0}}), "emits no line"),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        synthetic_xrf(**{"shape": (8, 8), "n_channels": 32, **kwargs})
