"""Supervised ceiling of wind and quake detection at scales 16384 and 4096 for several feature sets.

    OMP_NUM_THREADS=1 PYTHONPATH=python python bench/wind_quake_ceiling.py              # tuning records 10-15
    OMP_NUM_THREADS=1 PYTHONPATH=python python bench/wind_quake_ceiling.py --model hgb --configs cur spec cur+env
    OMP_NUM_THREADS=1 PYTHONPATH=python python bench/wind_quake_ceiling.py --errors cur   # which windows are missed
    OMP_NUM_THREADS=1 PYTHONPATH=python python bench/wind_quake_ceiling.py --model kmeans \
        --configs raw+eps+loc*10 raw+eps raw+eps+envq*10 spec            # unsupervised proxy

Results: bench/RESULTS.md, section "Factorial VAE: wind / quake ceiling at the large scales".

Why: a clustering of a feature set cannot separate a class better than a classifier trained with
the labels on the same features (up to the classifier family). For the Mars-like record
(``scatclust.datasets.synthetic_mars('small', seed)``) this script measures, per feature set, the
wind and quake ARI at scale 16384 (their matching scale) and 4096 of a supervised classifier,
scored as ``bench/bench_fvae.py`` scores a clustering: the ARI of "truth is k" vs "predicted k"
over all windows (truth of ``scatclust.datasets.window_truth``).

Protocol (as ``bench/donk_ceiling.py``): leave one record out over the tuning records (default
10-15; the bench's reported seeds 0-2 are refused); features standardised per record; a logistic
regression (L2, ``C`` in 0.01 / 0.1 / 1, unweighted) or gradient-boosted trees (``--model hgb``)
trained on the other records' windows, thresholded at 0.5, scored on the held-out record
(records without the class are left out of the mean, as the bench leaves them out).

Feature sets at the scored scale (pyramid J = 7, hop 128, as the bench):

- raw, eps: ``ScatteringPyramid`` with ``normalize=None`` / ``'each_ps'``, sign(x) log1p|x|
- loc: ``bench/_local_features.py`` (the bench's ``--local`` block)
- cur: raw + eps + loc, the bench's features of ``--normalize none+each_ps --local``
- spec: DEC's input, ``bench_fvae.window_spectrograms`` flattened (32 bands x 30 frames)
- envq, envq8, envq32: ``bench/_envelope_features.py``, ``envelope_quantiles`` (the bench's
  ``--envelope`` block) with 16 / 8 / 32 sub-blocks
- env, env8, env32: ``envelope_summaries`` (the first idea) with 16 / 8 / 32 sub-blocks
- envA: env without the peak time, the post-peak fall and the octave correlations (max, min,
  std, slope per octave only); envB: env without the octave correlations
- prof: the raw sub-block log-power profile r_i (16 sub-blocks x 8 octaves, not shift-invariant;
  what a spectrogram-like input adds beyond summaries)
- '+' joins sets
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _envelope_features import block_power, envelope_quantiles, envelope_summaries  # noqa: E402
from _harness import machine_description  # noqa: E402
from _local_features import local_polarization  # noqa: E402
from bench_fvae import window_spectrograms  # noqa: E402

import scatclust  # noqa: E402
from scatclust.datasets import synthetic_mars, window_truth  # noqa: E402

SCALES = (256, 1024, 4096, 16384)
J = 7
DEFAULT_CONFIGS = ["raw", "eps", "loc", "cur", "spec", "env", "envA", "envB", "env8", "env32", "prof",
                   "envq", "envq8", "envq32", "cur+env", "cur+envq", "cur+spec"]


def signed_log(X):
    return np.sign(X) * np.log1p(np.abs(X))


def record_features(seed, scored, cache):
    """dict scale -> dict name -> (n_windows, n_features), truth (n_windows, n_scales), extras."""
    path = os.path.join(cache, f"wq_{seed}.npz") if cache else None
    if path and os.path.exists(path):
        z = np.load(path, allow_pickle=True)
        return z["feats"].item(), z["truth"], z["extra"].item()
    rec = synthetic_mars("small", seed=seed)
    x = rec.mixture
    feats = {s: {} for s in scored}
    for name, norm in (("raw", None), ("eps", "each_ps")):
        out = scatclust.ScatteringPyramid(J=J, scales=SCALES, hop=128, C=3, as_real=True,
                                          normalize=norm).transform(x)
        for s in scored:
            feats[s][name] = signed_log(np.asarray(out.features[:, SCALES.index(s)], dtype=np.float64))
    end = np.asarray(out.window_end)
    loc = local_polarization(x, end, SCALES, J=J)
    p = block_power(x, J, 16)
    cs = np.concatenate([np.zeros((1, J + 1)), np.cumsum(p, 0)])
    for s in scored:
        si = SCALES.index(s)
        feats[s]["loc"] = loc[:, si]
        feats[s]["spec"] = window_spectrograms(x, end, s).reshape(end.size, -1).astype(np.float64)
        for n_sub, name in ((16, "env"), (8, "env8"), (32, "env32")):
            feats[s][name] = envelope_summaries(x, end, (s,), J=J, n_sub=n_sub)[:, 0]
            feats[s]["envq" + name[3:]] = envelope_quantiles(x, end, (s,), J=J, n_sub=n_sub)[:, 0]
        m = s // 16 // 16
        b = (end // 16 - s // 16)[:, None] + m * np.arange(17)[None]
        Pi = (cs[b[:, 1:]] - cs[b[:, :-1]]) / m
        feats[s]["prof"] = np.log(Pi / Pi.mean(1, keepdims=True)).reshape(end.size, -1)
    truth = window_truth(rec.labels, end, SCALES, rec.fs)
    # coverage of each source in each window (for the error inspection)
    extra = {"end": end}
    for k in ("wind", "quake"):
        c = np.concatenate([[0], np.cumsum(rec.labels[k])])
        for s in scored:
            extra[f"cov_{k}_{s}"] = (c[end] - c[end - s]) / s
    if path:
        np.savez(path, feats=np.array(feats, dtype=object), truth=truth, extra=np.array(extra, dtype=object))
    return feats, truth, extra


def select(f, cfg):
    parts = []
    for term in cfg.split("+"):
        c, _, rep = term.partition("*")  # 'name*R': the block's columns repeated R times (k-means weight)
        n0 = len(parts)
        if c == "envA":
            parts.append(f["env"][:, :6 * (J + 1)].reshape(-1, J + 1, 6)[:, :, :4].reshape(len(f["env"]), -1))
        elif c == "envB":
            parts.append(f["env"][:, :6 * (J + 1)])
        elif c == "cur":
            parts += [f["raw"], f["eps"], f["loc"]]
        else:
            parts.append(f[c])
        parts += parts[n0:] * (int(rep or 1) - 1)
    return np.concatenate(parts, 1)


def standardise(X):
    return (X - X.mean(0)) / (X.std(0) + 1e-12)


def readout_ari(truth, labels, k):
    """ARI of "truth is k" vs "cluster's majority class is k" (the bench's many-to-one read-out)."""
    from sklearn.metrics import adjusted_rand_score

    mapped = np.empty(truth.shape, dtype=object)
    for cl in np.unique(labels):
        v, n = np.unique(truth[labels == cl], return_counts=True)
        mapped[labels == cl] = v[n.argmax()]
    return adjusted_rand_score(truth == k, mapped == k)


def fit_predict(model, C, Xtr, ytr, Xte):
    if model == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=200, random_state=0).fit(Xtr, ytr).predict(Xte)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=3000).fit(Xtr, ytr).predict(Xte)


