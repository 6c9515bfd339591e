"""write_report: every figure of a run plus a Markdown and an HTML summary in one folder."""
from __future__ import annotations

import datetime
import html
import json
import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ._results import CubeResults, SeismicResults, SeparationResults

__all__ = ["Report", "ReportFigure", "write_report", "versions"]


@dataclass
class ReportFigure:
    """One figure of a report: its section, caption and files (relative to the report folder)."""

    section: str
    caption: str
    files: list


@dataclass
class Report:
    """What :func:`write_report` wrote.

    Attributes
    ----------
    out_dir : str
    markdown : str
        Path of ``report.md``.
    html : str or None
        Path of ``report.html``.
    figures : list of ReportFigure
    tables : dict str -> str
        Markdown tables of the report (e.g. cluster sizes per scale).
    """

    out_dir: str
    markdown: str
    html: str
    figures: list = field(default_factory=list)
    tables: dict = field(default_factory=dict)


def versions():
    """Versions of scatclust, Python and the libraries a run depends on (those importable).

    Examples
    --------
    >>> from scatclust.report import versions
    >>> v = versions()
    >>> sorted(k for k in ("scatclust", "python", "numpy") if k in v)
    ['numpy', 'python', 'scatclust']
    """
    out = {"scatclust": _scatclust_version(), "python": platform.python_version(), "platform": platform.platform()}
    for mod in ("numpy", "scipy", "matplotlib", "torch", "obspy", "xarray", "zarr", "sklearn", "xraylib"):
        m = sys.modules.get(mod)
        if m is None:
            try:
                m = __import__(mod)
            except Exception:  # noqa: BLE001 - an optional dependency that is absent or broken
                continue
        out[mod] = str(getattr(m, "__version__", "unknown"))
    return out


def _scatclust_version():
    try:
        from importlib.metadata import version

        return version("scatclust")
    except Exception:  # noqa: BLE001 - running from a source tree without installed metadata
        import scatclust

        return str(getattr(scatclust, "__version__", "unknown (source tree)"))


def _slug(s):
    return "".join(c if c.isalnum() else "_" for c in str(s)).strip("_").lower()


class _Writer:
    def __init__(self, out_dir, formats):
        self.out_dir = out_dir
        self.fig_dir = os.path.join(out_dir, "figures")
        os.makedirs(self.fig_dir, exist_ok=True)
        self.formats = formats
        self.figures = []
        self.blocks = []  # ("h2"|"h3"|"p"|"table"|"fig"|"code", payload)

    def add(self, section, name, caption, fig):
        files = []
        for ext in self.formats:
            rel = f"figures/{name}.{ext}"
            fig.savefig(os.path.join(self.out_dir, rel), metadata={"CreationDate": None} if ext == "pdf" else None)
            files.append(rel)
        self.figures.append(ReportFigure(section, caption, files))
        self.blocks.append(("fig", (caption, files)))


