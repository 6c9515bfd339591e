"""Short-time Fourier transform: numpy / torch front end of the C++ core.

Conventions are those of :class:`scipy.signal.ShortTimeFFT` with ``fft_mode='onesided'``
(scipy is *not* needed at import time):

* frame (slice) ``p`` covers the samples ``k = p*hop - m_num//2 + j``, ``j = 0 .. m_num-1``,
  so frame 0 is centred on sample 0 and its time is ``t = p * hop / fs``;
* each segment is multiplied by the window, zero-padded to ``mfft`` samples and, unless
  ``phase_shift is None``, rolled left by ``(phase_shift + m_num//2) % m_num`` samples before
  a real FFT of length ``mfft``; the result is ``S[..., f, t]`` (frequency-major);
* samples outside the signal come from ``padding`` ('zeros', 'edge', 'even', 'odd'),
  which has numpy.pad's meaning (as in scipy);
* ``scale_to='magnitude'`` multiplies the window by ``1/sum(win)``, ``'psd'`` by
  ``1/sqrt(sum(win**2) * fs)``; the (canonical) dual window used by :meth:`STFT.istft` is
  computed from the scaled window, so ``istft(stft(x)) == x`` for every scaling.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _core
from ._array import as_real_numpy, check_choice, check_int, is_torch
from ._threads import resolve_n_threads

__all__ = ["STFT", "stft", "istft", "get_window"]

_PADDING = {"zeros": 0, "edge": 1, "even": 2, "odd": 3}
_OUTPUT = {"complex": 0, "magnitude": 1, "power": 2, "log_power": 3}
_SCALE_TO = (None, "magnitude", "psd")
_BUILTIN_WINDOWS = ("hann", "hamming", "blackman", "boxcar")
_WINDOW_ALIASES = {"hanning": "hann", "han": "hann", "ham": "hamming", "black": "blackman",
                   "rect": "boxcar", "rectangular": "boxcar", "ones": "boxcar", "box": "boxcar"}


# ---------------------------------------------------------------------------- helpers
def _to_numpy_real(x, name):
    """Returns (array (..., n) float32/float64 C-contiguous, is_torch).

    float32 and float64 are kept; other real dtypes are converted once (see
    :func:`scatclust._array.as_real_numpy`). Non-contiguous inputs are copied once.
    Complex input is a TypeError.
    """
    x, torch_in = as_real_numpy(x, name)
    if x.ndim == 0:
        raise ValueError(f"{name} is a scalar; it must have shape (..., n) with n >= 1")
    return np.ascontiguousarray(x), torch_in


def _to_numpy_complex(S, name):
    """Returns (array complex64/complex128, is_torch). Real input is promoted.

    The array is not made contiguous here: :meth:`STFT._inverse` reads both C-ordered
    (..., f, t) arrays and the frame-major views that :meth:`STFT.stft` returns, without a copy.
    """
    torch_in = is_torch(S)
    if torch_in:
        import torch

        if S.device.type != "cpu":
            raise ValueError(f"{name} is on device {S.device}; only CPU tensors are supported")
        if S.dtype not in (torch.complex64, torch.complex128):
            S = S.to(torch.complex64 if S.dtype == torch.float32 else torch.complex128)
        S = S.detach().resolve_conj().resolve_neg().numpy()
    else:
        S = np.asarray(S)
    if S.dtype not in (np.complex64, np.complex128):
        S = S.astype(np.complex64 if S.dtype == np.float32 else np.complex128)
    return S, torch_in


def _wrap(out, is_torch):
    if is_torch:
        import torch

        return torch.from_numpy(out)
    return out


def get_window(window, nperseg):
    """Periodic ("DFT-even", scipy's ``fftbins=True``) window of length ``nperseg``.

    Parameters
    ----------
    window : str or tuple or array_like
        'hann', 'hamming', 'blackman' or 'boxcar' are computed with numpy. Any other name or
        tuple (e.g. ``('tukey', 0.25)``) is passed to ``scipy.signal.get_window`` if scipy is
        installed. A 1-D real array of length ``nperseg`` is returned as float64.
    nperseg : int
        Window length in samples (>= 1).

    Returns
    -------
    numpy.ndarray
        float64, shape ``(nperseg,)``.

    Examples
    --------
    >>> from scatclust import get_window
    >>> get_window('hann', 4)
    array([0. , 0.5, 1. , 0.5])
    """
    nperseg = check_int(nperseg, "nperseg", 1)
    if not isinstance(window, (str, tuple)):
        if is_torch(window):
            window = window.detach().cpu().numpy()
        w = np.asarray(window)
        if np.iscomplexobj(w):
            raise TypeError(f"window has complex dtype {w.dtype}; it must be real")
        w = w.astype(np.float64)
        if w.ndim != 1 or w.size != nperseg:
            raise ValueError(f"window has shape {w.shape}; it must be 1-D with nperseg={nperseg} samples")
        return w
    name = window if isinstance(window, str) else None
    if name is not None:
        name = _WINDOW_ALIASES.get(name.lower(), name.lower())
    if name in _BUILTIN_WINDOWS:
        if name == "boxcar" or nperseg == 1:
            return np.ones(nperseg)
        # Periodic window: the symmetric window of length nperseg+1 without its last sample.
        phase = 2.0 * np.pi * np.arange(nperseg) / nperseg
        if name == "hann":
            return 0.5 - 0.5 * np.cos(phase)
        if name == "hamming":
            return 0.54 - 0.46 * np.cos(phase)
        return 0.42 - 0.5 * np.cos(phase) + 0.08 * np.cos(2.0 * phase)  # blackman
    try:
        from scipy.signal import get_window as sp_get_window
    except ImportError:
        raise ValueError(f"window={window!r} is not one of the built-in windows {list(_BUILTIN_WINDOWS)}; "
                         f"install scipy for other windows or pass an array") from None
    try:
        return np.asarray(sp_get_window(window, nperseg, fftbins=True), dtype=np.float64)
    except (ValueError, TypeError) as e:
        raise ValueError(f"window={window!r} is not a known window ({e})") from None


def _canonical_dual(win, hop):
    """``win / DD`` with ``DD[j] = sum_k win[j + k*hop]**2`` over all shifts that overlap."""
    m = win.size
    if hop > m:
        raise ValueError(f"hop={hop} must be <= the window length m_num={m} for the STFT to be invertible")
    w2 = win * win
    dd = w2.copy()
    for k in range(hop, m, hop):
        dd[k:] += w2[:-k]
        dd[:-k] += w2[k:]
    if not np.all(dd >= np.finfo(np.float64).resolution * dd.max()):
        raise ValueError(f"the STFT with this window and hop={hop} is not invertible "
                         f"(the shifted squared windows do not cover every sample)")
    return win / dd


# ---------------------------------------------------------------------------- STFT class
class STFT:
    """Short-time Fourier transform plan (scipy ``ShortTimeFFT`` conventions, one-sided FFT).

    Core parameters are read-only, as in scipy: build a new object to change them.

    Parameters
    ----------
    win : array_like, shape (m_num,)
        Real, finite analysis window (stored as float64).
    hop : int
        Frame increment in samples (>= 1).
    fs : float, default 1.0
        Sampling frequency in Hz (> 0); only affects `f`, `t`, `delta_t`, `delta_f` and
        ``scale_to='psd'``.
    mfft : int, optional
        FFT length (>= m_num, zero-padding); default ``m_num``.
    scale_to : None, 'magnitude' or 'psd'
        Scale the window by ``1/sum(win)`` (an amplitude-A tone gives a peak of A/2) or by
        ``1/sqrt(sum(win**2) * fs)`` (``|S|**2`` is a power spectral density in units**2/Hz).
    phase_shift : int or None, default 0
        scipy's linear phase convention: segments are rolled left by
        ``(phase_shift + m_num//2) % m_num`` samples before the FFT, so that with the default
        0 the phase refers to the frame centre. ``None`` does not roll (the phase refers to
        the first sample of the segment, as in ``torch.stft``).

    Notes
    -----
    Frame ``p`` covers samples ``p*hop - m_num//2 .. p*hop - m_num//2 + m_num - 1``.
    ``stft(x)`` returns frames ``p_min .. p_max(n) - 1`` (all frames that touch the signal),
    identical to ``scipy.signal.ShortTimeFFT(win, hop, fs, mfft=mfft, scale_to=scale_to,
    phase_shift=phase_shift).stft(x)``.

    Mapping to ``torch.stft(x, n_fft, hop_length, win_length=n_fft, window=w, center=True,
    pad_mode='constant', return_complex=True)``: with ``STFT(w, hop_length, mfft=n_fft,
    phase_shift=None)``, torch's frame ``t`` is our frame ``p = t`` and torch returns the
    frames ``p = 0 .. (n + 2*(n_fft//2) - n_fft)//hop_length`` (that is ``1 + n//hop`` frames
    for even ``n_fft``): ``torch.stft(...) == STFT(...).stft(x, 0, 1 + (n + 2*(n_fft//2) -
    n_fft)//hop_length)``. torch's ``pad_mode='reflect'`` is ``padding='even'`` and
    ``'replicate'`` is ``padding='edge'``.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust import STFT
    >>> fs = 100.0
    >>> x = np.sin(2 * np.pi * 10.0 * np.arange(1000) / fs)
    >>> sft = STFT.from_window('hann', fs, nperseg=64, hop=16, scale_to='magnitude')
    >>> S = sft.stft(x)                       # (33, 66) complex128
    >>> float(sft.f[np.argmax(abs(S[:, 30]))])
    9.375
    >>> np.allclose(sft.istft(S, k1=x.size), x)
    True
    """

    def __init__(self, win, hop, fs=1.0, mfft=None, scale_to=None, phase_shift=0):
        if is_torch(win):
            win = win.detach().cpu().numpy()
        w = np.asarray(win)
        if np.iscomplexobj(w):
            raise TypeError(f"win has complex dtype {w.dtype}; only real windows are supported")
        w = w.astype(np.float64)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"win has shape {w.shape}; it must be 1-D with >= 1 samples")
        if not np.all(np.isfinite(w)):
            raise ValueError("win contains NaN or Inf; all window samples must be finite")
        self._hop = check_int(hop, "hop", 1)
        if isinstance(fs, bool) or not isinstance(fs, numbers.Real) or not (math.isfinite(fs) and fs > 0):
            raise ValueError(f"fs={fs!r} must be a finite number > 0 (Hz)")
        self._fs = float(fs)
        m = w.size
        self._mfft = m if mfft is None else check_int(mfft, "mfft", 1)
        if self._mfft < m:
            raise ValueError(f"mfft={self._mfft} must be >= the window length m_num={m}")
        if scale_to not in _SCALE_TO:
            raise ValueError(f"scale_to={scale_to!r} must be one of None, 'magnitude', 'psd'")
        if scale_to == "magnitude":
            s = np.sum(w)
            if s == 0:
                raise ValueError("scale_to='magnitude' needs a window with sum(win) != 0")
            w = w / abs(s)
        elif scale_to == "psd":
            w = w / np.sqrt(np.sum(w * w) * self._fs)
        self._scaling = scale_to
        if phase_shift is not None:
            phase_shift = check_int(phase_shift, "phase_shift")
            if not -self._mfft < phase_shift < self._mfft:
                raise ValueError(f"phase_shift={phase_shift} must satisfy -mfft < phase_shift < mfft "
                                 f"(mfft={self._mfft})")
        self._phase_shift = phase_shift
        w.setflags(write=False)
        self._win = w
        self._dual = None
        self._win_by_dtype = {}
        self._k_min, self._p_min = self._pre_padding()

    @classmethod
    def from_window(cls, window, fs=1.0, nperseg=None, noverlap=None, *, hop=None, mfft=None,
                    scale_to=None, phase_shift=0):
        """Build from a window name (periodic window, see :func:`get_window`).

        Parameters
        ----------
        window : str, tuple or array_like
            'hann', 'hamming', 'blackman', 'boxcar' (numpy), other scipy names, or an array.
        fs : float
            Sampling frequency in Hz.
        nperseg : int
            Window length in samples.
        noverlap : int, optional
            Overlap in samples (``hop = nperseg - noverlap``); give this or `hop`.
        hop : int, optional
            Frame increment in samples.
        mfft, scale_to, phase_shift
            As in :class:`STFT`.

        Examples
        --------
        >>> from scatclust import STFT
        >>> STFT.from_window('hann', fs=20.0, nperseg=256, noverlap=192).hop
        64
        """
        nperseg = check_int(nperseg, "nperseg", 1)
        if (noverlap is None) == (hop is None):
            raise ValueError(f"give exactly one of noverlap={noverlap!r} and hop={hop!r}")
        if hop is None:
            noverlap = check_int(noverlap, "noverlap", 0)
            if noverlap >= nperseg:
                raise ValueError(f"noverlap={noverlap} must be < nperseg={nperseg}")
            hop = nperseg - noverlap
        return cls(get_window(window, nperseg), hop, fs, mfft=mfft, scale_to=scale_to, phase_shift=phase_shift)

    # ---- read-only core parameters and geometry
    @property
    def win(self):
        """Analysis window (scaled by `scale_to`), float64, shape (m_num,)."""
        return self._win

    @property
    def hop(self):
        """Frame increment in samples."""
        return self._hop

    @property
    def fs(self):
        """Sampling frequency in Hz."""
        return self._fs

    @property
    def T(self):
        """Sampling interval in s (``1/fs``)."""
        return 1.0 / self._fs

    @property
    def mfft(self):
        """FFT length in samples."""
        return self._mfft

    @property
    def m_num(self):
        """Window length in samples."""
        return self._win.size

    @property
    def m_num_mid(self):
        """Centre index of the window, ``m_num // 2``."""
        return self._win.size // 2

    @property
    def scaling(self):
        """None, 'magnitude' or 'psd'."""
        return self._scaling

    @property
    def phase_shift(self):
        """Linear phase in samples (scipy convention), or None for no roll."""
        return self._phase_shift

    @property
    def f_pts(self):
        """Number of frequency bins, ``mfft // 2 + 1``."""
        return self._mfft // 2 + 1

    @property
    def f(self):
        """Bin frequencies in Hz, ``arange(f_pts) * delta_f``, float64."""
        return np.fft.rfftfreq(self._mfft, 1.0 / self._fs)

    @property
    def delta_f(self):
        """Frequency bin width in Hz, ``fs / mfft``."""
        return self._fs / self._mfft

    @property
    def delta_t(self):
        """Time between frames in s, ``hop / fs``."""
        return self._hop / self._fs

    @property
    def k_min(self):
        """Smallest sample index touched by frame `p_min` (<= 0)."""
        return self._k_min

    @property
    def p_min(self):
        """Index of the first frame that touches the signal (<= 0); frame 0 is centred on sample 0."""
        return self._p_min

    @property
    def dual_win(self):
        """Canonical dual window ``win / sum_k win[. + k*hop]**2``, float64 (m_num,).

        Computed from the scaled window, so it carries the inverse of the `scale_to` factor.
        Raises ValueError if the STFT is not invertible (``hop > m_num`` or gaps).
        """
        if self._dual is None:
            d = _canonical_dual(self._win, self._hop)
            d.setflags(write=False)
            self._dual = d
        return self._dual

    def _pre_padding(self):
        # Step frames to the left while they still overlap t >= 0. A frame is dropped when it
        # ends at or before sample 0, or when the last -k window samples are zero: the same
        # criterion as scipy's ShortTimeFFT, kept so that frame counts are identical.
        w2 = self._win ** 2
        m, hop = self.m_num, self._hop
        k = -self.m_num_mid
        p = 0
        while True:
            k_next = k - hop
            if k_next + m <= 0 or not np.any(w2[k_next:]):
                return k, -p
            k, p = k_next, p + 1

    def _post_padding(self, n):
        n = self._check_n(n)
        w2 = self._win ** 2
        m, hop = self.m_num, self._hop
        q = n // hop
        k = q * hop - self.m_num_mid
        while True:
            k_next = k + hop
            if k_next >= n or not np.any(w2[:n - k_next]):
                return k + m, q + 1
            k, q = k_next, q + 1

    def _check_n(self, n):
        n = check_int(n, "n", 1)
        need = self.m_num - self.m_num_mid
        if n < need:
            raise ValueError(f"n={n} must be >= ceil(m_num/2)={need} (m_num={self.m_num})")
        return n

    def k_max(self, n):
        """First sample index after the signal end not touched by a frame (signal of n samples)."""
        return self._post_padding(n)[0]

    def p_max(self, n):
        """One past the last frame that touches a signal of n samples."""
        return self._post_padding(n)[1]

    def p_num(self, n):
        """Number of frames of ``stft(x)`` for a signal of n samples, ``p_max(n) - p_min``."""
        return self.p_max(n) - self._p_min

    def p_range(self, n, p0=None, p1=None):
        """Validated frame range: defaults ``(p_min, p_max(n))``; needs ``p_min <= p0 < p1 <= p_max(n)``."""
        p_max = self.p_max(n)
        p0_ = self._p_min if p0 is None else check_int(p0, "p0")
        p1_ = p_max if p1 is None else check_int(p1, "p1")
        if not self._p_min <= p0_ < p1_ <= p_max:
            raise ValueError(f"frame range p0={p0_}, p1={p1_} must satisfy p_min={self._p_min} <= p0 < p1 "
                             f"<= p_max(n)={p_max} for a signal of n={n} samples")
        return p0_, p1_

    def t(self, n, p0=None, p1=None):
        """Frame times in s, ``arange(p0, p1) * delta_t``, for a signal of n samples."""
        p0, p1 = self.p_range(n, p0, p1)
        return np.arange(p0, p1) * self.delta_t

    def _win_as(self, dtype, which="win"):
        key = (which, np.dtype(dtype).str)
        w = self._win_by_dtype.get(key)
        if w is None:
            src = self._win if which == "win" else self.dual_win
            w = np.ascontiguousarray(src, dtype=dtype)
            self._win_by_dtype[key] = w
        return w

    # ---- transforms
    def stft(self, x, p0=None, p1=None, *, padding="zeros", output="complex", log_eps=1e-10,
             n_threads=None):
        """Short-time Fourier transform of the last axis of `x`.

        Parameters
        ----------
        x : numpy.ndarray or torch.Tensor, shape (..., n)
            Real signal(s), finite. float32 / float64 are kept; other real dtypes (int,
            numpy float16, ...) are converted once to float64 (torch half types to float32). Non-contiguous input is copied once.
            torch CPU tensors give torch tensors (not tracked by autograd).
        p0, p1 : int, optional
            Frames ``p0 <= p < p1``; defaults ``p_min`` and ``p_max(n)`` (scipy's).
        padding : {'zeros', 'edge', 'even', 'odd'}
            How samples outside ``[0, n)`` are filled (numpy.pad 'constant', 'edge',
            'reflect', 'reflect' with ``reflect_type='odd'``).
        output : {'complex', 'magnitude', 'power', 'log_power'}
            ``S``, ``|S|``, ``|S|**2`` or ``log(|S|**2 + log_eps)``, fused in the kernel.
        log_eps : float, default 1e-10
            Floor added to the power before the natural log (``output='log_power'``).
        n_threads : int, optional
            Threads for this call; None uses :func:`scatclust.get_num_threads`.

        Returns
        -------
        S : numpy.ndarray or torch.Tensor, shape (..., f_pts, p1 - p0)
            complex64 / complex128 for 'complex', else float32 / float64 (the input precision).
            ``S[..., q, j]`` is at frequency ``f[q]`` (Hz) and time ``t(n)[j]`` (s).

        Notes
        -----
        For power-of-two ``mfft`` in 16..4096 on x86-64 CPUs with AVX2+FMA the kernel is
        scatclust's own real FFT vectorised across frames, otherwise FFTW; both match scipy
        to 1e-5 (float32) / 1e-12 (float64) of ``max|S|``. The environment variable
        ``SCATCLUST_STFT_KERNEL=fftw`` forces FFTW.

        Examples
        --------
        >>> import numpy as np
        >>> from scatclust import STFT
        >>> sft = STFT.from_window('hann', 1.0, nperseg=8, hop=2)
        >>> sft.stft(np.zeros((3, 40), np.float32), output='power').shape
        (3, 5, 23)
        """
        xa, is_torch = _to_numpy_real(x, "x")
        n = xa.shape[-1]
        if n == 0:
            raise ValueError(f"x is empty (shape {xa.shape}); it needs n >= 1 samples on its last axis")
        self._check_n(n)
        check_choice(padding, "padding", _PADDING)
        check_choice(output, "output", _OUTPUT)
        if not (isinstance(log_eps, numbers.Real) and math.isfinite(log_eps) and log_eps > 0):
            raise ValueError(f"log_eps={log_eps!r} must be a finite number > 0")
        p0, p1 = self.p_range(n, p0, p1)
        nt = resolve_n_threads(n_threads)
        lead = xa.shape[:-1]
        x2 = xa.reshape(-1, n)
        # NaN/Inf in x: the kernel scans x once and raises ValueError("x contains a
        # non-finite value ... at flat index i") before transforming anything.
        dt = xa.dtype
        win = self._win_as(dt)
        shift = self._phase_shift
        args = (self._hop, self._mfft, shift is not None, 0 if shift is None else shift, p0, p1,
                _PADDING[padding])
        # C order (..., f_pts, n_frames), like scipy. (The kernel can also write frame-major
        # memory, torch.stft's layout; measured no faster here, so the result stays contiguous.)
        shape = (x2.shape[0], self.f_pts, p1 - p0)
        if output == "complex":
            out = np.empty(shape, dtype=np.complex64 if dt == np.float32 else np.complex128)
            if x2.shape[0]:
                _core.stft_forward(x2, win, out, *args, 1.0, nt, False)
        else:
            out = np.empty(shape, dtype=dt)
            if x2.shape[0]:
                _core.stft_forward_real(x2, win, out, *args, _OUTPUT[output], 1.0, float(log_eps), nt, False)
        return _wrap(out.reshape(lead + shape[1:]), is_torch)

    def spectrogram(self, x, p0=None, p1=None, *, padding="zeros", n_threads=None):
        """Power spectrogram ``|S|**2`` (fused, no complex array); see :meth:`stft`.

        Returns float32/float64 of shape (..., f_pts, p1 - p0). With ``scale_to='psd'`` the
        values are a power spectral density (units**2 / Hz) of each frame.
        """
        return self.stft(x, p0, p1, padding=padding, output="power", n_threads=n_threads)

    def istft(self, S, k0=0, k1=None, *, n_threads=None):
        """Inverse STFT with the canonical dual window (scipy's ``ShortTimeFFT.istft``).

        Parameters
        ----------
        S : numpy.ndarray or torch.Tensor, shape (..., f_pts, n_frames)
            Complex STFT whose frame 0 is frame `p_min` (i.e. ``stft(x)`` with default p0).
            complex64 gives float32, complex128 gives float64; real input is promoted.
        k0, k1 : int
            Samples ``k0 <= k < k1`` to reconstruct; default ``k1`` is the last sample any
            frame of S touches. Needs ``k_min <= k0 < k1 <= k_max`` and
            ``k1 - k0 >= ceil(m_num/2)``. For ``k0 >= 0`` the result equals scipy's; for
            ``k0 < 0`` scipy also adds frames wrapped round from the end of S, which we do not.
        n_threads : int, optional
            Threads for this call.

        Returns
        -------
        x : numpy.ndarray or torch.Tensor, shape (..., k1 - k0)
            float32 / float64. Deterministic: independent of the thread count.

        Examples
        --------
        >>> import numpy as np
        >>> from scatclust import STFT
        >>> sft = STFT.from_window('hann', 1.0, nperseg=16, hop=4)
        >>> x = np.random.default_rng(0).standard_normal(100)
        >>> np.allclose(sft.istft(sft.stft(x), k1=100), x)
        True
        """
        Sa, is_torch = _to_numpy_complex(S, "S")
        if Sa.ndim < 2:
            raise ValueError(f"S has shape {Sa.shape}; it must be (..., f_pts={self.f_pts}, n_frames)")
        if Sa.shape[-2] != self.f_pts:
            raise ValueError(f"S has shape {Sa.shape}: S.shape[-2]={Sa.shape[-2]} must equal "
                             f"f_pts={self.f_pts} (mfft={self._mfft})")
        n_min = self.m_num - self.m_num_mid
        q_num = self.p_num(n_min)
        if Sa.shape[-1] < q_num:
            raise ValueError(f"S has shape {Sa.shape}: S.shape[-1]={Sa.shape[-1]} must be >= {q_num} frames")
        q_max = Sa.shape[-1] + self._p_min
        k_max = (q_max - 1) * self._hop + self.m_num - self.m_num_mid
        k0 = check_int(k0, "k0")
        k1 = k_max if k1 is None else check_int(k1, "k1")
        if not self._k_min <= k0 < k1 <= k_max:
            raise ValueError(f"k0={k0}, k1={k1} must satisfy k_min={self._k_min} <= k0 < k1 <= k_max={k_max}")
        if k1 - k0 < n_min:
            raise ValueError(f"k1 - k0 = {k1 - k0} (k0={k0}, k1={k1}) must be >= ceil(m_num/2)={n_min}")
        nt = resolve_n_threads(n_threads)
        # Frame range as scipy chooses it, except that for k0 < 0 frames before p_min (not
        # in S) are skipped: scipy indexes S with a negative column there, which wraps round
        # to the last frames of S.
        q0 = k0 // self._hop + self._p_min if k0 >= 0 else max(k0 // self._hop, self._p_min)
        q1 = min(self.p_max(k1), q_max)
        out, is_torch = self._inverse(Sa, is_torch, self._p_min, q0, q1, k0, k1, nt)
        return _wrap(out, is_torch)

    def _inverse(self, Sa, is_torch, p_first, q0, q1, k0, k1, nt):
        # NaN/Inf in S: the kernel raises ValueError("S contains a non-finite value ...").
        rdt = np.float32 if Sa.dtype == np.complex64 else np.float64
        dual = self._win_as(rdt, "dual")
        lead = Sa.shape[:-2]
        # Frame-major memory (torch.stft's layout behind its (f, t) view) is read in place;
        # anything else is brought to C order (..., f, t) once.
        fm = Sa.swapaxes(-1, -2)
        frame_major = bool(fm.flags.c_contiguous)
        src = fm if frame_major else np.ascontiguousarray(Sa)
        S3 = src.reshape((-1,) + src.shape[-2:])
        out = np.empty((S3.shape[0], k1 - k0), dtype=rdt)
        shift = self._phase_shift
        if S3.shape[0]:
            _core.stft_inverse(S3, dual, out, self._hop, self._mfft, shift is not None,
                               0 if shift is None else shift, p_first, q0, q1, k0, 1.0, nt, frame_major)
        return out.reshape(lead + (k1 - k0,)), is_torch

    def __repr__(self):
        return (f"STFT(m_num={self.m_num}, hop={self._hop}, fs={self._fs}, mfft={self._mfft}, "
                f"scale_to={self._scaling!r}, phase_shift={self._phase_shift!r})")


# ---------------------------------------------------------------------------- functional API
def _frame_range(sft, n, center):
    """Frames [p0, p1) used by the functional API for a signal of n samples."""
    m, mid, hop = sft.m_num, sft.m_num_mid, sft.hop
    if center:
        return 0, 1 + (n + 2 * mid - m) // hop
    p0 = -(-mid // hop)  # ceil(mid / hop): first frame that starts at a sample >= 0
    p1 = (n + mid - m) // hop + 1  # one past the last frame that ends at or before sample n
    if p1 <= p0:
        raise ValueError(f"x with n={n} samples is too short for center=False with nperseg={m}, "
                         f"hop={hop}: no frame lies inside the signal")
    return p0, p1


def _functional_sft(n, nperseg, hop, nfft, window, fs, scaling, phase_shift):
    # Sizes are checked against the signal length before any window is built.
    nperseg = check_int(nperseg, "nperseg", 1)
    if n < nperseg:
        raise ValueError(f"nperseg={nperseg} must be <= the signal length n={n}")
    hop = check_int(hop, "hop", 1)
    if nfft is not None:
        nfft = check_int(nfft, "nfft", 1)
        if nfft < nperseg:
            raise ValueError(f"nfft={nfft} must be >= nperseg={nperseg}")
    if scaling not in _SCALE_TO:
        raise ValueError(f"scaling={scaling!r} must be one of None, 'magnitude', 'psd'")
    return STFT(get_window(window, nperseg), hop, fs, mfft=nfft, scale_to=scaling, phase_shift=phase_shift)


def stft(x, nperseg, hop, nfft=None, window="hann", fs=1.0, scaling=None, padding="zeros",
         output="complex", center=True, phase_shift=None, log_eps=1e-10, n_threads=None):
    """Short-time Fourier transform of the last axis of `x` (functional form).

    A thin wrapper of :class:`STFT` with torch-like framing:

    * ``center=True``: frames ``p = 0 .. 1 + (n + 2*(nperseg//2) - nperseg)//hop - 1``
      (``1 + n//hop`` frames for even `nperseg`), frame ``p`` centred on sample ``p*hop``
      and padded outside the signal according to `padding`. With the defaults
      (``phase_shift=None``, ``padding='zeros'``) this equals
      ``torch.stft(x, n_fft=nperseg, hop_length=hop, win_length=nperseg,
      window=torch.hann_window(nperseg), center=True, pad_mode='constant',
      return_complex=True)``; ``padding='even'`` matches ``pad_mode='reflect'`` and
      ``'edge'`` matches ``'replicate'``.
    * ``center=False``: only frames that lie entirely inside the signal, from
      ``p0 = ceil((nperseg//2)/hop)``; when `hop` divides ``nperseg//2`` the first frame
      starts at sample 0 and this equals ``torch.stft(..., center=False)``.

    Everything else (window scaling, phase_shift, padding) follows
    ``scipy.signal.ShortTimeFFT``; ``STFT(...).stft(x)`` gives scipy's full frame range.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor, shape (..., n)
        Real, finite signal(s) with ``n >= nperseg``. float32/float64 are kept, other real
        dtypes are converted once to float64, non-contiguous input is copied once.
    nperseg : int
        Window length in samples (1 <= nperseg <= n).
    hop : int
        Frame increment in samples (>= 1).
    nfft : int, optional
        FFT length (>= nperseg); default nperseg.
    window : str, tuple or array_like, default 'hann'
        Periodic window name (see :func:`get_window`) or an array of length nperseg.
    fs : float, default 1.0
        Sampling frequency in Hz (used by ``scaling='psd'``).
    scaling : None, 'magnitude' or 'psd'
        Window normalisation, as ``scale_to`` in :class:`STFT`.
    padding : {'zeros', 'edge', 'even', 'odd'}
    output : {'complex', 'magnitude', 'power', 'log_power'}
    center : bool, default True
    phase_shift : int or None, default None
        None: phase relative to each segment's first sample (torch); 0: relative to the
        frame centre (scipy's default).
    log_eps : float, default 1e-10
    n_threads : int, optional

    Returns
    -------
    S : numpy.ndarray or torch.Tensor, shape (..., nfft//2 + 1, n_frames)
        complex64/complex128, or float32/float64 for the real outputs.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust import stft
    >>> x = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    >>> S = stft(x, nperseg=128, hop=32)
    >>> S.shape, S.dtype
    ((2, 65, 32), dtype('complex64'))
    """
    n = _signal_length(x)
    sft = _functional_sft(n, nperseg, hop, nfft, window, fs, scaling, phase_shift)
    p0, p1 = _frame_range(sft, n, center)
    return sft.stft(x, p0, p1, padding=padding, output=output, log_eps=log_eps, n_threads=n_threads)


def _signal_length(x):
    shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
    if len(shape) == 0 or shape[-1] == 0:
        raise ValueError(f"x has shape {shape}; it needs n >= 1 samples on its last axis")
    return shape[-1]


def istft(S, nperseg, hop, n, nfft=None, window="hann", fs=1.0, scaling=None, center=True,
          phase_shift=None, n_threads=None):
    """Inverse of :func:`stft` with the same parameters; returns ``n`` samples.

    Overlap-adds the frames with the canonical dual window. Near the ends, where the frames
    of :func:`stft` that would overlap a sample were not computed (frames left of ``p=0``
    for ``center=True``), the sum is divided by the window envelope of the frames present,
    so ``istft(stft(x), ..., n=x.shape[-1]) == x`` to rounding for every ``n`` (as
    ``torch.istft`` does).

    Parameters
    ----------
    S : numpy.ndarray or torch.Tensor, shape (..., nfft//2 + 1, n_frames)
        Complex STFT as returned by :func:`stft` for a signal of `n` samples.
    nperseg, hop, nfft, window, fs, scaling, center, phase_shift
        As given to :func:`stft`.
    n : int
        Length of the signal to reconstruct (>= nperseg).
    n_threads : int, optional

    Returns
    -------
    x : numpy.ndarray or torch.Tensor, shape (..., n), float32 (from complex64) or float64.

    Raises
    ------
    ValueError
        If a sample is covered by no window weight (e.g. ``center=False`` with a window that
        is zero at its ends), or if S has the wrong shape for `n`.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust import stft, istft
    >>> x = np.random.default_rng(1).standard_normal(500)
    >>> np.allclose(istft(stft(x, 64, 16), 64, 16, n=500), x)
    True
    """
    n = check_int(n, "n", 1)
    sft = _functional_sft(n, nperseg, hop, nfft, window, fs, scaling, phase_shift)
    Sa, is_torch = _to_numpy_complex(S, "S")
    p0, p1 = _frame_range(sft, n, center)
    expect = (sft.f_pts, p1 - p0)
    if Sa.ndim < 2 or Sa.shape[-2:] != expect:
        raise ValueError(f"S has shape {Sa.shape}; for n={n}, nperseg={sft.m_num}, hop={sft.hop}, "
                         f"nfft={sft.mfft}, center={center} it must end in {expect}")
    nt = resolve_n_threads(n_threads)
    out, _ = sft._inverse(Sa, is_torch, p0, p0, p1, 0, n, nt)
    # Samples whose overlapping frames are not all present get the envelope of those present.
    m, mid, h = sft.m_num, sft.m_num_mid, sft.hop
    k = np.arange(n)
    lo = (k + mid - m) // h + 1   # first frame overlapping sample k
    hi = (k + mid) // h           # last frame overlapping sample k
    edge = (lo < p0) | (hi >= p1)
    if np.any(edge):
        ke, loe, hie = k[edge], np.maximum(lo[edge], p0), np.minimum(hi[edge], p1 - 1)
        wd = sft.win * sft.dual_win
        env = np.zeros(ke.size)
        for i in range(-(-m // h) + 1):
            q = loe + i
            ok = q <= hie
            env[ok] += wd[ke[ok] - q[ok] * h + mid]
        if np.any(env <= 1e-10):
            bad = int(ke[np.argmax(env <= 1e-10)])
            raise ValueError(f"sample {bad} is covered by no window weight (center={center}, "
                             f"nperseg={m}, hop={h}); it cannot be reconstructed")
        out[..., edge] /= env.astype(out.dtype)
    return _wrap(out, is_torch)
