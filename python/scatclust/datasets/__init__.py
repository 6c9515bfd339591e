"""Synthetic data sets with ground truth.

``synthetic_mars`` generates Mars-like (NASA InSight VBB) 3-component records: the
mixture, every source's waveform, per-sample labels and an event list (see
:mod:`scatclust.datasets._synthetic_mars` for the model of each source).
``mrw`` draws increments of a multifractal random walk; ``separation_toy`` and
``mars_separation_cases`` give source-separation cases ``x = n + s`` with priors of ``n``.
"""
from __future__ import annotations

from ._synthetic_mars import SyntheticMars, synthetic_mars

__all__ = ["SyntheticMars", "synthetic_mars"]

from ._synthetic_xrf import PIGMENTS, SyntheticXRF, fano_sigma, synthetic_xrf, tube_spectrum  # noqa: E402

__all__ += ["PIGMENTS", "SyntheticXRF", "fano_sigma", "synthetic_xrf", "tube_spectrum"]

from ._mrw import mrw  # noqa: E402
from ._separation_toy import SeparationCase, mars_separation_cases, separation_toy  # noqa: E402

__all__ += ["SeparationCase", "mars_separation_cases", "mrw", "separation_toy"]
from ._window_truth import MARS_DURATIONS, matching_scales, source_scores, window_truth  # noqa: E402

__all__ += ["MARS_DURATIONS", "matching_scales", "source_scores", "window_truth"]
