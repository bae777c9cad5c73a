"""Over real stdio, a line the transport cannot read gets a JSON-RPC error, and the server keeps
serving (the mcp package alone leaves such a request unanswered: see paii_common.serve)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

EXPECTED = 7  # answers: initialize, 4 unreadable lines, the invalid request, tools/list
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}


def _lines(*messages: object) -> bytes:
    return b"".join((m if isinstance(m, bytes) else json.dumps(m).encode()) + b"\n" for m in messages)


@pytest.fixture(scope="module")
def replies(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("stdio")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAII_SLACK_", "SLACK_"))}
    env.update(PAII_CONFIG_DIR=str(home), PAII_HOME=str(home / "home"))
    nested = '{"jsonrpc":"2.0","id":8,"method":"tools/list","params":' + '{"a":' * 200 + "1" + "}" * 200 + "}"
    stdin = _lines(
        INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        b'{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"cursor":"\\ud800"}}',  # a lone surrogate
        nested.encode(),
        b"this is not json",
        b'{"jsonrpc":"2.0","id":"s-10","method":"tools/list"',  # cut short
        {"jsonrpc": "2.0", "id": 11},  # JSON, but not a request
        b'{"jsonrpc":"2.0","method":"notifications/x","params":{"a":"\\udc00"}}',  # a notification: no answer
        {"jsonrpc": "2.0", "id": 9, "method": "tools/list"},
    )
    # stdin stays open until every answer is in: at EOF the server cancels what is still running
    proc = subprocess.Popen([sys.executable, "-m", "paii_slack"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    watchdog = threading.Timer(60, proc.kill)  # a missing answer fails the test instead of hanging it
    watchdog.start()
    try:
        proc.stdin.write(stdin)
        proc.stdin.flush()
        out = [json.loads(proc.stdout.readline() or b"null") for _ in range(EXPECTED)]
    finally:
        watchdog.cancel()
        proc.stdin.close()
        stderr = proc.stderr.read().decode()
        proc.wait(timeout=30)
    return {"by_id": {m.get("id"): m for m in out}, "all": out, "stderr": stderr, "rest": proc.stdout.read()}


def test_a_lone_surrogate_gets_a_parse_error_with_the_request_id(replies):
    err = replies["by_id"][7]["error"]
    assert err["code"] == -32700 and "not valid Unicode" in err["message"]


def test_nesting_past_200_levels_gets_a_parse_error(replies):
    err = replies["by_id"][8]["error"]
    assert err["code"] == -32700 and "200 levels" in err["message"]


def test_a_line_that_is_not_json_gets_a_parse_error_with_a_null_id(replies):
    nulls = [m for m in replies["all"] if m.get("id") is None]
    assert [m["error"]["code"] for m in nulls] == [-32700, -32700]  # "not json" and the cut-short line
    assert all(m["error"]["message"].startswith("Parse error:") for m in nulls)


def test_json_that_is_not_a_request_gets_invalid_request(replies):
    assert replies["by_id"][11]["error"]["code"] == -32600


def test_the_server_keeps_serving_after_them(replies):
    assert replies["by_id"][1]["result"]["serverInfo"]["name"] == "paii-slack"
    assert {t["name"] for t in replies["by_id"][9]["result"]["tools"]} >= {"post_message", "channel_digest"}
    # one answer per request and per unreadable line; none for the notifications
    assert len(replies["all"]) == EXPECTED and replies["rest"].strip() == b"", replies
