"""Scattering spectra (Morel et al. 2022; the InSight features): moments of one- and two-layer
wavelet coefficients, computed by the C++ kernel ``_core.ScatteringMomentsF32/F64``.

Specification shared by the C++ kernel, this front end and the torch reference
(``scatclust.reference.spectra``):

Signals and filters
    x real (..., C, N); padding ``'symmetric'`` (x followed by its time reverse, P = 2N) or
    ``'periodic'`` (P = N). Convolution u * h = ifft(fft(pad(u)) * h_f) cropped to the first
    N samples, with the filters of :class:`SpectraFilterBank` (analytic psi_j, j < J,
    centred at 0.425 * 2^-j cycles/sample, and the low-pass phi).
Series (per channel)
    s1[j] = x * psi_j (j < J), s1[J] = x * phi;  s2[j1, j2] = |s1[j1]| * psi_j2 (j2 < J) or
    |s1[j1]| * phi (j2 = J), for 0 <= j1 < j2 <= J (the envelope is padded again).
Estimator <.>
    'mean': the average over the N samples; 'pool': average pooling
    <f>[t] = (1/K) sum_{n = o + tS}^{o + tS + K - 1} f[n], t = 0..n_time-1,
    n_time = (N - o - K) // S + 1 (kernel K, stride S, offset o).
Families (per channel, in this order; ordering inside a family as listed)
    ====================  ===========================  ==========================  ==============
    family                 index set (order)            moment                      count
    ====================  ===========================  ==========================  ==============
    'mean'                 -                            <x * phi>                   1
    'sparsity'             j = 0..J-1                   Phi1 = <|s1[j]|>            J
    'power'                j = 0..J                     Phi2 = <|s1[j]|^2>          J+1
    'envelope'             (j1, j2) lexicographic       <|s2[j1, j2]|>              J(J+1)/2
    'phase_env'            (j1, j2) lexicographic       Phi3 = <s1[j2] conj(s2)>    J(J+1)/2
    'env_cross'            (j2, j1, j1'), j1'<=j1<j2    Phi4 = <s2[j1,j2] conj(     J(J+1)(J+2)/6
                           lexicographic                s2[j1',j2])>
    ====================  ===========================  ==========================  ==============
    n_coefficients per channel = 1 + J + (J+1) + J(J+1) + J(J+1)(J+2)/6 with all families
    (J = 8: 210), 174 without 'envelope'. Cross-channel families (pairs a < b, after all
    per-channel blocks): 'cross_power' <s1^a[j] conj(s1^b[j])> (J+1 per pair) and
    'cross_env' <s2^a[j1,j2] conj(s2^b[j1,j2])> (J(J+1)/2 per pair). Columns are ordered
    channel by channel (families in the order above), then cross_power for every pair,
    then cross_env for every pair.
Real by construction
    mean, sparsity, power, envelope; phase_env when j2 = J; env_cross when j1' = j1 or
    j2 = J; cross_power when j = J; cross_env when j2 = J.
Normalisations (after pooling, per (sample, time); sigma_j^2 = Phi2_j)
    'each_ps': sigma from the same window; 'batch_ps': sigma^2 given (``sigma2=``) or stored
    by :meth:`ScatteringSpectra.fit`. mean / sigma_J; Phi1_j / sigma_j; Phi2_j / sigma_j^2
    ('batch_ps' only, 'each_ps' leaves Phi2 raw); envelope / sigma_j1;
    Phi3 / (sigma_j1 sigma_j2); Phi4 / (sigma_j1 sigma_j1'); cross_power / (sigma^a_j sigma^b_j);
    cross_env / (sigma^a_j1 sigma^b_j1).
    'correlation' (scale-free): mean / sqrt(Phi2_J); Phi1_j / sqrt(Phi2_j);
    Phi2_j / sum_j' Phi2_j'; envelope / sqrt(Phi4[j1,j1,j2]);
    Phi3 / sqrt(Phi2_j2 Phi4[j1,j1,j2]); Phi4 / sqrt(Phi4[j1,j1,j2] Phi4[j1',j1',j2]);
    cross_power / sqrt(Phi2^a_j Phi2^b_j); cross_env / sqrt(Phi4^a[j1,j1,j2] Phi4^b[j1,j1,j2]).
    The diagonal moments they need are computed even when their family is not requested.
    A window with zero power gives NaN (0/0) under any normalisation.
"""
from __future__ import annotations

