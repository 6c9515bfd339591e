"""Multi-scale pyramid: scattering spectra of nested, right-aligned windows slid along a long
record, with every wavelet coefficient of the record computed once.

The InSight pipeline (arXiv 2305.16189) describes each position of a 65536-sample window,
slid by 1024 samples, by the scattering spectra averaged over the last 1024, 4096, 16384 and
65536 samples of the window. Transforming each window separately computes every sample's
coefficients 64 times. Here the record is transformed once, in overlapping segments, and the
moments of every window are sums of per-block sums:

1. **Blocks.** The record is cut into blocks of ``hop`` samples (block q covers samples
   [q hop, (q+1) hop); a tail shorter than ``hop`` is not used). For every block and every
   moment term (the kernel rows of :class:`ScatteringSpectra`) the mean over the block of the
   term's per-sample product (|s1|, |s2|, s1 conj(s2), ...) is computed once.
2. **Segments.** The transform runs on segments of ``block`` samples plus ``margin`` samples
   of context on each side (clipped at the record's ends, where the record itself is extended
   by the symmetric padding, exactly as a transform of the whole record would). Only the
   pooled values of the segment's interior are kept, so every coefficient is computed once
   up to the margins (overhead 2 margin / block, 7% with the defaults). For long jobs,
   ``scatclust.fft.set_planner('measure')`` (or a wisdom file) makes FFTW time its
   algorithms once per segment length (~1.5 s) and the transforms ~25% faster.
3. **Windows.** Window w ends at sample ``(w + n_max) * hop`` with ``n_max = max(scales) /
   hop``; its sub-window of length s covers the last s / hop blocks, and its raw moments are
   the mean of those blocks' values (prefix sums in double precision). Smaller-scale moments
   pooled over consecutive sub-windows therefore reproduce larger-scale ones exactly.
4. **Normalisation** ('each_ps', 'correlation', 'batch_ps') and ``as_real`` are per-(window,
   scale) operations on the raw moments, applied last, as :class:`ScatteringSpectra` does.

Block/overlap rule and its error
    A coefficient at sample n depends on the record through the layer-1 filter and then,
    after the modulus, the layer-2 filter. Two tails matter: the widest filters (phi and
    psi_{J-1}, at scale 2^J) decay exponentially beyond a few times 2^J samples, and the
    finest wavelets psi_0, psi_1 (tapered to zero at Nyquist, see :class:`SpectraFilterBank`)
    decay like 1/t^3 (6e-9 of their peak at 1024 samples). The default
    ``margin = max(16 * 2^J, 4096)`` (4096 samples for J = 8) covers both: the segment
    edges change the block moments by less than 1e-6 of each term's scale relative to the
    record-wide transform (measured in
    ``tests/test_pyramid.py::test_segments_match_whole_record_transform``: with J = 4,
    5e-2 at a margin of 2 * 2^J, 8e-3 at 4 * 2^J, 5e-6 at 16 * 2^J = 256, < 1e-6 at 4096).
    Use a larger margin for float64 work that needs more digits.

Difference with a separate transform of each window
    A window transformed on its own is extended by symmetric padding at its two ends, so its
    first and last ~2^J samples see mirrored data instead of the record's neighbours. The
    pyramid uses the real neighbours (it is the moment of the record's own coefficients over
    the window), so the two differ by that edge effect, which shrinks like 2^J / s for a
    window of length s. For the scale-free ('correlation') moments, measured in
    ``test_pyramid_close_to_separate_windows``: up to ~0.3 (absolute, on correlations of
    order 1) for s = 16 * 2^J and ~1e-2 for s = 256 * 2^J (the InSight ratio: 65536 samples
    with J = 8). Short windows are dominated by the separate transform's padding; the pyramid
    is the better estimate of the record's local statistics there.

Memory
    One segment's transform (see the kernel's notes) plus the block table (n_blocks, n_terms)
    complex128 and the output; a day of 3-channel 20 Hz data (1.728 M samples) stays far
    below 1 GB with the defaults (measured in ``bench/bench_pyramid.py``).
"""
from __future__ import annotations

