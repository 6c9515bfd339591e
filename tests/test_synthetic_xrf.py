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
DEFAULT_E0 = 40.0  # the generator's default excitation energy (keV)


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
    return synthetic_xrf(shape=(8, 8), pigments=pig, n_channels=N_CH, energy_range=(1.0, 20.0), excitation_energy=E0,
                         noise_fwhm=NOISE, fano=FANO, continuum_fraction=0.0, random_state=0)


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


@pytest.mark.parametrize("kwargs, e0", [
    ({}, DEFAULT_E0),
    (dict(excitation_energy=20.0, energy_range=(1.0, 20.0)), 20.0),
    (dict(excitation="tube", excitation_energy=35.0), 35.0),
])
def test_continuum_is_kramers_like(kwargs, e0):
    d = synthetic_xrf(shape=(4, 4), pigments={"Fe": {"Fe": 1.0}, "Cu": {"Cu": 1.0}}, n_channels=400,
                      continuum_fraction=0.5, random_state=0, **kwargs)
    diff = d.pigment_spectra[0] - d.pigment_spectra[1]  # lines differ, continuum cancels
    far = (d.energies > 12) & (d.energies < min(e0, d.energies[-1]) - 1)  # no Fe/Cu line there
    np.testing.assert_allclose(diff[far], 0.0, atol=1e-9)
    c = d.pigment_spectra[0][far]
    e = d.energies[far]
    kramers = (e0 - e) / e * np.exp(-(1.5 / e) ** 3)
    np.testing.assert_allclose(c / c[0], kramers / kramers[0], rtol=1e-9)
    assert np.all(d.pigment_spectra[:, d.energies > e0] == 0)  # nothing above the excitation energy


def window_area(d, pigment, symbol, names):
    """Counts of ``pigment``'s spectrum within +-5 sigma of a line group's lines."""
    z = xraylib.SymbolToAtomicNumber(symbol)
    e = [xraylib.LineEnergy(z, getattr(xraylib, n + "_LINE")) for n in names]
    sel = (d.energies > min(e) - 5 * sigma_kev(min(e))) & (d.energies < max(e) + 5 * sigma_kev(max(e)))
    return float(d.pigment_spectra[d.pigments.index(pigment)][sel].sum())


def lead_tin_yellow(e0, **kwargs):
    return synthetic_xrf(shape=(4, 4), pigments=["lead white", "lead-tin yellow"], n_channels=2900,
                         energy_range=(1.0, 30.0), excitation_energy=e0, noise_fwhm=NOISE, fano=FANO,
                         continuum_fraction=0.0, random_state=0, **kwargs)


def test_sn_k_alpha_needs_excitation_above_the_sn_k_edge():
    sn, pb = xraylib.SymbolToAtomicNumber("Sn"), xraylib.SymbolToAtomicNumber("Pb")
    assert 20.0 < xraylib.EdgeEnergy(sn, xraylib.K_SHELL) < DEFAULT_E0  # 29.2 keV
    w_sn, w_pb = 0.17, 0.61  # Pb2SnO4 weight fractions, as in PIGMENTS
    hi, lo = lead_tin_yellow(DEFAULT_E0), lead_tin_yellow(20.0)
    # 40 keV: Sn K-alpha / Pb L-alpha window areas = ratio of xraylib production cross sections.
    ka = ["KA1", "KA2"]
    la = ["LA1", "LA2"]
    cs_sn = sum(xraylib.CS_FluorLine_Kissel_Cascade(sn, getattr(xraylib, n + "_LINE"), DEFAULT_E0) for n in ka)
    cs_pb = sum(xraylib.CS_FluorLine_Kissel_Cascade(pb, getattr(xraylib, n + "_LINE"), DEFAULT_E0) for n in la)
    ratio = window_area(hi, "lead-tin yellow", "Sn", ka) / window_area(hi, "lead-tin yellow", "Pb", la)
    # +-5 sigma windows hold all but ~1e-6 of each Gaussian; no other line within them.
    assert abs(ratio / (w_sn * cs_sn / (w_pb * cs_pb)) - 1) < 1e-4, ratio
    assert window_area(hi, "lead-tin yellow", "Sn", ka) > 0.3 * hi.params["counts"]  # a major line
    assert window_area(hi, "lead white", "Sn", ka) == 0.0
    # 20 keV: the Sn K shell is not ionised; nothing at all is recorded above 20 keV.
    assert window_area(lo, "lead-tin yellow", "Sn", ka) == 0.0
    assert not any(r["element"] == "Sn" and r["line"].startswith("K") for r in lo.lines)
    assert any(r["element"] == "Sn" and r["line"] == "KA1" for r in hi.lines)


def cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_lead_white_and_lead_tin_yellow_separate_at_the_default_excitation():
    new = synthetic_xrf(shape=(8, 8), n_channels=512, random_state=0)  # defaults: 40 keV, 1-30 keV
    old = synthetic_xrf(shape=(8, 8), n_channels=512, excitation_energy=20.0, energy_range=(1.0, 20.0),
                        random_state=0)
    i, j = new.pigments.index("lead white"), new.pigments.index("lead-tin yellow")
    # 20 keV: only Sn L lines (~1 % of the counts) differ -> nearly collinear spectra.
    assert cosine(old.pigment_spectra[i], old.pigment_spectra[j]) > 0.999
    # 40 keV: Sn K lines carry about half of lead-tin yellow's line counts (0.70 measured).
    assert cosine(new.pigment_spectra[i], new.pigment_spectra[j]) < 0.8
    sn_share = sum(r["intensity"] for r in new.lines if r["pigment"] == "lead-tin yellow" and r["element"] == "Sn")
    assert 0.3 < sn_share < 0.7, sn_share


def kramers(e, e0):
    # Oracle written out independently: Kramers' law times the module's 1.5 keV cut-off.
    return (e0 - e) / e * math.exp(-(1.5 / e) ** 3)


def tube_cross_section(z, line, e_lo, e0):
    """Cross section averaged over the tube spectrum by adaptive quadrature, split at the edges."""
    from scipy.integrate import quad

    def f(e):
        try:
            return xraylib.CS_FluorLine_Kissel_Cascade(z, line, e) * kramers(e, e0)
        except ValueError:  # below the edge
            return 0.0

    edges = sorted(x for x in (xraylib.EdgeEnergy(z, s) for s in (xraylib.K_SHELL, xraylib.L1_SHELL,
                                                                    xraylib.L2_SHELL, xraylib.L3_SHELL))
                   if e_lo < x < e0)
    cuts = [e_lo, *edges, e0]
    num = sum(quad(f, a, b, limit=200, epsabs=0, epsrel=1e-5)[0] for a, b in zip(cuts[:-1], cuts[1:]))
    den = quad(lambda e: kramers(e, e0), e_lo, e0, limit=200, epsabs=0, epsrel=1e-9)[0]
    return num / den


@pytest.mark.parametrize("e0", [20.0, 40.0])
def test_tube_excitation_averages_cross_sections_over_kramers(e0):
    d = lead_tin_yellow(e0, excitation="tube")
    rows = {(r["pigment"], r["element"], r["line"]): r["intensity"] for r in d.lines}
    sn, pb = xraylib.SymbolToAtomicNumber("Sn"), xraylib.SymbolToAtomicNumber("Pb")
    cs_pb = tube_cross_section(pb, xraylib.LA1_LINE, 1.0, e0)
    # Within a pigment, intensities are w * cross section up to a common factor.
    for symbol, z, w, line in [("Sn", sn, 0.17, "LA1"), ("Sn", sn, 0.17, "KA1"), ("Pb", pb, 0.61, "LB1")]:
        key = ("lead-tin yellow", symbol, line)
        if xraylib.EdgeEnergy(z, xraylib.K_SHELL if line.startswith("K") else xraylib.L3_SHELL) > e0:
            assert key not in rows
            continue
        cs = tube_cross_section(z, getattr(xraylib, line + "_LINE"), 1.0, e0)
        got = rows[key] / rows[("lead-tin yellow", "Pb", "LA1")]
        # Midpoint rule with 5 eV steps against adaptive quadrature: the edge jumps cost < 1e-3.
        assert abs(got / (w * cs / (0.61 * cs_pb)) - 1) < 2e-3, (line, got)


def test_tube_spectrum_is_kramers():
    from scatclust.datasets import tube_spectrum

    e = np.array([-1.0, 0.0, 0.5, 5.0, 20.0, 39.9, 40.0, 45.0])
    want = np.array([0, 0, kramers(0.5, 40.0), kramers(5.0, 40.0), kramers(20.0, 40.0), kramers(39.9, 40.0), 0, 0])
    np.testing.assert_allclose(tube_spectrum(e, 40.0), want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape=(0, 5)), "shape"),
    (dict(shape="ab"), "shape"),
    (dict(n_channels=4), "n_channels"),
    (dict(energy_range=(5.0, 2.0)), "energy_range"),
    (dict(excitation_energy=-1.0), "excitation_energy"),
    (dict(excitation="laser"), "excitation="),
    (dict(excitation="tube", excitation_energy=0.5), "excitation_energy"),
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


@pytest.mark.parametrize("voltage, err", [(-1.0, ValueError), (0.0, ValueError), (float("nan"), ValueError),
                                          ("forty", TypeError)])
def test_tube_spectrum_checks_voltage(voltage, err):
    from scatclust.datasets import tube_spectrum
    with pytest.raises(err, match="voltage_kv="):
        tube_spectrum(10.0, voltage)


def test_tube_spectrum_accepts_a_numeric_string_voltage():
    from scatclust.datasets import tube_spectrum
    # a numeric string is a real number: the same spectrum as 40 kV
    assert tube_spectrum(10.0, "40") == tube_spectrum(10.0, 40.0)
