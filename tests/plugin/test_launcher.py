"""The plugin's venvs (bin/_paii_install.py, shared by bin/paii-mcp and bin/paii): one folder per
stamp, built aside and renamed into place, marked in use by the servers running from it, and
deleted after an install only when no server uses it.

Real files, locks and processes; only build_venv (the dependency install) is replaced by one
that makes a venv whose bin/python is this interpreter.
"""

from __future__ import annotations

import fcntl
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "bin" / "paii-mcp"
LAUNCH_LIB = ROOT / "bin" / "_paii_install.py"


def load_launcher():
    """bin/_paii_install.py, the venv code bin/paii-mcp and bin/paii share."""
    loader = importlib.machinery.SourceFileLoader("paii_launch_under_test", str(LAUNCH_LIB))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def lm(monkeypatch):
    """The launcher module with build_venv making a fake venv (no dependency install)."""
    module = load_launcher()
    built: list[Path] = []

    def fake_build_venv(venv: Path, deps: list[str], data: Path, log) -> bool:
        built.append(venv)
        (venv / "bin").mkdir(parents=True)
        (venv / "bin" / "python").symlink_to(sys.executable)
        return True

    monkeypatch.setattr(module, "build_venv", fake_build_venv)
    module.built = built
    return module


def plugin_root(tmp_path: Path, deps: list[str]) -> Path:
    """A plugin folder whose pyproject.toml declares deps (all install() reads)."""
    root = tmp_path / "plugin"
    root.mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text(f"[project]\nname = 'x'\ndependencies = {json.dumps(deps)}\n")
    return root


def stamp_of(lm, deps: list[str]) -> str:
    return lm.compute_stamp(deps)


def locked_by_someone(path: Path) -> bool:
    """True when another process holds a lock on path (LOCK_EX | LOCK_NB fails)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


HOLDER = """
import importlib.machinery, importlib.util, os, sys
from pathlib import Path
loader = importlib.machinery.SourceFileLoader("launcher", sys.argv[1])
spec = importlib.util.spec_from_loader("launcher", loader)
lm = importlib.util.module_from_spec(spec)
loader.exec_module(lm)
assert lm.mark_in_use(Path(sys.argv[2])) is not None
os.execv(sys.executable, [sys.executable, "-c",
         "import sys, time; print('execed', flush=True); sys.stdin.read()"])
"""


def start_server_holding(venv: Path) -> subprocess.Popen:
    """A process that marks venv in use with the launcher's helper, then execs another program
    (as the launcher execs the server); returns once that program runs. It ends when its stdin
    is closed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(LAUNCH_LIB), str(venv)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "execed\n"
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.wait(timeout=10)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# --- stamp -> folder ---------------------------------------------------------------------------

def test_each_stamp_maps_to_its_own_venv_folder(lm, tmp_path):
    data = tmp_path / "data"
    a, b = stamp_of(lm, ["alpha"]), stamp_of(lm, ["beta"])
    assert lm.venv_dir(data, a) == data / "venvs" / a[:16]
    assert lm.venv_dir(data, a) != lm.venv_dir(data, b)
    python, stamp_file, deps, stamp = lm._venv_paths(plugin_root(tmp_path, ["alpha"]), data)
    assert (deps, stamp) == (["alpha"], a)
    assert python == data / "venvs" / a[:16] / "bin" / "python"
    assert stamp_file == data / "venvs" / a[:16] / ".paii-stamp"


def test_install_builds_aside_then_renames_into_place(lm, tmp_path):
    data, root = tmp_path / "data", plugin_root(tmp_path, ["alpha"])
    stamp = stamp_of(lm, ["alpha"])
    venv = data / "venvs" / stamp[:16]
    python = lm.install(root, data)
    assert lm.built == [venv.with_name(f"{stamp[:16]}.tmp-{os.getpid()}")]
    assert python == venv / "bin" / "python" and python.exists()
    assert (venv / ".paii-stamp").read_text().strip() == stamp
    assert (venv / ".in-use").is_file()
    assert sorted(p.name for p in (data / "venvs").iterdir()) == [stamp[:16]]
    assert lm.install(root, data) == python and len(lm.built) == 1  # ready: no second build


def test_a_venv_being_built_never_counts_as_ready(lm, tmp_path, monkeypatch):
    data, root = tmp_path / "data", plugin_root(tmp_path, ["alpha"])
    python, stamp_file, _, stamp = lm._venv_paths(root, data)
    seen = {}

    def build_then_check(venv: Path, deps, data_, log) -> bool:
        (venv / "bin").mkdir(parents=True)
        (venv / "bin" / "python").symlink_to(sys.executable)
        (venv / ".paii-stamp").write_text(stamp)  # even complete, it is still the tmp folder
        seen["ready while building"] = lm._ready(python, stamp_file, stamp)
        return False  # and the install then fails

    monkeypatch.setattr(lm, "build_venv", build_then_check)
    with pytest.raises(SystemExit):
        lm.install(root, data)
    assert seen == {"ready while building": False}
    assert not lm._ready(python, stamp_file, stamp)
    assert list((data / "venvs").iterdir()) == []  # the failed build is gone
    assert "install FAILED" in (data / "install.log").read_text()


