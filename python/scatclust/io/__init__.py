"""Reading and preparing seismic data (ObsPy), InSight download and Mars local time.

Importing this package imports ObsPy (``import scatclust`` alone does not).
"""
from ._lmst import INSIGHT_CLOCK_LONGITUDE, INSIGHT_LONGITUDE, local_solar_time, lmst_to_utc, utc_to_lmst
from ._prepare import PrepareConfig, PreparedRecord, prepare
from ._read import DayData, ReadError, SDSSource, iter_days, read

__all__ = [
    "DayData",
    "INSIGHT_CLOCK_LONGITUDE",
    "INSIGHT_LONGITUDE",
    "PrepareConfig",
    "PreparedRecord",
    "ReadError",
    "SDSSource",
    "iter_days",
    "lmst_to_utc",
    "local_solar_time",
    "prepare",
    "read",
    "utc_to_lmst",
]
