"""Morlet filter banks (Fourier domain), built by the C++ core.

Two parameterisations share the code:

``kind='kymatio'`` (default)
    kymatio 0.3's 1-D scattering filter bank, so that transforms match kymatio numerically:
    Q wavelets per octave from xi_max = max(1/(1+2^(3/Q)), 0.35) cycles/sample down to the
    bandwidth floor sigma0/2^J, then Q-1 constant-bandwidth wavelets paving the lowest
    frequencies; Gaussian low-pass phi with bandwidth sigma0/T. Filters are analytic Morlet
    wavelets with the zero-mean (kappa) correction, periodised in frequency and normalised
    to unit L1 norm in time. Signals are padded to ``N_padded`` (a power of two covering
    three low-pass supports each side, capped at 3N-2).
``kind='spectra'``
    The scattering-spectra parameterisation: one wavelet per octave (Q=1) centred at
    xi_j = 0.425 * 2^-j, j = 0..J-1, with the same bandwidth rule; phi at scale T.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _core
from ._array import check_choice, check_int

__all__ = ["MorletFilterBank"]


def _parse_Q(Q):
    if isinstance(Q, numbers.Integral) and not isinstance(Q, bool):
        Q = (int(Q), 1)
    elif isinstance(Q, (tuple, list)) and 1 <= len(Q) <= 2:
        Q = tuple(Q) + ((1,) if len(Q) == 1 else ())
    else:
        raise TypeError(f"Q={Q!r} must be an int or a tuple (Q1, Q2) of ints (wavelets per octave)")
    return (check_int(Q[0], "Q[0]", 1, 64), check_int(Q[1], "Q[1]", 1, 64))


class MorletFilterBank:
    """Morlet wavelets and Gaussian low-pass in the Fourier domain.

    Parameters
    ----------
    N : int
        Signal length in samples (>= 2).
    J : int
        Number of octaves (1..24); the largest wavelet scale is about 2^J samples.
    Q : int or (int, int)
        Wavelets per octave for the first and second order (default (1, 1); an int Q means (Q, 1)).
    T : float, optional
        Averaging scale of the low-pass phi in samples, in [1, N]. Default 2^J
        (must then be <= N).
    kind : {'kymatio', 'spectra'}
        Parameterisation (see module docstring).
    r_psi, sigma0, alpha : float
        kymatio's constants: wavelet overlap at the half-octave point (sqrt(1/2)), low-pass
        bandwidth factor (0.1), and aliasing safety factor for subsampling (5).

    Attributes
    ----------
    N_padded, pad_left, pad_right : int
        Length the transforms pad to, and the padding on each side.
    psi1_f, psi2_f : ndarray, float64, shape (n_filters, N_padded)
        Fourier transforms (real-valued) of the first / second order wavelets.
    phi_f : ndarray, float64, shape (N_padded,)
    xi1, sigma1, j1 / xi2, sigma2, j2 : ndarray
        Centre frequencies and bandwidths (cycles per sample) and the maximal dyadic
        subsampling exponent of every wavelet.

    Examples
    --------
    >>> from scatclust import MorletFilterBank
    >>> fb = MorletFilterBank(N=4096, J=8, Q=8)
    >>> fb.psi1_f.shape[1] == fb.N_padded
    True
    >>> round(float(fb.xi1[0]), 4)     # kymatio's xi_max = max(1 / (1 + 2**(3/Q)), 0.35)
    0.4354
    """

    def __init__(self, N, J, Q=1, T=None, kind="kymatio", r_psi=math.sqrt(0.5), sigma0=0.1, alpha=5.0):
        N = check_int(N, "N", 2, 2**30)
        J = check_int(J, "J", 1, 24)
        Q1, Q2 = _parse_Q(Q)
        check_choice(kind, "kind", ("kymatio", "spectra"))
        if T is None:
            T = 2**J
            if T > N:
                raise ValueError(f"T defaults to 2**J = {T}, which exceeds N={N}; "
                                 f"pass T <= N explicitly or use J <= {int(math.log2(N))}")
        if isinstance(T, bool) or not isinstance(T, numbers.Real) or not math.isfinite(T):
            raise TypeError(f"T={T!r} must be a finite number of samples")
        if not 1 <= T <= N:
            raise ValueError(f"T={T} is out of range; valid range is [1, N={N}] (averaging scale in samples)")
        for name, v in (("r_psi", r_psi), ("sigma0", sigma0), ("alpha", alpha)):
            if not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name}={v!r} must be a positive finite number")
        if kind == "spectra" and (Q1, Q2) != (1, 1):
            raise ValueError(f"Q={Q!r}: kind='spectra' uses one wavelet per octave, pass Q=1")
        core = _core.MorletFilterBankCore(N, J, Q1, Q2, float(T), kind, float(r_psi), float(sigma0), float(alpha))
        self.N, self.J, self.Q, self.T, self.kind = N, J, (Q1, Q2), T, kind
        self.r_psi, self.sigma0, self.alpha = float(r_psi), float(sigma0), float(alpha)
        self.log2_T = int(core.log2_T)
        self.N_padded, self.pad_left, self.pad_right = int(core.N_padded), int(core.pad_left), int(core.pad_right)
        self.ind_start, self.ind_end = list(core.ind_start), list(core.ind_end)
        self.psi1_f = _readonly(core.psi1_f)
        self.psi2_f = _readonly(core.psi2_f)
        self.phi_f = _readonly(core.phi_f)
        i1, i2 = core.psi1_info, core.psi2_info
        self.xi1, self.sigma1, self.j1 = (np.asarray(i1[k]) for k in ("xi", "sigma", "j"))
        self.xi2, self.sigma2, self.j2 = (np.asarray(i2[k]) for k in ("xi", "sigma", "j"))
        self.phi_sigma = float(core.phi_info["sigma"][0])

    def __repr__(self):
        return (f"MorletFilterBank(N={self.N}, J={self.J}, Q={self.Q}, T={self.T}, kind={self.kind!r}; "
                f"{len(self.xi1)} first-order and {len(self.xi2)} second-order wavelets, N_padded={self.N_padded})")

    @property
    def n_filters(self):
        """Number of first-order wavelets."""
        return len(self.xi1)

    def frequencies(self, fs=1.0, order=1):
        """Centre frequencies of the wavelets in Hz for sampling rate ``fs`` (default cycles/sample)."""
        check_choice(order, "order", (1, 2))
        return (self.xi1 if order == 1 else self.xi2) * float(fs)

    def time_domain(self, order=1):
        """Wavelets in time, complex (n_filters, N_padded), centred at index 0 (circular)."""
        check_choice(order, "order", (1, 2))
        return np.fft.ifft(self.psi1_f if order == 1 else self.psi2_f, axis=-1)

    def littlewood_paley(self, order=1):
        """Littlewood–Paley sum: sum over wavelets of |psi_f|^2 plus |phi_f|^2, per frequency bin.

        For an analytic bank it is close to 1 on (0, xi_max] and near zero on negative
        frequencies; the bounds are documented and tested in tests/test_filter_bank.py.
        """
        check_choice(order, "order", (1, 2))
        psi = self.psi1_f if order == 1 else self.psi2_f
        return (psi**2).sum(axis=0) + self.phi_f**2

    def meta(self, order=1):
        """Metadata of every wavelet: dict of arrays xi, sigma, j (no computation)."""
        check_choice(order, "order", (1, 2))
        if order == 1:
            return {"xi": self.xi1.copy(), "sigma": self.sigma1.copy(), "j": self.j1.copy()}
        return {"xi": self.xi2.copy(), "sigma": self.sigma2.copy(), "j": self.j2.copy()}


def _readonly(a):
    a = np.asarray(a)
    a.flags.writeable = False
    return a
