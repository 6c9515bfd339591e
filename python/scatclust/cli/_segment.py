"""``scatclust segment``: spectral data cube -> label map and mean spectra
(:func:`scatclust.cube.segment`)."""
from __future__ import annotations

import json
import os

import numpy as np

from ._base import Command, ConfigError, Param, finish_dir, staging_dir
from ._model_dir import atomic_savez

PARAMS = [
    Param("cube", "", "data cube file: HDF5 (.h5 .hdf5 .hdf .nxs), Zarr (.zarr), FITS (.fits ...) or numpy "
                      "(.npy, or .npz with key) holding (H, W, C) counts (required)", type="path", flag=""),
    Param("key", "", "dataset inside an HDF5/Zarr/npz file, or FITS HDU name/index; '' = the only one / "
                     "the first 3-D HDU"),
    Param("energies", "", "dataset of channel energies in the same file, saved with the mean spectra; "
                          "'' = none", unit="keV"),
    Param("out", "segmentation", "output directory (segmentation.npz, segmentation.json, run record)",
          type="path"),
    Param("n_clusters", 0, "clusters K; 0 = choose K by k_method over k_range", unit="clusters", lo=0),
    Param("k_range", [2, 10], "inclusive range of K tried when n_clusters = 0", unit="clusters",
          type="int_list", length=(2,), lo=2),
    Param("latent_dim", 8, "latent dimension of the spectral autoencoder", unit="dimensions", lo=1),
    Param("hidden", [256, 64], "encoder widths (decoder mirrored)", unit="units", type="int_list", lo=1),
    Param("conv", False, "1-D convolutional front end in the encoder"),
    Param("model", "ae", "spectral model: 'ae' autoencoder, 'vae' variational, 'unmix' Poisson unmixing "
          "autoencoder (label = largest abundance)", choices=("ae", "vae", "unmix")),
    Param("regularizer", "", "latent regulariser of model = 'vae'; '' = 'kl'", choices=("", "kl", "mmd")),
    Param("reg_weight", -1.0, "weight of the VAE regulariser; negative = the default of the regulariser "
          "(KL 1e-4, MMD 1e-2)"),
    Param("k_method", "silhouette", "criterion choosing K when n_clusters = 0",
          choices=("silhouette", "gap", "calinski_harabasz")),
    Param("n_pretrain", 40, "reconstruction-only pretraining epochs", unit="epochs", lo=0),
    Param("n_cluster_epochs", 20, "joint reconstruction + soft k-means epochs", unit="epochs", lo=0),
    Param("batch_size", 64, "pixels per mini-batch", unit="pixels", lo=1),
    Param("lr", 1e-3, "Adam learning rate", lo=1e-12),
    Param("recon_weight", 1.0, "weight of the reconstruction term in the joint phase", lo=0.0),
    Param("cluster_weight", 1.0, "weight of the soft k-means term in the joint phase", lo=0.0),
    Param("temperature", [1.0, 0.01], "start and end of the annealed soft k-means temperature, relative to "
                                      "the mean squared code-to-centre distance", type="float_list", length=(2,),
          lo=1e-12),
    Param("preprocess", "anscombe", "spectrum transform", choices=("anscombe", "log-max")),
    Param("silhouette_sample_size", 2000, "pixels scored by the silhouette; 0 = all", unit="pixels", lo=0),
    Param("seed", 0, "random seed (weights, batch order, k-means)", lo=0),
    Param("threads", 0, "CPU threads of torch and the C++ core; 0 = OMP_NUM_THREADS or all cores",
          unit="threads", lo=0),
    Param("overwrite", False, "replace an existing output directory (default: refuse)"),
]


def load_any_cube(path, key):
    """(H, W, C) array of a cube file; .npy/.npz here, the rest through scatclust.cube.load_cube."""
    from ..cube import load_cube

    low = path.lower()
    if low.endswith(".npy"):
        return np.load(path, mmap_mode="r")
    if low.endswith(".npz"):
        with np.load(path) as z:
            names = list(z.files)
            if not key and len(names) != 1:
                raise ConfigError(f"segment: {path!r} holds {names}; choose one with --key")
            return z[key or names[0]]
    return load_cube(path, key or None)


def _energies(path, key):
    if not key:
        return None
    low = path.lower()
    if low.endswith(".npz"):
        with np.load(path) as z:
            return np.asarray(z[key], dtype=np.float64)
    if low.endswith((".h5", ".hdf5", ".hdf", ".nxs")):
        import h5py

        with h5py.File(path, "r") as f:
            return np.asarray(f[key][...], dtype=np.float64)
    if low.rstrip("/").endswith(".zarr"):
        import zarr

        return np.asarray(zarr.open(path, mode="r")[key][...], dtype=np.float64)
    raise ConfigError(f"segment: energies={key!r} can be read from .npz, HDF5 or Zarr files only")


