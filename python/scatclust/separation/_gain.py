"""Time-frequency gain of the observation: the unknowns of ``separate(variable='gain')``.

ñ = WOLA-istft(G ⊙ STFT(x)), per channel, with

* STFT: frames of M samples (sine window w[m] = sin(π (m + 1/2) / M)), hop M/4, after ``x`` is
  extended by M samples of even reflection at both ends; X[c, t, f] = rfft(w · frame_t)[f].
* synthesis: weighted overlap-add of w · irfft(G[c, t] X[c, t]) divided by Σ_t w² (shifted), so
  that G = 1 gives ñ = x to rounding (istft ∘ stft = id);
* G = A Θ Bᵀ: the optimisation variables Θ[c, k, l] sit on a coarse grid of time nodes (every
  ``t_step`` samples, at the centres of the steps) and ``n_f`` equally spaced frequency nodes
  (bin 0 to bin M/2); A (frames × time nodes) and B (bins × frequency nodes) interpolate
  linearly between the nodes (constant beyond the outer ones).

ñ is linear in Θ, so the gradient of a loss L(ñ) is the adjoint of that map applied to
g = dL/dñ: with u_t = w · (frame t of g / Σ w²) and U_t = rfft(u_t),

    dL/dG[c, t, f] = (c_f / M) Re(X[c, t, f] conj(U[c, t, f])),   c_f = 1 at f = 0, M/2, else 2,
    dL/dΘ = Aᵀ (dL/dG) B.

The bounds 0 <= Θ <= 1 make ñ a time-varying attenuation of x: the loss can only choose where
(in time and frequency) to remove energy, and G = 1 (ñ = x) is the starting point.
"""
from __future__ import annotations

import numpy as np

__all__ = ["TFGain"]


def _hat(x, nodes):
    """Linear-interpolation matrix (len(x), len(nodes)); constant beyond the outer nodes."""
    H = np.zeros((len(x), len(nodes)))
    if len(nodes) == 1:
        H[:] = 1.0
        return H
    k = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, len(nodes) - 2)
    t = np.clip((x - nodes[k]) / (nodes[k + 1] - nodes[k]), 0.0, 1.0)
    rows = np.arange(len(x))
    H[rows, k] = 1.0 - t
    H[rows, k + 1] += t
    return H


class TFGain:
    """The linear map Θ -> ñ = WOLA-istft(AΘBᵀ ⊙ STFT(x)) and its adjoint.

    Parameters
    ----------
    x : ndarray float64 (C, N)
        The signal the gain is applied to.
    M : int
        Frame length (even, >= 4, <= N); hop M / 4.
    t_step : int
        Spacing of the time nodes in samples (>= 1).
    n_f : int
        Number of frequency nodes, 2 <= n_f <= M / 2 + 1.

    Attributes
    ----------
    shape : tuple (C, n_t, n_f)
        Shape of Θ.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((1, 512))
    >>> T = TFGain(x, M=64, t_step=64, n_f=9)
    >>> T.shape
    (1, 8, 9)
    >>> bool(np.allclose(T.apply(np.ones(T.shape)), x))      # G = 1: ñ = x
    True
    """

    def __init__(self, x, M=128, t_step=64, n_f=33):
        x = np.asarray(x, dtype=np.float64)
        C, N = x.shape
        self.M, self.hop, self.N = int(M), max(1, int(M) // 4), N
        self.pad = min(self.M, N - 1)
        L = N + 2 * self.pad
        self.starts = np.arange(0, L - self.M + 1, self.hop)
        if self.starts[-1] + self.M < L:                    # cover the end as well
            self.starts = np.append(self.starts, L - self.M)
        self.w = np.sin(np.pi * (np.arange(self.M) + 0.5) / self.M)
        norm = np.zeros(L)
        for s in self.starts:
            norm[s:s + self.M] += self.w ** 2
        self._inv_norm = 1.0 / norm                          # > 0 everywhere: frames cover [0, L)
        self._L = L
        F = self.M // 2 + 1
        centres = self.starts + self.M / 2 - self.pad
        tn = np.arange(t_step / 2.0, N, t_step)
        self.A = _hat(centres, tn)
        self.B = _hat(np.arange(F, dtype=float), np.linspace(0.0, F - 1.0, int(n_f)))
        self.c = np.full(F, 2.0)
        self.c[0] = 1.0
        self.c[-1] = 1.0                                     # M even: bin M/2 is Nyquist
        self.X = self._stft(x)
        self.shape = (C, len(tn), int(n_f))

    def _frames(self, y):
        return np.stack([y[:, s:s + self.M] * self.w for s in self.starts], axis=1)   # (C, T, M)

    def _stft(self, x):
        y = np.pad(x, ((0, 0), (self.pad, self.pad)), mode="reflect") if self.pad else x
        return np.fft.rfft(self._frames(y), axis=-1)

    def gain(self, theta):
        """Θ (C, n_t, n_f) -> G (C, T, F) on the STFT grid."""
        return self.A @ theta @ self.B.T                     # matmul: einsum would not pick a good path

    def apply(self, theta):
        """ñ (C, N) for the node gains Θ (C, n_t, n_f)."""
        fr = np.fft.irfft(self.gain(theta) * self.X, n=self.M, axis=-1) * self.w
        out = np.zeros((fr.shape[0], self._L))
        for i, s in enumerate(self.starts):
            out[:, s:s + self.M] += fr[:, i]
        out *= self._inv_norm
        return out[:, self.pad:self.pad + self.N]

    def vjp(self, g):
        """Adjoint: dL/dñ (C, N) -> dL/dΘ (C, n_t, n_f)."""
        gl = np.zeros((g.shape[0], self._L))
        gl[:, self.pad:self.pad + self.N] = g
        gl *= self._inv_norm
        U = np.fft.rfft(self._frames(gl), axis=-1)
        dG = (self.c / self.M) * np.real(self.X * np.conj(U))
        return self.A.T @ dG @ self.B
