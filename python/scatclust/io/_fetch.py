"""Download InSight SEIS data (XB.ELYSE) day by day into an SDS archive with ObsPy's FDSN client."""
from __future__ import annotations

import os
import time

from obspy import Stream, UTCDateTime

from ._read import trim_half_open

__all__ = ["FetchError", "fetch_insight"]

DAY = 86400.0


class FetchError(RuntimeError):
    """A day could not be downloaded after all retries; the message names the request."""


def _sds_path(root, tr, day):
    s = tr.stats
    return os.path.join(root, f"{day.year}", s.network, s.station, f"{s.channel}.D",
                        f"{s.network}.{s.station}.{s.location}.{s.channel}.D."
                        f"{day.year}.{day.julday:03d}")


def _day_exists(root, network, station, location, channels, day):
    from glob import glob

    pattern = os.path.join(root, f"{day.year}", network, station, f"{channels}.D",
                           f"{network}.{station}.{location}.{channels}.D.{day.year}.{day.julday:03d}")
    return bool(glob(pattern))


def fetch_insight(start, end, sds_root, *, client=None, network="XB", station="ELYSE",
                  location="02", channels="BH?", retries=3, retry_wait=30.0,
                  overwrite=False, verbose=False) -> list:
    """Download continuous InSight data into an SDS tree, one FDSN request per UTC day.

    Parameters
    ----------
    start, end : obspy.UTCDateTime or str
        Time span; it is widened to whole UTC days (``[floor(start), ceil(end))``), since
        the archive holds one file per channel and day.
    sds_root : str
        Root of the SDS archive (created if needed); files go to
        ``YEAR/NET/STA/CHA.D/NET.STA.LOC.CHA.D.YEAR.DOY`` as miniSEED.
    client : object with ``get_waveforms(network, station, location, channel, starttime, endtime)``, optional
        Default: ``obspy.clients.fdsn.Client("IRIS")``, created on the first request.
    network, station, location, channels : str
        SEED codes; defaults XB.ELYSE.02.BH? (VBB, 20 samples/s).
    retries : int
        Attempts per day before giving up with :class:`FetchError`.
    retry_wait : float
        Seconds between attempts.
    overwrite : bool
        False (default) skips days that already have a file in the tree, so an interrupted
        download resumes where it stopped.  Files are written under a temporary name and
        renamed, so a crash never leaves a half-written day file.
    verbose : bool
        Print one line per day.

    Returns
    -------
    list of str
        Paths written, in order.  Days without data at the data centre write nothing.

    Raises
    ------
    FetchError
        A day failed ``retries`` times; the message gives the request and the last error.

    Examples
    --------
    >>> paths = fetch_insight("2019-05-23", "2019-05-24", "/data/sds")  # doctest: +SKIP
    """
    start = UTCDateTime(start)
    end = UTCDateTime(end)
    if end <= start:
        raise ValueError(f"end={end} must be after start={start}")
    if int(retries) < 1:
        raise ValueError(f"retries={retries} must be >= 1")
    os.makedirs(sds_root, exist_ok=True)
    day = UTCDateTime(start.year, start.month, start.day)
    written = []
    while day < end:
        nxt = day + DAY
        if not overwrite and _day_exists(sds_root, network, station, location, channels, day):
            if verbose:
                print(f"{day.date}: already in {sds_root}, skipped")
            day = nxt
            continue
        if client is None:
            from obspy.clients.fdsn import Client

            client = Client("IRIS")
        request = f"{network}.{station}.{location}.{channels} {day} - {nxt}"
        st = None
        last = None
        for attempt in range(int(retries)):
            try:
                st = client.get_waveforms(network, station, location, channels, day, nxt)
                break
            except Exception as exc:
                if type(exc).__name__ == "FDSNNoDataException":
                    st = Stream()
                    break
                last = exc
                if attempt + 1 < int(retries):
                    time.sleep(float(retry_wait))
        if st is None:
            raise FetchError(f"request {request} failed {retries} time(s); last error: "
                             f"{type(last).__name__}: {last}") from last
        # keep the day's own samples, [day, next midnight)
        trim_half_open(st, day, nxt)
        for sid in sorted({tr.id for tr in st}):
            part = st.select(id=sid).split()  # miniSEED cannot store masked (gappy) arrays
            path = _sds_path(sds_root, part[0], day)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".part"
            part.write(tmp, format="MSEED")
            os.replace(tmp, path)
            written.append(path)
        if verbose:
            print(f"{day.date}: {len(st)} trace(s) written")
        day = nxt
    return written
