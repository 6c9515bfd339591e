"""Factorial VAE vs k-means on the Mars-like synthetic record: per-scale ARI / NMI.

    python bench/bench_fvae.py                 # synthetic_mars('small'): 2 h, ~1000 windows
    python bench/bench_fvae.py --preset day    # 24 h (longer)
    python bench/bench_fvae.py --epochs 200 --hidden 512 256
    python bench/bench_fvae.py --threads 1     # on a busy 2-core machine 1 thread is ~5x faster

Workload: ``scatclust.datasets.synthetic_mars`` (3 components, 20 Hz), features from
``ScatteringPyramid(J=7, scales=(256, 1024, 4096, 16384), hop=128, C=3, as_real=True)``
(the 2-hour record is too short for the InSight scales 1024..65536 with hop 1024: they
would give ~76 windows; the scales here keep the nesting ratio 4 and give ~1000 windows).

Ground truth per window and scale: the discrete source (wind, glitch, donk, quake) with the
most labelled samples in the window's sub-window [end - scale, end); 'background' when none
is active (background and the tone are always on and do not count).

Methods, on the same features: sign(x) log1p(|x|) of the pyramid's features (they span
orders of magnitude; ``--no-log`` keeps them raw), then each scale standardised per feature
by the training statistics:
- F-VAE: ``scatclust.models.FVAEClustering`` (K clusters per scale, all scales jointly).
- k-means: ``scatclust.cluster.KMeans`` (k-means++, 10 inits) on each scale separately.
Scores: adjusted Rand index and NMI (scikit-learn) per scale; wall time of each fit.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, table  # noqa: E402

import scatclust  # noqa: E402
from scatclust.cluster import KMeans  # noqa: E402
from scatclust.datasets import synthetic_mars  # noqa: E402
from scatclust.models import FVAEClustering  # noqa: E402

DISCRETE = ("wind", "glitch", "donk", "quake")


def window_truth(rec, window_end, scales):
    """(n_windows, n_scales) array of source names (see the module docstring)."""
    counts = {k: np.concatenate([[0], np.cumsum(rec.labels[k], dtype=np.int64)]) for k in DISCRETE}
    out = np.empty((len(window_end), len(scales)), dtype=object)
    for j, s in enumerate(scales):
        start = window_end - s
        active = np.stack([counts[k][window_end] - counts[k][start] for k in DISCRETE], 1)
        lab = np.array(DISCRETE, dtype=object)[active.argmax(1)]
        lab[active.max(1) == 0] = "background"
        out[:, j] = lab
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--J", type=int, default=7)
    ap.add_argument("--clusters", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    ap.add_argument("--latent", type=int, default=16)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--log", action=argparse.BooleanOptionalAction, default=True,
                    help="features -> sign(x) log1p(|x|) before fitting (default on)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    import torch
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    if args.threads:
        torch.set_num_threads(args.threads)
    scales = (256, 1024, 4096, 16384)
    t0 = time.perf_counter()
    rec = synthetic_mars(args.preset, seed=args.seed)
    pyr = scatclust.ScatteringPyramid(J=args.J, scales=scales, hop=128, C=3, as_real=True)
    feats = pyr.transform(rec.mixture)
    X = np.asarray(feats.features, dtype=np.float64)
    if args.log:
        X = np.sign(X) * np.log1p(np.abs(X))
    t_feat = time.perf_counter() - t0
    truth = window_truth(rec, np.asarray(feats.window_end), scales)
    print(machine_description())
    print(f"record: {args.preset} ({rec.mixture.shape[1]} samples x 3), features {X.shape} in {t_feat:.1f} s")
    for j, s in enumerate(scales):
        names, cnt = np.unique(truth[:, j], return_counts=True)
        print(f"  truth at scale {s}: " + ", ".join(f"{n} {c}" for n, c in zip(names, cnt)))

    t0 = time.perf_counter()
    est = FVAEClustering(args.clusters, latent_dim=args.latent, hidden=tuple(args.hidden),
                                          epochs=args.epochs, batch_size=args.batch, lr=args.lr,
                                          device=args.device, random_state=args.seed).fit(X)
    t_fvae = time.perf_counter() - t0
    t0 = time.perf_counter()
    Xn = (X - est.mean_) / est.std_
    km = [KMeans(args.clusters, n_init=10, random_state=args.seed).fit(np.ascontiguousarray(Xn[:, j])).labels_
          for j in range(len(scales))]
    t_km = time.perf_counter() - t0

    rows = []
    for j, s in enumerate(scales):
        t = truth[:, j]
        rows.append([f"{s} ({s / rec.fs:.0f} s)",
                     f"{adjusted_rand_score(t, est.labels_[:, j]):.3f}",
                     f"{normalized_mutual_info_score(t, est.labels_[:, j]):.3f}",
                     f"{adjusted_rand_score(t, km[j]):.3f}", f"{normalized_mutual_info_score(t, km[j]):.3f}"])
    print(table(rows, ["scale (samples)", "F-VAE ARI", "F-VAE NMI", "k-means ARI", "k-means NMI"]))
    print(f"wall time: features {t_feat:.1f} s, F-VAE fit {t_fvae:.1f} s ({args.epochs} epochs, "
          f"{sum(p.numel() for p in est.model_.parameters())} parameters), k-means (4 scales x 10 inits) "
          f"{t_km:.1f} s")
    print("F-VAE contingency, smallest vs largest scale:\n", est.contingency(0, len(scales) - 1))


if __name__ == "__main__":
    main()
