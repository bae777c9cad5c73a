"""The Claude Code plugin files: manifests, .mcp.json, skills, commands, hook and launcher.

Fast and offline. The real CLI checks (servers start, commands expand) are in
run_claude_checks.sh.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
#: every server package in this checkout (one made by `paii plugin new` included)
SERVERS = tuple(sorted(p.parent.name.removeprefix("paii_") for p in (ROOT / "servers").glob("paii_*/plugin.toml")))
TOOL_RE = re.compile(r"mcp__plugin_paii_([a-z0-9-]+?)__([a-z0-9_]+)")
SKILLS = sorted(p.parent for p in (ROOT / "skills").glob("*/SKILL.md"))
COMMANDS = sorted((ROOT / "commands").glob("*.md"))


def load_json(rel: str) -> dict:
    return json.loads((ROOT / rel).read_text())


def frontmatter(path: Path) -> tuple[dict, str]:
    text = path.read_text()
    assert text.startswith("---\n"), f"{path} has no YAML frontmatter"
    head, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(head), body


def load_script(path: Path, name: str):
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@functools.cache
def _listing(server: str) -> tuple:
    """The server's real tools/list, in memory (every server of this checkout must import)."""
    assert server in SERVERS, f"no server {server!r} in servers/ (there are: {', '.join(SERVERS)})"
    mod = __import__(f"paii_{server}.server", fromlist=["build_server"])
    from mcp import Client

    async def listing():
        async with Client(mod.build_server()) as client:
            return (await client.list_tools()).tools

    return tuple(asyncio.run(listing()))


def server_tools(server: str) -> dict[str, bool]:
    """{tool name: read-only?} of a server."""
    return {t.name: bool(t.annotations and t.annotations.read_only_hint) for t in _listing(server)}


def tool_exists(server: str, tool: str) -> bool:
    return tool in server_tools(server)


# --- manifests -------------------------------------------------------------------------------


def test_plugin_json_has_identity_and_optional_user_config():
    plugin = load_json(".claude-plugin/plugin.json")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert plugin["name"] == "paii"
    assert plugin["version"] == project["version"]
    assert plugin["license"] == "MIT"
    for key, spec in plugin["userConfig"].items():
        assert spec["required"] is False, f"{key}: the servers must start without credentials"
        assert spec["title"] and spec["description"] and spec["type"] in ("string", "boolean")
    secrets = {k for k, v in plugin["userConfig"].items() if v.get("sensitive")}
    assert {"pagerduty_token", "slack_bot_token", "slack_user_token"} <= secrets


def test_marketplace_lists_this_folder_as_paii():
    market = load_json(".claude-plugin/marketplace.json")
    (entry,) = [p for p in market["plugins"] if p["name"] == "paii"]
    assert entry["source"] == "./"


def test_mcp_json_starts_every_server_through_the_launcher():
    servers = load_json(".mcp.json")["mcpServers"]
    assert set(servers) == set(SERVERS)
    for name, spec in servers.items():
        assert spec["command"] == "python3"
        assert spec["args"] == ["${CLAUDE_PLUGIN_ROOT}/bin/paii-mcp", name]
        # one data home for the CLI and every server: .mcp.json must not point PAII_HOME at the
        # plugin data folder (nor replace a PAII_HOME the person exported with an empty value)
        assert "PAII_HOME" not in spec.get("env", {})


def test_mcp_json_only_uses_declared_user_config_keys():
    """An undeclared ${user_config.x} (or a ${user_config.x:-default}) makes Claude Code drop
    every server of the plugin, with the error only in its debug log."""
    declared = set(load_json(".claude-plugin/plugin.json")["userConfig"])
    used = re.findall(r"\$\{user_config\.([^}]*)\}", (ROOT / ".mcp.json").read_text())
    assert used and set(used) <= declared, set(used) - declared


def test_hooks_json_runs_the_guards_and_the_usage_log():
    hooks = load_json("hooks/hooks.json")["hooks"]
    pre = {h["matcher"]: h["hooks"][0]["command"] for h in hooks["PreToolUse"]}
    assert "${CLAUDE_PLUGIN_ROOT}/hooks/read_only_guard.py" in pre["mcp__plugin_paii_.*"]
    assert "${CLAUDE_PLUGIN_ROOT}/hooks/guard.py" in pre["Bash"]
    for event in ("PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "SessionEnd"):
        assert [h["hooks"][0]["command"] for h in hooks[event]] == ['python3 -S "${CLAUDE_PLUGIN_ROOT}/hooks/usage.py"']
    for entries in hooks.values():
        for h in entries:
            script = re.search(r"hooks/([\w.]+\.py)", h["hooks"][0]["command"]).group(1)
            assert (ROOT / "hooks" / script).is_file() and h["hooks"][0]["timeout"] <= 10


# --- skills and commands ---------------------------------------------------------------------


@pytest.mark.parametrize("skill", SKILLS, ids=lambda p: p.name)
def test_skill_name_is_its_folder_and_it_has_a_description(skill: Path):
    meta, body = frontmatter(skill / "SKILL.md")
    assert meta["name"] == skill.name
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", skill.name)
    assert len(meta["description"]) > 80, "the description carries every trigger"
    assert len((skill / "SKILL.md").read_text().splitlines()) < 500


def test_skills_and_commands_do_not_share_a_name():
    assert SKILLS and COMMANDS
    assert not {p.name for p in SKILLS} & {p.stem for p in COMMANDS}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda p: p.stem)
