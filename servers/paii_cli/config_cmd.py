"""``paii config snippet --client C``: the MCP configuration other editors need for this install.

Every snippet starts each server by the absolute path of its entry point script (next to the
Python that runs ``paii``), so it works whatever the editor's PATH is. Tokens:

* ``claude-desktop``: ``<your ...>`` placeholders to replace (a value still in angle brackets
  counts as not set, so a forgotten one reads as "not configured", never as a bad token);
* ``cursor``: ``${env:NAME}``, Cursor's interpolation of the environment it was started from;
* ``vscode``: ``${input:ID}`` prompts declared under ``inputs`` (VS Code asks once and keeps the
  answer in its secret storage; ``password: true`` for tokens).

Any server also reads ``~/.config/paii/.env`` (``$PAII_CONFIG_DIR/.env``), so tokens can live
there instead: delete the ``env`` block then. ``docs/editors.md`` explains each client.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

CLIENTS = {
    "claude-desktop": (
        "Claude Desktop: merge into claude_desktop_config.json (Settings > Developer > Edit Config): "
        "macOS ~/Library/Application Support/Claude/, Windows %APPDATA%\\Claude\\; restart Claude Desktop."
    ),
    "cursor": "Cursor: merge into ~/.cursor/mcp.json (every project) or .cursor/mcp.json in a project.",
    "vscode": (
        "VS Code: save as .vscode/mcp.json in a workspace (or run 'MCP: Open User Configuration' for every workspace); "
        "VS Code prompts for the inputs on first start."
    ),
}

#: config types that are not worth a placeholder (they have sensible defaults or are per-machine)
SKIP_TYPES = {"path", "url"}


def entry_command(entry_point: str, module: str) -> tuple[str, list[str]]:
    """The absolute command that starts a server: its script next to this Python, else ``python -m``."""
    bindir = Path(os.path.abspath(sys.executable)).parent
    for name in (entry_point, entry_point + ".exe"):
        script = bindir / name
        if script.is_file():
            return str(script), []
    return os.path.abspath(sys.executable), ["-m", module]


def _placeholders(manifest) -> list[tuple[str, str, bool]]:
    """(variable, description, secret) for each setting a person may need to fill in."""
    out = []
    for e in manifest.config:
        if e.env and e.default is None and e.type not in SKIP_TYPES:
            out.append((e.env, e.description or e.key, e.secret))
    return out


def _short(description: str) -> str:
    """The first clause of a setting's description, e.g. "Bot token (xoxb-)"."""
    text = description.split(";")[0].split(". ")[0].strip().rstrip(".")
    if text.count("(") > text.count(")"):
        text = text[: text.rfind("(")].strip()
    return text[:60]


def snippet(client: str, servers: list[str]) -> dict[str, Any]:
    from paii_common.manifest import load_manifest, user_servers

    entries: dict[str, Any] = {}
    inputs: list[dict[str, Any]] = []
    own = user_servers()  # a plugin of the person's own (paii plugin new): `paii plugin serve NAME` runs it
    for name in servers:
        m = load_manifest(name)
        command, args = entry_command("paii", "paii_cli") if name in own else entry_command(m.entry_point, f"paii_{name}")
        if name in own:
            args = [*args, "plugin", "serve", name]
        env: dict[str, str] = {}
        for var, desc, secret in _placeholders(m):
            if client == "claude-desktop":
                env[var] = f"<{_short(desc)}: replace, or delete this line>"
            elif client == "cursor":
                env[var] = "${env:" + var + "}"
            else:
                ident = var.lower().replace("_", "-")
                inputs.append({"type": "promptString", "id": ident, "description": f"PAII {name}: {desc}", "password": secret})
                env[var] = "${input:" + ident + "}"
        server: dict[str, Any] = {"command": command, "args": args}
        if client == "vscode":
            server = {"type": "stdio", **server}
        if env:
            server["env"] = env
        entries[f"paii-{name}"] = server
    if client == "vscode":
        return {"inputs": inputs, "servers": entries} if inputs else {"servers": entries}
    return {"mcpServers": entries}


def cmd_snippet(args) -> int:
    from paii_cli import CliError
    from paii_cli.output import print_json
    from paii_common.manifest import server_names

    known = server_names()
    chosen = args.server or known
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise CliError(f"unknown server {', '.join(unknown)}: choose from {', '.join(known)}", 2)
    print_json(snippet(args.client, list(dict.fromkeys(chosen))))
    print(CLIENTS[args.client], file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    c = sub.add_parser("config", help="configuration for other MCP clients")
    cs = c.add_subparsers(dest="config_command", required=True)
    sn = cs.add_parser("snippet", help="print the MCP config JSON for Claude Desktop, Cursor or VS Code (stdout); "
                       "where it goes on stderr")
    sn.add_argument("--client", required=True, choices=sorted(CLIENTS), help="the editor")
    sn.add_argument("--server", action="append", metavar="NAME",
                    help="only this server (repeat for more; default: every installed server)")
    # the output is JSON anyway; --json is accepted so scripts can pass it to every command
    sn.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    sn.set_defaults(func=cmd_snippet)
