"""Archive -> feature store with scatclust.features.extract: 1 vs 2 Dask workers.

    python bench/bench_extract.py            # 3 days of synthetic InSight-like data (J = 8)
    python bench/bench_extract.py --quick    # 6 hours (smoke run)

Workload (InSight, arXiv 2305.16189): a multi-day 3-component 20 samples/s record from
``scatclust.datasets.synthetic_mars`` written to a temporary SDS tree (one miniSEED file per
channel and day, as the IRIS archive of XB.ELYSE.02.BH?), then extracted with the default
pyramid (J = 8, scales 1024/4096/16384/65536, hop 1024, 210 complex moments per channel, stored
as 294 real columns x 3 channels) and the default preparation (linear detrend).

Rows: ``client=False`` (in-process, all cores to the kernel), then LocalCluster runs with 1
and 2 worker processes x 1 kernel thread. Reported: wall time, stored feature values per
second (windows x scales x coefficients), peak resident memory of each worker process
(ru_maxrss, includes the import of scatclust/obspy/zarr), and the extrapolated time for one
InSight year (365 days = 365 x the measured wall time per day). Each run writes a fresh
store; the first day on each worker includes building filters and FFT plans.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, table  # noqa: E402


def write_sds(st, root):
    import obspy

    for tr in st:
        d = obspy.UTCDateTime(tr.stats.starttime.date)
        while d < tr.stats.endtime:
            piece = tr.slice(d, d + 86400 - 1e-3)
            s = tr.stats
            folder = os.path.join(root, str(d.year), s.network, s.station, f"{s.channel}.D")
            os.makedirs(folder, exist_ok=True)
            piece.write(os.path.join(folder, f"{s.network}.{s.station}.{s.location}.{s.channel}.D."
                                             f"{d.year}.{d.julday:03d}"), format="MSEED")
            d += 86400


def fmt_t(t):
    if t < 120:
        return f"{t:.1f} s"
    return f"{t / 60:.1f} min" if t < 7200 else f"{t / 3600:.1f} h"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="6 hours of data instead of 3 days")
    ap.add_argument("--days", type=float, default=None, help="record length in days (default 3, quick 0.25)")
    ap.add_argument("--workers", default="0,1,2", help="comma list; 0 = in-process (client=False)")
    args = ap.parse_args()
    days = args.days or (0.25 if args.quick else 3.0)

    from scatclust.datasets import synthetic_mars
    from scatclust.features import extract
    from scatclust.io import PrepareConfig, SDSSource

    print(machine_description())
    tmp = tempfile.mkdtemp(prefix="bench_extract_")
    try:
        t0 = time.perf_counter()
        syn = synthetic_mars("multiday", days=days, seed=0)
        write_sds(syn.to_stream(), os.path.join(tmp, "sds"))
        del syn
        print(f"synthetic archive: {days:g} days, 3 x 20 Hz, written in {time.perf_counter() - t0:.1f} s")
        src = SDSSource(os.path.join(tmp, "sds"), "XB", "ELYSE", "02", "BH?")
        prep = PrepareConfig(components="UVW")
        rows = []
        for w in (int(v) for v in args.workers.split(",")):
            out = os.path.join(tmp, f"store_{w}.zarr")
            kw = dict(client=False) if w == 0 else dict(n_workers=w, threads_per_worker=1)
            t0 = time.perf_counter()
            s = extract(src, out, prepare=prep, progress=False, **kw)
            wall = time.perf_counter() - t0
            assert s.ok, str(s)
            n_days = len(s.processed)
            per_day = wall / max(days, 1e-9)
            rss = s.peak_rss_mb
            rows.append([s.workers if w == 0 else f"LocalCluster {w} x 1 thread", n_days, s.n_windows,
                         fmt_t(wall), f"{s.features_per_second / 1e6:.2f} M/s",
                         ", ".join(f"{v:.0f}" for v in rss.values()) + " MB",
                         fmt_t(per_day * 365)])
            shutil.rmtree(out)
        print(table(rows, ["run", "days", "windows", "wall (incl. start-up)", "features/s",
                           "peak RSS per worker", "InSight year (365 d)"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
