"""``paii plugin ...``: what PAII is made of, and a new part of it.

    paii plugin new NAME [--type integration] [--service S] [--user] [--dry-run] [--json]
    paii plugin new NAME --type skill [--command C] [--description D] [--user] [--dry-run] [--json]
    paii plugin list [--json]        servers (contract, configured?) and skills
    paii plugin info NAME [--json]   one server's manifest: contracts, settings and whether each is
                                     set (never its value), its tools; or one skill
    paii plugin serve NAME [--from DIR]  run one of the person's own plugins' servers over stdio

``new`` writes files (see :mod:`paii_cli.scaffold`): in a PAII checkout, in this repository's
layout; in a plugin install (or with ``--user``), a Claude Code plugin of the person's own under
``~/.config/paii/plugins`` (:mod:`paii_cli.scaffold.user`), whose ``bin/paii-server`` runs
``paii plugin serve``. It refuses to overwrite anything, checks the name, and undoes everything
if the new server does not start. Exit codes: 0 ok, 1 the generated server failed its
self-check, 2 a bad name or a name that is taken.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib
import os
from pathlib import Path
import sys
from typing import Any

from paii_cli.output import print_json


def _root_or_none() -> Path | None:
    from paii_cli.scaffold import find_root
    from paii_common.errors import InvalidInput

    try:
        return find_root()
    except InvalidInput:
        return None


def _frontmatter(path: Path) -> dict[str, Any]:
    import yaml

    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    head = text[4:].partition("\n---\n")[0]
    try:
        data = yaml.safe_load(head)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


# ------------------------------------------------------------------------------- new
def cmd_new(args) -> int:
    from paii_cli import CliError
    from paii_cli.scaffold import ScaffoldError, plan, where

    if args.language != "python":
        raise CliError(f"--language {args.language}: only python is supported", 2)
    if args.root and args.user:
        raise CliError("--root (a PAII checkout) and --user (your own plugins folder) exclude each other", 2)
    mode, root = where(args.root, user=args.user)
    p = plan(root, args.name, args.type, service=args.service, command=args.command, description=args.description,
             mode=mode)
    if not args.dry_run:
        try:
            p.apply()
        except ScaffoldError as exc:
            raise CliError(str(exc), 1) from None
    summary = p.summary() | {"dry_run": args.dry_run}
    if p.mode == "user":
        from paii_cli.scaffold.user import next_steps, plugin_name

        summary |= {"plugin": plugin_name(p.name), "folder": str(root / p.name), "next": next_steps(p)}
    if args.json:
        if args.dry_run:
            summary["files"] = p.create
            summary["edits"] = {rel: _diff(rel, old, new) for rel, (old, new) in p.edit.items()}
        print_json(summary)
        return 0
    print(_render_new(p, args.dry_run))
    return 0


def _diff(rel: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{rel}", f"b/{rel}", n=1))


def _tree(paths: list[str]) -> list[str]:
    lines, seen = [], set()
    for path in sorted(paths):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in seen:
                seen.add(folder)
                lines.append(f"  {'  ' * (depth - 1)}{parts[depth - 1]}/")
        lines.append(f"  {'  ' * (len(parts) - 1)}{parts[-1]}")
    return lines


def _render_new(p, dry_run: bool) -> str:
    verb = "Would create" if dry_run else "Created"
    lang = " (python)" if p.kind == "integration" else ""
    out = [f"📦 {'PLAN' if dry_run else 'CREATED'}: {p.kind} {p.name}{lang} in {p.root}"]
    if p.mode == "user":
        why = ("this paii runs from an installed PAII plugin, which each update replaces, so new code lives here"
               if not (p.paii_root / ".git").exists() else "--user")
        out += [f"   a Claude Code plugin of your own, paii-{p.name}, in your plugins folder ({why}); it runs with "
                "PAII's code and Python."]
    out += ["", f"{verb}:"]
    out += _tree(list(p.create) + ([p.rel(f"tests/snapshots/{p.name}.json")] if p.kind == "integration" else []))
    out += ["", f"{'Would edit' if dry_run else 'Edited'}: " + (", ".join(sorted(p.edit)) or "nothing")]
    if dry_run:
        for rel, (old, new) in sorted(p.edit.items()):
            out += ["", _diff(rel, old, new).rstrip()]
    if p.service:
        pkg = p.rel(f"servers/paii_{p.name}")
        toml = p.create[f"{pkg}/plugin.toml"]
        out += ["", f"The manifest ({pkg}/plugin.toml), pre-filled for {p.service.title}:", ""]
        out += toml[toml.index("[provides]"):].strip().splitlines()
        out += ["", f"Actions to implement ({pkg}/client.py):"]
        out += [f"- {a.name}" + ("" if a.read_only else " (write)") for a in p.service.actions]
    for note in p.notes:
        out.append(f"Note: {note}.")
    if dry_run:
        return "\n".join(out)
    if p.mode == "user":
        from paii_cli.scaffold.user import next_steps, plugin_name
        from paii_common.config import env_file

        folder = p.root / p.name
        out += ["", "Next:", "  1. Add it to Claude Code (once), then restart Claude Code:"]
        out += [f"       {step}" for step in next_steps(p)]
        if p.kind == "integration":
            out += [f"     Its settings: /plugin > {plugin_name(p.name)} > Configure options (or {env_file()}).",
                    f"  2. Write the calls in {folder}/servers/paii_{p.name}/client.py; the server runs this folder's "
                    "code, so a restart of Claude Code picks up each edit.",
                    f"  3. `paii doctor` checks it with PAII's servers; `paii plugin info {p.name}` lists its tools."]
        else:
            out += [f"  2. Edit {folder}/skills/{p.name}/SKILL.md (its description carries the phrases that start it)."]
        out.append(f"({folder}/README.md says the same.)")
    elif p.kind == "integration":
        out += ["", "Next: `make setup` (the new paii-%s script), `make test`, `paii doctor`; then write client.py." % p.name]
    else:
        out += ["", "Next: edit the SKILL.md description and steps, then `make test`."]
    return "\n".join(out)


# ------------------------------------------------------------------------------- list / info
def _server_summary(name: str) -> dict[str, Any]:
    from paii_common.config import env_file
    from paii_common.manifest import config_status, load_manifest, read_env_file

    from paii_common.manifest import user_servers

    m = load_manifest(name)
    status = config_status(m, dict(os.environ), read_env_file(env_file()))
    missing = [s.entry.key for s in status if not s.ok]
    own = user_servers().get(name)
    return {"name": name, "kind": "server", "version": m.version, "description": m.description,
            "provides": m.provides, "configured": not missing, "missing": missing,
            "yours": str(own.parent) if own else None}


def _skills(root: Path | None) -> list[dict[str, Any]]:
    if root is None:
        return []
    out = []
    for path in sorted((root / "skills").glob("*/SKILL.md")):
        meta = _frontmatter(path)
        out.append({"name": path.parent.name, "kind": "skill", "description": str(meta.get("description", ""))})
    return out


def _commands(root: Path | None) -> list[dict[str, Any]]:
    if root is None:
        return []
    return [{"name": p.stem, "kind": "command", "description": str(_frontmatter(p).get("description", ""))}
            for p in sorted((root / "commands").glob("*.md"))]


def cmd_list(args) -> int:
    from paii_common.manifest import server_names

    root = _root_or_none()
    data = {"servers": [_server_summary(n) for n in server_names()], "skills": _skills(root), "commands": _commands(root)}
    if args.json:
        print_json(data)
        return 0
    lines = ["SERVERS"]
    for s in data["servers"]:
        provides = ", ".join(f"{k}: {v.get('contract', '')}" + (f" ({v['service']})" if v.get("service") else "")
                             for k, v in s["provides"].items()) or "-"
        state = "configured" if s["configured"] else f"not set up: {', '.join(s['missing'])}"
        yours = f"  (yours: {s['yours']})" if s["yours"] else ""
        lines.append(f"  {s['name']:<12} {s['version']:<7} {provides:<46} {state}{yours}")
    for kind in ("skills", "commands"):
        if data[kind]:
            lines += ["", kind.upper()]
            for item in data[kind]:
                first = item["description"].split(". ")[0][:90]
                lines.append(f"  {('/paii:' if kind == 'commands' else '') + item['name']:<24} {first}")
    lines += ["", "`paii plugin info NAME` shows one in full."]
    print("\n".join(lines))
    return 0


def _tools(name: str) -> list[dict[str, Any]] | str:
    from paii_cli.doctor import start_check

    check, settings = start_check(name)
    if not check["ok"] or settings is None:
        return check["detail"]
    server = importlib.import_module(f"paii_{name}.server").build_server(settings)
    return [{"name": t.name, "read_only": bool(t.annotations and t.annotations.read_only_hint)}
            for t in asyncio.run(server.list_tools())]


def server_info(name: str) -> dict[str, Any]:
    from paii_common.config import env_file
    from paii_common.manifest import config_status, load_manifest, read_env_file

    m = load_manifest(name)
    config = []
    for st in config_status(m, dict(os.environ), read_env_file(env_file())):
        e = st.entry
        config.append({"key": e.key, "env": list(e.env_names()), "required": e.required, "secret": e.secret,
                       "default": e.default, "set": st.source is not None, "source": st.source, "from": st.var,
                       "description": e.description, "without": e.without})
    return {"name": name, "kind": "server", "version": m.version, "description": m.description,
            "entry_point": m.entry_point, "provides": m.provides, "config": config,
            "configured": all(c["set"] or not c["required"] for c in config), "setup": m.setup, "tools": _tools(name)}


def _render_server(info: dict[str, Any]) -> str:
    lines = [f"{info['name']} {info['version']}: {info['description']}", f"  entry point: {info['entry_point']}"]
    for k, v in info["provides"].items():
        lines.append(f"  provides {k}: " + ", ".join(f"{a}={b}" for a, b in v.items()))
    lines.append("  config:")
    for c in info["config"]:
        names = " / ".join(c["env"])
        flags = ", ".join(f for f in ("required" if c["required"] else "optional", "secret" if c["secret"] else "") if f)
        state = f"set ({c['source']}" + (f": {c['from']})" if c["from"] else ")") if c["set"] else (
            f"not set, default {c['default']}" if c["default"] is not None else "not set")
        lines.append(f"    {c['key']} [{flags}] {names}: {state}")
    tools = info["tools"]
    if isinstance(tools, str):
        lines.append(f"  tools: cannot list them: {tools}")
    else:
        lines.append("  tools: " + ", ".join(t["name"] + ("" if t["read_only"] else " (write)") for t in tools))
    if not info["configured"] and info["setup"]:
        lines += ["  How to set it up:"] + [f"    {line}".rstrip() for line in info["setup"].splitlines()]
    return "\n".join(lines)


def cmd_info(args) -> int:
    from paii_common.errors import NotFound
    from paii_common.manifest import server_names

    servers = server_names()
    root = _root_or_none()
    if args.name in servers:
        info = server_info(args.name)
        print_json(info) if args.json else print(_render_server(info))
        return 0
    for item in _skills(root) + _commands(root):
        if item["name"] == args.name:
            folder = (root / "skills" / args.name) if item["kind"] == "skill" else None
            if folder is not None:
                item["files"] = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
            if args.json:
                print_json(item)
            else:
                print(f"{item['kind']} {args.name}: {item['description']}")
                for f in item.get("files", []):
                    print(f"  {f}")
            return 0
    known = servers + [i["name"] for i in _skills(root) + _commands(root)]
    close = difflib.get_close_matches(args.name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise NotFound(f"no server, skill or command named {args.name!r}.{hint} `paii plugin list` shows them all")


def cmd_serve(args) -> int:
    """Run a server of one of the person's own plugins over stdio (its bin/paii-server calls this)."""
    from paii_cli import CliError
    from paii_common.manifest import user_plugins_dir

    folder = Path(args.source).expanduser() if args.source else user_plugins_dir() / args.name
    servers = folder / "servers"
    if not (servers / f"paii_{args.name}" / "__main__.py").is_file():
        raise CliError(f"no server paii_{args.name} in {servers}: `paii plugin new {args.name}` makes one "
                       "(`paii plugin list` shows the servers there are)", 2)
    sys.path.insert(0, str(servers))
    importlib.import_module(f"paii_{args.name}.__main__").main([])
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("plugin", help="list PAII's servers and skills, show one, or scaffold a new one")
    ps = p.add_subparsers(dest="plugin_command", required=True)

    n = ps.add_parser("new", help="scaffold a new integration server or skill (refuses to overwrite)",
                      description="Scaffold a new integration server (servers/paii_NAME with its manifest, settings, "
                      "client stub, typed tools that answer 'not implemented yet', tests and a skill) or a skill (with "
                      "references/ and a command). In a PAII checkout it goes into the repository (plus its entries in "
                      "pyproject.toml, .mcp.json, plugin.json and bin/paii-mcp); in a plugin install, or with --user, it "
                      "becomes a Claude Code plugin of your own in ~/.config/paii/plugins/NAME (a marketplace: the output "
                      "says how to install it). Known services get their real settings and suggested actions: datadog, "
                      "github, grafana, newrelic, opsgenie, sentry.")
    n.add_argument("name", help="integration: one lowercase word (datadog); skill: kebab-case (standup-notes)")
    n.add_argument("--type", choices=["integration", "skill"], default="integration", help="default: integration")
    n.add_argument("--language", default="python", help="python (the only one for now)")
    n.add_argument("--service", help="integration: the service it talks to, when not NAME (e.g. --service datadog)")
    n.add_argument("--command", help="skill: the command's name (default run-NAME; it must differ from the skill's)")
    n.add_argument("--description", help="skill: its description with the phrases that should start it")
    n.add_argument("--root", help="the PAII checkout to write into (default: the current folder, else this paii's, "
                   "when they are git checkouts)")
    n.add_argument("--user", action="store_true", help="make a plugin of your own in ~/.config/paii/plugins even in a "
                   "checkout (the default in a plugin install)")
    n.add_argument("--dry-run", action="store_true", help="show the files and edits, write nothing")
    n.add_argument("--json", action="store_true", help="machine-readable output")
    n.set_defaults(func=cmd_new)

    ls = ps.add_parser("list", help="servers (contract, configured or not) and skills and commands")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=cmd_list)

    i = ps.add_parser("info", help="one server's manifest (contracts, settings and whether each is set, tools) or one skill")
    i.add_argument("name")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_info)

    s = ps.add_parser("serve", help="run a server of one of your own plugins over stdio (its bin/paii-server does)")
    s.add_argument("name", help="the server's name (paii_NAME)")
    s.add_argument("--from", dest="source", metavar="DIR",
                   help="the plugin folder holding servers/paii_NAME (default ~/.config/paii/plugins/NAME)")
    s.set_defaults(func=cmd_serve)
