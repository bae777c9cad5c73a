"""The world: every service's state, the clock, the faults and the request journal.

A :class:`World` is built from the seed (one dict, a top-level key per service) and the
service modules (``services/``). Each service's ASGI app is wrapped here with the same
fault injection and request journal, so a service module only answers its API.

With a write log (:mod:`paii_sandbox.writelog`, a sandbox with a folder), a request that may
change the world is logged before the service handles it and answered only once the log is on
disk; requests that change the world are handled one at a time, in the log's order, each seeing
one clock reading (``now()`` is the time it was logged), so replaying the log after a crash
rebuilds exactly the world the answers described.
"""

from __future__ import annotations

import asyncio
import contextvars
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

from paii_sandbox.faults import MALFORMED_BODY, DropConnection, Fault, FaultTable
from paii_sandbox.websocket import websocket
from paii_sandbox.writelog import WriteLog, entry_of, request_of

JOURNAL_SIZE = 5000
SNAPSHOT_VERSION = 1
#: the clock reading of the logged request being handled (the same one when it is replayed)
_REQUEST_NOW: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("sandbox_request_now", default=None)


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
    #: the service itself handled the request (a fault "after" the change, or a slow one, too)
    applied: bool = False

    def json(self) -> Any:
        try:
            return json.loads(self.response_body or b"null")
        except ValueError:
            return None

    def summary(self) -> dict[str, Any]:
        return {"service": self.service, "method": self.method, "path": self.path, "query": self.query,
                "status": self.status, "fault": self.fault, "applied": self.applied, "at": self.at}


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
        self.write_log: WriteLog | None = None
        self.replaying = False  # a service may skip its pauses (an exec's delay) while the log is replayed
        self._logged_applied: set[int] = set()  # logged requests handled since the log was last emptied
        self._logged_open: dict[int, str] = {}  # logged requests being handled now -> "http" or "websocket"
        self._order: asyncio.Lock | None = None
        self.reseed()

    # ------------------------------------------------------------------ clock and state
    def now(self) -> datetime:
        """The sandbox clock (UTC): from ``--now`` on, else real time; while a logged request is
        handled, the time it was logged."""
        if (logged := _REQUEST_NOW.get()) is not None:
            return logged
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
        """The states as bytes (to resume the world after a restart), with the logged requests they contain."""
        with self.lock:
            return pickle.dumps({"version": SNAPSHOT_VERSION, "seed_digest": self.seed_digest, "fixed_now": self.fixed_now,
                                 "seeded_at": self.seeded_at, "states": self.states,
                                 "logged": sorted(self._logged_applied)})

    @property
    def handling_logged(self) -> bool:
        """A logged HTTP request is being handled now: a snapshot would hold its change without knowing
        it does (and the replay would make it twice). An exec is not waited for (it may pause for a
        minute): one in flight at a crash runs again, and a seed's exec answers repeat the same way."""
        return "http" in self._logged_open.values()

    def attach_log(self, write_log: WriteLog | None) -> None:
        """From now on, log every request that may change the world in ``write_log`` (the snapshot taken
        next contains everything logged before)."""
        self.write_log = write_log
        self._logged_open.clear()

    def snapshot_saved(self) -> None:
        """A snapshot is on disk: empty the write log when nothing logged is still being handled."""
        if self.write_log is not None and not self._logged_open:
            self.write_log.empty()
            self._logged_applied.clear()

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
            self._logged_applied = set(saved.get("logged") or [])
            self._build_apps()
        return None

    def replay(self, entries: list[dict[str, Any]]) -> int:
        """Handle again the logged requests the restored snapshot does not contain, in order, each at
        the time it was first handled; their answers go nowhere. Returns how many were replayed."""
        todo = [e for e in entries if e["seq"] not in self._logged_applied and e.get("service") in self.apps]
        self._logged_applied.update(e["seq"] for e in entries)  # in the world from here on
        if not todo:
            return 0

        async def run() -> None:
            self.replaying = True
            try:
                for entry in todo:
                    await self._replay_one(entry)
                    self._logged_applied.add(entry["seq"])
            finally:
                self.replaying = False

        asyncio.run(run())
        self.dirty = True
        return len(todo)

    async def _replay_one(self, entry: dict[str, Any]) -> None:
        scope, receive = request_of(entry)
        token = _REQUEST_NOW.set(datetime.fromisoformat(entry["now"]))
        try:
            await self.apps[entry["service"]](scope, receive, _discard)
        except Exception:  # a request that failed when it ran fails again: the world is as it was then
            pass
        finally:
            _REQUEST_NOW.reset(token)

    # ------------------------------------------------------------------ HTTP
    def mutates(self, name: str, method: str, path: str) -> bool:
        """May this request change the service's state? (its ``mutates`` hook; else not a GET or HEAD)"""
        hook = getattr(self.modules[name], "mutates", None)
        return bool(hook(method, path)) if hook else method not in ("GET", "HEAD")

    def log_request(self, name: str, scope: dict[str, Any], headers: dict[str, str], body: bytes) -> tuple[int | None, Any]:
        """Log a request before it is handled: (its number, the clock token to reset); (None, None) without a log."""
        if self.write_log is None:
            return None, None
        when = self.now()
        seq = self.write_log.append(entry_of(name, scope, headers, body, when))
        self._logged_open[seq] = scope["type"]
        return seq, _REQUEST_NOW.set(when)

    def request_done(self, seq: int | None, token: Any) -> None:
        if seq is None:
            return
        _REQUEST_NOW.reset(token)
        self._logged_open.pop(seq, None)
        self._logged_applied.add(seq)
        self.dirty = True

    def asgi(self, name: str) -> Any:
        """The ASGI app served for ``name``: faults, the write log and the journal around the service's own app."""
        module = self.modules[name]

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "websocket":
                await websocket(self, name, scope, receive, send)
                return
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

            async def handle(answer: Any) -> None:
                """The service handles the request (logged first when it may change the world); its answer
                goes to ``answer`` once the log entry is on disk."""
                exchange.applied = True
                if self.write_log is None or not self.mutates(name, method, path):
                    await inner(scope, replay, answer)
                    return
                held: list[dict[str, Any]] = []

                async def hold(message: dict[str, Any]) -> None:
                    held.append(message)

                if self._order is None:
                    self._order = asyncio.Lock()
                async with self._order:  # handled in the log's order
                    seq, token = self.log_request(name, scope, headers, body)
                    try:
                        await inner(scope, replay, hold)
                    finally:
                        self.request_done(seq, token)
                await self.write_log.sync(seq or 0)
                for message in held:
                    await answer(message)

            fault = self.faults.take(name, method, path)
            try:
                if fault is None:
                    await handle(record)
                elif fault.kind == "slow":
                    exchange.fault = "slow"
                    if fault.after:  # done now, answered late
                        held: list[dict[str, Any]] = []

                        async def keep(message: dict[str, Any]) -> None:
                            held.append(message)

                        await handle(keep)
                        await asyncio.sleep(fault.seconds or 0)
                        for message in held:
                            await record(message)
                    else:  # done late: after a client that gave up has looked
                        await asyncio.sleep(fault.seconds or 0)
                        await handle(record)
                else:
                    exchange.fault = fault.kind + (" after" if fault.after else "")
                    if fault.after:
                        await handle(_discard)
                    if fault.kind == "down":  # drop the connection: headers promised, then nothing
                        await record({"type": "http.response.start", "status": 200,
                                      "headers": [(b"content-length", b"1024")]})
                        raise DropConnection(f"{name} {path}")
                    if fault.kind == "malformed":
                        await _send(record, 200, MALFORMED_BODY, "application/json")
                        return
                    status = 429 if fault.kind == "429" else 500
                    await _send_error(module, status, fault.retry_after, record)
                    return
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


async def _send(send: Any, status: int, raw: bytes, content_type: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(raw)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


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
