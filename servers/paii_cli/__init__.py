"""``paii``: the command line for people and scripts. Same functions as the MCP tools.

    paii doctor [--json]                         what is configured, what is missing, what works without it
    paii history import --category C FILE.jsonl  bring past incidents from another tool (idempotent)
    paii history similar [-k 5] [--json] TEXT|-  similar past incidents
    paii history search|recent|get|reindex|stats
    paii models install                          fetch the embedding model's tokenizer (an install step)
    paii sandbox start|stop|status|env|fault|reset|demo   a local world to try PAII without accounts
    paii runbook lint|list|dry-run|status|approve  runbooks: check, plan, a run's state, approve a step
    paii config snippet --client C               MCP config for Claude Desktop, Cursor or VS Code
    paii auth add|list|remove NAME               bearer tokens for the servers' HTTP transport (a team)
    paii --version

Each command group lives in its own module with an ``add_parser(subparsers)`` function that
registers its subcommands (each sets ``func``); add a group by adding its module to
:data:`COMMAND_MODULES`. A module is imported only to build the parser, and heavy imports stay
inside the command functions.

Conventions every command follows (checked in :func:`main`, so a command cannot forget them):

* **Writers are marked.** A subcommand that changes a person's data (history entries, anything
  sent to a service) says so with ``set_defaults(writes="<server>")`` (the server whose data it
  writes, e.g. ``"history"``; ``writes=True`` when it belongs to none). :func:`main` refuses to run
  it in read-only mode (``PAII_READ_ONLY``, ``PAII_<SERVER>_READ_ONLY`` or Claude Code's
  ``PAII_USER_CONFIG_READ_ONLY``, from the environment or the ``.env`` file; the rule is
  :func:`paii_common.config.read_only_sources`) with exit 1 before the command starts.
  Rebuilding derived state is not a write: ``paii history reindex`` rebuilds the index from the
  files (the source of truth), exactly what a read-only server does at start, so it is allowed.
* **Settings are checked first.** A switch such as ``PAII_READ_ONLY`` whose value is neither on
  nor off stops every command with exit 2 (``paii doctor`` instead reports it: mark a command
  that diagnoses settings with ``set_defaults(diagnoses=True)``).
* **Exit codes:** 0 ok; 1 failure (including a write refused in read-only mode); 2 bad usage
  or input (argparse errors, InvalidInput, a bad setting, an argument that is not UTF-8);
  130 interrupted; 141 stdout closed early (``| head``).
* **Errors are one line** on stderr, ``paii: <what went wrong and what to do>``. With ``--json``
  they are JSON on **stdout** instead, ``{"error": "...", "code": N}`` with N the exit code, so a
  script reads one stream and always gets one JSON document.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

#: modules with ``add_parser(sub)``, in the order ``paii --help`` lists them
COMMAND_MODULES = (
    "paii_cli.doctor",
    "paii_cli.history_cmd",
    "paii_cli.models_cmd",
    "paii_cli.config_cmd",
    "paii_cli.plugin_cmd",
    "paii_cli.auth_cmd",
    "paii_sandbox.cli",
    "paii_runbook.cli",
)


class CliError(Exception):
    """A failure :func:`main` reports as one line (or JSON) with exit ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _wants_json(argv: list[str]) -> bool:
    return "--json" in argv


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as JSON too when ``--json`` is on the command line."""

    def error(self, message: str):  # type: ignore[override]
        if _wants_json(sys.argv[1:] if _ARGV is None else _ARGV):
            _report(f"{self.prog}: {message} (see {self.prog} --help)", 2, as_json=True)
            raise SystemExit(2)
        super().error(message)


_ARGV: list[str] | None = None  # the argv main() is parsing (None: sys.argv)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paii")
    except PackageNotFoundError:  # run from the plugin folder (bin/paii): its pyproject.toml says
        import tomllib
        from pathlib import Path

        try:
            with open(Path(__file__).resolve().parents[2] / "pyproject.toml", "rb") as fh:
                return f"{tomllib.load(fh)['project']['version']} (from {Path(__file__).resolve().parents[2]})"
        except (OSError, KeyError, ValueError):
            return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="paii", description="PAII: memory and hands for on-call engineers.")
    p.add_argument("--version", action="version", version=f"paii {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return p


def _report(message: str, code: int, *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"error": message, "code": code}, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    else:
        print(f"paii: {message}", file=sys.stderr)


def check_utf8(argv: list[str]) -> None:
    """Python decodes argv with surrogateescape: a byte that is not UTF-8 becomes a lone surrogate."""
    for n, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise CliError(f"argument {n} ({shown[:60]!r}) is not valid UTF-8: re-type it or convert the text "
                           "to UTF-8 (e.g. iconv -t UTF-8)", 2) from None


def check_settings(args: argparse.Namespace) -> None:
    """Bad switch values stop every command (exit 2); a marked writer stops in read-only mode (exit 1)."""
    from paii_common.config import SettingError, read_dotenv, read_only_sources

    writes = getattr(args, "writes", False)
    prefix = f"PAII_{str(writes).upper()}_" if isinstance(writes, str) else ""
    env, dotenv = os.environ, read_dotenv()
    try:
        sources = read_only_sources(prefix, env, dotenv)
        # a prefixed switch of any server counts too: a typo there must not wait for that server
        for var in sorted({*env, *dotenv}):
            if var.startswith("PAII_") and var.endswith("_READ_ONLY"):
                read_only_sources(var[: -len("READ_ONLY")], env, dotenv)
    except SettingError as exc:
        raise CliError(str(exc), 2) from None
    on = [s for s in sources if s.on]
    if writes and on:
        name = " ".join(a for a in (args.command, getattr(args, f"{args.command}_command", None)) if a)
        raise CliError(
            f"read-only mode is on ({on[0].variable} in the {on[0].source}), so `paii {name}` was not run: "
            f"it writes. Unset {on[0].variable} there to run it (`paii doctor` shows every source).",
            1,
        )


def main(argv: list[str] | None = None) -> None:
    global _ARGV
    from paii_common.config import describe_settings_error
    from paii_common.errors import InvalidInput, PaiiError
    from paii_common.redact import redact, setup_logging

    raw = sys.argv[1:] if argv is None else list(argv)
    _ARGV = raw
    as_json = _wants_json(raw)
    setup_logging()
    if hasattr(sys.stdin, "reconfigure"):  # text piped in ('-') is UTF-8; bad bytes raise, never become surrogates
        sys.stdin.reconfigure(encoding="utf-8", errors="strict")
    code = 0
    try:
        check_utf8(raw)
        args = build_parser().parse_args(raw)
        if not getattr(args, "diagnoses", False):
            check_settings(args)
        code = args.func(args)
    except CliError as exc:
        _report(redact(str(exc)), exc.code, as_json=as_json)
        code = exc.code
    except PaiiError as exc:
        code = 2 if isinstance(exc, InvalidInput) else 1
        _report(str(exc), code, as_json=as_json)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:  # `paii ... | head`: the reader has what it wanted
        # Python would report the pipe again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141 if os.name == "posix" else 1
    except UnicodeDecodeError as exc:  # text piped in with '-' that is not UTF-8
        code = 2
        _report(f"input is not valid UTF-8 (byte {exc.start}): convert it first (e.g. iconv -t UTF-8)", code, as_json=as_json)
    except ValueError as exc:  # a settings model refused a value (pydantic ValidationError)
        if type(exc).__name__ != "ValidationError":
            code = _bug(exc, as_json)
        else:
            code = 2
            _report(describe_settings_error(exc), code, as_json=as_json)
    except Exception as exc:  # a bug: say so without a secret
        code = _bug(exc, as_json)
    finally:
        _ARGV = None
    raise SystemExit(code)


def _bug(exc: Exception, as_json: bool) -> int:
    from paii_common.redact import redact

    _report(f"unexpected error ({type(exc).__name__}: {redact(str(exc))[:300]}); this is a PAII bug: "
            "please report it with the command you ran (`paii doctor` may show the cause)", 1, as_json=as_json)
    return 1
