"""Read-only mode holds from every source (issue 10 item 1), with one on/off rule everywhere.

Regression tests first: ``PAII_READ_ONLY=1`` in the user's ``.env`` was ignored, ``y`` and
``enabled`` silently meant off, and ``PAII_READ_ONLY=1 paii history import`` wrote every entry.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from paii_common.config import SWITCH_OFF, SWITCH_ON, SettingError, parse_switch, read_only_sources

ROOT = Path(__file__).resolve().parents[2]
GUARD = ROOT / "hooks" / "read_only_guard.py"
HISTORY_WRITERS = {"capture", "record_incident"}


def dotenv(text: str) -> Path:
    path = Path(os.environ["PAII_CONFIG_DIR"]) / ".env"
    path.write_text(text)
    return path


def load_guard():
    loader = importlib.machinery.SourceFileLoader("read_only_guard_t", str(GUARD))
    spec = importlib.util.spec_from_loader("read_only_guard_t", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


async def tool_names(server_name: str) -> set[str]:
    mod = __import__(f"paii_{server_name}.server", fromlist=["build_server"])
    async with Client(mod.build_server()) as c:
        return {t.name for t in (await c.list_tools()).tools}


# ------------------------------------------------------------------------------ the servers
async def test_read_only_in_the_dotenv_file_drops_the_history_writers():
    dotenv("PAII_READ_ONLY=1\n")
    names = await tool_names("history")
    assert names and not names & HISTORY_WRITERS


async def test_a_prefixed_switch_in_the_dotenv_file_applies_to_its_server_only():
    dotenv("PAII_SLACK_READ_ONLY=yes\n")
    assert "post_message" not in await tool_names("slack")
    assert HISTORY_WRITERS <= await tool_names("history")


async def test_claude_code_user_config_turns_read_only_on(monkeypatch):
    monkeypatch.setenv("PAII_USER_CONFIG_READ_ONLY", "true")
    assert not (await tool_names("history")) & HISTORY_WRITERS


@pytest.mark.parametrize("value", ["", "  ", "${user_config.read_only}"])
async def test_an_unset_user_config_placeholder_means_not_set(monkeypatch, value):
    monkeypatch.setenv("PAII_USER_CONFIG_READ_ONLY", value)
    assert HISTORY_WRITERS <= await tool_names("history")


async def test_off_in_one_place_never_cancels_on_in_another(monkeypatch):
    dotenv("PAII_READ_ONLY=1\n")
    monkeypatch.setenv("PAII_READ_ONLY", "0")
    monkeypatch.setenv("PAII_USER_CONFIG_READ_ONLY", "false")
    assert not (await tool_names("history")) & HISTORY_WRITERS


@pytest.mark.parametrize("value", ["y", "enabled", "ON", " 1 ", "True", "t", "enable"])
def test_every_clear_on_value_means_on(monkeypatch, value):
    from paii_history.config import HistorySettings

    monkeypatch.setenv("PAII_READ_ONLY", value)
    assert HistorySettings.load(warmup=False).read_only is True


@pytest.mark.parametrize("value", ["n", "disabled", "OFF", "0", "false", "no"])
def test_every_clear_off_value_means_off(monkeypatch, value):
    from paii_history.config import HistorySettings

    monkeypatch.setenv("PAII_READ_ONLY", value)
    assert HistorySettings.load(warmup=False).read_only is False


@pytest.mark.parametrize("value", ["maybe", "2", "tru", "yes please", "-1", "onn"])
def test_an_unclear_value_is_an_error_naming_variable_source_and_accepted_values(value):
    path = dotenv(f"PAII_READ_ONLY={value}\n")
    from paii_history.config import HistorySettings

    with pytest.raises(SettingError) as err:
        HistorySettings.load(warmup=False)
    text = str(err.value)
    assert "PAII_READ_ONLY" in text and str(path) in text and "1, true, yes" in text and "0, false" in text
    assert "\n" not in text


def test_a_server_refuses_to_start_with_one_line_for_an_unclear_value(isolated_env):
    env = {**os.environ, "PAII_READ_ONLY": "enabledd"}
    out = subprocess.run([sys.executable, "-m", "paii_history"], env=env, capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "PAII_READ_ONLY='enabledd' (environment)" in lines[0] and "cannot start" in lines[0]
    assert out.stdout == ""  # nothing but protocol on stdout


def test_settings_built_directly_use_the_same_rule():
    from paii_slack.config import SlackSettings

    assert SlackSettings(read_only="enabled").read_only is True
    with pytest.raises(ValueError):
        SlackSettings(read_only="maybe")


def test_sources_report_each_variable_and_where_it_was_found(monkeypatch):
    path = dotenv("PAII_HISTORY_READ_ONLY=on\n")
    monkeypatch.setenv("PAII_READ_ONLY", "off")
    found = {(s.variable, s.source, s.on) for s in read_only_sources("PAII_HISTORY_")}
    assert found == {("PAII_READ_ONLY", "environment", False), ("PAII_HISTORY_READ_ONLY", f".env file {path}", True)}


# ------------------------------------------------------------------------------ the CLI
def test_cli_import_is_refused_in_read_only_mode_and_writes_nothing(isolated_env, tmp_path, monkeypatch, capsys):
    from paii_cli import main

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "INC-1", "title": "db pool exhausted", "body": "raised the pool"}) + "\n")
    monkeypatch.setenv("PAII_READ_ONLY", "1")
    with pytest.raises(SystemExit) as code:
        main(["history", "import", "--category", "incidents", str(src)])
    err = capsys.readouterr().err
    assert code.value.code == 1
    assert "read-only mode is on (PAII_READ_ONLY in the environment)" in err and "history import" in err
    assert not (isolated_env / "history").exists() or not list((isolated_env / "history").rglob("*.md"))


def test_cli_import_is_refused_when_the_dotenv_file_says_read_only(isolated_env, tmp_path):
    dotenv("PAII_HISTORY_READ_ONLY=enabled\n")
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "INC-1", "title": "t", "body": "b"}) + "\n")
    from paii_cli import main

    with pytest.raises(SystemExit) as code:
        main(["history", "import", "--category", "incidents", str(src)])
    assert code.value.code == 1
    assert not (isolated_env / "history").exists() or not list((isolated_env / "history").rglob("*.md"))


def test_cli_reads_run_in_read_only_mode(capsys):
    from paii_cli import main

    dotenv("PAII_READ_ONLY=1\n")
    with pytest.raises(SystemExit) as code:
        main(["history", "recent", "--json"])
    assert code.value.code == 0 and json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize("args", [["history", "recent"], ["history", "import", "--category", "x", "f.jsonl"]])
def test_cli_stops_with_exit_2_for_an_unclear_value(capsys, monkeypatch, args):
    from paii_cli import main

    monkeypatch.setenv("PAII_PAGERDUTY_READ_ONLY", "sure")
    with pytest.raises(SystemExit) as code:
        main(args)
    assert code.value.code == 2
    err = capsys.readouterr().err
    assert "PAII_PAGERDUTY_READ_ONLY='sure' (environment)" in err and len(err.strip().splitlines()) == 1


def test_every_cli_writer_is_marked():
    """The convention other command modules follow: a subcommand that writes sets ``writes``."""
    from paii_cli import build_parser

    parser = build_parser()
    actions = [a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict)]
    marked = {}
    stack = [(name, p) for a in actions for name, p in a.choices.items()]
    while stack:
        name, p = stack.pop()
        for a in p._actions:
            if hasattr(a, "choices") and isinstance(a.choices, dict):
                stack.extend((f"{name} {n}", sub) for n, sub in a.choices.items())
        defaults = p._defaults
        if "func" in defaults:
            marked[name] = defaults.get("writes", False)
    assert marked["history import"] == "history"
    assert marked["history reindex"] is False  # rebuilds the derived index from the files: allowed
    assert marked["history search"] is False and marked["doctor"] is False


# ------------------------------------------------------------------------------ the hook
TABLE = sorted(SWITCH_ON | SWITCH_OFF) + ["", " ", "\t1\n", "YES", "Off", "${user_config.read_only}", "<set me>",
                                          "maybe", "2", "tru", "-1", "on!", "ja", "enabledd", "0.0"]


def _rule(fn, value):
    try:
        return fn(value)
    except ValueError:
        return "invalid"


@pytest.mark.parametrize("value", TABLE)
def test_the_hook_and_the_servers_parse_every_value_alike(value):
    guard = load_guard()
    assert _rule(guard.parse_switch, value) == _rule(parse_switch, value)


def run_guard(tool: str, env: dict[str, str]) -> dict | None:
    clean = {k: v for k, v in os.environ.items() if "READ_ONLY" not in k}
    out = subprocess.run([sys.executable, str(GUARD)], input=json.dumps({"tool_name": tool}), capture_output=True,
                         text=True, env={**clean, **env}, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["hookSpecificOutput"] if out.stdout.strip() else None


def test_the_hook_reads_the_dotenv_file():
    dotenv("export PAII_READ_ONLY='yes'  \n")
    denied = run_guard("mcp__plugin_paii_history__capture", {})
    assert denied["permissionDecision"] == "deny" and ".env" in denied["permissionDecisionReason"]
    assert run_guard("mcp__plugin_paii_history__search", {}) is None


def test_the_hook_reads_the_claude_code_plugin_option():
    denied = run_guard("mcp__plugin_paii_slack__post_message", {"CLAUDE_PLUGIN_OPTION_READ_ONLY": "true"})
    assert denied["permissionDecision"] == "deny" and "plugin option" in denied["permissionDecisionReason"]
    assert run_guard("mcp__plugin_paii_slack__post_message", {"CLAUDE_PLUGIN_OPTION_READ_ONLY": "false"}) is None


def test_the_hook_applies_a_prefixed_switch_to_its_server_only():
    env = {"PAII_PAGERDUTY_READ_ONLY": "1"}
    assert run_guard("mcp__plugin_paii_pagerduty__resolve_incident", env)["permissionDecision"] == "deny"
    assert run_guard("mcp__plugin_paii_history__capture", env) is None


def test_the_hook_blocks_writes_for_an_unclear_value_and_names_it():
    denied = run_guard("mcp__plugin_paii_history__capture", {"PAII_READ_ONLY": "maybe"})
    assert denied["permissionDecision"] == "deny" and "PAII_READ_ONLY='maybe'" in denied["permissionDecisionReason"]


# ------------------------------------------------------------------------------ plugin files
def test_user_config_read_only_reaches_every_server():
    plugin = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text())
    assert plugin["userConfig"]["read_only"]["type"] == "boolean"
    assert plugin["userConfig"]["read_only"]["required"] is False
    servers = json.loads((ROOT / ".mcp.json").read_text())["mcpServers"]
    for name, spec in servers.items():
        # not PAII_READ_ONLY: an unset option arrives as "" and would hide the shell's PAII_READ_ONLY=1
        assert spec["env"]["PAII_USER_CONFIG_READ_ONLY"] == "${user_config.read_only}", name
        assert "PAII_READ_ONLY" not in spec["env"], name
