"""Scattering spectra: scatclust.ScatteringSpectra (C++ moment kernel) against the pure-torch
reference (scatclust.reference.spectra), forward and forward + backward, at 1 and 2 threads.
Standalone; prints a Markdown table.

    python bench/bench_spectra.py            # J=8, N=65536, batch 64, float32, all families
    python bench/bench_spectra.py --quick    # J=8, N=16384, batch 8 (smoke run)

Workload: the InSight features (arXiv 2305.16189): 65536-sample windows of 20 Hz data,
J = 8 octaves, Battle–Lemarié wavelets, symmetric padding, all six families (210 complex
moments per window), global mean, float32, a batch of 64 windows. Forward + backward is one
call plus ``backward`` of a random real projection of the moments (what a synthesis or
training step pays).

The reference materialises every layer-2 series of the batch (and autograd keeps them for
backward), so it runs in chunks of ``--ref-chunk`` windows (default 8) to stay within memory;
its time is the sum over the chunks, i.e. the same work. torch.set_num_threads(n) sets its
threads; scatclust gets n_threads=n. Filter and plan construction are excluded (warm-up).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, measure, table  # noqa: E402

import scatclust  # noqa: E402
from scatclust.reference.spectra import scattering_spectra as ref_spectra  # noqa: E402


def fmt_t(t):
    return f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.1f} s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ref-chunk", type=int, default=8)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    import torch

    J = 8
    N, B = (16384, 8) if args.quick else (65536, 64)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, N)).astype(np.float32)
    xt = torch.from_numpy(x)
    print(f"# Scattering spectra: J={J}, N={N}, batch {B}, float32, all families (210 moments)\n")
    print(f"Machine: {machine_description()}; numpy {np.__version__}, torch {torch.__version__}\n")
    rows = []
    for nt in args.threads:
        ss = scatclust.ScatteringSpectra(N, J, n_threads=nt)
        w = torch.from_numpy(rng.standard_normal((B, ss.n_coefficients)).astype(np.float32))
        psi, phi = ss.filter_bank.psi_f, ss.filter_bank.phi_f

        def core_fwd():
            ss(x)

        def core_fb():
            xx = xt.detach().requires_grad_()
            (ss(xx).real * w).sum().backward()

        def ref_fwd():
            with torch.no_grad():
                for i in range(0, B, args.ref_chunk):
                    ref_spectra(xt[i:i + args.ref_chunk, None], psi, phi)

        def ref_fb():
            for i in range(0, B, args.ref_chunk):
                xx = xt[i:i + args.ref_chunk, None].detach().requires_grad_()
                out, _ = ref_spectra(xx, psi, phi)
                (out[..., 0].real * w[i:i + args.ref_chunk]).sum().backward()

        torch.set_num_threads(nt)
        res = {}
        for name, fn in (("forward", core_fwd), ("forward+backward", core_fb)):
            res["scatclust", name] = measure(fn, repeat=args.repeat)
        for name, fn in (("forward", ref_fwd), ("forward+backward", ref_fb)):
            res["torch reference", name] = measure(fn, repeat=max(1, args.repeat - 1))
        for name in ("forward", "forward+backward"):
            base = res["scatclust", name][0]
            for impl in ("scatclust", "torch reference"):
                t, mem = res[impl, name]
                rows.append((nt, name, impl, fmt_t(t), f"{t / B * 1e3:.1f} ms", f"{t / base:.2f}", f"{mem:.0f}"))
    print(table(rows, ["threads", "pass", "implementation", "median (batch)", "per window", "time / scatclust",
                       "extra peak MiB"]))


if __name__ == "__main__":
    main()
