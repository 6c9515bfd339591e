"""Pure-torch scattering spectra written directly from the definitions: the oracle for
``scatclust.ScatteringSpectra`` and its "pure-Python" baseline.

Everything follows the shared specification (docstring of ``scatclust.ScatteringSpectra``):

* convolution: ``ifft(fft(pad(u)) * filter)[..., :N]`` with ``pad`` the signal followed by its
  time reverse (``'symmetric'``, P = 2N) or nothing (``'periodic'``, P = N);
* layer 1: s1[j] = x * psi_j (j < J), s1[J] = x * phi (real);
* layer 2: s2[j1, j2] = |s1[j1]| * psi_j2 (j2 < J) or |s1[j1]| * phi (j2 = J), j1 < j2;
* moments averaged by ``<f>[t] = mean(f[o + tS : o + tS + K])``;
* families per channel in the order mean, sparsity, power, envelope, phase_env, env_cross,
  then cross-channel cross_power, cross_env for channel pairs a < b;
* normalisations after pooling; ``as_real`` keeps real parts, then the imaginary parts of
  the coefficients that are not real by construction.

No attempt at speed or memory economy; torch autograd gives the gradient.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["scattering_spectra", "FAMILIES", "CROSS_FAMILIES"]

FAMILIES = ("mean", "sparsity", "power", "envelope", "phase_env", "env_cross")
CROSS_FAMILIES = ("cross_power", "cross_env")


def _conv(u, filt, padding):
    """u (..., N) real or complex; filt (F, P) real -> (..., F, N) complex."""
    N = u.shape[-1]
    if padding == "symmetric":
        u = torch.cat([u, u.flip(-1)], dim=-1)
    U = torch.fft.fft(u, dim=-1)
    return torch.fft.ifft(U.unsqueeze(-2) * filt, dim=-1)[..., :N]


def _pool(f, kernel, stride, offset):
    """Average pooling of (..., N) -> (..., n_out)."""
    N = f.shape[-1]
    n_out = (N - offset - kernel) // stride + 1
    seg = f[..., offset: offset + (n_out - 1) * stride + kernel]
    return seg.unfold(-1, kernel, stride).mean(dim=-1)


def scattering_spectra(x, psi_f, phi_f, padding="symmetric", families=FAMILIES, cross_families=(),
                       kernel=None, stride=None, offset=0, normalize=None, sigma2=None, as_real=False):
    """Scattering-spectra moments of ``x`` from the definitions.

    Parameters
    ----------
    x : torch.Tensor, real, shape (B, C, N)
    psi_f : array (J, P), phi_f : array (P,)
        Filters (``scatclust.SpectraFilterBank``), P = 2N (symmetric) or N (periodic).
    padding : {'symmetric', 'periodic'}
    families, cross_families : sequences of family names, kept in canonical order.
    kernel, stride, offset : int
        Average pooling; ``kernel=None`` is the global mean (K = S = N, offset 0).
    normalize : None, 'each_ps', 'batch_ps' or 'correlation'
    sigma2 : tensor (C, J+1), for 'batch_ps'
    as_real : bool

    Returns
    -------
    out : tensor, shape (B, n_coefficients, n_out), complex (real if ``as_real``)
    labels : list of tuples (family, channels, indices, part) describing every column, with
        indices (j,), (j1, j2) or (j2, j1, j1p) and part 're'/'im' (or 'c' when complex).
    """
    B, C, N = x.shape
    cdtype = torch.complex64 if x.dtype == torch.float32 else torch.complex128
    psi = torch.tensor(np.array(psi_f), dtype=x.dtype)  # copies (filters may be read-only)
    phi = torch.tensor(np.array(phi_f), dtype=x.dtype)
    J = psi.shape[0]
    if kernel is None:
        kernel, stride, offset = N, N, 0
    stride = kernel if stride is None else stride

    def pool(f):
        return _pool(f, kernel, stride, offset)

    # Layer 1 (B, C, J, N) and the low-pass (B, C, N), real.
    W1 = _conv(x, psi, padding)
    L1 = _conv(x, phi[None], padding)[..., 0, :].real
    s1 = [W1[:, :, j] for j in range(J)] + [L1.to(cdtype)]
    # Layer 2 for j1 < j2 <= J.
    E = W1.abs()
    s2 = {}
    for j1 in range(J):
        for j2 in range(j1 + 1, J + 1):
            if j2 < J:
                s2[j1, j2] = _conv(E[:, :, j1], psi[j2:j2 + 1], padding)[..., 0, :]
            else:
                s2[j1, j2] = _conv(E[:, :, j1], phi[None], padding)[..., 0, :].real.to(cdtype)

    def prod(u, v):
        return pool(u * v.conj())

    # Diagonal moments every normalisation needs, per channel.
    P2 = [[prod(s1[j][:, c], s1[j][:, c]).real for j in range(J + 1)] for c in range(C)]
    P4 = [{(j1, j2): prod(s2[j1, j2][:, c], s2[j1, j2][:, c]).real for (j1, j2) in s2} for c in range(C)]
    if normalize == "batch_ps":
        sig2 = torch.as_tensor(sigma2, dtype=x.dtype).reshape(C, J + 1)
        S2 = [[sig2[c, j] for j in range(J + 1)] for c in range(C)]
    else:
        S2 = P2

    cols, labels, real_flags = [], [], []

    def add(value, fam, ch, idx, is_real):
        cols.append(value)
        labels.append((fam, ch, idx))
        real_flags.append(is_real)

    each = normalize in ("each_ps", "batch_ps")
    corr = normalize == "correlation"
    for c in range(C):
        sig = [S2[c][j] ** 0.5 for j in range(J + 1)]
        for fam in FAMILIES:
            if fam not in families:
                continue
            if fam == "mean":
                v = pool(s1[J][:, c])
                if each:
                    v = v / sig[J]
                elif corr:
                    v = v / P2[c][J] ** 0.5
                add(v, fam, (c,), (), True)
            elif fam == "sparsity":
                for j in range(J):
                    v = pool(s1[j][:, c].abs()).to(cdtype)
                    if each:
                        v = v / sig[j]
                    elif corr:
                        v = v / P2[c][j] ** 0.5
                    add(v, fam, (c,), (j,), True)
            elif fam == "power":
                total = sum(P2[c][jj] for jj in range(J + 1))
                for j in range(J + 1):
                    v = prod(s1[j][:, c], s1[j][:, c])
                    if normalize == "batch_ps":
                        v = v / S2[c][j]
                    elif corr:
                        v = v / total
                    add(v, fam, (c,), (j,), True)
            elif fam == "envelope":
                for (j1, j2) in s2:
                    v = pool(s2[j1, j2][:, c].abs()).to(cdtype)
                    if each:
                        v = v / sig[j1]
                    elif corr:
                        v = v / P4[c][j1, j2] ** 0.5
                    add(v, fam, (c,), (j1, j2), True)
            elif fam == "phase_env":
                for (j1, j2) in s2:
                    v = prod(s1[j2][:, c], s2[j1, j2][:, c])
                    if each:
                        v = v / (sig[j1] * sig[j2])
                    elif corr:
                        v = v / (P2[c][j2] * P4[c][j1, j2]) ** 0.5
                    add(v, fam, (c,), (j1, j2), j2 == J)
            elif fam == "env_cross":
                for j2 in range(1, J + 1):
                    for j1 in range(j2):
                        for j1p in range(j1 + 1):
                            v = prod(s2[j1, j2][:, c], s2[j1p, j2][:, c])
                            if each:
                                v = v / (sig[j1] * sig[j1p])
                            elif corr:
                                v = v / (P4[c][j1, j2] * P4[c][j1p, j2]) ** 0.5
                            add(v, fam, (c,), (j2, j1, j1p), j1 == j1p or j2 == J)
    pairs = [(a, b) for a in range(C) for b in range(a + 1, C)]
    for fam in CROSS_FAMILIES:
        if fam not in cross_families:
            continue
        for (a, b) in pairs:
            if fam == "cross_power":
                for j in range(J + 1):
                    v = prod(s1[j][:, a], s1[j][:, b])
                    if each:
                        v = v / (S2[a][j] * S2[b][j]) ** 0.5
                    elif corr:
                        v = v / (P2[a][j] * P2[b][j]) ** 0.5
                    add(v, fam, (a, b), (j,), j == J)
            else:
                for (j1, j2) in s2:
                    v = prod(s2[j1, j2][:, a], s2[j1, j2][:, b])
                    if each:
                        v = v / (S2[a][j1] * S2[b][j1]) ** 0.5
                    elif corr:
                        v = v / (P4[a][j1, j2] * P4[b][j1, j2]) ** 0.5
                    add(v, fam, (a, b), (j1, j2), j2 == J)
    out = torch.stack(cols, dim=1)
    if not as_real:
        return out, [lab + ("c",) for lab in labels]
    im = [i for i, r in enumerate(real_flags) if not r]
    out = torch.cat([out.real, out.imag[:, im]], dim=1)
    labels = [lab + ("re",) for lab in labels] + [labels[i] + ("im",) for i in im]
    return out, labels
