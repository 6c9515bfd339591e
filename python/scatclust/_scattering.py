"""1-D wavelet scattering transform front end (numpy arrays and torch CPU tensors)."""
from __future__ import annotations

import math
import numbers
import threading

import numpy as np

from . import _core
from ._array import as_signal_batch, check_choice, check_int, is_torch
from ._filter_bank import MorletFilterBank
from ._threads import resolve_n_threads

__all__ = ["Scattering1D"]

_OUT_TYPES = ("array", "list", "dict")
_NORMALIZE = (None, "parent")


class Scattering1D:
    """First- and second-order wavelet scattering transform with the C++/FFTW core.

    Same transform, parameters and output layout as kymatio 0.3's ``Scattering1D``
    (numpy frontend): reflect padding to ``N_padded``, x ⋆ φ (order 0),
    |x ⋆ ψ_λ1| ⋆ φ (order 1) and ||x ⋆ ψ_λ1| ⋆ ψ_λ2| ⋆ φ (order 2, only where j2 > j1),
    every path subsampled to the rate 2^-max(log2(T) - oversampling, 0).

    Parameters
    ----------
    J : int
        Number of octaves of the first-order wavelets (1..24); the largest scale is about
        2^J samples.
    shape : int or (int,)
        Signal length N in samples.
    Q : int or (int, int)
        Wavelets per octave (Q1, Q2) at the first and second order; an int means (Q, 1).
    T : float, optional
        Averaging scale of the low-pass φ in samples, in [1, N]; default 2^J.
    max_order : {1, 2}
        Highest scattering order.
    oversampling : int >= 0
        Reduce every dyadic subsampling exponent by this much (finer time resolution).
    out_type : {'array', 'list', 'dict'}
        'array': one array (..., n_paths, n_time); 'list': kymatio's list of dicts
        ``{'coef', 'j', 'n'}``; 'dict': ``{key: coef}`` with kymatio's keys ``()``,
        ``(n1,)``, ``(n1, n2)``.
    log : bool
        Replace the order-1 and order-2 coefficients S by log(S + eps). Order 0 (x ⋆ φ,
        which can be negative) is left unchanged.
    normalize : {None, 'parent'}
        'parent' divides every order-2 path by its parent order-1 path at the same time
        sample, S2[λ1, λ2](t) / S1[λ1](t) (the normalised second order of Andén & Mallat,
        "Deep scattering spectrum", 2014), which makes it independent of the signal's
        amplitude; the denominator is clamped at the smallest positive normal number of the
        precision. Applied before ``log``. Orders 0 and 1 are unchanged.
    eps : float
        Offset of the logarithm (> 0), in the units of S (i.e. of x): choose it relative to
        the signal's scale.

    Notes
    -----
    Inputs are real arrays of shape (..., N), float32 or float64 (other real dtypes are
    converted to float64 once; non-contiguous inputs are copied once), numpy or torch CPU
    tensors; outputs keep the input's kind and precision. NaN/Inf inputs raise ValueError.
    A torch tensor that requires grad is differentiated through the core's vector-Jacobian
    product (see :class:`scatclust.nn.Scattering1D` for a ``torch.nn.Module``).
    Filter coefficients below eps² · max|ψ| of their precision are treated as zero (they
    change no output beyond rounding unless the input is 1/eps times stronger at those
    frequencies than in the filter's passband).

    Examples
    --------
    >>> import numpy as np, scatclust
    >>> S = scatclust.Scattering1D(J=6, shape=4096, Q=(8, 1))
    >>> x = np.random.default_rng(0).standard_normal((2, 4096)).astype(np.float32)
    >>> Sx = S(x)
    >>> Sx.shape, Sx.dtype, S.n_paths
    ((2, 126, 64), dtype('float32'), 126)
    >>> m = S.meta()
    >>> int(m['order'][1]), m['key'][1]
    (1, (0,))
    """

    def __init__(self, J, shape, Q=1, T=None, max_order=2, oversampling=0, out_type="array", log=False,
                 normalize=None, eps=1e-6):
        J = check_int(J, "J", 1, 24)
        if isinstance(shape, tuple):
            if len(shape) != 1:
                raise ValueError(f"shape={shape!r} must be an int or a 1-tuple (N,) (signal length)")
            shape = shape[0]
        N = check_int(shape, "shape", 2, 2**30)
        if T is not None:
            if isinstance(T, bool) or not isinstance(T, numbers.Real) or not math.isfinite(T):
                raise TypeError(f"T={T!r} must be a finite number of samples or None (2**J)")
            if T == 0:
                raise ValueError("T=0 asks for unaveraged scattering (kymatio's average=False), which is not "
                                 "supported; pass T >= 1 (or None for 2**J)")
            if not 1 <= T <= N:
                raise ValueError(f"T={T} is out of range; valid range is [1, N={N}] (averaging scale in samples)")
        self.max_order = check_choice(max_order, "max_order", (1, 2))
        self.oversampling = check_int(oversampling, "oversampling", 0, 30)
        self.out_type = check_choice(out_type, "out_type", _OUT_TYPES)
        if not isinstance(log, (bool, np.bool_)):
            raise TypeError(f"log={log!r} must be True or False")
        self.log = bool(log)
        self.normalize = check_choice(normalize, "normalize", _NORMALIZE)
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not (math.isfinite(eps) and eps > 0):
            raise ValueError(f"eps={eps!r} must be a positive finite number")
        self.eps = float(eps)
        self.filter_bank = MorletFilterBank(N, J, Q, T)
        fb = self.filter_bank
        self.J, self.Q, self.T = J, fb.Q, fb.T
        self.shape = (N,)
        self._lock = threading.Lock()
        self._kernels = {}
        # Path list (kymatio's order), computed without the core.
        j1, j2 = [int(j) for j in fb.j1], [int(j) for j in fb.j2]
        n1s = [n1 for n1 in range(len(j1))]
        pairs = [(n1, n2) for n1 in n1s for n2 in range(len(j2)) if j2[n2] > j1[n1]] if self.max_order == 2 else []
        self._keys = [()] + [(n1,) for n1 in n1s] + pairs
        self._parent = np.array([1 + n1 for n1, _ in pairs], dtype=np.int64)
        kf = max(fb.log2_T - self.oversampling, 0)
        self.n_time = fb.ind_end[kf] - fb.ind_start[kf]

    # ---- geometry ----------------------------------------------------------------------
    @property
    def N(self):
        """Signal length in samples."""
        return self.shape[0]

    @property
    def N_padded(self):
        return self.filter_bank.N_padded

    @property
    def n_paths(self):
        """Number of scattering paths (orders 0, 1, 2 together)."""
        return len(self._keys)

    def output_size(self, detail=False):
        """Number of paths, or (n_order0, n_order1, n_order2) with ``detail=True`` (kymatio's)."""
        n1 = len(self.filter_bank.xi1)
        sizes = (1, n1) + ((self.n_paths - 1 - n1,) if self.max_order == 2 else ())
        return sizes if detail else sum(sizes)

    def meta(self):
        """Description of every output path, computed without transforming anything.

        Returns
        -------
        dict, as kymatio 0.3's ``Scattering1D.meta()``:
            'order' : int array (n_paths,); 'xi', 'sigma', 'j', 'n' : float arrays
            (n_paths, max_order) with the centre frequency (cycles/sample), bandwidth,
            subsampling exponent and index of the wavelet at each order, NaN-padded;
            'key' : list of tuples ``()``, ``(n1,)``, ``(n1, n2)`` (the 'dict' output's keys).
        """
        fb = self.filter_bank
        per_order = [(fb.xi1, fb.sigma1, fb.j1), (fb.xi2, fb.sigma2, fb.j2)]
        mo = self.max_order
        out = {"order": np.array([len(k) for k in self._keys])}
        for name, col in (("xi", 0), ("sigma", 1), ("j", 2)):
            rows = []
            for key in self._keys:
                vals = [per_order[o][col][n] for o, n in enumerate(key)]
                rows.append([float(v) for v in vals] + [math.nan] * (mo - len(key)))
            out[name] = np.array(rows, dtype=np.float64)
        out["n"] = np.array([[float(n) for n in key] + [math.nan] * (mo - len(key)) for key in self._keys])
        out["key"] = list(self._keys)
        return out

    def __repr__(self):
        return (f"Scattering1D(J={self.J}, shape={self.N}, Q={self.Q}, T={self.T}, max_order={self.max_order}, "
                f"oversampling={self.oversampling}; {self.n_paths} paths x {self.n_time} samples)")

    # ---- computation -----------------------------------------------------------------
    def _kernel(self, dtype):
        key = np.dtype(dtype).char
        with self._lock:
            k = self._kernels.get(key)
            if k is None:
                fb = self.filter_bank
                cls = _core.Scattering1DF32 if np.dtype(dtype) == np.float32 else _core.Scattering1DF64
                k = cls(np.ascontiguousarray(fb.psi1_f), np.ascontiguousarray(fb.psi2_f), np.ascontiguousarray(fb.phi_f),
                        [int(j) for j in fb.j1], [int(j) for j in fb.j2], fb.log2_T, fb.N,
                        fb.pad_left, fb.ind_start, fb.ind_end, self.max_order, self.oversampling)
                assert k.n_paths == self.n_paths and k.n_time == self.n_time
                self._kernels[key] = k
            return k

    def __call__(self, x, n_threads=None):
        return self.scattering(x, n_threads=n_threads)

    def scattering(self, x, n_threads=None):
        """Scattering coefficients of ``x``.

        Parameters
        ----------
        x : array (..., N), real; numpy array or torch CPU tensor
        n_threads : int, optional
            Threads for this call (default: ``scatclust.get_num_threads()``).

        Returns
        -------
        out_type 'array': array (..., n_paths, n_time) of the input's kind and precision;
        'list' / 'dict': kymatio's containers of (..., n_time) arrays (views of that array).
        """
        nt = resolve_n_threads(n_threads)
        if is_torch(x) and x.requires_grad:
            import torch

            if torch.is_grad_enabled():
                from ._scattering_torch import scattering_autograd

                S = scattering_autograd(self, x, nt)
                return self._package(self._postprocess_torch(S, differentiable=True))
        sb = as_signal_batch(x, "x", min_length=1)
        self._check_n(sb.n)
        out = sb.empty((sb.batch, self.n_paths, self.n_time))
        if sb.batch:
            self._kernel(sb.dtype).forward(sb.data, out, nt)
        out = self._postprocess_torch(out, False) if sb.is_torch else self._postprocess_numpy(out)
        return self._package(out.reshape(sb.batch_shape + (self.n_paths, self.n_time)))

    def _check_n(self, n):
        if n != self.N:
            raise ValueError(f"x has {n} samples on its last axis but the transform was built for shape={self.N}; "
                             f"build a Scattering1D with shape={n}")

    def _postprocess_numpy(self, S):
        """In place on a (batch, n_paths, n_time) array."""
        o2 = 1 + len(self.filter_bank.xi1)
        if self.normalize == "parent" and len(self._parent):
            S[:, o2:, :] /= np.maximum(S[:, self._parent, :], np.finfo(S.dtype).tiny)
        if self.log:
            np.log(S[:, 1:, :] + S.dtype.type(self.eps), out=S[:, 1:, :])
        return S

    def _postprocess_torch(self, S, differentiable):
        """On a (..., n_paths, n_time) tensor; out of place when autograd records it."""
        import torch

        if self.normalize is None and not self.log:
            return S
        o2 = 1 + len(self.filter_bank.xi1)
        if not differentiable:
            with torch.no_grad():
                S3 = S.reshape(-1, self.n_paths, self.n_time)
                return torch.from_numpy(self._postprocess_numpy(S3.numpy())).reshape(S.shape)
        parts = [S[..., :1, :], S[..., 1:o2, :]]
        if self.normalize == "parent" and len(self._parent):
            parent = torch.from_numpy(self._parent)
            denom = S.index_select(-2, parent).clamp_min(torch.finfo(S.dtype).tiny)
            parts.append(S[..., o2:, :] / denom)
        else:
            parts.append(S[..., o2:, :])
        if self.log:
            parts = [parts[0]] + [torch.log(p + self.eps) for p in parts[1:]]
        return torch.cat(parts, dim=-2)

    def _package(self, S):
        if self.out_type == "array":
            return S
        coefs = [S[..., p, :] for p in range(self.n_paths)]
        if self.out_type == "dict":
            return dict(zip(self._keys, coefs))
        fb = self.filter_bank
        js = [fb.j1, fb.j2]
        return [{"coef": c, "j": tuple(int(js[o][n]) for o, n in enumerate(key)), "n": key}
                for c, key in zip(coefs, self._keys)]

    def vjp(self, x, grad_output, n_threads=None):
        """Vector-Jacobian product of the raw transform (no log / normalisation).

        Parameters
        ----------
        x : array (..., N)
        grad_output : array (..., n_paths, n_time), same kind and precision as the output

        Returns
        -------
        grad_x : array (..., N) of x's kind and precision: J(x)^T grad_output, with the
        modulus's derivative taken as 0 where the wavelet coefficient is exactly 0.
        """
        nt = resolve_n_threads(n_threads)
        sb = as_signal_batch(x, "x", min_length=1)
        self._check_n(sb.n)
        g = as_signal_batch(grad_output, "grad_output", min_length=1)
        expect = sb.batch_shape + (self.n_paths, self.n_time)
        if g.batch_shape + (g.n,) != expect:
            raise ValueError(f"grad_output has shape {g.batch_shape + (g.n,)}; expected {expect}")
        gdata = np.ascontiguousarray(g.data.numpy() if g.is_torch else g.data, dtype=sb.dtype)
        gx = sb.empty((sb.batch, self.N))
        if sb.batch:
            self._kernel(sb.dtype).vjp(sb.data, gdata.reshape(sb.batch, self.n_paths, self.n_time), gx, nt)
        return gx.reshape(sb.batch_shape + (self.N,))
