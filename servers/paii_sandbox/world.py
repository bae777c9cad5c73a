"""The world: every service's state, the clock, the faults and the request journal.

A :class:`World` is built from the seed (one dict, a top-level key per service) and the
service modules (``services/``). Each service's ASGI app is wrapped here with the same
fault injection and request journal, so a service module only answers its API.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import pickle
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from paii_sandbox.faults import DropConnection, Fault, FaultTable

JOURNAL_SIZE = 5000
SNAPSHOT_VERSION = 1


@dataclass
class Exchange:
    """One request a service answered (or a fault answered for it)."""

    service: str
    method: str
    path: str
    query: str
    status: int
    request_headers: dict[str, str]
    request_body: bytes
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    fault: str | None = None
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        try:
            return json.loads(self.response_body or b"null")
        except ValueError:
            return None

    def summary(self) -> dict[str, Any]:
        return {"service": self.service, "method": self.method, "path": self.path, "query": self.query,
                "status": self.status, "fault": self.fault, "at": self.at}


def split_seed(seed: dict[str, Any], name: str) -> tuple[dict[str, Any], list[Fault]]:
    """A service's part of the seed, and the faults it declares (the framework's ``faults:`` key)."""
    part = dict(seed.get(name) or {})
    faults = [Fault(service=name, **spec) for spec in part.pop("faults", None) or []]
    return part, faults


class World:
    """The services' states under one clock: real time, or from ``now`` on (``running``: the clock
    moves forward from it as real time passes, as ``paii sandbox start --now`` does; otherwise it
    stands at ``now``, as tests want)."""

    def __init__(self, seed: dict[str, Any], services: list[ModuleType], *, now: datetime | None = None,
                 running: bool = False) -> None:
        self.seed = seed
        self.modules = {m.NAME: m for m in services}
        self.fixed_now = now.astimezone(UTC) if now else None  # the clock's start
        self.clock_since = time.time() if now and running else None  # the real time it read fixed_now
        self.runtimes: dict[str, Any] = {}  # processes services run beside their apps (the sandbox sets them)
        self.faults = FaultTable()
        self.journal: deque[Exchange] = deque(maxlen=JOURNAL_SIZE)
        self.states: dict[str, Any] = {}
        self.apps: dict[str, Any] = {}
        self.seeded_at = self.now()
        self.dirty = False
        self.lock = threading.RLock()
        self.reseed()

    # ------------------------------------------------------------------ clock and state
    def now(self) -> datetime:
        """The sandbox clock (UTC): from ``--now`` on, else real time."""
        if self.fixed_now is None:
            return datetime.now(UTC)
        if self.clock_since is None:
            return self.fixed_now
        return self.fixed_now + timedelta(seconds=time.time() - self.clock_since)

    @property
    def seed_digest(self) -> str:
        return hashlib.sha256(json.dumps(self.seed, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def reseed(self) -> None:
        """Every service back to its seeded state (faults declared in the seed come back too)."""
        with self.lock:
            self.seeded_at = self.now()
            self.faults.clear()
            for name, module in self.modules.items():
                part, faults = split_seed(self.seed, name)
                self.states[name] = module.seed(part, self.seeded_at)
                for fault in faults:
                    self.faults.add(fault)
            self._build_apps()
            self.dirty = True

    def _build_apps(self) -> None:
        self.apps = {name: module.create_app(self.states[name], self) for name, module in self.modules.items()}

    def snapshot(self) -> bytes:
        """The states as bytes (to resume the world after a restart)."""
        with self.lock:
            return pickle.dumps({"version": SNAPSHOT_VERSION, "seed_digest": self.seed_digest, "fixed_now": self.fixed_now,
                                 "seeded_at": self.seeded_at, "states": self.states})

    def restore(self, data: bytes) -> str | None:
        """Resume from :meth:`snapshot`; returns why not (and keeps the fresh seed) when it cannot."""
        try:
            saved = pickle.loads(data)
        except Exception as exc:  # a snapshot from another version of a service module
            return f"the saved world could not be read ({type(exc).__name__})"
        if saved.get("version") != SNAPSHOT_VERSION or saved.get("seed_digest") != self.seed_digest:
            return "the seed changed since the world was saved"
        if saved.get("fixed_now") != self.fixed_now:
            return "the clock differs from the saved world's (--now)"
        if set(saved.get("states") or {}) != set(self.modules):
            return "the set of services changed since the world was saved"
        with self.lock:
            self.states = saved["states"]
            self.seeded_at = saved["seeded_at"]
            self._build_apps()
        return None

    # ------------------------------------------------------------------ HTTP
    def asgi(self, name: str) -> Any:
        """The ASGI app served for ``name``: faults and the journal around the service's own app."""
        module = self.modules[name]

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            inner = self.apps[name]
            if scope["type"] != "http":
                await inner(scope, receive, send)
                return
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            method, path = scope["method"], scope["path"]
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
            exchange = Exchange(name, method, path, (scope.get("query_string") or b"").decode("latin-1"), 0, headers, body)
            replayed = False

            async def replay() -> dict[str, Any]:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def record(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    exchange.status = message["status"]
                    exchange.response_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers") or []}
                elif message["type"] == "http.response.body":
                    exchange.response_body += message.get("body", b"")
                await send(message)

            fault = self.faults.take(name, method, path)
            try:
                if fault is not None:
                    exchange.fault = fault.kind
                    if fault.kind == "slow":
                        await asyncio.sleep(fault.seconds or 0)
                    elif fault.kind == "down":  # drop the connection: headers promised, then nothing
                        await record({"type": "http.response.start", "status": 200,
                                      "headers": [(b"content-length", b"1024")]})
                        raise DropConnection(f"{name} {path}")
                    else:
                        if fault.kind == "500" and fault.after:
                            await inner(scope, replay, _discard)
                            self.dirty = True
                        status = 429 if fault.kind == "429" else 500
                        await _send_error(module, status, fault.retry_after, record)
                        return
                await inner(scope, replay, record)
                if method not in ("GET", "HEAD"):
                    self.dirty = True
            finally:
                if exchange.status or exchange.fault:
                    self.journal.append(exchange)

        return app

    def requests(self, service: str | None = None, method: str | None = None, path: str | None = None) -> list[Exchange]:
        """Journal entries, oldest first, filtered by service, method and exact path."""
        return [
            e for e in list(self.journal)
            if (service is None or e.service == service) and (method is None or e.method == method)
            and (path is None or e.path == path)
        ]


async def _discard(message: dict[str, Any]) -> None:
    return None


async def _send_error(module: ModuleType, status: int, retry_after: float | None, send: Any) -> None:
    """The service's own error shape (its optional ``error_body`` hook), else a plain JSON error."""
    hook = getattr(module, "error_body", None)
    body, content_type = hook(status) if hook else ({"error": {429: "rate limited", 500: "internal error"}[status]}, "application/json")
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(raw)).encode())]
    if status == 429 and retry_after is not None:
        headers.append((b"retry-after", f"{retry_after:g}".encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
