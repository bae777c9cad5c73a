"""The sandbox Kubernetes service, served by uvicorn on an ephemeral port in a thread, and servers
built against it through a real kubeconfig.

One uvicorn serves the whole session; each test gets a freshly seeded app behind it (``Sandbox``),
with a small fault table for upstream errors (a status or a delay for requests matching a path).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from paii_kubernetes.client import KubernetesClient
from paii_kubernetes.config import KubernetesSettings
from paii_kubernetes.server import build_server
from paii_sandbox.services import kubernetes as service


@dataclass
class Fault:
    path: str  # regex on the path
    method: str | None = None
    status: int | None = None
    delay: float = 0.0
    times: int = 1_000_000


@dataclass
class Sandbox:
    data: dict[str, Any]
    app: Any = None
    state: Any = None
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    def reset(self, data: dict[str, Any] | None = None) -> None:
        self.data = data or service.load_seed()
        world = service.FixedWorld()
        self.state = service.seed(self.data, world.now())
        self.app = service.create_app(self.state, world)
        self.faults.clear()
        self.requests.clear()

    async def __call__(self, scope, receive, send):  # noqa: ANN001 - ASGI
        if scope["type"] in ("http", "websocket"):
            method = scope.get("method", "WS")
            self.requests.append((method, scope["path"]))
            for f in self.faults:
                if f.times > 0 and re.search(f.path, scope["path"]) and (f.method in (None, method)):
                    f.times -= 1
                    if f.delay:
                        await asyncio.sleep(f.delay)
                    if f.status:
                        body, ctype = service.error_body(f.status)
                        if f.status in (401, 403, 404):
                            body = {**body, "code": f.status, "reason": {401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}[f.status],
                                    "message": {401: "Unauthorized", 403: 'pods is forbidden: User "oncall" cannot list resource "pods"' if scope["type"] == "http"
                                                else 'pods "x" is forbidden: User "oncall" cannot create resource "pods/exec"',
                                                404: "the server could not find the requested resource"}[f.status]}
                        kind = "http" if scope["type"] == "http" else "websocket.http"  # a refused upgrade
                        await send({"type": f"{kind}.response.start", "status": f.status,
                                    "headers": [(b"content-type", ctype.encode()), (b"retry-after", b"0")]})
                        await send({"type": f"{kind}.response.body", "body": json.dumps(body).encode()})
                        return
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def _served() -> Iterator[Sandbox]:
    box = Sandbox(data={})
    box.reset()
    server = uvicorn.Server(uvicorn.Config(box, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    box.url = f"http://127.0.0.1:{port}"
    KubernetesClient(KubernetesSettings.load()).warm()  # import the library once, before any deadline runs
    yield box
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for var in list(os.environ):
        if var.startswith("PAII_KUBERNETES") or var in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "PAII_READ_ONLY"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", os.environ.get("PAII_HOME", "/nonexistent"))  # no real ~/.kube/config


@pytest.fixture
def sandbox(_served: Sandbox) -> Sandbox:
    _served.reset()
    return _served


@pytest.fixture
def kubeconfig(sandbox: Sandbox, tmp_path: Path) -> Path:
    return Path(service.env(sandbox.url, tmp_path, sandbox.data)["PAII_KUBERNETES_KUBECONFIG"])


@pytest.fixture
def settings(kubeconfig: Path) -> KubernetesSettings:
    return KubernetesSettings.load(kubeconfig=str(kubeconfig), rollout_poll_s=0.05, read_timeout=8, write_timeout=10)


@pytest.fixture
def make_server(kubeconfig: Path):
    def make(**overrides: Any):
        values = {"kubeconfig": str(kubeconfig), "rollout_poll_s": 0.05, "read_timeout": 8, "write_timeout": 10, "warmup": False,
                  **overrides}
        settings = KubernetesSettings.load(**values)
        return build_server(settings, KubernetesClient(settings, sleep=lambda _s: None))
    return make
