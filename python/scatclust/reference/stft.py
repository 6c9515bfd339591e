"""Reference short-time Fourier transform: plain numpy, one frame at a time.

The obvious implementation of the conventions of :class:`scatclust.STFT` (which are those of
``scipy.signal.ShortTimeFFT`` with ``fft_mode='onesided'``). It is slow on purpose: it is
the oracle the C++ kernels are tested against and the baseline benchmarks compare with.

Frame ``p`` covers samples ``k = p*hop - m_num//2 + j`` for ``j in range(m_num)``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["dual_window", "stft", "istft"]

_NP_PAD = {
    "zeros": dict(mode="constant"),
    "edge": dict(mode="edge"),
    "even": dict(mode="reflect", reflect_type="even"),
    "odd": dict(mode="reflect", reflect_type="odd"),
}


def _roll_amount(phase_shift, m_num):
    return (phase_shift + m_num // 2) % m_num


def dual_window(win, hop):
    """Canonical dual window ``win / sum_k win[. + k*hop]**2`` (sum over all overlapping shifts)."""
    win = np.asarray(win, dtype=np.float64)
    m = win.size
    w2 = win * win
    dd = np.zeros(m)
    for shift in range(-((m - 1) // hop) * hop, m, hop):
        # add w2 shifted by `shift` samples, restricted to [0, m)
        lo, hi = max(0, shift), min(m, m + shift)
        dd[lo:hi] += w2[lo - shift:hi - shift]
    return win / dd


def stft(x, win, hop, *, mfft=None, phase_shift=0, p0, p1, padding="zeros"):
    """Forward STFT of frames ``p0 <= p < p1`` of the last axis of ``x``.

    Returns a complex128 array of shape ``x.shape[:-1] + (mfft//2 + 1, p1 - p0)``.
    """
    x = np.asarray(x, dtype=np.float64)
    win = np.asarray(win, dtype=np.float64)
    m = win.size
    mid = m // 2
    mfft = m if mfft is None else mfft
    n = x.shape[-1]
    # The part of x that the frames touch, padded with numpy's own np.pad.
    k_start = p0 * hop - mid
    k_stop = (p1 - 1) * hop - mid + m
    # scipy pads the slice that reaches one hop beyond the last frame; np.pad's reflection
    # depends on the slice length, so use the same slice.
    k_stop_slice = p1 * hop - mid + m
    i0, i1 = max(k_start, 0), min(k_stop_slice, n)
    pad = [(0, 0)] * (x.ndim - 1) + [(i0 - k_start, max(k_stop_slice - n, 0))]
    xp = np.pad(x[..., i0:i1], pad, **_NP_PAD[padding])
    assert xp.shape[-1] >= k_stop - k_start
    S = np.empty(x.shape[:-1] + (mfft // 2 + 1, p1 - p0), dtype=np.complex128)
    for t in range(p1 - p0):
        seg = np.zeros(x.shape[:-1] + (mfft,))
        seg[..., :m] = xp[..., t * hop:t * hop + m] * win
        if phase_shift is not None:
            seg = np.roll(seg, -_roll_amount(phase_shift, m), axis=-1)
        S[..., :, t] = np.fft.rfft(seg, axis=-1)
    return S


def istft(S, dual_win, hop, *, k0, k1, mfft=None, phase_shift=0, p_first, q0=None, q1=None):
    """Overlap-add inverse: frames ``q0 <= q < q1`` of ``S`` (column 0 is frame ``p_first``).

    Returns a float64 array of shape ``S.shape[:-2] + (k1 - k0,)`` holding samples
    ``k0 <= k < k1``.
    """
    S = np.asarray(S)
    dual_win = np.asarray(dual_win, dtype=np.float64)
    m = dual_win.size
    mid = m // 2
    mfft = m if mfft is None else mfft
    q0 = p_first if q0 is None else q0
    q1 = p_first + S.shape[-1] if q1 is None else q1
    x = np.zeros(S.shape[:-2] + (k1 - k0,))
    for q in range(q0, q1):
        seg = np.fft.irfft(S[..., :, q - p_first], n=mfft, axis=-1)
        if phase_shift is not None:
            seg = np.roll(seg, _roll_amount(phase_shift, m), axis=-1)
        frame = seg[..., :m] * dual_win
        start = q * hop - mid
        a, b = max(start, k0), min(start + m, k1)
        if a < b:
            x[..., a - k0:b - k0] += frame[..., a - start:b - start]
    return x
