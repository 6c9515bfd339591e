"""Autoencoders for deep clustering: a 2-D convolutional one for spectrograms, an MLP one for vectors.

Both expose ``encode(x) -> z`` (n, latent_dim), ``decode(z) -> x_hat`` and ``forward(x) ->
(z, x_hat)`` with ``x_hat.shape == x.shape``. Used by :class:`scatclust.cluster.DEC`.
"""
from __future__ import annotations

import torch

from .._array import check_int

__all__ = ["ConvAutoencoder2d", "MLPAutoencoder", "conv_out_size"]


def conv_out_size(n, kernel_size=3, stride=2, padding=1):
    """Length of an axis of ``n`` samples after ``Conv2d(kernel_size, stride, padding)``."""
    return (n + 2 * padding - kernel_size) // stride + 1


def _check_sizes(values, name):
    if isinstance(values, int) and not isinstance(values, bool):
        values = (values,)
    values = tuple(values)
    for v in values:
        check_int(v, name, lo=1)
    return values


class ConvAutoencoder2d(torch.nn.Module):
    """Convolutional autoencoder for single-channel images of any size (e.g. log-spectrograms).

    Encoder: ``len(channels)`` blocks ``Conv2d(kernel 3, stride 2, padding 1) -> ReLU``, each
    halving (rounding up) both axes, then a linear map of the flattened last feature map to
    ``latent_dim``. Decoder: the mirror image, a linear map back to the last feature map and
    ``ConvTranspose2d(kernel 3, stride 2, padding 1)`` blocks. The transposed convolution of
    a map of m samples gives ``2m - 1 + output_padding``; ``output_padding`` (0 or 1) is
    chosen per block and axis from the encoder's recorded input size, so odd and even sizes
    are both rebuilt exactly (an axis of length 1 stays 1). The last block has no
    activation (the input may be any real values, e.g. dB).

    Parameters
    ----------
    input_shape : (int, int)
        (H, W) of the images, each >= 1.
    channels : sequence of int, default (16, 32, 64)
        Output channels of the encoder blocks (the decoder uses them in reverse).
    latent_dim : int, default 10
        Size of the embedding z.

    Examples
    --------
    >>> import torch
    >>> from scatclust.nn import ConvAutoencoder2d
    >>> ae = ConvAutoencoder2d((17, 23), channels=(8, 16), latent_dim=4)
    >>> z, x_hat = ae(torch.randn(5, 1, 17, 23))
    >>> tuple(z.shape), tuple(x_hat.shape)
    ((5, 4), (5, 1, 17, 23))
    """

    def __init__(self, input_shape, channels=(16, 32, 64), latent_dim=10):
        super().__init__()
        shape = _check_sizes(input_shape, "input_shape")
        if len(shape) != 2:
            raise ValueError(f"input_shape={input_shape!r} must be (H, W)")
        channels = _check_sizes(channels, "channels")
        if not channels:
            raise ValueError("channels=() must name at least one convolution block")
        self.input_shape = shape
        self.channels = channels
        self.latent_dim = check_int(latent_dim, "latent_dim", lo=1)
        sizes = [shape]  # (H, W) entering each encoder block, then the bottleneck map
        for _ in channels:
            sizes.append(tuple(conv_out_size(s) for s in sizes[-1]))
        self._sizes = sizes
        enc, dec = [], []
        c_in = 1
        for c in channels:
            enc += [torch.nn.Conv2d(c_in, c, 3, stride=2, padding=1), torch.nn.ReLU()]
            c_in = c
        self.encoder_conv = torch.nn.Sequential(*enc)
        n_flat = channels[-1] * sizes[-1][0] * sizes[-1][1]
        self.encoder_fc = torch.nn.Linear(n_flat, self.latent_dim)
        self.decoder_fc = torch.nn.Linear(self.latent_dim, n_flat)
        outs = list(channels[-2::-1]) + [1]
        for i, c_out in enumerate(outs):
            m = sizes[len(channels) - i]       # map entering this decoder block
            target = sizes[len(channels) - i - 1]  # size to rebuild
            pad = tuple(t - (2 * mi - 1) for t, mi in zip(target, m))
            dec.append(torch.nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=pad))
            if i < len(outs) - 1:
                dec.append(torch.nn.ReLU())
            c_in = c_out
        self.decoder_conv = torch.nn.Sequential(*dec)

    def _check(self, x):
        if x.ndim != 4 or x.shape[1] != 1 or tuple(x.shape[2:]) != self.input_shape:
            raise ValueError(f"x has shape {tuple(x.shape)}; expected (n, 1, {self.input_shape[0]}, "
                             f"{self.input_shape[1]})")

    def encode(self, x):
        """(n, 1, H, W) -> (n, latent_dim)."""
        self._check(x)
        h = self.encoder_conv(x)
        return self.encoder_fc(h.flatten(1))

    def decode(self, z):
        """(n, latent_dim) -> (n, 1, H, W)."""
        h = torch.relu(self.decoder_fc(z))
        h = h.view(z.shape[0], self.channels[-1], *self._sizes[-1])
        return self.decoder_conv(h)

    def forward(self, x):
        z = self.encode(x)
        return z, self.decode(z)

    def extra_repr(self):
        return f"input_shape={self.input_shape}, channels={self.channels}, latent_dim={self.latent_dim}"


class MLPAutoencoder(torch.nn.Module):
    """Fully connected autoencoder ``d -> hidden... -> latent_dim -> ...hidden reversed -> d``.

    ReLU after every hidden layer; the embedding and the reconstruction are linear (as in
    Xie et al., 2016, whose digits/MNIST network is ``hidden=(500, 500, 2000)``, latent 10).

    Examples
    --------
    >>> import torch
    >>> from scatclust.nn import MLPAutoencoder
    >>> ae = MLPAutoencoder(64, hidden=(32,), latent_dim=3)
    >>> z, x_hat = ae(torch.randn(4, 64))
    >>> tuple(z.shape), tuple(x_hat.shape)
    ((4, 3), (4, 64))
    """

    def __init__(self, n_features, hidden=(500, 500, 2000), latent_dim=10):
        super().__init__()
        self.n_features = check_int(n_features, "n_features", lo=1)
        self.hidden = _check_sizes(hidden, "hidden")
        self.latent_dim = check_int(latent_dim, "latent_dim", lo=1)
        dims = [self.n_features, *self.hidden, self.latent_dim]
        self.encoder = self._stack(dims)
        self.decoder = self._stack(dims[::-1])

    @staticmethod
    def _stack(dims):
        layers = []
        for i in range(len(dims) - 1):
            layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)

    def encode(self, x):
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"x has shape {tuple(x.shape)}; expected (n, {self.n_features})")
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        z = self.encode(x)
        return z, self.decode(z)

    def extra_repr(self):
        return f"n_features={self.n_features}, hidden={self.hidden}, latent_dim={self.latent_dim}"