def _table(header, rows, align="---:"):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _seismic_section(w, sr, n_windows, max_lag, tables):
    from .. import plot

    w.blocks.append(("h2", "Seismic clustering" + (f" ({sr.model_name})" if sr.model_name else "")))
    n, S = sr.labels.shape
    w.blocks.append(("p", f"{n} windows, {S} scale(s): {', '.join(sr.scale_names)}. Times of day are "
                          f"{sr.time_label} at the window centres; days are {sr.day_label}."))
    for s in range(S):
        lab = sr.labels[:, s]
        k = sr.n_clusters[s]
        conf = None if sr.confidence is None else sr.confidence[:, s]
        tag = f"scale{s}"
        name = sr.scale_names[s]
        w.blocks.append(("h3", f"Scale {name}"))
        rows = []
        for c in range(k):
            sel = lab == c
            mc = f"{conf[sel].mean():.3f}" if conf is not None and sel.any() else "n/a"
            rows.append((c, int(sel.sum()), f"{sel.mean():.3f}", mc))
        t = _table(["cluster", "windows", "share", "mean confidence"], rows)
        tables[f"clusters_{tag}"] = t
        w.blocks.append(("table", t))
        w.add("seismic", f"seismic_time_of_day_{tag}", f"Time of day ({sr.time_label}) of every cluster's windows, "
              f"scale {name}", plot.time_of_day_histogram(sr.hours[:, s], lab, n_clusters=k, time_label=sr.time_label,
                                                          title=f"scale {name}"))
        w.add("seismic", f"seismic_occupancy_{tag}", f"Cluster occupancy per {sr.day_label} and time of day, "
              f"scale {name}", plot.occupancy_raster(sr.day[:, s], sr.hours[:, s], lab, n_clusters=k,
                                                     day_label=sr.day_label, time_label=sr.time_label,
                                                     title=f"scale {name}"))
        if sr.waveforms is not None:
            cents = plot.cluster_centroids(sr.waveforms, sr.window_start[:, s], int(sr.window_length[s]), lab, conf,
                                           n_clusters=k, n_windows=n_windows, max_lag=max_lag)
            if cents:
                w.add("seismic", f"seismic_waveforms_{tag}",
                      f"Up to {n_windows} most confident windows per cluster, aligned by cross-correlation on the "
                      f"most confident one (grey), and their confidence-weighted centroid, scale {name}",
                      plot.cluster_waveforms(cents, sr.fs, channels=sr.channels, title=f"scale {name}"))
                w.add("seismic", f"seismic_centroid_asd_{tag}", f"Amplitude spectral density (Welch) of the "
                      f"cluster centroids, scale {name}",
                      plot.centroid_asd(cents, sr.fs, channels=sr.channels, title=f"scale {name}"))
        if sr.latent is not None:
            z = sr.latent[s]
            ok = np.isfinite(z).all(1)
            centers = None if sr.centers is None else sr.centers[s]
            w.add("seismic", f"seismic_latent_{tag}", f"Latent space in 2-D, coloured by cluster, scale {name}",
                  plot.latent_embedding(z[ok], lab[ok], centers=centers, title=f"scale {name}"))
    if S > 1:
        w.blocks.append(("h3", "Cross-scale nesting"))
        for s in range(S - 1):
            tab = plot.contingency_table(sr.labels[:, s], sr.labels[:, s + 1], sr.n_clusters[s],
                                         sr.n_clusters[s + 1])
            w.add("seismic", f"seismic_nesting_scale{s}_scale{s + 1}",
                  f"Contingency of the clusters at {sr.scale_names[s]} (rows) and {sr.scale_names[s + 1]} "
                  f"(columns); colour = share of the row",
                  plot.contingency_heatmap(tab, row_label=f"cluster at {sr.scale_names[s]}",
                                           col_label=f"cluster at {sr.scale_names[s + 1]}"))


def _cube_section(w, cr):
    from .. import plot

    w.blocks.append(("h2", "Data-cube segmentation"))
    lab = np.asarray(cr.labels)
    k = np.asarray(cr.mean_spectra).shape[0]
    counts = np.bincount(lab[lab >= 0].ravel(), minlength=k)
    w.blocks.append(("p", f"{lab.shape[0]} x {lab.shape[1]} pixels, {k} clusters, "
                          f"{int((lab < 0).sum())} masked pixels."))
    w.blocks.append(("table", _table(["cluster", "pixels"], [(c, int(counts[c])) for c in range(k)])))
    w.add("cube", "cube_label_map", "Cluster map over the integrated image" if cr.cube is not None else
          "Cluster map", plot.cube_label_map(lab, cr.cube))
    w.add("cube", "cube_mean_spectra", "Mean spectrum of every cluster" +
          (" with element line markers (xraylib)" if cr.lines else ""),
          plot.cube_mean_spectra(cr.mean_spectra, cr.energies, lines=cr.lines))
    if cr.latent is not None:
        z = np.asarray(cr.latent, dtype=np.float64).reshape(-1, np.shape(cr.latent)[-1])
        ok = (lab.ravel() >= 0) & np.isfinite(z).all(1)
        w.add("cube", "cube_latent", "Latent codes of the pixels in 2-D, coloured by cluster",
              plot.latent_embedding(z[ok], lab.ravel()[ok], centers=cr.centers))


def _history_items(history, seismic, cube):
    items = []
    if seismic is not None and seismic.history is not None:
        items.append((seismic.model_name or "seismic model", seismic.history))
    if cube is not None and cube.history:
        items.append(("cube segmentation", cube.history))
    if history is not None:
        if isinstance(history, Mapping) and history and all(_is_history(v) for v in history.values()):
            items.extend((str(k), v) for k, v in history.items())  # name -> history
        else:
            items.append(("model", history))
    return items


