"""``paii``: the command line for people and scripts. Same functions as the MCP tools.

    paii doctor [--json]                         what is configured, what is missing, what works without it
    paii history import --category C FILE.jsonl  bring past incidents from another tool (idempotent)
    paii history similar [-k 5] [--json] TEXT|-  similar past incidents
    paii history search|recent|get|reindex|stats
    paii models install                          fetch the embedding model's tokenizer (an install step)
    paii sandbox start|stop|status|env|fault|reset|demo   a local world to try PAII without accounts

Each command group lives in its own module with an ``add_parser(subparsers)`` function that
registers its subcommands (each sets ``func``); add a group by adding its module to
:data:`COMMAND_MODULES`. A module is imported only to build the parser, and heavy imports stay
inside the command functions.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: modules with ``add_parser(sub)``, in the order ``paii --help`` lists them
COMMAND_MODULES = (
    "paii_cli.doctor",
    "paii_cli.history_cmd",
    "paii_cli.models_cmd",
    "paii_sandbox.cli",
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="paii", description="PAII: memory and hands for on-call engineers.")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> None:
    from paii_common.errors import PaiiError
    from paii_common.redact import redact, setup_logging

    setup_logging()
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except PaiiError as exc:
        msg = str(exc)
        print(f"paii: {msg}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:  # `paii ... | head`: the reader has what it wanted
        # Python would report the pipe again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141 if os.name == "posix" else 1
    except Exception as exc:  # a bug: say so without a secret
        print(f"paii: unexpected error: {redact(str(exc))}", file=sys.stderr)
        code = 1
    raise SystemExit(code)
