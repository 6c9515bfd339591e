"""Data-cube segmentation figures: label map over the integrated image, per-cluster mean
spectra with element line markers (xraylib), and (via :func:`latent_embedding`) the latent
space."""
from __future__ import annotations

import numpy as np

from ._common import cluster_cmap, cluster_colors, finish, new_figure

__all__ = ["cube_label_map", "cube_mean_spectra", "element_lines"]

#: Lines marked by default for an element (xraylib macro names without ``_LINE``).
DEFAULT_LINES = ("KA1", "KB1", "LA1", "LB1", "MA1")


def element_lines(elements, energy_range=None, lines=DEFAULT_LINES):
    """Characteristic X-ray line energies of elements from xraylib.

    Parameters
    ----------
    elements : sequence of str
        Element symbols ('Pb', 'Cu', ...).
    energy_range : (float, float), optional
        Keep lines in [low, high] keV.
    lines : sequence of str
        xraylib line names without ``_LINE`` (default K alpha 1, K beta 1, L alpha 1,
        L beta 1, M alpha 1). Lines xraylib does not tabulate for an element are skipped.

    Returns
    -------
    list of dict
        'element', 'line', 'energy' (keV, ``xraylib.LineEnergy``), sorted by energy; the
        format of ``SyntheticXRF.lines``.

    Examples
    --------
    >>> from scatclust.plot import element_lines
    >>> [(d["line"], round(d["energy"], 2)) for d in element_lines(["Cu"])]
    [('LA1', 0.93), ('LB1', 0.95), ('KA1', 8.05), ('KB1', 8.91)]
    """
    import xraylib

    out = []
    for sym in elements:
        try:
            z = xraylib.SymbolToAtomicNumber(str(sym))
        except ValueError:
            raise ValueError(f"elements entry {sym!r} is not an element symbol") from None
        for name in lines:
            macro = getattr(xraylib, f"{name}_LINE", None)
            if macro is None:
                raise ValueError(f"lines entry {name!r} is not an xraylib line (e.g. 'KA1', 'LA1')")
            try:
                e = float(xraylib.LineEnergy(z, macro))
            except ValueError:
                continue
            if e > 0 and (energy_range is None or energy_range[0] <= e <= energy_range[1]):
                out.append({"element": str(sym), "line": name, "energy": e})
    return sorted(out, key=lambda d: d["energy"])


def _integrated(cube, image, shape):
    if image is not None:
        img = np.asarray(image, dtype=np.float64)
        if img.shape != shape:
            raise ValueError(f"image has shape {img.shape}, labels {shape}; they must match")
        return img
    if cube is not None:
        c = np.asarray(cube)
        if c.ndim != 3 or c.shape[:2] != shape:
            raise ValueError(f"cube has shape {c.shape}; it must be (H, W, C) with (H, W) = labels.shape {shape}")
        return c.sum(-1, dtype=np.float64)
    return None


def cube_label_map(labels, cube=None, *, image=None, alpha=0.5, names=None, title=None, path=None):
    """Segmentation label map: the integrated image (sum over channels) and the labels over it.

    Parameters
    ----------
    labels : array_like (H, W) int
        Cluster per pixel, -1 for masked pixels (``CubeSegmentation.labels``).
    cube : array_like (H, W, C), optional
        The cube; its sum over channels is the background image.
    image : array_like (H, W), optional
        Background image instead of the cube's sum.
    alpha : float
        Opacity of the labels over the image (default 0.5).
    names : sequence of str, optional
        Legend names of the clusters (default 'cluster k').
    title : str, optional
    path : str, os.PathLike or sequence, optional

    Returns
    -------
    matplotlib.figure.Figure
        With an image: two panels, the integrated image (first Axes, data = the sum) and the
        overlay; without: the label map alone. Masked pixels are transparent.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import cube_label_map
    >>> cube = np.random.default_rng(0).poisson(5.0, (8, 10, 16)).astype(float)
    >>> fig = cube_label_map(np.arange(80).reshape(8, 10) % 3, cube)
    >>> np.allclose(fig.axes[0].images[0].get_array(), cube.sum(-1))
    True
    """
    lab = np.asarray(labels)
    if lab.ndim != 2 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels has shape {lab.shape}, dtype {lab.dtype}; it must be an (H, W) int array")
    img = _integrated(cube, image, lab.shape)
    k = int(lab.max()) + 1 if lab.size and lab.max() >= 0 else 1
    cmap = cluster_cmap(k)
    masked = np.ma.masked_less(lab, 0)
    ncols = 1 if img is None else 2
    h, w = lab.shape
    fig, axes = new_figure((3.6 * ncols + 1.0, 3.4 * h / max(w, 1) + 0.6), 1, ncols)
    if img is not None:
        axes[0, 0].imshow(img, cmap="gray", interpolation="nearest")
        axes[0, 0].set_title("integrated counts", fontsize="medium")
        axes[0, 1].imshow(img, cmap="gray", interpolation="nearest")
        over = axes[0, 1]
    else:
        over = axes[0, 0]
    over.imshow(masked, cmap=cmap, vmin=-0.5, vmax=k - 0.5, alpha=alpha if img is not None else 1.0,
                interpolation="nearest")
    over.set_title("clusters", fontsize="medium")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    from matplotlib.patches import Patch

    names = [f"cluster {c}" for c in range(k)] if names is None else list(names)
    colors = cluster_colors(k)
    over.legend(handles=[Patch(color=colors[c], label=names[c]) for c in range(k)], loc="upper left",
                bbox_to_anchor=(1.02, 1.0), fontsize="x-small", frameon=False)
    if title:
        fig.suptitle(title)
    return finish(fig, path)


