"""Tuning study (issue 7 A): keep DEC's spectral start partition through the DEC phase.

    OMP_NUM_THREADS=1 PYTHONPATH=python python bench/tune_dec_hold.py run out.jsonl \\
        --cache /tmp/decspec/cache --seeds 100-126 --var hold1 hold2 mix50
    python bench/tune_dec_hold.py table out.jsonl

Every variant is bench_dec.py's preset 'conv-spectral' (spectral start on 5 cosine neighbours,
first target = one-hot start partition) with a different target distribution in the DEC phase,
set by the subclass below (target update u = 0, 1, 2, ... every ``update_interval`` batches):

- 'holdH': the one-hot start partition S is the target of the first H updates, DEC's P after
  ('hold1' = 'conv-spectral' itself; 'holdall' = every update).
- 'mixL': the target is (1 - l) P + l S at every update after the first, l = L / 100.
- 'annK': l = max(0, 1 - u / K) (S at u = 0, linearly to P at u = K).

Tuning seeds only (100-126), from the pretrained 'conv' networks cached by
bench/tune_dec_pretrain.py ``--cache`` (weights + generator state: every variant of a seed starts
from the same network and batch order). Logged per fit: accuracy / NMI of the final labels, (a)
the start partition's accuracy, (b) that of the nearest starting centre, and the accuracy of the
labels at each target update. Labels are only used to score. Results: bench/RESULTS.md, DEC
section "holding the start partition".
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from bench_dec import PRESETS, cluster_accuracy, digits  # noqa: E402
from tune_dec_pretrain import _seeds  # noqa: E402


def _variant(name):
    """(hold, mix, anneal) of a variant name."""
    if name.startswith("hold"):
        h = name[4:]
        return (10 ** 9 if h == "all" else int(h)), 0.0, 0
    if name.startswith("mix"):
        return 1, int(name[3:]) / 100, 0
    if name.startswith("ann"):
        return 1, 0.0, int(name[3:])
    raise ValueError(name)


def run(args):
    import torch
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from scatclust.cluster import DEC
    from scatclust.cluster._student_t import target_distribution

    torch.set_num_threads(1)
    X, y = digits("conv")

    class Held(DEC):
        hold, mix, anneal, path = 1, 0.0, 0, None

        def _pretrain(self, X, gen, history):
            c = torch.load(self.path, weights_only=False)
            self.model_.load_state_dict(c["state"])
            gen.set_state(c["gen"])
            history.update({k: list(v) if isinstance(v, list) else v for k, v in c["history"].items()})

        def _target(self, q_full, it):
            u = it // self.update_interval
            self.trace.append(cluster_accuracy(y, q_full.argmax(1)))
            if u == 0:
                self.b_acc = self.trace[0]
            s = np.zeros_like(q_full)
            s[np.arange(len(s)), self.start_labels_] = 1.0
            if u < self.hold:
                return s
            lam = self.mix if not self.anneal else max(0.0, 1.0 - u / self.anneal)
            p = target_distribution(q_full)
            return ((1.0 - lam) * p + lam * s).astype(q_full.dtype)

    done = set()
    if os.path.exists(args.out):
        done = {(r["seed"], r["var"]) for r in map(json.loads, open(args.out))}
    for seed in _seeds(args.seeds):
        for var in args.var:
            if (seed, var) in done:
                continue
            est = Held(10, random_state=seed, **PRESETS["conv-spectral"])
            est.hold, est.mix, est.anneal = _variant(var)
            est.path = os.path.join(args.cache, f"{seed}-conv.pt")
            est.trace = []
            t = time.perf_counter()
            est.fit(X)
            rec = dict(seed=seed, var=var, acc=cluster_accuracy(y, est.labels_), nmi=float(nmi(y, est.labels_)),
                       a=cluster_accuracy(y, est.start_labels_), b=est.b_acc, trace=est.trace,
                       n_iter=int(est.n_iter_), wall=time.perf_counter() - t, load=os.getloadavg()[0])
            print(json.dumps(rec), flush=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(rec) + "\n")


def table(paths, base="hold1"):
    from scipy.stats import wilcoxon

    recs = {(r["seed"], r["var"]): r for p in paths for r in map(json.loads, open(p))}
    bvals = {s: r for (s, v), r in recs.items() if v == base}
    variants = sorted({v for _, v in recs})
    print(f"| variant | seeds | accuracy mean +- std (min) | {base} on the same seeds | paired gain +- s.e. | "
          "better / worse | Wilcoxon p | NMI | (a) / (b) | DEC batches |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for v in variants:
        rs = sorted((r for (s, vv), r in recs.items() if vv == v), key=lambda r: r["seed"])
        a = np.array([r["acc"] for r in rs])
        pb = np.array([bvals[r["seed"]]["acc"] for r in rs if r["seed"] in bvals])
        pa = np.array([r["acc"] for r in rs if r["seed"] in bvals])
        d = pa - pb
        p = wilcoxon(pa, pb).pvalue if v != base and np.any(d != 0) else float("nan")
        print(f"| {v} | {len(rs)} | {a.mean():.3f} +- {a.std():.3f} ({a.min():.3f}) | {pb.mean():.3f} | "
              f"{d.mean():+.4f} +- {d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0:.4f} | "
              f"{np.sum(d > 1e-9)}/{np.sum(d < -1e-9)} | {p:.3g} | {np.mean([r['nmi'] for r in rs]):.3f} | "
              f"{np.mean([r['a'] for r in rs]):.3f} / {np.mean([r['b'] for r in rs]):.3f} | "
              f"{np.mean([r['n_iter'] for r in rs]):.0f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("out")
    r.add_argument("--cache", required=True, help="folder of <seed>-conv.pt (tune_dec_pretrain.py --cache)")
    r.add_argument("--var", nargs="+", default=["hold1"])
    r.add_argument("--seeds", nargs="+", default=["100-126"])
    t = sub.add_parser("table")
    t.add_argument("paths", nargs="+")
    t.add_argument("--base", default="hold1")
    args = ap.parse_args()
    if args.cmd == "run":
        if any(s < 10 for s in _seeds(args.seeds)):
            raise SystemExit("seeds < 10 include the bench's reported seeds 0-4; tune on 100-126")
        for v in args.var:
            _variant(v)
        run(args)
    else:
        table(args.paths, args.base)


if __name__ == "__main__":
    main()
