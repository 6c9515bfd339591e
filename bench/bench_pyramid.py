"""Multi-scale pyramid: a day of 3-channel 20 Hz data into 4-scale scattering spectra.

    python bench/bench_pyramid.py            # one day (1.728 M samples x 3 channels), J = 8
    python bench/bench_pyramid.py --quick    # two hours (smoke run)

Workload (InSight, arXiv 2305.16189): 20 samples/s, 3 components (U, V, W), J = 8, nested
right-aligned windows of 1024, 4096, 16384 and 65536 samples slid by 1024, all scattering-
spectra families per channel (210 complex moments), float32, 'each_ps' normalisation.

Columns:
- scatclust pyramid: ``ScatteringPyramid.transform`` (every coefficient computed once, in
  segments with margins), at 1 and 2 threads; wall time and extra peak memory of one call.
- separate windows, scatclust kernel: ``ScatteringSpectra`` on each window and scale
  separately (what a user would do without the pyramid), timed on a sample of windows and
  extrapolated to all windows of the day.
- separate windows, torch reference: ``scatclust.reference.spectra`` (pure torch) on each
  window and scale, timed on a few windows and extrapolated (the "pure-Python" pipeline).
The mission year is 365 times the day (2 threads).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, measure, table, timeit  # noqa: E402

import scatclust  # noqa: E402
from scatclust import ScatteringPyramid, ScatteringSpectra, SpectraFilterBank  # noqa: E402


def fmt_t(t):
    if t < 10:
        return f"{t * 1e3:.0f} ms" if t < 1 else f"{t:.2f} s"
    return f"{t:.0f} s" if t < 3600 else f"{t / 3600:.1f} h"


def day_record(n, seed=0):
    """Coloured noise with a diurnal-like envelope, bursts and a tone (3 channels, float32)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, n)).astype(np.float32)
    x = np.cumsum(w, axis=1, dtype=np.float64) * 0.01
    x -= np.convolve(x[0], np.ones(2001) / 2001, mode="same")[None]
    x = (x + w).astype(np.float32)
    t = np.arange(n)
    x *= (1 + 0.8 * np.sin(2 * np.pi * t / n) ** 2).astype(np.float32)
    return np.ascontiguousarray(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--planner", default="auto", choices=["auto", "estimate", "measure", "patient"],
                    help="FFTW planner effort (scatclust.fft.set_planner); 'measure' plans once per segment "
                         "length (~1.5 s, excluded by the warm-up) and runs ~25%% faster")
    args = ap.parse_args()
    scatclust.fft.set_planner(args.planner)
    import torch

    from scatclust.reference.spectra import scattering_spectra as ref_spectra

    fs, J, hop = 20, 8, 1024
    scales = (1024, 4096, 16384, 65536)
    n = (2 * 3600 if args.quick else 24 * 3600) * fs
    x = day_record(n)
    n_win = n // hop - scales[-1] // hop + 1
    print(f"Machine: {machine_description()}")
    print(f"scatclust {scatclust.__version__}, torch {torch.__version__}, FFTW planner '{args.planner}'\n")
    print(f"### Pyramid, {n / fs / 3600:.0f} h of 3-channel {fs} Hz data (N={n}), J={J}, scales={scales}, "
          f"hop={hop}: {n_win} window positions x {len(scales)} scales x 3 x 210 moments, float32\n")

    rows, res = [], {}
    for nt in (1, 2):
        pyr = ScatteringPyramid(J=J, scales=scales, hop=hop, C=3, normalize="each_ps", n_threads=nt)
        t, mem = measure(lambda: pyr.transform(x), repeat=args.repeat)
        res[nt] = t
        rows.append([f"{nt}", "scatclust pyramid", fmt_t(t), "1.0", f"{mem:.0f}"])
    out = pyr.transform(x)
    assert out.features.shape == (n_win, len(scales), 630) and np.isfinite(out.features).all()

    # Separate windows with the scatclust kernel: time a sample of windows, extrapolate.
    sample = 8 if args.quick else 16
    ends = (np.arange(n_win) + scales[-1] // hop) * hop
    picks = ends[np.linspace(0, n_win - 1, sample).astype(int)]
    for nt in (1, 2):
        specs = [ScatteringSpectra(N=s, J=J, C=3, normalize="each_ps", n_threads=nt) for s in scales]

        def per_window():
            for e in picks:
                for s, ss in zip(scales, specs):
                    ss(x[:, e - s:e])

        t = timeit(per_window, repeat=1, warmup=1) * n_win / sample
        rows.append([f"{nt}", "separate windows, scatclust kernel (extrapolated)", fmt_t(t), f"{t / res[nt]:.1f}",
                     "-"])

    # Separate windows with the pure-torch reference (few windows, extrapolated).
    fbs = {s: SpectraFilterBank(s, J) for s in scales}
    ref_picks = picks[:2]
    for nt in (1, 2):
        torch.set_num_threads(nt)

        def per_window_ref():
            with torch.no_grad():
                for e in ref_picks:
                    for s in scales:
                        xt = torch.from_numpy(x[None, :, e - s:e])
                        ref_spectra(xt, fbs[s].psi_f, fbs[s].phi_f, normalize="each_ps")

        t = timeit(per_window_ref, repeat=1, warmup=0) * n_win / len(ref_picks)
        rows.append([f"{nt}", "separate windows, torch reference (extrapolated)", fmt_t(t), f"{t / res[nt]:.1f}",
                     "-"])
    print(table(rows, ["threads", "implementation", "wall time", "time / pyramid", "extra peak MiB"]))
    day = res[2] * (24 * 3600 * fs / n)
    print(f"\nOne day at 2 threads: {fmt_t(day)}; a mission year (365 days) extrapolated: {fmt_t(365 * day)} "
          f"(target < 1 h).")


if __name__ == "__main__":
    main()
