"""Source separation (issue 8): speed of ``scatclust.separate`` against the pure-torch
reference loss, and (when the baselines/toy generators are present) its quality.

    OMP_NUM_THREADS=2 PYTHONPATH=python python bench/bench_separation.py            # speed
    OMP_NUM_THREADS=2 PYTHONPATH=python python bench/bench_separation.py --quality  # + SNR tables
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


def speed(N, J, R, n_pairs, ref_iters, repeat):
    import torch

    from scatclust.separation._reference import TorchSeparationLoss

    x, P = _data(N, R)
    rows = []
    pairs = np.arange(n_pairs)
    for terms in (("prior",), TERMS):
        label = "prior" if len(terms) == 1 else f"full (n_pairs={n_pairs})"
        for nt in (1, 2):
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


def quality(seeds, setups, n, R):
    """SNR tables of ``separate`` next to the baselines (sepdata's harness and generators).

    Plugs into ``bench/bench_separation_baselines.py``'s ``quality_table`` (methods are
    ``method(x, priors) -> (background, other)``); skipped with a message when that module or
    ``scatclust.datasets.separation_toy`` is missing (before the sepdata branch is merged).
    """
    try:
        from bench_separation_baselines import BASELINES, quality_table  # noqa: F401
        from scatclust.datasets import separation_toy  # noqa: F401
    except ImportError as exc:
        print(f"\n# quality part skipped: {exc} (needs bench/bench_separation_baselines.py and "
              f"scatclust.datasets.separation_toy from the sepdata branch)")
        return None

    def ours(terms):
        def method(x, priors):
            res = separate(x, priors, terms=terms, random_state=0)
            return res.background, res.source
        return method

    methods = {**BASELINES, "separate (prior)": ours(("prior",)), "separate (full)": ours(TERMS)}
    return quality_table(methods, seeds=range(seeds), setups=setups, n=n, R=R)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--quality", action="store_true", help="also run the SNR tables (minutes)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--setups", nargs="*", default=["pulses", "square", "glitch", "deglitch", "wind"])
    ap.add_argument("--ref-iters", type=int, default=3)
    a = ap.parse_args()
    N, J, R = (1024, 6, 20) if a.quick else (2048, 8, 100)
    speed(N, J, R, n_pairs=min(16, R), ref_iters=a.ref_iters, repeat=3 if a.quick else 5)
    if a.quality:
        quality(a.seeds, a.setups, N, R)


if __name__ == "__main__":
    main()
