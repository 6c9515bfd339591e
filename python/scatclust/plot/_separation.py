"""Source-separation figure: the mixture and the separated sources, waveforms and spectra
side by side. Works on plain arrays, whatever method produced the sources."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._common import amplitude_spectral_density, cluster_colors, finish, new_figure
from ._seismic import _envelope

__all__ = ["separation"]


def separation(x, sources, fs, *, channel=0, nperseg=None, max_points=4000, title=None, path=None):
    """Mixture and separated sources: waveform (left) and amplitude spectral density
    (right, Welch; the mixture's ASD in grey behind every source's) per row.

    Parameters
    ----------
    x : array_like (n,) or (C, n)
        The mixture.
    sources : mapping str -> array_like, or sequence of array_like
        The separated sources, each shaped like ``x`` (e.g. ``{'background': b, 'other': o}``);
        a sequence is named 'background', 'other', then 'source 2', ... .
    fs : float
        Sampling rate (Hz).
    channel : int
        Channel drawn when the signals have several (default 0).
    nperseg : int, optional
        Welch segment length (:func:`amplitude_spectral_density`).
    max_points : int
        Longer waveforms are drawn as min/max envelopes of that many points.
    title : str, optional
    path : str, os.PathLike or sequence, optional

    Returns
    -------
    matplotlib.figure.Figure
        Axes in row order (mixture first), two per row: waveform, ASD.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import separation
    >>> rng = np.random.default_rng(0)
    >>> b = rng.standard_normal(2048); o = np.sin(np.arange(2048) * 0.3)
    >>> fig = separation(b + o, {"background": b, "other": o}, fs=20.0)
    >>> len(fig.axes)
    6
    """
    if isinstance(sources, Mapping):
        names = [str(k) for k in sources]
        srcs = list(sources.values())
    else:
        srcs = list(sources)
        names = (["background", "other"] + [f"source {i}" for i in range(2, len(srcs))])[:len(srcs)]
    if not srcs:
        raise ValueError("sources is empty; give at least one separated source")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (1, 2) or x.shape[-1] < 2:
        raise ValueError(f"x has shape {x.shape}; it must be (n,) or (C, n) with n >= 2")
    arrs = []
    for name, s in zip(names, srcs):
        s = np.asarray(s, dtype=np.float64)
        if s.shape != x.shape:
            raise ValueError(f"source {name!r} has shape {s.shape}, the mixture x {x.shape}; they must match")
        arrs.append(s)
    if x.ndim == 2:
        if not -x.shape[0] <= channel < x.shape[0]:
            raise ValueError(f"channel={channel!r} is out of range for {x.shape[0]} channels")
        x = x[channel]
        arrs = [a[channel] for a in arrs]
    rows = [("mixture", x)] + list(zip(names, arrs))
    colors = ["black"] + cluster_colors(len(arrs))
    fig, axes = new_figure((8.0, 1.4 * len(rows) + 0.5), len(rows), 2, width_ratios=[2.2, 1.0])
    for r in range(1, len(rows)):  # spectra on one scale, so that rows compare
        axes[r, 1].sharey(axes[0, 1])
        axes[r, 1].sharex(axes[0, 1])
    t = np.arange(x.shape[-1]) / float(fs)
    f, ax_mix = amplitude_spectral_density(x, fs, nperseg)
    ylim = np.abs(x).max() * 1.05 or 1.0
    for r, (name, s) in enumerate(rows):
        te, se = _envelope(t, s, max_points)
        a0, a1 = axes[r, 0], axes[r, 1]
        a0.plot(te, se, color=colors[r], linewidth=0.5)
        a0.set_ylim(-ylim, ylim)
        a0.set_ylabel(name)
        _, asd = amplitude_spectral_density(s, fs, nperseg)
        if r > 0:
            a1.loglog(f[1:], ax_mix[1:], color="0.75", linewidth=0.8, label="mixture")
        a1.loglog(f[1:], np.maximum(asd[1:], np.finfo(float).tiny), color=colors[r], linewidth=0.9, label=name)
        a1.yaxis.set_label_position("right")
        a1.set_ylabel("ASD")
        if r < len(rows) - 1:
            a0.tick_params(labelbottom=False)
            a1.tick_params(labelbottom=False)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("frequency (Hz)")
    if title:
        fig.suptitle(title)
    return finish(fig, path)
