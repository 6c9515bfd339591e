"""Reading waveforms: ObsPy Streams, files, globs, lists and SDS archives, one UTC day at a time.

Every file is read on its own so that a failure names the file.  A truncated or corrupt
miniSEED file makes ObsPy skip the damaged records with an ``InternalMSEEDWarning``; here
that warning is an error (:class:`ReadError`), because silently losing the end of a day is
worse than reporting it.
"""
from __future__ import annotations

import dataclasses
import glob as _glob
import os
import re
import warnings
from typing import Iterator

import obspy
from obspy import Stream, Trace, UTCDateTime

__all__ = ["DayData", "ReadError", "SDSSource", "iter_days", "read"]

DAY = 86400.0


class ReadError(ValueError):
    """A waveform file could not be read; the message names the file and the cause."""


@dataclasses.dataclass
class SDSSource:
    """A SeisComP Data Structure archive and the channels to read from it.

    Parameters
    ----------
    root : str
        Root folder of the archive (``root/YEAR/NET/STA/CHA.D/NET.STA.LOC.CHA.D.YEAR.DOY``).
    network, station, location, channel : str
        SEED codes; each may use the wildcards ``?`` and ``*`` (e.g. ``channel="BH?"``).

    Examples
    --------
    >>> src = SDSSource("/data/sds", "XB", "ELYSE", "02", "BH?")  # doctest: +SKIP
    """

    root: str
    network: str
    station: str
    location: str
    channel: str


@dataclasses.dataclass
class DayData:
    """One UTC day of data yielded by :func:`iter_days`.

    Attributes
    ----------
    day : obspy.UTCDateTime
        Midnight (UTC) that starts the day.
    stream : obspy.Stream
        Data in ``[day - pad, day + 86400 s + pad)``; empty when ``error`` is set.
    files : list of str
        Files that were read (or tried) for this day.
    error : str or None
        None on success, else a message naming the file that failed and why.
    """

    day: UTCDateTime
    stream: Stream
    files: list
    error: str | None = None


def _utc(t, name):
    if t is None or isinstance(t, UTCDateTime):
        return t
    try:
        return UTCDateTime(t)
    except Exception as exc:  # UTCDateTime raises TypeError/ValueError/Exception subclasses
        raise ValueError(f"{name}={t!r} is not a time ObsPy understands ({exc}); "
                         "pass an obspy.UTCDateTime or an ISO string like '2019-06-01T00:00:00'") from None


def _midnight(t: UTCDateTime) -> UTCDateTime:
    return UTCDateTime(t.year, t.month, t.day)


def _read_file(path, *, format=None, starttime=None, endtime=None, headonly=False) -> Stream:
    """obspy.read of one file; any failure (incl. miniSEED corruption warnings) -> ReadError."""
    kwargs = {}
    if format is not None:
        kwargs["format"] = format
    if starttime is not None:
        kwargs["starttime"] = starttime
    if endtime is not None:
        kwargs["endtime"] = endtime
    if headonly:
        kwargs["headonly"] = True
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            st = obspy.read(path, **kwargs)
    except Exception as exc:
        raise ReadError(f"cannot read {path!s}: {type(exc).__name__}: {exc}") from exc
    for w in caught:
        if w.category.__name__ == "InternalMSEEDWarning":
            raise ReadError(f"cannot read {path!s}: corrupt or truncated file ({w.message})")
        # other warnings are passed on unchanged
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return st


def _expand_paths(source) -> list:
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    paths = []
    for item in items:
        if isinstance(item, (Stream, Trace)):
            raise TypeError("a list source must hold file paths or globs only, "
                            f"got a {type(item).__name__}; pass the Stream itself instead")
        s = os.fspath(item)
        if os.path.isfile(s):
            paths.append(s)
            continue
        matched = sorted(p for p in _glob.glob(s) if os.path.isfile(p))
        if not matched:
            raise FileNotFoundError(f"no file matches {s!r}; check the path or glob pattern")
        paths.extend(matched)
    return paths


def _sds_client(src: SDSSource):
    from obspy.clients.filesystem.sds import Client

    if not os.path.isdir(src.root):
        raise FileNotFoundError(f"SDS root {src.root!r} is not a directory")
    return Client(src.root)


def _sds_files(client, src: SDSSource, starttime, endtime) -> list:
    # The client knows the SDS layout and how far into neighbouring day files data may
    # spill (fileborder_seconds / fileborder_samples); we read the files ourselves so that
    # a failure can name the file.
    return sorted(client._get_filenames(src.network, src.station, src.location, src.channel,
                                        starttime, endtime))


def _read_sds(src: SDSSource, starttime, endtime, *, format=None) -> tuple:
    client = _sds_client(src)
    files = _sds_files(client, src, starttime, endtime)
    st = Stream()
    for f in files:
        st += _read_file(f, format=format, starttime=starttime, endtime=endtime)
    st = st.select(network=src.network, station=src.station, location=src.location,
                   channel=src.channel)
    return st, files


