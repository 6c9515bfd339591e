"""The ``scatclust`` command line (``python -m scatclust`` too).

Every subcommand is a module of this package defining ``COMMAND`` (a
:class:`~scatclust.cli._base.Command`: its parameters, positional arguments and ``run``);
adding one is that module plus one line in ``_COMMAND_MODULES`` below. Parameters live in
one TOML file with a table per subcommand (see :mod:`scatclust.cli._config`).

Examples
--------
>>> from scatclust.cli import main
>>> main(["config", "--dump", "segment"])        # doctest: +SKIP
0
"""
from __future__ import annotations

import argparse
import importlib
import sys

from ._base import (EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, Context, setup_logging,
                    teardown_logging)
from ._config import META, ConfigError, dumps_toml, flatten, load_toml, unknown_key_error

__all__ = ["main", "commands", "resolve_config"]

# One line per subcommand, in --help order. The lead adds "_separate" and "_report" here.
_COMMAND_MODULES = (
    "_fetch",
    "_features",
    "_train",
    "_cluster",
    "_segment",
    "_separate",
    "_report",
    "_demo",
    "_config_cmd",
)

EPILOG = """\
configuration:
  Parameters come from (later wins) the built-in defaults, the TOML file of --config
  (one table per subcommand, e.g. [train] and [train.fvae]), --set TABLE.KEY=VALUE and
  the options above. 'scatclust config --dump' prints every parameter with its default.
  The effective configuration and the package version are saved with every output
  (scatclust-<command>.toml); '--config' on that file repeats the run.

exit status:
  0    success
  1    runtime error (bad data, failed computation; the message says what failed)
  2    usage or configuration error (unknown option or key, bad value; nothing was run)
  130  interrupted (Ctrl-C); stores and checkpoints stay consistent: rerun (train:
       --resume) to continue
"""


def commands():
    """``{name: Command}`` of every registered subcommand, in registration order."""
    out = {}
    for mod in _COMMAND_MODULES:
        cmd = importlib.import_module(f"{__name__}.{mod}").COMMAND
        out[cmd.name] = cmd
    return out


def _escape(text):
    return text.replace("%", "%%")


def _dest(table, key):
    return f"cfg::{table}::{key}"


def _add_common(p, top=False):
    d = argparse.SUPPRESS
    g = p.add_argument_group("common options")
    g.add_argument("-c", "--config", metavar="FILE", default=d,
                   help="TOML configuration file (tables per subcommand; default: none, built-in defaults)")
    g.add_argument("--set", metavar="TABLE.KEY=VALUE", action="append", default=d, dest="set_",
                   help="override one parameter, e.g. --set train.fvae.epochs=10 (repeatable; lists "
                        "comma separated; default: none)")
    g.add_argument("-q", "--quiet", action="store_true", default=d,
                   help="only warnings and errors on stderr, no progress bars (default: off)")
    g.add_argument("-v", "--verbose", action="count", default=d,
                   help="debug messages on stderr (default: off)")
    g.add_argument("--log-file", metavar="FILE", default=d,
                   help="also write every message (debug level, with time stamps) to FILE (default: none)")
    g.add_argument("--progress", choices=("auto", "on", "off"), default=d,
                   help="progress bars: 'auto' shows them when stderr is a terminal (default: auto)")
    g.add_argument("--print-config", action="store_true", default=d,
                   help="print the effective configuration (after all overrides) as TOML and exit "
                        "(default: off)")


