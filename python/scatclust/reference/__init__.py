"""Plain numpy versions of the core kernels, used as test oracles and benchmark baselines.

Each kernel has its own submodule (``scatclust.reference.stft`` holds ``stft``, ``istft``
and ``dual_window``), so that the module names are not shadowed by functions.
"""
from . import stft

__all__ = ["stft"]
