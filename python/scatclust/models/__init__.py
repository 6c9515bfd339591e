"""Latent-variable clustering models (torch).

- :class:`FactorialVAE`: per-scale Gaussian-mixture VAEs with a shared encoder trunk over
  nested time scales (after arXiv:2305.16189), :func:`fvae_parameter_count`,
  ``PUBLISHED_CONFIG`` (the ~196 M-parameter configuration).
- :class:`FVAEClustering`: its scikit-learn-style estimator (normalisation stored in the
  checkpoint, resume, per-scale read-out, cross-scale contingency tables).

torch is imported on first access of a name, not by ``import scatclust.models``.
"""
from __future__ import annotations

__all__ = ["FVAEClustering", "FactorialVAE", "PUBLISHED_CONFIG", "fvae_parameter_count"]


def __getattr__(name):
    if name in ("FactorialVAE", "PUBLISHED_CONFIG", "fvae_parameter_count"):
        from . import _fvae

        return getattr(_fvae, name)
    if name == "FVAEClustering":
        from ._fvae_estimator import FVAEClustering

        return FVAEClustering
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