import threading

import numpy as np

from . import _core
from ._array import as_signal_batch, check_choice, check_int, is_torch
from ._spectra_filter_bank import PADDINGS, WAVELETS, SpectraFilterBank, check_spectra_geometry
from ._threads import resolve_n_threads

__all__ = ["ScatteringSpectra", "n_coefficients", "FAMILIES", "CROSS_FAMILIES"]

FAMILIES = ("mean", "sparsity", "power", "envelope", "phase_env", "env_cross")
CROSS_FAMILIES = ("cross_power", "cross_env")
NORMALIZATIONS = (None, "each_ps", "batch_ps", "correlation")
ESTIMATORS = ("mean", "pool")

# Kernel term kinds (the C++ kernel's row format (kind, ca, ia, cb, ib)).
_MEAN, _ABS, _PROD = 0, 1, 2


def _family_count(fam, J):
    return {
        "mean": 1,
        "sparsity": J,
        "power": J + 1,
        "envelope": J * (J + 1) // 2,
        "phase_env": J * (J + 1) // 2,
        "env_cross": J * (J + 1) * (J + 2) // 6,
        "cross_power": J + 1,
        "cross_env": J * (J + 1) // 2,
    }[fam]


def _check_families(families, C, cross_channel):
    if families is None:
        families = FAMILIES
    if isinstance(families, str):
        families = (families,)
    try:
        families = tuple(families)
    except TypeError:
        raise TypeError(f"families={families!r} must be a sequence of family names") from None
    allowed = FAMILIES + CROSS_FAMILIES
    for f in families:
        if f not in allowed:
            raise ValueError(f"families contains unknown family {f!r}; valid names are "
                             f"{', '.join(map(repr, allowed))}")
    if len(set(families)) != len(families):
        raise ValueError(f"families={families!r} lists a family twice")
    if cross_channel:
        families = families + tuple(f for f in CROSS_FAMILIES if f not in families)
    per = tuple(f for f in FAMILIES if f in families)
    cross = tuple(f for f in CROSS_FAMILIES if f in families)
    if cross and C < 2:
        raise ValueError(f"cross-channel families {cross} need C >= 2 channels, got C={C}")
    if not per and not cross:
        raise ValueError("families is empty; select at least one family")
    return per, cross


def n_coefficients(J, families=None, C=1, cross_channel=False, as_real=False):
    """Number of output coefficients (columns).

    Per channel: 1 + J + (J+1) + J(J+1)/2 + J(J+1)/2 + J(J+1)(J+2)/6 with every family
    (the terms of the families selected), times C; plus C(C-1)/2 * ((J+1) + J(J+1)/2) for
    the cross-channel families. J = 8: 210 per channel, 174 without 'envelope'. With
    ``as_real`` one column is added per coefficient not real by construction: J(J-1)/2 for
    phase_env (j2 < J), (J-2)(J-1)J/6 for env_cross (j1' < j1 < j2 < J), J for cross_power
    and J(J-1)/2 for cross_env per channel pair (J = 8: 210 + 28 + 56 = 294 per channel).

    >>> n_coefficients(8), n_coefficients(8, families=['mean', 'sparsity', 'power', 'phase_env', 'env_cross'])
    (210, 174)
    """
    J = check_int(J, "J", 1, 24)
    C = check_int(C, "C", 1, 4096)
    per, cross = _check_families(families, C, cross_channel)
    n = C * sum(_family_count(f, J) for f in per) + C * (C - 1) // 2 * sum(_family_count(f, J) for f in cross)
    if as_real:
        n += sum(1 for col in _columns(J, C, per, cross) if not col[4])
    return n


def _pair_index(J, j1, j2):
    """Index of the pair (j1, j2), 0 <= j1 < j2 <= J, in j1-major order."""
    return j1 * J - j1 * (j1 - 1) // 2 + (j2 - j1 - 1)


