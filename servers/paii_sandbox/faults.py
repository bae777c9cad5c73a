"""Faults on demand: what a service answers instead of (or before) its normal response.

    429        rate limited: the service's own 429 shape with ``Retry-After`` (``times`` requests)
    500        a server error
    malformed  200 with a body of the wrong shape (:data:`MALFORMED_BODY`)
    slow       wait ``seconds`` before doing the request and answering (a write lands late: after
               a client that gave up has read the state back)
    down       the service stops listening (connection refused) until the fault is cleared;
               with a ``path`` or ``method``, matching requests get their connection dropped instead

``after=True`` does the request first, then answers with the fault (500, malformed, a dropped
connection; ``slow``: the answer is late, the change is not): the outcome of a write is unknown to
the caller, and the change happened. ``applied`` on a journal entry says whether the service
itself handled the request.

A fault applies to one service, optionally to one method and to the request paths matching
``path`` (a glob: ``/incidents/*/notes``, ``/api/chat.postMessage``), for ``times`` requests
(None: until cleared), after letting the first ``skip`` of them through. Set them with ``paii sandbox fault``, the admin endpoint, or per path
in the seed file (a ``faults:`` list in a service's section).
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("429", "500", "malformed", "slow", "down")
#: what a ``malformed`` fault answers, with status 200
MALFORMED_BODY = b'{"unexpected":[1,2,3],"ok":true}'


class DropConnection(Exception):
    """Raised inside a response to make the server close the connection (a per-path ``down``)."""


@dataclass
class Fault:
    service: str
    kind: str
    times: int | None = None
    retry_after: float | None = None
    seconds: float | None = None
    path: str | None = None
    method: str | None = None
    after: bool = False
    skip: int = 0
    hits: int = field(default=0)

    def __post_init__(self) -> None:
        self.kind = str(self.kind)
        if self.kind not in KINDS:
            raise ValueError(f"fault {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "slow" and not self.seconds:
            raise ValueError("a slow fault needs seconds (e.g. slow 5s)")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1")
        if self.skip < 0:
            raise ValueError("skip must be 0 or more")
        if self.method:
            self.method = self.method.upper()
        if self.after and self.kind == "429":
            raise ValueError("a 429 refuses the request before doing it: --after does not apply")
        if self.after and self.kind == "down" and not (self.path or self.method):
            raise ValueError("down --after needs --path or --method (the connection of matching requests is dropped "
                             "after the change)")
        if self.kind == "429" and self.retry_after is None:
            self.retry_after = 1.0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method.upper():
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)

    @property
    def whole_service_down(self) -> bool:
        return self.kind == "down" and self.path is None and self.method is None

    def describe(self) -> str:
        if self.kind == "429":
            what = f"429 (Retry-After {self.retry_after or 0:g} s)"
        elif self.kind == "slow":
            what = f"slow {self.seconds or 0:g} s"
        else:
            what = {"down": "connection dropped"}.get(self.kind, self.kind) if self.path or self.method else self.kind
        if self.after:
            what += " after the change"
        target = " ".join(part for part in (self.method, self.path) if part)
        where = f" on {target}" if target else ""
        left = f", {self.times - self.hits} more time(s)" if self.times is not None else ""
        if self.skip:
            left += f", after letting {self.skip} through"
        return f"{self.service}: {what}{where}{left}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultTable:
    """The active faults of a world; thread-safe (the CLI's admin calls and requests share it)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self, service: str | None = None, path: str | None = None) -> list[Fault]:
        """Remove the faults of ``service`` (every service when None), only those on ``path`` if given."""
        with self._lock:
            gone = [f for f in self._faults if (service is None or f.service == service) and (path is None or f.path == path)]
            self._faults = [f for f in self._faults if f not in gone]
        return gone

    def take(self, service: str, method: str, path: str) -> Fault | None:
        """The first fault that applies to this request, counting it; None if the request goes through."""
        with self._lock:
            for fault in self._faults:
                if fault.service != service or fault.whole_service_down or not fault.matches(method, path):
                    continue
                if fault.skip:
                    fault.skip -= 1
                    continue
                fault.hits += 1
                if fault.times is not None and fault.hits >= fault.times:
                    self._faults.remove(fault)
                return fault
        return None

    def is_down(self, service: str) -> bool:
        with self._lock:
            return any(f.service == service and f.whole_service_down for f in self._faults)

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)