def test_leftover_tmp_folders_are_not_ready_and_removed_once_their_process_is_gone(lm, tmp_path):
    data, root = tmp_path / "data", plugin_root(tmp_path, ["alpha"])
    python, stamp_file, _, stamp = lm._venv_paths(root, data)
    dead = data / "venvs" / f"{stamp[:16]}.tmp-{dead_pid()}"  # an install that was killed
    (dead / "bin").mkdir(parents=True)
    (dead / "bin" / "python").symlink_to(sys.executable)
    (dead / ".paii-stamp").write_text(stamp)
    live = data / "venvs" / f"{stamp_of(lm, ['beta'])[:16]}.tmp-{os.getppid()}"  # still running
    live.mkdir()
    assert not lm._ready(python, stamp_file, stamp)
    lm.install(root, data)
    assert not dead.exists() and live.is_dir()
    assert lm._ready(python, stamp_file, stamp)


# --- in use ------------------------------------------------------------------------------------

def test_the_in_use_lock_survives_exec_and_ends_with_the_process(lm, tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    server = start_server_holding(venv)  # printed "execed": the exec'd program holds the fd
    try:
        assert locked_by_someone(venv / ".in-use")
    finally:
        stop(server)
    assert not locked_by_someone(venv / ".in-use")


def test_mark_in_use_gives_no_lock_on_a_deleted_venv(lm, tmp_path):
    assert lm.mark_in_use(tmp_path / "gone") is None


def test_a_new_stamp_keeps_the_old_venv_while_a_server_uses_it(lm, tmp_path):
    """alpha in use by a running server, beta unused, then gamma installs."""
    data = tmp_path / "data"
    old = lm.install(plugin_root(tmp_path, ["alpha"]), data).parent.parent
    server = start_server_holding(old)
    try:
        unused = lm.install(plugin_root(tmp_path, ["beta"]), data).parent.parent
        assert old.is_dir() and unused.is_dir()  # alpha is in use: kept
        new = lm.install(plugin_root(tmp_path, ["gamma"]), data).parent.parent
        assert old.is_dir() and (old / "bin" / "python").exists()
        assert not unused.exists() and new.is_dir()  # beta was unused: deleted
    finally:
        stop(server)
    assert lm.cleanup_venvs(data, keep=new) == [old]  # the server is gone: a cleanup deletes it
    assert sorted(p.name for p in (data / "venvs").iterdir()) == [new.name]


def test_an_install_deletes_an_unused_older_venv(lm, tmp_path):
    data = tmp_path / "data"
    old = lm.install(plugin_root(tmp_path, ["alpha"]), data).parent.parent
    (data / "venv" / "bin").mkdir(parents=True)  # the old single-venv layout: left alone
    new = lm.install(plugin_root(tmp_path, ["beta"]), data).parent.parent
    assert not old.exists() and new.is_dir()
    assert (data / "venv" / "bin").is_dir()
    assert "no longer used" in (data / "install.log").read_text()


# --- the launcher end to end -------------------------------------------------------------------

def test_launcher_serves_from_the_stamped_venv_and_marks_it_in_use(lm, tmp_path):
    """A venv that is ready is used as is; the real server it starts (on the first tool call)
    holds its .in-use lock, and the lock ends with the session."""
    data = tmp_path / "data"
    python, stamp_file, _, stamp = lm._venv_paths(ROOT, data)
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # this interpreter, with mcp
    python.chmod(0o755)
    stamp_file.write_text(stamp + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "PAII_"))}
    env.update(CLAUDE_PLUGIN_DATA=str(data), PAII_SLACK_TOKEN="", PAII_HOME=str(tmp_path / "home"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}}
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "find_user", "arguments": {"query": "ana@example.com"}}}
    proc = subprocess.Popen([sys.executable, str(LAUNCHER), "slack"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        proc.stdin.write(json.dumps(init) + "\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())
        assert first["id"] == 1 and "result" in first
        proc.stdin.write(json.dumps(call) + "\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        assert answer["id"] == 2 and answer["result"]["isError"]  # Slack is not configured: the real server says so
        assert "not configured" in answer["result"]["content"][0]["text"].lower()
        assert locked_by_someone(python.parent.parent / ".in-use")
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert not locked_by_someone(python.parent.parent / ".in-use")
    assert not (data / "venv").exists() and not (data / "install.log").exists()  # nothing installed
