"""Reading and preparing seismic data (ObsPy), InSight download and Mars local time.

Importing this package imports ObsPy (``import scatclust`` alone does not).
"""
from ._fetch import FetchError, fetch_insight
from ._lmst import (INSIGHT_CLOCK_LONGITUDE, INSIGHT_LONGITUDE, lmst_to_utc, local_solar_time,
                    utc_to_lmst)
from ._prepare import PrepareConfig, PreparedRecord, prepare
from ._read import DayData, ReadError, SDSSource, iter_days, read

__all__ = [
    "DayData",
    "FetchError",
    "INSIGHT_CLOCK_LONGITUDE",
    "INSIGHT_LONGITUDE",
    "PrepareConfig",
    "PreparedRecord",
    "ReadError",
    "SDSSource",
    "fetch_insight",
    "iter_days",
    "lmst_to_utc",
    "local_solar_time",
    "prepare",
    "read",
    "utc_to_lmst",
]
