"""Data augmentation for image-like samples (spectrograms, small images): random shifts; input
corruption for denoising autoencoders (:func:`corrupt`).

Used by :class:`scatclust.cluster.DEC` (``augment='shift'``), after DEC-DA (Guo et al. 2018,
"Deep embedded clustering with data augmentation"): the autoencoder and the clustering
layer see randomly shifted copies of the samples, so that the embedding does not separate a
pattern from itself moved by a pixel (or a spectrogram frame).
"""
from __future__ import annotations

import numbers

__all__ = ["affine", "corrupt", "random_affine", "random_shift", "shift"]


def _as_shift_tuple(max_shift, n_axes, name="max_shift"):
    """max_shift (int or sequence of ints >= 0) -> tuple of n_axes ints; clear errors otherwise."""
    if isinstance(max_shift, numbers.Integral) and not isinstance(max_shift, bool):
        values = (int(max_shift),) * n_axes
    else:
        try:
            values = tuple(max_shift)
        except TypeError:
            raise ValueError(f"{name}={max_shift!r} must be an int >= 0 or a sequence of {n_axes} such ints "
                             "(one per shifted axis)") from None
        if len(values) != n_axes or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                            for v in values):
            raise ValueError(f"{name}={max_shift!r} must be an int >= 0 or a sequence of {n_axes} ints (one per "
                             f"shifted axis, here the last {n_axes} axes of each sample)")
        values = tuple(int(v) for v in values)
    if any(v < 0 for v in values):
        raise ValueError(f"{name}={max_shift!r} must be >= 0 (a shift in samples/pixels); use 0 to leave an axis "
                         "unshifted")
    return values


def shift(x, shifts):
    """Shift each sample of a batch by its own integer offsets along the last axes, zero fill.

    ``out[i, ..., j] = x[i, ..., j - shifts[i]]`` where the index is in range and 0 elsewhere
    (one trailing axis shown; with ``m`` columns in ``shifts`` the last ``m`` axes are
    shifted, column ``a`` along axis ``-m + a``). Nothing wraps around (unlike ``torch.roll``).

    Parameters
    ----------
    x : torch.Tensor, shape (n, ..., L_1, ..., L_m)
        Batch of samples, any dtype and device.
    shifts : torch.Tensor of integers, shape (n, m), m >= 1
        Offset of each sample along each of the last ``m`` axes (positive: towards higher
        indices). Offsets of magnitude >= the axis length give all zeros on that axis.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``.

    Examples
    --------
    >>> import torch
    >>> from scatclust.nn import shift
    >>> shift(torch.arange(1.0, 5.0).reshape(2, 2), torch.tensor([[1], [-1]]))
    tensor([[0., 1.],
            [4., 0.]])
    """
    import torch

    if shifts.ndim != 2 or shifts.shape[0] != x.shape[0]:
        raise ValueError(f"shifts has shape {tuple(shifts.shape)}; expected (n_samples, n_axes) with n_samples = "
                         f"x.shape[0] = {x.shape[0]}")
    m = shifts.shape[1]
    if m < 1 or m > x.ndim - 1:
        raise ValueError(f"shifts has {m} columns; x of shape {tuple(x.shape)} allows 1 to {x.ndim - 1} shifted "
                         "axes (axis 0 is the batch)")
    if shifts.dtype.is_floating_point or shifts.dtype == torch.bool:
        raise ValueError(f"shifts has dtype {shifts.dtype}; integer offsets are needed")
    shifts = shifts.to(device=x.device, dtype=torch.int64)
    out = x
    for a in range(m):
        axis = x.ndim - m + a
        length = x.shape[axis]
        s = shifts[:, a]
        # Source index of each output position; out-of-range sources are masked to zero.
        src = torch.arange(length, device=x.device)[None, :] - s[:, None]  # (n, L)
        valid = (src >= 0) & (src < length)
        view = [x.shape[0]] + [1] * (x.ndim - 1)
        view[axis] = length
        src = src.clamp(0, max(length - 1, 0)).reshape(view).expand(out.shape)
        valid = valid.reshape(view)
        out = torch.gather(out, axis, src) * valid.to(out.dtype)
    return out


