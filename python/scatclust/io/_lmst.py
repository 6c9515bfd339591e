"""Mars local mean solar time (LMST) for InSight, and local mean solar time on Earth.

Mars: the Mars24 algorithm of NASA GISS (Allison & McEwen 2000, Planet. Space Sci. 48,
215-235; Allison 1997, GRL 24, 1967; the Mars24 technical notes "Mars24 Sunclock --
Algorithm and Worked Examples"), written from the published formulas:

    JD_TT - 2451545.0   = (UTC seconds since 1970 + (TT - UTC)) / 86400 - 10957.5
    (TT - UTC)          = 32.184 s + (TAI - UTC)  (leap seconds, table below)
    MSD (Mars Sol Date) = (JD_TT - 2451549.5) / 1.0274912517 + 44796.0 - 0.0009626
    MST (Airy mean time)= 24 h * frac(MSD)
    LMST                = MST + longitude_east / 15 h   (mod 24 h)

InSight sols: sol 0 is the landing sol (landing 2018-11-26T19:52:59 UTC, early afternoon
LMST). Sols are counted in local mean solar days: sol = floor(MSD + longitude_east/360) -
floor(local MSD at landing).

The InSight mission clock: the operations LMST (NAIF's InSight time service; the LMST of the
InSight papers, SEIS data products and the Marsquake Service catalogue) starts sol 0 at
2018-11-26T05:10:50.336 UTC. That is Mars24 at ``INSIGHT_CLOCK_LONGITUDE`` = 135.971885 E
(the longitude that puts the published sol starts at LMST 00:00; the clock was fixed with
the pre-landing site estimate), and it is the default here, so that LMST values match the
published ones. The true local mean solar time of the lander (``INSIGHT_LONGITUDE`` =
135.623447 E, the landing-site longitude) runs 86 s behind it; pass that longitude for it.

Earth: local mean solar time = UTC + longitude/15 h (mod 24 h).
"""
from __future__ import annotations

import math

import numpy as np
from obspy import UTCDateTime

__all__ = ["INSIGHT_CLOCK_LONGITUDE", "INSIGHT_LONGITUDE", "local_solar_time", "lmst_to_utc", "utc_to_lmst"]

INSIGHT_LONGITUDE = 135.623447  # degrees east (InSight landing site)
# Mars24 longitude of the InSight mission clock: 360 * (ceil(MSD) - MSD) at the published
# sol-0 start 2018-11-26T05:10:50.336037 UTC.
INSIGHT_CLOCK_LONGITUDE = 135.971885
INSIGHT_LANDING = UTCDateTime("2018-11-26T19:52:59")

# TAI - UTC (leap seconds) from the IERS bulletins, as (UTC POSIX time it starts, seconds).
_LEAP = [(UTCDateTime(d).timestamp, s) for d, s in [
    ("1972-01-01", 10), ("1972-07-01", 11), ("1973-01-01", 12), ("1974-01-01", 13),
    ("1975-01-01", 14), ("1976-01-01", 15), ("1977-01-01", 16), ("1978-01-01", 17),
    ("1979-01-01", 18), ("1980-01-01", 19), ("1981-07-01", 20), ("1982-07-01", 21),
    ("1983-07-01", 22), ("1985-07-01", 23), ("1988-01-01", 24), ("1990-01-01", 25),
    ("1991-01-01", 26), ("1992-07-01", 27), ("1993-07-01", 28), ("1994-07-01", 29),
    ("1996-01-01", 30), ("1997-07-01", 31), ("1999-01-01", 32), ("2006-01-01", 33),
    ("2009-01-01", 34), ("2012-07-01", 35), ("2015-07-01", 36), ("2017-01-01", 37)]]
_LEAP_T = np.array([t for t, _ in _LEAP])
_LEAP_S = np.array([s for _, s in _LEAP], dtype=float)

_MARS_RATIO = 1.0274912517   # Earth days per Mars sol
_MSD_OFFSET = 44796.0 - 0.0009626


def _timestamps(t):
    """POSIX seconds (float64 array or scalar) and whether the input was a scalar."""
    if isinstance(t, np.ndarray) and t.dtype.kind == "M":
        return t.astype("datetime64[ns]").astype(np.int64) / 1e9, False
    if isinstance(t, np.datetime64):
        return float(t.astype("datetime64[ns]").astype(np.int64)) / 1e9, True
    if isinstance(t, (list, tuple)):
        return np.array([UTCDateTime(x).timestamp for x in t]), False
    try:
        return UTCDateTime(t).timestamp, True
    except Exception as exc:
        raise ValueError(f"t={t!r} is not a time ObsPy understands ({exc}); pass an "
                         "obspy.UTCDateTime, an ISO string or numpy datetime64") from None


def _tt_minus_utc(ts):
    ts = np.asarray(ts, dtype=float)
    if np.any(ts < _LEAP_T[0]):
        raise ValueError("times before 1972-01-01 are not supported (no leap-second table)")
    idx = np.searchsorted(_LEAP_T, ts, side="right") - 1
    return 32.184 + _LEAP_S[idx]


