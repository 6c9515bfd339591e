"""Command line of scatclust.io.

    python -m scatclust.io fetch-insight 2019-05-23 2019-05-25 /data/insight_sds
    python -m scatclust.io fetch-insight 2019-05-23 2019-05-25 /data/sds --channels "BH?" --location 02 -v

Downloads continuous InSight SEIS data (XB.ELYSE) from the IRIS FDSN service into an SDS
archive, one request per UTC day; re-running resumes (days already complete are skipped).
The full pipeline CLI (features, clustering, figures) is ``scatclust`` (issue 9).
"""
from __future__ import annotations

import argparse
import sys


def main(argv=None, client=None):
    """Entry point; ``client`` replaces the FDSN client (tests). Returns the exit status."""
    ap = argparse.ArgumentParser(prog="python -m scatclust.io", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch-insight", help="download XB.ELYSE day files into an SDS archive")
    f.add_argument("start", help="first day (UTC), e.g. 2019-05-23")
    f.add_argument("end", help="end (UTC, exclusive; widened to whole days), e.g. 2019-05-25")
    f.add_argument("sds_root", help="root directory of the SDS archive (created if needed)")
    f.add_argument("--network", default="XB")
    f.add_argument("--station", default="ELYSE")
    f.add_argument("--location", default="02")
    f.add_argument("--channels", default="BH?", help="SEED channel pattern (default BH?: VBB, 20 sps)")
    f.add_argument("--retries", type=int, default=3)
    f.add_argument("--retry-wait", type=float, default=30.0, help="seconds between attempts")
    f.add_argument("--overwrite", action="store_true", help="download days again even if complete")
    f.add_argument("-v", "--verbose", action="store_true", help="one line per day")
    args = ap.parse_args(argv)

    from . import FetchError, fetch_insight

    try:
        paths = fetch_insight(args.start, args.end, args.sds_root, client=client, network=args.network,
                              station=args.station, location=args.location, channels=args.channels,
                              retries=args.retries, retry_wait=args.retry_wait, overwrite=args.overwrite,
                              verbose=args.verbose)
    except (FetchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(paths)} file(s) written under {args.sds_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
