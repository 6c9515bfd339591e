"""Input/output handling shared by the front ends: numpy arrays and torch CPU tensors.

Conventions (every front end follows them):
- float32 and float64 inputs keep their precision; any other real dtype (integers, bool,
  float16, bfloat16) is converted once to float64 (numpy) / float32 (torch half types)
  /float64 (torch integer types). Complex inputs raise TypeError.
- Non-contiguous inputs are copied once into C order (the core never copies silently).
- torch tensors must live on the CPU; outputs are torch tensors when the input is one.
- The signal axis is the last one; all leading axes are batch axes.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["SignalBatch", "as_real_numpy", "as_signal_batch", "check_int", "check_choice", "is_torch"]


def is_torch(x):
    """True for torch tensors (and Parameters), without importing torch."""
    return type(x).__module__.split(".")[0] == "torch"


class SignalBatch:
    """A (batch, n) C-contiguous view of the input plus what is needed to shape outputs."""

    __slots__ = ("data", "batch_shape", "n", "dtype", "is_torch")

    def __init__(self, data, batch_shape, n, dtype, is_torch):
        self.data = data
        self.batch_shape = batch_shape
        self.n = n
        self.dtype = dtype  # np.dtype float32 / float64
        self.is_torch = is_torch

    @property
    def batch(self):
        return int(np.prod(self.batch_shape, dtype=np.int64))

    def empty(self, shape, complex_out=False):
        """Allocate an output of the input's kind (numpy / torch) and precision."""
        if self.is_torch:
            import torch

            if complex_out:
                dt = torch.complex64 if self.dtype == np.float32 else torch.complex128
            else:
                dt = torch.float32 if self.dtype == np.float32 else torch.float64
            return torch.empty(tuple(shape), dtype=dt)
        if complex_out:
            dt = np.complex64 if self.dtype == np.float32 else np.complex128
        else:
            dt = self.dtype
        return np.empty(tuple(shape), dtype=dt)


def _check_torch_real(x, name):
    """CPU, real torch tensor -> detached float32/float64 tensor (half types -> float32)."""
    import torch

    if x.device.type != "cpu":
        raise ValueError(f"{name} is on device '{x.device}'; scatclust's core runs on the CPU: pass {name}.cpu()")
    if x.is_complex():
        raise TypeError(f"{name} has complex dtype {x.dtype}; a real array is expected (use .real or .abs())")
    x = x.detach()
    if x.dtype not in (torch.float32, torch.float64):
        x = x.to(torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else torch.float64)
    return x


def _real_numpy(x, name):
    """Array-like -> float32/float64 numpy array (other real dtypes -> float64), not copied
    when already float32/float64."""
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)) or np.isscalar(x) or hasattr(x, "__array__"):
            x = np.asarray(x)
        else:
            raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    if np.iscomplexobj(x):
        raise TypeError(f"{name} has complex dtype {x.dtype}; a real array is expected (use .real or np.abs)")
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{name} has dtype {x.dtype}; a real numeric array is expected")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return x


def as_real_numpy(x, name):
    """(float32/float64 numpy array, was_torch) for a numpy array, array-like or CPU tensor.

    torch tensors are detached and viewed as numpy without a copy when already float32/64;
    the caller wraps outputs back with ``torch.from_numpy`` when ``was_torch``.
    """
    if is_torch(x):
        return _check_torch_real(x, name).resolve_conj().resolve_neg().numpy(), True
    return _real_numpy(x, name), False


def as_signal_batch(x, name="x", min_length=1, check_finite=True):
    """Validate a real signal array (..., n) and flatten its batch axes.

    Raises TypeError for non-array or complex input, ValueError for empty signal axis,
    too-short signals and NaN/Inf values, naming the argument.
    """
    if is_torch(x):
        import torch

        x = _check_torch_real(x, name)
        if x.ndim == 0:
            raise ValueError(f"{name} must have at least one axis (signal samples last), got a scalar")
        batch_shape = tuple(x.shape[:-1])
        n = int(x.shape[-1])
        _check_length(name, n, min_length)
        flat = x.reshape(-1, n).contiguous()
        if check_finite and flat.numel() and not bool(torch.isfinite(flat).all()):
            raise ValueError(_nonfinite_msg(name))
        dtype = np.dtype(np.float32) if flat.dtype == torch.float32 else np.dtype(np.float64)
        return SignalBatch(flat, batch_shape, n, dtype, True)

    x = _real_numpy(x, name)
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one axis (signal samples last), got a scalar")
    batch_shape = tuple(x.shape[:-1])
    n = int(x.shape[-1])
    _check_length(name, n, min_length)
    flat = np.ascontiguousarray(x.reshape(-1, n))
    if check_finite and flat.size and not np.isfinite(flat).all():
        raise ValueError(_nonfinite_msg(name))
    return SignalBatch(flat, batch_shape, n, flat.dtype, False)


def _check_length(name, n, min_length):
    if n < min_length:
        raise ValueError(f"{name} has {n} samples on its last axis; at least {min_length} are needed")


def _nonfinite_msg(name):
    return (f"{name} contains NaN or Inf values; remove or interpolate them first "
            f"(e.g. ObsPy's Stream.merge(fill_value='interpolate'))")


def check_int(value, name, lo=None, hi=None, allow_none=False):
    """Return ``value`` as int after checking its type and range (inclusive bounds).

    Messages name the argument: "hop=0 must be >= 1", "J=30 is out of range; valid range
    is [1, 24]", "hop=1.5 must be an int". Floats are refused even when integral (2.0):
    a size computed in floating point is usually a bug upstream.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} must be an int")
    value = int(value)
    if hi is None and lo is not None and value < lo:
        raise ValueError(f"{name}={value} must be >= {lo}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"[{lo if lo is not None else '-inf'}, {hi}]"
        raise ValueError(f"{name}={value} is out of range; valid range is {rng}")
    return value


def check_choice(value, name, choices):
    """Return ``value`` if it is one of ``choices``; ValueError naming the argument otherwise."""
    try:
        ok = value in choices and (not isinstance(value, bool) or any(value is c for c in choices))
    except (TypeError, ValueError):  # unhashable or array-like values
        ok = False
    if not ok:
        raise ValueError(f"{name}={value!r} must be one of {', '.join(map(repr, choices))}")
    return value