def check_segment(c):
    if not c["cube"]:
        raise ConfigError("segment: CUBE is missing; give it as an argument or set [segment] cube in the config")
    if not os.path.exists(c["cube"]):
        raise ConfigError(f"segment: cube={c['cube']!r} does not exist")
    lo, hi = c["k_range"]
    if lo > hi:
        raise ConfigError(f"segment: k_range={c['k_range']} must be [low, high] with low <= high")
    if c["model"] != "vae" and (c["regularizer"] or c["reg_weight"] >= 0):
        raise ConfigError(f"segment: regularizer={c['regularizer']!r} / reg_weight={c['reg_weight']} need "
                          f"model = 'vae' (model={c['model']!r}); remove them or pass --model vae")
    t0, t1 = c["temperature"]
    if t1 > t0:
        raise ConfigError(f"segment: temperature={c['temperature']} must be [start, end] with end <= start")
    if os.path.exists(os.path.join(c["out"], "segmentation.npz")) and not c["overwrite"]:
        raise ConfigError(f"segment: out={c['out']!r} already holds a segmentation; pass --overwrite to replace "
                          f"it or choose another --out")
    try:
        cube = load_any_cube(c["cube"], c["key"])
    except (KeyError, OSError) as exc:
        raise ConfigError(f"segment: cannot read cube={c['cube']!r} (key={c['key']!r}): {exc}") from None
    if np.ndim(cube) != 3:
        raise ConfigError(f"segment: cube={c['cube']!r} has shape {np.shape(cube)}; it must be (H, W, C)")
    energies = _energies(c["cube"], c["energies"])
    if energies is not None and energies.shape != (cube.shape[2],):
        raise ConfigError(f"segment: energies={c['energies']!r} has shape {energies.shape}, the cube has "
                          f"{cube.shape[2]} channels")
    return {"cube": cube, "energies": energies}


def run_segment(ctx, c, plan):
    """Segment the cube into ``c['out']`` (written to a temporary folder, then renamed in)."""
    from ..cube import segment
    from ._train import set_threads

    set_threads(c["threads"])
    cube = np.asarray(plan["cube"])
    ctx.log.info("segmenting %s: %d x %d pixels x %d channels", c["cube"], *cube.shape)
    seg = segment(cube, n_clusters=c["n_clusters"] or None, k_range=tuple(c["k_range"]),
                  latent_dim=c["latent_dim"], hidden=tuple(c["hidden"]), conv=c["conv"], model=c["model"],
                  regularizer=c["regularizer"] or None, reg_weight=c["reg_weight"] if c["reg_weight"] >= 0 else None,
                  k_method=c["k_method"], n_pretrain=c["n_pretrain"],
                  n_cluster_epochs=c["n_cluster_epochs"], batch_size=c["batch_size"], lr=c["lr"],
                  recon_weight=c["recon_weight"], cluster_weight=c["cluster_weight"],
                  temperature=tuple(c["temperature"]), preprocess=c["preprocess"],
                  silhouette_sample_size=c["silhouette_sample_size"] or None, random_state=c["seed"])
    out, tmp = staging_dir(c["out"])
    arrays = {"labels": seg.labels, "mean_spectra": seg.mean_spectra, "centers": seg.centers,
              "latent": seg.latent}
    if plan["energies"] is not None:
        arrays["energies"] = plan["energies"]
    if seg.endmembers is not None:
        arrays["endmembers"] = seg.endmembers
    atomic_savez(os.path.join(tmp, "segmentation.npz"), **arrays)
    sizes = np.bincount(seg.labels[seg.labels >= 0].ravel(), minlength=seg.n_clusters).tolist()
    summary = {"cube": os.path.abspath(c["cube"]), "shape": list(cube.shape), "n_clusters": int(seg.n_clusters),
               "cluster_sizes": sizes, "masked_pixels": int((seg.labels < 0).sum()),
               "wall_time_s": float(seg.wall_time),
               "history": {k: [float(v) for v in vals] for k, vals in seg.history.items()}}
    if seg.selection is not None:
        summary["k_selection"] = {"k": [int(k) for k in seg.selection.table["k"]],
                                  c["k_method"]: [float(v) for v in seg.selection.table[c["k_method"]]]}
    with open(os.path.join(tmp, "segmentation.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    finish_dir(ctx, tmp, out, "segment", c)
    ctx.log.info("K = %d, cluster sizes %s; written to %s", seg.n_clusters, sizes, out)
    return seg, summary


def _check(ctx):
    return check_segment(ctx["segment"])


def _run(ctx, plan):
    seg, summary = run_segment(ctx, ctx["segment"], plan)
    if not ctx.quiet:
        print(f"{summary['shape'][0]} x {summary['shape'][1]} pixels in {seg.n_clusters} clusters "
              f"(sizes {summary['cluster_sizes']}): {os.path.abspath(ctx['segment']['out'])}")


COMMAND = Command(
    name="segment",
    help="segment a spectral data cube (e.g. MA-XRF) into a label map and mean spectra",
    description="Cluster the per-pixel spectra of an (H, W, C) cube with a spectral autoencoder "
                "and an annealed differentiable k-means in its latent space. Writes "
                "<out>/segmentation.npz (labels (H, W) with -1 on empty pixels, mean_spectra (K, C), "
                "centers, latent, energies if given), <out>/segmentation.json (summary, K selection, "
                "losses) and the run record; the directory is written under a temporary name and "
                "renamed into place.\n\n"
                "  scatclust segment painting.h5 --key counts --energies energies --out seg --n-clusters 6",
    params=PARAMS, run=_run, check=_check, positionals=[("cube", "data cube file")],
)
