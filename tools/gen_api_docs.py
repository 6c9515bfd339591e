"""Write docs/api.md: the API reference, generated from the docstrings.

    python tools/gen_api_docs.py            # rewrites docs/api.md
    python tools/gen_api_docs.py --check    # exit 1 if docs/api.md is out of date

Every public module (``scatclust`` and its sub-packages, excluding ``_core`` and private
modules) is listed with every name of its ``__all__``: the signature and the docstring's
summary and parameter section. The full docstrings are the reference (``help(obj)``).
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = ["scatclust", "scatclust.fft", "scatclust.cluster", "scatclust.models", "scatclust.nn",
           "scatclust.datasets", "scatclust.io", "scatclust.features", "scatclust.store", "scatclust.cube",
           "scatclust.separation", "scatclust.plot", "scatclust.report", "scatclust.cli", "scatclust.reference"]


def _signature(obj):
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _summary(doc):
    """The docstring up to the end of its 'Parameters' section (or its first paragraph)."""
    if not doc:
        return ""
    lines = inspect.cleandoc(doc).splitlines()
    out, in_params, seen_params = [], False, False
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        is_header = nxt.startswith("---") and line.strip() and not line.startswith(" ")
        if is_header:
            if seen_params:
                break
            if line.strip() == "Parameters":
                in_params = seen_params = True
            elif out:
                # keep only the summary before other sections (Attributes, Notes, ...)
                if not in_params:
                    break
        out.append(line)
    return "\n".join(out).strip()


def render():
    parts = ["# API reference", "",
             "Generated from the docstrings by `tools/gen_api_docs.py` (do not edit by hand; ",
             "`python tools/gen_api_docs.py` rewrites it). Full docstrings: `help(name)` in Python.", ""]
    for modname in MODULES:
        try:
            mod = importlib.import_module(modname)
        except ImportError as exc:          # optional dependency missing on this machine
            parts += [f"## `{modname}`", "", f"(not importable here: {exc})", ""]
            continue
        names = list(getattr(mod, "__all__", []))
        parts += [f"## `{modname}`", ""]
        doc = inspect.getdoc(mod)
        if doc:
            parts += [doc.split("\n\n")[0], ""]
        for name in names:
            obj = getattr(mod, name, None)
            if obj is None or inspect.ismodule(obj):
                continue
            if name.startswith("__"):
                continue
            kind = "class" if inspect.isclass(obj) else ("function" if callable(obj) else "value")
            if kind == "value":
                parts += [f"### `{modname}.{name}`", "", f"value: `{obj!r}`"[:300], ""]
                continue
            parts += [f"### `{modname}.{name}{_signature(obj)}`", "", f"*{kind}*", ""]
            s = _summary(inspect.getdoc(obj))
            if s:
                parts += ["```text", s, "```", ""]
    return "\n".join(parts).rstrip() + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args(argv)
    sys.path.insert(0, os.path.join(ROOT, "python"))
    text = render()
    path = os.path.join(ROOT, "docs", "api.md")
    if args.check:
        with open(path, encoding="utf-8") as f:
            ok = f.read() == text
        print("docs/api.md is " + ("up to date" if ok else "out of date: run python tools/gen_api_docs.py"))
        return 0 if ok else 1
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {path} ({len(text)} characters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
