"""Factorial VAE vs k-means (same features) and DEC (spectrograms) on the Mars-like record.

    python bench/bench_fvae.py --threads 1                  # synthetic_mars('small'), seeds 0 1 2
    python bench/bench_fvae.py --threads 1 --seeds 0        # one record
    python bench/bench_fvae.py --threads 1 --no-dec         # F-VAE and k-means only (fast)
    python bench/bench_fvae.py --threads 1 --init random --pretrain-epochs 0   # random prior start
    python bench/bench_fvae.py --preset day --hop 256       # full size: 24 h (6687 windows; ~10 min per record)
    python bench/bench_fvae.py --threads 1 --normalize none+each_ps --clusters 12   # amplitude + shape features
    python bench/bench_fvae.py --threads 1 --normalize none+each_ps --clusters 12 --local --local-repeat 10
                                                            # + time-localised polarisation (donks)
    python bench/bench_fvae.py --threads 1 --no-dec --normalize none+each_ps --clusters 12 --local \
        --local-weight 10 --obs-var fixed --mixture-readout   # exact weights, unit obs. variance, + VaDE read-out
    python bench/bench_fvae.py --threads 1 --normalize none+each_ps --clusters 12 --local --local-repeat 10 \
        --envelope --envelope-repeat 10                     # + time-envelope features (wind, quakes)

(on a busy 2-core machine ``--threads 1`` is several times faster than torch's default.)

Workload
    ``scatclust.datasets.synthetic_mars(preset, seed)`` (3 components, 20 Hz; 'small' = 2 h).
    Features: ``ScatteringPyramid(J=7, scales=(256, 1024, 4096, 16384), hop=128, C=3,
    as_real=True)``: 636 moments per scale and window, ~1000 windows for 2 h. (The 2-hour
    record is too short for the InSight scales 1024..65536 with hop 1024, ~76 windows; these
    scales keep the nesting ratio 4 and match the sources' durations, see below.)

Ground truth (:mod:`scatclust.datasets._window_truth`, which documents the choices)
    Matching scale of each source = the scale nearest its typical duration on a log axis:
    donk (1.1 s) -> 256 samples (12.8 s), glitch (62 s) -> 1024 (51 s), quake (~13 min) and
    wind (~19 min) -> 16384 (13.7 min); nothing matches 4096.
    Truth at scale s: the discrete source with the most labelled samples in the window's
    sub-window [end - s, end) among those that count there (a source counts when it covers
    at least half of min(s, its duration) and s <= 16 x its duration); 'background' when
    none does. All resolvable sources remain classes at every scale (at 256, windows inside
    a wind burst or a quake are 'wind'/'quake', not 'background').
    Scores: per scale, adjusted Rand index (ARI) and NMI of the clusters vs that truth; per
    source, at its matching scale, the ARI of "truth is k" vs "cluster's majority class is
    k" (many-to-one read-out; every method uses the same number of clusters K per scale).
    The issue's target: F-VAE ARI >= 0.8 for every source at its matching scale, and better
    than both baselines.

Methods
    Features for the F-VAE and k-means: sign(x) log1p(|x|) of the pyramid's moments (they span
    orders of magnitude), standardised per (scale, feature) with the training statistics.
    ``--normalize`` picks the pyramid's moment normalisation: 'none' (default: raw moments,
    dominated by the window's energy), 'each_ps' (every moment divided by the window's own
    power spectrum, the scattering-spectra normalisation: amplitude-invariant shape, the power
    spectrum itself kept raw), 'correlation', or 'none+each_ps' (both blocks side by side,
    2 x 636 features per scale). ``--local`` appends 64 time-localised polarisation features per
    scale (``bench/_local_features.py``: per octave, the peak polarised and total power of 1.6 s
    and 3.2 s sub-blocks of the window relative to its mean power, and the polarisation
    degree; rotation-invariant functions of the cross-channel power moments pooled over 16-sample
    blocks; ``bench/donk_ceiling.py`` measured what they add), and ``--local-repeat R`` repeats
    those columns R times (R = 10 weighs them about like one 636-feature block);
    ``--local-max-scale S`` sets them to 0 at scales above S. ``--local-weight W`` is the exact form of
    the repetition: the 64 columns once, weighted W in the F-VAE's reconstruction NLL
    (``FVAEClustering(feature_weights=...)``) and multiplied by sqrt(W) after standardisation for
    k-means (whose squared distance then weighs them W times). ``--envelope``
    appends 128 time-envelope features per scale (``bench/_envelope_features.py``,
    ``envelope_quantiles``: per octave, the log channel-summed first-layer power of the window's
    16 (``--envelope-sub``) sub-blocks relative to the window's mean power, sorted: the quantiles
    of the window's power envelope, which say which share of the window is loud and by how much;
    rotation- and time-shift-invariant; ``bench/wind_quake_ceiling.py`` measured what they add for
    wind and quakes); they are set to 0 (constant, so ignored after the standardisation) at
    scales below ``--envelope-min-scale``, and ``--envelope-repeat R`` repeats the columns R times
    as ``--local-repeat`` does (``--envelope-weight W``: the exact form, as ``--local-weight``).
    The same features and K go to the F-VAE and to k-means.
    - F-VAE: ``scatclust.models.FVAEClustering`` on all scales jointly (K per scale,
      ``--n-init`` restarts, the highest-ELBO one kept: an unsupervised choice; with more than
      one, a table gives every restart's ELBO and per-source ARI). By default
      the mixture prior is initialised from data (``init='kmeans'``, VaDE's recipe): 30 of the
      100 epochs train the per-scale VAEs with the cluster part off and KL weight 0.01, then
      k-means on the latent means sets the prior and the y heads. ``--init random
      --pretrain-epochs 0`` gives the earlier random start. ``--init kmeans-input`` takes the
      start partition from k-means on the (weighted) input features instead of the latent
      means; ``--start-weight W`` anchors the mixture phase to that start partition
      (``FVAEClustering(start_weight=W)``). ``--obs-var`` picks the decoder's observation variance
      (``FVAEClustering(obs_var=...)``: 'learned' per feature, the default; 'scale'; 'fixed' at
      1, the squared error). ``--mixture-readout`` adds a column "F-VAE mix":
      the same fit read out by the mixture prior's responsibilities p(y|E[z]) (VaDE) instead of
      the y head q(y|x).
    - k-means: ``scatclust.cluster.KMeans`` (k-means++, 10 inits) on each scale's features.
    - DEC: ``scatclust.cluster.DEC`` (conv autoencoder, the zClust/RISCluster method) on each
      scale separately, on log-power spectrograms of the window's sub-window: STFT of the 3
      components (Hann, nperseg 2g, hop g = s/32, ``scatclust.stft``), power summed over the
      components, frequency bins 1..g pooled into at most 32 log-spaced bands, the last 30
      frames of the sub-window, log10, standardised: 8 x 30 images at s = 256, 32 x 30 above.
    Seeds: the record seed is also each method's ``random_state``. The F-VAE settings were
    tuned on record seeds 10-12 only, the features and K of ``--normalize none+each_ps
    --clusters 12`` and of ``--local --local-repeat 10`` on seeds 10-15 (``bench/donk_ceiling.py``
    for the local features), ``--local-max-scale`` and ``--envelope`` on seeds 10-15
    (``bench/wind_quake_ceiling.py``; bench/RESULTS.md); the reported seeds (0-2) were not used
    for tuning.
Wall times: features, each fit (F-VAE: all scales and restarts; k-means and DEC: sum over
scales), on the machine printed at the top.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, table  # noqa: E402
from _envelope_features import envelope_quantiles  # noqa: E402
from _local_features import local_polarization  # noqa: E402

import scatclust  # noqa: E402
from scatclust.cluster import KMeans  # noqa: E402
from scatclust.datasets import matching_scales, source_scores, synthetic_mars, window_truth  # noqa: E402
from scatclust.models import FVAEClustering  # noqa: E402

SCALES = (256, 1024, 4096, 16384)


def signed_log(X):
    """sign(x) log(1 + |x|): compresses the moments' orders of magnitude, keeps their sign."""
    return np.sign(X) * np.log1p(np.abs(X))


