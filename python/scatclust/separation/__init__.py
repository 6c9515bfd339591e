"""Source separation in scattering-spectra space (issue 8).

``separate(x, priors)`` estimates the source n described by prior realisations n_1..n_R from
an observation x = n + s by L-BFGS on a time-frequency gain of x (or on the samples of the
estimate), with the scattering-spectra loss of
:mod:`scatclust.separation._loss` (C++ moments and VJP). ``select_priors`` /
``priors_from_model`` pick the priors; ``plot_separation`` draws a result.

``wiener_filter``, ``bandpass_filter`` (with ``prior_band``) and ``fastica_separate`` are
the baselines that :func:`separate` is measured against (``spectral_cap``, a milder
Wiener-type gain, is the optional last step of ``separate(post='cap')``); ``snr_db`` and
``snr_improvement_db`` measure a separation against its ground truth (test cases in
:mod:`scatclust.datasets`: ``separation_toy``, ``mars_separation_cases``).
"""
from __future__ import annotations

from ._baselines import bandpass_filter, fastica_separate, prior_band, spectral_cap, wiener_filter
from ._loss import TERMS, SeparationLoss
from ._metrics import snr_db, snr_improvement_db
from ._priors import priors_from_model, select_priors
from ._separate import SegmentResult, SeparationResult, overlap_add_weights, segment_bounds, separate

__all__ = [
    "SegmentResult",
    "SeparationLoss",
    "SeparationResult",
    "TERMS",
    "bandpass_filter",
    "fastica_separate",
    "overlap_add_weights",
    "plot_separation",
    "prior_band",
    "priors_from_model",
    "segment_bounds",
    "select_priors",
    "separate",
    "snr_db",
    "spectral_cap",
    "snr_improvement_db",
    "wiener_filter",
]


def __getattr__(name):
    # matplotlib is imported only when a plot is asked for.
    if name == "plot_separation":
        from ._plot import plot_separation

        return plot_separation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
