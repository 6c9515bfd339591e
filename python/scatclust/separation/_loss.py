"""The separation loss in scattering-spectra space and its gradient (C++ moments + C++ VJP).

Notation: x (C, N) observation, n_1..n_R priors (R, C, N), ñ the estimate of the background,
s = x - ñ the other source. Three terms, each a mean over priors k and over coefficients i:

    L1 (prior)        = < w1_i (Φ_i(ñ) - Φ_i(n_k))^2 >_{k, i}
    L2 (mixture)      = < w2_i (Φ_i(x) - Φ_i(x - ñ + n_k))^2 >_{k in S, i}
    L3 (independence) = < w3_i Φ×_i(x - ñ, n_k)^2 >_{k in S, i}

Φ: the scattering-spectra moments of every channel (``ScatteringSpectra`` families mean,
sparsity, power, envelope, phase_env, env_cross; global means), split into real parts and the
imaginary parts of the moments that are not real by construction. Each moment is divided by
the priors' average power spectrum (the 'batch_ps' normalisation: sigma_j^2 = mean over
priors of Phi2_j) so that all scales are O(1) numbers; this only matters through the floor
below, since the weights then divide by each coefficient's own spread.

Φ×(a, b): moments across the pair (separated source a, prior b), per channel c: the layer-1
cross spectrum <s1^a[j] conj(s1^b[j])>, the layer-2 cross spectrum <s2^a[j1,j2] conj(s2^b[j1,j2])>
and the phase-envelope cross moments <s1^a[j2] conj(s2^b[j1,j2])> together with the swapped
<s1^b[j2] conj(s2^a[j1,j2])> (the "+ swapped term" of the method: the first two kinds are
symmetric up to conjugation, the third is not). For independent zero-mean sources they vanish
in expectation.

Weights (the "spread of the priors' moments"):
    w1_i = w2_i = 1 / (var_k Φ_i(n_k) + floor * mean_i' var_k Φ_i'(n_k));
    w3_i = 1 / (mean_k Φ×_i(n_k, n_{k+1})^2 + floor * mean_i' (...))  (k = 1..R, R+1 -> 1; computed
    only when the independence term is active),
the second moment of the cross moments between two different priors, which are independent by
assumption. With these weights each term is about 1 to 2 at a good separation (L1 = 1 + the
estimate's own deviation; L3 ~ 1 for a source as independent as two priors are), so the
default term weights (1, 1, 1) balance them. The relative ``floor`` (default 1e-3) keeps
coefficients whose spread over the priors vanishes (e.g. a mean fixed by detrending) from
dominating.

Stopping target: ``prior_target`` is the prior term at the priors themselves, each left out
of the mean (the value expected at a fresh realisation of the background, i.e. at the truth);
``separate(stop='discrepancy')`` stops when L1 reaches it (Morozov's discrepancy principle).

Time-localised prior term (``pool = K``): Φ_b, the same moments averaged over the blocks
b = 0..N//K-1 of K samples (stride K, offset (N - K (N//K)) / 2 so the blocks are centred;
the C++ kernel's average pooling and its VJP), with per-block-position statistics:

    L1 = < w1_{b,i} (Φ_{b,i}(ñ) - Φ_{b,i}(n_k))^2 >_{k, b, i},
    w1_{b,i} = 1 / (var_k Φ_{b,i}(n_k) + floor * mean_{b,i} var_k Φ_{b,i}(n_k)),

the σ normalisation staying global. Its ``prior_target`` is the ``pool_quantile`` (default
the lower quartile) of the leave-one-out values at the priors rather than their mean. The
mixture term keeps the global moments.

S: the priors used in L2 and L3, a fixed subset of ``n_pairs`` priors drawn once with the seed
(all R when ``n_pairs`` is None or >= R). L1 always uses all R priors (its statistics are
computed once). The subset is fixed during an optimisation so the loss is deterministic and
L-BFGS's line search sees one function.
"""
from __future__ import annotations

import numpy as np

from .. import _core
from .._spectra import ScatteringSpectra, _PROD, _pair_index

__all__ = ["SeparationLoss", "TERMS"]

TERMS = ("prior", "mixture", "independence")


def _series_real(J, i):
    """True when series i (layer 1 j = i <= J, layer 2 J+1+pair) is real (low-pass output)."""
    if i <= J:
        return i == J
    p = i - (J + 1)
    for j1 in range(J):
        for j2 in range(j1 + 1, J + 1):
            if _pair_index(J, j1, j2) == p:
                return j2 == J
    raise ValueError(f"series index {i} out of range for J={J}")