def _mars_sol_date(ts):
    dt_j2000 = (ts + _tt_minus_utc(ts)) / 86400.0 - 10957.5  # JD_TT - 2451545.0
    return (dt_j2000 - 4.5) / _MARS_RATIO + _MSD_OFFSET


def _local_msd(ts, longitude):
    return _mars_sol_date(ts) + longitude / 360.0


_SOL0 = math.floor(float(_local_msd(INSIGHT_LANDING.timestamp, INSIGHT_LONGITUDE)))


def _check_longitude(longitude):
    if not (isinstance(longitude, (int, float, np.floating)) and -360.0 <= longitude <= 360.0):
        raise ValueError(f"longitude={longitude!r} must be degrees east in [-360, 360]")
    return float(longitude)


def utc_to_lmst(t, longitude=INSIGHT_CLOCK_LONGITUDE):
    """Sol number and local mean solar time (hours) on Mars for a UTC time.

    Parameters
    ----------
    t : obspy.UTCDateTime, str, datetime, numpy.datetime64 or array of datetime64
        UTC time(s), from 1972 on.
    longitude : float
        Degrees east on Mars; default ``INSIGHT_CLOCK_LONGITUDE`` (135.971885 E), the InSight
        mission clock (published LMST); ``INSIGHT_LONGITUDE`` (135.623447 E) gives the true
        local mean solar time of the lander, 86 s earlier.

    Returns
    -------
    sol : int (or int64 array)
        Sol counted in local mean solar days from the InSight landing sol (sol 0).
    hours : float (or float64 array)
        LMST in hours, in [0, 24).

    Examples
    --------
    >>> from scatclust.io import utc_to_lmst
    >>> sol, h = utc_to_lmst("2018-11-26T19:52:59")   # InSight landing
    >>> sol, round(h, 2)
    (0, 14.31)
    """
    longitude = _check_longitude(longitude)
    ts, scalar = _timestamps(t)
    lmsd = _local_msd(np.asarray(ts, dtype=float), longitude)
    day = np.floor(lmsd)
    sol = (day - _SOL0).astype(np.int64)
    hours = (lmsd - day) * 24.0
    if scalar:
        return int(sol), float(hours)
    return sol, hours


def lmst_to_utc(sol, hours, longitude=INSIGHT_CLOCK_LONGITUDE) -> UTCDateTime:
    """UTC time of a given InSight sol and LMST (the inverse of :func:`utc_to_lmst`).

    Parameters
    ----------
    sol : int
        Sol number (0 = InSight landing sol).
    hours : float
        LMST in hours, [0, 24).
    longitude : float
        Degrees east on Mars; default the InSight mission clock (see :func:`utc_to_lmst`).

    Returns
    -------
    obspy.UTCDateTime

    Examples
    --------
    >>> from scatclust.io import lmst_to_utc
    >>> str(lmst_to_utc(0, 0.0))[:19]     # start of sol 0 on the mission clock (NAIF)
    '2018-11-26T05:10:50'
    >>> from scatclust.io import INSIGHT_LONGITUDE
    >>> str(lmst_to_utc(0, 0.0, longitude=INSIGHT_LONGITUDE))[:19]   # true LMST at the lander
    '2018-11-26T05:12:16'
    """
    longitude = _check_longitude(longitude)
    if not (isinstance(sol, (int, np.integer))):
        raise ValueError(f"sol={sol!r} must be an integer sol number")
    hours = float(hours)
    if not 0.0 <= hours < 24.0:
        raise ValueError(f"hours={hours} must be LMST hours in [0, 24)")
    msd = int(sol) + _SOL0 + hours / 24.0 - longitude / 360.0
    dt_j2000 = (msd - _MSD_OFFSET) * _MARS_RATIO + 4.5
    ts_tt = (dt_j2000 + 10957.5) * 86400.0  # TT seconds on the POSIX scale
    ts = ts_tt - _tt_minus_utc(ts_tt - 69.184)
    ts = ts_tt - _tt_minus_utc(ts)  # settle the leap-second lookup on the UTC value
    return UTCDateTime(float(ts))


def local_solar_time(t, longitude):
    """Local mean solar time on Earth, in hours: UTC + longitude/15 h, modulo 24.

    Parameters
    ----------
    t : obspy.UTCDateTime, str, datetime, numpy.datetime64 or array of datetime64
    longitude : float
        Degrees east (negative west).

    Returns
    -------
    float or float64 array
        Hours in [0, 24).

    Examples
    --------
    >>> from scatclust.io import local_solar_time
    >>> local_solar_time("2020-01-01T12:00:00", -90.0)
    6.0
    """
    longitude = _check_longitude(longitude)
    ts, scalar = _timestamps(t)
    hours = np.mod(np.asarray(ts, dtype=float) / 3600.0 + longitude / 15.0, 24.0)
    return float(hours) if scalar else hours