def build_parser(cmds=None):
    """The argparse parser of every subcommand, generated from the parameter schema."""
    from .. import __version__

    cmds = cmds or commands()
    fmt = argparse.RawDescriptionHelpFormatter
    ap = argparse.ArgumentParser(
        prog="scatclust", formatter_class=fmt, epilog=EPILOG,
        description="Multi-scale scattering features, clustering and source separation for seismic "
                    "records and spectral data cubes.")
    ap.add_argument("--version", action="version", version=f"scatclust {__version__}")
    _add_common(ap, top=True)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in cmds.values():
        sp = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description, epilog=EPILOG,
                            formatter_class=fmt)
        params = {p.key: p for p in cmd.params}
        for key, text in cmd.positionals:
            p = params[key]
            sp.add_argument(_dest(cmd.name, key), nargs="*" if p.type.endswith("_list") else "?",
                            default=argparse.SUPPRESS,
                            metavar=key.upper(),
                            help=_escape(f"{p.describe()}; or [{cmd.name}] {key} in the config"))
        groups = {}
        for p in cmd.params:
            if not p.flag:
                continue
            sub_table = p.key.rsplit(".", 1)[0] if "." in p.key else ""
            if sub_table not in groups:
                title = f"[{cmd.name}.{sub_table}] options" if sub_table else f"[{cmd.name}] options"
                groups[sub_table] = sp.add_argument_group(title)
            g = groups[sub_table]
            kw = dict(dest=_dest(cmd.name, p.key), default=argparse.SUPPRESS, help=_escape(p.describe()))
            if p.type == "bool":
                g.add_argument(p.flag, action=argparse.BooleanOptionalAction, **kw)
            else:
                g.add_argument(p.flag, metavar=_metavar(p), **kw)
        _add_common(sp)
    return ap


def _metavar(p):
    if p.choices and p.type == "str":
        return "{" + ",".join(c or "''" for c in p.choices) + "}"
    return {"int": "N", "float": "X", "str": "TEXT", "path": "PATH", "int_list": "N,N,...",
            "float_list": "X,X,...", "str_list": "A,B,..."}[p.type]


def _where(table, key):
    """'[table.sub] leaf' of a dotted key, as the key appears in a TOML file."""
    sub, _, leaf = key.rpartition(".")
    return f"[{table}.{sub}] {leaf}" if sub else f"[{table}] {key}"


def _schema(cmds):
    """{table: {dotted key: Param}} of every command."""
    return {c.name: {p.key: p for p in c.params} for c in cmds.values()}


def resolve_config(cmd, cmds, *, config=None, sets=(), options=None, log=None):
    """Effective configuration of ``cmd``: defaults < the command's presets < config file < --set < options.

    Parameters
    ----------
    cmd : Command
    cmds : dict of every Command (for the tables a command uses)
    config : str, optional
        TOML path.
    sets : iterable of 'TABLE.KEY=VALUE'
    options : dict {(table, key): value-as-text or bool}
        Values given as options / positionals.

    Returns
    -------
    dict {table: {dotted key: value}}, every table of ``cmd.sections``.

    Raises
    ------
    ConfigError naming the file, table, key and value.
    """
    schema = _schema(cmds)
    cfg = {t: {k: (list(p.default) if isinstance(p.default, list) else p.default) for k, p in schema[t].items()}
           for t in cmd.sections}
    for table, values in cmd.presets.items():
        for key, value in values.items():
            cfg[table][key] = schema[table][key].check(value, f"preset of {cmd.name}: [{table}] {key}")
    if config:
        data = load_toml(config)
        for table, body in data.items():
            if table == META:
                from .. import __version__

                v = body.get("version") if isinstance(body, dict) else None
                if v and v != __version__ and log is not None:
                    log.warning("config %s was written by scatclust %s, this is %s: results may differ",
                                config, v, __version__)
                continue
            if table not in schema:
                raise unknown_key_error(f"config file {config!r}", table, list(schema) + [META])
            if not isinstance(body, dict):
                raise ConfigError(f"config file {config!r}: {table!r} must be a table ([{table}]), "
                                  f"not {type(body).__name__}")
            for key, value in flatten(body).items():
                where = f"config file {config!r}, {_where(table, key)}"
                if key not in schema[table]:
                    sub, _, leaf = key.rpartition(".")
                    valid = [k.rpartition(".")[2] for k in schema[table] if k.rpartition(".")[0] == sub]
                    name = f"[{table}.{sub}]" if sub else f"[{table}]"
                    if sub and not valid:
                        subs = sorted({k.rpartition(".")[0] for k in schema[table] if "." in k})
                        raise unknown_key_error(f"config file {config!r}, table [{table}]", sub, subs)
                    raise unknown_key_error(f"config file {config!r}, table {name}", leaf, valid)
                checked = schema[table][key].check(value, where)
                if table in cfg:  # tables of other commands are validated but not used
                    cfg[table][key] = checked
    for item in sets or ():
        name, eq, text = item.partition("=")
        table, dot, key = name.strip().partition(".")
        if not eq or not dot:
            raise ConfigError(f"--set {item!r} must look like TABLE.KEY=VALUE, e.g. --set train.fvae.epochs=10")
        if table not in schema:
            raise unknown_key_error(f"--set {item!r}", table, list(schema))
        if table not in cfg:
            raise ConfigError(f"--set {item!r}: 'scatclust {cmd.name}' does not use table [{table}]; "
                              f"it uses {', '.join('[' + t + ']' for t in cmd.sections)}")
        if key not in schema[table]:
            raise unknown_key_error(f"--set {item!r}, table [{table}]", key, list(schema[table]))
        p = schema[table][key]
        cfg[table][key] = p.check(p.parse(text, f"--set {name}"), f"--set {_where(table, key)}")
    for (table, key), raw in (options or {}).items():
        p = schema[table][key]
        where = (f"option {p.flag}" if p.flag else f"argument {key.upper()}")
        if isinstance(raw, bool) or (isinstance(raw, list) and p.type == "str_list"):
            value = raw
        else:
            value = p.parse(raw, where)
        cfg[table][key] = p.check(value, where)
    return cfg


