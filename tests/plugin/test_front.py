"""bin/paii-mcp's front (bin/_paii_front.py): the handshake answered at once, the real server
started on the first tool call with the client's initialize replayed and the second handshake
hidden, and every message passed both ways.

The launcher runs as Claude Code runs it (a process on stdio). Its "real server" is either the
real runbook server (elicitation and progress, with the MCP client) or, to see exactly what
reaches the server, a small stand-in started through PAII_PYTHON that logs every line it reads.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "bin" / "paii-mcp"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {"elicitation": {}, "roots": {}},
    "clientInfo": {"name": "claude-code", "version": "2.1.197"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}

# A stand-in for the real server: logs each line it reads to $FAKE_LOG, answers initialize and
# tools/list, and for tools/call does what the tool name says.
FAKE = r'''
import json, os, sys
log = open(os.environ["FAKE_LOG"], "a")
def send(m):
    sys.stdout.write(json.dumps(m) + "\n"); sys.stdout.flush()
def result(rid, text):
    send({"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": text}], "isError": False}})
waiting = {}
for line in sys.stdin:
    log.write(line); log.flush()
    m = json.loads(line)
    method, rid = m.get("method"), m.get("id")
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": rid, "result": {"protocolVersion": m["params"]["protocolVersion"],
              "capabilities": {"tools": {}}, "serverInfo": {"name": "fake", "version": "0"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": rid, "result": {"tools": [{"name": "from_the_real_server", "inputSchema": {"type": "object"}}]}})
    elif method == "tools/call":
        name, args = m["params"]["name"], m["params"].get("arguments") or {}
        if name == "echo":
            result(rid, json.dumps(args))
        elif name == "ask":
            waiting["srv-7"] = rid
            send({"jsonrpc": "2.0", "id": "srv-7", "method": "elicitation/create",
                  "params": {"message": "Approve?", "requestedSchema": {"type": "object", "properties": {}}}})
        elif name == "progress":
            token = m["params"]["_meta"]["progressToken"]
            send({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 1, "total": 2}})
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            result(rid, "done")
        elif name == "slow":
            pass
        elif name == "die":
            sys.stderr.write("paii-slack: cannot start: PAII_SLACK_URL='nope' is not a URL\n"); sys.stderr.flush()
            sys.exit(3)
    elif method is None and rid in waiting:
        result(waiting.pop(rid), "the person said: " + json.dumps(m.get("result")))
'''


class Session:
    """bin/paii-mcp SERVER as a client sees it: send a message, read the next one."""

    def __init__(self, tmp: Path, server: str = "slack", *, python: str | None = None, log: str = "fake.log",
                 **env: str) -> None:
        self.log = tmp / log
        if python is None:
            script = tmp / "fake_server.py"
            script.write_text(FAKE)
            python = str(tmp / "fake-python")
            Path(python).write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}"\n')  # ignores -m paii_<server>
            Path(python).chmod(0o755)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "PAII_"))}
        base.update(PAII_HOME=str(tmp / "home"), PAII_CONFIG_DIR=str(tmp / "config"), FAKE_LOG=str(self.log),
                    CLAUDE_PLUGIN_DATA=str(tmp / "plugin-data"), XDG_CACHE_HOME=str(tmp / "cache"))
        if python:
            base["PAII_PYTHON"] = python
        base.update(env)
        self.proc = subprocess.Popen([sys.executable, str(LAUNCHER), server], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base)

    def send(self, message: dict) -> None:
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read().decode()
        return json.loads(line)

    def request(self, rid, method: str, params: dict | None = None) -> dict:
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, **({"params": params} if params else {})})
        return self.read()

    def call(self, rid, name: str, arguments: dict | None = None, **extra) -> dict:
        return self.request(rid, "tools/call", {"name": name, "arguments": arguments or {}, **extra})

    def received(self) -> list[dict]:
        """What the stand-in server read, in order."""
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def close(self) -> tuple[int, str]:
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=30)
        return rc, self.proc.stderr.read().decode()


@pytest.fixture
def session(tmp_path):
    made: list[Session] = []

    def make(*args, **kwargs) -> Session:
        s = Session(tmp_path, *args, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def packaged(server: str) -> dict:
    return json.loads((ROOT / "servers" / f"paii_{server}" / "handshake.json").read_text())


def test_the_handshake_and_lists_are_answered_without_starting_the_server(session):
    s = session()
    init = s.request(1, "initialize", INIT["params"])
    s.send(INITIALIZED)
    tools = s.request(2, "tools/list")
    assert init["result"]["serverInfo"] == packaged("slack")["initialize"]["serverInfo"]
    assert init["result"]["protocolVersion"] == "2025-11-25"
    assert tools["result"] == packaged("slack")["results"]["tools/list"]
    assert s.request(3, "prompts/list")["result"] == {"prompts": []}
    assert s.request(4, "ping")["result"] == {}
    assert s.received() == []  # the real server never ran
    assert s.close()[0] == 0


def test_an_unknown_protocol_version_gets_the_newest_as_the_sdk_answers(session):
    s = session()
    assert s.request(1, "initialize", {**INIT["params"], "protocolVersion": "1999-01-01"})["result"]["protocolVersion"] == \
        packaged("slack")["protocol_versions"][-1]


def test_a_tool_call_starts_the_server_with_the_clients_initialize_and_hides_the_second_handshake(session):
    s = session()
    s.request(1, "initialize", INIT["params"])
    s.send(INITIALIZED)
    answer = s.call(2, "echo", {"a": 1})
    assert answer == {"jsonrpc": "2.0", "id": 2, "result": {"content": [{"type": "text", "text": '{"a": 1}'}], "isError": False}}
    got = s.received()
    assert [m.get("method") for m in got] == ["initialize", "notifications/initialized", "tools/call"]
    assert got[0]["params"] == INIT["params"]  # the client's own capabilities (elicitation) and name
    assert got[2] == {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"a": 1}}}
    # once the server runs, lists come from it
    assert s.request(3, "tools/list")["result"]["tools"][0]["name"] == "from_the_real_server"
    s.close()


def test_the_servers_questions_reach_the_client_and_its_answers_reach_the_server(session):
    s = session()
    s.request(1, "initialize", INIT["params"])
    s.send(INITIALIZED)
    s.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "ask", "arguments": {}}})
    question = s.read()
    assert question["method"] == "elicitation/create" and question["id"] == "srv-7"
    s.send({"jsonrpc": "2.0", "id": "srv-7", "result": {"action": "accept", "content": {"approve": True}}})
    answer = s.read()
    assert answer["id"] == 2
    assert answer["result"]["content"][0]["text"] == 'the person said: {"action": "accept", "content": {"approve": true}}'
    s.close()


def test_progress_and_list_changed_notifications_reach_the_client(session):
    s = session()
    s.request(1, "initialize", INIT["params"])
    s.send(INITIALIZED)
    s.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "progress", "arguments": {}, "_meta": {"progressToken": "tok-1"}}})
    seen = [s.read(), s.read(), s.read()]
    assert seen[0] == {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "tok-1", "progress": 1, "total": 2}}
    assert seen[1]["method"] == "notifications/tools/list_changed"
    assert seen[2]["id"] == 2
    s.close()


def test_a_cancellation_reaches_the_server_running_the_call(session):
    s = session()
    s.request(1, "initialize", INIT["params"])
    s.send(INITIALIZED)
    s.call(2, "echo")  # the server runs
    s.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "slow", "arguments": {}}})
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3, "reason": "user"}}
    s.send(cancel)
    s.call(4, "echo")  # answered after the cancellation was read, in order
    assert cancel in s.received()
    s.close()


def test_a_server_that_stops_answers_with_its_last_words_and_the_next_call_starts_it_again(session):
    s = session()
    s.request(1, "initialize", INIT["params"])
    s.send(INITIALIZED)
    stopped = s.call(2, "die")
    assert stopped["id"] == 2 and stopped["result"]["isError"]
    text = stopped["result"]["content"][0]["text"]
    assert "PAII_SLACK_URL='nope' is not a URL" in text and "call the tool again" in text
    assert s.call(3, "echo", {"b": 2})["result"]["content"][0]["text"] == '{"b": 2}'
    assert [m.get("method") for m in s.received()].count("initialize") == 2
    s.close()


def test_a_tool_called_while_the_packages_install_says_how_far_it_is_and_when_to_try_again(session, tmp_path):
    """No venv yet and an install running (its lock held): the call is answered at once."""
    sys.path.insert(0, str(ROOT / "bin"))
    import _paii_install as install

    data = tmp_path / "plugin-data"
    _, _, _, stamp = install.venv_paths(ROOT, data)
    building = data / "venvs" / f"{stamp[:16]}.tmp-4242"
    building.mkdir(parents=True)
    with open(building / "big.whl", "wb") as fh:  # 310 MB of packages in place (a sparse file)
        fh.truncate(310 * 1024 * 1024)
    (data / "install-stats.json").write_text(json.dumps(
        {"bytes": 530 * 1024 * 1024, "seconds": 90, "started": time.time() - 40, "stamp": stamp}))
    with open(data / "venv.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # what a running install holds
        s = session(python="")
        s.request(1, "initialize", INIT["params"])
        assert len(s.request(2, "tools/list")["result"]["tools"]) == 7  # connected, with every tool
        answer = s.call(3, "find_user", {"query": "ana@example.com"})
        s.close()
    assert answer["result"]["isError"]
    text = answer["result"]["content"][0]["text"]
    assert "installing PAII's Python packages" in text and "310 of 530 MB" in text
    left = int(text.split("about ")[1].split(" s left")[0])
    assert 20 <= left <= 40  # 220 MB more at the pace of the first 310 MB in 40 s: about 28 s
    assert "Call this tool again then" in text and str(data / "install.log") in text


def test_once_one_server_answered_a_call_the_sessions_other_servers_start_in_the_background(session):
    """Same Claude Code session (same parent process, same plugin data folder): a's first answer
    wakes b, whose client never called anything; before that, neither real server ran."""
    a, b = session("slack", log="a.log"), session("pagerduty", log="b.log")
    for s in (a, b):
        s.request(1, "initialize", INIT["params"])
        s.send(INITIALIZED)
        assert s.request(2, "tools/list")["result"]["tools"]
    assert a.received() == [] and b.received() == []  # a session that calls nothing starts nothing
    a.call(3, "echo")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not b.received():
        time.sleep(0.1)
    assert [m.get("method") for m in b.received()][:2] == ["initialize", "notifications/initialized"]
    assert b.received()[0]["params"] == INIT["params"]  # b replays its own client's handshake
    assert b.call(4, "echo", {"warm": True})["result"]["content"][0]["text"] == '{"warm": true}'
    assert [m.get("method") for m in b.received()].count("initialize") == 1  # it was already running
    a.close(), b.close()


def test_read_only_mode_offers_only_the_readers(session):
    s = session(PAII_READ_ONLY="1")
    s.request(1, "initialize", INIT["params"])
    tools = s.request(2, "tools/list")["result"]["tools"]
    assert tools and all(t["annotations"]["readOnlyHint"] for t in tools)
    assert {"post_message", "create_channel"}.isdisjoint(t["name"] for t in tools)


def test_with_paii_front_off_the_server_itself_answers(session):
    s = session(PAII_FRONT="off")
    assert s.request(1, "initialize", INIT["params"])["result"]["serverInfo"]["name"] == "fake"


# --- the real runbook server through the front: the person's approval and progress -------------

BOOK = """---
title: Gate
description: One step that needs the person's approval, one wait.
services: [testsvc]
---
## Step 1: Touch
```yaml
run: [touch, '{side}']
timeout: 5
approval: required
```

