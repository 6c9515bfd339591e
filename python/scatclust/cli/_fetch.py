"""``scatclust fetch-insight``: InSight SEIS data from the IRIS FDSN service into an SDS archive."""
from __future__ import annotations

import os

from ._base import Command, ConfigError, Param

PARAMS = [
    Param("start", "", "first UTC day, e.g. 2019-05-23 (required)", unit="UTC date/time", type="str", flag=""),
    Param("end", "", "end of the span (UTC, exclusive, widened to whole days), e.g. 2019-05-25 (required)",
          unit="UTC date/time", type="str", flag=""),
    Param("sds_root", "", "root directory of the SDS archive, created if needed (required)", type="path", flag=""),
    Param("network", "XB", "SEED network code"),
    Param("station", "ELYSE", "SEED station code"),
    Param("location", "02", "SEED location code"),
    Param("channels", "BH?", "SEED channel pattern (BH?: VBB, 20 samples/s)"),
    Param("retries", 3, "attempts per day before giving up", unit="attempts", lo=1),
    Param("retry_wait", 30.0, "wait between two attempts", unit="s", lo=0.0),
    Param("overwrite", False, "download days again even if already complete (default: skip them, so an "
                              "interrupted download resumes)"),
]


def _check(ctx):
    c = ctx["fetch-insight"]
    for k in ("start", "end", "sds_root"):
        if not c[k]:
            raise ConfigError(f"fetch-insight: {k.upper()} is missing; give it as an argument or set "
                              f"[fetch-insight] {k} in the config")
    from obspy import UTCDateTime

    for k in ("start", "end"):
        try:
            UTCDateTime(c[k])
        except Exception:
            raise ConfigError(f"fetch-insight: {k}={c[k]!r} is not a UTC date/time; use e.g. 2019-05-23 "
                              f"or 2019-05-23T12:00:00") from None
    if UTCDateTime(c["end"]) <= UTCDateTime(c["start"]):
        raise ConfigError(f"fetch-insight: end={c['end']!r} must be after start={c['start']!r}")


def _run(ctx, plan):
    from ..io import fetch_insight

    c = ctx["fetch-insight"]
    os.makedirs(c["sds_root"], exist_ok=True)
    record = os.path.join(c["sds_root"], "scatclust-fetch-insight.toml")
    ctx.record(record, status="running")
    paths = fetch_insight(c["start"], c["end"], c["sds_root"], network=c["network"], station=c["station"],
                          location=c["location"], channels=c["channels"], retries=c["retries"],
                          retry_wait=c["retry_wait"], overwrite=c["overwrite"], verbose=ctx.verbose > 0)
    ctx.record(record, status="complete")
    ctx.log.info("%d file(s) written under %s", len(paths), c["sds_root"])
    if not ctx.quiet:
        print(f"{len(paths)} file(s) written under {c['sds_root']}")


COMMAND = Command(
    name="fetch-insight",
    help="download InSight SEIS day files (IRIS FDSN) into an SDS archive",
    description="Download continuous InSight SEIS data (XB.ELYSE by default) from the IRIS FDSN "
                "service into an SDS archive, one request per UTC day. Rerunning resumes: days "
                "already complete are skipped (a day counts as complete only once all its channel "
                "files are in place).\n\n  scatclust fetch-insight 2019-05-23 2019-05-25 /data/sds",
    params=PARAMS, run=_run, check=_check,
    positionals=[("start", "first UTC day"), ("end", "end (UTC, exclusive)"), ("sds_root", "SDS archive root")],
)
