"""``scatclust separate``: separate a source from a time range (or one window) of an archive,
with priors taken from a cluster of a label set (:func:`scatclust.separate`).

What it does:

1. reads the label set ``--labels`` of the store (``scatclust cluster``) and the store's run
   record (``STORE/scatclust-features.toml``) for the archive and its preparation, so the
   waveforms are prepared exactly as for the features;
2. the target is ``--window`` (a row of the label set: the window of scale ``--scale`` ending
   at its ``time_end``) or ``--start``/``--end`` (UTC);
3. the priors are windows of cluster ``--cluster`` at scale ``--scale`` (default: the most
   populated cluster, usually the background), the last ``--segment`` samples before each
   window end, chosen by :func:`scatclust.separation.select_priors` (time-of-day proximity to
   the target, then confidence; no overlap with each other or with the target);
4. :func:`scatclust.separate` on the prepared samples (segments of ``--segment`` samples with
   overlap-add when the target is longer);
5. writes ``OUT/separation.npz`` (mixture, background, source, fs, start time, prior rows),
   ``OUT/background.mseed`` and ``OUT/source.mseed`` (ObsPy, the channels' SEED ids),
   ``OUT/separation.json`` (losses, iterations, timings), ``OUT/separation.png`` (mixture,
   sources and their spectra) and the run record, into a temporary directory renamed into
   place at the end.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from ._base import Command, ConfigError, Param, finish_dir, staging_dir
from ._config import flatten, load_toml

PARAMS = [
    Param("store", "", "feature store with the label set (required)", type="path", flag=""),
    Param("labels", "default", "label set of the store written by 'scatclust cluster' (its --name)"),
    Param("archive", "", "waveform archive (file, glob or SDS root as for 'scatclust features'); "
                         "'' = the archive recorded in the store's scatclust-features.toml", type="path"),
    Param("scale", 0, "window scale whose clusters give the priors; 0 = the smallest scale of the label set",
          unit="samples", lo=0),
    Param("cluster", -1, "cluster whose windows are the priors; -1 = the most populated cluster at that scale",
          unit="cluster index", lo=-1),
    Param("window", -1, "row of the label set to separate (the window of --scale ending at its time_end); "
                        "-1 = use --start/--end", unit="window index", lo=-1),
    Param("start", "", "UTC start of the time range to separate, e.g. 2019-06-01T03:00:00 (with --end)"),
    Param("end", "", "UTC end of the time range to separate (exclusive)"),
    Param("n_priors", 32, "number of prior windows R (>= 2)", unit="windows", lo=2),
    Param("segment", 2048, "segment length: priors are this long; longer targets are cut into overlapping "
                           "segments recombined by overlap-add", unit="samples", lo=64),
    Param("overlap", 512, "samples shared by neighbouring segments", unit="samples", lo=0),
    Param("J", 8, "octaves of the scattering spectra (2**J <= segment)", unit="octaves", lo=1, hi=20),
    Param("terms", ["prior"], "loss terms: any of prior, mixture, independence", type="str_list"),
    Param("max_iter", 40, "L-BFGS iterations per segment (a cap; the discrepancy stop usually ends sooner)",
          unit="iterations", lo=1),
    Param("variable", "gain", "what the solve optimises: 'gain' (a time-frequency gain of the record, in [0, 1]) "
          "or 'samples' (the samples of the background)", choices=("gain", "samples")),
    Param("init", "", "starting point of --variable samples: '' = auto ('cap' for samples, 'x' for gain), "
          "'cap' (spectral cap of the segment), 'wiener' or 'x' (the record)", choices=("", "cap", "wiener", "x")),
    Param("pool", 0, "block length of the time-localised prior term; 0 = auto (128 on segments of >= 512 "
          "samples), -1 = the global term", unit="samples", lo=-1),
    Param("post", "", "last step on the background: '' none, 'cap' or 'wiener'", choices=("", "cap", "wiener")),
    Param("seed", 0, "random seed (subset of priors in the mixture/independence terms)", lo=0),
    Param("threads", 0, "CPU threads of the C++ core; 0 = OMP_NUM_THREADS or all cores", unit="threads", lo=0),
    Param("out", "separation", "output directory", type="path"),
    Param("overwrite", False, "replace an existing output directory (default: refuse)"),
]

_TERMS = ("prior", "mixture", "independence")


def _features_table(store):
    """The [features] table recorded in the store, on top of the features command's defaults."""
    from ._features import PARAMS as FEATURE_PARAMS

    table = {p.key: p.default for p in FEATURE_PARAMS}
    path = os.path.join(store, "scatclust-features.toml")
    if os.path.exists(path):
        table.update(flatten(load_toml(path).get("features", {})))
    return table


