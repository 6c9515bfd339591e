"""Scattering1D (orders 0-2) against kymatio 0.3 (numpy and torch frontends), scatseisnet,
and the bare FFT time of the same transform, at 1 and 2 threads, float32. Standalone;
prints Markdown tables.

    python bench/bench_scattering.py            # the issue's two workloads
    python bench/bench_scattering.py --quick    # small workloads (smoke run)

Workloads (issue 4; InSight-style windows): batch 64 x 2^14 samples, J=8, Q=(8,1), and
batch 16 x 2^16 samples (~55 min at 20 Hz), J=10, Q=(8,1); T = 2^J, max_order 2,
oversampling 0, float32 input.

- scatclust: ``scatclust.Scattering1D(J, N, Q)(x, n_threads=n)`` on a numpy float32 array
  (forward); "scatclust VJP": ``Scattering1D.vjp`` (the backward pass alone, which
  recomputes the forward internally).
- FFTW alone: the FFTs the transform executes (``fft_census``: sizes, kinds and counts per
  signal), run through the same plan cache on zeroed buffers, OpenMP over signals, nothing
  else; "time / FFTW alone" is the transform's overhead factor.
- kymatio 0.3 numpy frontend (``ScatteringNumPy1D``; numpy's FFT is single-threaded and the
  float64 filters promote the computation to float64) and torch frontend
  (``ScatteringTorch1D``, float32, ``torch.set_num_threads(n)``), same J, Q, T, shape.
- scatseisnet 0.4 (``ScatteringNetwork`` with layers {octaves: J, resolution: 8} and
  {octaves: J, resolution: 1}, bins = N, ``reduce_type=np.mean``): the closest
  configuration it offers. It differs on purpose: no subsampling (full-resolution
  scalograms), every second-order wavelet on every first-order envelope (J*8 x J paths, no
  j2 > j1 pruning), global mean pooling instead of the low-pass phi, float64. It loops
  over signals in Python with numpy's single-threaded FFT, so it is timed on a subset of
  the batch and scaled linearly to the full batch (said in the table).
Timings exclude filter-bank and plan construction, which are timed separately.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, measure, table, timeit  # noqa: E402

import scatclust  # noqa: E402
from scatclust import _core  # noqa: E402

HEADERS = ["threads", "implementation", "median", "time / scatclust", "extra peak MiB"]


def fmt_t(t):
    return f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.1f} s"


def import_scatseisnet():
    """scatseisnet's ScatteringNetwork, or (None, reason)."""
    try:
        from scatseisnet import ScatteringNetwork
        return ScatteringNetwork, ""
    except ImportError:
        pass
    # `pip install --target /tmp/ssn-pkgs scatseisnet` keeps it out of the environment.
    if os.path.isdir("/tmp/ssn-pkgs"):
        sys.path.append("/tmp/ssn-pkgs")
        try:
            from scatseisnet import ScatteringNetwork
            return ScatteringNetwork, ""
        except ImportError as e:
            return None, f"import failed from /tmp/ssn-pkgs: {e}"
    return None, "not installed (pip install scatseisnet)"