def _series_scale_index(J, i):
    """The scale j whose sigma_j normalises series i: j itself (layer 1), j1 (layer 2)."""
    if i <= J:
        return i
    p = i - (J + 1)
    for j1 in range(J):
        for j2 in range(j1 + 1, J + 1):
            if _pair_index(J, j1, j2) == p:
                return j1
    raise ValueError(f"series index {i} out of range for J={J}")


def cross_terms(J, C):
    """Kernel term rows of Φ× for 2C channels (source channels 0..C-1, prior channels C..2C-1)."""
    rows = []
    L2 = lambda j1, j2: J + 1 + _pair_index(J, j1, j2)  # noqa: E731
    pairs = [(j1, j2) for j1 in range(J) for j2 in range(j1 + 1, J + 1)]
    for c in range(C):
        a, b = c, C + c
        rows += [(_PROD, a, j, b, j) for j in range(J + 1)]
        rows += [(_PROD, a, L2(j1, j2), b, L2(j1, j2)) for j1, j2 in pairs]
        rows += [(_PROD, a, j2, b, L2(j1, j2)) for j1, j2 in pairs]
        rows += [(_PROD, b, j2, a, L2(j1, j2)) for j1, j2 in pairs]
    return np.ascontiguousarray(np.array(rows, dtype=np.int32))


class _Features:
    """Raw kernel moments (B, T) complex <-> real features (B, F), scaled by fixed constants."""

    def __init__(self, terms, J, C, sigma):
        # sigma (C, J+1): sqrt of the priors' average power spectrum per channel.
        T = len(terms)
        scale = np.empty(T)
        cplx = np.zeros(T, dtype=bool)
        for t, (kind, ca, ia, cb, ib) in enumerate(np.asarray(terms).tolist()):
            sa = sigma[ca % C, _series_scale_index(J, ia)]
            if kind == _PROD:
                sb = sigma[cb % C, _series_scale_index(J, ib)]
                scale[t] = 1.0 / (sa * sb)
                cplx[t] = not ((ca, ia) == (cb, ib) or (_series_real(J, ia) and _series_real(J, ib)))
            else:
                scale[t] = 1.0 / sa
        self.scale = scale
        self.cplx = np.flatnonzero(cplx)
        self.n_terms = T
        self.n_features = T + len(self.cplx)

    def __call__(self, m):
        """m (B, T) complex -> (B, F) real."""
        return np.concatenate([m.real * self.scale, m.imag[:, self.cplx] * self.scale[self.cplx]], axis=1)

    def vjp(self, g):
        """dL/dfeatures (B, F) -> dL/dRe m + i dL/dIm m (B, T, 1) complex (the kernel's convention)."""
        T = self.n_terms
        out = np.zeros((g.shape[0], T, 1), dtype=np.complex128)
        out[:, :, 0].real = g[:, :T] * self.scale
        out[:, self.cplx, 0] += 1j * (g[:, T:] * self.scale[self.cplx])
        return out