def check_separate(c):
    if c["pool"] == 1 or c["pool"] > c["segment"]:
        raise ConfigError(f"separate: pool={c['pool']} must be 0 (auto), -1 (global term) or a block length "
                          f"from 2 to segment={c['segment']} samples")
    from ..store import label_sets, read_labels
    from ._features import _named, prepare_config

    if not c["store"]:
        raise ConfigError("separate: STORE is missing; give it as an argument or set [separate] store in the config")
    if not os.path.isdir(c["store"]):
        raise ConfigError(f"separate: store={c['store']!r} is not a directory; give the feature store "
                          f"written by 'scatclust features'")
    sets = label_sets(c["store"])
    if c["labels"] not in sets:
        raise ConfigError(f"separate: labels={c['labels']!r} is not a label set of {c['store']!r} (it has "
                          f"{sorted(sets)}); run 'scatclust cluster {c['store']} --name {c['labels']}' first")
    bad = [t for t in c["terms"] if t not in _TERMS]
    if bad or not c["terms"]:
        raise ConfigError(f"separate: terms={c['terms']} must be a non-empty subset of {list(_TERMS)}")
    if c["overlap"] >= c["segment"]:
        raise ConfigError(f"separate: overlap={c['overlap']} must be smaller than segment={c['segment']}")
    if 2 ** c["J"] > c["segment"]:
        raise ConfigError(f"separate: J={c['J']} needs segment >= 2**J = {2 ** c['J']}; lower J or raise segment")
    if c["window"] < 0 and not (c["start"] and c["end"]):
        raise ConfigError("separate: give the target as --window N (a row of the label set) or as "
                          "--start and --end (UTC)")
    if c["window"] >= 0 and (c["start"] or c["end"]):
        raise ConfigError("separate: --window and --start/--end are exclusive; give one of them")
    if os.path.exists(os.path.join(c["out"], "separation.npz")) and not c["overwrite"]:
        raise ConfigError(f"separate: out={c['out']!r} already holds a separation; pass --overwrite to replace "
                          f"it or choose another --out")
    lab = read_labels(c["store"], c["labels"])
    scales = [int(s) for s in lab["scale"].values]
    scale = c["scale"] or min(scales)
    if scale not in scales:
        raise ConfigError(f"separate: scale={c['scale']} is not a scale of the label set {scales}")
    if c["window"] >= lab.sizes["window"]:
        raise ConfigError(f"separate: window={c['window']} is out of range; the label set has "
                          f"{lab.sizes['window']} windows (0..{lab.sizes['window'] - 1})")
    si = scales.index(scale)
    n_k = int(np.asarray(lab.attrs["n_clusters"])[si])
    if c["cluster"] >= n_k:
        raise ConfigError(f"separate: cluster={c['cluster']} is out of range; scale {scale} has {n_k} clusters "
                          f"(0..{n_k - 1})")
    ftab = _features_table(c["store"])
    archive = c["archive"] or ftab.get("archive", "")
    if not archive:
        raise ConfigError("separate: the store records no archive; give the waveforms with --archive")
    prep = _named("[features.prepare]", prepare_config, ftab)
    if c["start"]:
        from obspy import UTCDateTime

        try:
            t0, t1 = UTCDateTime(c["start"]), UTCDateTime(c["end"])
        except Exception as exc:  # obspy raises TypeError/ValueError subclasses
            raise ConfigError(f"separate: cannot parse start={c['start']!r} / end={c['end']!r} as UTC times: "
                              f"{exc}") from None
        if t1 <= t0:
            raise ConfigError(f"separate: end={c['end']!r} must be after start={c['start']!r}")
    return {"labels": lab, "scale": scale, "scale_index": si, "n_clusters": n_k, "archive": archive,
            "prepare": prep}


