"""Plain numpy versions of the core kernels, used as test oracles and benchmark baselines."""
from .stft import dual_window, istft, stft

__all__ = ["dual_window", "istft", "stft"]