def _is_history(v):
    """A dict of series or a model with a history (not a bare series: that is one history's curve)."""
    return isinstance(v, Mapping) or (not isinstance(v, (list, tuple, np.ndarray, str))
                                      and (hasattr(v, "history_") or hasattr(v, "history")))


def _markdown(title, created, blocks, config, vers):
    out = [f"# {title}", "", f"Created {created} with scatclust {vers.get('scatclust', '?')}.", ""]
    for kind, payload in blocks:
        if kind == "h2":
            out += [f"## {payload}", ""]
        elif kind == "h3":
            out += [f"### {payload}", ""]
        elif kind in ("p", "table"):
            out += [payload, ""]
        elif kind == "fig":
            caption, files = payload
            png = next((f for f in files if f.endswith(".png")), files[0])
            others = [f for f in files if f != png]
            extra = " (" + ", ".join(f"[{os.path.splitext(f)[1][1:].upper()}]({f})" for f in others) + ")" \
                if others else ""
            if png.endswith((".png", ".svg")):
                out += [f"![{caption}]({png})", "", f"*{caption}*{extra}", ""]
            else:
                out += [f"[{caption}]({png}){extra}", ""]
    out += ["## Configuration", "", "```json", json.dumps(config, indent=2, sort_keys=True, default=str), "```", ""]
    out += ["## Versions", "", _table(["package", "version"], sorted(vers.items()), ":---"), ""]
    return "\n".join(out)


