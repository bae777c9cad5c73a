"""Test doubles: an executor that does not sleep between polls, a Kubernetes client that records
its calls, and the sandbox's Postgres stand-in (the fallback where no PostgreSQL can be had) served on an
ephemeral port."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from paii_common.errors import InvalidInput
from paii_runbook.client import StepExecutor

ROOT = Path(__file__).resolve().parents[2]
DBSTATS = "Database Connection Status:\n  Active connections: 98/100\n  Waiting queries: 47\n"


@dataclass
class ExecResult:
    stdout: str
    stderr: str
    exit_code: int | None
    truncated: bool
    duration_s: float
    timed_out: bool = False


@dataclass
class FakeKubernetes:
    """find_pods / exec_in_pod of paii_kubernetes.client.KubernetesClient, answering from a table."""

    pods: dict[str, list[str]] = field(default_factory=lambda: {"payments": ["payments-api-7d9f-abcde", "payments-api-7d9f-fghij"],
                                                                "databases": ["primary-postgres-0"]})
    answers: dict[tuple[str, ...], tuple[str, int]] = field(default_factory=lambda: {
        ("python", "manage.py", "dbstats"): (DBSTATS, 0),
        ("python", "manage.py", "showmigrations"): ("payments\n [X] 0041_refund_reason\n [X] 0042_settlement_batch\n", 0),
        ("cat", "/proc/loadavg"): ("0.42 0.40 0.38 2/512 4242\n", 0),
        ("cat", "/proc/meminfo"): ("MemTotal:        1048576 kB\nMemFree:          121344 kB\nMemAvailable:     301232 kB\n", 0),
        ("df", "-h"): ("Filesystem      Size  Used Avail Use% Mounted on\noverlay          50G   21G   29G  42% /\n", 0),
        ("df", "-P", "/var/lib/postgresql/data"): ("Filesystem 1024-blocks Used Available Capacity Mounted on\n"
                                                  "/dev/nvme1n1 209715200 94371840 115343360 45% /var/lib/postgresql/data\n", 0),
    })
    calls: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def find_pods(self, namespace: str, selector: str, *, context: str | None = None) -> list[str]:
        return list(self.pods.get(namespace, []))

    def exec_in_pod(self, namespace, pod, argv, *, container=None, context=None, timeout=30.0) -> ExecResult:
        self.calls.append((namespace, pod, list(argv)))
        out, code = self.answers.get(tuple(argv), ("", 127))
        err = "" if code != 127 else f"exec: {argv[0]}: not found\n"
        return ExecResult(out, err, code, False, 0.01)


def refuse_kube_system(namespace: str) -> None:
    if namespace == "kube-system":
        raise InvalidInput("kube-system is a protected namespace: writes there are refused.")


class FastExecutor(StepExecutor):
    """A real executor (real processes) whose waits do not sleep between polls."""

    def __init__(self, settings, kubernetes=None) -> None:
        super().__init__(settings, kubernetes or FakeKubernetes(), refuse_kube_system)
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


class World:
    def __init__(self) -> None:
        self.lock = threading.RLock()

    def now(self):
        import datetime as dt

        return dt.datetime(2026, 1, 2, 2, 0, tzinfo=dt.UTC)


class PostgresSandbox:
    """The sandbox's postgres service app, served by uvicorn on 127.0.0.1:<free port> in a thread."""

    def __init__(self, sandbox_dir: Path) -> None:
        import uvicorn

        from paii_sandbox.services import postgres

        data = yaml.safe_load((ROOT / "servers/paii_sandbox/seed.yaml").read_text())["postgres"]
        self.state = postgres.seed(data, World().now())
        app = postgres.create_app(self.state, World())
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        self.env: dict[str, Any] = postgres.env(self.url, sandbox_dir)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
