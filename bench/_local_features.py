"""Time-localised polarisation features of nested windows (bench option ``--local``).

Scattering-spectra moments pooled over short blocks inside each window, summarised per
window. Built for the Mars-like record's donks (``bench/donk_ceiling.py`` measures why):
a donk is a ~1 s, 6-7.5 Hz, linearly polarised Gabor atom inside a 12.8 s window whose
high-frequency background is isotropic and intermittent (the multifractal part), so the
window-mean moments dilute it, and its power alone is matched by background bursts.

Definition, for every octave j = 0..J (j = J: the low-pass) and channel count C:

1. Block matrices. The record-wide first-layer coefficients s1^c[j] (``ScatteringSpectra``
   with families 'power' and 'cross_power', ``estimator='pool'``, kernel = stride = ``block``)
   give per block q of ``block`` samples the C x C Hermitian matrix
   M_q[a, b] = <s1^a[j] conj(s1^b[j])> (diagonal: the power Phi2, off-diagonal: cross_power).
2. Sub-blocks. For each width w in ``widths``: S_i = mean of M_i .. M_{i+w-1} (sliding, stride
   one block); eigenvalues l1 >= l2 >= ... >= lC >= 0 (negative rounding clipped to 0),
   tr = sum l, polarised excess e = l1 - mean(l2..lC) (power of a rank-1 = linearly polarised
   part above an isotropic floor), degree d = l1 / tr. Rotation-invariant: the features do not
   depend on the source's polarisation direction.
3. Window of length s ending at sample ``end`` (blocks [end/block - s/block, end/block)): with
   P = mean over its blocks of tr(M_q) (the window's power at j), over the sub-blocks fully
   inside it: log(max e / P), log(max tr / P), max d, and d at the sub-block of largest tr.

Output per (window, scale): 4 x len(widths) x (J+1) features, ordered j-major, then w, then
the four above. Windows and scales as :class:`scatclust.ScatteringPyramid` (right-aligned);
``window_end`` and every scale must be multiples of ``block``.

Memory: one record-wide transform of (C, L) (about 2 x (J+1) x C x 2L complex values for the
symmetric padding): ~0.1 GB for the 2-hour 'small' record; process longer records by day.
"""
from __future__ import annotations

import numpy as np

import scatclust

__all__ = ["local_polarization", "block_matrices"]


def block_matrices(x, J=7, block=16):
    """Per-block cross-channel power matrices of s1[j]: complex128 (n_blocks, J+1, C, C).

    ``x`` (C, L) real; block q covers samples [q block, (q+1) block), q < L // block.
    """
    x = np.ascontiguousarray(x)
    C, L = x.shape
    ss = scatclust.ScatteringSpectra(N=L, J=J, C=C, families=("power", "cross_power"), estimator="pool",
                                     kernel=block)
    out = np.asarray(ss(x[None]))[0].astype(np.complex128)  # (n_coefficients, n_blocks)
    meta = ss.meta()
    nb = out.shape[1]
    M = np.zeros((nb, J + 1, C, C), dtype=np.complex128)
    for i, d in enumerate(meta):
        if d["family"] == "power":
            M[:, d["j"], d["channel"], d["channel"]] = out[i].real
        elif d["family"] == "cross_power":
            a, b = d["channels"]
            M[:, d["j"], a, b] = out[i]
            M[:, d["j"], b, a] = np.conj(out[i])
    return M


def _window_max(v, first, n_sub):
    """max(v[first_w : first_w + n_sub]) for every window w (sliding max by doubling)."""
    # m_k[i] = max(v[i : i + 2^k]); combine two overlapping powers of two for length n_sub
    k = int(np.floor(np.log2(n_sub)))
    m = v.copy()
    for _ in range(k):
        h = 1 << _
        m = np.maximum(m[:-h], m[h:])
    return np.maximum(m[first], m[first + n_sub - (1 << k)])


def local_polarization(x, window_end, scales, J=7, block=16, widths=(2, 4)):
    """Time-localised polarisation features (module docstring) of every window and scale.

    Parameters
    ----------
    x : ndarray (C, L), float32 or float64
        The record.
    window_end : array of int, shape (n_windows,)
        Exclusive end sample of each window (``PyramidFeatures.window_end``), multiples of
        ``block``.
    scales : sequence of int
        Window lengths (multiples of ``block``, each >= ``block * max(widths)``).
    J : int
        Octaves (as the pyramid).
    block : int
        Pooling block in samples (default 16 = 0.8 s at 20 Hz).
    widths : sequence of int
        Sub-block widths in blocks (default 2 and 4: 1.6 and 3.2 s at 20 Hz).

    Returns
    -------
    ndarray float64, shape (n_windows, len(scales), 4 * len(widths) * (J + 1))
    """
    end = np.asarray(window_end, dtype=np.int64)
    if np.any(end % block):
        raise ValueError(f"window_end must be multiples of block={block}")
    for s in scales:
        if s % block or s < block * max(widths):
            raise ValueError(f"scale {s} must be a multiple of block={block} and >= block * max(widths)")
    M = block_matrices(x, J, block)
    eb = end // block
    out = np.empty((end.size, len(scales), 4 * len(widths) * (J + 1)))
    col = 0
    for j in range(J + 1):
        Mj = M[:, j]
        ctr = np.concatenate([[0.0], np.cumsum(np.trace(Mj, axis1=1, axis2=2).real)])
        cs = np.concatenate([np.zeros((1,) + Mj.shape[1:], complex), np.cumsum(Mj, 0)])
        for w in widths:
            S = (cs[w:] - cs[:-w]) / w  # S[i]: blocks i .. i + w - 1
            ev = np.maximum(np.linalg.eigvalsh(S), 0.0)[:, ::-1]
            tr = ev.sum(1)
            exc = ev[:, 0] - ev[:, 1:].mean(1)
            deg = ev[:, 0] / np.maximum(tr, np.finfo(float).tiny)
            for si, s in enumerate(scales):
                k = s // block
                P = (ctr[eb] - ctr[eb - k]) / k
                first, n_sub = eb - k, k - w + 1
                out[:, si, col] = np.log(np.maximum(_window_max(exc, first, n_sub), 1e-12 * P) / P)
                out[:, si, col + 1] = np.log(_window_max(tr, first, n_sub) / P)
                out[:, si, col + 2] = _window_max(deg, first, n_sub)
                # degree at the sub-block of largest power (argmax by chunks of windows)
                for c0 in range(0, end.size, 256):
                    idx = first[c0:c0 + 256, None] + np.arange(n_sub)[None]
                    am = idx[np.arange(idx.shape[0]), tr[idx].argmax(1)]
                    out[c0:c0 + 256, si, col + 3] = deg[am]
            col += 4
    return out
