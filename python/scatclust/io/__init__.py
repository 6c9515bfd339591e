"""Reading and preparing seismic data (ObsPy), InSight download and Mars local time.

Importing this package imports ObsPy (``import scatclust`` alone does not).
"""
from ._prepare import PrepareConfig, PreparedRecord, prepare
from ._read import DayData, ReadError, SDSSource, iter_days, read

__all__ = [
    "DayData",
    "PrepareConfig",
    "PreparedRecord",
    "ReadError",
    "SDSSource",
    "iter_days",
    "prepare",
    "read",
]
