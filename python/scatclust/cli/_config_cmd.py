"""``scatclust config``: print the defaults as a commented TOML file, or check a file."""
from __future__ import annotations

import sys

from ._base import Command, ConfigError, Param
from ._config import dump_defaults

PARAMS = [
    Param("tables", [], "tables to print with --dump; [] = every table", type="str_list", flag=""),
    Param("dump", False, "print every parameter with its default, unit and help as a commented TOML file"),
    Param("check", "", "validate this TOML file (keys and values of every table) and exit; '' = none",
          type="path"),
]


def _run(ctx, plan):
    from . import commands, resolve_config

    c = ctx["config"]
    cmds = commands()
    if c["check"]:
        for cmd in cmds.values():  # validates every table of the file, whatever the command
            resolve_config(cmd, cmds, config=c["check"])
            break
        if not ctx.quiet:
            print(f"{c['check']}: valid")
        return None
    if not c["dump"]:
        raise ConfigError("config: give --dump (print the defaults) or --check FILE (validate a file)")
    tables = c["tables"] or [n for n in cmds if n != "config"]
    unknown = [t for t in tables if t not in cmds or t == "config"]
    if unknown:
        raise ConfigError(f"config: unknown table(s) {unknown}; tables: {', '.join(n for n in cmds if n != 'config')}")
    sys.stdout.write(dump_defaults({t: cmds[t].params for t in tables}))
    return None


COMMAND = Command(
    name="config",
    help="print the default configuration (commented TOML) or check a configuration file",
    description="  scatclust config --dump > run.toml          every table with its defaults\n"
                "  scatclust config --dump train segment      only these tables\n"
                "  scatclust config --check run.toml          validate a file (exit 2 naming a bad key/value)",
    params=PARAMS, run=_run, positionals=[("tables", "tables to print")],
)
