"""Clustering: estimators with scikit-learn's API and the Student-t (DEC) assignment.

- :class:`KMeans`, :class:`MiniBatchKMeans`, :func:`kmeans_plusplus` (scikit-learn API;
  scikit-learn itself is optional).
- Choosing k: :func:`select_k` (one fit per k, several criteria, table and plot),
  :func:`silhouette_score`, :func:`calinski_harabasz_score`, :func:`gap_statistic`.
- :class:`DEC`: deep embedded clustering (IDEC with ``gamma > 0``) of spectrograms or vectors
  with a convolutional / MLP autoencoder (torch imported on fit).
- Student-t (DEC) soft assignment: :func:`soft_assign`, :func:`target_distribution`,
  :func:`kl_loss`, :func:`kl_loss_grad` (numpy or torch CPU input) and the torch module
  :class:`StudentTAssignment`. torch is imported lazily: ``import scatclust.cluster`` works
  without torch, and ``StudentTAssignment`` is built (importing torch) on first access.
"""
from __future__ import annotations

from ._dec import DEC
from ._kmeans import KMeans, MiniBatchKMeans, kmeans_plusplus
from ._model_selection import (GapResult, KSelection, calinski_harabasz_score, gap_statistic, select_k,
                               silhouette_score)
from ._student_t import kl_loss, kl_loss_grad, soft_assign, target_distribution

__all__ = [
    "DEC",
    "GapResult",
    "KMeans",
    "KSelection",
    "MiniBatchKMeans",
    "StudentTAssignment",
    "calinski_harabasz_score",
    "gap_statistic",
    "kl_loss",
    "kl_loss_grad",
    "kmeans_plusplus",
    "select_k",
    "silhouette_score",
    "soft_assign",
    "target_distribution",
]


def __getattr__(name):
    # PEP 562 lazy attribute: the torch module class is created only when asked for.
    if name == "StudentTAssignment":
        from ._student_t_torch import StudentTAssignment

        return StudentTAssignment
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
