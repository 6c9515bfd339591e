"""Clustering estimators with scikit-learn's API, backed by the C++/OpenMP core."""
from __future__ import annotations

from ._kmeans import KMeans, kmeans_plusplus

__all__ = ["KMeans", "kmeans_plusplus"]
