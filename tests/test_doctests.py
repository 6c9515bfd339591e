"""The docstring examples of every module run and print what they say (numpydoc examples are
documentation users copy; kymatio and scipy test theirs the same way)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import scatclust

# Modules whose imports need optional extras are skipped when the extra is missing. The
# compiled scatclust._core documents the raw kernel calls (fragments, not runnable examples).
MODULES = sorted(m.name for m in pkgutil.walk_packages(scatclust.__path__, "scatclust.")
                 if not m.name.endswith("__main__") and m.name != "scatclust._core")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        mod = importlib.import_module(name)
    except ImportError as exc:  # an optional dependency (e.g. obspy, zarr) is not installed
        pytest.skip(f"{name} needs an optional dependency: {exc}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True)
    assert res.failed == 0, f"{res.failed} of {res.attempted} docstring examples of {name} failed"
