"""Time-envelope features of nested windows (bench option ``--envelope``: the quantiles).

Scattering first-layer power pooled over short blocks, summarised per window by how it
evolves *within* the window. Built for the Mars-like record's long sources at the large
scales (``bench/wind_quake_ceiling.py`` measures why): the pyramid's window-mean moments
see a quake (impulsive onset, exponentially decaying coda) and a wind burst (slow cosine
ramps, 20-s gusts, broadband 0.1-4 Hz) only through their average spectrum, while DEC's
spectrogram input sees the time evolution.

Two blocks share steps 1-2; ``envelope_quantiles`` (step 3a) is the bench's ``--envelope``
block, ``envelope_summaries`` (step 3b) the first idea, measured and not chosen (it scored
lower on the tuning records, see bench/RESULTS.md).

Definition, for every octave j = 0..J (j = J: the low-pass):

1. Block power. ``ScatteringSpectra`` (family 'power', ``estimator='pool'``, kernel = stride
   = ``block``) of the whole record gives p_q[j] = sum over the C components of
   <|x_c * psi_j|^2> on block q of ``block`` samples (the trace of the cross-channel power
   matrix: rotation-invariant).
2. Sub-blocks. A window of length s ending at sample ``end`` is cut into ``n_sub`` equal
   sub-blocks (each s / n_sub samples, a multiple of ``block``); P_i = mean of p_q over
   sub-block i, P = mean_i P_i (the window's power), r_i = log(P_i / P) (P_i floored at
   1e-12 P). t_i = (i + 1/2) / n_sub - 1/2 is the sub-block's centre time in window lengths.
3a. Quantiles: per octave, the n_sub values r_i sorted in increasing order (the empirical
   quantile function of the window's log-power envelope: shift-invariant in time, it says
   which share of the window is loud and by how much, e.g. a burst covering a fraction f of
   the window has its top f n_sub values near -log f). n_sub (J+1) features, j-major.
3b. Summaries: per octave, 6 features: max_i r_i (peak over mean), min_i r_i (trough over mean),
   std_i r_i (how much the power moves), the least-squares slope of r_i on t_i (log-power
   change per window length: negative for a decay, ~0 for stationary noise), the time
   t_{argmax} of the peak, and the mean of r_i after the peak minus r_peak (how far the power
   falls after its maximum: very negative for a decaying coda). Across octaves, J features:
   the Pearson correlation over i of r^j and r^{j+1} (a broadband envelope such as wind
   moves all octaves together; 0 when either is constant).

Output per (window, scale): quantiles n_sub (J+1); summaries 6 (J+1) + J features, first
the 6 per octave, j-major, then the J correlations. Windows and scales as :class:`scatclust.ScatteringPyramid` (right-aligned);
``window_end`` must be multiples of ``block``, every scale a multiple of ``block * n_sub``.

Memory: one record-wide transform of (C, L) (power only): ~0.05 GB for the 2-hour 'small'
record.
"""
from __future__ import annotations

import numbers

import numpy as np

import scatclust

__all__ = ["block_power", "envelope_quantiles", "envelope_summaries", "n_envelope_summaries"]


def block_power(x, J=7, block=16):
    """Channel-summed first-layer power per block: float64 (n_blocks, J+1).

    ``x`` (C, L) real; block q covers samples [q block, (q+1) block), q < L // block.
    """
    x = np.ascontiguousarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be (C, L); got shape {x.shape}")
    C, L = x.shape
    ss = scatclust.ScatteringSpectra(N=L, J=J, C=C, families=("power",), estimator="pool", kernel=block)
    out = np.asarray(ss(x[None]))[0].real.astype(np.float64)  # (n_coefficients, n_blocks)
    P = np.zeros((out.shape[1], J + 1))
    for i, d in enumerate(ss.meta()):
        P[:, d["j"]] += out[i]
    return P


def n_envelope_summaries(J=7):
    """Number of envelope summary features per (window, scale): 6 (J+1) + J."""
    return 6 * (J + 1) + J


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an int >= {minimum}")
    return int(value)


def _check_geometry(x, window_end, scales, J, block, n_sub):
    block = _check_int(block, "block", 1)
    n_sub = _check_int(n_sub, "n_sub", 3)
    J = _check_int(J, "J", 1)
    end = np.asarray(window_end)
    if end.ndim != 1 or not np.issubdtype(end.dtype, np.integer):
        raise ValueError(f"window_end must be a 1-D integer array; got {end.dtype} with shape {end.shape}")
    end = end.astype(np.int64)
    if np.any(end % block):
        raise ValueError(f"window_end must be multiples of block={block}; use block dividing the pyramid's hop")
    for s in scales:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 or s % (block * n_sub):
            raise ValueError(f"scale {s!r} must be a multiple of block * n_sub = {block * n_sub}; "
                             f"lower n_sub or block")
    if end.size and end.min() < max(scales):
        raise ValueError(f"window_end min {end.min()} < the largest scale {max(scales)}: windows must fit")
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be (C, L); got shape {x.shape}")
    if end.size and end.max() > x.shape[1]:
        raise ValueError(f"window_end max {end.max()} > record length {x.shape[1]}")
    return x, end, J, block, n_sub