def test_command_frontmatter_and_sections(command: Path):
    meta, body = frontmatter(command)
    assert set(meta) == {"description", "argument-hint", "allowed-tools"}
    assert "## Context" in body and "## Your task" in body


def _allowed_tools(command: Path) -> list[str]:
    return [t.strip() for t in frontmatter(command)[0]["allowed-tools"].split(",")]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda p: p.stem)
def test_allowed_tools_are_exact_existing_read_only_tools(command: Path):
    for name in _allowed_tools(command):
        m = TOOL_RE.fullmatch(name)
        assert m, f"{name}: list exact plugin tool names, no wildcards"
        server, tool = m.groups()
        tools = server_tools(server)
        assert tool in tools, f"{name}: no tool {tool!r} in {server} ({sorted(tools)})"
        assert tools[tool], f"{name} writes: writes go through Claude Code's permission prompt"


def _docs() -> list[Path]:
    return sorted((ROOT / "skills").rglob("*.md")) + COMMANDS


#: a relative path to a file in a doc: in a markdown link, in backticks, or a bare references/... path
_LINK = re.compile(r"\]\(([^)#\s]+)\)")
_TICKED = re.compile(r"`((?:\./)?(?:[\w.-]+/)+[\w.-]+)`")
_BARE = re.compile(r"(?<![\w/.`(-])((?:references|runbooks)/[\w./-]*\w)")
_FILE = re.compile(r"\.(md|sh|py|json|ya?ml|toml|txt|csv|jsonl)$")
_TOP = ("skills/", "commands/", "hooks/", "bin/", "references/", "runbooks/", "docs/", "servers/", "examples/")


def _file_refs(text: str) -> list[str]:
    refs = _LINK.findall(text) + _BARE.findall(text)
    refs += [r for r in _TICKED.findall(text) if _FILE.search(r) or r.startswith(_TOP)]
    return [r for r in dict.fromkeys(refs) if not re.match(r"[a-z]+://", r) and not re.search(r"[<>*${}~]", r)]


