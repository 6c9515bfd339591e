"""Feature store (Zarr v3 with an HDF5 export) and normalisation statistics.

Imports zarr, xarray, dask and h5py only when used (the ``seismic`` extra).
"""
from ._feature_store import (FeatureStore, apply_normalization, day_key, fit_normalization, load_normalization,
                             open_features)
from ._stats import Moments, NormalizationStats, merge_all, merge_moments, partial_moments

__all__ = [
    "FeatureStore",
    "Moments",
    "NormalizationStats",
    "apply_normalization",
    "day_key",
    "fit_normalization",
    "load_normalization",
    "merge_all",
    "merge_moments",
    "open_features",
    "partial_moments",
]

from ._labels import label_sets, read_labels, write_labels  # noqa: E402

__all__ += ["label_sets", "read_labels", "write_labels"]