def random_shift(x, max_shift, generator=None, n_axes=None):
    """Shift each sample by independent uniform random offsets in [-max_shift, max_shift], zero fill.

    Parameters
    ----------
    x : torch.Tensor, shape (n, ..., L_1, ..., L_m)
        Batch of samples.
    max_shift : int >= 0 or sequence of m ints >= 0
        Largest offset per shifted axis (pixels, frequency bins, time frames). An int
        applies to each of the last ``m`` axes; a sequence gives one value per axis, so
        ``(0, 2)`` on (n, 1, frequency, time) spectrograms shifts by up to 2 frames in time only.
    generator : torch.Generator, optional
        Source of the offsets (the same generator state gives the same offsets).
    n_axes : int, optional
        Number m of trailing axes to shift; default ``len(max_shift)`` for a sequence and
        ``min(2, x.ndim - 1)`` for an int.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x`` (see :func:`shift`).

    Examples
    --------
    >>> import torch
    >>> from scatclust.nn import random_shift
    >>> x = torch.ones(4, 1, 8, 8)
    >>> y = random_shift(x, 1, torch.Generator().manual_seed(0))
    >>> y.shape, bool((y.sum(dim=(1, 2, 3)) >= 49).all())
    (torch.Size([4, 1, 8, 8]), True)
    """
    import torch

    if n_axes is None:
        if isinstance(max_shift, numbers.Integral) and not isinstance(max_shift, bool):
            n_axes = min(2, x.ndim - 1)
        else:
            try:
                n_axes = len(max_shift)
            except TypeError:
                raise ValueError(f"max_shift={max_shift!r} must be an int >= 0 or a sequence of ints") from None
    if not (isinstance(n_axes, numbers.Integral) and 1 <= n_axes <= x.ndim - 1):
        raise ValueError(f"n_axes={n_axes!r} must be an int in [1, {x.ndim - 1}] for x of shape {tuple(x.shape)}")
    ms = torch.tensor(_as_shift_tuple(max_shift, int(n_axes)), dtype=torch.int64)
    # Uniform integers in [-ms, ms] per sample and axis, drawn on the CPU from `generator`.
    u = torch.rand((x.shape[0], int(n_axes)), generator=generator)
    offsets = torch.floor(u * (2 * ms + 1)).to(torch.int64).clamp(max=2 * ms) - ms
    return shift(x, offsets)


