"""Plain-numpy filter banks of the scattering spectra: the oracle for ``_core.SpectraFilterBankCore``.

Written from the textbook formulas (Mallat, "A Wavelet Tour of Signal Processing", 3rd ed.,
sec. 7.1, cubic-spline Battle–Lemarié multiresolution), in their original form with the
series S8, not in the simplified form the C++ core evaluates, so that the two are
independent:

    S8(w)     = sum_k (w + 2 k pi)^-8
              = (5 + 30 c + 30 s c + 70 c^2 + 2 s^2 c + 2 s^3 / 3) / (105 * 2^8 * sin^8(w/2)),
              c = cos^2(w/2), s = sin^2(w/2)
    phi^(w)   = w^-4 / sqrt(S8(w))                              (scaling function, phi^(0) = 1)
    |psi^(w)| = w^-4 * sqrt(S8(w/2 + pi) / (S8(w) * S8(w/2)))   (wavelet, phase dropped)

Frequencies w are in radians per unit of the orthonormal wavelet's integer grid; a filter
for samples at f cycles/sample evaluates them at w = 2 pi f s with the dilation s.

The ratio in |psi^| is inf/inf at w = 2 pi (2m+1) and loses relative accuracy near those
points in double precision, so these functions evaluate in ``np.longdouble`` (80-bit on
x86-64) and round to float64 at the end.

Tails: |psi^| rises and falls on (0, 4 pi) and its first local minimum for w > 0 is its
zero w = 4 pi; phi^ falls on (0, 2 pi) to its zero at 2 pi. Samples beyond these points are
set to zero (:func:`cut_after_first_minimum` is the sampled version, used to check that
the two rules agree where the sampling resolves the lobe). Lobes that reach past Nyquist
(psi_0, psi_1, and phi for J = 1) are multiplied by :func:`nyquist_taper`, which falls from
1 at 0.4 to 0 at 0.5 cycles/sample: the analytic filter then has no jump at Nyquist.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "S8",
    "S8_series",
    "battle_lemarie_phi_hat",
    "battle_lemarie_psi_hat",
    "battle_lemarie_constants",
    "cut_after_first_minimum",
    "nyquist_taper",
    "spectra_filter_bank",
]

XI0 = 0.425  # centre frequency of the finest wavelet, cycles/sample
_PI_LD = 4 * np.arctan(np.longdouble(1))  # pi in extended precision (np.pi is float64)


def S8(w):
    """Closed form of sum_k (w + 2 k pi)^-8 (Mallat eq. 7.24 with w -> w/2). Infinite at 2 pi k."""
    w = np.asarray(w, dtype=np.longdouble)
    c = np.cos(w / 2) ** 2
    s = np.sin(w / 2) ** 2
    num = 5 + 30 * c + 30 * s * c + 70 * c**2 + 2 * s**2 * c + 2 * s**3 / 3
    with np.errstate(divide="ignore"):
        return num / (105 * np.longdouble(256) * np.sin(w / 2) ** 8)


def S8_series(w, n_terms=4000):
    """The defining series sum_{|k| <= n_terms} (w + 2 k pi)^-8, for checking :func:`S8`."""
    k = np.arange(-n_terms, n_terms + 1)
    w = np.atleast_1d(np.asarray(w, dtype=np.float64))
    return (1.0 / (w[:, None] + 2 * np.pi * k) ** 8).sum(axis=1)


def battle_lemarie_phi_hat(w):
    """Cubic-spline Battle–Lemarié scaling function in frequency, phi^(w) = w^-4 / sqrt(S8(w))."""
    w = np.asarray(w, dtype=np.longdouble)
    out = np.ones(w.shape, dtype=np.longdouble)
    nz = w != 0
    out[nz] = w[nz] ** -4 / np.sqrt(S8(w[nz]))
    return out.astype(np.float64)


def battle_lemarie_psi_hat(w):
    """Modulus of the cubic-spline Battle–Lemarié wavelet, w^-4 sqrt(S8(w/2+pi) / (S8(w) S8(w/2)))."""
    w = np.asarray(w, dtype=np.longdouble)
    out = np.zeros(w.shape, dtype=np.longdouble)
    nz = w != 0
    wn = w[nz]
    with np.errstate(invalid="ignore"):
        ratio = S8(wn / 2 + _PI_LD) / S8(wn) / S8(wn / 2)
    # inf/inf at w = 2 pi (2m+1) exactly: the limit is finite; never hit on our grids, but
    # fall back to a neighbouring point rather than return NaN.
    bad = ~np.isfinite(ratio)
    if bad.any():
        wb = wn[bad] * (1 + 1e-9)
        ratio[bad] = S8(wb / 2 + _PI_LD) / S8(wb) / S8(wb / 2)
    out[nz] = wn**-4 * np.sqrt(ratio)
    return out.astype(np.float64)


def battle_lemarie_constants():
    """(xi_BL, sigma_BL): energy centroid and RMS bandwidth of |psi^(2 pi f)|^2 over its main
    lobe f in [0, 2] cycles per unit (the lobe ends at the zero w = 4 pi)."""
    from scipy.integrate import quad

    def e(f):
        return float(battle_lemarie_psi_hat(np.array([2 * np.pi * f]))[0]) ** 2

    kw = dict(epsabs=0.0, epsrel=1e-13, limit=1000)
    m0 = quad(e, 0.0, 2.0, **kw)[0]
    m1 = quad(lambda f: f * e(f), 0.0, 2.0, **kw)[0]
    xi = m1 / m0
    m2 = quad(lambda f: (f - xi) ** 2 * e(f), 0.0, 2.0, **kw)[0]
    return xi, math.sqrt(m2 / m0)


def cut_after_first_minimum(v):
    """Copy of ``v`` with everything after its first strict local minimum (index >= 1) set to 0.

    Returns (cut array, index of the minimum or len(v) - 1 when there is none).
    """
    v = np.array(v, dtype=np.float64)
    inner = np.nonzero((v[:-2] > v[1:-1]) & (v[1:-1] < v[2:]))[0]
    if inner.size == 0:
        return v, len(v) - 1
    k = int(inner[0]) + 1
    v[k + 1:] = 0.0
    return v, k


def _morlet_sigma(xi):
    # MorletFilterBank(kind="spectra") rule with Q = 1 and r_psi = sqrt(1/2).
    return xi * (1 - 0.5) / (1 + 0.5) / math.sqrt(2 * math.log(1 / math.sqrt(0.5)))


NYQUIST_TAPER_START = 0.4


def nyquist_taper(f):
    """Raised cosine: 1 for f <= 0.4, 0.5 (1 + cos(pi (f - 0.4) / 0.1)) up to 0 at f = 0.5
    cycles/sample. Applied to the lobes that reach past Nyquist (psi_0, psi_1, phi for J = 1)
    so that the analytic filters have no jump at Nyquist (a 1/t tail in time)."""
    f = np.asarray(f, dtype=np.float64)
    t = np.clip((f - NYQUIST_TAPER_START) / (0.5 - NYQUIST_TAPER_START), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * t))


def spectra_filter_bank(N, J, wavelet="battle_lemarie", padding="symmetric", constants=None):
    """Filters of the scattering spectra, as ``scatclust.SpectraFilterBank`` builds them.

    Parameters
    ----------
    N, J : int
        Signal length and number of octaves (N >= 2**J).
    wavelet : {'battle_lemarie', 'morlet'}
    padding : {'symmetric', 'periodic'}
        P = 2N or N frequency samples.
    constants : (xi_BL, sigma_BL), optional
        Defaults to :func:`battle_lemarie_constants` (computed by quadrature).

    Returns
    -------
    dict with psi_f (J, P), phi_f (P,), xi (J,), sigma (J,), cut (J,), phi_cut, P.
    """
    from .filter_bank import gauss_1d, morlet_1d

    P = 2 * N if padding == "symmetric" else N
    xi = XI0 * 2.0 ** -np.arange(J)
    half = P // 2
    psi_f = np.zeros((J, P))
    if wavelet == "battle_lemarie":
        xi_bl, sig_bl = constants if constants is not None else battle_lemarie_constants()
        sigma = xi * sig_bl / xi_bl
        cuts = []
        k = np.arange(half + 1)
        for j in range(J):
            w = 2 * np.pi * xi_bl / xi[j] / P * k
            keep = w <= 4 * np.pi
            psi_f[j, : half + 1] = np.where(keep, battle_lemarie_psi_hat(w), 0.0) * nyquist_taper(k / P)
            cuts.append(int(np.nonzero(keep)[0][-1]))
        w = 2 * np.pi * xi_bl / xi[-1] / P * k
        keep = w <= 2 * np.pi
        side = np.where(keep, battle_lemarie_phi_hat(w), 0.0) * nyquist_taper(k / P)
        phi_cut = int(np.nonzero(keep)[0][-1])
        f = np.fft.fftfreq(P)
        phi_f = side[np.rint(np.abs(f) * P).astype(int)]
    else:
        sigma = np.array([_morlet_sigma(x) for x in xi])
        for j in range(J):
            psi_f[j] = morlet_1d(P, xi[j], sigma[j])
        phi_f = gauss_1d(P, 0.1 / 2**J)
        cuts, phi_cut = [half] * J, half
    return {"psi_f": psi_f, "phi_f": phi_f, "xi": xi, "sigma": sigma, "cut": np.array(cuts),
            "phi_cut": phi_cut, "P": P}
