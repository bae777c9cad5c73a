"""``paii auth ...``: the bearer tokens of the servers' HTTP transport (one per person).

    paii auth add NAME [--read-only] [--hashed]   a new random token for NAME, printed once
    paii auth list [--json]                       the names (never a token)
    paii auth remove NAME                         NAME's tokens stop working at the next request

The file is ``PAII_AUTH_TOKENS_FILE`` (or ``<config dir>/tokens``; ``--file`` for another one),
written atomically and readable by its owner only. The format is in :mod:`paii_common.auth`.
A running server reads the file again when it changes: no restart. ``add`` is refused in read-only
mode (PAII_READ_ONLY), like every command that writes; ``remove`` is not (revoking access must work).
"""

from __future__ import annotations

import sys
from pathlib import Path

from paii_cli.output import print_json


def _path(args) -> Path:
    if getattr(args, "file", None):
        return Path(args.file).expanduser()
    from paii_common.transport import TransportSettings

    return TransportSettings.load().tokens_path()


def _name(value: str) -> str:
    from paii_cli import CliError
    from paii_common.auth import check_name

    try:
        return check_name(value)
    except ValueError as exc:
        raise CliError(str(exc), 2) from None


def cmd_add(args) -> int:
    from paii_cli import CliError
    from paii_common.auth import add_token

    path = _path(args)
    name = _name(args.name)
    try:
        token = add_token(path, name, read_only=args.read_only, hashed=args.hashed)
    except FileExistsError as exc:
        raise CliError(str(exc), 1) from None
    except OSError as exc:
        raise CliError(f"cannot write the tokens file {path}: {exc.strerror or exc}", 1) from None
    kept = "only its SHA-256" if args.hashed else "the token itself (readable by you only)"
    if args.json:
        print_json({"name": name, "token": token, "read_only": args.read_only, "hashed": args.hashed, "file": str(path)})
    else:
        print(token)
        rights = "may only read (search, similar incidents...)" if args.read_only else "may read and write"
        print(f"paii: {name}'s token, shown this once: give it to {name} ({rights}). {path} keeps {kept}. "
              f"Clients send it as 'Authorization: Bearer <token>'; running servers accept it from the next request.",
              file=sys.stderr)
    return 0


def cmd_list(args) -> int:
    from paii_common.auth import parse_tokens

    path = _path(args)
    problems: list[str] = []
    entries = []
    if path.exists():
        entries, problems = parse_tokens(path.read_text(encoding="utf-8"))
    rows = [{"name": e.name, "read_only": e.read_only, "hashed": e.hashed, "line": e.line} for e in entries]
    if args.json:
        print_json({"file": str(path), "exists": path.exists(), "tokens": rows, "problems": problems})
        return 0
    if not path.exists():
        print(f"no tokens file at {path}: `paii auth add NAME` creates it", file=sys.stderr)
        return 0
    for r in rows:
        print(r["name"] + (" (read-only)" if r["read_only"] else "") + (" (hashed)" if r["hashed"] else ""))
    for p in problems:
        print(f"  warning: {path}: {p}: servers skip it", file=sys.stderr)
    if not rows:
        print(f"no tokens in {path}: every request is refused until `paii auth add NAME`", file=sys.stderr)
    return 0


def cmd_remove(args) -> int:
    from paii_cli import CliError
    from paii_common.auth import remove_token

    path = _path(args)
    name = _name(args.name)
    removed = remove_token(path, name)
    if not removed:
        raise CliError(f"{name!r} has no token in {path}: `paii auth list` shows the names", 1)
    if args.json:
        print_json({"name": name, "removed": removed, "file": str(path)})
    else:
        print(f"removed {name}'s token{'s' if removed > 1 else ''} from {path}: refused from the next request on")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "auth", help="bearer tokens for the servers' HTTP transport (a team's shared servers)",
        description="Manage the tokens the servers accept over streamable HTTP: one line per person in "
        "PAII_AUTH_TOKENS_FILE (default: the tokens file in the config folder). A running server reads "
        "the file again when it changes. See docs/team.md.",
    )
    s = p.add_subparsers(dest="auth_command", required=True)

    def common(q, json_help: str = "print JSON") -> None:
        q.add_argument("--file", help="the tokens file (default: PAII_AUTH_TOKENS_FILE, or <config dir>/tokens)")
        q.add_argument("--json", action="store_true", help=json_help)

    add = s.add_parser("add", help="a new random token for NAME, printed once on stdout",
                       description="Append a new random token for NAME and print it once (stdout; the rest goes to stderr, "
                       "so TOKEN=$(paii auth add alice) works). Keep it like a password.")
    add.add_argument("name", help="who it is for (letters, digits, . _ @ -), recorded as the author of their writes")
    add.add_argument("--read-only", action="store_true", help="may call the tools that read, never one that writes")
    add.add_argument("--hashed", action="store_true", help="store only the token's SHA-256 (the file then reveals no token)")
    common(add, "print name, token and file as JSON")
    # a new token lets someone in: refused in read-only mode like every writer (remove stays allowed:
    # cutting off a leaked token must work whatever mode the servers are in)
    add.set_defaults(func=cmd_add, writes=True)

    ls = s.add_parser("list", help="the names that have a token (never the tokens)")
    common(ls)
    ls.set_defaults(func=cmd_list)

    rm = s.add_parser("remove", help="remove NAME's token(s): refused from the next request on")
    rm.add_argument("name")
    common(rm)
    rm.set_defaults(func=cmd_remove)
