"""Filter banks of the scattering spectra (one analytic wavelet per octave), built by the C++ core.

``wavelet='battle_lemarie'`` (default)
    Cubic-spline Battle–Lemarié wavelets (Mallat, "A Wavelet Tour of Signal Processing",
    sec. 7.1), as in the scattering-spectra literature (Morel et al. 2022), built in the
    Fourier domain:

    * mother functions: phi^(w) = w^-4 / sqrt(S8(w)) and
      |psi^(w)| = w^-4 sqrt(S8(w/2 + pi) / (S8(w) S8(w/2))) with S8(w) = sum_k (w + 2k pi)^-8
      (closed form in ``cpp/include/scatclust/filter_bank.hpp``); the phase exp(-iw/2) of psi^
      is dropped, so every filter is real and zero-phase.
    * centre frequency: the energy centroid of the mother wavelet's main lobe,
      xi_BL = int f |psi^(2 pi f)|^2 df / int |psi^(2 pi f)|^2 df over f in [0, 2] cycles per
      unit = 0.7592762123528923 (``BATTLE_LEMARIE_XI``; this is the constant the
      scattering-spectra code uses, 0.75 * 1.01247), and the bandwidth ``sigma`` is the RMS
      width of the same weights (0.16880655983415793 per unit of xi_BL, scaled).
      Wavelet j is the mother dilated by s_j = xi_BL / xi_j with xi_j = 0.425 * 2^-j
      cycles/sample, j = 0..J-1: psi_f[j, k] = |psi^(2 pi s_j k / P)|. (The peak of |psi^| is
      at 0.8957 xi_j; its half-power points at 0.658 xi_j and 1.318 xi_j.)
    * analytic: negative frequencies (k > P/2) are zero. The main lobes of psi_0 and psi_1
      (and of phi for J = 1) reach past Nyquist; an analytic filter must end there, and an
      abrupt end would be a jump, i.e. a 1/t tail in time (6e-4 of the peak 1024 samples
      away for psi_0). These lobes are multiplied by a raised cosine falling from 1 at 0.4 to
      0 at 0.5 cycles/sample (``nyquist_taper``), which makes the filters C^1 with tails
      falling like 1/t^3 (6e-9 at 1024 samples): edge effects and block transforms stay
      local. The taper moves psi_0's centroid from 0.386 to 0.356 cycles/sample.
    * tails: |psi^| rises and falls on (0, 4 pi) and its first local minimum for w > 0 is its
      zero at w = 4 pi; every sample beyond it (the side lobes) is set to zero, i.e. psi_j
      is supported on f in [0, 2 xi_j / xi_BL] = [0, 2.634 xi_j], tapered to 0 at Nyquist for j = 0, 1
      whose main lobes reach past 0.5. ``cut[j]`` is the last index of the kept lobe.
    * low-pass: phi_f[k] = phi^(2 pi s_{J-1} f_k) (f_k signed, numpy fftfreq order), the same
      dilation as the last wavelet, so that |phi|^2 + sum_j |psi_j|^2 = 1 on positive
      frequencies before the cuts (the orthonormal-wavelet identity); cut beyond its first
      local minimum, its zero at |f| = xi_{J-1} / xi_BL. phi_f[0] = 1.

``wavelet='morlet'``
    kymatio-style Morlet wavelets at the same xi_j with the Q = 1 bandwidth rule of
    ``MorletFilterBank(kind='spectra')`` (sigma_j = 0.2831 xi_j), Gaussian low-pass with
    sigma = 0.1 / 2^J, each unit L1 norm in time (so phi_f[0] = 1), evaluated on P points;
    not truncated, and their negative frequencies hold the small -kappa Gaussian of the
    zero-mean correction (not exactly analytic).

Padding ``'symmetric'`` samples the filters at P = 2N points (the signal is concatenated with
its time reverse); ``'periodic'`` at P = N.
"""
from __future__ import annotations

import numpy as np

from . import _core
from ._array import check_choice, check_int

__all__ = ["SpectraFilterBank", "BATTLE_LEMARIE_XI", "BATTLE_LEMARIE_SIGMA"]

BATTLE_LEMARIE_XI = float(_core.BATTLE_LEMARIE_XI)
BATTLE_LEMARIE_SIGMA = float(_core.BATTLE_LEMARIE_SIGMA)

WAVELETS = ("battle_lemarie", "morlet")
PADDINGS = ("symmetric", "periodic")


