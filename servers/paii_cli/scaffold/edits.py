"""The edits ``paii plugin new`` makes to a checkout's shared files (pyproject.toml, .mcp.json,
plugin.json, bin/paii-mcp): each keeps the file's own layout and is checked by parsing the result."""

from __future__ import annotations

import json
import re
from pathlib import Path

from paii_cli.scaffold import render
from paii_common.errors import InvalidInput


def _edit_pyproject(root: Path, name: str) -> tuple[str, str]:
    old = (root / "pyproject.toml").read_text()
    m = re.search(r"^\[project\.scripts\]\n((?:[^\[\n].*\n)*)", old, re.M)
    if not m:
        raise InvalidInput("pyproject.toml has no [project.scripts] table: add the server's script by hand")
    body = m.group(1).rstrip("\n")
    line = f'paii-{name} = "paii_{name}.__main__:main"'
    new = old[: m.start(1)] + body + "\n" + line + "\n" + old[m.start(1) + len(body) + 1:]
    return old, new


def _insert_json(text: str, section: str, key: str, value: dict, indent: int, where: str) -> str:
    """``text`` with ``"key": value`` added at the end of the top-level object ``section``, keeping
    the file's own layout; checked by parsing the result."""
    data = json.loads(text)
    if key in data.get(section, {}):
        raise InvalidInput(f"{where} already has {section}.{key}: remove it first or choose another name")
    m = re.search(rf'^([ \t]*)"{re.escape(section)}":\s*\{{', text, re.M)
    if not m:
        raise InvalidInput(f"{where} has no {section!r} object: add the entry by hand")
    depth, i = 0, m.end() - 1
    for i in range(m.end() - 1, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                break
    head = text[:i].rstrip()
    sep = "," if not head.endswith("{") else ""
    new = f"{head}{sep}\n{render.json_block(key, value, indent)}\n{m.group(1)}{text[i:]}"
    expected = json.loads(text)
    expected[section][key] = value
    if json.loads(new) != expected:
        raise InvalidInput(f"could not add {section}.{key} to {where} cleanly: add it by hand")
    return new


def _edit_json(root: Path, rel: str, section: str, key: str, value: dict, indent: int) -> tuple[str, str]:
    old = (root / rel).read_text()
    return old, _insert_json(old, section, key, value, indent, rel)


def _edit_launcher(root: Path, name: str) -> tuple[str, str]:
    old = (root / "bin" / "paii-mcp").read_text()
    m = re.search(r"^SERVERS = \(([^)]*)\)$", old, re.M)
    if not m:
        raise InvalidInput("bin/paii-mcp has no SERVERS = (...) line: add the server there by hand")
    servers = re.findall(r"\"([a-z0-9]+)\"", m.group(1)) + [name]
    new = old[: m.start()] + "SERVERS = (" + ", ".join(json.dumps(s) for s in servers) + ")" + old[m.end():]
    listed = ", ".join(servers[:-1]) + " or " + servers[-1]
    new = re.sub(r"(run a server: ).*$", lambda mm: mm.group(1) + listed, new, count=1, flags=re.M)
    return old, new
