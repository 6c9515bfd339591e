"""Window features of prepared records and the per-day extraction runner (Dask).

Imports xarray (and, for :func:`extract`, ObsPy and dask.distributed) only when used.
"""
from ._extract import DayResult, ExtractSummary, extract
from ._windows import as_real_features, coefficient_coords, window_features
from ._layout import by_channel, flat

__all__ = ["DayResult", "ExtractSummary", "as_real_features", "coefficient_coords", "extract", "window_features"]
__all__ += ["by_channel", "flat"]