def affine(x, shifts, angles=None):
    """Translate (sub-pixel) and rotate each image of a batch, bilinear interpolation, zero fill.

    ``out[i]`` samples ``x[i]`` at ``R(angle_i) (p - c) + c - shift_i`` for every pixel centre
    ``p`` (``c``: the image centre; rows then columns, pixel units), so an integer shift with
    no rotation moves the content like :func:`shift`, and 90 degrees is a quarter turn.

    Parameters
    ----------
    x : torch.Tensor, float, shape (n, C, H, W)
    shifts : torch.Tensor, shape (n, 2)
        Offsets (rows, columns) in pixels; may be fractional.
    angles : torch.Tensor, shape (n,), optional
        Rotations in degrees (default none).

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``.

    Examples
    --------
    >>> import torch
    >>> from scatclust.nn import affine
    >>> x = torch.zeros(1, 1, 3, 3); x[0, 0, 1, 1] = 1.0
    >>> affine(x, torch.tensor([[0.0, 0.5]]))[0, 0, 1]
    tensor([0.0000, 0.5000, 0.5000])
    """
    import torch
    import torch.nn.functional as F

    if x.ndim != 4 or not x.dtype.is_floating_point:
        raise ValueError(f"x has shape {tuple(x.shape)} and dtype {x.dtype}; expected a float (n, C, H, W) tensor")
    n, _, H, W = x.shape
    if tuple(shifts.shape) != (n, 2):
        raise ValueError(f"shifts has shape {tuple(shifts.shape)}; expected (n_samples, 2) = ({n}, 2)")
    shifts = shifts.to(device=x.device, dtype=x.dtype)
    if angles is None:
        angles = torch.zeros(n, dtype=x.dtype, device=x.device)
    elif tuple(angles.shape) != (n,):
        raise ValueError(f"angles has shape {tuple(angles.shape)}; expected (n_samples,) = ({n},)")
    a = angles.to(device=x.device, dtype=x.dtype) * (torch.pi / 180.0)
    cos, sin = torch.cos(a), torch.sin(a)
    # theta maps output to input coordinates normalised to [-1, 1] per axis (x: columns,
    # y: rows); the rotation is done in pixel units, hence the H/W aspect factors.
    theta = torch.stack([
        torch.stack([cos, -sin * H / W, -shifts[:, 1] * 2.0 / W], dim=1),
        torch.stack([sin * W / H, cos, -shifts[:, 0] * 2.0 / H], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, [n, x.shape[1], H, W], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_affine(x, max_shift, max_rotation=0.0, generator=None):
    """:func:`affine` with uniform random shifts in [-max_shift, max_shift] pixels per axis and
    rotations in [-max_rotation, max_rotation] degrees, independent per sample.

    Parameters
    ----------
    x : torch.Tensor, float, shape (n, C, H, W)
    max_shift : float >= 0 or pair of floats
        Largest shift (rows, columns) in pixels; a pair such as ``(0, 2)`` shifts
        spectrograms (frequency, time) in time only.
    max_rotation : float >= 0, default 0
        Largest rotation in degrees (images; keep 0 for spectrograms).
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``.
    """
    import torch

    ms = _as_float_pair(max_shift, "max_shift")
    mr = _as_float_pair(max_rotation, "max_rotation", n=1)[0]
    u = torch.rand((x.shape[0], 3), generator=generator, dtype=torch.float64) * 2.0 - 1.0
    shifts = u[:, :2] * torch.tensor(ms, dtype=torch.float64)
    return affine(x, shifts, u[:, 2] * mr)


def _as_float_pair(value, name, n=2):
    """value (real >= 0, or n reals >= 0) -> tuple of n floats; clear errors otherwise."""
    import math

    def ok(v):
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v >= 0

    if ok(value):
        return (float(value),) * n
    try:
        values = tuple(value)
    except TypeError:
        values = None
    if values is None or len(values) != n or not all(ok(v) for v in values):
        raise ValueError(f"{name}={value!r} must be a finite real >= 0" + (f" or a sequence of {n} such numbers"
                                                                         if n > 1 else ""))
    return tuple(float(v) for v in values)


def corrupt(x, kind, level, generator=None):
    """Corrupt a batch for denoising-autoencoder training (Vincent et al. 2010).

    'gaussian': ``x + level * e`` with ``e`` standard normal, independent per element;
    'masking': ``x * m`` with ``m`` Bernoulli(1 - ``level``) per element (each input is set to
    zero with probability ``level``, as in the stacked denoising autoencoder that DEC pretrains,
    Xie et al. 2016, who used ``level=0.2``). The draws are made on the CPU in float32 from
    ``generator`` (``torch.randn`` / ``torch.rand``), then moved to ``x``'s device and dtype.

    Parameters
    ----------
    x : torch.Tensor, float, any shape
        Batch of samples.
    kind : {'gaussian', 'masking'}
    level : float >= 0
        Standard deviation of the noise ('gaussian', in the units of ``x``) or probability of
        zeroing an input ('masking', < 1). 0 returns ``x`` unchanged (no draws are made).
    generator : torch.Generator, optional
        Source of the noise (the same generator state gives the same corruption).

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``.

    Examples
    --------
    >>> import torch
    >>> from scatclust.nn import corrupt
    >>> y = corrupt(torch.ones(2, 1000), "masking", 0.25, torch.Generator().manual_seed(0))
    >>> y.shape, 0.2 < float((y == 0).float().mean()) < 0.3
    (torch.Size([2, 1000]), True)
    """
    import math

    import torch

    if kind not in ("gaussian", "masking"):
        raise ValueError(f"kind={kind!r} must be 'gaussian' or 'masking'")
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not math.isfinite(level) or level < 0:
        raise ValueError(f"level={level!r} must be a finite real >= 0 (noise std for 'gaussian', zeroing "
                         "probability for 'masking')")
    if kind == "masking" and level >= 1:
        raise ValueError(f"level={level!r} must be < 1 for kind='masking' (it is the probability of zeroing an "
                         "input; 1 would zero everything)")
    if not x.dtype.is_floating_point:
        raise ValueError(f"x has dtype {x.dtype}; a floating-point tensor is needed")
    if level == 0:
        return x
    if kind == "gaussian":
        e = torch.randn(tuple(x.shape), generator=generator, dtype=torch.float32)
        return x + float(level) * e.to(device=x.device, dtype=x.dtype)
    keep = torch.rand(tuple(x.shape), generator=generator, dtype=torch.float32) >= float(level)
    return x * keep.to(device=x.device, dtype=x.dtype)