def window_spectrograms(x, window_end, scale, n_frames=30, n_bands=32):
    """Standardised log-power spectrograms (n_windows, bands, n_frames) float32 of the
    sub-windows [end - scale, end) of a (C, L) record (see the module docstring)."""
    g = scale // 32
    P = scatclust.stft(np.ascontiguousarray(x, dtype=np.float32), nperseg=2 * g, hop=g, center=False,
                       output="power").sum(0)[1:g + 1]  # (g, frames): frame p covers [p g, p g + 2 g)
    if g > n_bands:  # pool bins into log-spaced bands (each band gets >= 1 bin)
        edges = np.unique(np.round(np.geomspace(1, g + 1, n_bands + 1)).astype(int)) - 1
        edges = np.unique(np.concatenate([edges[:-1], [g]]))
        P = np.add.reduceat(P, edges[:-1], axis=0) / np.diff(edges)[:, None]
    last = np.asarray(window_end) // g - 2  # last frame ending at or before each window's end
    idx = last[:, None] - np.arange(n_frames - 1, -1, -1)[None, :]
    S = np.log10(P[:, idx] + 1e-12).transpose(1, 0, 2)  # (n_windows, bands, n_frames)
    return ((S - S.mean()) / S.std()).astype(np.float32)


def run_seed(args, seed, out):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    t0 = time.perf_counter()
    rec = synthetic_mars(args.preset, seed=seed)
    blocks = []
    for norm in args.normalize.split("+"):  # one pyramid per normalisation, columns concatenated
        pyr = scatclust.ScatteringPyramid(J=args.J, scales=SCALES, hop=args.hop, C=3, as_real=True,
                                          normalize=None if norm == "none" else norm)
        feats = pyr.transform(rec.mixture)
        blocks.append(signed_log(np.asarray(feats.features, dtype=np.float64)))
    if args.local:  # time-localised polarisation features (bench/_local_features.py), already logs / ratios
        loc = local_polarization(rec.mixture, np.asarray(feats.window_end), SCALES, J=args.J)
        if args.local_max_scale:  # constant (zero) local columns above it: ignored after the standardisation
            loc[:, [s > args.local_max_scale for s in SCALES]] = 0.0
        n_main = sum(b.shape[2] for b in blocks)
        blocks += [loc] * args.local_repeat  # repeated columns: weight of the block in k-means' distance
        # and (approximately) in the F-VAE's reconstruction loss
    if args.envelope:  # envelope quantiles (bench/_envelope_features.py), zero below --envelope-min-scale
        env = envelope_quantiles(rec.mixture, np.asarray(feats.window_end), SCALES, J=args.J,
                                 n_sub=args.envelope_sub)
        env[:, [s < args.envelope_min_scale for s in SCALES]] = 0.0
        n_before_env = sum(b.shape[2] for b in blocks)
        blocks += [env] * args.envelope_repeat
    X = np.concatenate(blocks, axis=2)
    t_feat = time.perf_counter() - t0
    truth = window_truth(rec.labels, np.asarray(feats.window_end), SCALES, rec.fs)
    print(f"\n=== {args.preset}, seed {seed}: {rec.mixture.shape[1]} samples x 3, features {X.shape} "
          f"in {t_feat:.1f} s")
    for j, s in enumerate(SCALES):
        names, cnt = np.unique(truth[:, j], return_counts=True)
        print(f"  truth at scale {s}: " + ", ".join(f"{n} {c}" for n, c in zip(names, cnt)))

    weights = None
    if args.local_weight is not None or args.envelope_weight is not None:  # exact block weights
        weights = np.ones(X.shape[2])  # (instead of repeated columns)
        if args.local_weight is not None:
            weights[n_main:n_main + loc.shape[2]] = args.local_weight
        if args.envelope_weight is not None:
            weights[n_before_env:] = args.envelope_weight
    labels, times = {}, {}
    t0 = time.perf_counter()
    est = FVAEClustering(args.clusters, latent_dim=args.latent, hidden=tuple(args.hidden), epochs=args.epochs,
                         batch_size=args.batch, lr=args.lr, grad_clip=args.grad_clip or None, n_init=args.n_init,
                         device=args.device,
                         init=args.init, pretrain_epochs=args.pretrain_epochs, pretrain_w_z=args.pretrain_w_z,
                         start_weight=args.start_weight,
                         learn_weights=args.learn_weights, obs_var=args.obs_var, feature_weights=weights,
                         random_state=seed).fit(X)
    times["F-VAE"] = time.perf_counter() - t0
    labels["F-VAE"] = est.labels_
    if args.mixture_readout:  # the same fit, read out by p(y | E[z]) under the mixture prior
        t0 = time.perf_counter()
        labels["F-VAE mix"] = est.set_params(readout="mixture").predict(X)
        est.set_params(readout="encoder")
        times["F-VAE mix"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    Xn = (X - est.mean_) / est.std_
    if weights is not None:
        Xn = Xn * np.sqrt(weights)  # k-means' squared distance then weighs feature f by weights[f]
    labels["k-means"] = np.stack([KMeans(args.clusters, n_init=10, random_state=seed)
                                  .fit(np.ascontiguousarray(Xn[:, j])).labels_ for j in range(len(SCALES))], 1)
    times["k-means"] = time.perf_counter() - t0
    if args.dec:
        from scatclust.cluster import DEC

        times["DEC"], cols = 0.0, []
        for s in SCALES:
            S = window_spectrograms(rec.mixture, feats.window_end, s)
            t0 = time.perf_counter()
            dec = DEC(args.clusters, architecture="conv", latent_dim=10, pretrain_epochs=args.dec_epochs,
                      max_iter=args.dec_iter, batch_size=args.batch, n_init=10, random_state=seed,
                      device=args.device).fit(S)
            times["DEC"] += time.perf_counter() - t0
            cols.append(np.asarray(dec.labels_))
        labels["DEC"] = np.stack(cols, 1)

    methods = list(labels)
    rows = []
    for j, s in enumerate(SCALES):
        row = [f"{s} ({s / rec.fs:.0f} s)"]
        for m in methods:
            row += [f"{adjusted_rand_score(truth[:, j], labels[m][:, j]):.3f}",
                    f"{normalized_mutual_info_score(truth[:, j], labels[m][:, j]):.3f}"]
        rows.append(row)
    print(table(rows, ["scale (samples)"] + [f"{m} {k}" for m in methods for k in ("ARI", "NMI")]))
    per = {m: source_scores(truth, labels[m], SCALES, rec.fs) for m in methods}
    rows = []
    for k, s in matching_scales(SCALES, rec.fs).items():
        rows.append([k, str(s), str(per[methods[0]][k]["support"])] + [f"{per[m][k]['ari']:.3f}" for m in methods])
    print("per source, at its matching scale (ARI of the many-to-one read-out):")
    print(table(rows, ["source", "scale", "windows"] + methods))
    print("wall time: features {:.1f} s, ".format(t_feat) + ", ".join(f"{m} {t:.1f} s" for m, t in times.items())
          + f" (F-VAE: {args.epochs} epochs ({args.pretrain_epochs} pretraining, init {args.init!r}) x "
          f"{args.n_init} restarts, "
          f"{sum(p.numel() for p in est.model_.parameters())} parameters, ELBOs {np.round(est.elbos_, 1).tolist()})")
    if args.n_init > 1:  # does the ELBO rank the restarts as the truth does?
        rows = []
        for r, (elbo, lab) in enumerate(zip(est.elbos_, est.restart_labels_)):
            sc = source_scores(truth, lab, SCALES, rec.fs)
            rows.append([str(r), f"{elbo:.1f}", "yes" if r == int(np.argmax(est.elbos_)) else ""]
                        + [f"{sc[k]['ari']:.3f}" for k in matching_scales(SCALES, rec.fs)])
        print("F-VAE restarts (ELBO per window; per-source ARI of each restart's own labels):")
        print(table(rows, ["restart", "ELBO", "kept"] + list(matching_scales(SCALES, rec.fs))))
    out.append({"seed": seed, "per": per, "times": times,
                "scale_ari": {m: [adjusted_rand_score(truth[:, j], labels[m][:, j]) for j in range(len(SCALES))]
                              for m in methods}})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--hop", type=int, default=128)
    ap.add_argument("--J", type=int, default=7)
    ap.add_argument("--clusters", type=int, default=6)
    ap.add_argument("--normalize", default="none", choices=["none", "each_ps", "correlation", "none+each_ps"],
                    help="ScatteringPyramid(normalize=...) of the F-VAE's and k-means' features; 'none+each_ps' "
                         "concatenates the two (amplitude and shape)")
    ap.add_argument("--local", action="store_true",
                    help="append the time-localised polarisation features of bench/_local_features.py (64 per "
                         "scale: peak polarised / total power of 0.8-3.2 s sub-blocks relative to the window, "
                         "per octave) to the F-VAE's and k-means' features")
    ap.add_argument("--local-repeat", type=int, default=1,
                    help="with --local: columns of the local block repeated this many times (10 gives the 64 "
                         "local features about the weight of a 636-feature pyramid block)")
    ap.add_argument("--local-weight", type=float, default=None,
                    help="with --local: weight W of the local columns (once) in the F-VAE's reconstruction NLL "
                         "(FVAEClustering(feature_weights=...)) and sqrt(W) scaling of them for k-means; the exact "
                         "form of --local-repeat W")
    ap.add_argument("--obs-var", default="learned", choices=["learned", "scale", "fixed"],
                    help="F-VAE observation variance (FVAEClustering(obs_var=...))")
    ap.add_argument("--mixture-readout", action="store_true",
                    help="also score the F-VAE read out by the mixture prior's p(y|E[z]) ('F-VAE mix')")
    ap.add_argument("--local-max-scale", type=int, default=None,
                    help="with --local: scales above this get constant (zero) local columns (the block is built "
                         "for donks at 256; default: every scale)")
    ap.add_argument("--envelope", action="store_true",
                    help="append the envelope quantiles of bench/_envelope_features.py (16 x 8 per scale: per "
                         "octave, the sorted log powers of 16 sub-blocks of the window relative to its mean)")
    ap.add_argument("--envelope-sub", type=int, default=16, help="with --envelope: sub-blocks per window")
    ap.add_argument("--envelope-min-scale", type=int, default=4096,
                    help="with --envelope: scales below this get constant (zero) envelope columns")
    ap.add_argument("--envelope-repeat", type=int, default=1,
                    help="with --envelope: columns of the envelope block repeated this many times")
    ap.add_argument("--envelope-weight", type=float, default=None,
                    help="with --envelope: exact weight of the envelope columns (once), as --local-weight")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--n-init", type=int, default=1)
    ap.add_argument("--init", default="kmeans", choices=["random", "kmeans", "gmm", "kmeans-input"],
                    help="F-VAE mixture-prior start (FVAEClustering(init=...))")
    ap.add_argument("--start-weight", type=float, default=0.0,
                    help="F-VAE weight of the cross-entropy of q(y|x) to the start partition in the mixture phase "
                         "(FVAEClustering(start_weight=...))")
    ap.add_argument("--pretrain-epochs", type=int, default=30,
                    help="F-VAE plain-VAE epochs (out of --epochs) before the mixture phase")
    ap.add_argument("--pretrain-w-z", type=float, default=0.01,
                    help="F-VAE weight of KL(q(z|x) || N(0, I)) in the pretraining")
    ap.add_argument("--learn-weights", action="store_true", help="F-VAE learned mixture weights")
    ap.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    ap.add_argument("--latent", type=int, default=16)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--grad-clip", type=float, default=10.0,
                    help="F-VAE gradient-norm clipping (FVAEClustering(grad_clip=...); 0: none)")
    ap.add_argument("--dec", action=argparse.BooleanOptionalAction, default=True, help="run the DEC baseline")
    ap.add_argument("--dec-epochs", type=int, default=30, help="DEC autoencoder pretraining epochs (max)")
    ap.add_argument("--dec-iter", type=int, default=1000, help="DEC clustering iterations (max)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    if args.local_repeat < 1 or (args.local_repeat != 1 and not args.local):
        ap.error(f"--local-repeat={args.local_repeat} needs --local and a value >= 1")
    if args.local_weight is not None and (not args.local or args.local_repeat != 1 or not args.local_weight >= 0):
        ap.error(f"--local-weight={args.local_weight} needs --local, no --local-repeat and a value >= 0")
    if args.envelope_repeat < 1 or (args.envelope_repeat != 1 and not args.envelope):
        ap.error(f"--envelope-repeat={args.envelope_repeat} needs --envelope and a value >= 1")
    if args.envelope_weight is not None and (not args.envelope or args.envelope_repeat != 1
                                             or not args.envelope_weight >= 0):
        ap.error(f"--envelope-weight={args.envelope_weight} needs --envelope, no --envelope-repeat and a value >= 0")
    if args.local_max_scale is not None and (not args.local or args.local_max_scale < 1):
        ap.error(f"--local-max-scale={args.local_max_scale} needs --local and a value >= 1")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine_description())
    out = []
    for seed in args.seeds:
        run_seed(args, seed, out)
    if len(out) > 1:
        methods = list(out[0]["times"])
        print(f"\n=== summary over seeds {args.seeds}: mean (min..max)")
        rows = []
        for j, s in enumerate(SCALES):
            row = [f"scale {s}"]
            for m in methods:
                v = np.array([o["scale_ari"][m][j] for o in out])
                row.append(f"{v.mean():.2f} ({v.min():.2f}..{v.max():.2f})")
            rows.append(row)
        for k in out[0]["per"][methods[0]]:
            row = [f"{k} @ {out[0]['per'][methods[0]][k]['scale']}"]
            for m in methods:
                v = np.array([o["per"][m][k]["ari"] for o in out])
                v = v[np.isfinite(v)]
                row.append(f"{v.mean():.2f} ({v.min():.2f}..{v.max():.2f})" if v.size else "n/a")
            rows.append(row)
        rows.append(["wall time (s)"] + [f"{np.mean([o['times'][m] for o in out]):.1f}" for m in methods])
        print(table(rows, ["ARI"] + methods))


if __name__ == "__main__":
    main()