def bench_case(batch, N, J, Q, repeat, quick):
    dtype = np.float32
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, N)).astype(dtype)

    t0 = time.perf_counter()
    S = scatclust.Scattering1D(J, N, Q=Q)
    S(x[:1])  # kernel + FFT plans
    S.vjp(x[:1], np.zeros((1, S.n_paths, S.n_time), dtype))
    t_build = time.perf_counter() - t0
    kern = S._kernel(np.float32)
    census_f = kern.fft_census(False)
    census_b = kern.fft_census(True)
    g = rng.standard_normal((batch, S.n_paths, S.n_time)).astype(dtype)

    res = {}
    for nt in (1, 2):
        res[f"scatclust {nt}T"] = measure(lambda: S(x, n_threads=nt), repeat)
        res[f"FFTW alone, forward FFTs {nt}T"] = measure(
            lambda: _core.run_fft_census_f32(census_f, batch, nt), repeat)
        res[f"scatclust VJP {nt}T"] = measure(lambda: S.vjp(x, g, n_threads=nt), repeat)
        res[f"FFTW alone, VJP FFTs {nt}T"] = measure(lambda: _core.run_fft_census_f32(census_b, batch, nt), repeat)

    # The same with FFTW_MEASURE plans (scatclust.fft.set_planner('measure'); the default
    # 'auto' planner measures only transforms of <= 4096 points).
    prev_planner = scatclust.fft.get_planner()
    scatclust.fft.clear_plan_cache()
    scatclust.fft.set_planner("measure")
    t0 = time.perf_counter()
    S(x[:1])
    t_measure = time.perf_counter() - t0
    for nt in (1, 2):
        res[f"scatclust, measured plans {nt}T"] = measure(lambda: S(x, n_threads=nt), repeat)
        res[f"FFTW alone, forward FFTs, measured plans {nt}T"] = measure(
            lambda: _core.run_fft_census_f32(census_f, batch, nt), repeat)
    scatclust.fft.clear_plan_cache()
    scatclust.fft.set_planner(prev_planner)
    S(x[:1])

    notes = [f"measured plans: planning took {t_measure:.1f} s once (keep it with scatclust.fft.export_wisdom)"]
    slow_repeat = max(1, min(3, repeat))
    ours = S(x)
    try:
        from kymatio.scattering1d.frontend.numpy_frontend import ScatteringNumPy1D

        K = ScatteringNumPy1D(J, N, Q=Q)
        res["kymatio 0.3 (numpy)"] = measure(lambda: K(x), slow_repeat)
        notes.append(f"kymatio numpy vs scatclust float32: max relative difference "
                     f"{np.abs(K(x) - ours).max() / np.abs(K(x)).max():.1e}")
    except ImportError as e:
        notes.append(f"kymatio numpy skipped: {e}")
    try:
        import torch
        from kymatio.scattering1d.frontend.torch_frontend import ScatteringTorch1D

        Kt = ScatteringTorch1D(J, N, Q=Q)
        xt = torch.from_numpy(x)
        prev = torch.get_num_threads()
        for nt in (1, 2):
            torch.set_num_threads(nt)
            with torch.no_grad():
                res[f"kymatio 0.3 (torch) {nt}T"] = measure(lambda: Kt(xt), slow_repeat)
        torch.set_num_threads(prev)
    except ImportError as e:
        notes.append(f"kymatio torch skipped: {e}")

    Net, why = import_scatseisnet()
    if Net is None:
        notes.append(f"scatseisnet skipped: {why}")
    else:
        sub = 1 if (quick or N >= 2**16) else 4
        net = Net({"octaves": J, "resolution": Q[0]}, {"octaves": J, "resolution": Q[1]}, bins=N)
        xs = x[:sub].astype(np.float64)
        net.transform(xs[:1].copy(), reduce_type=np.mean)  # warm-up
        t_sub = timeit(lambda: net.transform(xs.copy(), reduce_type=np.mean), repeat=1 if N >= 2**16 else 2, warmup=0)
        res[f"scatseisnet 0.4 ({sub} of {batch} signals, x{batch // sub})"] = (t_sub * batch / sub, float("nan"))
        n2 = len(net.banks[0]) * len(net.banks[1])
        notes.append(f"scatseisnet: {len(net.banks[0])} + {n2} paths of one pooled value each "
                     f"(scatclust: {S.n_paths} paths x {S.n_time} samples)")

    fb = S.filter_bank
    print(f"\n### Scattering1D, batch={batch}, N={N}, J={J}, Q={Q}, T={fb.T}, float32\n"
          f"{S.n_paths} paths x {S.n_time} samples, N_padded={fb.N_padded}; filter bank + kernels + plans "
          f"{t_build * 1e3:.0f} ms (once); FFTs per signal: forward "
          f"{sum(c for *_, c in census_f)}, VJP {sum(c for *_, c in census_b)}\n")
    rows = []
    for nt in (1, 2):
        base = res[f"scatclust {nt}T"][0]
        for name, (t, mem) in res.items():
            if name.endswith(f"{3 - nt}T"):
                continue
            memtxt = "-" if mem != mem else f"{mem:.0f}"
            rows.append((f"{nt} thread{'s' if nt > 1 else ''}", name, fmt_t(t), f"{t / base:.2f}", memtxt))
    print(table(rows, HEADERS))
    print()
    for nt in (1, 2):
        peers = [t for name, (t, _) in res.items()
                 if (name.startswith("kymatio") or name.startswith("scatseisnet")) and not name.endswith(f"{3 - nt}T")]
        ours_t = res[f"scatclust {nt}T"][0]
        line = f"- {nt} thread{'s' if nt > 1 else ''}: "
        if peers:
            line += f"fastest peer / scatclust = {min(peers) / ours_t:.2f}x; "
        ours_m = res[f"scatclust, measured plans {nt}T"][0]
        line += (f"with measured plans {min(peers) / ours_m:.2f}x; " if peers else "")
        line += (f"scatclust / FFTW alone = {ours_t / res[f'FFTW alone, forward FFTs {nt}T'][0]:.2f}x (forward), "
                 f"{ours_m / res[f'FFTW alone, forward FFTs, measured plans {nt}T'][0]:.2f}x (forward, measured "
                 f"plans), {res[f'scatclust VJP {nt}T'][0] / res[f'FFTW alone, VJP FFTs {nt}T'][0]:.2f}x (VJP)")
        print(line)
    for n in notes:
        print(f"- {n}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small workloads (smoke run)")
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per measurement (median)")
    args = ap.parse_args(argv)
    print(f"Machine: {machine_description()}")
    print(f"scatclust {scatclust.__version__}, numpy {np.__version__}, FFTW planner "
          f"{['estimate', 'measure', 'patient', 'auto'][_core.planner_effort()]}")
    cases = [(8, 2**12, 6, (8, 1)), (4, 2**14, 8, (8, 1))] if args.quick else \
        [(64, 2**14, 8, (8, 1)), (16, 2**16, 10, (8, 1))]
    for batch, N, J, Q in cases:
        bench_case(batch, N, J, Q, 2 if args.quick else args.repeat, args.quick)


if __name__ == "__main__":
    main()
