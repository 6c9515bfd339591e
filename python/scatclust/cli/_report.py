"""``scatclust report``: figures and a Markdown/HTML summary of a run
(:func:`scatclust.report.write_report`).

Inputs, each optional except the store and its label set:

* ``STORE`` + ``--labels``: the windows and their clusters per scale (``scatclust cluster``);
  the waveforms come from the archive recorded in the store's run record, prepared as for
  the features (aligned waveforms and centroid spectra per cluster);
* ``--model``: the model directory (``scatclust train``): training curves, and for an F-VAE
  the latent means (2-D embedding of the latent space);
* ``--segmentation``: a ``scatclust segment`` output directory (label map, mean spectra with
  element lines when the energies are known);
* ``--separation``: ``scatclust separate`` output directories (mixture, sources, spectra).

Everything is written under a temporary name and renamed to ``OUT`` at the end.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ._base import Command, ConfigError, Param, finish_dir, staging_dir

PARAMS = [
    Param("store", "", "feature store with the label set; '' = no seismic section", type="path", flag=""),
    Param("labels", "default", "label set of the store (written by 'scatclust cluster')"),
    Param("model", "", "model directory written by 'scatclust train' (training curves, F-VAE latent space); "
                       "'' = the model recorded in the label set", type="path"),
    Param("waveforms", True, "draw aligned waveforms and centroid spectra (reads the archive recorded in the store)"),
    Param("n_windows", 20, "windows per cluster in the aligned-waveform figures", unit="windows", lo=1),
    Param("segmentation", "", "'scatclust segment' output directory; '' = no cube section", type="path"),
    Param("separation", [], "'scatclust separate' output directories", type="str_list"),
    Param("title", "scatclust report", "report title"),
    Param("formats", ["png"], "figure formats: png, pdf, svg", type="str_list"),
    Param("out", "report", "output directory (report.md, report.html, figures/)", type="path"),
    Param("overwrite", False, "replace an existing report directory (default: refuse)"),
]


def check_report(c):
    if not c["store"] and not c["segmentation"] and not c["separation"]:
        raise ConfigError("report: nothing to report; give a STORE (with --labels), --segmentation or --separation")
    bad = [f for f in c["formats"] if f not in ("png", "pdf", "svg")]
    if bad or not c["formats"]:
        raise ConfigError(f"report: formats={c['formats']} must be a non-empty subset of ['png', 'pdf', 'svg']")
    plan = {}
    if c["store"]:
        from ..store import label_sets

        if not os.path.isdir(c["store"]):
            raise ConfigError(f"report: store={c['store']!r} is not a directory")
        sets = label_sets(c["store"])
        if c["labels"] not in sets:
            raise ConfigError(f"report: labels={c['labels']!r} is not a label set of {c['store']!r} (it has "
                              f"{sorted(sets)}); run 'scatclust cluster' first")
    if c["model"] and not os.path.exists(os.path.join(c["model"], "model.json")):
        raise ConfigError(f"report: model={c['model']!r} is not a model directory of 'scatclust train' "
                          f"(no model.json)")
    if c["segmentation"] and not os.path.exists(os.path.join(c["segmentation"], "segmentation.npz")):
        raise ConfigError(f"report: segmentation={c['segmentation']!r} holds no segmentation.npz; give the "
                          f"--out directory of 'scatclust segment'")
    for d in c["separation"]:
        if not os.path.exists(os.path.join(d, "separation.npz")):
            raise ConfigError(f"report: separation directory {d!r} holds no separation.npz; give the --out "
                              f"directory of 'scatclust separate'")
    if os.path.exists(os.path.join(c["out"], "report.md")) and not c["overwrite"]:
        raise ConfigError(f"report: out={c['out']!r} already holds a report; pass --overwrite to replace it or "
                          f"choose another --out")
    return plan


def _seismic(ctx, c):
    from .. import open_features
    from ..report import SeismicResults
    from ..store import FeatureStore, read_labels
    from ._model_dir import TrainedModel
    from ._separate import _features_table, _read_record

    lab = read_labels(c["store"], c["labels"])
    days = list(lab.attrs["days"])
    ds = open_features(c["store"], days=days)
    scales = [int(s) for s in lab["scale"].values]
    store_scales = [int(s) for s in ds["scale"].values]
    model_dir = c["model"] or lab.attrs.get("model", "")
    history, latent, name = None, None, lab.attrs.get("kind", "")
    if model_dir and os.path.exists(os.path.join(model_dir, "history.json")):
        with open(os.path.join(model_dir, "history.json"), encoding="utf-8") as f:
            history = json.load(f)
    if model_dir and os.path.exists(os.path.join(model_dir, "model.json")):
        model = TrainedModel(model_dir)
        name = model.kind
        if model.kind == "fvae":
            fsr = FeatureStore(c["store"], mode="r")
            X = np.concatenate([fsr.read_arrays(d)[0]["features"] for d in days])[:, model.scale_index]
            ok = np.isfinite(X).all(axis=(1, 2))
            Z = np.full((X.shape[0], X.shape[1], model.est.latent_dim), np.nan, dtype=np.float32)
            Z[ok] = model.est.transform(X[ok])
            latent = [Z[:, s] for s in range(Z.shape[1])]
    waveforms = fs = start = None
    if c["waveforms"]:
        ftab = _features_table(c["store"])
        if ftab.get("archive"):
            from ._features import prepare_config

            try:
                rec = _read_record(ftab["archive"], prepare_config(ftab))
                waveforms, fs = rec.data, float(rec.sampling_rate)
                start = np.datetime64(rec.starttime.ns, "ns")
            except (OSError, ValueError) as exc:
                ctx.log.warning("report: waveforms not drawn (cannot read the archive %r: %s)", ftab["archive"], exc)
    return SeismicResults.from_features(ds, lab["labels"].values, lab["confidence"].values, latent=latent,
                                        waveforms=waveforms, fs=fs, starttime=start, history=history,
                                        scales=[store_scales.index(sc) for sc in scales], model_name=name,
                                        n_clusters=[int(k) for k in np.asarray(lab.attrs["n_clusters"])])


def _cube(c):
    from ..report import CubeResults

    with np.load(os.path.join(c["segmentation"], "segmentation.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    cube = None
    info_path = os.path.join(c["segmentation"], "segmentation.json")
    history = None
    if os.path.exists(info_path):
        with open(info_path, encoding="utf-8") as f:
            info = json.load(f)
        history = info.get("history")
        rec = os.path.join(c["segmentation"], "scatclust-segment.toml")
        if os.path.exists(rec):
            from ._config import load_toml
            from ._segment import load_any_cube

            seg_cfg = load_toml(rec).get("segment", {})
            try:
                cube = np.asarray(load_any_cube(seg_cfg.get("cube", ""), seg_cfg.get("key", "")))
            except (OSError, KeyError, ValueError):
                cube = None
    energies = arrays.get("energies")
    lines = None
    if energies is not None:
        lines = ["Pb", "Hg", "Cu", "Fe", "Sn", "Zn", "Ca", "Ti", "Mn", "Co", "Cr", "S", "K", "Ba", "Sr", "As"]
    return CubeResults(labels=arrays["labels"], mean_spectra=arrays["mean_spectra"], latent=arrays.get("latent"),
                       centers=arrays.get("centers"), cube=cube, energies=energies, lines=lines, history=history)


def _separations(c):
    out = []
    for d in c["separation"]:
        with np.load(os.path.join(d, "separation.npz")) as z:
            out.append({"x": z["mixture"], "fs": float(z["fs"]),
                        "sources": {"background": z["background"], "source": z["source"]}})
    return out


def run_report(ctx, c, plan):
    """Write the report of table ``c``; returns the :class:`scatclust.report.Report`."""
    from ..report import write_report

    seismic = _seismic(ctx, c) if c["store"] else None
    cube = _cube(c) if c["segmentation"] else None
    separation = _separations(c) if c["separation"] else None
    out, tmp = staging_dir(c["out"])
    rep = write_report(tmp, seismic=seismic, cube=cube, separation=separation,
                       config={"report": c, "scatclust": ctx.metadata("complete")}, title=c["title"],
                       formats=tuple(c["formats"]), n_windows=c["n_windows"])
    finish_dir(ctx, tmp, out, "report", c)
    n_fig = len(rep.figures)
    ctx.log.info("report with %d figures written to %s", n_fig, out)
    return rep, n_fig


def _check(ctx):
    return check_report(ctx["report"])


def _run(ctx, plan):
    rep, n_fig = run_report(ctx, ctx["report"], plan)
    if not ctx.quiet:
        out = os.path.abspath(ctx["report"]["out"])
        print(f"report: {os.path.join(out, 'report.md')} and report.html, {n_fig} figures in {out}/figures")


COMMAND = Command(
    name="report",
    help="figures and a Markdown/HTML summary of clusters, segmentations and separations",
    description="Draw, per scale and cluster, time-of-day histograms, the occupancy raster, waveforms "
                "aligned on the most confident window with their centroid and its spectrum, the "
                "cross-scale nesting and the latent space; the cube's label map and mean spectra; "
                "separations; training curves. Writes OUT/report.md, OUT/report.html and OUT/figures/.\n\n"
                "  scatclust report features.zarr --labels default --model model --segmentation seg --out report",
    params=PARAMS, run=_run, check=_check, positionals=[("store", "feature store")],
)
