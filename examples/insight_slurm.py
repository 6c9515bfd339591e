"""Extract InSight scattering features on a SLURM cluster with dask-jobqueue.

Usage (on the cluster's login node, inside the environment that has scatclust[seismic]
and dask-jobqueue installed)::

    python examples/insight_slurm.py /scratch/$USER/insight_sds /scratch/$USER/elyse.zarr \\
        --start 2019-03-01 --end 2020-03-01 --jobs 8 --cores 16 --memory 64GB \\
        --queue compute --account myproject --walltime 04:00:00

What it does
    1. Starts a ``dask_jobqueue.SLURMCluster``: every SLURM job runs ``--processes`` Dask
       worker processes; each worker runs one day at a time and gives the C++ kernel
       ``cores / processes`` OpenMP threads (``threads_per_worker`` of ``extract``), so a job
       uses exactly the cores it asked for (no OpenMP oversubscription).
    2. Calls :func:`scatclust.features.extract` with that cluster's ``Client``: one task per
       UTC day (read the SDS day files plus padding, prepare, window features, write the
       day's Zarr group). Days already complete in the store are skipped, so the same command
       resumes an interrupted or timed-out allocation; failed days are listed with reasons.
    3. Optionally (``--fit-stats``) computes the normalisation statistics over the stored days
       (in parallel on the same cluster) and stores them with the features.

Memory: a day at 20 Hz with the default pyramid (J = 8) needs ~0.5 GB per worker
(``bench/bench_extract.py`` reports the peak per worker); ``--memory`` is per job.
Fetch the data first with ``scatclust.io.fetch_insight`` (FDSN, IRIS) into the SDS tree.

dask-jobqueue is imported only here; scatclust itself does not depend on it.
"""
from __future__ import annotations

import argparse


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sds_root", help="root of the SDS archive (YEAR/NET/STA/CHA.D/...)")
    ap.add_argument("store", help="output feature store (Zarr directory)")
    ap.add_argument("--start", default=None, help="first UTC day, e.g. 2019-03-01")
    ap.add_argument("--end", default=None, help="end (exclusive), e.g. 2020-03-01")
    ap.add_argument("--location", default="02")
    ap.add_argument("--channels", default="BH?")
    ap.add_argument("--jobs", type=int, default=4, help="SLURM jobs to start")
    ap.add_argument("--cores", type=int, default=16, help="cores per job")
    ap.add_argument("--processes", type=int, default=4, help="Dask worker processes per job")
    ap.add_argument("--memory", default="64GB", help="memory per job")
    ap.add_argument("--queue", default=None)
    ap.add_argument("--account", default=None)
    ap.add_argument("--walltime", default="04:00:00")
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--fit-stats", action="store_true", help="store normalisation statistics afterwards")
    args = ap.parse_args()
    if args.cores % args.processes:
        ap.error(f"--cores={args.cores} must be a multiple of --processes={args.processes}")

    from dask_jobqueue import SLURMCluster  # only this example needs dask-jobqueue
    from distributed import Client

    from scatclust.features import extract
    from scatclust.io import PrepareConfig, SDSSource
    from scatclust.store import fit_normalization

    threads = args.cores // args.processes
    cluster = SLURMCluster(
        cores=args.processes,          # Dask task slots per job: one day per worker process
        processes=args.processes,
        memory=args.memory,
        queue=args.queue,
        account=args.account,
        walltime=args.walltime,
        job_cpu=args.cores,            # reserve every core of the job for the OpenMP kernel
        job_script_prologue=[f"export OMP_NUM_THREADS={threads}"],
    )
    cluster.scale(jobs=args.jobs)
    print(cluster.job_script())
    with Client(cluster) as client:
        src = SDSSource(args.sds_root, "XB", "ELYSE", args.location, args.channels)
        summary = extract(src, args.store, start=args.start, end=args.end,
                          prepare=PrepareConfig(components="UVW", detrend="linear"),
                          client=client, threads_per_worker=threads, retries=args.retries)
        print(summary)
        if args.fit_stats:
            stats = fit_normalization(args.store, client=client)
            print(f"normalisation statistics over {len(stats.days)} days stored in {args.store}")
    cluster.close()


if __name__ == "__main__":
    main()