def _read_record(archive, prep):
    from ..io import prepare, read

    st = read(archive)
    if not len(st):
        raise ValueError(f"the archive {archive!r} holds no waveforms")
    return prepare(st, prep)


def run_separate(ctx, c, plan):
    """Run the separation described by table ``c``; returns (SeparationResult, summary dict)."""
    from obspy import Stream, Trace, UTCDateTime

    from ..separation import select_priors, separate

    if c["threads"]:
        from .. import set_num_threads

        set_num_threads(c["threads"])
    lab, scale, si = plan["labels"], plan["scale"], plan["scale_index"]
    rec = _read_record(plan["archive"], plan["prepare"])
    fs, t_rec = float(rec.sampling_rate), rec.starttime
    L = rec.data.shape[1]
    t_end = lab["time_end"].values.astype("datetime64[ns]").astype(np.int64)
    end_samples = np.round((t_end - np.int64(t_rec.ns)) / 1e9 * fs).astype(np.int64)
    if c["window"] >= 0:
        b = int(end_samples[c["window"]])
        a = b - scale
    else:
        a = int(round((UTCDateTime(c["start"]) - t_rec) * fs))
        b = int(round((UTCDateTime(c["end"]) - t_rec) * fs))
    if a < 0 or b > L or b - a < 2 ** c["J"]:
        raise ValueError(f"the target [{a}, {b}) samples is not inside the prepared record (0..{L}) or is shorter "
                         f"than 2**J = {2 ** c['J']} samples; choose a range within "
                         f"{t_rec} .. {t_rec + L / fs}")
    if rec.gap_mask[a:b].any():
        raise ValueError(f"the target [{a}, {b}) samples touches a data gap; choose another range")
    N = b - a
    seg = min(c["segment"], N)
    labels = lab["labels"].values[:, si]
    conf = lab["confidence"].values[:, si]
    cluster = c["cluster"]
    if cluster < 0:
        cluster = int(np.bincount(labels[labels >= 0], minlength=plan["n_clusters"]).argmax())
    starts = end_samples - seg
    ok = (starts >= 0) & (end_samples <= L) & (labels == cluster)
    ok &= np.array([not rec.gap_mask[max(s, 0):e].any() for s, e in zip(starts, end_samples)])
    rows = np.flatnonzero(ok)
    if rows.size < 2:
        raise ValueError(f"cluster {cluster} at scale {scale} has {rows.size} usable windows in the record; "
                         f"at least 2 are needed (choose another --cluster or --scale)")
    windows = np.stack([rec.data[:, starts[i]:end_samples[i]] for i in rows]).astype(np.float64)
    times = (t_end[rows] / 1e9).astype(np.float64)
    target_time = (t_rec.ns / 1e9) + (a + b) / 2.0 / fs
    priors, idx = select_priors(windows, c["n_priors"], confidence=conf[rows], times=times, target_time=target_time,
                                starts=starts[rows], exclude=(a, b))
    if priors.shape[0] < 2:
        raise ValueError(f"only {priors.shape[0]} non-overlapping prior windows of cluster {cluster} avoid the "
                         f"target; lower --segment or choose another --cluster")
    x = rec.data[:, a:b].astype(np.float64)
    ctx.log.info("separating %d channels x %d samples (%s .. %s) with %d priors of cluster %d (scale %d)",
                 x.shape[0], N, t_rec + a / fs, t_rec + b / fs, priors.shape[0], cluster, scale)
    t0 = time.perf_counter()
    res = separate(x, priors, J=c["J"], terms=tuple(c["terms"]), max_iter=c["max_iter"],
                   segment=seg if N > seg else None, overlap=c["overlap"] if N > seg else None,
                   random_state=c["seed"], n_threads=c["threads"] or None, init=c["init"] or None,
                   variable=c["variable"],
                   pool={0: "auto", -1: None}.get(c["pool"], c["pool"]), post=c["post"] or None)
    wall = time.perf_counter() - t0

    out, tmp = staging_dir(c["out"])
    t_start = t_rec + a / fs
    np.savez(os.path.join(tmp, "separation.npz"), mixture=x, background=np.asarray(res.background),
             source=np.asarray(res.source), fs=fs, starttime_ns=np.int64(t_start.ns),
             prior_rows=rows[idx], cluster=cluster, scale=scale)
    for name, arr in (("background", res.background), ("source", res.source)):
        traces = []
        for ch, row in zip(rec.channels, np.asarray(arr)):
            net, sta, loc, cha = ch.split(".")
            traces.append(Trace(np.ascontiguousarray(row, dtype=np.float64),
                                {"network": net, "station": sta, "location": loc, "channel": cha,
                                 "sampling_rate": fs, "starttime": t_start}))
        Stream(traces).write(os.path.join(tmp, f"{name}.mseed"), format="MSEED", encoding="FLOAT64")
    from ..plot import separation as separation_figure

    separation_figure(x, {"background": np.asarray(res.background), "source": np.asarray(res.source)}, fs,
                      title=f"scatclust separate: cluster {cluster} of scale {scale} as background",
                      path=os.path.join(tmp, "separation.png"))
    summary = {"store": os.path.abspath(c["store"]), "labels": c["labels"], "scale": scale, "cluster": cluster,
               "channels": list(rec.channels), "start": str(t_start), "end": str(t_rec + b / fs),
               "samples": N, "n_priors": int(priors.shape[0]), "segment": seg, "terms": list(c["terms"]),
               "wall_time_s": round(wall, 3), "n_iter": int(res.n_iter),
               "loss_history": {k: [float(v) for v in vals] for k, vals in res.loss_history.items()},
               "background_rms": float(np.sqrt(np.mean(np.asarray(res.background) ** 2))),
               "source_rms": float(np.sqrt(np.mean(np.asarray(res.source) ** 2))),
               "mixture_rms": float(np.sqrt(np.mean(x ** 2)))}
    with open(os.path.join(tmp, "separation.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    finish_dir(ctx, tmp, out, "separate", c)
    ctx.log.info("separation written to %s (%.1f s, %d iterations)", out, wall, res.n_iter)
    return res, summary


def _check(ctx):
    return check_separate(ctx["separate"])


def _run(ctx, plan):
    res, s = run_separate(ctx, ctx["separate"], plan)
    if not ctx.quiet:
        print(f"separated {s['samples']} samples x {len(s['channels'])} channels ({s['start']} .. {s['end']}) "
              f"with {s['n_priors']} priors of cluster {s['cluster']}: rms mixture {s['mixture_rms']:.4g}, "
              f"background {s['background_rms']:.4g}, source {s['source_rms']:.4g}; "
              f"{os.path.abspath(ctx['separate']['out'])}")


COMMAND = Command(
    name="separate",
    help="separate a source from a time range or window, with priors from a cluster",
    description="Estimate the part of a time range (or of one window of a label set) that looks like "
                "the windows of a cluster (the priors, e.g. the background cluster) by optimising "
                "its scattering spectra (scatclust.separate); the rest is the separated source. "
                "The waveforms are read from the archive recorded in the store and prepared as for "
                "the features. Writes separation.npz, background.mseed, source.mseed, "
                "separation.json, separation.png and the run record under OUT.\n\n"
                "  scatclust separate features.zarr --labels default --window 120 --cluster 2 --out sep\n"
                "  scatclust separate features.zarr --start 2019-06-01T03:00 --end 2019-06-01T03:10",
    params=PARAMS, run=_run, check=_check, positionals=[("store", "feature store")],
)