def _line_table(lines, energies, min_intensity):
    if lines is None:
        return []
    lines = list(lines)
    if lines and isinstance(lines[0], str):
        rng = None if energies is None else (float(np.min(energies)), float(np.max(energies)))
        return element_lines(lines, rng)
    out, seen = [], set()
    for d in lines:
        if float(d.get("intensity", 1.0)) < min_intensity:
            continue
        key = (d["element"], d["line"])
        if key in seen:
            continue
        seen.add(key)
        out.append({"element": d["element"], "line": d["line"], "energy": float(d["energy"])})
    return sorted(out, key=lambda d: d["energy"])


def cube_mean_spectra(mean_spectra, energies=None, *, lines=None, log=True, names=None, min_line_intensity=0.05,
                      title=None, path=None):
    """Mean spectrum of every cluster, with element line markers.

    Parameters
    ----------
    mean_spectra : array_like (K, C)
        ``CubeSegmentation.mean_spectra`` (mean raw counts per channel).
    energies : array_like (C,), optional
        Channel energies (keV); default the channel index.
    lines : sequence of str or of dict, optional
        Element symbols (their :func:`element_lines` inside the energy axis are marked), or
        line records with 'element', 'line', 'energy' (keV) such as ``SyntheticXRF.lines``
        (records with an 'intensity' below ``min_line_intensity`` are left out; each
        element/line is marked once).
    log : bool
        Logarithmic count axis (default True).
    names : sequence of str, optional
        Legend names (default 'cluster k').
    min_line_intensity : float
        See ``lines`` (default 0.05).
    title : str, optional
    path : str, os.PathLike or sequence, optional

    Returns
    -------
    matplotlib.figure.Figure
        One line per cluster (in order), then one dotted vertical line per marked X-ray line.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.plot import cube_mean_spectra
    >>> e = np.linspace(1, 20, 128); spec = np.stack([np.exp(-(e - 8.05) ** 2), np.exp(-(e - 10.55) ** 2)]) + 0.01
    >>> fig = cube_mean_spectra(spec, e, lines=["Cu", "Pb"])
    >>> len(fig.axes[0].lines) > 2
    True
    """
    s = np.asarray(mean_spectra, dtype=np.float64)
    if s.ndim != 2 or 0 in s.shape:
        raise ValueError(f"mean_spectra has shape {s.shape}; it must be (n_clusters, n_channels)")
    if energies is None:
        e, xlabel = np.arange(s.shape[1], dtype=np.float64), "channel"
    else:
        e, xlabel = np.asarray(energies, dtype=np.float64), "energy (keV)"
        if e.shape != (s.shape[1],):
            raise ValueError(f"energies has shape {e.shape}; it must be ({s.shape[1]},), one per channel")
    table = _line_table(lines, e if energies is not None else None, min_line_intensity)
    k = s.shape[0]
    names = [f"cluster {c}" for c in range(k)] if names is None else list(names)
    colors = cluster_colors(k)
    fig, axes = new_figure((7.0, 3.4), 1, 1)
    ax = axes[0, 0]
    for c in range(k):
        ax.plot(e, s[c], color=colors[c], linewidth=0.9, label=names[c])
    if log:
        pos = s[s > 0]
        ax.set_yscale("log")
        if pos.size:
            ax.set_ylim(pos.min() * 0.8, s.max() * 3.0)
    from matplotlib.transforms import blended_transform_factory

    trans = blended_transform_factory(ax.transData, ax.transAxes)
    last = -np.inf
    span = (e.max() - e.min()) or 1.0
    for d in table:
        ax.axvline(d["energy"], color="0.4", linestyle=":", linewidth=0.7)
        if d["energy"] - last > 0.015 * span:  # keep labels from overprinting
            ax.text(d["energy"], 0.99, f"{d['element']} {d['line']}", rotation=90, va="top", ha="right",
                    fontsize="xx-small", color="0.25", transform=trans)
            last = d["energy"]
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean counts per channel")
    ax.set_xlim(e.min(), e.max())
    ax.legend(fontsize="x-small", loc="upper right", bbox_to_anchor=(1.0, 0.8))
    if title:
        ax.set_title(title)
    return finish(fig, path)
