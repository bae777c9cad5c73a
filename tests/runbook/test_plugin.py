"""The runbook parts of the plugin: the server is launched like the others, and no command or
skill pre-approves a tool that executes (no tool approves: only the person does)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WRITERS = ("start_run", "run_step", "finish_run")


def test_the_runbook_server_is_in_mcp_json_with_its_settings():
    spec = json.loads((ROOT / ".mcp.json").read_text())["mcpServers"]["runbook"]
    assert spec["args"] == ["${CLAUDE_PLUGIN_ROOT}/bin/paii-mcp", "runbook"]
    assert spec["env"]["PAII_RUNBOOK_PATH"] == "${user_config.runbook_path}"


def test_no_command_pre_approves_a_runbook_tool_that_executes_or_approves():
    for path in (ROOT / "commands").glob("*.md"):
        head = yaml.safe_load(path.read_text().split("---\n")[1])
        allowed = head.get("allowed-tools", "")
        assert not any(f"runbook__{w}" in allowed for w in WRITERS), path
    for path in (ROOT / "skills").rglob("*.md"):
        text = path.read_text()
        assert "allowed-tools" not in text or not any(f"runbook__{w}" in text for w in WRITERS), path


def test_the_runbook_command_and_skill_exist_with_the_seed_triggers():
    command = yaml.safe_load((ROOT / "commands/runbook.md").read_text().split("---\n")[1])
    assert command["argument-hint"].startswith("<runbook name> [target]")
    skill = (ROOT / "skills/runbook-execution/SKILL.md").read_text()
    head = yaml.safe_load(skill.split("---\n")[1])
    assert head["name"] == "runbook-execution"
    assert "execute database failover runbook for primary-postgres" in head["description"]
    assert "run the <name> runbook" in head["description"]