def _progress_enabled(mode, quiet):
    if quiet or mode == "off":
        return False
    if mode == "on":
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def main(argv=None):
    """Run the command line; returns the exit status (0 ok, 1 runtime error, 2 usage or
    configuration error, 130 interrupted).

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Examples
    --------
    >>> main(["segment", "cube.h5", "--key", "counts", "--out", "seg"])   # doctest: +SKIP
    0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        cmds = commands()
        parser = build_parser(cmds)
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2, message printed by argparse)
        return EXIT_OK if exc.code in (0, None) else EXIT_USAGE
    cmd = cmds[args.command]
    ns = vars(args)
    quiet, verbose = bool(ns.get("quiet", False)), int(ns.get("verbose", 0) or 0)
    handlers = []
    log = None
    try:
        handlers = setup_logging(quiet, verbose, ns.get("log_file"), cmd.name)
        import logging

        log = logging.getLogger("scatclust.cli")
        options = {}
        for k, v in ns.items():
            if k.startswith("cfg::"):
                _, table, key = k.split("::", 2)
                options[(table, key)] = v
        cfg = resolve_config(cmd, cmds, config=ns.get("config"), sets=ns.get("set_", ()), options=options, log=log)
        if ns.get("print_config"):
            body = {t: cfg[t] for t in cmd.sections}
            sys.stdout.write(dumps_toml(body, header=f"effective configuration of 'scatclust {cmd.name}'"))
            return EXIT_OK
        ctx = Context(cmd, cfg, argv, quiet=quiet, verbose=verbose,
                      progress=_progress_enabled(ns.get("progress", "auto"), quiet),
                      sources={"config": ns.get("config")})
        plan = None
        if cmd.check is not None:
            try:
                plan = cmd.check(ctx)
            except (ValueError, TypeError, FileNotFoundError) as exc:
                if isinstance(exc, ConfigError):
                    raise
                raise ConfigError(str(exc)) from exc
        status = cmd.run(ctx, plan)
        return EXIT_OK if status is None else int(status)
    except ConfigError as exc:
        _say(log, f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        msg = ("interrupted; completed outputs are consistent (stores keep only complete days and label "
               "sets, checkpoints the last finished epoch): rerun to continue (train: --resume)")
        _say(log, msg)
        return EXIT_INTERRUPTED
    except Exception as exc:  # runtime error: message, traceback with -v / in the log file
        _say(log, f"error: {type(exc).__name__}: {exc}")
        if log is not None:
            log.debug("traceback:", exc_info=True)
        return EXIT_RUNTIME
    finally:
        teardown_logging(handlers)


def _say(log, msg):
    if log is not None:
        log.error(msg)
    else:
        print(f"scatclust: {msg}", file=sys.stderr)


def run():
    """Console-script entry point (``[project.scripts] scatclust``)."""
    sys.exit(main())

