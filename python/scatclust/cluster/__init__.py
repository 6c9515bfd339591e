"""Clustering estimators with scikit-learn's API, backed by the C++/OpenMP core."""
from __future__ import annotations

from ._kmeans import KMeans, MiniBatchKMeans, kmeans_plusplus

__all__ = ["KMeans", "MiniBatchKMeans", "kmeans_plusplus"]
