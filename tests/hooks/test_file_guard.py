"""hooks/file_guard.py, the PreToolUse hook on Claude Code's file tools, fed the JSON Claude Code sends
for each tool: the person is asked before the assistant reads or changes PAII's run state or
approval key (wherever PAII keeps them), changes Claude Code's settings or a plugin's files, or
changes the guard's settings; everything else passes silently. Each call runs the hook in its own
system-python3 process, as Claude Code does."""

from __future__ import annotations

import json
import os

import pytest

from tests.hooks.conftest import FAKE_HOME, decision_of, run_hook

RUN = "runbooks/runs/r7.json"


def tool_call(tool, path, cwd="/work/proj"):
    """The hook input Claude Code sends for ``tool`` (PreToolUse), with ``path`` where the tool takes it."""
    inputs = {
        "Read": {"file_path": path, "offset": 1, "limit": 200},
        "Write": {"file_path": path, "content": '{"approvals": [{"step": 2}]}'},
        "Edit": {"file_path": path, "old_string": '"pending"', "new_string": '"approved"', "replace_all": False},
        "MultiEdit": {"file_path": path, "edits": [{"old_string": "a", "new_string": "b"}]},
        "NotebookEdit": {"notebook_path": path, "new_source": "x = 1", "cell_type": "code", "edit_mode": "replace"},
        "Grep": {"pattern": ".", "path": path, "output_mode": "content"},
    }
    return {"session_id": "s1", "transcript_path": "/tmp/t.jsonl", "cwd": cwd, "permission_mode": "default",
            "hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": inputs[tool]}


def file_guard(world, payload, env=None):
    rc, out, err = run_hook("file_guard.py", payload, world.env(env))
    decision, reason = decision_of(rc, out, err)
    return decision, reason


@pytest.mark.parametrize("tool", ["Read", "Write", "Edit", "MultiEdit", "NotebookEdit"])
@pytest.mark.parametrize("where", ["$PAII_HOME", "~/.local/share/paii", "~/.claude/plugins/data/paii-inline"])
def test_every_file_tool_on_the_run_state_asks_the_person(world, tool, where):
    base = str(world.data) if where == "$PAII_HOME" else where.replace("~", FAKE_HOME)
    decision, reason = file_guard(world, tool_call(tool, os.path.join(base, RUN)))
    assert decision == "ask" and "[rule paii-run-state]" in reason and "PAII's runbook run state" in reason
    assert reason.startswith("PAII guard: %s would " % tool)


@pytest.mark.parametrize("tool", ["Read", "Write", "Edit"])
@pytest.mark.parametrize("where", ["$PAII_CONFIG_DIR", "~/.config/paii"])
def test_reading_or_writing_the_approval_key_asks(world, tool, where):
    base = str(world.config) if where == "$PAII_CONFIG_DIR" else where.replace("~", FAKE_HOME)
    decision, reason = file_guard(world, tool_call(tool, base + "/approval.key"))
    assert decision == "ask" and "PAII's approval key" in reason


def test_a_relative_path_and_a_tilde_are_resolved_like_the_tool_does(world):
    decision, _ = file_guard(world, tool_call("Write", "runs/r7.json", cwd=FAKE_HOME + "/.local/share/paii/runbooks"))
    assert decision == "ask"
    assert file_guard(world, tool_call("Read", "~/.config/paii/approval.key"))[0] == "ask"


def test_a_symbolic_link_into_the_run_state_is_followed(world, tmp_path):
    runs = tmp_path / "data" / "runbooks" / "runs"
    runs.mkdir(parents=True)
    (runs / "r7.json").write_text("{}")
    os.symlink(runs, tmp_path / "innocent")
    os.symlink(runs / "r7.json", tmp_path / "notes.json")
    assert file_guard(world, tool_call("Write", str(tmp_path / "innocent" / "r7.json")))[0] == "ask"
    assert file_guard(world, tool_call("Edit", str(tmp_path / "notes.json")))[0] == "ask"


@pytest.mark.parametrize("tool", ["Write", "Edit", "MultiEdit"])
@pytest.mark.parametrize("path", ["~/.claude/settings.json", "~/.claude/settings.local.json",
                                  "/work/proj/.claude/settings.json", "/work/proj/.claude/settings.local.json",
                                  "~/.claude.json", "~/.claude/plugins/cache/paii/hooks/hooks.json"])
def test_writing_claude_code_settings_or_plugin_files_asks(world, tool, path):
    decision, reason = file_guard(world, tool_call(tool, path.replace("~", FAKE_HOME)))
    assert decision == "ask" and "[rule claude-settings]" in reason and "answer every approval" in reason


def test_writing_the_guard_settings_asks(world):
    decision, reason = file_guard(world, tool_call("Write", str(world.config / "guard.toml")))
    assert decision == "ask" and "[rule guard-config]" in reason


def test_grep_over_paii_folders_asks_and_over_a_project_does_not(world):
    assert file_guard(world, tool_call("Grep", str(world.config)))[0] == "ask"
    assert file_guard(world, tool_call("Grep", FAKE_HOME + "/.local/share/paii/runbooks"))[0] == "ask"
    assert file_guard(world, tool_call("Grep", "/work/proj/src")) == ("allow", "")
    payload = tool_call("Grep", "x")
    del payload["tool_input"]["path"]  # Grep without a path searches the working folder
    assert file_guard(world, payload) == ("allow", "")


@pytest.mark.parametrize("tool, path", [
    ("Read", "~/.claude/settings.json"), ("Read", "/work/proj/.claude/settings.json"),
    ("Write", "/work/proj/src/app.py"), ("Edit", "/work/proj/settings.json"), ("Write", "/work/proj/.claude/notes.md"),
    ("Read", "~/.local/share/paii/logs/hooks.log"), ("Write", "/work/proj/docs/runbooks/running.md"),
    ("Read", "/work/proj/runbooks/disk-full.md"), ("NotebookEdit", "/work/proj/analysis.ipynb"),
])
def test_other_files_pass_silently(world, tool, path):
    assert file_guard(world, tool_call(tool, path.replace("~", FAKE_HOME))) == ("allow", "")


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1]", b'{"tool_name": "Write"}', b'{"tool_name": "Bash", '
                                 b'"tool_input": {"command": "cat approval.key"}}',
                                 b'{"tool_name": "Write", "tool_input": {"file_path": 42}}',
                                 b'{"tool_name": "Write", "cwd": 3, "tool_input": {"file_path": "relative.txt"}}'])
def test_input_that_is_not_a_file_tool_call_passes_silently(world, raw):
    assert file_guard(world, raw) == ("allow", "")


def test_the_hook_is_registered_for_the_file_tools():
    from tests.hooks.conftest import HOOKS

    entries = json.loads((HOOKS / "hooks.json").read_text())["hooks"]["PreToolUse"]
    entry = next(e for e in entries if "file_guard.py" in e["hooks"][0]["command"])
    assert set(entry["matcher"].split("|")) == {"Read", "Write", "Edit", "MultiEdit", "NotebookEdit", "Grep"}
    assert entry["hooks"][0]["command"] == 'python3 -S "${CLAUDE_PLUGIN_ROOT}/hooks/file_guard.py"'
