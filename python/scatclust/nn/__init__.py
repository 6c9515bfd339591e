"""torch building blocks (``torch.nn.Module`` wrappers of the core transforms).

Importing this subpackage imports torch; ``import scatclust`` alone does not.
"""
from __future__ import annotations

from ._scattering import Scattering1D
from ._autoencoder import ConvAutoencoder2d, MLPAutoencoder, conv_out_size

__all__ = ["Scattering1D"]
__all__ += ["ConvAutoencoder2d", "MLPAutoencoder", "conv_out_size"]
