"""``scatclust features``: archive -> Zarr feature store (:func:`scatclust.features.extract`)."""
from __future__ import annotations

import glob
import os

from ._base import Command, ConfigError, Param

_DETRENDS = ("", "constant", "linear", "spline")

PARAMS = [
    Param("archive", "", "data to read: an SDS root directory, a miniSEED file or a glob such as "
                         "'data/*.mseed' (required)", type="path", flag=""),
    Param("store", "", "feature store directory (Zarr), created if missing (required)", type="path", flag=""),
    Param("network", "XB", "SEED network code (SDS archives; wildcards ? and * allowed)"),
    Param("station", "ELYSE", "SEED station code (SDS archives)"),
    Param("location", "02", "SEED location code (SDS archives)"),
    Param("channel", "BH?", "SEED channel pattern (SDS archives)"),
    Param("start", "", "first UTC day to process; '' = the archive's first day", unit="UTC date/time"),
    Param("end", "", "end of the span (UTC, exclusive); '' = after the archive's last day",
          unit="UTC date/time"),
    Param("workers", 1, "Dask worker processes: 1 runs every day in this process (no Dask), 0 starts a "
                        "LocalCluster with one worker per core, N > 1 a LocalCluster of N workers",
          unit="processes", lo=0),
    Param("scheduler", "", "address of a running Dask scheduler (e.g. tcp://node:8786, started by "
                           "dask-jobqueue); overrides workers; '' = none"),
    Param("threads", 0, "OpenMP threads of the feature kernel per worker; 0 = cores / workers",
          unit="threads", lo=0),
    Param("retries", 2, "extra attempts for a day whose task crashed (data errors are not retried)",
          unit="attempts", lo=0),
    Param("gaps", "drop", "windows touching a gap: 'drop' leaves them out, 'mask' keeps them with NaN "
                          "features", choices=("drop", "mask")),
    Param("longitude", [], "east longitude for the local-time coordinate; [] = automatic (InSight LMST "
                           "for station ELYSE, none otherwise)", unit="degrees", type="float_list",
          length=(0, 1), lo=-180.0, hi=360.0),
    Param("overwrite", False, "recompute days already complete in the store (default: skip them, which "
                              "also resumes an interrupted run)"),
    Param("normalization", True, "fit the per-(scale, coefficient) mean/std statistics of the store after "
                                 "extraction"),
    Param("fftw_planner", "estimate", "FFTW planning effort; 'estimate' gives the same plans (and bits) in "
                                      "every run, the others time candidate algorithms",
          choices=("estimate", "measure", "patient", "auto")),
    # [features.prepare]: scatclust.io.PrepareConfig
    Param("prepare.detrend", "linear", "detrend every contiguous segment; '' = none", choices=_DETRENDS),
    Param("prepare.spline_order", 2, "spline order of detrend='spline'", lo=1, hi=5),
    Param("prepare.spline_dspline", 3600.0, "spline knot spacing of detrend='spline'", unit="s", lo=1e-9),
    Param("prepare.gap_policy", "drop", "'drop': gaps stay gaps; 'interpolate': fill gaps up to max_gap "
                                        "linearly", choices=("drop", "interpolate")),
    Param("prepare.max_gap", 0.0, "longest gap filled by gap_policy='interpolate'", unit="s", lo=0.0),
    Param("prepare.taper", 0.0, "Hann taper fraction per side of every segment; 0 = none", unit="fraction",
          lo=0.0, hi=0.5),
    Param("prepare.bandpass", [], "Butterworth band-pass [freqmin, freqmax] (4 corners, zero phase); "
                                  "[] = none", unit="Hz", type="float_list", length=(0, 2), lo=0.0),
    Param("prepare.inventory", "", "StationXML file for response removal; '' = keep counts", type="path"),
    Param("prepare.response_output", "VEL", "output of the response removal",
          choices=("DISP", "VEL", "ACC", "DEF")),
    Param("prepare.pre_filt", [], "pre-filter corners [f1, f2, f3, f4] of the response removal; [] = none",
          unit="Hz", type="float_list", length=(0, 4), lo=0.0),
    Param("prepare.sampling_rate", 0.0, "resample every channel to this rate; 0 = keep the data's rate",
          unit="Hz", lo=0.0),
    Param("prepare.components", "", "channel order by last letter, e.g. 'UVW' or 'ZNE' (sets the channel "
                                    "count); '' = every channel, 3 expected"),
    Param("prepare.dtype", "float32", "precision of the stored features", choices=("float32", "float64")),
    # [features.pyramid]: scatclust.ScatteringPyramid
    Param("pyramid.J", 8, "octaves of the scattering spectra", unit="octaves", lo=1, hi=24),
    Param("pyramid.scales", [1024, 4096, 16384, 65536], "nested window lengths, increasing, multiples of "
                                                       "hop and >= 2**J", unit="samples", type="int_list", lo=1),
    Param("pyramid.hop", 1024, "window step", unit="samples", lo=1),
    Param("pyramid.wavelet", "battle_lemarie", "mother wavelet", choices=("battle_lemarie", "morlet")),
    Param("pyramid.families", [], "moment families to compute; [] = all", type="str_list",
          choices=("mean", "sparsity", "power", "envelope", "phase_env", "env_cross", "cross_power",
                   "cross_env")),
    Param("pyramid.cross_channel", False, "add the cross-channel moment families"),
    Param("pyramid.normalize", "", "normalisation of the moments; '' = none",
          choices=("", "each_ps", "correlation")),
]