def _sub_log_power(x, end, scales, J, block, n_sub):
    """r (n_windows, n_sub, J+1) of every scale (steps 1-2 of the module docstring)."""
    p = block_power(x, J, block)
    cs = np.concatenate([np.zeros((1, J + 1)), np.cumsum(p, 0)])  # cs[q] = sum of blocks < q
    eb = end // block
    tiny = np.finfo(np.float64).tiny
    for s in scales:
        m = s // block // n_sub  # blocks per sub-block
        b = (eb - s // block)[:, None] + m * np.arange(n_sub + 1)[None]  # sub-block boundaries (blocks)
        Pi = (cs[b[:, 1:]] - cs[b[:, :-1]]) / m  # (n_windows, n_sub, J+1)
        P = Pi.mean(1, keepdims=True)
        yield np.log(np.maximum(Pi, 1e-12 * P + tiny) / np.maximum(P, tiny))


def envelope_quantiles(x, window_end, scales, J=7, block=16, n_sub=16):
    """Sorted sub-block log powers (module docstring, step 3a) of every window and scale.

    Parameters
    ----------
    x : ndarray (C, L), float32 or float64
        The record.
    window_end : array of int, shape (n_windows,)
        Exclusive end sample of each window (``PyramidFeatures.window_end``), multiples of
        ``block``, each >= max(scales).
    scales : sequence of int
        Window lengths in samples, each a multiple of ``block * n_sub``.
    J : int
        Octaves (as the pyramid).
    block : int
        Pooling block in samples (default 16 = 0.8 s at 20 Hz).
    n_sub : int
        Sub-blocks per window (>= 3; default 16: 51 s sub-blocks at scale 16384 = 13.7 min).

    Returns
    -------
    ndarray float64, shape (n_windows, len(scales), n_sub (J + 1))
        Per octave j (j-major) the n_sub values log(P_i / P) in increasing order.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((3, 4096))
    >>> envelope_quantiles(x, np.array([2048, 4096]), (1024, 2048), J=4, block=16, n_sub=8).shape
    (2, 2, 40)
    """
    x, end, J, block, n_sub = _check_geometry(x, window_end, scales, J, block, n_sub)
    out = np.empty((end.size, len(scales), n_sub * (J + 1)))
    for si, r in enumerate(_sub_log_power(x, end, scales, J, block, n_sub)):
        out[:, si] = np.sort(r, axis=1).transpose(0, 2, 1).reshape(end.size, -1)
    return out


def envelope_summaries(x, window_end, scales, J=7, block=16, n_sub=16):
    """Envelope summary features (module docstring, step 3b) of every window and scale.

    Parameters
    ----------
    x, window_end, scales, J, block, n_sub :
        As :func:`envelope_quantiles`.

    Returns
    -------
    ndarray float64, shape (n_windows, len(scales), 6 (J + 1) + J)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((3, 4096))
    >>> envelope_summaries(x, np.array([2048, 4096]), (1024, 2048), J=4, block=16, n_sub=8).shape
    (2, 2, 34)
    """
    x, end, J, block, n_sub = _check_geometry(x, window_end, scales, J, block, n_sub)
    t = (np.arange(n_sub) + 0.5) / n_sub - 0.5
    tc = t - t.mean()
    out = np.empty((end.size, len(scales), n_envelope_summaries(J)))
    for si, r in enumerate(_sub_log_power(x, end, scales, J, block, n_sub)):
        am = r.argmax(1)  # (n_windows, J+1)
        rmax = r.max(1)
        after = np.arange(n_sub)[None, :, None] > am[:, None, :]
        n_after = after.sum(1)
        fall = np.where(n_after > 0, (r * after).sum(1) / np.maximum(n_after, 1) - rmax, 0.0)
        slope = (r * tc[None, :, None]).sum(1) / (tc ** 2).sum()
        F = np.stack([rmax, r.min(1), r.std(1), slope, t[am], fall], 2)  # (n_windows, J+1, 6)
        out[:, si, :6 * (J + 1)] = F.reshape(end.size, -1)
        rc = r - r.mean(1, keepdims=True)
        num = (rc[:, :, :-1] * rc[:, :, 1:]).sum(1)
        den = np.sqrt((rc[:, :, :-1] ** 2).sum(1) * (rc[:, :, 1:] ** 2).sum(1))
        out[:, si, 6 * (J + 1):] = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return out
