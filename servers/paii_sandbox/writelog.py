"""The sandbox's write-ahead log: a request that may change the world is on disk before it is answered.

A sandbox with a folder keeps ``writes.log`` beside ``state.pickle``: one JSON line per request
that may change a service's state (a service's ``mutates(method, path)`` says which; by default
every method but GET and HEAD; WebSocket execs too), written before the service handles it and
fsynced before the answer leaves. Answers wait for one shared fsync (a group commit), so parallel
writers cost one disk flush per batch, not one each.

The snapshot (``state.pickle``, every half second while the world changes) records which entries
it already contains; once it is on disk and no logged request is still being handled, the log is
emptied. A sandbox started after a crash (kill -9 included) restores the snapshot and replays the
entries it does not contain, in order, each at the time it first ran: every write it acknowledged
is in its world again. A line cut short by the crash (never answered) is ignored.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("paii.sandbox")


class WriteLog:
    """An append-only JSON-lines file with a group-committed fsync."""

    def __init__(self, path: Path, *, start_seq: int = 0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.seq = start_seq  # the last entry written
        self.synced = start_seq  # the last entry known to be on disk
        self._flush: asyncio.Future[None] | None = None

    def append(self, entry: dict[str, Any]) -> int:
        """Write ``entry`` (numbered here) at the end of the log; returns its number. Not yet synced."""
        self.seq += 1
        line = json.dumps({"seq": self.seq, **entry}, separators=(",", ":")) + "\n"
        data = line.encode()
        while data:  # one write is all of it for a regular file; loop anyway
            data = data[os.write(self._fd, data):]
        return self.seq

    async def sync(self, seq: int) -> None:
        """Return once entry ``seq`` is on disk: one fsync (in a thread) serves every waiter behind it."""
        while self.synced < seq:
            if self._flush is not None:
                await asyncio.shield(self._flush)
                continue
            target = self.seq
            self._flush = asyncio.get_running_loop().create_future()
            try:
                await asyncio.to_thread(os.fsync, self._fd)
                self.synced = max(self.synced, target)
                self._flush.set_result(None)
            except BaseException as exc:
                self._flush.set_exception(exc)
                self._flush.exception()  # retrieved: the waiters re-raise it
                raise
            finally:
                self._flush = None

    def sync_now(self) -> None:
        os.fsync(self._fd)
        self.synced = self.seq

    def empty(self) -> None:
        """Drop every entry (a snapshot on disk holds them all now); numbering goes on."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)

    def close(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """The entries of a log file, in order; a torn or unreadable line ends the list (it was never answered)."""
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            return []
        entries = []
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                log.warning("the sandbox's write log %s ends with a line cut short: ignored (it was never answered)", path)
                break
            if isinstance(entry, dict) and isinstance(entry.get("seq"), int):
                entries.append(entry)
        return entries


def entry_of(service: str, scope: dict[str, Any], headers: dict[str, str], body: bytes, when: datetime) -> dict[str, Any]:
    """A log entry for a request (HTTP or WebSocket) a service is about to handle at ``when``."""
    entry = {"service": service, "kind": scope["type"], "method": scope.get("method", "GET"), "path": scope["path"],
             "query": (scope.get("query_string") or b"").decode("latin-1"), "headers": headers,
             "body": base64.b64encode(body).decode("ascii"), "now": when.isoformat()}
    if scope["type"] == "websocket":
        entry["subprotocols"] = list(scope.get("subprotocols") or [])
    return entry


def request_of(entry: dict[str, Any]) -> tuple[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]]]:
    """The ASGI scope and ``receive`` that replay a logged request (its answer goes nowhere)."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (entry.get("headers") or {}).items()]
    scope: dict[str, Any] = {"type": entry.get("kind", "http"), "method": entry["method"], "path": entry["path"],
                             "raw_path": entry["path"].encode(), "query_string": entry.get("query", "").encode("latin-1"),
                             "headers": headers, "scheme": "http", "server": ("127.0.0.1", 0), "client": ("127.0.0.1", 0),
                             "root_path": "", "http_version": "1.1", "asgi": {"version": "3.0"}}
    if scope["type"] == "websocket":
        scope["subprotocols"] = list(entry.get("subprotocols") or [])
        messages = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]
    else:
        body = base64.b64decode(entry.get("body", "").encode("ascii"))
        messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # nothing more comes: the app is done before
        return {"type": "http.disconnect"}

    return scope, receive