def prepare_config(c):
    """:class:`scatclust.io.PrepareConfig` of a [features] table."""
    from ..io import PrepareConfig

    g = {k.split(".", 1)[1]: v for k, v in c.items() if k.startswith("prepare.")}
    if len(g["bandpass"]) == 1 or len(g["pre_filt"]) not in (0, 4):
        raise ConfigError(f"[features.prepare] bandpass={g['bandpass']} / pre_filt={g['pre_filt']}: give "
                          f"2 / 4 frequencies or [] for none")
    return PrepareConfig(
        detrend=g["detrend"] or None, spline_order=g["spline_order"], spline_dspline=g["spline_dspline"],
        gap_policy=g["gap_policy"], max_gap=g["max_gap"], taper=g["taper"] or None,
        bandpass=tuple(g["bandpass"]) or None, inventory=g["inventory"] or None,
        response_output=g["response_output"], pre_filt=tuple(g["pre_filt"]) or None,
        sampling_rate=g["sampling_rate"] or None, components=g["components"] or None, dtype=g["dtype"])


def build_pyramid(c):
    """:class:`scatclust.ScatteringPyramid` of a [features] table (C from prepare.components, else 3)."""
    from .._pyramid import ScatteringPyramid

    g = {k.split(".", 1)[1]: v for k, v in c.items() if k.startswith("pyramid.")}
    comps = c["prepare.components"]
    return ScatteringPyramid(g["J"], tuple(g["scales"]), g["hop"], C=len(comps) if comps else 3,
                             wavelet=g["wavelet"], families=tuple(g["families"]) or None,
                             cross_channel=g["cross_channel"], normalize=g["normalize"] or None)


def set_fftw_planner(effort):
    """Planner effort here and in worker processes started later (they inherit the environment)."""
    from .. import fft

    os.environ["SCATCLUST_FFTW_PLANNER"] = effort
    fft.set_planner(effort)


def archive_source(c):
    """What :func:`extract` reads: an SDSSource for a directory, else the path / glob itself."""
    a = c["archive"]
    if os.path.isdir(a):
        from ..io import SDSSource

        return SDSSource(a, c["network"], c["station"], c["location"], c["channel"])
    if not glob.glob(a):
        raise ConfigError(f"features: archive={a!r} matches no file or directory; give an SDS root, a "
                          f"miniSEED file or a glob such as 'data/*.mseed'")
    return a


