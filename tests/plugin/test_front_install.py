"""The first start of an installed plugin, with no venv yet: the front connects at once, starts
the install detached, answers a tool call with the install's progress, and the install finishes
even though the client (Claude Code) went away; the next session's call runs the real server.

Offline: the plugin is a copy of this one whose `uv` (first on PATH) makes a venv whose python is
this interpreter and "installs" by waiting a moment; everything else is the real launcher.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKE_UV = f"""#!{sys.executable}
import os, sys, time
args = sys.argv[1:]
if args[0] == "venv":
    venv = args[-1]
    os.makedirs(os.path.join(venv, "bin"))
    with open(os.path.join(venv, "bin", "python"), "w") as fh:  # this interpreter, with its packages
        fh.write('#!/bin/sh' + chr(10) + 'exec {sys.executable} "$@"' + chr(10))
    os.chmod(os.path.join(venv, "bin", "python"), 0o755)
elif args[:2] == ["pip", "install"]:
    print("Resolved 3 packages", flush=True)
    time.sleep(float(os.environ.get("FAKE_UV_SECONDS", "3")))
    print("Installed 3 packages", flush=True)
"""
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "claude-code", "version": "2.1.197"}}}


def plugin_copy(tmp: Path) -> Path:
    root = tmp / "plugin"
    (root / "bin").mkdir(parents=True)
    for path in (ROOT / "bin").iterdir():
        if path.is_file():
            (root / "bin" / path.name).write_bytes(path.read_bytes())
    (root / "bin" / "paii-mcp").chmod(0o755)
    for name in ("servers", "hooks"):
        (root / name).symlink_to(ROOT / name)
    (root / "pyproject.toml").write_text("[project]\nname = 'paii'\nversion = '0.2.0'\ndependencies = ['mcp>=2']\n")
    return root


def session(root: Path, tmp: Path, messages: list[dict], *, kill_after_first: bool = False) -> list[dict]:
    """Run bin/paii-mcp history for a client that sends messages, reading one answer per request."""
    tools = tmp / "tools"
    tools.mkdir(exist_ok=True)
    (tools / "uv").write_text(FAKE_UV)
    (tools / "uv").chmod(0o755)
    env = {"PATH": f"{tools}:/usr/bin:/bin", "HOME": str(tmp / "home"), "CLAUDE_PLUGIN_DATA": str(tmp / "data"),
           "PAII_HOME": str(tmp / "paii-home"), "PAII_CONFIG_DIR": str(tmp / "cfg"), "XDG_CACHE_HOME": str(tmp / "cache"),
           "PAII_HISTORY_EMBEDDINGS": "off", "PAII_HISTORY_WARMUP": "0"}
    proc = subprocess.Popen([sys.executable, str(root / "bin" / "paii-mcp"), "history"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    answers = []
    for message in messages:
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()
        if "id" in message:
            answers.append(json.loads(proc.stdout.readline()))
    if kill_after_first:
        proc.send_signal(signal.SIGKILL)  # Claude Code quit, or gave up on the server
        proc.wait()
    else:
        proc.stdin.close()
        proc.wait(timeout=60)
    return answers


def test_the_install_outlives_the_client_and_the_next_session_runs_the_server(tmp_path):
    root = plugin_copy(tmp_path)
    recent = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "recent", "arguments": {}}}
    tools = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    first = session(root, tmp_path, [INIT, tools, recent], kill_after_first=True)
    assert first[0]["result"]["serverInfo"]["name"] == "paii-history"
    assert first[1]["result"]["tools"]  # connected, every tool listed, with nothing installed
    waiting = first[2]["result"]
    assert waiting["isError"] and "installing PAII's Python packages" in waiting["content"][0]["text"]
    data = tmp_path / "data"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(data.glob("venvs/*/.paii-stamp")):
        time.sleep(0.2)
    assert list(data.glob("venvs/*/.paii-stamp")), (data / "install.log").read_text()  # finished without its client
    log = (data / "install.log").read_text()
    assert "install finished" in log and "retrying with pip" not in log
    second = session(root, tmp_path, [INIT, recent])
    assert not second[1]["result"].get("isError"), second[1]["result"]["content"][0]["text"]
    assert json.loads(second[1]["result"]["content"][0]["text"])["entries"] == []  # the real server answered