def check_spectra_geometry(N, J):
    """Validate (N, J) for the scattering spectra; returns ints. Messages name the argument."""
    N = check_int(N, "N", 2, 2**29)
    J = check_int(J, "J", 1, 24)
    if N < 2**J:
        raise ValueError(f"J={J} is too large for N={N}: the largest wavelet needs N >= 2**J = {2**J} "
                         f"samples; use J <= {int(np.floor(np.log2(N)))} or a longer signal")
    return N, J


class SpectraFilterBank:
    """Analytic wavelets (one per octave) and low-pass of the scattering spectra, Fourier domain.

    Parameters
    ----------
    N : int
        Signal length in samples (N >= 2**J).
    J : int
        Number of octaves; wavelet j is centred at xi_j = 0.425 * 2^-j cycles/sample.
    wavelet : {'battle_lemarie', 'morlet'}
        Wavelet family (module docstring: construction, centre frequency, tail cut).
    padding : {'symmetric', 'periodic'}
        Symmetric: filters of length P = 2N for the signal concatenated with its reverse;
        periodic: P = N.

    Attributes
    ----------
    P : int
        Number of frequency samples, f_k = k / P cycles/sample (numpy fft order).
    psi_f : ndarray, float64, shape (J, P)
        Real Fourier transforms of the wavelets (zero on negative frequencies for BL).
    phi_f : ndarray, float64, shape (P,)
        Real, symmetric low-pass; phi_f[0] == 1.
    xi, sigma : ndarray, float64, shape (J,)
        Centre frequencies (definition in the module docstring) and bandwidths, cycles/sample.
    cut : ndarray, int, shape (J,)
        Last frequency index of each wavelet's kept main lobe; ``phi_cut`` the same for phi.

    Examples
    --------
    >>> from scatclust import SpectraFilterBank
    >>> fb = SpectraFilterBank(N=1024, J=6)
    >>> fb.psi_f.shape, fb.P
    ((6, 2048), 2048)
    >>> round(float(fb.xi[1]), 4)
    0.2125
    """

    def __init__(self, N, J, wavelet="battle_lemarie", padding="symmetric"):
        N, J = check_spectra_geometry(N, J)
        check_choice(wavelet, "wavelet", WAVELETS)
        check_choice(padding, "padding", PADDINGS)
        core = _core.SpectraFilterBankCore(N, J, wavelet, padding)
        self.N, self.J, self.wavelet, self.padding = N, J, wavelet, padding
        self.P = int(core.P)
        self.psi_f = _readonly(core.psi_f)
        self.phi_f = _readonly(core.phi_f)
        self.xi = _readonly(np.asarray(core.xi, dtype=np.float64))
        self.sigma = _readonly(np.asarray(core.sigma, dtype=np.float64))
        self.cut = _readonly(np.asarray(core.cut, dtype=np.int64))
        self.phi_cut = int(core.phi_cut)

    def __repr__(self):
        return (f"SpectraFilterBank(N={self.N}, J={self.J}, wavelet={self.wavelet!r}, "
                f"padding={self.padding!r}; P={self.P})")

    @property
    def padding_mode(self):
        """Integer padding code of the C++ kernels: 0 symmetric, 1 periodic."""
        return 0 if self.padding == "symmetric" else 1

    def frequencies(self, fs=1.0):
        """Centre frequencies in Hz for sampling rate ``fs`` (default: cycles per sample)."""
        return self.xi * float(fs)

    def littlewood_paley(self):
        """sum_j |psi_f[j]|^2 + |phi_f|^2 per frequency bin, shape (P,).

        For the Battle–Lemarié bank it equals 1 on positive frequencies up to the tail cuts
        (about 0.85 at the worst bin) and |phi_f|^2 on negative frequencies.
        """
        return (self.psi_f**2).sum(axis=0) + self.phi_f**2

    def describe(self):
        """Text summary: one line per filter with xi, sigma and its support (no plotting)."""
        lines = [repr(self)]
        for j in range(self.J):
            lines.append(f"  psi_{j}: xi={self.xi[j]:.6g} sigma={self.sigma[j]:.6g} cycles/sample, "
                         f"non-zero for k <= {self.cut[j]} (f <= {self.cut[j] / self.P:.6g})")
        lines.append(f"  phi: phi_f[0]={self.phi_f[0]:.6g}, non-zero for |k| <= {self.phi_cut} "
                     f"(|f| <= {self.phi_cut / self.P:.6g})")
        return "\n".join(lines)

    def meta(self):
        """Per-wavelet metadata: dict of arrays j, xi, sigma, cut (no computation)."""
        return {"j": np.arange(self.J), "xi": self.xi.copy(), "sigma": self.sigma.copy(), "cut": self.cut.copy()}


def _readonly(a):
    a = np.asarray(a)
    a.flags.writeable = False
    return a
