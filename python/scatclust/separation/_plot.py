"""Figure of a separation: waveforms, Welch spectra and scattering spectra side by side."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_separation"]


def plot_separation(result, *, channel=0, fs=None, truth=None, figsize=(11, 7)):
    """Mixture, separated sources, their spectra (Welch) and scattering spectra.

    Parameters
    ----------
    result : SeparationResult
        From :func:`scatclust.separation.separate`.
    channel : int
        Channel to draw (default 0).
    fs : float, optional
        Sampling rate (Hz) for the axes; default: the Traces' rate, else 1 (cycles/sample).
    truth : ndarray (N,) or (C, N), optional
        The true background, drawn in grey when known (synthetic data).
    figsize : (float, float)

    Returns
    -------
    matplotlib.figure.Figure
        Rows: waveforms (mixture x, background ñ, source s = x - ñ); left: Welch power
        spectral densities; right: the power spectrum Φ2_j and sparsity Φ1_j / sqrt(Φ2_j) per
        octave j of x, ñ and s, and the loss history.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> from scatclust.separation import separate, plot_separation
    >>> rng = np.random.default_rng(0)
    >>> res = separate(rng.standard_normal(256), rng.standard_normal((4, 256)), J=4, max_iter=2, n_threads=1)
    >>> len(plot_separation(res).axes)
    5
    """
    from matplotlib.figure import Figure
    from scipy.signal import welch

    from .._spectra import ScatteringSpectra

    x = result.x
    C, N = x.shape
    if not 0 <= channel < C:
        raise ValueError(f"channel={channel} out of range for C={C} channels (use 0..{C - 1})")
    if fs is None:
        bg = result.background
        fs = float(bg.stats.sampling_rate) if hasattr(bg, "stats") else (
            float(bg[0].stats.sampling_rate) if hasattr(bg, "traces") else 1.0)
    nt = result.background_array
    sig = {"mixture x": x[channel], "background ñ": nt[channel], "source s = x - ñ": x[channel] - nt[channel]}
    colors = {"mixture x": "k", "background ñ": "C0", "source s = x - ñ": "C3"}
    t = np.arange(N) / fs
    fig = Figure(figsize=figsize, layout="constrained")
    gs = fig.add_gridspec(3, 2)
    ax_w = fig.add_subplot(gs[0, :])
    for k, v in sig.items():
        ax_w.plot(t, v, lw=0.6, color=colors[k], label=k)
    if truth is not None:
        tr = np.atleast_2d(np.asarray(truth, dtype=np.float64))[channel]
        ax_w.plot(t, tr, lw=0.6, color="0.6", ls="--", label="true background")
    ax_w.set_xlabel("time (s)" if fs != 1.0 else "sample")
    ax_w.legend(loc="upper right", fontsize=8, ncol=4)
    ax_p = fig.add_subplot(gs[1:, 0])
    for k, v in sig.items():
        f, p = welch(v, fs=fs, nperseg=min(256, N))
        ax_p.loglog(f[1:], p[1:] + 1e-300, color=colors[k], label=k)
    ax_p.set_xlabel("frequency (Hz)" if fs != 1.0 else "frequency (cycles/sample)")
    ax_p.set_ylabel("PSD (Welch)")
    ax_p.legend(fontsize=8)
    J = result.diagnostics["J"]
    seg = result.diagnostics["segment"]
    ss = ScatteringSpectra(seg, J, families=("sparsity", "power"))
    ax_s = fig.add_subplot(gs[1, 1])
    ax_r = ax_s.twinx()
    for k, v in sig.items():
        m = np.real(ss(np.ascontiguousarray(v[:seg])))
        p2 = m[J:2 * J]
        ax_s.semilogy(np.arange(J), p2 + 1e-300, "o-", color=colors[k], ms=3)
        with np.errstate(invalid="ignore", divide="ignore"):  # s = 0 when nothing was separated
            ax_r.plot(np.arange(J), m[:J] / np.sqrt(p2), "x:", color=colors[k], ms=4)
    ax_s.set_xlabel("octave j (scale 2^j samples)")
    ax_s.set_ylabel("Φ2_j (power, o)")
    ax_r.set_ylabel("Φ1_j / sqrt(Φ2_j) (sparsity, x)")
    ax_l = fig.add_subplot(gs[2, 1])
    for k, v in result.loss_history.items():
        ax_l.semilogy(v, label=k, lw=1.5 if k == "total" else 0.8)
    ax_l.set_xlabel("iteration (segments one after the other)")
    ax_l.set_ylabel("loss")
    ax_l.legend(fontsize=8)
    return fig
