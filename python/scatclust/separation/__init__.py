"""Source separation (issue 8): baselines and quality metrics.

``wiener_filter``, ``bandpass_filter`` (with ``prior_band``) and ``fastica_separate`` are
the baselines that :func:`scatclust.separate` is measured against; ``snr_db`` and
``snr_improvement_db`` measure a separation against its ground truth (test cases in
:mod:`scatclust.datasets`: ``separation_toy``, ``mars_separation_cases``).
"""
from __future__ import annotations

from ._baselines import bandpass_filter, fastica_separate, prior_band, wiener_filter
from ._metrics import snr_db, snr_improvement_db

__all__ = ["bandpass_filter", "fastica_separate", "prior_band", "snr_db", "snr_improvement_db", "wiener_filter"]
