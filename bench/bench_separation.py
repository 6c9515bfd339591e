"""Source separation (issue 8): speed of ``scatclust.separate`` against the pure-torch
reference loss, and (when the baselines/toy generators are present) its quality.

    OMP_NUM_THREADS=2 PYTHONPATH=python python bench/bench_separation.py            # speed
    OMP_NUM_THREADS=1 PYTHONPATH=python python bench/bench_separation.py --quality --no-speed  # SNR tables
    ... bench/bench_separation.py --quality --no-speed --pool 128 --no-full   # + time-localised prior term
    ... bench/bench_separation.py --quality --no-speed --gain [--seed0 100 --mars-seeds 4]   # gain solve
    ... bench/bench_separation.py --edges --no-speed   # segment seams: overlap-add vs srcsep's
    python bench/bench_separation.py --quick        # N=1024, J=6, R=20 (smoke run)

Workload (issue 8, srcsep's toy setup): N = 2048 samples, J = 8 octaves, R = 100 priors,
float64, one channel. Measured, at 1 and 2 threads (torch.set_num_threads / n_threads):

* one loss + gradient evaluation, ours (C++ moments + C++ VJP, numpy) against the torch
  reference (``scatclust.separation._reference``: the same loss from the definitions, torch
  autograd), for the prior term alone (the default) and for the full loss with
  ``n_pairs`` = 16 priors in the mixture/independence terms;
* L-BFGS time per iteration (scipy L-BFGS-B on both; the torch path for a fixed, small
  number of iterations since each costs seconds) and the wall time of a whole
  ``separate()`` call with its defaults (max_iter = 40).

Filter construction and the loss set-up (priors' statistics) are timed apart
("set-up"). The quality part (SNR tables on the toy and Mars-like cases against the
Wiener / band-pass / FastICA baselines) is :func:`quality`, which uses
``bench/bench_separation_baselines.py`` and ``scatclust.datasets.separation_toy`` when
they are importable and otherwise says so and skips.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, table, timeit  # noqa: E402

from scatclust.separation import TERMS, SeparationLoss, separate  # noqa: E402


def fmt_t(t):
    return f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.1f} s"


def _data(N, R, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((R, 1, N))
    n = rng.standard_normal((1, N))
    t = np.arange(N)
    s = sum(8.0 * np.exp(-np.abs(t - t0) / 2.0) for t0 in (N // 4, N // 2, 3 * N // 4))
    return n + s, P


def _lbfgs_time_per_iter(fun, z0, iters):
    """scipy L-BFGS-B for ``iters`` iterations; seconds per iteration and evaluations."""
    from scipy.optimize import minimize

    t0 = time.perf_counter()
    res = minimize(fun, z0, jac=True, method="L-BFGS-B",
                   options={"maxiter": iters, "ftol": 0.0, "gtol": 0.0, "maxcor": 20})
    return (time.perf_counter() - t0) / max(res.nit, 1), res.nit, res.nfev


def speed(N, J, R, n_pairs, ref_iters, repeat, threads=(1, 2)):
    import torch

    from scatclust.separation._reference import TorchSeparationLoss

    x, P = _data(N, R)
    rows = []
    pairs = np.arange(n_pairs)
    for terms in (("prior",), TERMS):
        label = "prior" if len(terms) == 1 else f"full (n_pairs={n_pairs})"
        for nt in threads:
            torch.set_num_threads(nt)
            t0 = time.perf_counter()
            ours = SeparationLoss(x, P, J, (1, 1, 1), terms, pairs, n_threads=nt)
            setup_ours = time.perf_counter() - t0
            t0 = time.perf_counter()
            ref = TorchSeparationLoss(x, P, J, (1, 1, 1), terms, pairs)
            setup_ref = time.perf_counter() - t0
            z = x + 0.1 * np.random.default_rng(1).standard_normal(x.shape)

            def ref_eval(z=z):
                t = torch.tensor(z, requires_grad=True)
                tot, _ = ref(t)
                tot.backward()
                return float(tot.detach()), t.grad.numpy()

            t_ours = timeit(lambda: ours(z), repeat=repeat)
            t_ref = timeit(ref_eval, repeat=max(1, repeat // 3))

            def f_ours(v):
                tot, _, g = ours(v.reshape(x.shape))
                return tot, g.ravel()

            def f_ref(v):
                tot, g = ref_eval(v.reshape(x.shape))
                return tot, g.ravel()

            it_ours, nit_o, nf_o = _lbfgs_time_per_iter(f_ours, x.ravel().copy(), 20)
            it_ref, nit_r, nf_r = _lbfgs_time_per_iter(f_ref, x.ravel().copy(), ref_iters)
            t0 = time.perf_counter()
            res = separate(x[0], P[:, 0], J=J, terms=terms, n_pairs=n_pairs, random_state=0, n_threads=nt)
            t_sep = time.perf_counter() - t0
            rows.append([label, nt, fmt_t(setup_ours), fmt_t(setup_ref), fmt_t(t_ours), fmt_t(t_ref),
                         f"{t_ref / t_ours:.1f}x", f"{fmt_t(it_ours)} ({nf_o}/{nit_o})",
                         f"{fmt_t(it_ref)} ({nf_r}/{nit_r})", f"{it_ref / it_ours:.1f}x",
                         f"{t_sep:.2f} s ({res.n_iter} it)"])
    print(f"# {machine_description()}")
    print(f"# N={N}, J={J}, R={R}, float64, 1 channel; loss+gradient medians; L-BFGS: ours 20 iterations, "
          f"torch {ref_iters}; (evaluations/iterations)\n")
    print(table(rows, ["loss", "threads", "set-up ours", "set-up torch", "loss+grad ours", "loss+grad torch",
                       "ratio", "per iteration ours", "per iteration torch", "ratio", "separate() total"]))


def edges(seeds, L=1024, n_seg=8, J=8, R=100, overlap=256):
    """Segment edges on a long record: srcsep's independent L-sample segments (overlap=0)
    against overlap-add (``overlap`` samples, sin^2 cross-fades).

    Record: white Gaussian background of n_seg * L samples + one two-sided exponential pulse
    (8 sigma, time constant 2 samples) per segment on average, at uniformly random places
    (so some straddle a seam); priors: R independent
    L-sample windows. Reported, mean over seeds: background SNR over the whole record, SNR
    within 32 samples of the interior boundaries k * L, and the mean jump |ñ[t] - ñ[t-1]| at
    those boundaries divided by its mean elsewhere (1 = no visible seam).
    """
    rows = []
    for ov in (0, overlap):
        whole, near, jump = [], [], []
        for seed in range(seeds):
            rng = np.random.default_rng(100 + seed)
            N = n_seg * L
            n = rng.standard_normal(N)
            P = rng.standard_normal((R, L))
            t = np.arange(N)
            s = sum(rng.choice([-1, 1]) * 8.0 * np.exp(-np.abs(t - rng.integers(40, N - 40)) / 2.0)
                    for _ in range(n_seg))
            x = n + s
            bg = separate(x, P, J=J, segment=L, overlap=ov, random_state=0).background
            b = np.arange(1, n_seg) * L
            mask = np.zeros(N, dtype=bool)
            for c in b:
                mask[c - 32:c + 32] = True
            err = bg - n
            whole.append(10 * np.log10(np.sum(n ** 2) / np.sum(err ** 2)))
            near.append(10 * np.log10(np.sum(n[mask] ** 2) / np.sum(err[mask] ** 2)))
            d = np.abs(np.diff(bg))
            at = np.zeros(N - 1, dtype=bool)
            at[b - 1] = True
            jump.append(d[at].mean() / d[~at].mean())
        rows.append([ov, f"{np.mean(whole):.2f}", f"{np.mean(near):.2f}", f"{np.mean(jump):.2f}"])
    print(f"\n# segment edges: record {n_seg} x {L} samples, J={J}, R={R}, {seeds} seeds (white background + "
          f"{n_seg} pulses at random places)\n")
    print(table(rows, ["overlap", "SNR whole (dB)", "SNR within 32 samples of seams (dB)", "seam jump ratio"]))


def quality(seeds, setups, n, R, mars_seeds=2, per_event=True, pool=None, full=True, seed0=0, gain=False):
    """SNR tables of ``separate`` next to the baselines (sepdata's harness and generators).

    Plugs into ``bench/bench_separation_baselines.py``'s ``quality_table`` (methods are
    ``method(x, priors) -> (background, other)``). Methods: the baselines, ``separate`` with
    its defaults (prior term, ñ₀ = x, discrepancy stop), with ``init='wiener'`` (ñ₀ = the
    Wiener estimate, discrepancy stop) and, on the toy setups only (3-channel Mars-like
    windows cost about 10 s each), the full loss. Toy setups: seeds 0..seeds-1; Mars-like
    records: seeds 0..mars_seeds-1, with one row per event when ``per_event``. With ``pool``
    (block length), also the time-localised prior term (``separate(pool=pool)``) and the same
    followed by the spectral cap (``post='cap'``), the local term from the capped mixture
    (``init='cap'``) and the cap alone (``spectral_cap``, a baseline); ``full=False`` leaves the full loss out;
    ``seed0`` shifts every seed (e.g. 100 for the tuning seeds). ``gain=True``: a compact set
    instead, the two baselines and the cap, the default of 2026-12-07 (``variable='samples'``,
    ``pool=128``, ``init='cap'``), the time-frequency gain solve without its stationary fallback
    (``stationary=None``) and the current default (``variable='gain'``).
    """
    try:
        from bench_separation_baselines import BASELINES, MARS_SETUPS, TOY_SETUPS, quality_table
        from scatclust.datasets import separation_toy  # noqa: F401
    except ImportError as exc:
        print(f"\n# quality part skipped: {exc} (needs bench/bench_separation_baselines.py and "
              f"scatclust.datasets.separation_toy from the sepdata branch)")
        return None

    def ours(**kw):
        def method(x, priors):
            res = separate(x, priors, random_state=0, n_threads=1, **kw)
            return res.background, res.source
        return method

    # The rows name the settings they were measured with (the defaults have changed over time).
    old = dict(variable="samples", pool=None, init="x")
    methods = {**BASELINES, "separate (prior)": ours(**old),
               "separate (prior, init=wiener)": ours(**{**old, "init": "wiener"})}
    if pool is not None:
        methods[f"separate (pool={pool})"] = ours(variable="samples", pool=pool, init="x")
        methods[f"separate (pool={pool}, post=cap)"] = ours(variable="samples", pool=pool, init="x", post="cap")
        methods[f"separate (pool={pool}, init=cap)"] = ours(variable="samples", pool=pool, init="cap")
        from scatclust.separation import spectral_cap

        methods["spectral_cap"] = spectral_cap   # the cap alone (quantile 0.75), as a baseline
    if gain:
        from scatclust.separation import spectral_cap

        methods = {"wiener": BASELINES["wiener"], "bandpass": BASELINES["bandpass"], "spectral_cap": spectral_cap,
                   "separate (samples, pool=128, init=cap)": ours(variable="samples", pool=128, init="cap"),
                   "separate (gain, stationary=None)": ours(stationary=None),
                   "separate (default: gain)": ours()}
        full = False
    rows = []
    toy = [s for s in setups if s in TOY_SETUPS]
    mars = [s for s in setups if s in MARS_SETUPS]
    if toy:
        toy_methods = {**methods, "separate (full)": ours(terms=TERMS, **old)} if full else methods
        rows += quality_table(toy_methods, seeds=range(seed0, seed0 + seeds), setups=toy, n=n, R=R)
    if mars:
        print()
        rows += quality_table(methods, seeds=range(seed0, seed0 + mars_seeds), setups=mars, n=n, R=R,
                              per_event=per_event)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--quality", action="store_true", help="also run the SNR tables (minutes)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--mars-seeds", type=int, default=2, help="Mars-like records in the quality part")
    ap.add_argument("--setups", nargs="*", default=["pulses", "square", "glitch", "deglitch", "wind"])
    ap.add_argument("--ref-iters", type=int, default=3)
    ap.add_argument("--edges", action="store_true", help="segment-edge comparison (overlap-add vs none)")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--pool", type=int, default=None,
                    help="quality part: also separate(pool=POOL) with post='cap' / init='cap', and spectral_cap")
    ap.add_argument("--no-full", action="store_true", help="quality part: leave the full loss out")
    ap.add_argument("--gain", action="store_true",
                    help="quality part: compact table of the time-frequency gain solve (variable='gain') against "
                         "the baselines, the cap and the 2026-12-07 default")
    ap.add_argument("--seed0", type=int, default=0, help="first seed of the quality part (100: tuning seeds)")
    ap.add_argument("--threads", default="1,2", help="thread counts of the speed table (default 1,2)")
    a = ap.parse_args()
    N, J, R = (1024, 6, 20) if a.quick else (2048, 8, 100)
    if not a.no_speed:
        speed(N, J, R, n_pairs=min(16, R), ref_iters=a.ref_iters, repeat=3 if a.quick else 5,
              threads=tuple(int(v) for v in a.threads.split(",")))
    if a.edges:
        edges(3 if a.quick else a.seeds)
    if a.quality:
        quality(a.seeds, a.setups, N, R, mars_seeds=a.mars_seeds, pool=a.pool, full=not a.no_full, seed0=a.seed0,
                gain=a.gain)


if __name__ == "__main__":
    main()
