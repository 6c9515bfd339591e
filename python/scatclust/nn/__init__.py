"""torch building blocks (``torch.nn.Module`` wrappers of the core transforms, autoencoders,
MLP trunks, Gumbel-softmax) that ``scatclust.cluster`` and ``scatclust.models`` both use.

Importing this subpackage imports torch; ``import scatclust`` alone does not.
"""
from __future__ import annotations

from ._augment import affine, corrupt, random_affine, random_shift, shift
from ._autoencoder import ConvAutoencoder2d, MLPAutoencoder, conv_out_size
from ._gumbel import TemperatureSchedule, gumbel_softmax
from ._mlp import MLP, mlp_parameter_count
from ._scattering import Scattering1D

__all__ = [
    "ConvAutoencoder2d",
    "MLP",
    "MLPAutoencoder",
    "Scattering1D",
    "TemperatureSchedule",
    "affine",
    "conv_out_size",
    "corrupt",
    "gumbel_softmax",
    "mlp_parameter_count",
    "random_affine",
    "random_shift",
    "shift",
]
