"""Team mode over the real streamable HTTP transport on 127.0.0.1 (ephemeral ports).

:func:`serving` runs a server's HTTP app exactly as ``paii-<name> --transport streamable-http``
builds it (:func:`paii_common.transport.plan_http` + :func:`~paii_common.transport.protect`) under
uvicorn in a thread; :func:`connect` is the mcp package's own streamable HTTP client with a token.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from paii_common import auth
from paii_common.transport import TransportSettings, plan_http, protect


@contextlib.contextmanager
def serving(server: Any, tokens: Path | None, *, allowed_hosts: str = "", no_auth: bool = False) -> Iterator[str]:
    """Serve ``server`` on 127.0.0.1:<free port>; yields the MCP endpoint's URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    plan = plan_http("127.0.0.1", port, TransportSettings(auth_tokens_file=tokens, allowed_hosts=allowed_hosts),
                     no_auth=no_auth)
    previous = auth.set_local_actor(auth.local_user())  # protect() sets it to None: give it back after
    app = protect(server, plan)
    userver = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=userver.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not userver.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the HTTP server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        userver.should_exit = True
        thread.join(10)
        sock.close()
        auth.set_local_actor(previous)


@contextlib.asynccontextmanager
async def connect(url: str, token: str | None) -> AsyncIterator[Any]:
    """An MCP client session over streamable HTTP that sends ``token`` as a bearer token."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@pytest.fixture
def tokens_file(tmp_path) -> Path:
    return tmp_path / "tokens"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()
