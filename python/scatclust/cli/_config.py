"""Configuration of CLI runs: the parameter schema, TOML reading and writing, validation.

One TOML file holds every parameter of a run, one table per subcommand (``[features]``,
``[train]``, ``[train.fvae]``, ...). Values are resolved in this order, later wins:

1. the defaults declared here (``scatclust config --dump`` prints them, commented);
2. the file given with ``--config`` (only the tables of known subcommands; a run record
   ``scatclust-<command>.toml`` written next to every output is such a file);
3. ``--set SECTION.KEY=VALUE`` options;
4. the subcommand's own options (``--epochs 10``) and positional arguments.

TOML has no null: "unset" is spelled with an empty string, an empty list or 0, as each
parameter's help says. Every value is checked here (type, range, choices) before a run
starts; a bad key or value raises :class:`ConfigError` naming the key, the value and the
fix (exit status 2).
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import sys
import tempfile

__all__ = ["ConfigError", "Param", "load_toml", "dumps_toml", "write_toml_atomic", "dump_defaults"]

# Table of the run metadata in run records; accepted (and not validated) in config files.
META = "scatclust"


class ConfigError(ValueError):
    """A usage or configuration error (exit status 2); the message names key, value and fix."""


def _toml_module():
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli
    except ImportError as exc:  # pragma: no cover - the dependency is declared for < 3.11
        raise ConfigError("reading TOML on Python < 3.11 needs the 'tomli' package: pip install tomli") from exc
    return tomli


_TYPES = ("int", "float", "bool", "str", "path", "int_list", "float_list", "str_list")


@dataclasses.dataclass(frozen=True)
class Param:
    """One configuration parameter.

    Attributes
    ----------
    key : str
        Name inside its section; a dot puts it in a sub-table (``fvae.epochs`` is
        ``[train.fvae] epochs``).
    default : int, float, bool, str or list
        Built-in default (TOML-representable: no None).
    help : str
        One sentence; the --help text adds the unit and the default.
    unit : str
        Physical unit or counting unit ('s', 'Hz', 'samples', 'epochs', ...); '' for none.
    type : str
        One of 'int', 'float', 'bool', 'str', 'path', 'int_list', 'float_list', 'str_list'.
    choices : tuple, optional
        Allowed values (for str) or allowed elements (for str_list).
    lo, hi : float, optional
        Inclusive bounds of numbers (and of list elements).
    length : tuple of allowed list lengths, optional
    flag : str, optional
        Command-line option (default ``--`` + the key with '.' and '_' turned into '-');
        '' for no option (config file and --set only).
    """

    key: str
    default: object
    help: str
    unit: str = ""
    type: str = ""
    choices: tuple = None
    lo: float = None
    hi: float = None
    length: tuple = None
    flag: str = None

    def __post_init__(self):
        t = self.type or _infer_type(self.default)
        object.__setattr__(self, "type", t)
        if t not in _TYPES:
            raise TypeError(f"Param {self.key}: type={t!r} must be one of {_TYPES}")
        if self.flag is None:
            object.__setattr__(self, "flag", "--" + self.key.replace(".", "-").replace("_", "-"))

    # ------------------------------------------------------------------ text
    def describe(self):
        """Help text with unit and default, as shown by --help and the commented dump."""
        if self.unit:
            unit = f"; unit: {self.unit}"
        elif self.type in ("int", "float", "int_list", "float_list"):
            unit = "; no unit"
        else:
            unit = ""
        choices = f"; one of {', '.join(map(str, self.choices))}" if self.choices else ""
        return f"{self.help} (default: {format_value(self.default)}{unit}{choices})"

    # ------------------------------------------------------------ conversion
    def parse(self, text, where):
        """Value of a command-line string (lists: comma separated; 'none' or '' = empty)."""
        t = self.type
        try:
            if t == "bool":
                low = text.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if t == "int":
                return int(text)
            if t == "float":
                return float(text)
            if t in ("str", "path"):
                return text
            items = [s.strip() for s in text.split(",")] if text.strip().lower() not in ("", "none", "[]") else []
            conv = {"int_list": int, "float_list": float, "str_list": str}[t]
            return [conv(s) for s in items]
        except ValueError:
            raise ConfigError(f"{where}: {text!r} is not {self._kind()}; {self._example()}") from None

    def check(self, value, where):
        """Validated value (ints accepted for floats, tuples for lists); ConfigError otherwise."""
        t = self.type

        def bad(why=None):
            why = why or f"must be {self._kind()}"
            return ConfigError(f"{where} = {format_value(value)}: {why}; {self._example()}")

        if t == "bool":
            if not isinstance(value, bool):
                raise bad()
            return value
        if t in ("int", "float"):
            return self._number(value, bad)
        if t in ("str", "path"):
            if not isinstance(value, str):
                raise bad()
            if self.choices and value not in self.choices:
                raise bad(f"must be one of {', '.join(map(repr, self.choices))}")
            return value
        if not isinstance(value, (list, tuple)):
            raise bad()
        if self.length and len(value) not in self.length:
            raise bad(f"must have {' or '.join(map(str, self.length))} element(s)")
        if t == "str_list":
            out = []
            for v in value:
                if not isinstance(v, str):
                    raise bad()
                if self.choices and v not in self.choices:
                    raise bad(f"element {v!r} must be one of {', '.join(map(repr, self.choices))}")
                out.append(v)
            return out
        return [self._number(v, bad, scalar=t[:-5]) for v in value]

    def _number(self, v, bad, scalar=None):
        scalar = scalar or self.type
        if isinstance(v, bool):
            raise bad()
        if scalar == "int":
            if not isinstance(v, int):
                raise bad()
        else:
            if not isinstance(v, (int, float)):
                raise bad()
            v = float(v)
            if math.isnan(v):
                raise bad("must not be nan")
        if self.lo is not None and v < self.lo:
            raise bad(f"must be >= {format_value(self.lo)}")
        if self.hi is not None and v > self.hi:
            raise bad(f"must be <= {format_value(self.hi)}")
        return v

    def _kind(self):
        t = self.type
        rng = ""
        if self.lo is not None or self.hi is not None:
            lo = "" if self.lo is None else f">= {format_value(self.lo)}"
            hi = "" if self.hi is None else f"<= {format_value(self.hi)}"
            rng = " " + " and ".join(s for s in (lo, hi) if s)
        return {"bool": "true or false", "int": f"an integer{rng}", "float": f"a number{rng}",
                "str": "a string", "path": "a path (string)", "int_list": f"a list of integers{rng}",
                "float_list": f"a list of numbers{rng}", "str_list": "a list of strings"}[t]

    def _example(self):
        return f"e.g. {self.key.rsplit('.', 1)[-1]} = {format_value(self.default)} (the default)"


def _infer_type(default):
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    raise TypeError(f"give type= for default {default!r}")


# ----------------------------------------------------------------------------- TOML out
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k):
    return k if _BARE.match(k) else json.dumps(k, ensure_ascii=False)


def format_value(v):
    """A value as TOML text (strings in basic quotes, lists inline).

    Examples
    --------
    >>> format_value([1, 2.5, "a\\b", True])
    '[1, 2.5, "a\\\\b", true]'
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if math.isnan(v):
            return "nan"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON string escapes are valid TOML basic strings
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} ({type(v).__name__}) as TOML")


