"""Data-cube segmentation (MA-XRF and other spectral images).

:func:`segment` clusters the per-pixel spectra of an (H, W, C) cube with a spectral
autoencoder and a differentiable k-means in its latent space, or (``model="unmix"``) with a
Poisson spectral-unmixing autoencoder whose labels are the dominant abundances (see
:mod:`scatclust.cube._segment` and :mod:`scatclust.cube._unmix`). torch is imported when :func:`segment` runs.
"""
from __future__ import annotations

from ._load import load_cube
from ._segment import CubeSegmentation, preprocess_spectra, segment

__all__ = ["CubeSegmentation", "load_cube", "preprocess_spectra", "segment"]
