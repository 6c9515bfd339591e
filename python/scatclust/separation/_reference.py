"""Pure-torch reference of the separation loss: moments from their definitions
(``scatclust.reference.spectra``'s convolution), every statistic recomputed in torch, and the
gradient by torch autograd. The oracle of :class:`scatclust.separation._loss.SeparationLoss`
in the tests and the baseline of ``bench/bench_separation.py``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..reference.spectra import _conv, _pool
from .._spectra import ScatteringSpectra, _pair_index
from ._loss import TERMS, _series_real, _series_scale_index, cross_terms

__all__ = ["TorchSeparationLoss", "term_moments"]


def _series(x, psi, phi, padding):
    """All series of x (B, C, N): layer 1 (J+1) then layer 2 pairs j1-major -> (B, C, S, N) complex."""
    J = psi.shape[0]
    cdt = torch.complex128 if x.dtype == torch.float64 else torch.complex64
    W1 = _conv(x, psi, padding)                                   # (B, C, J, N)
    low = _conv(x, phi[None], padding)[..., 0, :].real.to(cdt)    # (B, C, N)
    E = W1.abs()
    s = [W1[:, :, j] for j in range(J)] + [low]
    pairs = [(j1, j2) for j1 in range(J) for j2 in range(j1 + 1, J + 1)]
    assert [_pair_index(J, a, b) for a, b in pairs] == list(range(len(pairs)))
    for j1, j2 in pairs:
        if j2 < J:
            s.append(_conv(E[:, :, j1], psi[j2:j2 + 1], padding)[..., 0, :])
        else:
            s.append(_conv(E[:, :, j1], phi[None], padding)[..., 0, :].real.to(cdt))
    return torch.stack(s, dim=2)


def term_moments(x, psi, phi, padding, terms, pool=None):
    """Moments of kernel term rows (kind, ca, ia, cb, ib): global means (B, n_terms) complex, or
    with ``pool = (kernel, stride, offset)`` average pooling (B, n_terms, n_out)."""
    S = _series(x, psi, phi, padding)
    avg = (lambda f: f.mean(-1)) if pool is None else (lambda f: _pool(f, *pool))  # noqa: E731
    out = []
    for kind, ca, ia, cb, ib in np.asarray(terms).tolist():
        u = S[:, ca, ia]
        if kind == 0:
            out.append(avg(u))
        elif kind == 1:
            out.append(avg(u.abs()).to(u.dtype))
        else:
            out.append(avg(u * S[:, cb, ib].conj()))
    return torch.stack(out, dim=1)


class TorchSeparationLoss:
    """Same loss as ``SeparationLoss`` (same arguments), in torch float64 with autograd.

    ``loss(nt)`` returns (total, values) as torch scalars for ``nt`` a (C, N) tensor; call
    ``.backward()`` on the total for the gradient. With ``pool = K`` the prior term compares the
    moments pooled over blocks of K samples (stride K, blocks centred) with the priors' moments
    of the same block, as a literal mean over priors, blocks and features.
    """

    def __init__(self, x, priors, J, weights, terms, pairs, wavelet="battle_lemarie", padding="symmetric",
                 floor=1e-3, pool=None):
        R, C, N = priors.shape
        ss = ScatteringSpectra(N, J, wavelet=wavelet, padding=padding, C=C)
        fb = ss.filter_bank
        self.psi = torch.tensor(np.array(fb.psi_f), dtype=torch.float64)
        self.phi = torch.tensor(np.array(fb.phi_f), dtype=torch.float64)
        self.padding, self.J, self.C, self.N = padding, J, C, N
        self.terms_phi, self.terms_x = ss._terms, cross_terms(J, C)
        self.weights = dict(zip(TERMS, (float(w) for w in weights)))
        self.active = tuple(t for t in TERMS if t in terms and self.weights[t] != 0.0)
        self.pairs = torch.as_tensor(np.asarray(pairs), dtype=torch.long)
        self.x = torch.as_tensor(x, dtype=torch.float64)
        self.P = torch.as_tensor(priors, dtype=torch.float64)
        with torch.no_grad():
            m = self.moments(self.P, self.terms_phi)
            p2 = torch.zeros(C, J + 1, dtype=torch.float64)
            for t, (kind, ca, ia, cb, ib) in enumerate(self.terms_phi.tolist()):
                if kind == 2 and ca == cb and ia == ib and ia <= J:
                    p2[ca, ia] = m[:, t].real.mean()
            self.sigma = p2.sqrt()
            self.f_pr = self.features(m, self.terms_phi)
            self.mu1 = self.f_pr.mean(0)
            self.var1 = self.f_pr.var(0, unbiased=False)
            self.w1 = 1.0 / (self.var1 + floor * self.var1.mean())
            self.fx = self.features(self.moments(self.x[None], self.terms_phi), self.terms_phi)[0]
            idx = torch.arange(R)
            z = torch.cat([self.P[idx], self.P[(idx + 1) % R]], dim=1)
            G = self.features(self.moments(z, self.terms_x), self.terms_x)
            v3 = (G ** 2).mean(0)
            self.w3 = 1.0 / (v3 + floor * v3.mean())
            self.w2 = self.w1
            self.pool = None
            if pool is not None:
                n_out = N // pool
                self.pool = (pool, pool, (N - n_out * pool) // 2)
                self.f_pr = self.block_features(self.P)               # (R, n_out, F)
                var = self.f_pr.var(0, unbiased=False)
                self.w1 = 1.0 / (var + floor * var.mean())

    def moments(self, z, terms):
        return term_moments(z, self.psi, self.phi, self.padding, terms)

    def block_features(self, z):
        """Pooled moments of z (B, C, N) as features (B, n_out, F)."""
        m = term_moments(z, self.psi, self.phi, self.padding, self.terms_phi, pool=self.pool)
        B, T, n_out = m.shape
        return self.features(m.permute(0, 2, 1).reshape(B * n_out, T), self.terms_phi).reshape(B, n_out, -1)

    def features(self, m, terms):
        """Real parts of every moment, then imaginary parts of those not real by construction,
        each divided by the priors' sigma of its series (product: of both series)."""
        J, C = self.J, self.C
        re, im = [], []
        for t, (kind, ca, ia, cb, ib) in enumerate(np.asarray(terms).tolist()):
            sa = self.sigma[ca % C, _series_scale_index(J, ia)]
            if kind == 2:
                den = sa * self.sigma[cb % C, _series_scale_index(J, ib)]
                real = (ca, ia) == (cb, ib) or (_series_real(J, ia) and _series_real(J, ib))
            else:
                den, real = sa, True
            re.append(m[:, t].real / den)
            if not real:
                im.append(m[:, t].imag / den)
        return torch.stack(re + im, dim=1)

    def __call__(self, nt):
        values = {}
        P = self.P[self.pairs]
        if "prior" in self.active and self.pool is not None:
            f = self.block_features(nt[None])
            values["prior"] = (self.w1 * (f - self.f_pr) ** 2).mean()
        elif "prior" in self.active:
            f = self.features(self.moments(nt[None], self.terms_phi), self.terms_phi)[0]
            values["prior"] = (self.w1 * (f[None] - self.f_pr) ** 2).mean()
        if "mixture" in self.active:
            y = self.x[None] - nt[None] + P
            f = self.features(self.moments(y, self.terms_phi), self.terms_phi)
            values["mixture"] = (self.w2 * (self.fx[None] - f) ** 2).mean()
        if "independence" in self.active:
            s = (self.x - nt)[None].expand(len(P), -1, -1)
            f = self.features(self.moments(torch.cat([s, P], dim=1), self.terms_x), self.terms_x)
            values["independence"] = (self.w3 * f ** 2).mean()
        total = sum(self.weights[t] * v for t, v in values.items())
        return total, values