@pytest.mark.parametrize("doc", _docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_referenced_file_exists(doc: Path):
    """Links, backticked paths and references/... or runbooks/... paths point at files that exist,
    spelled with the same case (Linux is case-sensitive; some filesystems are not)."""
    text = doc.read_text()
    skill_dir = next((p for p in SKILLS if p in doc.parents), None)
    for ref in _file_refs(text):
        bases = [doc.parent, ROOT] + ([skill_dir] if skill_dir else [])
        found = next((b / ref for b in bases if _exists_exactly(b, ref)), None)
        assert found, f"{doc.relative_to(ROOT)} points at missing {ref} (or its case differs)"


def _exists_exactly(base: Path, ref: str) -> bool:
    """``base/ref`` exists with every part of ``ref`` spelled exactly (exists() may ignore case)."""
    here = base
    for part in Path(ref).parts:
        if part in (".", ".."):
            here = here / part
            continue
        if not here.is_dir() or part not in os.listdir(here):
            return False
        here = here / part
    return True


def test_file_reference_finder_sees_links_backticks_and_bare_paths():
    text = ("see [the format](references/a.md), `skills/x/SKILL.md`, `runbooks/db-failover.md` and\n"
            "references/b.md; not `history/<id>.md`, `500s/errors`, https://x.io/references/c.md or `lowercase_word`")
    assert _file_refs(text) == ["references/a.md", "references/b.md", "skills/x/SKILL.md", "runbooks/db-failover.md"]


_COMMAND_RE = re.compile(r"(?<![\w`/])/?paii:([A-Za-z0-9_-]+)")
_SKILL_RE = re.compile(r"(?:plugin's|using|the|PAII's)\s+`?([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`?\s+skill\b")
_NOT_NAMES = {"same", "next", "whole", "this", "that", "other", "new", "personal"}


@pytest.mark.parametrize("doc", _docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_commands_and_skills_a_doc_names_exist(doc: Path):
    """/paii:<name> is a command or a skill (Claude Code runs both so); "the <name> skill" is a skill.
    Names are compared exactly: /paii:Spanish is not /paii:spanish."""
    text = doc.read_text()
    commands, skills = {p.stem for p in COMMANDS}, {p.name for p in SKILLS}
    for name in _COMMAND_RE.findall(text):
        assert name in commands | skills, f"{doc.relative_to(ROOT)}: /paii:{name} is neither a command nor a skill"
    for name in _SKILL_RE.findall(text):
        if name not in _NOT_NAMES:
            assert name in skills, f"{doc.relative_to(ROOT)}: no skill {name!r} (skills: {', '.join(sorted(skills))})"


@pytest.mark.parametrize("doc", _docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_tool_names_in_skills_and_commands_exist(doc: Path):
    text = doc.read_text()
    for server, tool in TOOL_RE.findall(text):
        assert tool_exists(server, tool), f"{doc.name}: no tool {tool} in {server}"
    # bare `snake_case` words must be a tool, one of their arguments or a field of their answers
    # (catches renamed tools and fields)
    known = set()
    for server in SERVERS:
        known |= set(server_tools(server))
    known |= _argument_names()
    for word in re.findall(r"`([a-z]+(?:_[a-z0-9]+)+)`", text):
        assert word in known, f"{doc.relative_to(ROOT)}: `{word}` is neither a PAII tool, an argument nor a field of an answer"


def _properties(schema) -> set[str]:
    """Every property name anywhere in a JSON schema (nested objects and $defs included)."""
    names: set[str] = set()
    if isinstance(schema, dict):
        names |= set(schema.get("properties") or {})
        for value in schema.values():
            names |= _properties(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= _properties(value)
    return names


@functools.cache
def _argument_names() -> set[str]:
    names: set[str] = set()
    for server in SERVERS:
        for t in _listing(server):
            names |= set((t.input_schema or {}).get("properties", {})) | _properties(t.output_schema)
    return names


# --- hook ------------------------------------------------------------------------------------

GUARD = ROOT / "hooks" / "read_only_guard.py"


def run_guard(tool_name: str, read_only: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PAII_READ_ONLY"}
    if read_only is not None:
        env["PAII_READ_ONLY"] = read_only
    out = subprocess.run([sys.executable, str(GUARD)], input=json.dumps({"tool_name": tool_name, "tool_input": {}}),
                         capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("server", SERVERS)
def test_guard_classifies_every_tool_like_its_annotation(server: str):
    guard = load_script(GUARD, "read_only_guard")
    for tool, read_only in server_tools(server).items():
        assert guard.is_write(f"mcp__plugin_paii_{server}__{tool}") == (not read_only), tool


def test_guard_denies_a_write_in_read_only_mode_with_a_reason():
    out = json.loads(run_guard("mcp__plugin_paii_history__capture", "1"))["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse" and out["permissionDecision"] == "deny"
    assert "PAII_READ_ONLY" in out["permissionDecisionReason"]


@pytest.mark.parametrize("tool", ["mcp__plugin_paii_history__search", "mcp__plugin_paii_slack__channel_digest",
                                  "mcp__plugin_paii_pagerduty__shift_activity", "mcp__other__capture", "Bash"])
def test_guard_never_blocks_reads_or_other_tools(tool: str):
    assert run_guard(tool, "1") == ""


def test_guard_does_nothing_outside_read_only_mode():
    assert run_guard("mcp__plugin_paii_pagerduty__resolve_incident", None) == ""
    assert run_guard("mcp__plugin_paii_pagerduty__resolve_incident", "0") == ""


# --- launcher --------------------------------------------------------------------------------

LAUNCHER = ROOT / "bin" / "paii-mcp"


def launcher():
    return load_script(LAUNCHER, "paii_mcp_launcher")


def launch_lib():
    return load_script(ROOT / "bin" / "_paii_launch.py", "paii_launch_lib")


def install_lib():
    return load_script(ROOT / "bin" / "_paii_install.py", "paii_install_lib")


def test_launcher_is_an_executable_stdlib_script():
    assert os.access(LAUNCHER, os.X_OK)
    assert LAUNCHER.read_text().startswith("#!/usr/bin/env python3\n")


def test_launcher_help_explains_usage():
    out = subprocess.run([sys.executable, str(LAUNCHER), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert "usage: paii-mcp SERVER" in out.stdout and "PAII_PYTHON" in out.stdout
    # the recovery, where a person looks: what to run when a server does not connect, with its path
    assert "If a PAII server does not connect" in out.stdout and "paii-mcp --setup" in out.stdout
    assert f"this launcher: {LAUNCHER.resolve()}" in out.stdout


def test_launcher_rejects_an_unknown_server_on_stderr_only():
    out = subprocess.run([sys.executable, str(LAUNCHER), "nosuch"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert out.stdout == ""  # stdout belongs to the MCP protocol
    assert "unknown server 'nosuch'" in out.stderr and "history, pagerduty, slack" in out.stderr


def test_launcher_and_project_know_every_server_in_servers():
    """A server package (also one `paii plugin new` made) is launchable and installed as a script."""
    import tomllib

    assert sorted(launcher().SERVERS) == sorted(SERVERS)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name in SERVERS:
        assert scripts.get(f"paii-{name}") == f"paii_{name}.__main__:main", name


def test_stamp_is_stable_and_tracks_dependencies_and_python():
    lm = install_lib()
    deps = lm.read_dependencies(ROOT / "pyproject.toml")
    assert deps and any(d.startswith("mcp") for d in deps)
    stamp = lm.compute_stamp(deps)
    assert stamp == lm.compute_stamp(list(deps)) and len(stamp) == 64
    assert lm.compute_stamp(deps + ["extra>=1"]) != stamp
    assert lm.compute_stamp(deps, "CPython-3.99.0") != stamp


def test_server_env_drops_unset_user_config_and_points_at_the_plugin(monkeypatch, tmp_path):
    lm = launch_lib()
    monkeypatch.setenv("PAII_PAGERDUTY_TOKEN", "")  # what an unset optional user_config becomes
    monkeypatch.setenv("PAII_SLACK_TOKEN", "${user_config.slack_bot_token}")
    monkeypatch.setenv("PAII_PAGERDUTY_FROM", "oncall@example.com")
    monkeypatch.delenv("PAII_HOME", raising=False)
    env = lm.child_env(ROOT)
    assert "PAII_PAGERDUTY_TOKEN" not in env and "PAII_SLACK_TOKEN" not in env
    assert env["PAII_PAGERDUTY_FROM"] == "oncall@example.com"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT / "servers")
    assert "PAII_HOME" not in env  # the data home is paii_home()'s to decide, not the plugin's


def test_the_plugin_data_folder_is_claude_codes_then_the_installed_plugins_then_a_cache(monkeypatch, tmp_path):
    lm = launch_lib()
    monkeypatch.delenv("CLAUDE_PLUGIN_ROOT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", "${CLAUDE_PLUGIN_DATA}")  # unexpanded: ignored
    monkeypatch.setenv("PAII_HOME", str(tmp_path / "home"))  # the data home is never the plugin's folder
    assert lm.data_dir(ROOT) == tmp_path / "cache" / "paii" / "launcher"  # a checkout, outside Claude Code
    installed = tmp_path / ".claude" / "plugins" / "cache" / "paii-marketplace" / "paii" / "0.1.0"
    installed.mkdir(parents=True)
    assert lm.data_dir(installed) == tmp_path / ".claude" / "plugins" / "data" / "paii-paii-marketplace"
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(tmp_path / "data"))
    assert lm.data_dir(installed) == tmp_path / "data"
    monkeypatch.setenv("CLAUDE_PLUGIN_ROOT", str(tmp_path / "another-plugin"))  # another plugin's hook runs paii
    assert lm.data_dir(installed) == tmp_path / ".claude" / "plugins" / "data" / "paii-paii-marketplace"


def test_launcher_with_paii_python_serves_mcp_on_stdout(tmp_path):
    """PAII_PYTHON skips the venv; the first line on stdout is the initialize response."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_")}
    env.update(PAII_PYTHON=sys.executable, PAII_HOME=str(tmp_path), PAII_SLACK_TOKEN="", XDG_CACHE_HOME=str(tmp_path / "cache"))
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}}
    proc = subprocess.run([sys.executable, str(LAUNCHER), "slack"], input=json.dumps(init) + "\n",
                          capture_output=True, text=True, env=env, timeout=60)
    first = json.loads(proc.stdout.splitlines()[0])
    assert first["id"] == 1 and "result" in first, proc.stderr


def test_contributor_notes_at_the_top_level_are_a_link_into_dot_claude():
    """The top-level CLAUDE.md is for people working on this repository. As a regular file at the
    plugin root, `claude plugin validate --strict` rejects it ("not loaded as plugin context", which
    is true and intended); so it is a relative link to .claude/CLAUDE.md, which Claude Code also
    loads as project memory. A clone, and Claude Code's copy of the plugin, keep the link."""
    top = ROOT / "CLAUDE.md"
    assert top.is_symlink() and os.readlink(top) == ".claude/CLAUDE.md"
    assert top.resolve() == (ROOT / ".claude" / "CLAUDE.md").resolve()
    assert "build_server" in top.read_text()
