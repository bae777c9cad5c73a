"""One data home: the PAII data an older plugin kept in Claude Code's plugin data folder moves
into the data home on the first start, losing nothing (a clash keeps both), done once, said once,
and safe when six servers start at once (paii_common.datahome, run by bin/_paii_launch.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paii_common import datahome
from paii_common.config import paii_home

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bin"))
import _paii_launch as launch  # noqa: E402

INC = "---\nid: {id}\ncategory: incidents\ntitle: {title}\ncreated: 2026-01-10T02:00:00Z\n---\n{body}\n"


def entry(folder: Path, rel: str, text: str) -> Path:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def old_plugin(data: Path) -> dict[str, str]:
    """A plugin data folder as PAII 0.1 left it: data mixed with the plugin's own files."""
    files = {
        "history/incidents/2026-01/INC-1.md": INC.format(id="INC-1", title="only in the plugin", body="pool"),
        "history/incidents/2026-01/INC-2.md": INC.format(id="INC-2", title="the plugin's version", body="a"),
        "history/incidents/2026-01/INC-3.md": INC.format(id="INC-3", title="same in both", body="b"),
        "runbooks/runs/run-1.json": '{"run": 1}',
        "runbooks/restart.md": "# restart\n",
        "usage/usage.jsonl": '{"tool": "search"}\n',
        "timelines/INC-1.json": "{}",
    }
    for rel, text in files.items():
        entry(data, rel, text)
    entry(data, "index/keyword.sqlite3", "derived")
    entry(data, "venvs/0123456789abcdef/bin/python", "#!")  # the plugin's own: stays
    entry(data, "install.log", "old log\n")
    entry(data, "tools/bin/uv", "uv")
    return files


def home_with_history(home: Path) -> None:
    entry(home, "history/incidents/2026-01/INC-2.md", INC.format(id="INC-2", title="the terminal's version", body="c"))
    entry(home, "history/incidents/2026-01/INC-3.md", INC.format(id="INC-3", title="same in both", body="b"))
    entry(home, "index/keyword.sqlite3", "the home's own index")


def test_paii_home_is_paii_home_else_the_user_data_folder_never_the_plugin_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(tmp_path / "plugin-data"))
    monkeypatch.setenv("PAII_HOME", str(tmp_path / "home"))
    assert paii_home() == tmp_path / "home"
    for unset in ("", "${user_config.data_home}"):
        monkeypatch.setenv("PAII_HOME", unset)
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
        assert paii_home() == tmp_path / "xdg" / "paii"  # platformdirs' user data folder on Linux


def test_moving_loses_nothing_and_keeps_both_versions_on_a_clash(tmp_path):
    data, home = tmp_path / "plugin-data", tmp_path / "home"
    files = old_plugin(data)
    home_with_history(home)
    moved = datahome.run(data, home)
    for rel, text in files.items():
        if rel.endswith("INC-2.md"):
            continue
        assert (home / rel).read_text() == text, rel
    inc2 = home / "history/incidents/2026-01"
    assert "the terminal's version" in (inc2 / "INC-2.md").read_text()  # the home's file is untouched
    assert "the plugin's version" in (inc2 / "INC-2.from-plugin.md").read_text()  # and the plugin's is beside it
    assert moved.kept_both == ["history/incidents/2026-01/INC-2.from-plugin.md"] and moved.duplicates == 1
    assert (home / "index/keyword.sqlite3").read_text() == "the home's own index" and moved.dropped_index
    assert sorted(os.listdir(data)) == ["data-home.json", "data-home.lock", "install.log", "tools", "venvs"]
    assert "moved PAII's data from the plugin data folder" in (data / "install.log").read_text()


def test_the_move_is_done_once_and_told_once(tmp_path):
    data, home = tmp_path / "plugin-data", tmp_path / "home"
    old_plugin(data)
    assert datahome.run(data, home).entries
    assert launch.old_data(data) == []  # the launchers' check: nothing left, so nothing runs again
    again = datahome.run(data, home)
    assert again.entries == [] and again.summary(data) == ""
    assert (data / "install.log").read_text().count("moved PAII's data") == 1
    note = launch.claim_move_note(data)
    assert note and str(home) in note and "history" in note
    assert launch.claim_move_note(data) is None  # said once


def test_six_servers_starting_at_once_move_everything_exactly_once(tmp_path):
    data, home = tmp_path / "plugin-data", tmp_path / "home"
    files = old_plugin(data)
    for n in range(200):  # enough files that the six overlap
        entry(data, f"history/notes/2026-01/N-{n}.md", INC.format(id=f"N-{n}", title="note", body=n))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "servers"), "PAII_HOME": str(home)}
    procs = [subprocess.Popen([sys.executable, "-m", "paii_common.datahome", "--from", str(data)], env=env,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    said = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6
    assert sum("moved PAII's data" in s for s in said) == 1
    for rel, text in files.items():
        assert (home / rel).read_text() == text
    assert len(list((home / "history/notes/2026-01").iterdir())) == 200
    assert not list(home.rglob("*.from-plugin*"))  # no one moved a file twice
    assert (data / "install.log").read_text().count("moved PAII's data") == 1


def test_a_data_home_set_to_the_plugin_data_folder_moves_nothing(tmp_path, monkeypatch):
    data = tmp_path / "plugin-data"
    old_plugin(data)
    monkeypatch.setenv("PAII_HOME", str(data))
    assert launch.old_data(data) == []
    assert datahome.run(data, data).entries == []
    assert (data / "history/incidents/2026-01/INC-1.md").exists()


def test_the_launchers_and_the_move_agree_on_what_is_the_plugins_own():
    assert launch.PLUGIN_OWN == datahome.PLUGIN_OWN


@pytest.fixture
def plugin_session(tmp_path):
    """bin/paii-mcp history as Claude Code starts it, over an old plugin data folder."""
    data, home = tmp_path / "plugin-data", tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "PAII_"))}
    env.update(CLAUDE_PLUGIN_DATA=str(data), PAII_HOME=str(home), PAII_PYTHON=sys.executable,
               PAII_CONFIG_DIR=str(tmp_path / "cfg"), PAII_HISTORY_EMBEDDINGS="off", PAII_HISTORY_WARMUP="0",
               XDG_CACHE_HOME=str(tmp_path / "cache"))

    def call(tool: str, arguments: dict) -> dict:
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
        msg = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        out = subprocess.run([sys.executable, str(ROOT / "bin" / "paii-mcp"), "history"], env=env, text=True,
                             input=json.dumps(init) + "\n" + json.dumps(msg) + "\n", capture_output=True, timeout=120)
        answers = {m["id"]: m for m in map(json.loads, out.stdout.splitlines())}
        assert 2 in answers, out.stderr
        return answers[2]["result"]

    return data, home, call


def test_the_first_history_call_finds_the_moved_entries_and_tells_the_person_once(plugin_session):
    data, home, call = plugin_session
    old_plugin(data)
    (data / "index" / "keyword.sqlite3").unlink()  # (a stand-in file, not a database)
    first = call("get", {"id": "INC-1"})
    assert not first.get("isError"), first
    texts = [c["text"] for c in first["content"]]
    assert "only in the plugin" in texts[0]
    assert any(t.startswith("Note for the person (once): PAII moved PAII's data") and str(home) in t for t in texts)
    second = call("get", {"id": "INC-1"})
    assert not any("Note for the person" in c["text"] for c in second["content"])
    assert (home / "history/incidents/2026-01/INC-1.md").exists() and not (data / "history").exists()
