"""Dask runner: archive -> per-day tasks (read, prepare, window features, store write).

The runner only composes stages (``scatclust.io`` -> :func:`window_features` ->
:class:`scatclust.store.FeatureStore`); each task handles one UTC day of one station and
writes only that day's group, so tasks never share an output chunk and can run anywhere.

Padding and the window grid
    A day's record starts ``B = (max_scale + ceil(margin / hop) * hop) / fs`` seconds before
    midnight (a whole number of hops, read from the previous day's files) and ends ``margin``
    samples after the next midnight, so every window whose end lies in ``(midnight, next
    midnight]`` is computed from real neighbouring data (no padding artefacts at day
    boundaries) and window ends fall on a grid of ``hop`` samples anchored at midnight (to
    within the data's sub-sample offset). Windows are assigned to the day of their end time;
    the missing data before an archive's first day makes the first windows gap windows.

Threads
    ``LocalCluster`` workers run one task at a time (dask ``threads_per_worker=1``: one day in
    memory per worker) and give the C++ kernel ``threads_per_worker`` OpenMP threads, with
    ``n_workers * threads_per_worker`` = the available cores by default (one worker per core).
    Results do not depend on the thread count (the core's reductions have a fixed order).
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys
import time

import numpy as np

__all__ = ["extract", "ExtractSummary", "DayResult"]

DAY_S = 86400.0
_NS = 1_000_000_000


@dataclasses.dataclass
class DayResult:
    """Outcome of one day: status 'processed', 'skipped' (already complete), 'empty' (no
    usable data) or 'failed' (reason says why)."""

    name: str
    status: str
    n_windows: int = 0
    n_dropped_gap: int = 0
    reason: str = ""
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    worker: str = ""


@dataclasses.dataclass
class ExtractSummary:
    """Summary returned by :func:`extract`.

    Attributes
    ----------
    results : list of DayResult, in day order
    seconds : float, wall time of the run
    n_coefficients, n_scales : int, features per window and scale
    workers : str, how the run was executed
    """

    results: list
    seconds: float
    n_scales: int
    n_coefficients: int
    workers: str

    def _by(self, status):
        return [r for r in self.results if r.status == status]

    @property
    def processed(self):
        return [r.name for r in self._by("processed")]

    @property
    def skipped(self):
        return [r.name for r in self._by("skipped")]

    @property
    def failed(self):
        """Dict name -> reason."""
        return {r.name: r.reason for r in self._by("failed")}

    @property
    def empty(self):
        return {r.name: r.reason for r in self._by("empty")}

    @property
    def n_windows(self):
        return sum(r.n_windows for r in self._by("processed"))

    @property
    def features_per_second(self):
        """Stored feature values (windows x scales x coefficients) per second of wall time."""
        return self.n_windows * self.n_scales * self.n_coefficients / max(self.seconds, 1e-9)

    @property
    def peak_rss_mb(self):
        """Peak resident memory (MB) of each worker process that ran a task."""
        out = {}
        for r in self.results:
            if r.worker:
                out[r.worker] = max(out.get(r.worker, 0.0), r.peak_rss_mb)
        return out

    @property
    def ok(self):
        return not self.failed

    def __str__(self):
        lines = [f"extract: {len(self.processed)} processed, {len(self.skipped)} skipped, {len(self.empty)} empty, "
                 f"{len(self.failed)} failed in {self.seconds:.1f} s on {self.workers}; {self.n_windows} windows, "
                 f"{self.features_per_second:.3g} features/s"]
        for name, why in self.failed.items():
            lines.append(f"  failed {name}: {why}")
        for name, why in self.empty.items():
            lines.append(f"  empty  {name}: {why}")
        for r in self._by("processed"):
            if r.reason:
                lines.append(f"  note   {r.name}: {r.reason}")
        return "\n".join(lines)


# ----------------------------------------------------------------- pyramid config
def _pyramid_config(pyr):
    tp = pyr._template
    return {
        "J": int(pyr.J), "scales": [int(s) for s in pyr.scales], "hop": int(pyr.hop), "C": int(pyr.C),
        "wavelet": pyr._spec_args["wavelet"], "families": list(tp.per_families) + list(tp.cross_families),
        "cross_channel": bool(pyr._spec_args["cross_channel"]), "normalize": tp.normalize,
        "sigma2": None if tp.sigma2_ is None else np.asarray(tp.sigma2_).tolist(), "as_real": bool(tp.as_real),
        "block": int(pyr.block), "margin": int(pyr.margin),
    }


_PYRAMIDS = {}


def _build_pyramid(cfg, n_threads):
    """One pyramid per worker process and configuration (filters and plans are reused)."""
    import json

    from .._pyramid import ScatteringPyramid

    key = (json.dumps(cfg, sort_keys=True), n_threads)
    pyr = _PYRAMIDS.get(key)
    if pyr is None:
        kw = dict(cfg)
        pyr = ScatteringPyramid(kw.pop("J"), kw.pop("scales"), kw.pop("hop"), n_threads=n_threads, **kw)
        _PYRAMIDS[key] = pyr
    return pyr


# ----------------------------------------------------------------------- one day
def _peak_rss_mb():
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux
    except (ImportError, OSError):
        return 0.0


def _worker_name():
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _stream_station(st):
    keys = sorted({f"{tr.stats.network}.{tr.stats.station}.{tr.stats.location}" for tr in st})
    return keys[0] if len(keys) == 1 else None


def _process_day(task):
    """Read, prepare, window and store one day. Data problems give a 'failed'/'empty'
    DayResult; unexpected exceptions propagate (the runner retries them)."""
    from obspy import UTCDateTime

    from .. import io as scio
    from ..store import FeatureStore
    from ._windows import window_features

    t_start = time.perf_counter()
    day = UTCDateTime(ns=task["day_ns"])
    label = task["label"]

    def result(status, **kw):
        return DayResult(name=kw.pop("name", label), status=status, seconds=time.perf_counter() - t_start,
                         peak_rss_mb=_peak_rss_mb(), worker=_worker_name(), **kw)

    store = FeatureStore(task["store"], mode="a")
    pad = task["pad_before"]
    note = ""
    dd = _read_day(scio, task["source"], day, pad)
    if dd is not None and dd.error:
        # The error may come from a neighbouring day's file, read only for the padding (SDS
        # names end in .YEAR.DOY): then read the day's own files alone; the missing padding
        # counts as a gap (the windows that need it are dropped).
        tag = f".{day.year}.{day.julday:03d}"
        own = [f for f in dd.files if f.endswith(tag)]
        if own and len(own) < len(dd.files):
            try:
                st_own = scio.read(own)
            except ValueError:
                pass  # the day's own file is bad too: report the first error
            else:
                note = f"padding from the neighbouring days unreadable, treated as a gap ({dd.error})"
                dd = scio.DayData(day, st_own, own, None)
    if dd is None:
        return result("empty", reason="no data for this day")
    if not note and getattr(dd, "warnings", None):
        note = "; ".join(dd.warnings)
    if dd.error:
        return result("failed", reason=dd.error)
    station = _stream_station(dd.stream)
    if station is not None:
        label = store.group_name(station, day)
        if not task["overwrite"] and store.is_complete(label):
            return result("skipped", reason="already complete")
    # Output span: the padded day, clipped to the data (a short record is not blown up to a
    # day of gap samples); the clipped start stays on the hop grid anchored at midnight.
    t_lo, t_hi = day - pad, day + DAY_S + task["pad_after"]
    if len(dd.stream):
        a = min(tr.stats.starttime for tr in dd.stream)
        b = max(tr.stats.endtime for tr in dd.stream)
        fs = task["prepare"].sampling_rate or dd.stream[0].stats.sampling_rate
        step = task["pyramid"]["hop"] / fs
        if a > t_lo:
            t_lo = t_lo + math.floor((a - t_lo) / step) * step
        t_hi = min(t_hi, b + 1.0 / fs)
    try:
        rec = scio.prepare(dd.stream, task["prepare"], starttime=t_lo, endtime=t_hi)
    except ValueError as exc:
        return result("failed", name=label, reason=f"prepare: {exc}")
    pyr = _build_pyramid(task["pyramid"], task["n_threads"])
    if rec.data.shape[0] != pyr.C:
        return result("failed", name=label, reason=f"prepared record has {rec.data.shape[0]} channels "
                      f"{rec.channels}; the pyramid was built for C={pyr.C} (set PrepareConfig.components)")
    if rec.data.shape[1] < pyr.scales[-1]:
        return result("empty", name=label, reason=f"{rec.data.shape[1]} samples, fewer than the largest "
                      f"scale {pyr.scales[-1]}")
    ds = window_features(rec, pyr, longitude=task["longitude"])
    t_end = ds["time_end"].values.astype(np.int64)
    d0 = task["day_ns"]
    ds = ds.isel(window=np.flatnonzero((t_end > d0) & (t_end <= d0 + int(DAY_S) * _NS)))
    if ds.sizes["window"] == 0:
        return result("empty", name=label, reason="no window ends in this day")
    name = store.write_day(ds, day=day, gaps=task["gaps"], files=dd.files)
    attrs = store._attrs(name)
    return result("processed", name=name, n_windows=int(attrs["n_windows"]),
                  n_dropped_gap=int(attrs["n_dropped_gap"]), reason=note)


def _read_day(scio, source, day, pad):
    """The DayData of ``day``; warnings of the reader (e.g. a neighbouring day's file skipped)
    are kept in ``dd.warnings`` for the summary."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        days = list(scio.iter_days(source, start=day, end=day + DAY_S, pad=pad))
    for d in days:
        d.warnings = [str(w.message) for w in caught]
    days = [d for d in days if d.day is not None and d.day.ns == day.ns] or [d for d in days if d.error]
    return days[0] if days else None


# -------------------------------------------------------------------- day listing
def _sds_days(src, start, end):
    import glob

    from obspy import UTCDateTime
    from obspy.clients.filesystem.sds import Client

    c = Client(src.root)
    pattern = os.path.join(src.root, c.FMTSTR.format(network=src.network, station=src.station,
                                                     location=src.location, channel=src.channel,
                                                     sds_type=c.sds_type, year="*", doy=0).replace(".000", ".*"))
    days = set()
    for p in glob.glob(pattern):
        parts = p.rsplit(".", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            days.add(UTCDateTime(year=int(parts[1]), julday=int(parts[2])).ns)
    return sorted(days)


def _list_tasks(archive, start, end, pad_before, pad_after):
    """[(day_ns, source for that day, label)] in day order, reading no samples."""
    from obspy import Stream, Trace, UTCDateTime

    from .. import io as scio

    start = None if start is None else UTCDateTime(start)
    end = None if end is None else UTCDateTime(end)

    def in_range(d_ns):
        d = UTCDateTime(ns=d_ns)
        return (start is None or d + DAY_S > start) and (end is None or d < end)

    if isinstance(archive, Trace):
        archive = Stream([archive])
    if isinstance(archive, Stream):
        if not len(archive):
            return []
        a = min(tr.stats.starttime for tr in archive)
        b = max(tr.stats.endtime for tr in archive)
        out = []
        d = UTCDateTime(a.date)
        station = _stream_station(archive) or "?"
        while d <= b:
            if in_range(d.ns):
                sub = archive.slice(d - pad_before, d + DAY_S + pad_before, nearest_sample=False)
                sub.traces = [tr for tr in sub if tr.stats.npts > 0]
                if len(sub):
                    out.append((d.ns, sub, f"{station}_{str(d.date)}"))
            d += DAY_S
        return out
    if isinstance(archive, scio.SDSSource):
        station = f"{archive.network}.{archive.station}.{archive.location}"
        return [(d, archive, f"{station}_{str(UTCDateTime(ns=d).date)}")
                for d in _sds_days(archive, start, end) if in_range(d)]
    # files / globs: one header scan here, the task re-reads only its day
    days = {}
    import warnings

    import obspy

    from ..io._read import _expand_paths

    for p in _expand_paths(archive):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hdr = obspy.read(p, headonly=True)
        except Exception:  # an unreadable file: its day is found by iter_days in the task (SDS-style name)
            m = p.rsplit(".", 2)
            if len(m) == 3 and m[1].isdigit() and m[2].isdigit():
                days.setdefault(UTCDateTime(year=int(m[1]), julday=int(m[2])).ns, "?")
            continue
        for tr in hdr:
            d = UTCDateTime(tr.stats.starttime.date)
            while d <= tr.stats.endtime:
                days.setdefault(d.ns, f"{tr.stats.network}.{tr.stats.station}.{tr.stats.location}")
                d += DAY_S
    return [(d, archive, f"{s}_{str(UTCDateTime(ns=d).date)}") for d, s in sorted(days.items()) if in_range(d)]


# -------------------------------------------------------------------------- runner
def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class _Progress:
    def __init__(self, total, enabled):
        self.total, self.n, self.enabled, self.bar = total, 0, enabled, None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc="extract", unit="day")
            except ImportError:
                self.bar = None

    def update(self, res):
        self.n += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{res.name}: {res.status}")
        else:
            print(f"extract: {self.n}/{self.total} days ({res.name}: {res.status})", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def extract(archive, store, *, start=None, end=None, prepare=None, pyramid=None, client=None, n_workers=None,
            threads_per_worker=None, retries=2, progress=True, gaps="drop", longitude=None, overwrite=False):
    """Compute and store the window features of every day of an archive.

    Parameters
    ----------
    archive : scatclust.io.SDSSource, path, glob, list of paths, obspy.Stream or Trace
        One station's channels (as :func:`scatclust.io.iter_days` accepts).
    store : str or FeatureStore
        Output store directory (created if missing).
    start, end : str or UTCDateTime, optional
        Only the days overlapping [start, end).
    prepare : scatclust.io.PrepareConfig, optional
        Preparation steps (default ``PrepareConfig()``).
    pyramid : ScatteringPyramid, optional
        Default ``ScatteringPyramid(J=8, C=len(prepare.components) or 3)`` (the InSight setup:
        scales 1024/4096/16384/65536, hop 1024). Only its parameters travel to the workers.
    client : None, False, str or distributed.Client
        None: a ``distributed.LocalCluster`` of ``n_workers`` processes started (and closed) here;
        False: every day in this process, one after the other; str: a scheduler address;
        a ``Client``: use it (e.g. one connected to a dask-jobqueue cluster).
    n_workers, threads_per_worker : int, optional
        LocalCluster size and the C++ kernel's threads per task. Defaults fill the machine
        without oversubscription: ``n_workers * threads_per_worker = cores`` (one worker per
        core if neither is given). Each worker runs one day at a time. With ``client=False``
        ``threads_per_worker`` defaults to every core.
    retries : int
        Extra attempts for a day whose task raised an unexpected exception (e.g. a worker
        killed for memory). Data problems (unreadable file, no common span) are not retried.
    progress : bool
        Progress bar (tqdm if installed, else one line per finished day on stderr).
    gaps : {'drop', 'mask'}
        :meth:`FeatureStore.write_day` policy for windows that touch a gap.
    longitude : float, optional
        For the local-time coordinate (see :func:`window_features`).
    overwrite : bool
        Recompute days that are already complete (default: skip them).

    Returns
    -------
    ExtractSummary
        Processed / skipped / empty / failed days with reasons, windows, features per second,
        peak memory per worker.

    Examples
    --------
    >>> from scatclust.io import SDSSource, PrepareConfig
    >>> src = SDSSource("/data/sds", "XB", "ELYSE", "02", "BH?")                       # doctest: +SKIP
    >>> summary = extract(src, "elyse.zarr", start="2019-06-01", end="2019-07-01",
    ...                   prepare=PrepareConfig(components="UVW"))                       # doctest: +SKIP
    >>> print(summary)                                                                   # doctest: +SKIP
    """
    from .. import io as scio
    from .._pyramid import ScatteringPyramid
    from ..store import FeatureStore
    from ..store._feature_store import GAP_POLICIES, _pyramid_layout

    if prepare is None:
        prepare = scio.PrepareConfig()
    if not isinstance(prepare, scio.PrepareConfig):
        raise TypeError(f"prepare={prepare!r} must be a scatclust.io.PrepareConfig")
    if pyramid is None:
        pyramid = ScatteringPyramid(J=8, C=len(prepare.components) if prepare.components else 3)
    if not isinstance(pyramid, ScatteringPyramid):
        raise TypeError(f"pyramid={pyramid!r} must be a scatclust.ScatteringPyramid")
    if gaps not in GAP_POLICIES:
        raise ValueError(f"gaps={gaps!r} must be one of {GAP_POLICIES}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries={retries!r} must be an int >= 0")
    for nm, v in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{nm}={v!r} must be an int >= 1 or None")
    if not (client is None or client is False or isinstance(client, str) or hasattr(client, "submit")):
        raise TypeError(f"client={client!r} must be None (LocalCluster), False (in-process), a scheduler "
                        f"address or a distributed.Client")

    st = store if isinstance(store, FeatureStore) else FeatureStore(store, mode="a")
    cfg = _pyramid_config(pyramid)
    st.set_layout(_pyramid_layout(pyramid), pyramid=cfg)

    # No sample rate is known before reading; pads are in seconds from the pyramid's sample
    # counts at the archive's rate, so they are computed per task from the rate there. The
    # InSight default (20 Hz) is assumed only for the listing pad, which just has to be long.
    hop, margin = pyramid.hop, pyramid.margin
    pad_samples = pyramid.scales[-1] + math.ceil(margin / hop) * hop
    rate = prepare.sampling_rate or _guess_rate(archive)
    pad_before, pad_after = pad_samples / rate, margin / rate
    tasks = _list_tasks(archive, start, end, pad_before, pad_after)

    cores = _cores()
    if client is False:
        nthr = threads_per_worker or cores
        how = f"this process ({nthr} threads)"
    else:
        if n_workers is None:
            n_workers = max(1, cores // threads_per_worker) if threads_per_worker else cores
        nthr = threads_per_worker or max(1, cores // n_workers)
    payload = dict(store=st.path, pyramid=cfg, prepare=prepare, pad_before=pad_before, pad_after=pad_after,
                   gaps=gaps, longitude=longitude, overwrite=overwrite, n_threads=nthr)
    todo, results = [], []
    for d_ns, src, label in tasks:
        if not overwrite and "?" not in label and st.is_complete(label):
            results.append(DayResult(name=label, status="skipped", reason="already complete"))
        else:
            todo.append(dict(payload, day_ns=d_ns, source=src, label=label))

    t0 = time.perf_counter()
    bar = _Progress(len(tasks), progress)
    for r in results:
        bar.update(r)
    own_cluster = own_client = None
    try:
        if client is False:
            for task in todo:
                results.append(_run_with_retries(task, retries))
                bar.update(results[-1])
        else:
            from distributed import Client, LocalCluster, as_completed

            if client is None:
                own_cluster = LocalCluster(n_workers=min(n_workers, max(1, len(todo))), threads_per_worker=1,
                                           processes=True, dashboard_address=":0")
                client = own_client = Client(own_cluster)
                how = f"LocalCluster({len(own_cluster.workers)} workers x {nthr} threads)"
            elif isinstance(client, str):
                client = own_client = Client(client)
                how = f"scheduler {client.scheduler.address} ({nthr} threads per task)"
            else:
                how = f"{type(client).__name__} ({nthr} threads per task)"
            futs = {client.submit(_process_day, task, retries=retries, pure=False): task for task in todo}
            for fut in as_completed(list(futs)):
                task = futs[fut]
                try:
                    res = fut.result()
                except Exception as exc:  # after the retries: report, keep the other days going
                    res = DayResult(name=task["label"], status="failed", reason=f"{type(exc).__name__}: {exc}")
                results.append(res)
                bar.update(res)
    finally:
        bar.close()
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
    results.sort(key=lambda r: r.name)
    return ExtractSummary(results=results, seconds=time.perf_counter() - t0, n_scales=len(pyramid.scales),
                          n_coefficients=len(st.layout["coefficients"]["family"]), workers=how)


def _run_with_retries(task, retries):
    err = None
    for _ in range(retries + 1):
        try:
            return _process_day(task)
        except Exception as exc:  # unexpected: retry like dask would
            err = exc
    return DayResult(name=task["label"], status="failed", reason=f"{type(err).__name__}: {err}")


def _guess_rate(archive):
    """Sampling rate from the archive's first trace header (a pad length only needs an estimate)."""
    from obspy import Stream, Trace

    from .. import io as scio

    if isinstance(archive, Trace):
        return float(archive.stats.sampling_rate)
    if isinstance(archive, Stream) and len(archive):
        return float(archive[0].stats.sampling_rate)
    import glob
    import warnings

    import obspy

    if isinstance(archive, scio.SDSSource):
        from obspy.clients.filesystem.sds import Client

        c = Client(archive.root)
        pattern = os.path.join(archive.root, c.FMTSTR.format(
            network=archive.network, station=archive.station, location=archive.location, channel=archive.channel,
            sds_type=c.sds_type, year="*", doy=0).replace(".000", ".*"))
        paths = sorted(glob.glob(pattern))
    else:
        from ..io._read import _expand_paths

        paths = _expand_paths(archive)
    for p in paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hdr = obspy.read(p, headonly=True)
            if len(hdr):
                return float(hdr[0].stats.sampling_rate)
        except Exception:  # unreadable: try the next file
            continue
    return 20.0
