"""Tuning study (issue 7 A): can an unsupervised criterion pick the best of several DEC restarts?

    # fit: each SEED:R runs the 'conv' preset of bench_dec.py with random_state = SEED + 1000 R
    OMP_NUM_THREADS=1 PYTHONPATH=python python bench/tune_dec_restarts.py run out.jsonl 100:0 100:1 100:2 ...
    python bench/tune_dec_restarts.py analyse out.jsonl [more.jsonl ...]      # the table

Tuning seeds only (100-113 on 2026-12-07); never the bench's reported seeds 0-4. For every fit
it logs the Hungarian accuracy (used ONLY to score the criteria afterwards) and label-free
criteria: silhouette, Calinski-Harabasz, Davies-Bouldin and within/total sum of squares on the
clean embedding at the k-means start (prefix s_, start labels) and after DEC (f_, final labels),
the silhouette of the final labels on the start embedding (sf_sil), the k-means inertia of the
start, the last mean KL of the DEC phase and the full-data KL(P || Q) at the end, the best
validation reconstruction MSE of the pretraining, the mean largest soft-assignment probability,
and (from the saved labels, in 'analyse') the mean NMI / ARI of a restart's labels to the other
restarts of its seed (consensus). 'analyse' reports, per criterion, the mean accuracy of the
restart that the criterion picks among the M restarts of each seed against the mean accuracy
of a single run (all restarts), the number of seeds where the pick beats that mean, and the
Spearman correlation of criterion and accuracy (pooled, and within seed after removing each
seed's mean). Results: bench/RESULTS.md, DEC section (no criterion helped).
"""
from __future__ import annotations

import glob
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from bench_dec import PRESETS, cluster_accuracy, digits  # noqa: E402

# (key, +1 if larger is better, -1 if smaller is better)
CRITERIA = [("s_sil", 1), ("s_ch", 1), ("s_db", -1), ("s_wr", -1), ("f_sil", 1), ("f_ch", 1), ("f_db", -1),
            ("f_wr", -1), ("sf_sil", 1), ("inertia0", -1), ("kl_last", -1), ("klfull", -1), ("val", -1),
            ("qmax", 1), ("cons_nmi", 1), ("cons_ari", 1)]


def _scores(z, labels, prefix):
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    total = float(((z - z.mean(0)) ** 2).sum())
    within = sum(float(((z[labels == c] - z[labels == c].mean(0)) ** 2).sum()) for c in np.unique(labels))
    return {prefix + "sil": float(silhouette_score(z, labels)),
            prefix + "ch": float(calinski_harabasz_score(z, labels)),
            prefix + "db": float(davies_bouldin_score(z, labels)), prefix + "wr": within / total}


def run(out, jobs):
    import torch
    from sklearn.metrics import silhouette_score

    from scatclust.cluster import DEC
    from scatclust.cluster._student_t import target_distribution

    class Recording(DEC):
        """DEC that keeps the clean embedding and the k-means start (before the DEC phase)."""

        def _dec(self, X, gen, history):
            z0 = self._embed(X)
            d = ((z0[:, None, :] - self.cluster_centers_[None]) ** 2).sum(-1)
            self._start = dict(z0=z0, labels=d.argmin(1), inertia=float(d.min(1).sum()))
            return super()._dec(X, gen, history)

    torch.set_num_threads(1)
    X, y = digits("conv")
    for job in jobs:
        seed, r = map(int, job.split(":"))
        t = time.perf_counter()
        dec = Recording(10, random_state=seed + 1000 * r, **PRESETS["conv"]).fit(X)
        wall = time.perf_counter() - t
        st = dec._start
        q = dec.predict_proba(X)
        p = target_distribution(q)
        h = dec.history_
        res = dict(seed=seed, r=r, wall=wall, acc=cluster_accuracy(y, dec.labels_),
                   acc0=cluster_accuracy(y, st["labels"]), inertia0=st["inertia"], val=float(min(h["val_loss"])),
                   kl_last=float(h["kl_loss"][-1]) if h["kl_loss"] else float("nan"),
                   klfull=float((p * (np.log(p + 1e-12) - np.log(q + 1e-12))).sum(1).mean()),
                   qmax=float(q.max(1).mean()), n_iter=int(dec.n_iter_), pretrain_epochs=int(h["pretrain_epochs"]))
        res.update(_scores(st["z0"], st["labels"], "s_"))
        res.update(_scores(dec.transform(X), dec.labels_, "f_"))
        res["sf_sil"] = float(silhouette_score(st["z0"], dec.labels_))
        np.save(f"{os.path.splitext(out)[0]}_labels_{seed}_{r}.npy", dec.labels_)
        with open(out, "a") as f:
            f.write(json.dumps(res) + "\n")
        print(f"seed {seed} restart {r}: acc {res['acc']:.3f} ({wall:.0f} s)", flush=True)


def analyse(files, m=3):
    from scipy.stats import spearmanr
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    by = {}
    for path in files:
        for line in open(path):
            row = json.loads(line)
            row["labels"] = np.load(f"{os.path.splitext(path)[0]}_labels_{row['seed']}_{row['r']}.npy")
            by.setdefault(row["seed"], {})[row["r"]] = row
    seeds = sorted(s for s, v in by.items() if all(r in v for r in range(m)))
    for s in seeds:
        runs = [by[s][r] for r in range(m)]
        for i, row in enumerate(runs):
            others = [runs[j]["labels"] for j in range(m) if j != i]
            row["cons_nmi"] = float(np.mean([normalized_mutual_info_score(row["labels"], o) for o in others]))
            row["cons_ari"] = float(np.mean([adjusted_rand_score(row["labels"], o) for o in others]))
    acc = np.array([[by[s][r]["acc"] for r in range(m)] for s in seeds])
    print(f"seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}), {m} restarts each; single run (mean of all) "
          f"{acc.mean():.4f}; restart 0 only {acc[:, 0].mean():.4f}; oracle best-of-{m} {acc.max(1).mean():.4f}")
    print("| criterion | best-of-%d accuracy | gain vs single run | seeds where the pick beats the mean | "
          "Spearman pooled | Spearman within seed |\n|---|---|---|---|---|---|" % m)
    for key, sign in CRITERIA:
        c = np.array([[sign * by[s][r][key] for r in range(m)] for s in seeds])
        pick = acc[np.arange(len(seeds)), c.argmax(1)]
        wins = int((pick > acc.mean(1)).sum())
        pooled = spearmanr(c.ravel(), acc.ravel())[0]
        within = spearmanr((c - c.mean(1, keepdims=True)).ravel(), (acc - acc.mean(1, keepdims=True)).ravel())[0]
        print(f"| {key} | {pick.mean():.4f} | {pick.mean() - acc.mean():+.4f} | {wins}/{len(seeds)} | "
              f"{pooled:+.2f} | {within:+.2f} |")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("run", "analyse"):
        sys.exit(__doc__)
    if sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3:])
    else:
        analyse(sys.argv[2:])
