"""``scatclust demo``: the whole pipeline on built-in synthetic data, into one directory.

Steps (``STEPS``, run in order; each is ``step(ctx, state)``):

data      synthetic Mars-like record (:func:`scatclust.datasets.synthetic_mars`, ``hours``
          long) written as miniSEED, and a synthetic MA-XRF cube
          (:func:`scatclust.datasets.synthetic_xrf`) written as HDF5, with their ground truth
features  ``scatclust features`` on the miniSEED file -> ``<out>/features.zarr``
train     ``scatclust train`` (F-VAE by default) -> ``<out>/model``
cluster   ``scatclust cluster`` -> label set 'demo' in the store
separate  ``scatclust separate``: the strongest synthetic glitch (2048 samples around it),
          priors from the most populated cluster -> ``<out>/separation``; SNR vs the truth
segment   ``scatclust segment`` on the cube -> ``<out>/segmentation``
report    ``scatclust report``: figures + report.md / report.html -> ``<out>/report``
summary   clusters against the synthetic ground truth -> ``<out>/demo-summary.json``

A new step is a ``(name, fn)`` entry of ``STEPS`` (its table added to ``COMMAND.uses``).
``state`` holds what earlier steps made: 'out', 'record' (the SyntheticMars),
'mseed', 'truth', 'cube', 'xrf' (the SyntheticXRF), 'store', 'model', 'labels' (label-set
name), 'segmentation' (directory), 'results' (dict of per-step summaries).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from ._base import Command, ConfigError, Param

PARAMS = [
    Param("out", "scatclust-demo", "output directory", type="path", flag=""),
    Param("hours", 6.0, "length of the synthetic Mars record (>= 0.17)", unit="hours", lo=0.17, hi=24.0 * 30),
    Param("seed", 0, "seed of the synthetic data (model seeds: [train] seed, [segment] seed)", lo=0),
    Param("cube_shape", [48, 48], "height and width of the synthetic XRF cube", unit="pixels", type="int_list",
          length=(2,), lo=8),
    Param("cube_channels", 256, "energy channels of the synthetic XRF cube", unit="channels", lo=16),
    Param("cube_counts", 30.0, "expected photons per pixel of the synthetic XRF cube (a fast scan)", unit="counts",
          lo=1.0),
    Param("cube_blur", 0.5, "Gaussian blur of the cube's pigment regions (0 = sharp boundaries)", unit="pixels",
          lo=0.0),
    Param("overwrite", False, "reuse an output directory that holds an earlier demo (default: refuse)"),
]

# Demo settings of the pipeline's tables (a few minutes on 2 cores); the config file, --set
# and the options override them.
PRESETS = {
    "features": {"archive": "", "store": "", "prepare.components": "UVW", "pyramid.J": 8,
                 "pyramid.scales": [1024, 4096, 16384], "pyramid.hop": 512, "workers": 1},
    "train": {"store": "", "out": "", "model": "fvae", "n_clusters": 6, "fvae.epochs": 40,
              "fvae.hidden": [128, 32], "fvae.latent_dim": 4, "fvae.batch_size": 128},
    "cluster": {"store": "", "model": "", "name": "demo"},
    "separate": {"store": "", "out": "", "n_priors": 32, "segment": 2048},
    "report": {"store": "", "out": "", "n_windows": 12},
    "segment": {"cube": "", "key": "counts", "energies": "energies", "out": "", "n_clusters": 0,
                "k_range": [3, 8], "n_pretrain": 30, "n_cluster_epochs": 15},
}

_EVENT_SOURCES = ("quake", "donk", "glitch", "wind")


def _force(ctx, table, **values):
    """Set the paths a step writes under <out>, replacing (with a note) any other value."""
    c = ctx[table]
    for k, v in values.items():
        if c[k] not in ("", v):
            ctx.log.debug("demo: [%s] %s=%r replaced by %r (the demo writes under its output directory)",
                          table, k, c[k], v)
        c[k] = v
    return c


# ------------------------------------------------------------------------------ steps
def _step_data(ctx, state):
    from ..datasets import synthetic_mars, synthetic_xrf

    d = ctx["demo"]
    data = os.path.join(state["out"], "data")
    os.makedirs(data, exist_ok=True)
    rec = synthetic_mars(days=d["hours"] / 24.0, seed=d["seed"])
    st = rec.to_stream()
    mseed = os.path.join(data, "XB.ELYSE.02.mseed")
    st.write(mseed + ".part", format="MSEED")
    os.replace(mseed + ".part", mseed)
    truth = os.path.join(data, "mars_truth.npz")
    np.savez(truth, fs=rec.fs, starttime_ns=np.int64(st[0].stats.starttime.ns),
             **{f"label_{k}": v for k, v in rec.labels.items()})
    with open(os.path.join(data, "mars_events.json"), "w", encoding="utf-8") as f:
        json.dump([{k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in e.items()}
                   for e in rec.events], f, indent=1)
    xrf = synthetic_xrf(shape=tuple(d["cube_shape"]), n_channels=d["cube_channels"], counts=d["cube_counts"],
                        blur=d["cube_blur"], random_state=d["seed"])
    import h5py

    cube = os.path.join(data, "xrf_cube.h5")
    with h5py.File(cube + ".part", "w") as f:
        f["counts"] = xrf.cube
        f["energies"] = xrf.energies
        f["labels"] = xrf.labels
        f.attrs["pigments"] = ",".join(xrf.pigments)
    os.replace(cube + ".part", cube)
    ctx.log.info("data: %.1f h of 3-component 20 Hz record (%d events), %dx%dx%d XRF cube (%d pigments)",
                 d["hours"], len(rec.events), *xrf.cube.shape, len(xrf.pigments))
    state.update(record=rec, mseed=mseed, truth=truth, cube=cube, xrf=xrf)


def _step_features(ctx, state):
    from ._features import _check, run_features

    c = _force(ctx, "features", archive=state["mseed"], store=os.path.join(state["out"], "features.zarr"))
    summary = run_features(ctx, c, _as_config_error(_check, ctx))
    if not summary.n_windows and not summary.skipped:
        raise RuntimeError(f"demo: feature extraction produced no windows: {summary}")
    state["store"] = c["store"]
    state["results"]["features"] = {"windows": summary.n_windows, "seconds": round(summary.seconds, 2)}


def _step_train(ctx, state):
    from ._train import check_train, run_train

    c = _force(ctx, "train", store=state["store"], out=os.path.join(state["out"], "model"))
    c["overwrite"] = not c["resume"]
    man = run_train(ctx, c, _as_config_error(check_train, c))
    state["model"] = c["out"]
    state["results"]["train"] = {"kind": man["kind"], "windows": man["n_windows"], "scales": man["scales"]}


def _step_cluster(ctx, state):
    from ._cluster import check_cluster, run_cluster

    c = _force(ctx, "cluster", store=state["store"], model=state["model"])
    c["overwrite"] = True
    labels, conf, info = run_cluster(ctx, c, _as_config_error(check_cluster, c))
    state["labels"] = c["name"]
    state["results"]["cluster"] = {"label_set": info["path"], "windows": int(labels.shape[0])}


def _step_segment(ctx, state):
    from ._segment import check_segment, run_segment

    c = _force(ctx, "segment", cube=state["cube"], out=os.path.join(state["out"], "segmentation"))
    c["overwrite"] = True
    seg, summary = run_segment(ctx, c, _as_config_error(check_segment, c))
    state["segmentation"] = c["out"]
    truth = state["xrf"].labels
    m = seg.labels >= 0
    state["results"]["segment"] = {"n_clusters": int(seg.n_clusters), "ari_vs_truth":
                                   round(adjusted_rand_index(truth[m], seg.labels[m]), 4)}


def _step_separate(ctx, state):
    """Deglitch the strongest synthetic glitch with priors from the most populated cluster."""
    from ..separation import snr_db
    from ._separate import check_separate, run_separate

    rec = state["record"]
    g = rec.sources["glitch"]
    amp = np.abs(g).max(axis=0)
    L = amp.size
    n = min(2048, L // 4)
    if not amp.any():
        ctx.log.info("separate: the synthetic record has no glitch; step skipped")
        state["results"]["separate"] = {"skipped": "no glitch in the record"}
        return
    centre = int(np.clip(amp.argmax(), n // 2, L - n // 2))
    a = centre - n // 2
    t0 = rec.to_stream()[0].stats.starttime
    c = _force(ctx, "separate", store=state["store"], out=os.path.join(state["out"], "separation"),
               start=str(t0 + a / rec.fs), end=str(t0 + (a + n) / rec.fs))
    c["labels"], c["window"], c["overwrite"] = state["labels"], -1, True
    res, summary = run_separate(ctx, c, _as_config_error(check_separate, c))
    state["separation"] = c["out"]
    with np.load(os.path.join(c["out"], "separation.npz")) as z:
        x, bg, b0 = z["mixture"], z["background"], int(round((int(z["starttime_ns"]) - t0.ns) / 1e9 * rec.fs))
    truth_bg = x - g[:, b0:b0 + x.shape[1]]
    state["results"]["separate"] = {
        "start": summary["start"], "samples": summary["samples"], "cluster": summary["cluster"],
        "snr_input_db": round(float(snr_db(x, truth_bg)), 2),
        "snr_background_db": round(float(snr_db(bg, truth_bg)), 2), "seconds": summary["wall_time_s"]}


def _step_report(ctx, state):
    from ._report import check_report, run_report

    c = _force(ctx, "report", store=state["store"], out=os.path.join(state["out"], "report"),
               segmentation=state["segmentation"])
    c["labels"], c["model"], c["overwrite"] = state["labels"], state["model"], True
    c["separation"] = [state["separation"]] if state.get("separation") else []
    rep, n_fig = run_report(ctx, c, _as_config_error(check_report, c))
    state["report"] = c["out"]
    state["results"]["report"] = {"markdown": os.path.join(c["out"], "report.md"), "figures": n_fig}


def _step_summary(ctx, state):
    from ..store import read_labels

    lab = read_labels(state["store"], state["labels"])
    z = np.load(state["truth"])
    fs, t0 = float(z["fs"]), int(z["starttime_ns"])
    active = {s: z[f"label_{s}"] for s in _EVENT_SOURCES}
    end = np.round((lab["time_end"].values.astype(np.int64) - t0) / 1e9 * fs).astype(np.int64)
    table = {}
    for si, scale in enumerate(lab["scale"].values.tolist()):
        start = np.maximum(end - scale, 0)
        inside = {}
        for s, a in active.items():
            cs = np.concatenate([[0], np.cumsum(a, dtype=np.int64)])
            inside[s] = cs[np.minimum(end, a.size)] - cs[start] > 0
        rows = []
        labels = lab["labels"].values[:, si]
        for k in range(int(lab.attrs["n_clusters"][si])):
            sel = labels == k
            n = int(sel.sum())
            row = {"cluster": k, "windows": n}
            for s in _EVENT_SOURCES:
                row[s] = round(float(inside[s][sel].mean()), 3) if n else 0.0
            rows.append(row)
        table[f"scale_{scale}"] = rows
    state["results"]["clusters_vs_sources"] = table
    state["results"]["seconds"] = round(time.perf_counter() - state["t0"], 1)
    path = os.path.join(state["out"], "demo-summary.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(state["results"], f, indent=2)
    if not ctx.quiet:
        _print_summary(state, table)


def _print_summary(state, table):
    r = state["results"]
    print(f"scatclust demo: {state['out']}")
    print(f"  features: {r['features']['windows']} windows; model {r['train']['kind']} on scales "
          f"{r['train']['scales']} samples")
    first = next(iter(table))
    print(f"  clusters at the smallest scale ({first[6:]} samples) vs synthetic sources "
          f"(share of the cluster's windows containing each):")
    print("    cluster  windows  " + "  ".join(f"{s:>6}" for s in _EVENT_SOURCES))
    for row in table[first]:
        print(f"    {row['cluster']:7d}  {row['windows']:7d}  " + "  ".join(f"{row[s]:6.2f}" for s in _EVENT_SOURCES))
    sep = r.get("separate", {})
    if "snr_background_db" in sep:
        print(f"  deglitching {sep['samples']} samples at {sep['start'][:19]} with priors from cluster "
              f"{sep['cluster']}: background SNR {sep['snr_input_db']:.1f} dB in the input -> "
              f"{sep['snr_background_db']:.1f} dB separated ({sep['seconds']:.1f} s)")
    seg = r["segment"]
    print(f"  cube segmentation: K = {seg['n_clusters']}, adjusted Rand index vs the pigment map "
          f"{seg['ari_vs_truth']:.3f}")
    print("  files:")
    for root, dirs, files in os.walk(state["out"]):
        dirs[:] = sorted(d for d in dirs if not d.endswith(".zarr") and not d.startswith("."))
        rel = os.path.relpath(root, state["out"])
        for f in sorted(files):
            print(f"    {os.path.normpath(os.path.join(rel, f))}")
    print(f"    {os.path.basename(state['store'])}/  (feature store; labels in _labels/{state['labels']})")
    print(f"  took {r['seconds']:.0f} s")


def adjusted_rand_index(a, b):
    """Adjusted Rand index of two labelings (Hubert & Arabie 1985), from the contingency table."""
    a = np.unique(np.asarray(a).ravel(), return_inverse=True)[1]
    b = np.unique(np.asarray(b).ravel(), return_inverse=True)[1]
    n = a.size
    table = np.zeros((a.max() + 1, b.max() + 1), dtype=np.int64)
    np.add.at(table, (a, b), 1)

    def c2(x):
        x = np.asarray(x, dtype=np.float64)
        return (x * (x - 1) / 2).sum()

    s_ij, s_a, s_b = c2(table), c2(table.sum(1)), c2(table.sum(0))
    expected = s_a * s_b / (n * (n - 1) / 2) if n > 1 else 0.0
    top = 0.5 * (s_a + s_b)
    return 1.0 if top == expected else float((s_ij - expected) / (top - expected))


def _as_config_error(check, arg):
    try:
        return check(arg)
    except ConfigError:
        raise
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise ConfigError(str(exc)) from exc


# Pipeline order. Hook points: ("separate", <fn>) after "cluster"; ("report", <fn>) before "summary".
STEPS = [
    ("data", _step_data),
    ("features", _step_features),
    ("train", _step_train),
    ("cluster", _step_cluster),
    ("separate", _step_separate),
    ("segment", _step_segment),
    ("report", _step_report),
    ("summary", _step_summary),
]


def _check(ctx):
    out = ctx["demo"]["out"]
    if os.path.exists(os.path.join(out, "scatclust-run.toml")) and not ctx["demo"]["overwrite"]:
        raise ConfigError(f"demo: out={out!r} holds an earlier demo; pass --overwrite to run it again there "
                          f"or choose another output directory")
    if os.path.isfile(out):
        raise ConfigError(f"demo: out={out!r} is a file; give a directory")
    # Validate the pipeline's tables before any work starts (the paths are set by the steps).
    from ._features import build_pyramid, prepare_config

    from ._features import _named

    _named("[features.prepare]", prepare_config, ctx["features"])
    _named("[features.pyramid]", build_pyramid, ctx["features"])
    t = ctx["train"]
    if t["model"] == "fvae":
        from ..models import FVAEClustering
        from ._train import _fvae_kw

        FVAEClustering(t["n_clusters"], **_fvae_kw(t), random_state=t["seed"])._validate_params()


def _run(ctx, plan):
    out = os.path.abspath(ctx["demo"]["out"])
    os.makedirs(out, exist_ok=True)
    state = {"out": out, "results": {}, "t0": time.perf_counter()}
    record = os.path.join(out, "scatclust-run.toml")
    ctx.record(record, status="running")
    t0 = time.perf_counter()
    for name, step in ctx.bar(STEPS, total=len(STEPS), desc="demo", unit="step"):
        ctx.log.info("step %s", name)
        ts = time.perf_counter()
        step(ctx, state)
        ctx.log.debug("step %s took %.1f s", name, time.perf_counter() - ts)
    ctx.record(record, status="complete")
    return None


COMMAND = Command(
    name="demo",
    help="run the whole pipeline on built-in synthetic data (a few minutes on 2 cores)",
    description="Generate a synthetic Mars-like seismic record and a synthetic MA-XRF cube, then "
                "run features -> train -> cluster on the record and segment on the cube, and compare "
                "the clusters with the ground truth. Everything goes under OUT; OUT/scatclust-run.toml "
                "holds every parameter ('scatclust demo --config OUT/scatclust-run.toml' repeats it). "
                "The pipeline's tables ([features], [train], [cluster], [segment]) can be changed with "
                "--set or a config file.\n\n"
                "  scatclust demo out/ --hours 12 --set train.fvae.epochs=80",
    params=PARAMS, run=_run, check=_check, positionals=[("out", "output directory")],
    uses=("features", "train", "cluster", "separate", "segment", "report"), presets=PRESETS,
)
