"""Figures (matplotlib) for seismic clustering, source separation, data-cube segmentation and
training curves.

Every figure function takes plain arrays (or a model's recorded history), returns a
``matplotlib.figure.Figure`` made without pyplot (so it works with the Agg backend, in
threads and on servers) and, with ``path=``, saves it (PNG/PDF/SVG by suffix; a sequence of
paths saves several formats). :mod:`scatclust.report` assembles them into a report.

- Seismic clustering (per scale): :func:`time_of_day_histogram`, :func:`cluster_centroids` +
  :func:`cluster_waveforms` (windows aligned by cross-correlation on the most confident one,
  confidence-weighted centroid), :func:`centroid_asd`, :func:`occupancy_raster`,
  :func:`contingency_heatmap`, :func:`latent_embedding`; data helpers
  :func:`align_waveforms`, :func:`window_start_samples`, :func:`occupancy`,
  :func:`contingency_table`, :func:`embed_2d`, :func:`amplitude_spectral_density`.
- Separation: :func:`separation`.
- Cubes: :func:`cube_label_map`, :func:`cube_mean_spectra` (:func:`element_lines`), and
  :func:`latent_embedding` for the latent space.
- Any model: :func:`training_curves` (:func:`history_series`).
- :func:`reference_style`: fixed fonts and dpi for reproducible images.

matplotlib is imported when a figure is made, not by ``import scatclust.plot``.
"""
from __future__ import annotations

from ._common import REFERENCE_RC, amplitude_spectral_density, reference_style
from ._cube import cube_label_map, cube_mean_spectra, element_lines
from ._seismic import (AlignedWaveforms, align_waveforms, centroid_asd, cluster_centroids, cluster_waveforms,
                       contingency_heatmap, contingency_table, embed_2d, latent_embedding, occupancy,
                       occupancy_raster, time_of_day_histogram, window_start_samples)
from ._separation import separation
from ._training import history_series, training_curves

__all__ = [
    "REFERENCE_RC",
    "AlignedWaveforms",
    "align_waveforms",
    "amplitude_spectral_density",
    "centroid_asd",
    "cluster_centroids",
    "cluster_waveforms",
    "contingency_heatmap",
    "contingency_table",
    "cube_label_map",
    "cube_mean_spectra",
    "element_lines",
    "embed_2d",
    "history_series",
    "latent_embedding",
    "occupancy",
    "occupancy_raster",
    "reference_style",
    "separation",
    "time_of_day_histogram",
    "training_curves",
    "window_start_samples",
]
