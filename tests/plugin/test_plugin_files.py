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
SERVERS = ("history", "pagerduty", "slack", "kubernetes", "runbook")
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
def server_tools(server: str) -> dict[str, bool]:
    """{tool name: read-only?} of a server, listed in memory; skips when the package is missing."""
    try:
        mod = __import__(f"paii_{server}.server", fromlist=["build_server"])
    except ModuleNotFoundError as exc:
        pytest.skip(f"paii_{server} not importable: {exc}")
    from mcp import Client

    async def listing():
        async with Client(mod.build_server()) as client:
            return (await client.list_tools()).tools

    return {t.name: bool(t.annotations and t.annotations.read_only_hint) for t in asyncio.run(listing())}


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
        assert spec["env"]["PAII_HOME"] == "${CLAUDE_PLUGIN_DATA}"


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


@pytest.mark.parametrize("doc", _docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_referenced_file_exists(doc: Path):
    text = doc.read_text()
    skill_dir = next((p for p in SKILLS if p in doc.parents), None)
    refs = re.findall(r"\]\(([^)#\s]+)\)", text)  # markdown links
    refs += re.findall(r"`((?:skills|commands|hooks|bin|references)/[^`\s]+)`", text)
    for ref in refs:
        if re.match(r"[a-z]+://", ref):
            continue
        bases = [doc.parent, ROOT] + ([skill_dir] if skill_dir else [])
        assert any((b / ref).exists() for b in bases), f"{doc.relative_to(ROOT)} points at missing {ref}"
        # exists() is case-insensitive on some filesystems: compare the real names too
        found = next(b / ref for b in bases if (b / ref).exists())
        assert found.resolve().name == Path(ref).name, f"{ref}: case differs from {found.resolve().name}"


@pytest.mark.parametrize("doc", _docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_tool_names_in_skills_and_commands_exist(doc: Path):
    text = doc.read_text()
    for server, tool in TOOL_RE.findall(text):
        assert tool_exists(server, tool), f"{doc.name}: no tool {tool} in {server}"
    # bare `snake_case` words must be a tool or one of their arguments (catches renamed tools)
    known = set()
    for server in SERVERS:
        known |= set(server_tools(server))
    known |= _argument_names()
    for word in re.findall(r"`([a-z]+(?:_[a-z0-9]+)+)`", text):
        assert word in known, f"{doc.relative_to(ROOT)}: `{word}` is neither a PAII tool nor an argument"


@functools.cache
def _argument_names() -> set[str]:
    from mcp import Client

    names: set[str] = set()
    for server in SERVERS:
        mod = __import__(f"paii_{server}.server", fromlist=["build_server"])

        async def listing():
            async with Client(mod.build_server()) as client:
                return (await client.list_tools()).tools

        for t in asyncio.run(listing()):
            names |= set((t.input_schema or {}).get("properties", {}))
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


def test_launcher_is_an_executable_stdlib_script():
    assert os.access(LAUNCHER, os.X_OK)
    assert LAUNCHER.read_text().startswith("#!/usr/bin/env python3\n")


def test_launcher_help_explains_usage():
    out = subprocess.run([sys.executable, str(LAUNCHER), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert "usage: paii-mcp SERVER" in out.stdout and "PAII_PYTHON" in out.stdout


def test_launcher_rejects_an_unknown_server_on_stderr_only():
    out = subprocess.run([sys.executable, str(LAUNCHER), "jira"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert out.stdout == ""  # stdout belongs to the MCP protocol
    assert "unknown server 'jira'" in out.stderr and "history, pagerduty, slack" in out.stderr


def test_stamp_is_stable_and_tracks_dependencies_and_python():
    lm = launcher()
    deps = lm.read_dependencies(ROOT / "pyproject.toml")
    assert deps and any(d.startswith("mcp") for d in deps)
    stamp = lm.compute_stamp(deps)
    assert stamp == lm.compute_stamp(list(deps)) and len(stamp) == 64
    assert lm.compute_stamp(deps + ["extra>=1"]) != stamp
    assert lm.compute_stamp(deps, "CPython-3.99.0") != stamp


def test_server_env_drops_unset_user_config_and_points_at_the_plugin(monkeypatch, tmp_path):
    lm = launcher()
    monkeypatch.setenv("PAII_PAGERDUTY_TOKEN", "")  # what an unset optional user_config becomes
    monkeypatch.setenv("PAII_SLACK_TOKEN", "${user_config.slack_bot_token}")
    monkeypatch.setenv("PAII_PAGERDUTY_FROM", "oncall@example.com")
    monkeypatch.delenv("PAII_HOME", raising=False)
    env = lm.server_env(ROOT, tmp_path)
    assert "PAII_PAGERDUTY_TOKEN" not in env and "PAII_SLACK_TOKEN" not in env
    assert env["PAII_PAGERDUTY_FROM"] == "oncall@example.com"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT / "servers")
    assert env["PAII_HOME"] == str(tmp_path)


def test_data_dir_prefers_claude_plugin_data_then_paii_home(monkeypatch, tmp_path):
    lm = launcher()
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", "${CLAUDE_PLUGIN_DATA}")  # unexpanded: ignored
    monkeypatch.setenv("PAII_HOME", str(tmp_path / "home"))
    assert lm.data_dir() == tmp_path / "home"
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(tmp_path / "data"))
    assert lm.data_dir() == tmp_path / "data"


def test_launcher_with_paii_python_serves_mcp_on_stdout(tmp_path):
    """PAII_PYTHON skips the venv; the first line on stdout is the initialize response."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_")}
    env.update(PAII_PYTHON=sys.executable, PAII_HOME=str(tmp_path), PAII_SLACK_TOKEN="")
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
