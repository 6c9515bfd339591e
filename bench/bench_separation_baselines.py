"""Separation quality of the baselines (issue 8): SNR (dB) against the ground truth.

Setups (from the issue; cases from :mod:`scatclust.datasets`):

* srcsep's toy setup: MRW background (H = 0.5, lambda = 0.2), n = 2048, R = 100 prior
  realisations, contaminated by 'pulses' (three two-sided exponential pulses), 'square'
  (a square glitch of 0.5 background std) or 'glitch' (one-sided Mars-like glitch
  pulses). Reported: SNR of the recovered background and of the recovered contaminant,
  mean ± std over the seeds.
* Mars-like records (:func:`scatclust.datasets.mars_separation_cases`, 3 components,
  n = 2048 = 102.4 s at 20 Hz, R = 100 source-free windows of the same record):
  'deglitch' and 'wind'. Reported: SNR improvement of the background estimate over the
  input, mean ± std over the events of all seeds (one record per seed), and with
  ``--per-event`` one row per event.

Methods: the identity ("do nothing": background = x, other = 0), the Wiener filter, the
band-pass filter and FastICA (:mod:`scatclust.separation`). Any callable
``method(x, priors) -> (background, other)`` can be added: :func:`quality_table` takes a
dict of them, e.g. ``quality_table({**BASELINES, "separate": my_wrapper})``.

Usage: ``OMP_NUM_THREADS=1 PYTHONPATH=python python bench/bench_separation_baselines.py
[--seeds 10] [--setups pulses square glitch deglitch wind] [--per-event]``
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, table  # noqa: E402

from scatclust.datasets import mars_separation_cases, separation_toy  # noqa: E402
from scatclust.separation import (bandpass_filter, fastica_separate, snr_db, snr_improvement_db,  # noqa: E402
                                  wiener_filter)

TOY_SETUPS = ("pulses", "square", "glitch")
MARS_SETUPS = ("deglitch", "wind")


def identity(x, priors):
    """Do nothing: the whole mixture is background, the other source is 0."""
    return np.array(x, copy=True), np.zeros_like(x)


BASELINES = {"identity": identity, "wiener": wiener_filter, "bandpass": bandpass_filter,
             "fastica": fastica_separate}


def _cases(setup, seed, n, R, mars_days):
    if setup in TOY_SETUPS:
        return [separation_toy(setup, n=n, R=R, seed=seed)]
    try:
        return mars_separation_cases(setup, n=n, R=R, seed=seed, days=mars_days)
    except ValueError as exc:  # too few source-free windows in this record
        print(f"# {setup} seed {seed}: skipped ({exc})", file=sys.stderr)
        return []


def _fmt(values):
    v = [x for x in values if np.isfinite(x)]
    if not v:
        return "-"
    return f"{statistics.fmean(v):.2f} ± {statistics.pstdev(v):.2f}"


def quality_table(methods, seeds=range(10), setups=TOY_SETUPS + MARS_SETUPS, n=2048, R=100, mars_days=0.5,
                  per_event=False, out=sys.stdout):
    """SNR of every method on every setup; prints Markdown tables and returns the rows.

    Parameters
    ----------
    methods : dict[str, callable]
        name -> ``method(x, priors) -> (background_estimate, other_estimate)``, both of
        x's shape. x is (n,) for the toy setups, (3, n) for the Mars-like ones; priors
        (R, *x.shape).
    seeds : iterable of int
        One toy case (resp. one Mars-like record) per seed and setup.
    setups : sequence of str
        Among 'pulses', 'square', 'glitch' (toy) and 'deglitch', 'wind' (Mars-like).
    n, R : int
        Window length and number of priors.
    mars_days : float
        Length of each Mars-like record in days.
    per_event : bool
        Also print one row per Mars-like event.
    out : file
        Where the tables go (None: print nothing).

    Returns
    -------
    list of dict
        One row per (setup, method): 'setup', 'method', 'count', 'snr_background',
        'snr_other', 'improvement' (lists of dB values, one per case), 'seconds' (median
        wall time per call); and for Mars-like setups 'events' (per-case dicts).
    """
    seeds = list(seeds)
    rows = []
    for setup in setups:
        results = {name: {"snr_background": [], "snr_other": [], "improvement": [], "times": [], "events": []}
                   for name in methods}
        for seed in seeds:
            for case in _cases(setup, seed, n, R, mars_days):
                for name, method in methods.items():
                    t0 = time.perf_counter()
                    with warnings.catch_warnings():  # FastICA convergence warnings on noise-like data
                        warnings.simplefilter("ignore")
                        bg, other = method(case.x, case.priors)
                    dt = time.perf_counter() - t0
                    r = results[name]
                    r["snr_background"].append(snr_db(bg, case.n))
                    r["snr_other"].append(snr_db(other, case.s))
                    r["improvement"].append(snr_improvement_db(bg, case.n, case.x))
                    r["times"].append(dt)
                    if setup in MARS_SETUPS:
                        ev = case.info["event"]
                        r["events"].append({"seed": seed, "start": case.info["start"], "onset": ev["onset"],
                                            "input_snr": snr_db(case.x, case.n),
                                            "improvement": r["improvement"][-1]})
        for name in methods:
            r = results[name]
            rows.append({"setup": setup, "method": name, "count": len(r["times"]),
                         "snr_background": r["snr_background"], "snr_other": r["snr_other"],
                         "improvement": r["improvement"],
                         "seconds": statistics.median(r["times"]) if r["times"] else float("nan"),
                         "events": r["events"]})
    if out is not None:
        _print(rows, seeds, n, R, mars_days, per_event, out)
    return rows


def _print(rows, seeds, n, R, mars_days, per_event, out):
    print(f"# {machine_description()}", file=out)
    print(f"# n = {n}, R = {R}, seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}); Mars-like records of "
          f"{mars_days} day(s)\n", file=out)
    toy = [r for r in rows if r["setup"] in TOY_SETUPS]
    if toy:
        print("Toy setups (MRW background): SNR in dB, mean ± std over seeds\n", file=out)
        print(table([(r["setup"], r["method"], r["count"], _fmt(r["snr_background"]), _fmt(r["snr_other"]),
                      f"{r['seconds'] * 1e3:.1f}") for r in toy],
                    ["setup", "method", "cases", "SNR background", "SNR contaminant", "ms / case"]), file=out)
    mars = [r for r in rows if r["setup"] in MARS_SETUPS]
    if mars:
        print("\nMars-like cases: SNR of the background estimate and its improvement over the input (dB), "
              "mean ± std over events\n", file=out)
        print(table([(r["setup"], r["method"], r["count"], _fmt(r["snr_background"]), _fmt(r["improvement"]),
                      f"{r['seconds'] * 1e3:.1f}") for r in mars],
                    ["setup", "method", "events", "SNR background", "SNR improvement", "ms / case"]), file=out)
        if per_event:
            for setup in dict.fromkeys(r["setup"] for r in mars):
                by_method = {r["method"]: r["events"] for r in mars if r["setup"] == setup}
                names = list(by_method)
                first = by_method[names[0]]
                body = [(setup, e["seed"], e["start"], f"{e['input_snr']:.1f}",
                         *(f"{by_method[m][i]['improvement']:.1f}" for m in names)) for i, e in enumerate(first)]
                print(f"\nPer event ({setup}): SNR improvement (dB)\n", file=out)
                print(table(body, ["setup", "seed", "window start", "input SNR", *names]), file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--setups", nargs="+", default=list(TOY_SETUPS + MARS_SETUPS),
                    choices=list(TOY_SETUPS + MARS_SETUPS))
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--R", type=int, default=100)
    ap.add_argument("--mars-days", type=float, default=0.5)
    ap.add_argument("--per-event", action="store_true")
    args = ap.parse_args()
    quality_table(BASELINES, seeds=range(args.seeds), setups=args.setups, n=args.n, R=args.R,
                  mars_days=args.mars_days, per_event=args.per_event)


if __name__ == "__main__":
    main()