def _split(section_values):
    """{dotted key: value} -> ({top key: value}, {subtable: {key: value}}) in insertion order."""
    top, subs = {}, {}
    for k, v in section_values.items():
        if "." in k:
            sub, leaf = k.rsplit(".", 1)
            subs.setdefault(sub, {})[leaf] = v
        else:
            top[k] = v
    return top, subs


def dumps_toml(tables, *, comments=None, header=""):
    """TOML text of ``{section: {dotted key: value}}``.

    Parameters
    ----------
    tables : dict
        Sections in order; dotted keys go to sub-tables ``[section.sub]``.
    comments : dict, optional
        ``{(section, dotted key): comment}`` written as ``# comment`` above the key.
    header : str
        Comment lines at the top.

    Examples
    --------
    >>> print(dumps_toml({"train": {"seed": 0, "fvae.epochs": 5}}), end="")
    [train]
    seed = 0
    <BLANKLINE>
    [train.fvae]
    epochs = 5
    """
    comments = comments or {}
    lines = [f"# {h}" if h else "#" for h in header.splitlines()] if header else []
    for sec, values in tables.items():
        top, subs = _split(values)
        for name, vals, prefix in [(sec, top, "")] + [(f"{sec}.{s}", v, s + ".") for s, v in subs.items()]:
            if lines:
                lines.append("")
            lines.append(f"[{'.'.join(_key(p) for p in name.split('.'))}]")
            for k, v in vals.items():
                c = comments.get((sec, prefix + k))
                if c:
                    lines.extend(f"# {line}" for line in _wrap(c))
                lines.append(f"{_key(k)} = {format_value(v)}")
    return "\n".join(lines) + "\n"


def _wrap(text, width=92):
    import textwrap

    return textwrap.wrap(text, width) or [""]


def write_toml_atomic(path, text):
    """Write text to ``path`` through a temporary file in the same folder and ``os.replace``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".scatclust-", suffix=".toml.tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------------------ TOML in
def load_toml(path):
    """Parse a TOML file; ConfigError (exit 2) on a missing file or a syntax error."""
    tomllib = _toml_module()
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path!r} does not exist; write one with "
                          f"'scatclust config --dump > {os.path.basename(str(path))}'") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path!r} is a directory; give the path of a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path!r} is not valid TOML: {exc}") from None


def flatten(table, prefix=""):
    """Nested TOML tables -> {dotted key: value} (lists and scalars are leaves)."""
    out = {}
    for k, v in table.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def unknown_key_error(where, key, valid):
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    shown = ", ".join(sorted(valid))
    return ConfigError(f"{where}: unknown key {key!r}; {hint}valid keys: {shown} "
                       f"(see 'scatclust config --dump')")


def dump_defaults(sections):
    """Commented TOML of the defaults of ``{section: [Param, ...]}``."""
    from .. import __version__

    tables, comments = {}, {}
    for sec, params in sections.items():
        tables[sec] = {p.key: p.default for p in params}
        for p in params:
            comments[(sec, p.key)] = p.describe()
    header = (f"scatclust {__version__} configuration: every parameter with its default.\n"
              "Use with: scatclust <command> --config this.toml  (command-line options override it).\n"
              "TOML has no null: empty strings / lists / 0 mean 'unset' where the comment says so.")
    return dumps_toml(tables, comments=comments, header=header)