def _columns(J, C, per, cross):
    """Every output column: (family, channels, indices, term row, real_by_construction)."""
    L2 = [[None] * (J + 1) for _ in range(J)]
    for j1 in range(J):
        for j2 in range(j1 + 1, J + 1):
            L2[j1][j2] = J + 1 + _pair_index(J, j1, j2)
    pairs12 = [(j1, j2) for j1 in range(J) for j2 in range(j1 + 1, J + 1)]
    cols = []
    for c in range(C):
        for fam in per:
            if fam == "mean":
                cols.append((fam, (c,), (), (_MEAN, c, J, 0, 0), True))
            elif fam == "sparsity":
                cols += [(fam, (c,), (j,), (_ABS, c, j, 0, 0), True) for j in range(J)]
            elif fam == "power":
                cols += [(fam, (c,), (j,), (_PROD, c, j, c, j), True) for j in range(J + 1)]
            elif fam == "envelope":
                cols += [(fam, (c,), (a, b), (_ABS, c, L2[a][b], 0, 0), True) for a, b in pairs12]
            elif fam == "phase_env":
                cols += [(fam, (c,), (a, b), (_PROD, c, b, c, L2[a][b]), b == J) for a, b in pairs12]
            elif fam == "env_cross":
                for j2 in range(1, J + 1):
                    for j1 in range(j2):
                        for j1p in range(j1 + 1):
                            cols.append((fam, (c,), (j2, j1, j1p), (_PROD, c, L2[j1][j2], c, L2[j1p][j2]),
                                         j1 == j1p or j2 == J))
    chan_pairs = [(a, b) for a in range(C) for b in range(a + 1, C)]
    for fam in cross:
        for a, b in chan_pairs:
            if fam == "cross_power":
                cols += [(fam, (a, b), (j,), (_PROD, a, j, b, j), j == J) for j in range(J + 1)]
            else:
                cols += [(fam, (a, b), (j1, j2), (_PROD, a, L2[j1][j2], b, L2[j1][j2]), j2 == J)
                         for j1, j2 in pairs12]
    return cols


def _cat(parts, axis):
    if is_torch(parts[0]):
        import torch

        return torch.cat(parts, dim=axis)
    return np.concatenate(parts, axis=axis)


class _MomentsFunction:
    """Namespace for the torch autograd Function (built lazily so torch stays optional)."""

    cls = None

    @classmethod
    def get(cls):
        if cls.cls is None:
            import torch

            class ScatteringMomentsFunction(torch.autograd.Function):
                """Raw moments (B, n_terms, n_out) complex of x (B, C, N); backward by the C++ VJP."""

                @staticmethod
                def forward(ctx, x, core, kernel, stride, offset, n_threads):
                    xd = x.detach().contiguous()
                    n_out = core.n_out(kernel, stride, offset)
                    cdt = torch.complex64 if xd.dtype == torch.float32 else torch.complex128
                    out = torch.empty((xd.shape[0], core.n_terms, n_out), dtype=cdt)
                    core.forward(xd.numpy(), out.numpy(), kernel, stride, offset, n_threads)
                    ctx.save_for_backward(xd)
                    ctx.core, ctx.params = core, (kernel, stride, offset, n_threads)
                    return out

                @staticmethod
                def backward(ctx, grad_out):
                    (xd,) = ctx.saved_tensors
                    kernel, stride, offset, n_threads = ctx.params
                    g = grad_out.resolve_conj().resolve_neg().contiguous()
                    if g.dtype != (torch.complex64 if xd.dtype == torch.float32 else torch.complex128):
                        g = g.to(torch.complex64 if xd.dtype == torch.float32 else torch.complex128)
                    grad_x = torch.empty_like(xd)
                    ctx.core.backward(xd.numpy(), g.numpy(), grad_x.numpy(), kernel, stride, offset, n_threads)
                    return grad_x, None, None, None, None, None

            cls.cls = ScatteringMomentsFunction
        return cls.cls