def _html_table(md):
    rows = [r.strip().strip("|").split("|") for r in md.splitlines()]
    rows = [r for r in rows if not all(set(c.strip()) <= set("-:") for c in r)]  # drop the alignment row
    head = "".join(f"<th>{html.escape(c.strip())}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(title, created, blocks, config, vers):
    e = html.escape
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">", f"<title>{e(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:70em;margin:auto;padding:1em}"
           "img{max-width:100%}figure{margin:1em 0}figcaption{font-style:italic}"
           "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
           "pre{background:#f4f4f4;padding:0.5em;overflow:auto}</style></head><body>",
           f"<h1>{e(title)}</h1>", f"<p>Created {e(created)} with scatclust {e(vers.get('scatclust', '?'))}.</p>"]
    for kind, payload in blocks:
        if kind in ("h2", "h3"):
            out.append(f"<{kind}>{e(payload)}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{e(payload)}</p>")
        elif kind == "table":
            out.append(_html_table(payload))
        elif kind == "fig":
            caption, files = payload
            img = next((f for f in files if f.endswith((".png", ".svg"))), None)
            links = " ".join(f"<a href=\"{e(f)}\">{e(os.path.splitext(f)[1][1:].upper())}</a>" for f in files)
            body = f"<img src=\"{e(img)}\" alt=\"{e(caption)}\">" if img else ""
            out.append(f"<figure>{body}<figcaption>{e(caption)} ({links})</figcaption></figure>")
    out.append("<h2>Configuration</h2>")
    out.append(f"<pre>{e(json.dumps(config, indent=2, sort_keys=True, default=str))}</pre>")
    out.append("<h2>Versions</h2>")
    out.append(_html_table(_table(["package", "version"], sorted(vers.items()), ":---")))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_report(out_dir, *, seismic=None, cube=None, separation=None, history=None, config=None,
                 title="scatclust report", formats=("png",), html=True, n_windows=20, max_lag=None):
    """Write every figure of a run and a Markdown (and HTML) summary into ``out_dir``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Created if missing; the report is ``report.md`` / ``report.html`` with the figures
        under ``figures/`` (names such as ``seismic_time_of_day_scale0.png``); existing
        files of those names are replaced.
    seismic : SeismicResults, optional
        Clustering of seismic windows (:meth:`SeismicResults.from_model`,
        :meth:`SeismicResults.from_features`): per scale, the cluster sizes, time-of-day
        histograms, an occupancy raster, aligned waveforms with their centroid and the
        centroids' spectra (when waveforms are given), the latent space (when latents are
        given); contingency heat maps of consecutive scales; training curves.
    cube : CubeResults or scatclust.cube.CubeSegmentation, optional
        Label map (over the integrated image when ``CubeResults.cube`` is given), mean
        spectra (with element lines), latent space, training curves.
    separation : SeparationResults, dict or object, optional
        ``x``, ``fs`` and ``sources`` (dict) or ``background``/``other``
        (:meth:`SeparationResults.coerce`); one dict/object or a list of them.
    history : list, dict or model, or dict str -> (dict or model), optional
        Training histories of further models (:func:`scatclust.plot.training_curves`). A
        dict whose values are all dicts or models names several histories (e.g.
        ``{"DEC": dec, "F-VAE": {"loss": [...]}}``); any other value is one history.
    config : dict, optional
        The run's effective configuration, written into the report as JSON.
    title : str
    formats : sequence of {'png', 'pdf', 'svg'}
        Files written per figure (default PNG only); the pages show PNG (or SVG).
    html : bool
        Also write ``report.html`` (default True).
    n_windows : int
        Windows per cluster in the aligned-waveform figures (default 20).
    max_lag : int, optional
        Largest alignment shift in samples (default a quarter of the window).

    Returns
    -------
    Report
        Paths of the pages and every figure with its caption.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from scatclust.report import SeismicResults, write_report
    >>> rng = np.random.default_rng(0)
    >>> sr = SeismicResults(labels=rng.integers(0, 3, 200), hours=rng.uniform(0, 24, 200),
    ...                     day=rng.integers(180, 183, 200), history=[3.0, 2.0, 1.6])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     rep = write_report(d, seismic=sr, config={"seed": 0})
    ...     for name in sorted(os.listdir(d)) + [f.files[0] for f in rep.figures]:
    ...         print(name)
    figures
    report.html
    report.md
    figures/seismic_time_of_day_scale0.png
    figures/seismic_occupancy_scale0.png
    figures/training_seismic_model.png
    """
    formats = tuple(formats)
    bad = [f for f in formats if f not in ("png", "pdf", "svg")]
    if not formats or bad:
        raise ValueError(f"formats={formats!r} must be a non-empty subset of ('png', 'pdf', 'svg')")
    if seismic is None and cube is None and separation is None and history is None:
        raise ValueError("nothing to report: give seismic=, cube=, separation= and/or history=")
    if seismic is not None and not isinstance(seismic, SeismicResults):
        raise TypeError(f"seismic must be a SeismicResults (see SeismicResults.from_model), not "
                        f"{type(seismic).__name__}")
    if cube is not None and not isinstance(cube, CubeResults):
        if hasattr(cube, "labels") and hasattr(cube, "mean_spectra"):
            cube = CubeResults.from_segmentation(cube)
        else:
            raise TypeError(f"cube must be a CubeResults or scatclust.cube.CubeSegmentation, not "
                            f"{type(cube).__name__}")
    seps = [] if separation is None else [SeparationResults.coerce(s) for s in (
        separation if isinstance(separation, (list, tuple)) else [separation])]
    out_dir = os.fspath(out_dir)
    w = _Writer(out_dir, formats)
    tables = {}
    import matplotlib

    with matplotlib.rc_context({"figure.dpi": 100, "savefig.dpi": 100}):
        if seismic is not None:
            _seismic_section(w, seismic, n_windows, max_lag, tables)
        if cube is not None:
            _cube_section(w, cube)
        if seps:
            from .. import plot

            w.blocks.append(("h2", "Source separation"))
            for i, sp in enumerate(seps):
                w.add("separation", f"separation_{i}", "Mixture and separated sources: waveforms and amplitude "
                      "spectral densities (mixture in grey)", plot.separation(sp.x, sp.sources, sp.fs))
        items = _history_items(history, seismic, cube)
        if items:
            from .. import plot

            w.blocks.append(("h2", "Training"))
            for name, h in items:
                w.add("training", f"training_{_slug(name)}", f"Training curves: {name}",
                      plot.training_curves(h, title=name))
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    vers = versions()
    cfg = {} if config is None else dict(config)
    md_path = os.path.join(out_dir, "report.md")
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(_markdown(title, created, w.blocks, cfg, vers))
    html_path = None
    if html:
        html_path = os.path.join(out_dir, "report.html")
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(_html(title, created, w.blocks, cfg, vers))
    return Report(out_dir, md_path, html_path, w.figures, tables)
