"""Cube segmentation on the synthetic MA-XRF cube (issue 7 B): ARI and wall times.

Compares :func:`scatclust.cube.segment` (Anscombe and the published log-max preprocessing)
with k-means on the raw spectra and on their first 8 principal components (raw and
Anscombe-transformed), K = 5 given, scatclust KMeans with 10 restarts.

Usage: ``OMP_NUM_THREADS=2 PYTHONPATH=python python bench/bench_segment.py [--seeds 3]``
"""
import argparse
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from scatclust.cluster import KMeans
from scatclust.cube import segment
from scatclust.datasets import synthetic_xrf

CONFIGS = [dict(blur=0.5, counts=30.0), dict(blur=0.0, counts=15.0), dict(blur=0.5, counts=100.0), dict(blur=0.0, counts=500.0),
           dict(blur=1.0, counts=500.0)]


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    print("| cube (48x48, 256 ch, seed 0) | method | ARI (mean ± sd over seeds) | wall s |")
    print("|---|---|---|---|")
    for cfg in CONFIGS:
        d = synthetic_xrf(shape=(48, 48), n_channels=256, random_state=0, **cfg)
        y = d.labels.ravel()
        x = d.cube.reshape(-1, d.cube.shape[-1]).astype(np.float64)
        ans = 2.0 * np.sqrt(x + 0.375)
        name = f"blur={cfg['blur']}, counts={cfg['counts']:g}"
        rows = []
        for label, feats in (("k-means raw", x), ("k-means Anscombe", ans)):
            for pca in (False, True):
                def run(s, feats=feats, pca=pca):
                    f = PCA(8, random_state=s).fit_transform(feats) if pca else feats
                    return KMeans(5, n_init=10, random_state=s).fit(f).labels_
                res = [timed(lambda s=s: run(s)) for s in range(args.seeds)]
                rows.append(("PCA(8) + " + label if pca else label, res))
        for prep in ("anscombe", "log-max"):
            res = [timed(lambda s=s: segment(d.cube, n_clusters=5, preprocess=prep, random_state=s).labels.ravel())
                   for s in range(args.seeds)]
            rows.append((f"segment ({prep})", res))
        for label, res in rows:
            a = np.array([adjusted_rand_score(y, lab) for lab, _ in res])
            t = np.mean([w for _, w in res])
            print(f"| {name} | {label} | {a.mean():.3f} ± {a.std():.3f} | {t:.2f} |", flush=True)


if __name__ == "__main__":
    main()
