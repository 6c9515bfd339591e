"""Student-t (DEC) soft assignment: forward + VJP timings against the numpy reference and
torch autograd, at 1 and 2 threads. Standalone; prints a Markdown table.

    python bench/bench_student_t.py            # N = 1e6, D = 32, K = 16, float32
    python bench/bench_student_t.py --quick    # N = 1e5 (smoke run)

Workload: a DEC clustering layer over one pass of InSight-sized feature sets (~1e6 windows
embedded in D = 32 dimensions, K = 16 clusters), float32, alpha = 1 (DEC's value); a second
row group uses alpha = 10 (the general power path). One call = soft assignment q plus the
vector-Jacobian product for a random upstream gradient G = dL/dq (dz and dmu).

- scatclust: ``soft_assign`` + ``_core.student_t_vjp_q`` on numpy arrays (no autograd);
  "scatclust autograd": the same through torch autograd (``soft_assign`` of tensors that
  require grad, ``q.backward(G)``), i.e. what a training step pays.
- numpy reference: ``scatclust.reference.student_t`` (float64, direct differences,
  single-threaded whatever the thread count).
- torch: the DEC formula as published implementations write it,
  ``((z[:, None] - mu)**2).sum(2)``, forward + ``backward(G)`` with torch.set_num_threads(n);
  "torch autograd, cdist": the same with ``torch.cdist(z, mu)**2`` (matrix-product expansion).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, measure, table  # noqa: E402

from scatclust import _core  # noqa: E402
from scatclust.cluster import soft_assign  # noqa: E402
from scatclust.reference import student_t as ref  # noqa: E402


def fmt_t(t):
    return f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.1f} s"


def torch_formula(torch, z, mu, alpha):
    dist = ((z[:, None, :] - mu[None, :, :]) ** 2).sum(2)
    w = (1.0 + dist / alpha) ** (-(alpha + 1.0) / 2.0)
    return w / w.sum(1, keepdim=True)


def torch_cdist(torch, z, mu, alpha):
    dist = torch.cdist(z, mu) ** 2  # matrix-product expansion for large inputs
    w = (1.0 + dist / alpha) ** (-(alpha + 1.0) / 2.0)
    return w / w.sum(1, keepdim=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--alphas", type=float, nargs="+", default=[1.0, 10.0])
    args = ap.parse_args()
    import torch

    n, d, k = (100_000 if args.quick else 1_000_000), 32, 16
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, d)).astype(np.float32)
    mu = rng.normal(size=(k, d)).astype(np.float32)
    G = rng.normal(size=(n, k)).astype(np.float32)
    dz, dmu = np.empty_like(z), np.empty_like(mu)
    print(f"# Student-t soft assignment, forward + VJP: N={n}, D={d}, K={k}, float32\n")
    print(f"Machine: {machine_description()}; numpy {np.__version__}, torch {torch.__version__}\n")
    rows = []
    for alpha in args.alphas:
        res = {}
        # numpy reference (float64 internally, single-threaded): once per alpha
        def run_ref():
            q = ref.soft_assign(z, mu, alpha)
            ref.vjp_q(z, mu, alpha, q, G)
        res["numpy reference"] = measure(run_ref, repeat=max(1, args.repeat // 2))
        for nt in (1, 2):
            def run_core():
                q = soft_assign(z, mu, alpha, n_threads=nt)
                _core.student_t_vjp_q(z, mu, alpha, q, G, dz, dmu, nt)

            zt, mut, Gt = torch.from_numpy(z), torch.from_numpy(mu), torch.from_numpy(G)

            def run_autograd():
                zz = zt.detach().requires_grad_()
                mm = mut.detach().requires_grad_()
                soft_assign(zz, mm, alpha, n_threads=nt).backward(Gt)

            def run_torch():
                zz = zt.detach().requires_grad_()
                mm = mut.detach().requires_grad_()
                torch_formula(torch, zz, mm, alpha).backward(Gt)

            def run_cdist():
                zz = zt.detach().requires_grad_()
                mm = mut.detach().requires_grad_()
                torch_cdist(torch, zz, mm, alpha).backward(Gt)

            res[f"scatclust {nt}T"] = measure(run_core, repeat=args.repeat)
            res[f"scatclust autograd {nt}T"] = measure(run_autograd, repeat=args.repeat)
            torch.set_num_threads(nt)
            res[f"torch autograd {nt}T"] = measure(run_torch, repeat=args.repeat)
            res[f"torch autograd, cdist {nt}T"] = measure(run_cdist, repeat=args.repeat)
        for nt in (1, 2):
            base = res[f"scatclust {nt}T"][0]
            for name, (t, mem) in res.items():
                if name.endswith(f"{3 - nt}T"):
                    continue
                label = name[:-3] if name.endswith("T") else name
                rows.append((alpha, nt, label, fmt_t(t), f"{t / base:.2f}", f"{mem:.0f}"))
    print(table(rows, ["alpha", "threads", "implementation", "median", "time / scatclust", "extra peak MiB"]))


if __name__ == "__main__":
    main()