class ScatteringSpectra:
    """Scattering-spectra moments of real signals (numpy arrays or torch CPU tensors).

    The full specification (series, estimator, families and their order, normalisations)
    is in the module docstring of ``scatclust._spectra``; :meth:`meta` describes every
    output column without computing anything.

    Parameters
    ----------
    N : int
        Signal length (window) in samples; N >= 2**J.
    J : int
        Number of octaves (wavelets at 0.425 * 2^-j cycles/sample, j < J).
    wavelet : {'battle_lemarie', 'morlet'}
        Filter family (:class:`SpectraFilterBank`).
    padding : {'symmetric', 'periodic'}
        Signal extension before each convolution.
    families : sequence of str, optional
        Subset of 'mean', 'sparsity', 'power', 'envelope', 'phase_env', 'env_cross' (default:
        all six) and the cross-channel 'cross_power', 'cross_env'.
    C : int
        Number of channels. C = 1: input (..., N); C > 1: input (..., C, N).
    cross_channel : bool
        Add 'cross_power' and 'cross_env' for every channel pair a < b (needs C >= 2).
    estimator : {'mean', 'pool'}
        Global mean over the window, or average pooling with ``kernel``, ``stride``
        (default ``kernel``) and ``offset`` (default 0), giving a time series of moments.
    normalize : {None, 'each_ps', 'batch_ps', 'correlation'}
        See the module docstring. 'batch_ps' needs ``sigma2`` or :meth:`fit`.
    sigma2 : array, shape (C, J+1) or (J+1,), optional
        Reference power spectrum sigma_j^2 for 'batch_ps'.
    as_real : bool
        Return float features: real parts of every column, then the imaginary parts of
        the columns not real by construction (see :meth:`meta`).
    n_threads : int, optional
        Threads of the C++ kernel (default: process default, ``OMP_NUM_THREADS``).

    Notes
    -----
    Output: (..., n_coefficients) for ``estimator='mean'``, (..., n_coefficients, n_time) for
    'pool'; complex64/complex128 (float32/float64 with ``as_real``), numpy or torch like the
    input. torch inputs with ``requires_grad`` are differentiable: the moments go through a
    ``torch.autograd.Function`` whose backward is the C++ vector-Jacobian product, and the
    normalisations are torch operations on top.

    Examples
    --------
    >>> import numpy as np, scatclust
    >>> ss = scatclust.ScatteringSpectra(N=4096, J=8)
    >>> x = np.random.default_rng(0).standard_normal((2, 4096))
    >>> ss(x).shape
    (2, 210)
    >>> ss.meta()[1]["family"], ss.meta()[1]["j"]
    ('sparsity', 0)
    """

    def __init__(self, N, J, wavelet="battle_lemarie", padding="symmetric", families=None, C=1,
                 cross_channel=False, estimator="mean", kernel=None, stride=None, offset=0, normalize=None,
                 sigma2=None, as_real=False, n_threads=None):
        N, J = check_spectra_geometry(N, J)
        check_choice(wavelet, "wavelet", WAVELETS)
        check_choice(padding, "padding", PADDINGS)
        C = check_int(C, "C", 1, 4096)
        if not isinstance(cross_channel, (bool, np.bool_)):
            raise TypeError(f"cross_channel={cross_channel!r} must be True or False")
        self.per_families, self.cross_families = _check_families(families, C, bool(cross_channel))
        check_choice(estimator, "estimator", ESTIMATORS)
        if estimator == "mean":
            if kernel is not None or stride is not None or offset != 0:
                raise ValueError("kernel, stride and offset apply to estimator='pool'; "
                                 "estimator='mean' averages the whole window")
            kernel, stride, offset = N, N, 0
        else:
            if kernel is None:
                raise ValueError("estimator='pool' needs kernel=<pooling window in samples>")
            kernel = check_int(kernel, "kernel", 1, N)
            stride = kernel if stride is None else check_int(stride, "stride", 1, None)
            offset = check_int(offset, "offset", 0, N - 1)
            if offset + kernel > N:
                raise ValueError(f"offset={offset} + kernel={kernel} exceeds N={N}: no complete pooling "
                                 f"window; use offset <= {N - kernel}")
        check_choice(normalize, "normalize", NORMALIZATIONS)
        if not isinstance(as_real, (bool, np.bool_)):
            raise TypeError(f"as_real={as_real!r} must be True or False")
        self.N, self.J, self.C = N, J, C
        self.wavelet, self.padding = wavelet, padding
        self.estimator, self.kernel, self.stride, self.offset = estimator, kernel, stride, offset
        self.n_time = (N - offset - kernel) // stride + 1
        self.normalize, self.as_real = normalize, bool(as_real)
        self.n_threads = resolve_n_threads(n_threads)
        self.filter_bank = SpectraFilterBank(N, J, wavelet, padding)
        self.sigma2_ = None
        if sigma2 is not None:
            self.sigma2_ = self._check_sigma2(sigma2)
        self._build_layout()
        self._lock = threading.Lock()
        self._cores = {}

    # ----------------------------------------------------------------- layout
    def _build_layout(self):
        J, C = self.J, self.C
        cols = _columns(J, C, self.per_families, self.cross_families)
        rows, index = [], {}

        def term(row):
            if row not in index:
                index[row] = len(rows)
                rows.append(row)
            return index[row]

        out_idx = [term(col[3]) for col in cols]
        # Normaliser sources: 0 = ones, then diagonal moments. Each column is divided by
        # sqrt(Z[a] * Z[b]) (a, b indices into the source list Z).
        L2 = lambda j1, j2: J + 1 + _pair_index(J, j1, j2)  # noqa: E731
        src_terms, src_index = [], {}

        def src(kind, key):
            # kind 'p2': Phi2_j of channel c (key (c, j)); 'p4': Phi4[j1,j1,j2] (key (c, j1, j2));
            # 'tot': sum_j Phi2_j of channel c (key (c,)).
            k = (kind,) + key
            if k not in src_index:
                src_index[k] = 1 + len(src_terms)
                src_terms.append(k)
            return src_index[k]

        mode = self.normalize
        norm = []
        for fam, ch, idx, _, _ in cols:
            a = b = 0
            if mode in ("each_ps", "batch_ps"):
                if fam == "mean":
                    a = src("p2", (ch[0], J))
                elif fam == "sparsity":
                    a = src("p2", (ch[0], idx[0]))
                elif fam == "power":
                    if mode == "batch_ps":
                        a = b = src("p2", (ch[0], idx[0]))
                elif fam == "envelope":
                    a = src("p2", (ch[0], idx[0]))
                elif fam == "phase_env":
                    a, b = src("p2", (ch[0], idx[0])), src("p2", (ch[0], idx[1]))
                elif fam == "env_cross":
                    a, b = src("p2", (ch[0], idx[1])), src("p2", (ch[0], idx[2]))
                elif fam == "cross_power":
                    a, b = src("p2", (ch[0], idx[0])), src("p2", (ch[1], idx[0]))
                else:  # cross_env
                    a, b = src("p2", (ch[0], idx[0])), src("p2", (ch[1], idx[0]))
            elif mode == "correlation":
                if fam == "mean":
                    a = src("p2", (ch[0], J))
                elif fam == "sparsity":
                    a = src("p2", (ch[0], idx[0]))
                elif fam == "power":
                    a = b = src("tot", (ch[0],))
                elif fam == "envelope":
                    a = src("p4", (ch[0],) + idx)
                elif fam == "phase_env":
                    a, b = src("p2", (ch[0], idx[1])), src("p4", (ch[0],) + idx)
                elif fam == "env_cross":
                    j2, j1, j1p = idx
                    a, b = src("p4", (ch[0], j1, j2)), src("p4", (ch[0], j1p, j2))
                elif fam == "cross_power":
                    a, b = src("p2", (ch[0], idx[0])), src("p2", (ch[1], idx[0]))
                else:
                    a, b = src("p4", (ch[0],) + idx), src("p4", (ch[1],) + idx)
            norm.append((a, b))
        # Kernel terms behind every source (per-window modes only).
        src_rows = []
        for k in src_terms:
            if k[0] == "p2":
                c, j = k[1:]
                src_rows.append([term((_PROD, c, j, c, j))])
            elif k[0] == "p4":
                c, j1, j2 = k[1:]
                src_rows.append([term((_PROD, c, L2(j1, j2), c, L2(j1, j2)))])
            else:
                c = k[1]
                src_rows.append([term((_PROD, c, j, c, j)) for j in range(J + 1)])
        self._columns = cols
        self._terms = np.ascontiguousarray(np.array(rows, dtype=np.int32).reshape(-1, 5))
        self._out_idx = np.array(out_idx, dtype=np.int64)
        self._src_terms = src_terms
        self._src_rows = src_rows
        self._norm_a = np.array([a for a, _ in norm], dtype=np.int64)
        self._norm_b = np.array([b for _, b in norm], dtype=np.int64)
        self._im_cols = np.array([i for i, col in enumerate(cols) if not col[4]], dtype=np.int64)

    @property
    def n_terms(self):
        """Number of moments the kernel evaluates (outputs plus normalisation diagonals)."""
        return len(self._terms)

    @property
    def n_coefficients(self):
        """Number of output columns."""
        return len(self._columns) + (len(self._im_cols) if self.as_real else 0)

    def meta(self):
        """Describe every output column, in order, without computing.

        Returns
        -------
        list of dict, one per column, with keys 'family', 'channel' (int; for cross families
        the pair as 'channels'), 'j' (mean: J; sparsity/power/cross_power), 'j1', 'j2'
        (envelope, phase_env, env_cross, cross_env), 'j1p' (env_cross: j1'), 'part' ('c' for a
        complex output, 're'/'im' with ``as_real``) and 'real_by_construction'. Unused keys
        are None.
        """
        out = []

        def entry(col, part):
            fam, ch, idx, _, real = col
            d = {"family": fam, "channel": ch[0] if len(ch) == 1 else None,
                 "channels": ch, "j": None, "j1": None, "j2": None, "j1p": None,
                 "part": part, "real_by_construction": real}
            if fam == "mean":
                d["j"] = self.J
            elif fam in ("sparsity", "power", "cross_power"):
                d["j"] = idx[0]
            elif fam == "env_cross":
                d["j2"], d["j1"], d["j1p"] = idx
            else:
                d["j1"], d["j2"] = idx
            return d

        if not self.as_real:
            return [entry(c, "c") for c in self._columns]
        out = [entry(c, "re") for c in self._columns]
        out += [entry(self._columns[i], "im") for i in self._im_cols]
        return out

    # ------------------------------------------------------------ computation
    def _core(self, dtype):
        key = np.dtype(dtype).name
        with self._lock:
            core = self._cores.get(key)
            if core is None:
                cls = _core.ScatteringMomentsF32 if key == "float32" else _core.ScatteringMomentsF64
                fb = self.filter_bank
                core = _CoreHandle(cls(np.ascontiguousarray(fb.psi_f), np.ascontiguousarray(fb.phi_f), self.N,
                                       fb.padding_mode, self.C, self._terms), len(self._terms))
                self._cores[key] = core
        return core

    def _prepare(self, x):
        batch = as_signal_batch(x, "x", min_length=1)
        if batch.n != self.N:
            raise ValueError(f"x has {batch.n} samples on its last axis; this ScatteringSpectra was built "
                             f"for N={self.N}")
        if self.C > 1:
            if len(batch.batch_shape) < 1 or batch.batch_shape[-1] != self.C:
                raise ValueError(f"x has shape {tuple(batch.batch_shape) + (batch.n,)}; with C={self.C} "
                                 f"channels the input must be (..., {self.C}, {self.N})")
            lead = batch.batch_shape[:-1]
        else:
            lead = batch.batch_shape
        return batch, lead

    def raw_moments(self, x):
        """Kernel output: complex (..., n_terms, n_time), the moments of ``self._terms``."""
        batch, lead = self._prepare(x)
        B = int(np.prod(lead, dtype=np.int64))
        core = self._core(batch.dtype)
        if batch.is_torch:
            import torch

            xt = x if x.dtype in (torch.float32, torch.float64) else x.to(batch.data.dtype)
            xt = xt.reshape(B, self.C, self.N)
            if xt.requires_grad:
                m = _MomentsFunction.get().apply(xt, core, self.kernel, self.stride, self.offset, self.n_threads)
            else:
                xd = batch.data.reshape(B, self.C, self.N).contiguous()
                m = batch.empty((B, self.n_terms, self.n_time), complex_out=True)
                if B:
                    core.forward(xd.numpy(), m.numpy(), self.kernel, self.stride, self.offset, self.n_threads)
        else:
            xd = np.ascontiguousarray(batch.data.reshape(B, self.C, self.N))
            m = batch.empty((B, self.n_terms, self.n_time), complex_out=True)
            if B:
                core.forward(xd, m, self.kernel, self.stride, self.offset, self.n_threads)
        return m, lead

    def __call__(self, x):
        """Scattering spectra of ``x``; see the class docstring for shapes."""
        m, lead = self.raw_moments(x)
        out = self._finish(m)
        shape = tuple(lead) + (out.shape[1],) + ((out.shape[2],) if self.estimator == "pool" else ())
        return out.reshape(shape)

    forward = __call__

    def _sources(self, m):
        """Z (B, 1 + n_src, n_time) real: ones, then every normaliser source."""
        B, _, T = m.shape
        if self.normalize == "batch_ps":
            if self.sigma2_ is None:
                raise ValueError("normalize='batch_ps' needs sigma2=... or fit(reference_batch) first")
            vals = np.array([self.sigma2_[k[1], k[2]] for k in self._src_terms], dtype=np.float64)
            full = np.concatenate([[1.0], vals])
            if is_torch(m):
                import torch

                return torch.as_tensor(full, dtype=m.real.dtype).reshape(1, -1, 1)
            return full.astype(m.real.dtype).reshape(1, -1, 1)
        re = m.real
        parts = [re[:, :1] * 0 + 1]
        for rows in self._src_rows:
            v = re[:, rows[0]:rows[0] + 1]
            for r in rows[1:]:
                v = v + re[:, r:r + 1]
            parts.append(v)
        return _cat(parts, 1)

    def _finish(self, m):
        out = m[:, self._out_idx]
        if self.normalize is not None:
            Z = self._sources(m)
            den = (Z[:, self._norm_a] * Z[:, self._norm_b]) ** 0.5
            out = out / den
        if self.as_real:
            out = _cat([out.real, out.imag[:, self._im_cols]], 1)
        return out

    # ------------------------------------------------------------ batch_ps
    def _check_sigma2(self, sigma2):
        if is_torch(sigma2):
            sigma2 = sigma2.detach().cpu().numpy()
        s = np.asarray(sigma2, dtype=np.float64)
        if s.shape == (self.J + 1,):
            s = np.broadcast_to(s, (self.C, self.J + 1))
        if s.shape != (self.C, self.J + 1):
            raise ValueError(f"sigma2 has shape {np.shape(sigma2)}; expected ({self.C}, {self.J + 1}) "
                             f"(channels, J+1) or ({self.J + 1},)")
        if not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ValueError("sigma2 must be positive and finite (power spectrum Phi2_j of a reference batch)")
        return np.array(s)

    def fit(self, reference_batch):
        """Store sigma2_ (C, J+1): Phi2_j of ``reference_batch`` averaged over samples (and time).

        Returns self (scikit-learn style); used by ``normalize='batch_ps'``.
        """
        m, _ = self.raw_moments(reference_batch)
        if is_torch(m):
            m = m.detach().numpy()
        rows = np.array([[self._p2_term(c, j) for j in range(self.J + 1)] for c in range(self.C)])
        if m.shape[0] == 0:
            raise ValueError("reference_batch is empty")
        p2 = m.real[:, rows].mean(axis=(0, -1)).astype(np.float64)
        self.sigma2_ = self._check_sigma2(p2)
        return self

    def _p2_term(self, c, j):
        for i, r in enumerate(self._terms.tolist()):
            if r == [_PROD, c, j, c, j]:
                return i
        raise ValueError(f"Phi2 term for channel {c}, j={j} missing: the layout has no power "
                         f"moments; include 'power' in families or use normalize='batch_ps'")

    def __repr__(self):
        fams = self.per_families + self.cross_families
        return (f"ScatteringSpectra(N={self.N}, J={self.J}, wavelet={self.wavelet!r}, padding={self.padding!r}, "
                f"C={self.C}, families={fams}, estimator={self.estimator!r}, normalize={self.normalize!r}, "
                f"as_real={self.as_real}; {self.n_coefficients} coefficients)")


# Count formula as a static method: ScatteringSpectra.count(J, families, C, cross_channel, as_real).
ScatteringSpectra.count = staticmethod(n_coefficients)


class _CoreHandle:
    """A kernel object and its number of terms (what the autograd Function needs)."""

    def __init__(self, core, n_terms):
        self._c = core
        self.n_terms = n_terms

    def n_out(self, *a):
        return self._c.n_out(*a)

    def forward(self, *a):
        return self._c.forward(*a)

    def backward(self, *a):
        return self._c.backward(*a)
