"""FFTW plan cache control and batched FFTs.

Plans are created once per (precision, kind, size) and reused by every call and thread.
HPC users can plan harder (``set_planner('measure')``) and save the result as FFTW
wisdom, so that every job on the same machine type starts with tuned plans::

    import scatclust.fft as sf
    sf.set_planner("measure")
    ...                                   # run a representative workload
    sf.export_wisdom("fftw.wisdom")       # once
    sf.import_wisdom("fftw.wisdom")       # at the start of each job

The environment variable ``SCATCLUST_FFTW_PLANNER`` (estimate | measure | patient | auto) sets
the planner at import time. Default ``auto``: FFTW_MEASURE for small transforms (size x batch
<= 4096 points, e.g. STFT frames: measuring takes 0.07-0.25 s once and the transforms then
run ~20-40% faster) and FFTW_ESTIMATE for large ones (measuring a 65536-point transform takes
~1.5 s). ``estimate`` plans in microseconds; ``measure``/``patient`` plan every size carefully
-- pay that once per machine with ``export_wisdom``/``import_wisdom``. Filter-bank
construction always plans with FFTW_ESTIMATE (its transforms run once).
"""
from __future__ import annotations

import os

import numpy as np

from . import _core
from ._array import check_choice
from ._threads import resolve_n_threads

__all__ = [
    "set_planner", "get_planner", "plan_cache_size", "clear_plan_cache",
    "export_wisdom", "import_wisdom", "forget_wisdom", "fft", "rfft",
]

_EFFORTS = ("estimate", "measure", "patient", "auto")


def set_planner(effort):
    """Planner effort for plans created from now on: 'estimate', 'measure', 'patient' or 'auto'."""
    check_choice(effort, "effort", _EFFORTS)
    _core.set_planner_effort(_EFFORTS.index(effort))


def get_planner():
    """Current planner effort."""
    return _EFFORTS[_core.planner_effort()]


def plan_cache_size():
    """Number of cached FFTW plans (both precisions)."""
    return int(_core.plan_cache_size())


def clear_plan_cache():
    """Drop every cached plan (plans in use stay alive until their call returns)."""
    _core.clear_plan_cache()


def export_wisdom(path=None, precision="both"):
    """Return FFTW wisdom as a string, or write it to ``path`` (written atomically).

    The text holds one block per precision, so ``import_wisdom`` restores both.
    """
    check_choice(precision, "precision", ("both", "float32", "float64"))
    precs = ("float64", "float32") if precision == "both" else (precision,)
    text = "".join(f"#scatclust-wisdom {p}\n{_core.export_wisdom(p)}\n" for p in precs)
    if path is None:
        return text
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return text


def import_wisdom(source):
    """Load wisdom from a string produced by ``export_wisdom`` or from a file path.

    Returns True if every block was accepted by FFTW; raises ValueError for text that is
    not scatclust wisdom.
    """
    text = source
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not source.startswith("#scatclust-wisdom")
                                           and os.path.exists(source)):
        with open(source) as fh:
            text = fh.read()
    if not isinstance(text, str) or not text.startswith("#scatclust-wisdom"):
        raise ValueError("source must be wisdom text from scatclust.fft.export_wisdom() or a path to such a file")
    ok = True
    blocks = text.split("#scatclust-wisdom ")[1:]
    for block in blocks:
        prec, _, body = block.partition("\n")
        prec = prec.strip()
        check_choice(prec, "wisdom precision", ("float32", "float64"))
        ok &= bool(_core.import_wisdom(prec, body.strip()))
    return ok


def forget_wisdom():
    """Forget all FFTW wisdom (cached plans are kept; see clear_plan_cache)."""
    _core.forget_wisdom()


def fft(x, inverse=False, n_threads=None):
    """Batched complex FFT over the last axis (unnormalised, numpy's sign convention).

    Parameters
    ----------
    x : ndarray, complex64 or complex128, shape (..., n)
    inverse : bool
        If True, compute the unnormalised backward transform (``n * np.fft.ifft``).
    """
    x = np.asarray(x)
    if x.dtype not in (np.complex64, np.complex128):
        x = x.astype(np.complex128)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(f"x must have a non-empty last axis, got shape {x.shape}")
    flat = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
    out = np.empty_like(flat)
    _core.fft_c2c(flat, out, not inverse, resolve_n_threads(n_threads))
    return out.reshape(x.shape)


def rfft(x, n_threads=None):
    """Batched real-to-complex FFT over the last axis (like ``np.fft.rfft``)."""
    x = np.asarray(x)
    if np.iscomplexobj(x):
        raise TypeError(f"x has complex dtype {x.dtype}; use scatclust.fft.fft")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(f"x must have a non-empty last axis, got shape {x.shape}")
    n = x.shape[-1]
    flat = np.ascontiguousarray(x.reshape(-1, n))
    out = np.empty((flat.shape[0], n // 2 + 1), dtype=np.complex64 if x.dtype == np.float32 else np.complex128)
    _core.fft_r2c(flat, out, resolve_n_threads(n_threads))
    return out.reshape(x.shape[:-1] + (n // 2 + 1,))


_env = os.environ.get("SCATCLUST_FFTW_PLANNER")
if _env:
    if _env not in _EFFORTS:
        raise ValueError(f"SCATCLUST_FFTW_PLANNER={_env!r} must be one of {', '.join(_EFFORTS)}")
    set_planner(_env)
