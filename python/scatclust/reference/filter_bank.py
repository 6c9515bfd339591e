"""Plain-numpy Morlet filter banks: the oracle for ``scatclust._core``'s filter bank.

Written from the definitions used by kymatio 0.3's 1-D scattering (``kymatio.scattering1d``)
so that every number matches it (filters to ~1e-15 relative, parameters bit for bit), in a
layout that reads top to bottom:

* one filter:           :func:`morlet_1d`, :func:`gauss_1d`
* filter parameters:    :func:`sigma_from_xi`, :func:`max_dyadic_subsampling`, :func:`morlet_params`
* padding geometry:     :func:`temporal_support`, :func:`padding_geometry`, :func:`border_indices`
* the whole bank:       :func:`morlet_filter_bank`

Frequencies are in cycles per sample (Nyquist = 0.5). Every filter is real in the Fourier
domain and sampled at ``np.fft.fftfreq(N)`` ordering.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "morlet_1d",
    "gauss_1d",
    "sigma_from_xi",
    "max_dyadic_subsampling",
    "temporal_support",
    "morlet_params",
    "padding_geometry",
    "border_indices",
    "morlet_filter_bank",
]

# Amplitude below which the Gaussian tails are considered negligible when choosing how many
# frequency periods to sum (kymatio's adaptive_choice_P eps).
_PERIOD_EPS = 1e-7
# More periods than this are never summed (kymatio's cap), even for very wide filters.
_MAX_PERIODS = 5


def _n_periods(sigma: float) -> int:
    """Smallest P with exp(-(P-1)^2 / (2 sigma^2)) < 1e-7, at least 2, capped at 5.

    The Gaussian of width ``sigma`` is evaluated on the frequency interval [1-P, P) (2P-1
    periods of the unit interval) and folded back onto [0, 1).
    """
    half_width = math.sqrt(-2.0 * sigma**2 * math.log(_PERIOD_EPS))
    return min(int(math.ceil(half_width + 1)), _MAX_PERIODS)


def _fold_periods(h_f: np.ndarray, n_periods: int) -> np.ndarray:
    """Fold ``n_periods`` consecutive periods of a frequency response onto one, by averaging.

    Sampling in time is periodisation in frequency; kymatio uses the mean (not the sum), so
    the overall scale is fixed later by the L1 normalisation anyway.
    """
    return h_f.reshape(n_periods, -1).mean(axis=0)


def morlet_1d(N: int, xi: float | None, sigma: float) -> np.ndarray:
    """Fourier transform of an analytic Morlet wavelet (``xi > 0``) or a Gaussian (``xi`` 0/None).

    In time, ``psi(t) = g_sigma(t) (exp(2i pi xi t) - kappa)`` with ``kappa`` chosen so that
    ``psi`` has zero mean; in frequency, ``psi_f(w) = G(w - xi) - kappa G(w)`` with
    ``G(w) = exp(-w^2 / (2 sigma^2))``, summed over enough periods that the folded result is
    smooth, then scaled to unit L1 norm in time.

    Parameters
    ----------
    N : int
        Number of frequency samples (``np.fft.fftfreq(N)`` order).
    xi : float or None
        Centre frequency in cycles per sample; 0 or None gives the Gaussian low-pass filter.
    sigma : float
        Gaussian bandwidth in cycles per sample.

    Returns
    -------
    ndarray, shape (N,), float64
        Real frequency response; ``sum(abs(ifft(h_f))) == 1``.

    Examples
    --------
    >>> h_f = morlet_1d(256, 0.25, 0.02)
    >>> bool(abs(h_f[0]) < 1e-12), int(np.argmax(h_f))
    (True, 64)
    """
    N = int(N)
    P = _n_periods(sigma)
    n_periods = 2 * P - 1
    # Frequencies covering [1-P, P) with step 1/N: n_periods copies of the unit interval.
    # (kymatio has a special case for P == 1, which sigma > 0 never reaches: P >= 2.)
    freqs = np.arange((1 - P) * N, P * N, dtype=np.float64) / float(N)

    low_f = _fold_periods(np.exp(-(freqs**2) / (2 * sigma**2)), n_periods)
    if xi:
        gabor_f = _fold_periods(np.exp(-((freqs - xi) ** 2) / (2 * sigma**2)), n_periods)
        # Remove the Gabor's DC with a multiple of the low-pass: psi_f[0] == 0 exactly.
        kappa = gabor_f[0] / low_f[0]
        h_f = gabor_f - kappa * low_f
    else:
        h_f = low_f
    return h_f / np.abs(np.fft.ifft(h_f)).sum()


def gauss_1d(N: int, sigma: float) -> np.ndarray:
    """Fourier transform of the Gaussian low-pass filter of width ``sigma``; see :func:`morlet_1d`."""
    return morlet_1d(N, None, sigma)


def sigma_from_xi(xi: float, Q: int, r_psi: float = math.sqrt(0.5)) -> float:
    """Bandwidth of a Morlet wavelet at centre frequency ``xi`` in a bank with ``Q`` per octave.

    Neighbours ``xi`` and ``xi 2^(-1/Q)`` then cross at the fraction ``r_psi`` of their peak:
    ``sigma = xi (1 - 2^(-1/Q)) / (1 + 2^(-1/Q)) / sqrt(2 ln(1/r_psi))``.
    """
    ratio = 1.0 / math.pow(2, 1.0 / Q)
    return xi * ((1 - ratio) / (1 + ratio)) * (1.0 / math.sqrt(2 * math.log(1.0 / r_psi)))


def max_dyadic_subsampling(xi: float, sigma: float, alpha: float) -> int:
    """Largest ``j`` such that the band edge ``min(xi + alpha sigma, 1/2)`` is below ``2^-(j+1)``.

    Subsampling the filtered signal by ``2^j`` then aliases only the part of the response
    beyond ``alpha`` bandwidths from the centre.
    """
    band_edge = min(xi + alpha * sigma, 0.5)
    return int(math.floor(-math.log2(band_edge)) - 1)


def temporal_support(h_f: np.ndarray, criterion: float = 1e-3) -> int | None:
    """Half-length ``n`` of the time support outside which the filter's L1 mass is <= criterion.

    The filter(s) are assumed centred at t = 0 and symmetric in modulus. ``n`` is the smallest
    integer with ``sum_{t=n}^{N/2-1} |h[t]| <= criterion`` for every row (so truncating to
    [-n, n] changes a convolution by at most ``criterion * max|x|``), reported as the index + 1
    as kymatio does.

    Parameters
    ----------
    h_f : ndarray, shape (N,) or (n_filters, N)
        Frequency responses.
    criterion : float
        Tolerated L1 mass of the tail.

    Returns
    -------
    int or None
        The support, or None if even the last half-sample carries more than ``criterion``
        (the filter does not fit in N samples; kymatio then uses N // 2 and warns).
    """
    h = np.abs(np.fft.ifft(np.atleast_2d(h_f), axis=-1))
    half = h.shape[-1] // 2
    # tail[:, n] = sum_{t >= n} |h[t]| over the positive-time half.
    tail = np.cumsum(h[:, :half][:, ::-1], axis=-1)[:, ::-1]
    worst = tail.max(axis=0)
    ok = np.flatnonzero(worst <= criterion)
    if ok.size == 0:
        return None
    return int(ok[0]) + 1


def morlet_params(sigma_min: float, Q: int, alpha: float = 5.0,
                  r_psi: float = math.sqrt(0.5)) -> list[tuple[float, float, int]]:
    """Centre frequencies, bandwidths and maximal subsamplings of one order's wavelets.

    From ``xi_max = max(1/(1 + 2^(3/Q)), 0.35)`` the centre frequencies fall geometrically by
    ``2^(1/Q)`` (constant Q) while the bandwidth stays above ``sigma_min 2^(1/Q)``; below the
    last of these ("elbow") ``Q - 1`` filters of bandwidth ``sigma_min`` are spaced linearly
    down towards 0 (constant bandwidth).

    Returns
    -------
    list of (xi, sigma, j)
        Highest frequency first.
    """
    step = math.pow(2, 1 / Q)
    xi_max = max(1.0 / (1.0 + math.pow(2.0, 3.0 / Q)), 0.35)
    sigma_max = sigma_from_xi(xi_max, Q, r_psi)

    xis: list[float] = []
    sigmas: list[float] = []
    if sigma_max <= sigma_min:
        # No constant-Q filter fits; kymatio then spaces the linear part below sigma_max.
        elbow_xi = sigma_max
    else:
        xi, sigma = xi_max, sigma_max
        xis.append(xi)
        sigmas.append(sigma)
        while sigma > sigma_min * step:
            # Repeated division (not xi_max * 2^(-n/Q)) keeps the values bit-identical to kymatio.
            xi, sigma = xi / step, sigma / step
            xis.append(xi)
            sigmas.append(sigma)
        elbow_xi = xi

    for q in range(1, Q):
        xis.append(elbow_xi - q / Q * elbow_xi)
        sigmas.append(sigma_min)

    return [(xi, sigma, max_dyadic_subsampling(xi, sigma, alpha)) for xi, sigma in zip(xis, sigmas)]


def _ceil_log2(n: int) -> int:
    return (int(n) - 1).bit_length()


def _floor_log2(n: int) -> int:
    return int(n).bit_length() - 1


def padding_geometry(N: int, T: float, sigma0: float = 0.1) -> tuple[int, int, int]:
    """Padded length and left/right padding for a signal of ``N`` samples averaged at scale ``T``.

    Pads by three times the temporal support of the low-pass ``gauss_1d(N, sigma0 / T)`` on
    each side, rounded up to a power of two, but never beyond ``2^floor(log2(3N - 2))`` so that
    neither side needs more than N - 1 reflected samples. The extra samples are split with the
    smaller half on the left.

    Returns
    -------
    (N_padded, pad_left, pad_right)
    """
    N = int(N)
    if N < 1:
        raise ValueError(f"N={N} must be >= 1 (signal length in samples)")
    support = temporal_support(gauss_1d(N, sigma0 / T))
    if support is None:
        support = N // 2  # kymatio's fallback when the low-pass is longer than the signal
    min_to_pad = 3 * support
    log2_padded = min(_ceil_log2(N + 2 * min_to_pad), _floor_log2(3 * N - 2))
    N_padded = 2**log2_padded
    pad_left = (N_padded - N) // 2
    return N_padded, pad_left, N_padded - N - pad_left


def border_indices(log2_T: int, J: int, i0: int, i1: int) -> tuple[list[int], list[int]]:
    """Where the unpadded signal ``padded[i0:i1]`` lies after subsampling by ``2^k``.

    Each halving rounds both ends up (a sample survives subsampling by 2 only at even
    positions), for k = 0 .. max(log2_T, J) + 1. kymatio stops at max(log2_T, J); the extra
    level matches ``scatclust._core``, whose second order can reach it.

    Returns
    -------
    ind_start, ind_end : list of int
        ``ind_start[k]``, ``ind_end[k]`` bound the signal after subsampling by ``2^k``.
    """
    ind_start, ind_end = [int(i0)], [int(i1)]
    for _ in range(max(log2_T, J) + 1):
        ind_start.append(-(-ind_start[-1] // 2))
        ind_end.append(-(-ind_end[-1] // 2))
    return ind_start, ind_end


def _as_q_pair(Q) -> tuple[int, int]:
    if isinstance(Q, numbers.Integral):
        Q = (int(Q), 1)
    elif isinstance(Q, tuple) and len(Q) == 1:
        Q = (int(Q[0]), 1)
    elif isinstance(Q, tuple) and len(Q) == 2:
        Q = (int(Q[0]), int(Q[1]))
    else:
        raise ValueError(f"Q={Q!r} must be an int or a tuple (Q1,) or (Q1, Q2)")
    if min(Q) < 1:
        raise ValueError(f"Q={Q} must be >= 1 (wavelets per octave)")
    return Q


def _params_dict(params: list[tuple[float, float, int]]) -> dict[str, np.ndarray]:
    return {
        "xi": np.array([p[0] for p in params], dtype=np.float64),
        "sigma": np.array([p[1] for p in params], dtype=np.float64),
        "j": np.array([p[2] for p in params], dtype=np.int64),
    }


def morlet_filter_bank(N: int, J: int, Q=1, T: float | None = None, kind: str = "kymatio",
                       r_psi: float = math.sqrt(0.5), sigma0: float = 0.1,
                       alpha: float = 5.0) -> dict:
    """All filters and geometry of a two-order scattering for signals of ``N`` samples.

    Parameters
    ----------
    N : int
        Signal length in samples.
    J : int
        Number of octaves; the largest wavelet has bandwidth ``sigma0 / 2^J``.
    Q : int or (int, int)
        Wavelets per octave at the first and second order (an int means ``(Q, 1)``).
    T : float, optional
        Averaging scale of the low-pass filter in samples (``1 <= T <= N``); default ``2^J``.
    kind : {'kymatio', 'spectra'}
        'kymatio' reproduces kymatio 0.3's bank; 'spectra' uses ``Q = 1`` and exactly J
        wavelets ``xi_j = 0.425 2^-j`` (j = 0..J-1) at both orders, bandwidth
        ``sigma_from_xi(xi_j, 1, r_psi)``.
    r_psi, sigma0, alpha : float
        Neighbour crossing level, low-pass width at scale 1, aliasing tolerance.

    Returns
    -------
    dict
        ``'N', 'N_padded', 'pad_left', 'pad_right', 'log2_T'`` (int);
        ``'psi1_f'`` (n1, N_padded), ``'psi2_f'`` (n2, N_padded), ``'phi_f'`` (N_padded,),
        float64 frequency responses; ``'psi1', 'psi2', 'phi'``: dicts of arrays
        ``{'xi', 'sigma', 'j'}`` (length n1, n2, 1); ``'ind_start', 'ind_end'``: lists from
        :func:`border_indices`.

    Examples
    --------
    >>> bank = morlet_filter_bank(1000, J=6, Q=(8, 2))
    >>> bank['N_padded'], bank['psi1_f'].shape[0] == len(bank['psi1']['xi'])
    (2048, True)
    """
    N, J = int(N), int(J)
    Q1, Q2 = _as_q_pair(Q)
    if N < 1:
        raise ValueError(f"N={N} must be >= 1 (signal length in samples)")
    if J < 0:
        raise ValueError(f"J={J} must be >= 0 (number of octaves)")
    if T is None:
        T = 2**J
    if not (1 <= T <= N):
        raise ValueError(f"T={T} must be in [1, N={N}] (averaging scale in samples)")
    if kind not in ("kymatio", "spectra"):
        raise ValueError(f"kind={kind!r} must be 'kymatio' or 'spectra'")

    log2_T = int(math.floor(math.log2(T)))
    N_padded, pad_left, pad_right = padding_geometry(N, T, sigma0)
    ind_start, ind_end = border_indices(log2_T, J, pad_left, pad_left + N)

    if kind == "kymatio":
        sigma_min = sigma0 / math.pow(2, J)
        params1 = morlet_params(sigma_min, Q1, alpha, r_psi)
        params2 = morlet_params(sigma_min, Q2, alpha, r_psi)
    else:
        if (Q1, Q2) != (1, 1):
            raise ValueError(f"kind='spectra' uses one wavelet per octave: Q=({Q1}, {Q2}) "
                             "must be (1, 1)")
        params1 = []
        for j in range(J):
            xi = 0.425 * 2.0 ** (-j)
            sigma = sigma_from_xi(xi, 1, r_psi)
            params1.append((xi, sigma, max_dyadic_subsampling(xi, sigma, alpha)))
        params2 = list(params1)

    def stack(params):
        return np.array([morlet_1d(N_padded, xi, sigma) for xi, sigma, _ in params],
                        dtype=np.float64).reshape(len(params), N_padded)

    sigma_low = sigma0 / T
    return {
        "N": N,
        "N_padded": N_padded,
        "pad_left": pad_left,
        "pad_right": pad_right,
        "log2_T": log2_T,
        "psi1_f": stack(params1),
        "psi2_f": stack(params2),
        "phi_f": gauss_1d(N_padded, sigma_low),
        "psi1": _params_dict(params1),
        "psi2": _params_dict(params2),
        "phi": _params_dict([(0.0, sigma_low, log2_T)]),
        "ind_start": ind_start,
        "ind_end": ind_end,
    }