def _check(ctx):
    c = ctx["features"]
    for k in ("archive", "store"):
        if not c[k]:
            raise ConfigError(f"features: {k.upper()} is missing; give it as an argument or set [features] "
                              f"{k} in the config")
    for k in ("start", "end"):
        if c[k]:
            from obspy import UTCDateTime

            try:
                UTCDateTime(c[k])
            except Exception:
                raise ConfigError(f"features: {k}={c[k]!r} is not a UTC date/time; use e.g. 2019-06-01") from None
    if os.path.isfile(c["store"]):
        raise ConfigError(f"features: store={c['store']!r} is a file; the feature store is a directory")
    return {"source": archive_source(c), "prepare": _named("[features.prepare]", prepare_config, c),
            "pyramid": _named("[features.pyramid]", build_pyramid, c)}


def _named(table, build, c):
    """build(c), with the table named in a configuration error (the library names the key)."""
    try:
        return build(c)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{table}: {exc}") from exc


def run_features(ctx, c, plan):
    """Extract features as configured by table ``c``; returns the ExtractSummary (demo reuses it)."""
    from ..features import extract
    from ..store import fit_normalization

    set_fftw_planner(c["fftw_planner"])
    store = c["store"]
    os.makedirs(store, exist_ok=True)
    record = os.path.join(store, "scatclust-features.toml")
    ctx.record(record, status="running", tables=("features",))
    client = None
    if c["scheduler"]:
        client = c["scheduler"]
    elif c["workers"] == 1:
        client = False
    kw = dict(start=c["start"] or None, end=c["end"] or None, prepare=plan["prepare"], pyramid=plan["pyramid"],
              client=client, retries=c["retries"], progress=ctx.progress, gaps=c["gaps"],
              longitude=c["longitude"][0] if c["longitude"] else None, overwrite=c["overwrite"])
    if c["threads"]:
        kw["threads_per_worker"] = c["threads"]
    if client is None and c["workers"] > 1:
        kw["n_workers"] = c["workers"]
    ctx.log.info("extracting features of %s into %s", c["archive"], store)
    summary = extract(plan["source"], store, **kw)
    for line in str(summary).splitlines():
        ctx.log.info("%s", line)
    if summary.n_windows or summary.skipped:
        if c["normalization"]:
            stats = fit_normalization(store)
            ctx.log.info("normalisation statistics of %d day(s) stored", len(stats.days))
    ctx.record(record, status="complete" if summary.ok else "failed days", tables=("features",))
    return summary


def _run(ctx, plan):
    summary = run_features(ctx, ctx["features"], plan)
    if not ctx.quiet:
        print(summary)
    if not summary.ok:
        ctx.log.error("%d day(s) failed (see above); the other days are stored", len(summary.failed))
        return 1
    if not (summary.processed or summary.skipped):
        ctx.log.error("no day produced features (%s)", "; ".join(f"{k}: {v}" for k, v in summary.empty.items())
                      or "no data in the archive for the span")
        return 1
    return None


COMMAND = Command(
    name="features",
    help="compute window features of an archive into a Zarr feature store (Dask optional)",
    description="Read an archive (SDS root, miniSEED files or a glob) day by day, prepare the "
                "records (merge, gaps, detrend, filters, response, resampling), compute the "
                "multi-scale scattering-spectra features of every window and write one store group "
                "per station-day. A group is marked complete only after all its arrays are on disk, "
                "so an interrupted run keeps every finished day and a rerun continues with the rest."
                "\n\n  scatclust features /data/sds elyse.zarr --start 2019-06-01 --end 2019-07-01 "
                "--workers 0",
    params=PARAMS, run=_run, check=_check,
    positionals=[("archive", "SDS root, miniSEED file or glob"), ("store", "feature store directory")],
)