## Step 2: Count
```yaml
wait:
  run: ['{python}', -c, "import pathlib,sys; p=pathlib.Path('{count}'); n=int(p.read_text() or 0)+1 if p.exists() else 1; p.write_text(str(n)); print(n)"]
  every: 1
  timeout: 20
  until: {{ge: 2}}
```
"""


async def test_the_runbook_servers_elicitation_and_progress_work_through_the_front(tmp_path):
    books, side, count = tmp_path / "books", tmp_path / "side", tmp_path / "count"
    books.mkdir()
    (books / "gate.md").write_text(BOOK.format(side=side, python=sys.executable, count=count))
    env = {"PATH": os.environ.get("PATH", ""), "PAII_PYTHON": sys.executable, "PAII_HOME": str(tmp_path / "home"),
           "PAII_CONFIG_DIR": str(tmp_path / "cfg"), "PAII_RUNBOOK_PATH": str(books), "PAII_RUNBOOK_SHIPPED": "0",
           "PAII_RUNBOOK_OPERATOR": "alice", "PAII_HISTORY_EMBEDDINGS": "off", "CLAUDE_PLUGIN_DATA": str(tmp_path / "data"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    asked, progress = [], []

    async def approve(context, params):
        from mcp.types import ElicitResult

        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    async def on_progress(done, total, message):
        progress.append(message)

    params = StdioServerParameters(command=sys.executable, args=[str(LAUNCHER), "runbook"], env=env)
    async with Client(params, mode="legacy", elicitation_callback=approve) as c:
        run = (await c.call_tool("start_run", {"name": "gate", "dry_run": False})).structured_content
        first = await c.call_tool("run_step", {"run_id": run["run_id"], "step_id": "1"})
        second = await c.call_tool("run_step", {"run_id": run["run_id"], "step_id": "2"}, progress_callback=on_progress)
    assert not first.is_error, first.content[0].text
    assert first.structured_content["approval"]["via"].startswith("elicitation (")
    assert side.exists() and "Approve step 1 of runbook gate" in asked[0]
    assert not second.is_error and progress and "poll 2" in progress[-1]
