"""Plain-numpy reference implementations ("oracles") of the ``scatclust._core`` kernels.

Slow, readable, and written from the mathematics; the tests compare the compiled kernels
against these, and these against the peer libraries (kymatio 0.3 for the filter bank and
the wavelet transform, scipy/torch for the STFT). The STFT lives in its own submodule
(``scatclust.reference.stft.stft`` / ``.istft`` / ``.dual_window``) so that the module
name is not shadowed by a function.
"""
from __future__ import annotations

from . import stft
from . import kmeans
from . import student_t
from .filter_bank import (
    border_indices,
    gauss_1d,
    max_dyadic_subsampling,
    morlet_1d,
    morlet_filter_bank,
    morlet_params,
    padding_geometry,
    sigma_from_xi,
    temporal_support,
)
from .wavelet import pad, scattering_first_layer, wavelet_transform
from . import spectra_filter_bank

__all__ = [
    "border_indices",
    "gauss_1d",
    "kmeans",
    "max_dyadic_subsampling",
    "morlet_1d",
    "morlet_filter_bank",
    "morlet_params",
    "pad",
    "padding_geometry",
    "scattering_first_layer",
    "scattering",
    "sigma_from_xi",
    "stft",
    "student_t",
    "temporal_support",
    "wavelet_transform",
]
__all__ += ["spectra", "spectra_filter_bank"]


def __getattr__(name):
    # The scattering and scattering-spectra oracles are written in torch (its autograd is
    # their gradient); they are imported on first use so that the numpy oracles work
    # without torch.
    if name in ("scattering", "spectra"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
