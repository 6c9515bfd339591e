"""``scatclust train``: F-VAE, DEC or k-means on the windows of a feature store."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np

from ._base import Command, ConfigError, Param
from ._model_dir import FORMAT, atomic_savez, atomic_write_json, digest, load_windows, store_scales

PARAMS = [
    Param("store", "", "feature store to train on (required)", type="path", flag=""),
    Param("out", "model", "model directory (model, checkpoints, history, run record)", type="path"),
    Param("model", "fvae", "model: 'fvae' (factorial GM-VAE over all scales at once), 'dec' (deep "
                           "embedded clustering, one model per scale), 'kmeans' (one per scale)",
          choices=("fvae", "dec", "kmeans")),
    Param("n_clusters", 8, "clusters per scale", unit="clusters", lo=1),
    Param("seed", 0, "random seed (weights, batch order, noise, k-means); the same seed and data give "
                     "the same labels", lo=0),
    Param("days", [], "store groups or days ('YYYY-MM-DD') to train on; [] = every complete day",
          type="str_list"),
    Param("scales", [], "window lengths to use (must be in the store); [] = every stored scale",
          unit="samples", type="int_list", lo=1),
    Param("threads", 0, "CPU threads of torch and the C++ core; 0 = OMP_NUM_THREADS or all cores",
          unit="threads", lo=0),
    Param("device", "cpu", "torch device: 'cpu', 'cuda', 'cuda:N' or 'auto'"),
    Param("resume", False, "continue an interrupted training in OUT (F-VAE: from the last finished epoch, "
                           "giving the same weights as an uninterrupted run; DEC / k-means: skip the "
                           "scales already trained)"),
    Param("overwrite", False, "delete a model or checkpoint already in OUT and train from scratch"),
    # [train.fvae]: scatclust.models.FVAEClustering
    Param("fvae.latent_dim", 8, "latent dimension per scale", unit="dimensions", lo=1),
    Param("fvae.hidden", [128, 64], "encoder trunk widths (decoders mirrored)", unit="units",
          type="int_list", lo=1),
    Param("fvae.epochs", 50, "passes over the data (a resumed run trains up to this many)", unit="epochs", lo=1),
    Param("fvae.batch_size", 256, "windows per optimisation step", unit="windows", lo=1),
    Param("fvae.lr", 1e-3, "Adam learning rate", lo=1e-12),
    Param("fvae.grad_clip", 10.0, "largest gradient norm per step (larger ones are scaled down to it; 0 = no "
          "clipping); lower it, or fvae.lr, if training stops with 'training diverged'", lo=0.0),
    Param("fvae.tau0", 1.0, "initial Gumbel-softmax temperature", lo=1e-6),
    Param("fvae.tau_min", 0.5, "lowest Gumbel-softmax temperature", lo=1e-6),
    Param("fvae.anneal_rate", 3e-3, "temperature decay per step: tau = max(tau_min, tau0 exp(-rate step))",
          unit="1/step", lo=0.0),
    Param("fvae.hard", False, "straight-through (one-hot) Gumbel-softmax samples"),
    Param("fvae.w_rec", 1.0, "weight of the reconstruction term", lo=0.0),
    Param("fvae.w_z", 1.0, "weight of KL(z|y)", lo=0.0),
    Param("fvae.w_y", 1.0, "weight of KL(y || uniform)", lo=0.0),
    Param("fvae.init", "random", "start of the mixture prior: 'random', or from the data after pretraining: "
          "'kmeans' (k-means on the latent means; best on the synthetic Mars bench) or 'gmm'",
          choices=("random", "kmeans", "gmm")),
    Param("fvae.pretrain_epochs", 0, "epochs (counted in fvae.epochs) trained as a plain VAE before the mixture "
          "prior is initialised", unit="epochs", lo=0),
    Param("fvae.pretrain_w_z", 0.01, "weight of KL(q(z|x) || N(0, I)) during pretraining", lo=0.0),
    # [train.dec]: scatclust.cluster.DEC on the standardised features of each scale
    Param("dec.latent_dim", 10, "embedding size", unit="dimensions", lo=1),
    Param("dec.hidden", [500, 500, 2000], "MLP autoencoder widths", unit="units", type="int_list", lo=1),
    Param("dec.pretrain_epochs", 100, "maximum autoencoder pretraining epochs", unit="epochs", lo=0),
    Param("dec.max_iter", 2000, "maximum DEC mini-batch iterations", unit="iterations", lo=0),
    Param("dec.batch_size", 256, "windows per mini-batch", unit="windows", lo=1),
    Param("dec.lr", 1e-3, "Adam learning rate", lo=1e-12),
    Param("dec.update_interval", 140, "mini-batches between target-distribution updates", unit="iterations",
          lo=1),
    Param("dec.tol", 1e-3, "stop when fewer than this fraction of labels changed between two updates",
          unit="fraction", lo=0.0, hi=1.0),
    Param("dec.gamma", 0.0, "weight of the reconstruction loss (IDEC); 0 = DEC", lo=0.0),
    Param("dec.alpha", 1.0, "degrees of freedom of the Student-t kernel", lo=1e-6),
    Param("dec.n_init", 20, "k-means++ restarts for the initial centres", unit="restarts", lo=1),
    Param("dec.validation_fraction", 0.1, "windows held out to stop pretraining early", unit="fraction",
          lo=0.0, hi=0.99),
    Param("dec.patience", 10, "pretraining epochs without improvement before stopping", unit="epochs", lo=1),
    # [train.kmeans]: scatclust.cluster.KMeans on the standardised features of each scale
    Param("kmeans.n_init", 10, "k-means++ restarts (the lowest inertia is kept)", unit="restarts", lo=1),
    Param("kmeans.max_iter", 300, "Lloyd iterations per restart", unit="iterations", lo=1),
    Param("kmeans.tol", 1e-4, "relative centre-shift tolerance", lo=0.0),
]

_MODEL_FILES = ("model.json", "model.pt", "checkpoint.pt", "kmeans.npz", "normalization.npz", "history.json")


def _sub(c, prefix):
    return {k.split(".", 1)[1]: v for k, v in c.items() if k.startswith(prefix + ".")}


def set_threads(n):
    """Pin torch's and the core's threads (n > 0); 0 leaves the process defaults."""
    if n:
        import torch

        import scatclust

        torch.set_num_threads(n)
        scatclust.set_num_threads(n)


def _existing(out):
    if not os.path.isdir(out):
        return []
    return sorted(f for f in os.listdir(out) if f in _MODEL_FILES or (f.startswith("scale") and f[5:6].isdigit()))


def check_train(c):
    """Validate a [train] table; returns the plan (scale indices of the store)."""
    if not c["store"]:
        raise ConfigError("train: STORE is missing; give it as an argument or set [train] store in the config")
    if not c["out"]:
        raise ConfigError("train: out='' ; give the model directory with --out DIR")
    scales, _ = store_scales(c["store"])
    if c["scales"]:
        missing = [s for s in c["scales"] if s not in scales]
        if missing:
            raise ConfigError(f"train: scales={c['scales']} includes {missing}, not in the store (its scales: "
                              f"{scales}); set [train] scales = [] for all")
        index = [scales.index(s) for s in c["scales"]]
    else:
        index = list(range(len(scales)))
    if c["resume"] and c["overwrite"]:
        raise ConfigError("train: --resume and --overwrite exclude each other; --resume continues the training "
                          "in OUT, --overwrite starts it over")
    found = _existing(c["out"])
    if found and not (c["resume"] or c["overwrite"]):
        raise ConfigError(f"train: out={c['out']!r} already holds {', '.join(found)}; pass --resume to continue "
                          f"that training or --overwrite to start over (or choose another --out)")
    if c["model"] == "fvae":
        from ..models import FVAEClustering

        try:
            FVAEClustering(c["n_clusters"], **_fvae_kw(c), random_state=c["seed"])._validate_params()
        except ValueError as exc:
            raise ConfigError(f"[train.fvae]: {exc}") from exc
    return {"scale_index": index, "scales": [scales[i] for i in index]}


def _fvae_kw(c):
    f = _sub(c, "fvae")
    f["hidden"] = tuple(f["hidden"])
    f["grad_clip"] = float(f["grad_clip"]) or None  # 0 in the configuration: no clipping
    return dict(f, device=c["device"])


def run_train(ctx, c, plan):
    """Train as configured by table ``c`` into ``c['out']``; returns the manifest dict."""
    out = c["out"]
    if c["overwrite"]:
        for f in _existing(out):
            p = os.path.join(out, f)
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
    os.makedirs(out, exist_ok=True)
    record = os.path.join(out, "scatclust-train.toml")
    ctx.record(record, status="running", tables=("train",))
    set_threads(c["threads"])
    X, info = load_windows(c["store"], c["days"], plan["scale_index"])
    ok = np.isfinite(X).all(axis=(1, 2))
    if not ok.any():
        raise ValueError(f"the store {c['store']!r} has no window with finite features for days {c['days'] or 'all'}")
    if (~ok).any():
        ctx.log.info("%d window(s) with gap (NaN) features left out of training", int((~ok).sum()))
    X = X[ok]
    ctx.log.info("training %s on %d windows x %d scales x %d coefficients from %d day(s)", c["model"],
                 X.shape[0], X.shape[1], X.shape[2], len(info["days"]))
    data_sha = digest(X)
    man = {"format": FORMAT, "kind": c["model"], "scales": plan["scales"], "scale_index": plan["scale_index"],
           "n_clusters": [c["n_clusters"]] * len(plan["scales"]), "store": os.path.abspath(c["store"]),
           "days": info["days"], "n_windows": int(X.shape[0]), "n_coefficients": int(X.shape[2]),
           "data_sha256": data_sha, "seed": c["seed"]}
    from .. import __version__

    man["version"] = __version__
    if c["model"] == "fvae":
        hist = _train_fvae(ctx, c, X, out, man)
    else:
        hist = _train_per_scale(ctx, c, X, out, man)
    atomic_write_json(os.path.join(out, "history.json"), hist)
    atomic_write_json(os.path.join(out, "model.json"), man)  # last: marks the model complete
    ctx.record(record, status="complete", tables=("train",))
    return man


def _train_fvae(ctx, c, X, out, man):
    from ..models import FVAEClustering

    ckpt = os.path.join(out, "checkpoint.pt")
    if c["resume"]:
        if os.path.exists(ckpt):
            import torch

            done = torch.load(ckpt, map_location="cpu", weights_only=True).get("epoch", 0)
            ctx.log.info("resuming from %s after epoch %d", ckpt, done)
        else:
            ctx.log.warning("--resume: no checkpoint in %s, training from the start", out)
    est = FVAEClustering(c["n_clusters"], **_fvae_kw(c), random_state=c["seed"], verbose=ctx.progress)
    try:
        est.fit(X, checkpoint=ckpt)
    except ValueError as exc:
        if "checkpoint" in str(exc):
            raise ConfigError(f"train: {exc}; the checkpoint in {out!r} belongs to another training: use "
                              f"--overwrite or another --out") from None
        raise
    shutil.copyfile(ckpt, os.path.join(out, ".model.pt.tmp"))
    os.replace(os.path.join(out, ".model.pt.tmp"), os.path.join(out, "model.pt"))
    man["files"] = {"model": "model.pt", "checkpoint": "checkpoint.pt"}
    man["n_epochs"] = int(est.n_epochs_)
    for s in range(X.shape[1]):
        ctx.log.info("scale %d samples: cluster sizes %s", man["scales"][s],
                     np.bincount(est.labels_[:, s], minlength=c["n_clusters"]).tolist())
    return {"loss": [float(h) for h in est.history_]}


def _train_per_scale(ctx, c, X, out, man):
    mean = X.mean(axis=0, dtype=np.float64)
    std = X.std(axis=0, dtype=np.float64)
    std = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    norm = os.path.join(out, "normalization.npz")
    atomic_savez(norm, mean=mean, std=std)
    Z = ((X - mean) / std).astype(np.float32)
    S = X.shape[1]
    hist = {}
    if c["model"] == "kmeans":
        from ..cluster import KMeans

        k = _sub(c, "kmeans")
        centers = {}
        for s in ctx.bar(range(S), total=S, desc="k-means", unit="scale"):
            km = KMeans(c["n_clusters"], n_init=k["n_init"], max_iter=k["max_iter"], tol=k["tol"],
                        random_state=c["seed"]).fit(Z[:, s].astype(np.float64))
            centers[f"centers_{s}"] = km.cluster_centers_
            hist[f"scale_{man['scales'][s]}"] = {"inertia": float(km.inertia_), "n_iter": int(km.n_iter_),
                                                 "sizes": np.bincount(km.labels_, minlength=c["n_clusters"]).tolist()}
            ctx.log.info("scale %d samples: inertia %.6g, cluster sizes %s", man["scales"][s], km.inertia_,
                         hist[f"scale_{man['scales'][s]}"]["sizes"])
        atomic_savez(os.path.join(out, "kmeans.npz"), **centers)
        man["files"] = {"kmeans": "kmeans.npz", "normalization": "normalization.npz"}
        return hist
    from ..cluster import DEC

    d = _sub(c, "dec")
    d["hidden"] = tuple(d["hidden"])
    files = []
    for s in ctx.bar(range(S), total=S, desc="DEC", unit="scale"):
        f, marker = f"scale{s}.pt", os.path.join(out, f"scale{s}.json")
        files.append(f)
        key = {"data_sha256": man["data_sha256"], "dec": {k: (list(v) if isinstance(v, tuple) else v)
                                                         for k, v in d.items()},
               "n_clusters": c["n_clusters"], "seed": c["seed"], "scale": man["scales"][s]}
        if c["resume"] and os.path.exists(marker):
            with open(marker, encoding="utf-8") as fh:
                if json.load(fh) == key:
                    ctx.log.info("scale %d samples: already trained, skipped (--resume)", man["scales"][s])
                    continue
            raise ConfigError(f"train: {marker!r} comes from other data or parameters; use --overwrite")
        est = DEC(c["n_clusters"], architecture="mlp", random_state=c["seed"], device=c["device"],
                  verbose=ctx.verbose > 0, **d).fit(Z[:, s])
        from ._model_dir import atomic_write_bytes

        atomic_write_bytes(os.path.join(out, f), lambda fh: est.save(fh))
        atomic_write_json(marker, key)  # after the model file: the scale is done
        hist[f"scale_{man['scales'][s]}"] = {k: v for k, v in est.history_.items()}
        ctx.log.info("scale %d samples: %d DEC iterations, cluster sizes %s", man["scales"][s], est.n_iter_,
                     np.bincount(est.labels_, minlength=c["n_clusters"]).tolist())
    man["files"] = {"scales": files, "normalization": "normalization.npz"}
    return hist


def _check(ctx):
    return check_train(ctx["train"])


def _run(ctx, plan):
    man = run_train(ctx, ctx["train"], plan)
    if not ctx.quiet:
        print(f"{man['kind']} model of {len(man['scales'])} scale(s) x {man['n_clusters'][0]} clusters trained "
              f"on {man['n_windows']} windows: {ctx['train']['out']}")


COMMAND = Command(
    name="train",
    help="train an F-VAE, DEC or k-means clustering model on a feature store",
    description="Train a clustering model on the windows of a feature store. 'fvae' learns one "
                "factorial Gaussian-mixture VAE over all scales; 'dec' and 'kmeans' one model per scale "
                "on the standardised features. The F-VAE writes a checkpoint after every epoch "
                "(atomically): after an interruption '--resume' continues from the last finished epoch "
                "and gives the same model as an uninterrupted run.\n\n"
                "  scatclust train elyse.zarr --out model --model fvae --n-clusters 6 --fvae-epochs 100",
    params=PARAMS, run=_run, check=_check, positionals=[("store", "feature store directory")],
)
