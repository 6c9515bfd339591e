"""DEC on scikit-learn's digits (1797 8x8 images, shipped with scikit-learn): accuracy and NMI.

    OMP_NUM_THREADS=1 python bench/bench_dec.py    # 5 seeds (one torch thread: fastest for
                                                   # this small MLP on a loaded 2-core box)
    python bench/bench_dec.py --seeds 1    # one seed (smoke run)

Data: ``sklearn.datasets.load_digits``, pixels / 16 (range [0, 1]), as 64-vectors.
DEC: MLP autoencoder 64-256-256-512-10 (``--hidden 500,500,2000`` gives the network of Xie et
al. 2016: 4x the weights, too slow on a shared 2-core machine to finish here), pretrained by MSE with a 10 %
validation split and early stopping, k-means (our C++ KMeans, 20 inits) on the embedding,
then DEC (KL, target on the full data set every ``update_interval`` batches, tol 0.1 %).
Baseline: our KMeans (20 inits) on the raw pixels. Metrics against the true digits:
Hungarian-matched accuracy (scipy.optimize.linear_sum_assignment) and NMI
(sklearn.metrics.normalized_mutual_info_score); mean +- standard deviation over the seeds, and
the wall time of each fit.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, table  # noqa: E402


def cluster_accuracy(y_true, y_pred):
    """Best one-to-one matching of clusters to classes (Hungarian algorithm), as a fraction."""
    from scipy.optimize import linear_sum_assignment

    k = int(max(y_true.max(), y_pred.max())) + 1
    w = np.zeros((k, k), dtype=np.int64)
    np.add.at(w, (y_pred, y_true), 1)
    r, c = linear_sum_assignment(-w)
    return w[r, c].sum() / y_true.size


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--hidden", default="256,256,512")
    ap.add_argument("--pretrain-epochs", type=int, default=300)
    ap.add_argument("--max-iter", type=int, default=3000)
    ap.add_argument("--gamma", type=float, default=0.0)
    ap.add_argument("--update-interval", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--patience", type=int, default=20)
    args = ap.parse_args()

    from sklearn.datasets import load_digits
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from scatclust.cluster import DEC, KMeans

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    rows, res = [], {"k-means (raw pixels)": [], "DEC": []}
    for seed in range(args.seeds):
        t = time.perf_counter()
        km = KMeans(10, n_init=20, random_state=seed).fit(X)
        res["k-means (raw pixels)"].append((cluster_accuracy(y, km.labels_), nmi(y, km.labels_),
                                            time.perf_counter() - t))
        t = time.perf_counter()
        dec = DEC(10, architecture="mlp", hidden=hidden, latent_dim=10, pretrain_epochs=args.pretrain_epochs,
                  max_iter=args.max_iter, batch_size=args.batch_size, lr=args.lr,
                  update_interval=args.update_interval, tol=1e-3, gamma=args.gamma, n_init=20,
                  validation_fraction=0.1, patience=args.patience, random_state=seed).fit(X)
        wall = time.perf_counter() - t
        res["DEC"].append((cluster_accuracy(y, dec.labels_), nmi(y, dec.labels_), wall))
        z = dec.history_
        print(f"seed {seed}: k-means acc {res['k-means (raw pixels)'][-1][0]:.3f}  DEC acc "
              f"{res['DEC'][-1][0]:.3f} nmi {res['DEC'][-1][1]:.3f} ({wall:.1f} s, pretrain epochs "
              f"{z['pretrain_epochs']}, DEC iters {dec.n_iter_})", flush=True)
    for name, r in res.items():
        a = np.array(r)
        rows.append([name, f"{a[:, 0].mean():.3f} +- {a[:, 0].std():.3f}", f"{a[:, 1].mean():.3f} +- "
                     f"{a[:, 1].std():.3f}", f"{a[:, 2].mean():.2f} +- {a[:, 2].std():.2f}"])
    print()
    print(machine_description())
    print(f"digits (n=1797, d=64), {args.seeds} seeds; DEC MLP 64-{'-'.join(map(str, hidden))}-10, gamma "
          f"{args.gamma}, update_interval {args.update_interval}")
    print(table(rows, ["method", "accuracy", "NMI", "wall s / run"]))


if __name__ == "__main__":
    main()