import dataclasses
import threading

import numpy as np

from ._array import as_real_numpy, check_int
from ._spectra import ScatteringSpectra
from ._threads import resolve_n_threads

__all__ = ["ScatteringPyramid", "PyramidFeatures", "DEFAULT_SCALES"]

DEFAULT_SCALES = (1024, 4096, 16384, 65536)


@dataclasses.dataclass
class PyramidFeatures:
    """Output of :meth:`ScatteringPyramid.transform`.

    Attributes
    ----------
    features : ndarray, shape (n_windows, n_scales, n_coefficients)
        Scattering spectra of each window position and nested scale; complex64/complex128
        (float32/float64 with ``as_real``), the record's precision.
    window_end : ndarray of int64, shape (n_windows,)
        Exclusive end sample of each window in the record (all scales are right-aligned).
    scales : tuple of int
        Sub-window lengths in samples, increasing.
    hop : int
        Distance in samples between consecutive window positions.
    columns : list of dict
        :meth:`ScatteringSpectra.meta` of the coefficient axis.
    """

    features: np.ndarray
    window_end: np.ndarray
    scales: tuple
    hop: int
    columns: list

    def window_start(self, scale):
        """First sample of every window of length ``scale`` (one of :attr:`scales`)."""
        if scale not in self.scales:
            raise ValueError(f"scale={scale!r} is not one of the pyramid's scales {self.scales}")
        return self.window_end - scale


