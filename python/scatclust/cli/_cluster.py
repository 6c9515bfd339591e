"""``scatclust cluster``: assign the windows of a store to clusters; labels and confidences
per scale go back into the store (:func:`scatclust.store.write_labels`)."""
from __future__ import annotations

import os

import numpy as np

from ._base import Command, ConfigError, Param
from ._config import dumps_toml

PARAMS = [
    Param("store", "", "feature store whose windows are assigned (required)", type="path", flag=""),
    Param("model", "model", "model directory written by 'scatclust train'", type="path"),
    Param("name", "default", "name of the label set in the store (<store>/_labels/<name>)"),
    Param("days", [], "store groups or days ('YYYY-MM-DD') to assign; [] = every complete day",
          type="str_list"),
    Param("threads", 0, "CPU threads of torch and the C++ core; 0 = OMP_NUM_THREADS or all cores",
          unit="threads", lo=0),
    Param("device", "cpu", "torch device: 'cpu', 'cuda', 'cuda:N' or 'auto'"),
    Param("overwrite", False, "replace a label set of the same name (default: refuse)"),
]


def check_cluster(c):
    if not c["store"]:
        raise ConfigError("cluster: STORE is missing; give it as an argument or set [cluster] store in the config")
    from ..store import label_sets
    from ..store._labels import _check_name
    from ._model_dir import TrainedModel, store_scales

    _check_name(c["name"])
    scales, _ = store_scales(c["store"])
    model = TrainedModel(c["model"], device=c["device"])
    bad = [s for s in model.scales if s not in scales]
    if bad or [scales[i] for i in model.scale_index] != model.scales:
        raise ConfigError(f"cluster: the model in {c['model']!r} was trained on scales {model.scales}, the store "
                          f"{c['store']!r} has {scales}; use the store it was trained on (or one made with the "
                          f"same [features.pyramid])")
    if c["name"] in label_sets(c["store"]) and not c["overwrite"]:
        raise ConfigError(f"cluster: the store already has a label set {c['name']!r}; pass --overwrite to replace "
                          f"it or choose another --name")
    return {"model": model}


def run_cluster(ctx, c, plan):
    """Assign every window; returns (labels, confidence, info)."""
    from ..store import FeatureStore, open_features, write_labels
    from ._train import set_threads

    set_threads(c["threads"])
    model = plan["model"]
    fs = FeatureStore(c["store"], mode="r")
    names = open_features(c["store"], days=c["days"] or None, layout="flat").attrs["days"]
    if not names:
        raise ValueError(f"the store {c['store']!r} has no complete day to assign")
    labs, confs, times, counts = [], [], [], []
    for name in ctx.bar(names, total=len(names), desc="cluster", unit="day"):
        arrays, _ = fs.read_arrays(name)
        X = arrays["features"]
        lab, conf = model.assign(X)
        labs.append(lab)
        confs.append(conf)
        times.append(arrays["time_end"])
        counts.append(X.shape[0])
    labels, confidence = np.concatenate(labs), np.concatenate(confs)
    record = dumps_toml({"scatclust": ctx.metadata("complete"), "cluster": c},
                        header="scatclust run record of 'scatclust cluster' (the label set next to it)")
    dest = write_labels(c["store"], c["name"], labels, confidence, days=names, n_windows=counts,
                        time_end=np.concatenate(times), scales=model.scales, n_clusters=model.n_clusters,
                        attrs={"model": os.path.abspath(c["model"]), "kind": model.kind},
                        extra_files={"scatclust-cluster.toml": record})
    ctx.log.info("labels of %d windows x %d scales written to %s", labels.shape[0], labels.shape[1], dest)
    for s, scale in enumerate(model.scales):
        ok = labels[:, s] >= 0
        sizes = np.bincount(labels[ok, s], minlength=model.n_clusters[s]).tolist()
        ctx.log.info("scale %d samples: cluster sizes %s, median confidence %.3f", scale, sizes,
                     float(np.median(confidence[ok, s])) if ok.any() else float("nan"))
    return labels, confidence, {"days": names, "path": dest}


def _check(ctx):
    return check_cluster(ctx["cluster"])


def _run(ctx, plan):
    labels, _, info = run_cluster(ctx, ctx["cluster"], plan)
    if not ctx.quiet:
        print(f"{labels.shape[0]} windows x {labels.shape[1]} scales assigned: {info['path']}")


COMMAND = Command(
    name="cluster",
    help="assign the windows of a store with a trained model; labels + confidences into the store",
    description="Assign every window of a feature store to a cluster at every scale with a model "
                "from 'scatclust train', and write the labels (int32, -1 for windows with gap "
                "features) and confidences (max posterior / soft-assignment probability) to "
                "<store>/_labels/<name>. The set is written under a temporary name and renamed into "
                "place, so an interruption leaves the previous set (or none) intact.\n\n"
                "  scatclust cluster elyse.zarr --model model --name fvae6\n\n"
                "Read it back with scatclust.store.read_labels(store, name).",
    params=PARAMS, run=_run, check=_check, positionals=[("store", "feature store directory")],
)
