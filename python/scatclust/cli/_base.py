"""What every subcommand shares: the :class:`Command` description, the run :class:`Context`
(configuration, logging, progress bars, run records) and atomic output helpers."""
from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import platform
import shutil
import sys

from ._config import META, ConfigError, Param, dumps_toml, write_toml_atomic

__all__ = ["Command", "Context", "ConfigError", "Param", "EXIT_OK", "EXIT_RUNTIME", "EXIT_USAGE",
           "EXIT_INTERRUPTED", "replace_dir", "staging_dir", "finish_dir"]

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

LOG = logging.getLogger("scatclust.cli")


@dataclasses.dataclass
class Command:
    """One subcommand: its parameters, positional arguments and what it does.

    A new subcommand is a module defining ``COMMAND = Command(...)`` plus one line in
    ``scatclust.cli._COMMAND_MODULES``.

    Attributes
    ----------
    name : str
        Subcommand name (also the name of its configuration table).
    help : str
        One line for ``scatclust --help``.
    description : str
        Paragraphs for ``scatclust <name> --help``.
    params : list of Param
        Parameters of the table ``[name]`` (dotted keys for sub-tables). Each gets a
        command-line option unless its ``flag`` is ''.
    run : callable
        ``run(ctx, plan)``; returns None or an exit status. Exceptions are runtime errors
        (exit 1) except ConfigError (2) and KeyboardInterrupt (130).
    check : callable, optional
        ``check(ctx) -> plan``: validate the configuration and build the objects the run
        needs before any work starts. ValueError / TypeError raised here are reported as
        configuration errors (exit 2).
    positionals : list of (key, help)
        Optional positional arguments, each overriding the key of the command's table.
    uses : tuple of str
        Tables of other commands this one reads (the demo uses the pipeline's tables);
        they are resolved, validated and saved in the run record too.
    presets : dict {table: {dotted key: value}}
        Defaults of this command for those tables (applied before the config file).
    """

    name: str
    help: str
    description: str
    params: list
    run: object
    check: object = None
    positionals: list = dataclasses.field(default_factory=list)
    uses: tuple = ()
    presets: dict = dataclasses.field(default_factory=dict)

    @property
    def sections(self):
        return (self.name,) + tuple(self.uses)


def staging_dir(out):
    """``(out, tmp)``: the absolute output directory and a fresh temporary sibling to write into.

    Write everything into ``tmp``, then :func:`finish_dir` renames it to ``out``, so an
    interrupted run never leaves a half-written output that looks complete.
    """
    out = os.path.abspath(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(out)}.tmp-{os.getpid()}")
    os.makedirs(tmp, exist_ok=True)
    return out, tmp


def finish_dir(ctx, tmp, out, table, c):
    """Write the run record of ``scatclust <table>`` (effective table ``c``) into ``tmp``, then
    move ``tmp`` to ``out``."""
    name = f"scatclust-{table}.toml"
    with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
        f.write(dumps_toml({META: ctx.metadata("complete"), table: c},
                           header=f"scatclust run record of 'scatclust {table}'.\n"
                                  f"Repeat the run with:  scatclust {table} --config {name}"))
    replace_dir(tmp, out)


def replace_dir(tmp, dest):
    """Move the finished directory ``tmp`` to ``dest``, replacing what is there.

    ``dest`` is renamed aside first, then ``tmp`` renamed into place (two atomic renames on
    one file system), then the old copy is deleted: at every moment ``dest`` is either the
    complete old or the complete new version, or (between the two renames) absent with the
    old one kept as ``.<name>.old-<pid>`` next to it.
    """
    old = None
    if os.path.lexists(dest):
        old = os.path.join(os.path.dirname(dest), f".{os.path.basename(dest)}.old-{os.getpid()}")
        if os.path.lexists(old):
            shutil.rmtree(old)
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class _NullBar:
    def __init__(self, iterable=None):
        self._it = iterable

    def __iter__(self):
        return iter(self._it)

    def update(self, n=1):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Context:
    """State of one CLI invocation, passed to :attr:`Command.run`.

    Attributes
    ----------
    command : Command
    cfg : dict
        Effective configuration ``{table: {dotted key: value}}`` of the command's tables,
        after defaults, the config file, --set and the options.
    argv : list of str
    quiet : bool
    verbose : int
    progress : bool
        Whether progress bars are shown (off with --quiet, and by default when stderr is
        not a terminal).
    log : logging.Logger
    """

    def __init__(self, command, cfg, argv, *, quiet=False, verbose=0, progress=False, sources=None):
        self.command = command
        self.cfg = cfg
        self.argv = list(argv)
        self.quiet = quiet
        self.verbose = verbose
        self.progress = progress
        self.sources = sources or {}
        self.log = LOG

    def __getitem__(self, table):
        return self.cfg[table]

    # ---------------------------------------------------------------- progress
    def bar(self, iterable=None, *, total=None, desc=None, unit="it"):
        """A tqdm progress bar on stderr (a silent stand-in when progress is off)."""
        if not self.progress:
            return _NullBar(iterable)
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)

    # ------------------------------------------------------------- run record
    def metadata(self, status):
        from .. import __version__

        meta = {
            "version": __version__, "command": self.command.name, "status": status,
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "argv": [str(a) for a in self.argv], "python": platform.python_version(),
        }
        import numpy

        meta["numpy"] = numpy.__version__
        if "torch" in sys.modules:
            meta["torch"] = sys.modules["torch"].__version__
        meta["fftw_planner"] = os.environ.get("SCATCLUST_FFTW_PLANNER", "")
        if self.sources.get("config"):
            meta["config_file"] = os.path.abspath(self.sources["config"])
        return meta

    def record(self, path, *, status="complete", tables=None):
        """Write the effective configuration and the package version to ``path`` (TOML, atomic).

        ``scatclust <command> --config <path>`` repeats the run with the same parameters.
        """
        tables = tables or self.command.sections
        body = {META: self.metadata(status)}
        for t in tables:
            body[t] = self.cfg[t]
        header = (f"scatclust run record: the effective configuration of 'scatclust {self.command.name}'.\n"
                  f"Repeat the run with:  scatclust {self.command.name} --config {os.path.basename(path)}")
        write_toml_atomic(path, dumps_toml(body, header=header))
        self.log.debug("run record written to %s", path)
        return path


def setup_logging(quiet, verbose, log_file, command):
    """stderr handler (WARNING with -q, INFO, DEBUG with -v) and an optional DEBUG file handler.

    Returns the handlers, for :func:`teardown_logging`.
    """
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter(f"scatclust {command}: %(message)s")
    handlers = []
    h = logging.StreamHandler(sys.stderr)
    h.setLevel(level)
    h.setFormatter(fmt)
    handlers.append(h)
    if log_file:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
            fh = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--log-file {log_file!r} cannot be opened: {exc}") from None
        fh.setLevel(logging.DEBUG)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handlers.append(fh)
    root = logging.getLogger("scatclust")
    saved = (root.level, root.propagate)
    root.setLevel(logging.DEBUG)
    for hd in handlers:
        root.addHandler(hd)
    root.propagate = False  # our handlers print it; the caller's logging setup is left alone
    return handlers, saved


def teardown_logging(state):
    """Remove the handlers of :func:`setup_logging` and restore the logger's level and propagation."""
    if not state:
        return
    handlers, (level, propagate) = state
    root = logging.getLogger("scatclust")
    for h in handlers:
        root.removeHandler(h)
        h.close()
    root.setLevel(level)
    root.propagate = propagate
