"""scatclust: multi-scale scattering features, clustering and source separation.

The heavy kernels live in the compiled module ``scatclust._core`` (C++17, OpenMP, FFTW3);
``scatclust.reference`` holds plain numpy/torch versions used as test oracles and baselines.
"""
from __future__ import annotations

from . import _core
from . import fft
from ._filter_bank import MorletFilterBank
from ._pyramid import PyramidFeatures, ScatteringPyramid
from ._scattering import Scattering1D
from ._spectra import ScatteringSpectra
from ._spectra_filter_bank import SpectraFilterBank
from ._stft import STFT, get_window, istft, stft
from ._threads import get_num_threads, set_num_threads, threads
from ._wavelet import WaveletTransform

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "MorletFilterBank",
    "PyramidFeatures",
    "STFT",
    "Scattering1D",
    "ScatteringPyramid",
    "ScatteringSpectra",
    "SpectraFilterBank",
    "WaveletTransform",
    "fft",
    "get_num_threads",
    "get_window",
    "istft",
    "set_num_threads",
    "stft",
    "threads",
]


__all__ += ["open_features"]  # lazy, see __getattr__


def __getattr__(name):
    # Lazy: `import scatclust` must not import zarr / xarray / dask (the 'seismic' extra).
    if name == "open_features":
        from .store import open_features

        return open_features
    raise AttributeError(f"module 'scatclust' has no attribute {name!r}")

# Source separation in scattering-spectra space (issue 8).
from .separation import separate  # noqa: E402

__all__ += ["separate"]
