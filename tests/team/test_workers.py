"""``--workers N``: several server processes answer on one port, with the same tokens, hosts and
audit log, and share one history (real processes on 127.0.0.1, ephemeral ports)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2

from paii_common import auth
from paii_common.transport import WORKER_ENV

from .conftest import HEADERS, INIT, connect


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home: Path, tokens: Path) -> dict[str, str]:
    return {**os.environ, "PAII_HOME": str(home), "PAII_AUTH_TOKENS_FILE": str(tokens),
            "PAII_HISTORY_EMBEDDINGS": "off", "PAII_HISTORY_WARMUP": "false"}


@contextlib.contextmanager
def _running(cmd: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            assert time.monotonic() < deadline, "the server did not listen within 60 s"
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


def _children(pid: int) -> set[int]:
    return {int(c) for task in Path(f"/proc/{pid}/task").glob("*/children") for c in task.read_text().split()}


def _audit_pids(log: Path, who: str, tool: str) -> set[int]:
    return {int(m) for m in re.findall(rf"\[worker (\d+)\]: {who} asks history to {tool}", log.read_text())}


async def test_two_workers_on_one_port_serve_a_client_with_its_token_and_log_who_wrote(isolated_env, tmp_path):
    tokens = tmp_path / "tokens"
    alice = auth.add_token(tokens, "alice")
    reader = auth.add_token(tokens, "rita", read_only=True)
    port, log = _free_port(), tmp_path / "server.log"
    cmd = [sys.executable, "-m", "paii_history", "--transport", "streamable-http", "--port", str(port), "--workers", "2"]
    with _running(cmd, _env(isolated_env, tokens), port, log) as proc:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 30
        while len(_children(proc.pid) - {proc.pid}) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        async with httpx2.AsyncClient() as http:
            refused = await http.post(url, json=INIT, headers=HEADERS)
            forged = await http.post(url, json=INIT, headers={**HEADERS, "Host": "evil.example",
                                                              "Authorization": f"Bearer {alice}"})
        async with connect(url, alice) as c:
            captured = await c.call_tool("capture", {"category": "incidents", "title": "payments-api 502 after deploy",
                                                     "content": "the connection pool was exhausted; rolled back"})
            found = await c.call_tool("similar_incidents", {"text": "payments-api 502 pool exhausted", "k": 3})
        async with connect(url, reader) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            denied = await c.call_tool("capture", {"category": "notes", "title": "x", "content": "y"})
        workers = _children(proc.pid)
    assert refused.status_code == 401 and forged.status_code == 421 and "PAII_ALLOWED_HOSTS" in forged.text
    assert not captured.is_error and not found.is_error
    assert captured.structured_content["id"] in json.dumps(found.structured_content)
    assert "capture" not in names and "similar_incidents" in names
    assert denied.is_error and "is read-only" in denied.content[0].text
    text = log.read_text()
    assert "with 2 worker processes" in text
    assert _audit_pids(log, "alice", "capture") <= workers and len(_audit_pids(log, "alice", "capture")) == 1, text
    assert alice not in text and reader not in text, "a token never reaches the log"


class _Router(httpx2.AsyncBaseTransport):
    """Sends each request to the port the test chose last: one client, two worker processes."""

    def __init__(self, port: int) -> None:
        self.port, self.inner = port, httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request):
        request.url = request.url.copy_with(port=self.port)
        request.headers["host"] = f"127.0.0.1:{self.port}"
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_capture_through_one_worker_is_found_through_another_by_the_same_client(isolated_env, tmp_path):
    """Each worker process serves what ``--workers`` runs (:func:`paii_common.transport.worker_app`),
    on ports of their own so that the test chooses which one answers each request."""
    tokens = tmp_path / "tokens"
    alice = auth.add_token(tokens, "alice")
    ports = [_free_port(), _free_port()]
    logs = [tmp_path / "w0.log", tmp_path / "w1.log"]
    first = 0
    with contextlib.ExitStack() as stack:
        for port, log in zip(ports, logs):
            env = {**_env(isolated_env, tokens), WORKER_ENV: json.dumps(
                {"name": "history", "settings_class": "HistorySettings", "host": "127.0.0.1", "port": port, "no_auth": False})}
            cmd = [sys.executable, "-m", "uvicorn", "--factory", "paii_common.transport:worker_app",
                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
            stack.enter_context(_running(cmd, env, port, log))
        router = _Router(ports[first])
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {alice}"}, transport=router, timeout=30) as http:
            from mcp import Client
            from mcp.client.streamable_http import streamable_http_client

            async with Client(streamable_http_client(f"http://127.0.0.1:{ports[first]}/mcp", http_client=http)) as c:
                captured = await c.call_tool("record_incident", {"id": "INC-42", "title": "checkout 500s: redis evictions",
                                                                 "status": "resolved", "service": "checkout"})
                router.port = ports[1 - first]
                found = await c.call_tool("similar_incidents", {"text": "checkout 500 redis evictions", "k": 3})
                got = await c.call_tool("get", {"id": "INC-42"})
                updated = await c.call_tool("record_incident", {"id": "INC-42", "root_cause": "maxmemory too low"})
    assert not captured.is_error and not found.is_error and not got.is_error and not updated.is_error
    assert "INC-42" in json.dumps(found.structured_content)
    assert _audit_pids(logs[first], "alice", "record_incident") and _audit_pids(logs[1 - first], "alice", "record_incident")
    files = [p.read_text() for p in (isolated_env / "history").rglob("*.md")]
    assert len(files) == 1, "one entry, written once and updated in place"
    fm = files[0]
    assert "author: alice" in fm and "updated_by: alice" in fm and "maxmemory too low" in fm
