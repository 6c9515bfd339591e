"""Shared pieces of the figure functions: new figures without pyplot, saving, a fixed style."""
from __future__ import annotations

import contextlib
import os

import numpy as np

__all__ = ["new_figure", "finish", "reference_style", "cluster_colors", "amplitude_spectral_density"]

#: rcParams of :func:`reference_style`: matplotlib's bundled DejaVu Sans, fixed dpi and
#: hinting, so that a figure renders to the same pixels on any machine with the same
#: matplotlib (the stored reference images of the tests are made with it).
REFERENCE_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 8.0,
    "text.hinting": "default",
    "text.antialiased": True,
    "figure.dpi": 72,
    "savefig.dpi": 72,
    "axes.unicode_minus": False,
    "path.simplify": False,
    "image.interpolation": "nearest",
}


@contextlib.contextmanager
def reference_style():
    """Context manager: matplotlib's default style plus :data:`REFERENCE_RC`.

    Figures made (and saved) inside it render identically across machines, which is what
    image comparisons need.

    Examples
    --------
    >>> from scatclust.plot import reference_style, training_curves
    >>> with reference_style():
    ...     fig = training_curves([3.0, 2.0, 1.5])
    >>> fig.dpi
    72.0
    """
    import matplotlib
    import matplotlib.style

    with matplotlib.rc_context():
        matplotlib.style.use("default")
        matplotlib.rcParams.update(REFERENCE_RC)
        yield


def new_figure(figsize, nrows=1, ncols=1, **subplot_kw):
    """A Figure (no pyplot: safe in threads, servers and the Agg backend) and its Axes grid
    as a 2-D object array."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
        raise ImportError("scatclust.plot needs matplotlib; install it with `pip install matplotlib`") from exc
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, axes


def finish(fig, path):
    """Save ``fig`` to ``path`` (str/PathLike, or a sequence of them) when given; the format
    follows each file's suffix ('.png', '.pdf', '.svg'). Returns ``fig``."""
    if path is None:
        return fig
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    for p in paths:
        p = os.fspath(p)
        ext = os.path.splitext(p)[1].lower()
        if ext not in (".png", ".pdf", ".svg"):
            raise ValueError(f"path={p!r} must end in .png, .pdf or .svg (the saved format)")
        folder = os.path.dirname(os.path.abspath(p))
        os.makedirs(folder, exist_ok=True)
        # PDFs: no creation date, so that the same figure gives the same bytes.
        meta = {"CreationDate": None} if ext == ".pdf" else None
        fig.savefig(p, metadata=meta)
    return fig


def cluster_colors(n):
    """``n`` distinct RGBA colours: tab10, then tab20, then evenly spaced hues."""
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["hsv"](i / n) for i in range(n)]


def cluster_cmap(n):
    """Listed colormap of :func:`cluster_colors` (label k -> colour k)."""
    from matplotlib.colors import ListedColormap

    return ListedColormap(cluster_colors(max(int(n), 1)))


def as_1d(x, name, dtype=np.float64):
    a = np.asarray(x, dtype=dtype)
    if a.ndim != 1:
        raise ValueError(f"{name} has shape {a.shape}; it must be 1-D")
    return a


def amplitude_spectral_density(x, fs, nperseg=None):
    """Amplitude spectral density sqrt(PSD) by Welch's method (Hann window, 50 % overlap,
    mean of the periodograms, one-sided density scaling: ``scipy.signal.welch`` defaults).

    Parameters
    ----------
    x : array_like (..., n)
        Real signal(s); the last axis is time.
    fs : float
        Sampling rate (Hz).
    nperseg : int, optional
        Segment length; default ``min(n, 256 * 2**k)`` with the largest k keeping at
        least 8 segments when possible (at least 256 or n).

    Returns
    -------
    f : ndarray (n_freq,) float64, Hz
    asd : ndarray (..., n_freq) float64, units of x per sqrt(Hz)

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import amplitude_spectral_density
    >>> f, a = amplitude_spectral_density(np.random.default_rng(0).standard_normal(4096), fs=20.0)
    >>> f.shape, a.shape, round(float(np.mean(a[1:-1] ** 2) * 10), 1)   # white noise: PSD = 2 / fs
    ((257,), (257,), 1.0)
    """
    from scipy.signal import welch

    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    if n < 2:
        raise ValueError(f"x has {n} samples along its last axis; the ASD needs at least 2")
    fs = float(fs)
    if not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"fs={fs!r} must be a positive sampling rate in Hz")
    if nperseg is None:
        nperseg = 256
        while nperseg * 2 * 4.5 <= n:
            nperseg *= 2
        nperseg = min(nperseg, n)
    f, p = welch(x, fs=fs, nperseg=int(nperseg), axis=-1)
    return f, np.sqrt(p)
