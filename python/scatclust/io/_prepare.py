"""Preparing a Stream for feature extraction: merge, gaps, detrend, taper, band-pass,
response removal, resampling, component order, and alignment of all channels on one grid.

Every step works on contiguous data only: after merging, each channel is split at its gaps
and the steps run on each segment (as ObsPy does for gappy data), so no step ever sees a
zero that was not measured.  The segments are then placed on one common sample grid; grid
samples where any channel has no data are marked in ``gap_mask`` (and hold 0.0).
"""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import obspy
from obspy import Stream, Trace, UTCDateTime

__all__ = ["PrepareConfig", "PreparedRecord", "prepare"]

# Contiguous pieces shorter than this are too short for any step (spline fit, filters with
# edge effects everywhere); they are dropped and their samples marked as gaps.
MIN_SEGMENT = 8

_GAP_POLICIES = ("drop", "interpolate")
_DETRENDS = (None, "constant", "linear", "spline")
_OUTPUTS = ("DISP", "VEL", "ACC", "DEF")
_DTYPES = ("float32", "float64")


@dataclasses.dataclass
class PrepareConfig:
    """What :func:`prepare` does; the steps run in the order of these fields.

    Attributes
    ----------
    merge : bool
        Merge the traces of each channel with ObsPy's ``Stream.merge(method=1)``: where
        traces overlap the later trace's samples are kept (ObsPy: "the following trace
        contains data with a more correct time value"), and gaps stay open (masked).
        False: each channel must already be a single trace.
    gap_policy : {'drop', 'interpolate'}
        'drop': gaps stay gaps (marked in ``gap_mask``; windows touching them are dropped
        downstream).  'interpolate': gaps of at most ``max_gap`` seconds of missing data
        are filled by a straight line between the samples on either side; longer gaps stay
        marked.  Nothing is ever zero-filled silently.
    max_gap : float
        Longest gap (seconds of missing samples, i.e. ``n_missing / sampling_rate``) that
        'interpolate' fills.
    detrend : {None, 'constant', 'linear', 'spline'}
        ObsPy ``Trace.detrend``; 'spline' is ObsPy's spline detrend with ``spline_order`` and
        knots every ``spline_dspline`` seconds (the InSight processing used hour-scale knots).
    spline_order : int
        Spline order, 1..5.
    spline_dspline : float
        Seconds between spline knots (converted to samples at the data's rate).
    taper : float or None
        ``max_percentage`` (fraction per side, 0..0.5) of a Hann taper at the ends of every
        contiguous segment; None or 0 disables it.
    bandpass : (float, float) or None
        ``(freqmin, freqmax)`` in Hz: ObsPy Butterworth band-pass, 4 corners, zero phase.
    inventory : obspy.Inventory, str or None
        Inventory or StationXML path: ObsPy ``Trace.remove_response`` with ``response_output``
        and ``pre_filt`` (ObsPy's default water level, 60 dB).
    response_output : {'DISP', 'VEL', 'ACC', 'DEF'}
    pre_filt : tuple of 4 floats or None
    sampling_rate : float or None
        Resample every channel to this rate (Hz) on a grid of multiples of ``1/sampling_rate``
        since 1970-01-01: a zero-phase Chebyshev II low-pass (96 dB stop band from the new
        Nyquist frequency, pass band to 0.8 of it) when down-sampling, then Lanczos
        interpolation (ObsPy, ``a=20``, Blackman window) onto the grid.  None keeps the
        data's rate (all channels must share it).
    components : str or None
        Select channels by the last letter of their code and order them so, e.g. 'UVW' or
        'ZNE'; a missing component is an error.  None keeps every channel in stream order.
    dtype : {'float32', 'float64'}
        dtype of ``PreparedRecord.data``; processing itself runs in float64.
    """

    merge: bool = True
    gap_policy: str = "drop"
    max_gap: float = 0.0
    detrend: str | None = "linear"
    spline_order: int = 2
    spline_dspline: float = 3600.0
    taper: float | None = 0.0
    bandpass: tuple | None = None
    inventory: object | None = None
    response_output: str = "VEL"
    pre_filt: tuple | None = None
    sampling_rate: float | None = None
    components: str | None = None
    dtype: str = "float32"

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Check every field; raise ValueError naming the field, its value and the fix."""
        if self.gap_policy not in _GAP_POLICIES:
            raise ValueError(f"gap_policy={self.gap_policy!r} must be one of {_GAP_POLICIES}")
        if not (isinstance(self.max_gap, (int, float)) and self.max_gap >= 0):
            raise ValueError(f"max_gap={self.max_gap!r} must be a number of seconds >= 0")
        if self.detrend not in _DETRENDS:
            raise ValueError(f"detrend={self.detrend!r} must be one of {_DETRENDS}")
        if not (isinstance(self.spline_order, (int, np.integer)) and 1 <= self.spline_order <= 5):
            raise ValueError(f"spline_order={self.spline_order!r} must be an integer in 1..5")
        if not (isinstance(self.spline_dspline, (int, float)) and self.spline_dspline > 0):
            raise ValueError(f"spline_dspline={self.spline_dspline!r} must be > 0 seconds")
        if self.taper is not None and not (isinstance(self.taper, (int, float))
                                           and 0.0 <= self.taper <= 0.5):
            raise ValueError(f"taper={self.taper!r} must be a fraction in [0, 0.5] or None")
        if self.bandpass is not None:
            bp = tuple(self.bandpass)
            if len(bp) != 2 or not (0 < bp[0] < bp[1]):
                raise ValueError(f"bandpass={self.bandpass!r} must be (freqmin, freqmax) "
                                 "with 0 < freqmin < freqmax, in Hz")
        if self.response_output not in _OUTPUTS:
            raise ValueError(f"response_output={self.response_output!r} must be one of {_OUTPUTS}")
        if self.pre_filt is not None and len(tuple(self.pre_filt)) != 4:
            raise ValueError(f"pre_filt={self.pre_filt!r} must be 4 corner frequencies "
                             "(f1, f2, f3, f4) in Hz or None")
        if self.sampling_rate is not None and not (
                isinstance(self.sampling_rate, (int, float)) and self.sampling_rate > 0):
            raise ValueError(f"sampling_rate={self.sampling_rate!r} must be > 0 Hz or None")
        if self.components is not None:
            c = self.components
            if not (isinstance(c, str) and c and len(set(c)) == len(c)):
                raise ValueError(f"components={c!r} must be a non-empty string of distinct "
                                 "component letters such as 'UVW' or 'ZNE'")
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype={self.dtype!r} must be one of {_DTYPES}")


@dataclasses.dataclass
class PreparedRecord:
    """Multi-channel data on one sample grid, the output of :func:`prepare`.

    Attributes
    ----------
    data : np.ndarray, shape (C, L), float32 or float64, C-contiguous
        One row per channel; samples where ``gap_mask`` is True are 0.0 and carry no data.
    gap_mask : np.ndarray, shape (L,), bool
        True where any channel had no data (after the gap policy).
    starttime : obspy.UTCDateTime
        Time of sample 0.
    sampling_rate : float
        Samples per second.
    channels : list of str
        SEED ids ``'NET.STA.LOC.CHA'`` in row order.
    processing : list of str
        The steps applied, in order.
    """

    data: np.ndarray
    gap_mask: np.ndarray
    starttime: UTCDateTime
    sampling_rate: float
    channels: list
    processing: list

    def to_stream(self) -> Stream:
        """The record as an ObsPy Stream (masked arrays at gaps, steps in stats.processing)."""
        st = Stream()
        for row, sid in zip(self.data, self.channels):
            net, sta, loc, cha = sid.split(".")
            d = np.ma.masked_array(row.copy(), mask=self.gap_mask.copy()) \
                if self.gap_mask.any() else row.copy()
            tr = Trace(d, header=dict(network=net, station=sta, location=loc, channel=cha,
                                      starttime=self.starttime,
                                      sampling_rate=self.sampling_rate))
            tr.stats.processing = list(self.processing)
            st.append(tr)
        return st


# ----------------------------------------------------------------------------- helpers
class _Channel:
    """One channel during preparation: its id and its contiguous float64 segments."""

    def __init__(self, sid, segments):
        self.sid = sid
        self.segments = segments  # list of obspy Traces without gaps

    @property
    def rate(self):
        return self.segments[0].stats.sampling_rate


def _select(st: Stream, components):
    ids = []
    for tr in st:
        if tr.id not in ids:
            ids.append(tr.id)
    if components is None:
        return ids
    chosen = []
    for c in components:
        match = [i for i in ids if i[-1] == c]
        if not match:
            raise ValueError(f"component {c!r} requested by components={components!r} is "
                             f"missing: the stream has channels {ids}")
        if len(match) > 1:
            raise ValueError(f"component {c!r} matches several channels {match}; select one "
                             "station/location/band first (Stream.select)")
        chosen.append(match[0])
    return chosen


def _gap_runs(mask):
    """(start, stop) index pairs of the runs of True in a 1-D bool array."""
    d = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _interpolate_gaps(tr: Trace, max_samples: int):
    """Fill masked runs of <= max_samples linearly in place; return (filled, kept) counts."""
    data = tr.data
    if not isinstance(data, np.ma.MaskedArray) or not np.ma.is_masked(data):
        return 0, 0
    mask = np.ma.getmaskarray(data).copy()
    values = np.ma.getdata(data)
    starts, stops = _gap_runs(mask)
    filled = kept = 0
    for a, b in zip(starts, stops):
        # merge leaves gaps only inside a trace, so a-1 and b are data samples
        if b - a <= max_samples and a > 0 and b < len(values):
            y0, y1 = values[a - 1], values[b]
            frac = np.arange(1, b - a + 1) / (b - a + 1)
            values[a:b] = y0 + (y1 - y0) * frac
            mask[a:b] = False
            filled += 1
        else:
            kept += 1
    tr.data = np.ma.masked_array(values, mask=mask) if mask.any() else values
    return filled, kept


def _each_segment(channels, fn, what):
    for ch in channels:
        for seg in ch.segments:
            try:
                fn(seg)
            except Exception as exc:
                raise ValueError(f"{what} failed on {ch.sid} segment starting "
                                 f"{seg.stats.starttime}: {type(exc).__name__}: {exc}") from exc


def _antialias_sos(old_rate, new_rate):
    from scipy import signal

    nyq = 0.5 * new_rate
    wp, ws = 0.8 * nyq, nyq
    order, wn = signal.cheb2ord(wp, ws, gpass=0.1, gstop=96.0, fs=old_rate)
    return signal.cheby2(order, 96.0, wn, btype="low", output="sos", fs=old_rate), order


def _sosfiltfilt(sos, x):
    from scipy import signal

    padlen = min(3 * (2 * len(sos) + 1), len(x) - 1)
    return signal.sosfiltfilt(sos, x, padlen=padlen)


def _epoch_grid_ceil(t: UTCDateTime, rate: float) -> tuple:
    """First time >= t on the grid k / rate since 1970 (and k), in exact integer arithmetic
    (float nanoseconds since 1970 would be off by up to ~100 ns)."""
    r = Fraction(rate).limit_denominator(10**6)
    k = math.ceil(Fraction(t.ns) * r / 10**9 - Fraction(1, 10**6))
    return UTCDateTime(ns=round(Fraction(k * 10**9) / r)), k


# ----------------------------------------------------------------------------- prepare
def prepare(stream, config: PrepareConfig = PrepareConfig(), *, starttime=None,
            endtime=None) -> PreparedRecord:
    """Turn a raw Stream into a :class:`PreparedRecord` (channels × samples on one grid).

    Parameters
    ----------
    stream : obspy.Stream or obspy.Trace
        Raw data, e.g. ``DayData.stream`` from :func:`iter_days`; not modified.
    config : PrepareConfig
        The steps (see its fields; they run in that order, except that unrequested
        components are dropped first, since processing them would be wasted).
    starttime, endtime : obspy.UTCDateTime or str, optional
        The output grid covers ``[starttime, endtime)``: samples with no data in that span
        (e.g. before a channel starts) are marked in ``gap_mask``; data outside it are
        still used by the filters (pass data with padding, e.g. ``iter_days(pad=...)``,
        to keep filter edge effects out of the output).  Default: the span where every
        channel has data, from the latest channel start to the earliest channel end.

    Returns
    -------
    PreparedRecord
        ``data`` (C, L) in ``config.dtype``; channels are aligned on the grid of the first
        channel (or, with ``sampling_rate``, on multiples of ``1/sampling_rate`` since
        1970).  Without resampling, other channels are placed at the nearest grid sample
        (the largest sub-sample offset is recorded in ``processing``); channels with
        different rates are an error then.

    Raises
    ------
    ValueError
        A missing component, differing sampling rates without ``sampling_rate``, a step
        that fails (message names the channel and segment), or no common data span.

    Examples
    --------
    >>> import obspy
    >>> from scatclust.io import PrepareConfig, prepare
    >>> rec = prepare(obspy.read(), PrepareConfig(components="ZNE", bandpass=(1.0, 10.0)))
    >>> rec.data.shape, rec.channels[0]
    ((3, 3000), 'BW.RJOB..EHZ')
    """
    if isinstance(config, dict):
        config = PrepareConfig(**config)
    if not isinstance(config, PrepareConfig):
        raise TypeError(f"config must be a PrepareConfig, got {type(config).__name__}")
    config.validate()
    if isinstance(stream, Trace):
        stream = Stream([stream])
    if not isinstance(stream, Stream):
        raise TypeError(f"stream must be an obspy Stream or Trace, got {type(stream).__name__}; "
                        "use scatclust.io.read(...) to read files")
    stream = Stream([tr for tr in stream if tr.stats.npts > 0])
    if not len(stream):
        raise ValueError("stream has no data (no trace with samples)")
    from ._read import _utc

    starttime = _utc(starttime, "starttime")
    endtime = _utc(endtime, "endtime")
    if starttime is not None and endtime is not None and endtime <= starttime:
        raise ValueError(f"endtime={endtime} must be after starttime={starttime}")
    processing = []
    steps = []  # collected per step, appended to `processing` once the step succeeded

    # -- components (selection only; the order is applied when the rows are written)
    ids = _select(stream, config.components)
    if config.components is not None:
        processing.append(f"components: selected {config.components!r} by the last channel "
                          f"letter -> {ids}")

    # -- merge
    channels = []
    n_gaps = 0
    for sid in ids:
        traces = [tr for tr in stream if tr.id == sid]
        work = Stream()
        for tr in traces:
            c = tr.copy()
            c.data = np.require(c.data, dtype=np.float64)
            work.append(c)
        if len(work) > 1:
            if not config.merge:
                raise ValueError(f"channel {sid} has {len(work)} traces but merge=False; set "
                                 "merge=True or pass one trace per channel")
            try:
                work.merge(method=1, fill_value=None, interpolation_samples=0)
            except Exception as exc:
                raise ValueError(f"merge failed for channel {sid}: {exc}") from exc
        channels.append((sid, work[0]))
    if config.merge:
        processing.append("merge: ObsPy Stream.merge(method=1, fill_value=None): overlaps keep "
                          "the later trace's samples, gaps stay open")

    # -- gap policy
    filled = kept = 0
    for sid, tr in channels:
        if config.gap_policy == "interpolate":
            max_samples = int(math.floor(config.max_gap * tr.stats.sampling_rate + 1e-9))
            f, k = _interpolate_gaps(tr, max_samples)
            filled += f
            kept += k
        elif isinstance(tr.data, np.ma.MaskedArray):
            kept += len(_gap_runs(np.ma.getmaskarray(tr.data))[0])
    if config.gap_policy == "interpolate":
        processing.append(f"gaps: interpolate: {filled} gap(s) of <= {config.max_gap} s filled "
                          f"linearly, {kept} longer gap(s) marked in gap_mask")
    else:
        processing.append(f"gaps: drop: {kept} gap(s) kept and marked in gap_mask")
    chans = []
    dropped = 0
    for sid, tr in channels:
        segs = tr.split() if isinstance(tr.data, np.ma.MaskedArray) else Stream([tr])
        keep = []
        for s in segs:
            if s.stats.npts >= MIN_SEGMENT:
                s.data = np.ascontiguousarray(s.data, dtype=np.float64)
                keep.append(s)
            else:
                dropped += 1
        if not keep:
            raise ValueError(f"channel {sid} has no contiguous piece of >= {MIN_SEGMENT} samples")
        chans.append(_Channel(sid, keep))
    del channels
    if dropped:
        processing.append(f"gaps: {dropped} piece(s) shorter than {MIN_SEGMENT} samples "
                          "between gaps marked as gaps")

    # -- detrend
    if config.detrend is not None:
        if config.detrend == "spline":
            def _fn(seg):
                dsp = max(1, int(round(config.spline_dspline * seg.stats.sampling_rate)))
                seg.detrend("spline", order=int(config.spline_order), dspline=dsp)
            _each_segment(chans, _fn, "spline detrend")
            processing.append(f"detrend: ObsPy spline, order={config.spline_order}, knots every "
                              f"{config.spline_dspline} s, per contiguous segment")
        else:
            _each_segment(chans, lambda seg: seg.detrend(config.detrend), "detrend")
            processing.append(f"detrend: ObsPy {config.detrend}, per contiguous segment")

    # -- taper
    if config.taper:
        _each_segment(chans, lambda seg: seg.taper(max_percentage=config.taper, type="hann"),
                      "taper")
        processing.append(f"taper: Hann, max_percentage={config.taper} at each segment end")

    # -- band-pass
    if config.bandpass is not None:
        fmin, fmax = (float(f) for f in config.bandpass)
        for ch in chans:
            if fmax >= 0.5 * ch.rate:
                raise ValueError(f"bandpass freqmax={fmax} Hz must be below the Nyquist frequency "
                                 f"{0.5 * ch.rate} Hz of channel {ch.sid}")
        _each_segment(chans, lambda seg: seg.filter("bandpass", freqmin=fmin, freqmax=fmax,
                                                    corners=4, zerophase=True), "bandpass")
        processing.append(f"bandpass: ObsPy Butterworth {fmin}-{fmax} Hz, 4 corners, zero phase")

    # -- instrument response
    if config.inventory is not None:
        inv = config.inventory
        if not isinstance(inv, obspy.Inventory):
            try:
                inv = obspy.read_inventory(inv)
            except Exception as exc:
                raise ValueError(f"inventory={config.inventory!r} could not be read as "
                                 f"StationXML: {exc}") from exc
        pre_filt = None if config.pre_filt is None else tuple(float(f) for f in config.pre_filt)
        _each_segment(chans, lambda seg: seg.remove_response(
            inventory=inv, output=config.response_output, pre_filt=pre_filt), "remove_response")
        processing.append(f"response: ObsPy remove_response output={config.response_output} "
                          f"pre_filt={pre_filt} (water level 60 dB)")

    # -- sampling rate and grid
    rates = {ch.sid: ch.rate for ch in chans}
    if config.sampling_rate is None:
        if len(set(rates.values())) > 1:
            first = chans[0]
            odd = next(ch for ch in chans if ch.rate != first.rate)
            raise ValueError(f"channel {odd.sid} has sampling rate {odd.rate} Hz but "
                             f"{first.sid} has {first.rate} Hz; set PrepareConfig("
                             "sampling_rate=...) to resample to a common rate")
        rate = chans[0].rate
    else:
        rate = float(config.sampling_rate)

    # output span
    seg_start = max(min(s.stats.starttime for s in ch.segments) for ch in chans)
    seg_end = min(max(s.stats.endtime for s in ch.segments) for ch in chans)
    t_first = starttime if starttime is not None else seg_start
    if config.sampling_rate is None:
        ref = chans[0].segments[0].stats.starttime
        k0 = math.ceil((t_first - ref) * rate - 1e-6)
        grid0 = ref + k0 / rate
    else:
        grid0, k0 = _epoch_grid_ceil(t_first, rate)
    if endtime is not None:
        n = math.ceil((endtime - grid0) * rate - 1e-6)  # samples strictly before endtime
    else:
        n = math.floor((seg_end - grid0) * rate + 1e-6) + 1
    if n <= 0:
        raise ValueError(f"the channels {[ch.sid for ch in chans]} share no time span "
                         f"(latest start {seg_start}, earliest end {seg_end})"
                         + ("" if starttime is None and endtime is None else
                            f" within starttime={starttime}, endtime={endtime}"))

    # resample onto the epoch grid
    if config.sampling_rate is not None:
        aa_orders = set()
        for ch in chans:
            new_segs = []
            for seg in ch.segments:
                if rate < seg.stats.sampling_rate:
                    sos, order = _antialias_sos(seg.stats.sampling_rate, rate)
                    aa_orders.add(order)
                    seg.data = _sosfiltfilt(sos, seg.data)
                s0, _ = _epoch_grid_ceil(seg.stats.starttime, rate)
                npts = math.floor((seg.stats.endtime - s0) * rate + 1e-6) + 1
                if npts < 1:
                    continue
                try:
                    seg.interpolate(rate, method="lanczos", starttime=s0, npts=npts, a=20,
                                    window="blackman")
                except Exception as exc:
                    raise ValueError(f"resampling failed on {ch.sid} segment starting "
                                     f"{seg.stats.starttime}: {exc}") from exc
                new_segs.append(seg)
            ch.segments = new_segs
        aa = (f"zero-phase Chebyshev II low-pass (order {sorted(aa_orders)}, 96 dB from "
              f"{0.5 * rate} Hz) then " if aa_orders else "")
        processing.append(f"resample: {sorted(set(rates.values()))} Hz -> {rate} Hz: {aa}Lanczos "
                          "interpolation (a=20, Blackman) onto multiples of 1/rate since 1970")

    # -- write rows (components order) on the common grid
    dtype = np.dtype(config.dtype)
    data = np.zeros((len(chans), n), dtype=dtype)
    valid = np.zeros((len(chans), n), dtype=bool)
    max_offset = 0.0
    for row, ch in enumerate(chans):
        for seg in ch.segments:
            pos = (seg.stats.starttime - grid0) * rate
            i0 = int(round(pos))
            max_offset = max(max_offset, abs(pos - i0))
            a = max(i0, 0)
            b = min(i0 + seg.stats.npts, n)
            if b <= a:
                continue
            data[row, a:b] = seg.data[a - i0:b - i0]
            valid[row, a:b] = True
        ch.segments = None  # free the float64 copy of this channel
    gap_mask = ~valid.all(axis=0)
    del valid
    data[:, gap_mask] = 0.0
    align = (f"align: {len(chans)} channel(s) on one grid from {grid0} at {rate} Hz, {n} samples"
             + (f" [{starttime}, {endtime})" if starttime is not None or endtime is not None
                else " (span common to all channels)"))
    if config.sampling_rate is None and max_offset > 1e-6:
        align += f"; sub-sample offsets up to {max_offset:.3f} samples rounded to the nearest sample"
    processing.append(align)
    if config.components is not None:
        processing.append(f"components: rows ordered {config.components!r}")
    processing.append(f"dtype: {dtype.name}; {int(gap_mask.sum())} gap sample(s) set to 0.0")
    return PreparedRecord(data=data, gap_mask=gap_mask, starttime=grid0, sampling_rate=rate,
                          channels=[ch.sid for ch in chans], processing=processing)
