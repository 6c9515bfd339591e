"""Thread control for the C++ core (OpenMP), in the spirit of threadpoolctl."""
from __future__ import annotations

import contextlib
import threading

from . import _core

__all__ = ["set_num_threads", "get_num_threads", "threads"]

_lock = threading.Lock()


def _check_n(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"{name}={n!r} must be an int >= 1 or None")
    n = int(n)
    if n < 1:
        raise ValueError(f"{name}={n} must be >= 1 (or None for the default, which respects OMP_NUM_THREADS)")
    return n


def resolve_n_threads(n_threads):
    """Validate a per-call ``n_threads`` argument; returns 0 for "process default"."""
    if n_threads is None:
        return 0
    return _check_n(n_threads, "n_threads")


def set_num_threads(n):
    """Set the number of threads the core kernels use in this process.

    Parameters
    ----------
    n : int or None
        Threads (>= 1). ``None`` restores the default: ``OMP_NUM_THREADS`` if set,
        otherwise the number of cores available to the process.

    Examples
    --------
    >>> import scatclust
    >>> scatclust.set_num_threads(1)   # e.g. one process per core in an HPC job
    >>> scatclust.set_num_threads(None)
    """
    _core.set_num_threads(0 if n is None else _check_n(n))


def get_num_threads():
    """Number of threads the core kernels currently use when a call gives none."""
    return int(_core.get_num_threads())


@contextlib.contextmanager
def threads(n):
    """Context manager that sets the core's thread count and restores it on exit.

    >>> import scatclust
    >>> with scatclust.threads(1):
    ...     pass
    """
    n = _check_n(n)
    with _lock:
        previous = _core.get_num_threads()
        explicit = previous if previous != _core.omp_max_threads() else 0
        _core.set_num_threads(n)
    try:
        yield n
    finally:
        _core.set_num_threads(explicit)
