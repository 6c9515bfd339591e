"""Fully connected trunk (Linear + activation stacks) shared by the clustering models."""
from __future__ import annotations

import numbers

import torch

__all__ = ["MLP", "mlp_parameter_count"]

_ACTIVATIONS = {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU, "tanh": torch.nn.Tanh, "elu": torch.nn.ELU}


def _check_widths(widths, name):
    try:
        widths = tuple(widths)
    except TypeError:
        raise TypeError(f"{name}={widths!r} must be a sequence of layer widths, e.g. (256, 128)") from None
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1:
            raise ValueError(f"{name}={widths!r}: every width must be an int >= 1 (got {w!r})")
    return tuple(int(w) for w in widths)


def mlp_parameter_count(n_in, widths):
    """Parameters of ``MLP(n_in, widths)``: sum over layers of ``n_prev * n_out + n_out``."""
    total, prev = 0, int(n_in)
    for w in widths:
        total += prev * w + w
        prev = w
    return total


class MLP(torch.nn.Sequential):
    """``Linear -> activation`` repeated; the last layer is linear unless ``activate_last``.

    Parameters
    ----------
    n_in : int
        Input width.
    widths : sequence of int
        Output width of every Linear layer (the last is the module's output width).
        An empty sequence gives the identity.
    activation : {'relu', 'gelu', 'tanh', 'elu'}
        Non-linearity between layers (default 'relu').
    activate_last : bool
        Also apply the activation after the last layer (a trunk feeding heads).
    device, dtype :
        Passed to ``torch.nn.Linear`` (``device='meta'`` builds the shapes only).

    Examples
    --------
    >>> import torch
    >>> from scatclust.nn import MLP, mlp_parameter_count
    >>> m = MLP(10, (32, 4))
    >>> m(torch.zeros(5, 10)).shape, sum(p.numel() for p in m.parameters()) == mlp_parameter_count(10, (32, 4))
    (torch.Size([5, 4]), True)
    """

    def __init__(self, n_in, widths, *, activation="relu", activate_last=False, device=None, dtype=None):
        if isinstance(n_in, bool) or not isinstance(n_in, numbers.Integral) or n_in < 1:
            raise ValueError(f"n_in={n_in!r} must be an int >= 1")
        widths = _check_widths(widths, "widths")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not one of {sorted(_ACTIVATIONS)}")
        layers, prev = [], int(n_in)
        for i, w in enumerate(widths):
            layers.append(torch.nn.Linear(prev, w, device=device, dtype=dtype))
            if i < len(widths) - 1 or activate_last:
                layers.append(_ACTIVATIONS[activation]())
            prev = w
        super().__init__(*layers)
        self.n_in, self.widths, self.n_out = int(n_in), widths, prev
