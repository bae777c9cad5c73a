"""hooks/usage.py: the usage log (names, success, durations; never arguments or prompt text),
its rotation and off switch, and the session record it writes into history at SessionEnd.
Each call runs the hook in its own system-python3 process with the JSON Claude Code sends."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from paii_history.entries import read_entry
from tests.hooks.conftest import run_hook

SECRET = "xoxb-1234-SECRET-token"


def env_for(data: Path, **extra):
    env = {"PATH": "/usr/bin:/bin", "HOME": "/home/ana", "PAII_HOME": str(data), "PAII_CONFIG_DIR": str(data / "cfg")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def call(data, payload, **extra):
    rc, out, err = run_hook("usage.py", payload, env_for(data, **extra))
    assert (rc, out, err) == (0, "", ""), (rc, out, err)


def log(data):
    path = data / "usage" / "usage.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def tool(name, ok=True, session="s-1", **fields):
    return dict({"hook_event_name": "PostToolUse" if ok else "PostToolUseFailure", "session_id": session,
                 "cwd": "/tmp", "tool_name": name, "tool_input": {"text": SECRET}, "tool_response": {"content": SECRET},
                 "duration_ms": 250}, **fields)


def prompt(text, session="s-1"):
    return {"hook_event_name": "UserPromptSubmit", "session_id": session, "cwd": "/tmp", "prompt": text}


def test_a_paii_tool_call_is_logged_by_name_with_its_outcome_and_duration(tmp_path):
    call(tmp_path, tool("mcp__plugin_paii_history__similar_incidents"))
    call(tmp_path, tool("mcp__plugin_paii_pagerduty__list_incidents", ok=False, error="not configured"))
    call(tmp_path, tool("mcp__plugin_paii_slack__post_message", tool_response={"isError": True, "content": []}))
    records = log(tmp_path)
    assert [(r["server"], r["tool"], r["ok"], r["ms"]) for r in records] == [
        ("history", "similar_incidents", True, 250), ("pagerduty", "list_incidents", False, 250),
        ("slack", "post_message", False, 250)]
    assert all(r["event"] == "tool" and r["session"] == "s-1" and r["t"].endswith("Z") for r in records)
    assert SECRET not in (tmp_path / "usage" / "usage.jsonl").read_text()


def test_a_call_stopped_at_the_persons_approval_is_logged_as_refused_not_as_its_words(tmp_path):
    from paii_runbook.approvals import ApprovalRequired

    gate = str(ApprovalRequired({"step": "5", "title": "Promote the replica", "run_id": "r-1"}, "has none"))
    declined = "the person declined step 5 (Promote the replica): it did not run. Ask them what to do"
    call(tmp_path, tool("mcp__plugin_paii_runbook__run_step", ok=False, error=gate))
    call(tmp_path, tool("mcp__plugin_paii_runbook__run_step",
                        tool_response={"isError": True, "content": [{"type": "text", "text": declined}]}))
    call(tmp_path, tool("mcp__plugin_paii_runbook__run_step", ok=False, error="Run r-1 not found: list_runbooks"))
    records = log(tmp_path)
    assert [(r["ok"], r.get("refused", False)) for r in records] == [(False, True), (False, True), (False, False)]
    assert "Promote" not in (tmp_path / "usage" / "usage.jsonl").read_text()  # the words are never kept


def test_under_the_sandbox_clock_a_record_has_the_sandbox_time(tmp_path):
    call(tmp_path, tool("mcp__plugin_paii_history__recent"), PAII_NOW="2026-01-02T02:00:00Z")
    assert log(tmp_path)[0]["t"] == "2026-01-02T02:00:00Z"  # usage_report reads the period on the same clock


def test_only_mode_switches_are_kept_of_the_arguments(tmp_path):
    call(tmp_path, tool("mcp__plugin_paii_runbook__start_run", tool_input={"name": SECRET, "dry_run": True}))
    call(tmp_path, tool("mcp__plugin_paii_runbook__start_run", tool_input={"name": "x", "dry_run": False}))
    call(tmp_path, tool("mcp__plugin_paii_runbook__start_run", tool_input={"name": "x", "dry_run": "yes"}))
    assert [r.get("modes") for r in log(tmp_path)] == [{"dry_run": True}, {"dry_run": False}, None]


def test_paii_skills_are_logged_and_other_tools_are_not(tmp_path):
    call(tmp_path, tool("Skill", tool_input={"skill": "paii:incident-response", "args": SECRET}))
    call(tmp_path, tool("Skill", tool_input={"skill": "someone-else:thing"}))
    call(tmp_path, tool("Bash", tool_input={"command": "ls"}))
    call(tmp_path, tool("mcp__other__search"))
    assert [(r["event"], r["skill"]) for r in log(tmp_path)] == [("skill", "incident-response")]


def test_a_request_keeps_the_command_and_counts_not_the_text(tmp_path):
    call(tmp_path, prompt("/paii:improve please, token %s" % SECRET))
    call(tmp_path, prompt("is Datadog down again? the datadog dashboard and Grafana say so; seen this before?"))
    first, second = log(tmp_path)
    assert first["event"] == "prompt" and first["command"] == "improve" and "mentions" not in first
    assert second["mentions"] == {"datadog": 2, "grafana": 1} and second["topics"]["similar-incidents"] == 1
    assert "command" not in second
    text = (tmp_path / "usage" / "usage.jsonl").read_text()
    assert SECRET not in text and "dashboard say" not in text


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_capture_is_off_with_paii_usage_log_off(tmp_path, where):
    if where == "environment":
        call(tmp_path, tool("mcp__plugin_paii_history__search"), PAII_USAGE_LOG="off")
    else:
        (tmp_path / "cfg").mkdir()
        (tmp_path / "cfg" / ".env").write_text("PAII_USAGE_LOG=off\n")
        call(tmp_path, tool("mcp__plugin_paii_history__search"))
    assert not (tmp_path / "usage").exists()


def test_under_claude_code_the_log_goes_to_the_data_home_the_history_server_reads(tmp_path):
    call(tmp_path / "home", tool("mcp__plugin_paii_history__search"), CLAUDE_PLUGIN_DATA=tmp_path / "plugin-data")
    assert log(tmp_path / "home") and not (tmp_path / "plugin-data" / "usage").exists()


def test_the_log_rotates_by_size_and_keeps_a_bounded_number_of_files(tmp_path):
    for _ in range(30):  # about 110 bytes each
        call(tmp_path, tool("mcp__plugin_paii_history__search"), PAII_USAGE_MAX_BYTES=1024, PAII_USAGE_KEEP=2)
    names = sorted(os.listdir(tmp_path / "usage"))
    assert [n for n in names if n.endswith(".jsonl")] == ["usage.1.jsonl", "usage.2.jsonl", "usage.jsonl"]
    for n in names:
        if n.endswith(".jsonl"):
            size = (tmp_path / "usage" / n).stat().st_size
            assert 0 < size <= 1024
            assert all(json.loads(line)["tool"] == "search" for line in (tmp_path / "usage" / n).read_text().splitlines())


def test_hooks_of_parallel_sessions_append_whole_lines(tmp_path):
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: call(tmp_path, tool("mcp__plugin_paii_history__search", session="s-%d" % k)), range(12)))
    assert sorted(r["session"] for r in log(tmp_path)) == sorted("s-%d" % k for k in range(12))


@pytest.mark.parametrize("payload", [b"", b"{not json", b"[]", b'{"hook_event_name": "Stop"}'])
def test_input_it_does_not_know_is_ignored_quietly(tmp_path, payload):
    call(tmp_path, payload)
    assert not (tmp_path / "usage").exists()


def test_a_data_folder_that_cannot_be_written_never_fails_the_session(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc, out, err = run_hook("usage.py", tool("mcp__plugin_paii_history__search"), env_for(blocker))
    assert (rc, out, err) == (0, "", "")


# --- the session record ---------------------------------------------------------------------------


def end(session="s-1"):
    return {"hook_event_name": "SessionEnd", "session_id": session, "cwd": "/tmp", "reason": "prompt_input_exit"}


def session_entries(data):
    return sorted((data / "history" / "sessions").rglob("*.md")) if (data / "history").exists() else []


def test_session_end_writes_a_history_record_from_the_log(tmp_path):
    call(tmp_path, prompt("/paii:incident payments-api is down, token %s, check datadog" % SECRET))
    call(tmp_path, tool("mcp__plugin_paii_history__similar_incidents"))
    call(tmp_path, tool("mcp__plugin_paii_history__similar_incidents"))
    call(tmp_path, tool("mcp__plugin_paii_pagerduty__list_oncalls", ok=False))
    call(tmp_path, tool("mcp__plugin_paii_history__search", session="another-session"))
    call(tmp_path, end())
    (path,) = session_entries(tmp_path)
    entry = read_entry(path)
    assert entry.category == "sessions" and entry.id.startswith("ses-") and entry.id.endswith("-s1")
    assert "/paii:incident" in entry.title and "history (2 calls)" in entry.title
    assert entry.meta["tools"] == {"history.similar_incidents": 2, "pagerduty.list_oncalls": 1}
    assert entry.meta["servers"] == {"history": 2, "pagerduty": 1} and entry.meta["failures"] == 1
    assert entry.meta["commands"] == ["incident"] and entry.meta["session_id"] == "s-1"
    text = path.read_text()
    assert SECRET not in text and "payments-api is down" not in text
    assert "| history.similar_incidents | 2 | 0 |" in text and "datadog (1)" in text
    assert not list(path.parent.glob(".*.tmp"))


def test_a_session_that_did_not_use_paii_leaves_no_record(tmp_path):
    call(tmp_path, prompt("what is the capital of France?"))
    call(tmp_path, end())
    assert session_entries(tmp_path) == []
