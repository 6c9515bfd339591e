"""Synthetic data sets with ground truth.

``synthetic_mars`` generates Mars-like (NASA InSight VBB) 3-component records: the
mixture, every source's waveform, per-sample labels and an event list (see
:mod:`scatclust.datasets._synthetic_mars` for the model of each source).
"""
from __future__ import annotations

from ._synthetic_mars import SyntheticMars, synthetic_mars

__all__ = ["SyntheticMars", "synthetic_mars"]

from ._synthetic_xrf import PIGMENTS, SyntheticXRF, fano_sigma, synthetic_xrf  # noqa: E402

__all__ += ["PIGMENTS", "SyntheticXRF", "fano_sigma", "synthetic_xrf"]

from ._window_truth import MARS_DURATIONS, matching_scales, source_scores, window_truth  # noqa: E402

__all__ += ["MARS_DURATIONS", "matching_scales", "source_scores", "window_truth"]
