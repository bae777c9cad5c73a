"""A small stateful fake of PagerDuty's REST API, served over real HTTP on 127.0.0.1.

It keeps incidents, notes, alerts and log entries in dicts, pages with offset/limit/more
(capping ``limit`` at ``max_limit`` like the real API caps at 100), records every request,
and can be told how to fail the next requests to a path:

* ``fail_next(method, path, 500, 503)``: answer with these statuses;
* ``hang_next(method, path)``: answer only after ``seconds`` (or when the test ends);
* ``garble_next(method, path, "truncated" | "cut")``: a JSON body cut in half (with a matching
  Content-Length), or a Content-Length the body never reaches (the connection closes early).

``after_change=True`` makes the fault come after the request took effect (the incident was
acknowledged, the note added), as when a proxy or the network loses PagerDuty's answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

TOKEN = "pd-test-token-Zq9xW2"
FROM = "oncall@example.com"


def ref(kind: str, id_: str, name: str) -> dict[str, Any]:
    return {"id": id_, "type": f"{kind}_reference", "summary": name, "self": f"https://api.pagerduty.com/x/{id_}"}


ME = {"id": "PUSER1", "type": "user", "name": "Sam Oncall", "email": FROM, "summary": "Sam Oncall"}
OTHER = {"id": "PUSER2", "type": "user", "name": "Alex Other", "email": "alex@example.com", "summary": "Alex Other"}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    method: str
    path: str
    kind: str  # "status", "hang", "truncated", "cut"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    after_change: bool = False
    seconds: float = 30.0


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class FakePagerDuty:
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    alerts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    log_entries: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    oncalls: list[dict[str, Any]] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[Fault] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    max_limit: int = 100
    url: str = ""

    # ------------------------------------------------------------------ setup
    def add_incident(self, n: int, status: str = "triggered", urgency: str = "high", **extra: Any) -> dict[str, Any]:
        iid = f"PINC{n:04d}"
        inc = {
            "id": iid,
            "type": "incident",
            "incident_number": n,
            "title": f"payments-api 500s #{n}",
            "summary": f"[#{n}] payments-api 500s #{n}",
            "status": status,
            "urgency": urgency,
            "created_at": f"2026-01-01T{(n % 24):02d}:00:00Z",
            "service": ref("service", "PSVC1", "payments-api"),
            "escalation_policy": ref("escalation_policy", "PEP1", "Payments EP"),
            "assignments": [{"assignee": ref("user", ME["id"], ME["name"])}],
            "acknowledgements": [],
            "priority": ref("priority", "PPRI1", "P1"),
            "html_url": f"https://acme.pagerduty.com/incidents/{iid}",
            "self": f"https://api.pagerduty.com/incidents/{iid}",
            "resolved_at": None,
            **extra,
        }
        self.incidents[iid] = inc
        self.notes.setdefault(iid, [])
        self.alerts.setdefault(iid, [])
        return inc

    def fail_next(
        self, method: str, path: str, *statuses: int, headers: dict[str, str] | None = None, after_change: bool = False
    ) -> None:
        for status in statuses:
            self.failures.append(Fault(method, path, "status", status, headers or {}, after_change))

    def hang_next(self, method: str, path: str, *, seconds: float = 30.0, after_change: bool = False, times: int = 1) -> None:
        """The next requests get no answer for ``seconds`` (the test's end releases them)."""
        for _ in range(times):
            self.failures.append(Fault(method, path, "hang", after_change=after_change, seconds=seconds))

    def garble_next(self, method: str, path: str, kind: str = "truncated", *, times: int = 1) -> None:
        """The next answers are cut (the request itself took effect)."""
        for _ in range(times):
            self.failures.append(Fault(method, path, kind, after_change=True))

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # ------------------------------------------------------------------ routing
    def take_fault(self, method: str, path: str) -> Fault | None:
        for i, fault in enumerate(self.failures):
            if fault.method == method and fault.path == path:
                del self.failures[i]
                return fault
        return None

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
        if method in ("PUT", "POST") and not self.last_headers.get("from"):
            return 400, {"error": {"message": "You must specify a user's email address in the From header", "code": 2001}}, {}
        q = {k: v for k, v in query.items()}
        m = re.fullmatch(r"/incidents/([A-Za-z0-9]+)(/\w+)?", path)
        if path == "/incidents" and method == "GET":
            statuses = q.get("statuses[]") or ["triggered", "acknowledged"]
            items = [i for i in self.incidents.values() if i["status"] in statuses]
            if q.get("urgencies[]"):
                items = [i for i in items if i["urgency"] in q["urgencies[]"]]
            if q.get("user_ids[]"):
                items = [
                    i for i in items if any(a["assignee"]["id"] in q["user_ids[]"] for a in i["assignments"])
                ]
            items.sort(key=lambda i: i["created_at"], reverse=True)
            return self.page("incidents", items, q)
        if m and method == "GET" and not m.group(2):
            inc = self.incidents.get(m.group(1))
            return (200, {"incident": inc}, {}) if inc else self.not_found()
        if m and method == "PUT" and not m.group(2):
            inc = self.incidents.get(m.group(1))
            if not inc:
                return self.not_found()
            change = body["incident"]
            if "status" in change:
                inc["status"] = change["status"]
                if change["status"] == "acknowledged":
                    inc["acknowledgements"] = [{"acknowledger": ref("user", ME["id"], ME["name"])}]
                if change["status"] == "resolved":
                    inc["resolved_at"] = "2026-01-02T08:00:00Z"
            if "assignments" in change:
                inc["assignments"] = [
                    {"assignee": ref("user", a["assignee"]["id"], a["assignee"]["id"])} for a in change["assignments"]
                ]
            if "escalation_level" in change:
                inc["escalation_level"] = change["escalation_level"]
                self.log_entries.append({
                    "id": f"LESC{len(self.log_entries)}", "type": "escalate_log_entry", "created_at": now_iso(),
                    "summary": f"Escalated to level {change['escalation_level']}", "agent": ref("user", ME["id"], ME["name"]),
                    "incident": ref("incident", inc["id"], inc["title"]),
                })
            if "escalation_policy" in change:
                inc["escalation_policy"] = ref("escalation_policy", change["escalation_policy"]["id"], change["escalation_policy"]["id"])
            return 200, {"incident": inc}, {}
        if m and m.group(2) == "/notes":
            if m.group(1) not in self.incidents:
                return self.not_found()
            if method == "POST":
                note = {
                    "id": f"PN{len(self.notes[m.group(1)]) + 1}",
                    "user": ref("user", ME["id"], ME["name"]),
                    "content": body["note"]["content"],
                    "created_at": now_iso(),
                }
                self.notes[m.group(1)].append(note)
                return 201, {"note": note}, {}
            return 200, {"notes": self.notes[m.group(1)]}, {}
        if m and m.group(2) == "/status_updates" and method == "POST":
            if m.group(1) not in self.incidents:
                return self.not_found()
            entry = {"id": f"LSU{len(self.log_entries)}", "type": "status_update_log_entry", "created_at": now_iso(),
                     "summary": "Status update sent", "message": body["message"], "agent": ref("user", ME["id"], ME["name"]),
                     "incident": ref("incident", m.group(1), self.incidents[m.group(1)]["title"])}
            self.log_entries.append(entry)
            return 200, {"status_update": {"id": entry["id"], "message": body["message"], "created_at": entry["created_at"],
                                           "sender": entry["agent"]}}, {}
        if m and m.group(2) == "/alerts":
            return self.page("alerts", self.alerts.get(m.group(1), []), q)
        if m and m.group(2) == "/log_entries":
            return self.page("log_entries", [e for e in self.log_entries if e["incident"]["id"] == m.group(1)], q)
        if path == "/log_entries":
            items = []
            for e in self.log_entries:
                e = dict(e)
                if "incidents" in (q.get("include[]") or []):
                    e["incident"] = self.incidents[e["incident"]["id"]]
                items.append(e)
            return self.page("log_entries", items, q)
        if path == "/oncalls":
            items = self.oncalls
            if q.get("escalation_policy_ids[]"):
                items = [o for o in items if o["escalation_policy"]["id"] in q["escalation_policy_ids[]"]]
            return self.page("oncalls", items, q)
        if path == "/services":
            return self.page("services", self.services, q)
        sm = re.fullmatch(r"/services/(\w+)", path)
        if sm:
            svc = next((s for s in self.services if s["id"] == sm.group(1)), None)
            return (200, {"service": svc}, {}) if svc else self.not_found()
        if path == "/maintenance_windows":
            return self.page("maintenance_windows", self.windows, q)
        if path == "/users/me":
            return 200, {"user": ME}, {}
        return self.not_found()

    last_headers: dict[str, str] = field(default_factory=dict)

    def page(self, key: str, items: list[Any], q: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        limit = min(int((q.get("limit") or ["25"])[0]), self.max_limit)
        offset = int((q.get("offset") or ["0"])[0])
        chunk = items[offset : offset + limit]
        return 200, {key: chunk, "limit": limit, "offset": offset, "more": offset + limit < len(items)}, {}

    @staticmethod
    def not_found() -> tuple[int, Any, dict[str, str]]:
        return 404, {"error": {"message": "Not Found", "code": 2100}}, {}


def serve(fake: FakePagerDuty) -> ThreadingHTTPServer:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _do(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                fake.last_headers = headers
                fake.requests.append(Recorded(self.command, parts.path, query, headers, body))
                fault = fake.take_fault(self.command, parts.path)
                if headers.get("authorization") != f"Token token={TOKEN}":
                    status, payload, extra = 401, {"error": {"message": "Unauthorized", "code": 2006}}, {}
                elif fault is None or fault.after_change:
                    status, payload, extra = fake.handle(self.command, parts.path, query, body)
            if fault is not None and fault.kind == "status":
                status, extra = fault.status, fault.headers
                payload = {"error": {"message": f"fake failure {fault.status}", "code": 9999}}
            if fault is not None and fault.kind == "hang":
                fake.release.wait(fault.seconds)
                if fake.release.is_set():
                    self.close_connection = True
                    return
                if not fault.after_change:
                    status, payload, extra = fake.handle(self.command, parts.path, query, body)
            data = json.dumps(payload).encode()
            length = len(data)
            if fault is not None and fault.kind == "truncated":
                data = data[: len(data) // 2]
                length = len(data)
            elif fault is not None and fault.kind == "cut":
                data = data[: len(data) // 2]
                self.close_connection = True
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(length))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = _do

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that gave up on a hanging answer: nothing to report

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server


@pytest.fixture
def fake_pd():
    fake = FakePagerDuty()
    server = serve(fake)
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