def main():
    from sklearn.metrics import adjusted_rand_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12, 13, 14, 15])
    ap.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS)
    ap.add_argument("--scales", type=int, nargs="+", default=[16384, 4096])
    ap.add_argument("--sources", nargs="+", default=["wind", "quake"])
    ap.add_argument("--C", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    ap.add_argument("--model", default="logistic", choices=["logistic", "hgb", "kmeans"],
                    help="'kmeans': no labels, scatclust KMeans (K = 12, 10 inits, random_state = record seed) on "
                         "each record's features at the scale alone, scored by the bench's many-to-one read-out "
                         "(a proxy of the bench's k-means column; 'name*R' in --configs repeats a block R times)")
    ap.add_argument("--cache", default="", help="folder for per-record feature caches (npz); '' = none")
    ap.add_argument("--errors", default="", help="feature set whose misclassified windows are described "
                                                 "(logistic, C = 0.1, scale 16384)")
    args = ap.parse_args()
    if any(s in (0, 1, 2) for s in args.seeds):
        raise SystemExit("seeds 0-2 are the bench's reported records; measure on tuning records only")
    if not set(args.scales) <= {4096, 16384}:
        raise SystemExit(f"--scales {args.scales}: only 4096 and 16384 are supported")
    warnings.filterwarnings("ignore")
    print(machine_description())
    data = {}
    for s in args.seeds:
        t0 = time.perf_counter()
        data[s] = record_features(s, (4096, 16384), args.cache)
        tr = data[s][1]
        print(f"record {s}: features in {time.perf_counter() - t0:.1f} s; windows {len(tr)}; at 16384: "
              + ", ".join(f"{k} {int((tr[:, 3] == k).sum())}" for k in ("wind", "quake", "background"))
              + "; at 4096: " + ", ".join(f"{k} {int((tr[:, 2] == k).sum())}" for k in ("wind", "quake")),
              flush=True)
    if args.model == "kmeans":
        from scatclust.cluster import KMeans

        print("\nk-means (K = 12) per record at one scale, many-to-one read-out ARI; per record (records with the "
              "source) and mean")
        print("| scale | features | n | wind | mean | quake | mean |")
        print("|---|---|---|---|---|---|---|")
        for sc in args.scales:
            si = SCALES.index(sc)
            for cfg in args.configs:
                res = {k: [] for k in args.sources}
                for s in args.seeds:
                    X = standardise(select(data[s][0][sc], cfg))
                    lab = KMeans(12, n_init=10, random_state=s).fit(np.ascontiguousarray(X)).labels_
                    for k in res:
                        if (data[s][1][:, si] == k).any():
                            res[k].append(readout_ari(data[s][1][:, si], lab, k))
                print(f"| {sc} | {cfg} | {X.shape[1]} | " + " | ".join(
                    " / ".join(f"{v:.2f}" for v in res[k]) + f" | {np.mean(res[k]):.2f}" for k in args.sources)
                    + " |", flush=True)
        return
    Cs = [None] if args.model == "hgb" else args.C
    for sc in args.scales:
        si = SCALES.index(sc)
        for src in args.sources:
            present = [s for s in args.seeds if (data[s][1][:, si] == src).any()]
            print(f"\n{src} at scale {sc}: leave-one-record-out {args.model}, ARI per held-out record "
                  f"({' / '.join(map(str, present))}; records without {src} skipped), mean")
            print("| features | n | C | per record | mean |")
            print("|---|---|---|---|---|")
            for cfg in args.configs:
                feats = {s: standardise(select(data[s][0][sc], cfg)) for s in args.seeds}
                for C in Cs:
                    a = []
                    for s in present:
                        Xtr = np.concatenate([feats[t] for t in args.seeds if t != s])
                        ytr = np.concatenate([data[t][1][:, si] == src for t in args.seeds if t != s])
                        pred = fit_predict(args.model, C, Xtr, ytr, feats[s])
                        a.append(adjusted_rand_score(data[s][1][:, si] == src, pred))
                    print(f"| {cfg} | {feats[args.seeds[0]].shape[1]} | {C if C else '-'} | "
                          + " / ".join(f"{v:.2f}" for v in a) + f" | {np.mean(a):.2f} |", flush=True)
    if args.errors:
        si = SCALES.index(16384)
        feats = {s: standardise(select(data[s][0][16384], args.errors)) for s in args.seeds}
        print(f"\nerrors of the logistic model (C = 0.1) on {args.errors!r} at 16384, per held-out record:")
        for src in args.sources:
            for s in args.seeds:
                Xtr = np.concatenate([feats[t] for t in args.seeds if t != s])
                ytr = np.concatenate([data[t][1][:, si] == src for t in args.seeds if t != s])
                pred = fit_predict("logistic", 0.1, Xtr, ytr, feats[s])
                y = data[s][1][:, si]
                cov = data[s][2][f"cov_{src}_16384"]
                fn, fp = (y == src) & ~pred, (y != src) & pred
                cls, cnt = np.unique(y[fp], return_counts=True)
                print(f"  {src}, record {s}: {int((y == src).sum())} true; missed {int(fn.sum())} (their {src} "
                      f"coverage of the window: {np.round(np.sort(cov[fn]), 2).tolist()[:12]}); false alarms "
                      f"{int(fp.sum())} (truth " + ", ".join(f"{c} {n}" for c, n in zip(cls, cnt))
                      + f"; their {src} coverage {np.round(np.sort(cov[fp]), 2).tolist()[:12]})")


if __name__ == "__main__":
    main()