class SeparationLoss:
    """Loss of one separation problem, its terms and gradient with respect to ñ.

    Parameters
    ----------
    x : ndarray float64 (C, N)
        Observation (already scaled/whitened by the caller).
    priors : ndarray float64 (R, C, N)
        Prior realisations of the background, R >= 2.
    J : int
    weights : sequence of 3 floats
        Weights of L1 (prior), L2 (mixture), L3 (independence).
    terms : sequence of str
        Terms included (subset of :data:`TERMS`).
    pairs : ndarray int (K,)
        Indices of the priors used in L2 and L3.
    wavelet, padding : str
        Filter bank (:class:`scatclust.SpectraFilterBank`).
    floor : float
        Relative variance floor of the weights.
    n_threads : int
        Threads of the C++ kernel.
    pool : int, optional
        Block length K of the time-localised prior term (see the module notes); None: global.
    pool_quantile : float
        With ``pool``: the quantile of the leave-one-out values at the priors used as
        ``prior_target`` (default 0.25).

    Notes
    -----
    One kernel call evaluates L1 and L2 together on the batch [ñ, x - ñ + n_k (k in S)]
    (K + 1 signals), and one call evaluates L3 on the batch [(x - ñ, n_k), k in S]
    (K two-group signals); each is followed by one call of the C++ VJP.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> priors = rng.standard_normal((6, 1, 256))
    >>> x = rng.standard_normal((1, 256))
    >>> loss = SeparationLoss(x, priors, 4, (1, 1, 1), TERMS, [0, 1, 2], n_threads=1)
    >>> total, values, grad = loss(x)            # at the initial point ñ = x
    >>> sorted(values), grad.shape, values["independence"]   # s = x - ñ = 0: no cross moments
    (['independence', 'mixture', 'prior'], (1, 256), 0.0)
    """

    def __init__(self, x, priors, J, weights, terms, pairs, wavelet="battle_lemarie", padding="symmetric",
                 floor=1e-3, n_threads=1, pool=None, pool_quantile=0.25):
        R, C, N = priors.shape
        self.x, self.priors, self.C, self.N, self.J = x, priors, C, N, J
        self.weights = dict(zip(TERMS, (float(w) for w in weights)))
        self.active = tuple(t for t in TERMS if t in terms and self.weights[t] != 0.0)
        self.pairs = np.asarray(pairs, dtype=np.int64)
        self.n_threads = int(n_threads)
        # n_threads: 0 = process default (resolve_n_threads); passed to the kernel calls below.
        self.spectra = ScatteringSpectra(N, J, wavelet=wavelet, padding=padding, C=C)
        self._phi = self.spectra._core(np.float64)
        fb = self.spectra.filter_bank
        self.cross_terms = cross_terms(J, C)
        self._cross = _core.ScatteringMomentsF64(np.ascontiguousarray(fb.psi_f), np.ascontiguousarray(fb.phi_f),
                                                 N, fb.padding_mode, 2 * C, self.cross_terms)
        self.phi_terms = self.spectra._terms
        # Normalising power spectrum: mean over priors of Phi2_j (per channel).
        m_pr = self._forward(self._phi, priors)
        diag = {tuple(r): t for t, r in enumerate(self.phi_terms.tolist())}
        p2 = np.array([[m_pr[:, diag[(_PROD, c, j, c, j)]].real.mean() for j in range(J + 1)] for c in range(C)])
        if not np.all(p2 > 0):
            raise ValueError("the priors have zero power in at least one wavelet band; priors must be "
                             "non-constant signals")
        self.sigma = np.sqrt(p2)
        self.feat = _Features(self.phi_terms, J, C, self.sigma)
        self.feat_x = _Features(self.cross_terms, J, C, self.sigma)
        F_pr = self.feat(m_pr)
        self.prior_features = F_pr
        self.mu1 = F_pr.mean(0)
        var1 = F_pr.var(0)
        self.var1 = var1
        self.w1 = 1.0 / (var1 + floor * var1.mean())
        self.w2 = self.w1
        # Value of the prior term at a fresh realisation of the background, estimated on the
        # priors themselves leaving each one out of the mean (f_k - mu_{-k} = R/(R-1) (f_k - mu)):
        # the stopping target of the discrepancy principle (see separate(stop=...)).
        loo = (R / (R - 1.0)) ** 2 * (F_pr - self.mu1) ** 2 + var1
        self.prior_target = float(np.mean(loo @ self.w1) / F_pr.shape[1])
        self.pool = None
        if pool is not None:
            # Time-localised prior term (pool = block length K): the same moments averaged over
            # blocks of K samples (stride K, the blocks centred in the window) and compared block
            # by block with the priors' moments of the same block position (per-position
            # statistics: the padding makes the edge blocks differ from the inner ones).
            K = int(pool)
            n_out = N // K
            self.pool = (K, K, (N - n_out * K) // 2, n_out)
            Fb = self._block_features(priors)                    # (R, n_out, F)
            self.mu1 = Fb.mean(0)
            self.var1 = Fb.var(0)
            self.w1 = 1.0 / (self.var1 + floor * self.var1.mean())
            # Target: a quantile (default the lower quartile) of the leave-one-out values at the
            # priors rather than their mean, which the heavy-tailed block moments of
            # intermittent backgrounds (MRW) inflate (chosen on tuning seeds, bench/RESULTS.md).
            loo = (R / (R - 1.0)) ** 2 * (Fb - self.mu1) ** 2 + self.var1
            self.prior_target_values = np.sum(loo * self.w1, axis=(1, 2)) / self.w1.size
            self.prior_target = float(np.quantile(self.prior_target_values, pool_quantile))
        self.fx = self.feat(self._forward(self._phi, x[None]))[0]
        self.w3 = None
        if "independence" in self.active:
            # Cross moments between different priors (k, k+1 mod R): independent pairs.
            idx = np.arange(R)
            z = np.concatenate([priors[idx], priors[(idx + 1) % R]], axis=1)
            G = self.feat_x(self._forward(self._cross, z))
            v3 = (G ** 2).mean(0)
            self.w3 = 1.0 / (v3 + floor * v3.mean())

    # ----------------------------------------------------------------- kernels
    def _forward(self, core, z):
        z = np.ascontiguousarray(z, dtype=np.float64)
        out = np.empty((z.shape[0], core.n_terms, 1), dtype=np.complex128)
        core.forward(z, out, self.N, self.N, 0, self.n_threads)
        return out[:, :, 0]

    def _backward(self, core, z, g):
        gx = np.empty_like(z)
        core.backward(z, g, gx, self.N, self.N, 0, self.n_threads)
        return gx

    def _block_features(self, z):
        """Pooled moments of z (B, C, N) as features (B, n_out, F)."""
        K, S, o, n_out = self.pool
        z = np.ascontiguousarray(z, dtype=np.float64)
        out = np.empty((z.shape[0], self._phi.n_terms, n_out), dtype=np.complex128)
        self._phi.forward(z, out, K, S, o, self.n_threads)
        B, T = out.shape[:2]
        return self.feat(out.transpose(0, 2, 1).reshape(B * n_out, T)).reshape(B, n_out, -1)

    def _block_backward(self, z, gf):
        """VJP of :meth:`_block_features`: gf (B, n_out, F) -> dL/dz (B, C, N)."""
        K, S, o, n_out = self.pool
        B = gf.shape[0]
        g = self.feat.vjp(gf.reshape(B * n_out, -1))[:, :, 0].reshape(B, n_out, -1).transpose(0, 2, 1)
        gx = np.empty_like(z)
        self._phi.backward(z, np.ascontiguousarray(g), gx, K, S, o, self.n_threads)
        return gx

    # -------------------------------------------------------------------- loss
    def __call__(self, nt, grad=True):
        """Loss terms and gradient at ñ.

        Parameters
        ----------
        nt : ndarray float64 (C, N)
        grad : bool

        Returns
        -------
        total : float
        values : dict term -> float (unweighted terms; absent terms are not listed)
        g : ndarray float64 (C, N) (None when ``grad`` is False)
        """
        C, N = self.C, self.N
        values = {}
        g = np.zeros((C, N)) if grad else None
        x, P, K = self.x, self.priors[self.pairs], len(self.pairs)
        use1, use2, use3 = (t in self.active for t in TERMS)
        if use1 and self.pool is not None:
            z1 = np.ascontiguousarray(nt[None], dtype=np.float64)
            f = self._block_features(z1)[0]
            d = f - self.mu1
            M = d.size
            values["prior"] = float(np.sum(self.w1 * (d ** 2 + self.var1)) / M)
            if grad:
                gf = self.weights["prior"] * 2.0 * self.w1 * d / M
                g += self._block_backward(z1, gf[None])[0]
            use1 = False
        if use1 or use2:
            batch = [nt[None]] if use1 else []
            if use2:
                batch.append(x[None] - nt[None] + P)
            z = np.ascontiguousarray(np.concatenate(batch, axis=0))
            f = self.feat(self._forward(self._phi, z))
            gf = np.zeros_like(f)
            off = 0
            if use1:
                d = f[0] - self.mu1
                F = f.shape[1]
                values["prior"] = float(np.sum(self.w1 * (d ** 2 + self.var1)) / F)
                gf[0] = self.weights["prior"] * 2.0 * self.w1 * d / F
                off = 1
            if use2:
                r = self.fx[None] - f[off:]
                F = f.shape[1]
                values["mixture"] = float(np.sum(self.w2 * r ** 2) / (K * F))
                gf[off:] = self.weights["mixture"] * (-2.0) * self.w2 * r / (K * F)
            if grad:
                gz = self._backward(self._phi, z, self.feat.vjp(gf))
                if use1:
                    g += gz[0]
                if use2:
                    g -= gz[off:].sum(axis=0)
        if use3:
            s = x - nt
            z = np.ascontiguousarray(np.concatenate([np.broadcast_to(s, (K, C, N)), P], axis=1))
            f = self.feat_x(self._forward(self._cross, z))
            F = f.shape[1]
            values["independence"] = float(np.sum(self.w3 * f ** 2) / (K * F))
            if grad:
                gf = self.weights["independence"] * 2.0 * self.w3 * f / (K * F)
                gz = self._backward(self._cross, z, self.feat_x.vjp(gf))
                g -= gz[:, :C].sum(axis=0)
        total = float(sum(self.weights[t] * v for t, v in values.items()))
        return total, values, g
