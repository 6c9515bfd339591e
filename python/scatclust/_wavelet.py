"""Batched wavelet transform front end (numpy arrays and torch CPU tensors)."""
from __future__ import annotations

import threading

import numpy as np

from . import _core
from ._array import as_signal_batch, check_choice, check_int
from ._filter_bank import MorletFilterBank
from ._threads import resolve_n_threads

__all__ = ["WaveletTransform"]

_PADDING = {"reflect": 0, "zero": 1, "periodic": 2}


class WaveletTransform:
    """Batched wavelet transform x ⋆ ψ_λ with the C++/FFTW core.

    Parameters
    ----------
    N, J, Q, T, kind :
        Filter-bank parameters, see :class:`MorletFilterBank`. Ignored when ``filter_bank``
        is given.
    filter_bank : MorletFilterBank, optional
        A prebuilt bank (shared between transforms).
    order : {1, 2}
        Which wavelets to apply: first-order (default) or second-order ones.
    padding : {'reflect', 'zero', 'periodic'}
        How the signal is extended to ``N_padded`` (numpy's 'reflect' / 'constant' / 'wrap').
        'reflect' is kymatio's choice.

    Notes
    -----
    Inputs are real arrays of shape (..., N), float32 or float64 (other real dtypes are
    converted to float64 once; non-contiguous inputs are copied once). Outputs keep the
    input's precision and kind (numpy or torch). NaN/Inf inputs raise ValueError.

    Examples
    --------
    >>> import numpy as np, scatclust
    >>> wt = scatclust.WaveletTransform(N=1024, J=6, Q=8)
    >>> x = np.random.default_rng(0).standard_normal((3, 1024))
    >>> wt(x).shape            # complex, full resolution
    (3, 38, 1024)
    >>> [u.shape for u in wt.subsampled(x, modulus=True)][:2]
    [(3, 1024), (3, 1024)]
    """

    def __init__(self, N=None, J=None, Q=1, T=None, *, kind="kymatio", filter_bank=None, order=1,
                 padding="reflect"):
        if filter_bank is None:
            if N is None or J is None:
                raise TypeError("pass N and J (filter-bank parameters) or filter_bank=MorletFilterBank(...)")
            filter_bank = MorletFilterBank(N, J, Q, T, kind=kind)
        elif not isinstance(filter_bank, MorletFilterBank):
            raise TypeError(f"filter_bank must be a MorletFilterBank, got {type(filter_bank).__name__}")
        self.filter_bank = filter_bank
        self.order = check_choice(order, "order", (1, 2))
        self.padding = check_choice(padding, "padding", tuple(_PADDING))
        self._lock = threading.Lock()
        self._kernels = {}

    @property
    def N(self):
        return self.filter_bank.N

    @property
    def n_filters(self):
        return len(self._filters_f())

    def _filters_f(self):
        fb = self.filter_bank
        return fb.psi1_f if self.order == 1 else fb.psi2_f

    def _j(self):
        fb = self.filter_bank
        return fb.j1 if self.order == 1 else fb.j2

    def log2_subsampling(self, oversampling=0):
        """Per-filter subsampling exponents k = max(min(j, log2_T) - oversampling, 0) (kymatio's rule)."""
        oversampling = check_int(oversampling, "oversampling", 0, 64)
        lt = self.filter_bank.log2_T
        return [max(min(int(j), lt) - oversampling, 0) for j in self._j()]

    def _kernel(self, dtype, log2_sub):
        key = (np.dtype(dtype).char, tuple(log2_sub))
        with self._lock:
            k = self._kernels.get(key)
            if k is None:
                fb = self.filter_bank
                cls = _core.WaveletTransformF32 if dtype == np.float32 else _core.WaveletTransformF64
                k = cls(np.ascontiguousarray(self._filters_f()), list(log2_sub), fb.N, fb.pad_left,
                        fb.ind_start, fb.ind_end, _PADDING[self.padding])
                self._kernels[key] = k
            return k

    def __call__(self, x, modulus=False, n_threads=None):
        """Full-resolution transform.

        Parameters
        ----------
        x : array (..., N), real
        modulus : bool
            Return |x ⋆ ψ| (real) instead of the complex coefficients.
        n_threads : int, optional
            Threads for this call (default: ``scatclust.get_num_threads()``).

        Returns
        -------
        array (..., n_filters, N), complex (or real if ``modulus``), input precision.
        """
        sb = as_signal_batch(x, "x", min_length=1)
        self._check_n(sb.n)
        nt = resolve_n_threads(n_threads)
        k = self._kernel(sb.dtype, [0] * self.n_filters)
        out = sb.empty((sb.batch, self.n_filters, sb.n), complex_out=not modulus)
        if sb.batch:
            if modulus:
                k.execute_modulus(sb.data, out, True, nt)
            else:
                k.execute_complex(sb.data, out, True, nt)
        return out.reshape(sb.batch_shape + (self.n_filters, sb.n))

    def subsampled(self, x, oversampling=0, modulus=False, n_threads=None):
        """Transform with per-filter dyadic subsampling, as kymatio's first scattering layer.

        Filter λ is subsampled by 2^k_λ with k_λ = max(min(j_λ, log2_T) - oversampling, 0),
        which keeps it alias-free; the output covers the unpadded signal.

        Returns
        -------
        list of arrays, one per filter, shape (..., L_λ) with L_λ ≈ N / 2^k_λ.
        """
        sb = as_signal_batch(x, "x", min_length=1)
        self._check_n(sb.n)
        nt = resolve_n_threads(n_threads)
        subs = self.log2_subsampling(oversampling)
        k = self._kernel(sb.dtype, subs)
        lengths = [k.out_length(f) for f in range(self.n_filters)]
        flat = sb.empty((sb.batch * sum(lengths),), complex_out=not modulus)
        if sb.batch:
            if modulus:
                k.execute_modulus(sb.data, flat, False, nt)
            else:
                k.execute_complex(sb.data, flat, False, nt)
        out, off = [], 0
        for L in lengths:
            out.append(flat[off:off + sb.batch * L].reshape(sb.batch_shape + (L,)))
            off += sb.batch * L
        return out

    def _check_n(self, n):
        if n != self.N:
            raise ValueError(f"x has {n} samples on its last axis but the transform was built for N={self.N}; "
                             f"build a WaveletTransform with N={n}")