def _slice(st: Stream, starttime, endtime) -> Stream:
    if starttime is None and endtime is None:
        return Stream(traces=list(st))
    return st.slice(starttime, endtime, nearest_sample=False)


def read(source, *, format=None, starttime=None, endtime=None) -> Stream:
    """Read waveforms from any supported source into one ObsPy Stream.

    Parameters
    ----------
    source : obspy.Stream, obspy.Trace, str, os.PathLike, list of those, or SDSSource
        A Stream/Trace (returned as a new Stream holding the same traces), a file path, a
        glob pattern (``"/data/*.mseed"``), a list of paths/globs, or an :class:`SDSSource`
        (which needs ``starttime`` and ``endtime``).
    format : str, optional
        ObsPy format name (``"MSEED"``, ``"SAC"``...); None lets ObsPy detect it.
    starttime, endtime : obspy.UTCDateTime or str, optional
        Keep only the samples with ``starttime <= t <= endtime`` (ObsPy's trim with
        ``nearest_sample=False``).  For miniSEED, records outside the span are not decoded.

    Returns
    -------
    obspy.Stream
        Unmerged traces, as stored.

    Raises
    ------
    ReadError
        A file could not be read (corrupt, truncated, unknown format); the message names it.
    FileNotFoundError
        A path or glob matches no file.

    Examples
    --------
    >>> import obspy
    >>> from scatclust.io import read
    >>> st = read(obspy.read())          # ObsPy's example stream, 3 traces
    >>> len(st)
    3
    """
    starttime = _utc(starttime, "starttime")
    endtime = _utc(endtime, "endtime")
    if starttime is not None and endtime is not None and endtime <= starttime:
        raise ValueError(f"endtime={endtime} must be after starttime={starttime}")
    if isinstance(source, Trace):
        return _slice(Stream([source]), starttime, endtime)
    if isinstance(source, Stream):
        return _slice(source, starttime, endtime)
    if isinstance(source, SDSSource):
        if starttime is None or endtime is None:
            raise ValueError("reading an SDSSource needs starttime and endtime "
                             "(use iter_days to walk the whole archive one day at a time)")
        st, _ = _read_sds(source, starttime, endtime, format=format)
        st.trim(starttime, endtime, nearest_sample=False)
        return st
    if not isinstance(source, (str, os.PathLike, list, tuple)):
        raise TypeError(f"source of type {type(source).__name__} is not supported; pass an "
                        "obspy Stream/Trace, a path, a glob, a list of paths or an SDSSource")
    st = Stream()
    for path in _expand_paths(source):
        st += _read_file(path, format=format, starttime=starttime, endtime=endtime)
    if starttime is not None or endtime is not None:
        st.trim(starttime, endtime, nearest_sample=False)
    return st


def _day_window(day, pad):
    # [day - pad, day + 1 d + pad]; the end is made half-open by _trim_half_open
    return day - pad, day + DAY + pad


def trim_half_open(st: Stream, t0, t1) -> Stream:
    """Keep, in place, the samples with t0 <= time < t1 (the sample at t1 belongs to the
    next span).  ObsPy's trim is inclusive (and rounds sample positions to 1e-7), so the end
    is moved 1e-4 sample earlier."""
    for tr in st:
        tr.trim(t0, t1 - 1e-4 * tr.stats.delta, nearest_sample=False)
    st.traces = [tr for tr in st if tr.stats.npts > 0]
    return st


_SDS_DAY = re.compile(r"\.(\d{4})\.(\d{3})$")


def _sds_days(client, src: SDSSource) -> list:
    pattern = os.path.join(src.root, client.FMTSTR.format(
        network=src.network, station=src.station, location=src.location, channel=src.channel,
        sds_type=client.sds_type, year="*", doy=0).replace(".000", ".*"))
    days = set()  # UTCDateTime is not hashable: keep integer nanoseconds
    for path in _glob.glob(pattern):
        m = _SDS_DAY.search(path)
        if m:
            days.add(UTCDateTime(year=int(m.group(1)), julday=int(m.group(2))).ns)
    return [UTCDateTime(ns=d) for d in sorted(days)]


def _day_range(first: UTCDateTime, last: UTCDateTime):
    d = _midnight(first)
    while d < last:
        yield d
        d = d + DAY


def _iter_sds(src, start, end, pad, format):
    client = _sds_client(src)
    own_days = _sds_days(client, src)
    if start is not None:
        own_days = [d for d in own_days if d + DAY > start]
    if end is not None:
        own_days = [d for d in own_days if d < end]
    for day in own_days:
        t0, t1 = _day_window(day, pad)
        files = _sds_files(client, src, t0, t1)
        own = f".{day.year}.{day.julday:03d}"
        st = Stream()
        error = None
        for f in files:
            try:
                st += _read_file(f, format=format, starttime=t0, endtime=t1)
            except ReadError as exc:
                if f.endswith(own):
                    error = str(exc)
                    break
                # a neighbouring day's file, read only for spill-over and padding: its
                # data are left out (prepare marks them as gaps) and the day goes on
                warnings.warn(f"{day.date}: neighbouring file skipped: {exc}", stacklevel=3)
        if error is not None:
            yield DayData(day, Stream(), files, error)
            continue
        st = st.select(network=src.network, station=src.station, location=src.location,
                       channel=src.channel)
        trim_half_open(st, t0, t1)
        yield DayData(day, st, files, None)


