"""torch building blocks (``torch.nn.Module`` wrappers of the core transforms).

Importing this subpackage imports torch; ``import scatclust`` alone does not.
"""
from __future__ import annotations

from ._scattering import Scattering1D

__all__ = ["Scattering1D"]


# Building blocks of the clustering models (cluster/, models/), loaded on first access.
__all__ += ["MLP", "TemperatureSchedule", "gumbel_softmax", "mlp_parameter_count"]


def __getattr__(name):
    if name in ("MLP", "mlp_parameter_count"):
        from . import _mlp

        return getattr(_mlp, name)
    if name in ("TemperatureSchedule", "gumbel_softmax"):
        from . import _gumbel

        return getattr(_gumbel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