class ScatteringPyramid:
    """Scattering spectra of nested, right-aligned windows slid along a long record.

    Parameters
    ----------
    J : int
        Octaves of the scattering spectra (default 8, as the InSight work).
    scales : sequence of int
        Nested window lengths in samples, each a multiple of ``hop`` and >= 2**J
        (default 1024, 4096, 16384, 65536).
    hop : int
        Window step in samples (default 1024).
    C : int
        Channels; the record is (C, L) (or (L,) for C = 1).
    wavelet, families, cross_channel, normalize, sigma2, as_real :
        As :class:`ScatteringSpectra` (padding is 'symmetric' at the record's ends).
    block : int, optional
        Samples per segment interior, a multiple of ``hop`` (default: ``block + 2 * margin``
        is a power of two >= max(2**17, 18 * margin), e.g. 122880 for J = 8 and hop 1024).
    margin : int, optional
        Context samples on each side of a segment (default max(16 * 2**J, 4096)). See the
        module notes for the error it controls.
    n_threads : int, optional
        Threads of the C++ kernel (default: ``scatclust.get_num_threads()``).

    Examples
    --------
    >>> import numpy as np, scatclust
    >>> pyr = scatclust.ScatteringPyramid(J=6, scales=(256, 1024), hop=256, C=3)
    >>> x = np.random.default_rng(0).standard_normal((3, 20 * 1024)).astype(np.float32)
    >>> out = pyr.transform(x)
    >>> out.features.shape        # 77 windows, 2 scales, 3 channels x 112 moments (J=6)
    (77, 2, 336)
    >>> int(out.window_end[0]), int(out.window_end[1])
    (1024, 1280)
    """

    def __init__(self, J=8, scales=DEFAULT_SCALES, hop=1024, *, C=1, wavelet="battle_lemarie", families=None,
                 cross_channel=False, normalize=None, sigma2=None, as_real=False, block=None, margin=None,
                 n_threads=None):
        J = check_int(J, "J", 1, 24)
        hop = check_int(hop, "hop", 1, None)
        try:
            scales = tuple(int(check_int(s, "scales[i]", 1, None)) for s in scales)
        except TypeError:
            raise TypeError(f"scales={scales!r} must be a sequence of window lengths in samples") from None
        if not scales:
            raise ValueError("scales is empty; give at least one window length, e.g. scales=(1024, 4096)")
        if any(b <= a for a, b in zip(scales, scales[1:])):
            raise ValueError(f"scales={scales} must be strictly increasing")
        for s in scales:
            if s % hop:
                raise ValueError(f"scale {s} is not a multiple of hop={hop}; nested windows are made of "
                                 f"whole hops (use e.g. {max(hop, s - s % hop)})")
            if s < 2**J:
                raise ValueError(f"scale {s} is shorter than 2**J={2**J}; use scales >= {2**J} or a smaller J")
        margin = max(16 * 2**J, 4096) if margin is None else check_int(margin, "margin", 0, None)
        if block is None:
            # segments of a power-of-two length (FFTW's fastest sizes): 2^17 samples or more
            nseg = 1 << max(17, int(np.ceil(np.log2(18 * max(margin, 1)))))
            block = max(hop, (nseg - 2 * margin) // hop * hop)
        else:
            block = check_int(block, "block", 1, None)
            if block % hop:
                raise ValueError(f"block={block} must be a multiple of hop={hop}")
        self.J, self.scales, self.hop, self.C = J, scales, hop, check_int(C, "C", 1, 4096)
        self.block, self.margin = block, margin
        resolve_n_threads(n_threads)  # validates; None stays None (the process default at call time)
        self.n_threads = n_threads
        self._spec_args = dict(J=J, wavelet=wavelet, padding="symmetric", families=families, C=self.C,
                               cross_channel=cross_channel)
        # Layout, normalisation and as_real of the output: a global-mean spectra object at
        # the largest scale (its term rows are those of every segment transform).
        self._template = ScatteringSpectra(N=scales[-1], normalize=normalize, sigma2=sigma2, as_real=as_real,
                                           n_threads=self.n_threads, **self._spec_args)
        self._segments = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ layout
    @property
    def n_terms(self):
        """Number of moment terms per block (kernel rows, incl. normaliser terms)."""
        return self._template.n_terms

    @property
    def n_coefficients(self):
        return self._template.n_coefficients

    def meta(self):
        """Description of the coefficient axis (:meth:`ScatteringSpectra.meta`)."""
        return self._template.meta()

    def fit(self, reference_record):
        """Store sigma_j^2 for normalize='batch_ps' from the largest-scale windows of a record."""
        if self._template.normalize != "batch_ps":
            raise ValueError(f"fit() sets the reference power spectrum of normalize='batch_ps'; this pyramid "
                             f"has normalize={self._template.normalize!r}")
        raw = self._window_raw(self.block_moments(reference_record))[-1]  # (n_windows, n_terms)
        tp = self._template
        sig = np.empty((self.C, self.J + 1))
        for c in range(self.C):
            for j in range(self.J + 1):
                sig[c, j] = raw[:, tp._p2_term(c, j)].real.mean()
        tp.sigma2_ = tp._check_sigma2(sig)
        return self

    def _segment(self, n):
        with self._lock:
            s = self._segments.get(n)
            if s is None:
                s = ScatteringSpectra(N=n, estimator="pool", kernel=self.hop, n_threads=self.n_threads,
                                      **self._spec_args)
                if not np.array_equal(s._terms, self._template._terms):
                    raise AssertionError("scatclust internal error: segment and template term rows differ")
                self._segments[n] = s
            return s

    def _as_record(self, x):
        x, _ = as_real_numpy(x, "x")
        if x.ndim == 1 and self.C == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[0] != self.C:
            raise ValueError(f"x has shape {x.shape}; the pyramid was built for C={self.C} channels, so the "
                             f"record must be ({self.C}, L)" + (" or (L,)" if self.C == 1 else ""))
        L = x.shape[1]
        if L < self.scales[-1]:
            raise ValueError(f"x has L={L} samples, shorter than the largest scale {self.scales[-1]}; give a "
                             f"longer record or smaller scales")
        if not np.all(np.isfinite(x)):
            bad = int(np.flatnonzero(~np.isfinite(x).all(axis=0))[0])
            raise ValueError(f"x contains a non-finite value (NaN or Inf) at sample {bad}; fill or cut gaps "
                             f"before computing features")
        return np.ascontiguousarray(x)

    # ------------------------------------------------------------- computation
    def block_moments(self, x):
        """Raw moment terms averaged over each block of ``hop`` samples.

        Parameters
        ----------
        x : array (C, L) (or (L,) for C = 1), float32 or float64, numpy or torch

        Returns
        -------
        ndarray complex128, shape (L // hop, n_terms): row q is the mean over samples
        [q hop, (q+1) hop) of every term's per-sample value, computed from the record-wide
        transform (segments of ``block`` samples with ``margin`` context).
        """
        x = self._as_record(x)
        L, hop = x.shape[1], self.hop
        nb = L // hop
        out = np.empty((nb, self.n_terms), dtype=np.complex128)
        bc = self.block // hop
        min_len = 2**self.J
        for q0 in range(0, nb, bc):
            q1 = min(nb, q0 + bc)
            s1 = min(L, q1 * hop + self.margin)
            s0 = max(0, min(q0 * hop - self.margin, s1 - min_len))
            seg = self._segment(s1 - s0)
            core = seg._core(x.dtype)
            off = q0 * hop - s0
            n_out = core.n_out(hop, hop, off)
            res = np.empty((1, self.n_terms, n_out), dtype=np.complex64 if x.dtype == np.float32 else np.complex128)
            core.forward(np.ascontiguousarray(x[None, :, s0:s1]), res, hop, hop, off, resolve_n_threads(self.n_threads))
            out[q0:q1] = res[0, :, :q1 - q0].T
        return out

    def _window_raw(self, blocks):
        """Per scale, the raw moments (n_windows, n_terms) of every window position."""
        n_max = self.scales[-1] // self.hop
        nb = blocks.shape[0]
        n_win = nb - n_max + 1
        cs = np.zeros((nb + 1, blocks.shape[1]), dtype=np.complex128)
        np.cumsum(blocks, axis=0, out=cs[1:])
        ends = np.arange(n_max, nb + 1)
        res = []
        for s in self.scales:
            k = s // self.hop
            res.append((cs[ends] - cs[ends - k]) / k)
        assert res[0].shape[0] == n_win
        return res

    def windows_from_blocks(self, blocks, dtype=np.float64):
        """Features of every window from a block table (see :meth:`block_moments`).

        Lets callers compute blocks per file/day and join the tables of consecutive days
        before forming windows that cross the boundary.

        Returns
        -------
        (features (n_windows, n_scales, n_coefficients), window_end (n_windows,) int64)
        """
        blocks = np.asarray(blocks)
        if blocks.ndim != 2 or blocks.shape[1] != self.n_terms:
            raise ValueError(f"blocks has shape {blocks.shape}; expected (n_blocks, {self.n_terms})")
        n_max = self.scales[-1] // self.hop
        if blocks.shape[0] < n_max:
            raise ValueError(f"blocks has {blocks.shape[0]} rows; the largest scale needs {n_max}")
        raw = self._window_raw(blocks)
        n_win = raw[0].shape[0]
        cdt = np.complex64 if np.dtype(dtype) == np.float32 else np.complex128
        m = np.stack(raw, axis=1).reshape(n_win * len(self.scales), self.n_terms, 1).astype(cdt)
        feats = self._template._finish(m)[:, :, 0]
        feats = feats.reshape(n_win, len(self.scales), feats.shape[1])
        ends = (np.arange(n_win, dtype=np.int64) + n_max) * self.hop
        return feats, ends

    def transform(self, x):
        """Scattering spectra of every window position and nested scale of the record ``x``.

        Parameters
        ----------
        x : array (C, L) (or (L,) for C = 1), float32 or float64, numpy or torch (no
            gradient: the pyramid is a feature extractor)

        Returns
        -------
        PyramidFeatures
        """
        x = self._as_record(x)
        feats, ends = self.windows_from_blocks(self.block_moments(x), dtype=x.dtype)
        return PyramidFeatures(features=feats, window_end=ends, scales=self.scales, hop=self.hop,
                               columns=self.meta())

    __call__ = transform

    def __repr__(self):
        return (f"ScatteringPyramid(J={self.J}, scales={self.scales}, hop={self.hop}, C={self.C}, "
                f"block={self.block}, margin={self.margin}, n_coefficients={self.n_coefficients})")