def _iter_files(paths, start, end, pad, format):
    # Scan headers first (cheap: no samples are decoded) to learn which days each file
    # covers, then read, day by day, only the files that overlap the day.
    spans = {}
    unplaced = []
    for p in paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # damaged files are reported at read time
                hdr = obspy.read(p, headonly=True, **({"format": format} if format else {}))
        except Exception as exc:
            unplaced.append((p, f"cannot read {p}: {type(exc).__name__}: {exc}"))
            continue
        if len(hdr):
            spans[p] = (min(tr.stats.starttime for tr in hdr), max(tr.stats.endtime for tr in hdr))
    # a file that cannot even be scanned is attached to the day its SDS-style name gives
    bad_days = {}
    for p, msg in unplaced:
        m = _SDS_DAY.search(p)
        day = UTCDateTime(year=int(m.group(1)), julday=int(m.group(2))) if m else None
        if day is None:
            yield DayData(None, Stream(), [p], msg + " (its day is unknown)")
        else:
            bad_days.setdefault(day.ns, []).append((p, msg))
    days = set(bad_days)  # integer nanoseconds (UTCDateTime is not hashable)
    for a, b in spans.values():
        days.update(d.ns for d in _day_range(a, b + 1e-9))
    for day_ns in sorted(days):
        day = UTCDateTime(ns=day_ns)
        if (start is not None and day + DAY <= start) or (end is not None and day >= end):
            continue
        if day_ns in bad_days:
            bad = bad_days[day_ns]
            yield DayData(day, Stream(), [p for p, _ in bad], bad[0][1])
            continue
        t0, t1 = _day_window(day, pad)
        files = [p for p, (a, b) in spans.items() if a <= t1 and b >= t0]
        try:
            st = Stream()
            for f in files:
                st += _read_file(f, format=format, starttime=t0, endtime=t1)
        except ReadError as exc:
            yield DayData(day, Stream(), files, str(exc))
            continue
        trim_half_open(st, t0, t1)
        yield DayData(day, st, files, None)


def _iter_stream(st, start, end, pad):
    if not len(st):
        return
    a = min(tr.stats.starttime for tr in st)
    b = max(tr.stats.endtime for tr in st)
    for day in _day_range(a, b + 1e-9):
        if (start is not None and day + DAY <= start) or (end is not None and day >= end):
            continue
        t0, t1 = _day_window(day, pad)
        sub = Stream([tr.slice(t0, t1 - 1e-4 * tr.stats.delta, nearest_sample=False)
                      for tr in st])
        sub.traces = [tr for tr in sub if tr.stats.npts > 0]
        if len(sub):
            yield DayData(day, sub, [], None)


def iter_days(source, start=None, end=None, *, pad: float = 0.0, format=None) -> Iterator[DayData]:
    """Yield the data one UTC day at a time, never loading more than a day (plus ``pad``).

    Parameters
    ----------
    source : SDSSource, path, glob, list of paths, obspy.Stream or obspy.Trace
        Where the data are.  Files are scanned (headers only) and read per day; an SDS
        archive is walked through its day files.
    start, end : obspy.UTCDateTime or str, optional
        Only days that overlap ``[start, end)``; default: every day with data.
    pad : float
        Seconds of data kept before and after each day (from the neighbouring day files),
        so that filters can be run without edge effects and then cut back.
    format : str, optional
        ObsPy format name; None lets ObsPy detect it.

    Yields
    ------
    DayData
        ``stream`` holds the samples in ``[day - pad, day + 86400 s + pad)``, unmerged.  Days
        are in increasing order; a day without any file of its own (SDS) or without any data
        is not yielded.  A day whose files fail to read gives ``error`` (naming the file) and
        an empty stream; the following days are still read.

    Examples
    --------
    >>> import obspy
    >>> from scatclust.io import iter_days
    >>> [d.day.date.isoformat() for d in iter_days(obspy.read())]
    ['2009-08-24']
    """
    start = _utc(start, "start")
    end = _utc(end, "end")
    pad = float(pad)
    if not pad >= 0.0:
        raise ValueError(f"pad={pad} must be >= 0 seconds")
    if start is not None and end is not None and end <= start:
        raise ValueError(f"end={end} must be after start={start}")
    if isinstance(source, Trace):
        source = Stream([source])
    if isinstance(source, Stream):
        yield from _iter_stream(source, start, end, pad)
    elif isinstance(source, SDSSource):
        yield from _iter_sds(source, start, end, pad, format)
    elif isinstance(source, (str, os.PathLike, list, tuple)):
        yield from _iter_files(_expand_paths(source), start, end, pad, format)
    else:
        raise TypeError(f"source of type {type(source).__name__} is not supported; pass an "
                        "obspy Stream/Trace, a path, a glob, a list of paths or an SDSSource")
