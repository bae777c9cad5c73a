"""The Jira tests' site: the sandbox Jira app served by uvicorn on 127.0.0.1 (port 0) in a thread.

One server per test session; each test loads its own state (the seed, or a site the test builds).
Every request is logged, and ``site.faults`` injects upstream failures (a status, a delay that
outlasts the client's timeout after the request was handled, ...).
"""

from __future__ import annotations

import asyncio
import copy
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn

from paii_common.http import RetryPolicy
from paii_jira.client import JiraClient
from paii_jira.config import JiraSettings
from paii_jira.server import build_server
from paii_sandbox.services import jira as service

NOW = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)
EMAIL, TOKEN, PAT = "paii-bot@example.com", "sandbox-jira-token", "sandbox-jira-pat"
FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.02, max_retry_after=2.0)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.fixed = now

    def now(self) -> datetime:
        return self.fixed


@dataclass
class Fault:
    method: str
    path: str  # regex, matched in full against the path
    status: int | None = None  # answer this instead of handling the request
    times: int = 1
    after_delay: float | None = None  # handle the request, then wait this long before answering
    headers: dict[str, str] = field(default_factory=dict)


class Site:
    def __init__(self) -> None:
        self.app: Any = None
        self.state: dict[str, Any] = {}
        self.world = Clock()
        self.log: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(self._asgi, host="127.0.0.1", port=self.port, log_level="error", interface="asgi3",
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started and time.time() < deadline:
            time.sleep(0.02)

    def load(self, data: dict[str, Any] | None = None, now: datetime = NOW) -> dict[str, Any]:
        self.world = Clock(now)
        self.state = service.seed(copy.deepcopy(data if data is not None else SEED), now)
        self.app = service.create_app(self.state, self.world)
        self.log.clear()
        self.faults.clear()
        return self.state

    def calls(self, method: str | None = None, path: str | None = None) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.log if (method is None or m == method) and (path is None or re.fullmatch(path, p))]

    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        self.log.append((method, path))
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and re.fullmatch(fault.path, path):
                fault.times -= 1
                if fault.status:
                    headers = [(b"content-type", b"application/json")] + [
                        (k.lower().encode(), v.encode()) for k, v in fault.headers.items()]
                    await send({"type": "http.response.start", "status": fault.status, "headers": headers})
                    await send({"type": "http.response.body", "body": b'{"errorMessages":["injected"],"errors":{}}'})
                    return
                if fault.after_delay:
                    held: list[dict[str, Any]] = []

                    async def hold(message: dict[str, Any]) -> None:
                        held.append(message)

                    await self.app(scope, receive, hold)  # the write happens ...
                    await asyncio.sleep(fault.after_delay)  # ... but the answer comes too late
                    for message in held:
                        await send(message)
                    return
        await self.app(scope, receive, send)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


SEED = service.load_seed()


@pytest.fixture(scope="session")
def _site_server():
    site = Site()
    yield site
    site.stop()


@pytest.fixture
def site(_site_server):
    _site_server.load()
    yield _site_server
    # the deprecated search endpoint is never called, by any test
    assert not _site_server.calls(path=r"/rest/api/3/search"), _site_server.log


def make_client(site: Site, **overrides: Any) -> JiraClient:
    values = {"url": site.url, "email": EMAIL, "token": TOKEN, "project": "INC", "teams": "Team Infra=84#team-infra-status",
              "read_timeout": 5, "write_timeout": 5, **overrides}
    settings = JiraSettings(**{k: v for k, v in values.items() if v is not None})
    return JiraClient(settings, policy=FAST, sleep=lambda s: None, clock=site.world.now)


@pytest.fixture
def client(site):
    return make_client(site)


@pytest.fixture
def server(client):
    return build_server(client.settings, client)
