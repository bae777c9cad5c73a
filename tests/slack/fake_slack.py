"""A stateful fake of the Slack Web API at the HTTP layer, for the slack server's tests.

It keeps users, channels (members, topic, archived), messages and thread replies; pages
``conversations.*`` and ``users.list`` with cursors; answers ``name_taken``; and can be told how
to fail the next calls of a method:

* ``fail("conversations.history", 429, {"Retry-After": "0"})``: answer with a status and body;
* ``hang("chat.postMessage")``: answer only after ``seconds`` (or when the test ends);
* ``garble("users.info", "truncated" | "cut")``: a JSON body cut in half (with a matching
  Content-Length), or a Content-Length the body never reaches.

``after_change=True`` (always for ``garble``) makes the fault come after the call took effect
(the message posted, the channel created), as when the answer is lost on the way back.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_TOKEN = "xoxb-fake-bot-0123456789"
USER_TOKEN = "xoxp-fake-user-0123456789"
BOT_ID = "UBOT00001"
CALLER_ID = "UCALLER01"
TEAM_URL = "https://acme.slack.com/"


@dataclass
class Channel:
    id: str
    name: str
    members: set[str] = field(default_factory=set)
    topic: str = ""
    is_private: bool = False
    is_archived: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)  # top level, any order
    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # thread ts -> replies


@dataclass
class Fault:
    kind: str  # "status", "hang", "truncated", "cut"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | str | None = None
    after_change: bool = False
    seconds: float = 30.0


class FakeSlack:
    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.calls: list[tuple[str, dict[str, Any], str | None]] = []
        self.failures: dict[str, list[Fault]] = {}
        self.release = threading.Event()
        self.garble_everything: str | None = None  # "truncated" or "cut": every answer
        self.lock = threading.Lock()
        self._next = 1
        self._ts = 1_767_000_000.0
        self.add_user(BOT_ID, "paii-bot", "PAII Bot", is_bot=True)
        self.add_user(CALLER_ID, "scott", "Scott Idler", email="scott@example.com")
        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up on a hanging answer: nothing to report

        self.server = Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # --------------------------------------------------------------- setup
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def start(self) -> FakeSlack:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def add_user(self, uid: str, name: str, real_name: str, *, email: str | None = None, is_bot: bool = False) -> None:
        self.users[uid] = {
            "id": uid,
            "name": name,
            "real_name": real_name,
            "is_bot": is_bot,
            "deleted": False,
            "tz": "Europe/London",
            "profile": {"display_name": name, "real_name": real_name, "email": email, "title": ""},
        }

    def add_channel(self, name: str, *, members: set[str] | None = None, **kw: Any) -> Channel:
        cid = f"C{self._next:08d}"
        self._next += 1
        ch = Channel(id=cid, name=name, members=set(members if members is not None else {BOT_ID}), **kw)
        self.channels[cid] = ch
        return ch

    def add_message(self, ch: Channel, user: str, text: str, *, ts: float | None = None, thread: str | None = None,
                    **extra: Any) -> str:
        if ts is None:
            self._ts = max(self._ts + 1, time.time())
            ts = self._ts
        tss = f"{ts:.6f}"
        msg = {"type": "message", "user": user, "text": text, "ts": tss, **extra}
        if thread:
            msg["thread_ts"] = thread
            ch.replies.setdefault(thread, []).append(msg)
            parent = next(m for m in ch.messages if m["ts"] == thread)
            parent["thread_ts"] = thread
            parent["reply_count"] = len(ch.replies[thread])
        else:
            ch.messages.append(msg)
        return tss

    def fail(self, method: str, status: int, headers: dict[str, str] | None = None,
             body: dict[str, Any] | str | None = None, times: int = 1, after_change: bool = False) -> None:
        body = body if body is not None else {"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"}
        self.failures.setdefault(method, []).extend(
            [Fault("status", status, headers or {}, body, after_change)] * times)

    def hang(self, method: str, *, seconds: float = 30.0, after_change: bool = False, times: int = 1) -> None:
        """The next calls get no answer for ``seconds`` (the test's end releases them)."""
        self.failures.setdefault(method, []).extend([Fault("hang", after_change=after_change, seconds=seconds)] * times)

    def garble(self, method: str, kind: str = "truncated", *, times: int = 1) -> None:
        """The next answers are cut (the call itself took effect)."""
        self.failures.setdefault(method, []).extend([Fault(kind, after_change=True)] * times)

    def methods(self) -> list[str]:
        return [c[0] for c in self.calls]

    def by_name(self, name: str) -> Channel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    # --------------------------------------------------------------- the API
    def _page(self, items: list[Any], params: dict[str, Any], key: str, default_limit: int = 100) -> tuple:
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or default_limit)
        chunk = items[start:start + limit]
        nxt = start + limit if start + limit < len(items) else None
        return 200, {}, {"ok": True, key: chunk, "has_more": nxt is not None,
                         "response_metadata": {"next_cursor": str(nxt) if nxt is not None else ""}}

    def _channel_json(self, ch: Channel, who: str) -> dict[str, Any]:
        return {"id": ch.id, "name": ch.name, "name_normalized": ch.name, "is_private": ch.is_private,
                "is_archived": ch.is_archived, "is_member": who in ch.members, "topic": {"value": ch.topic}}

    def handle(self, method: str, p: dict[str, Any], token: str | None) -> tuple[int, dict[str, str], Any]:
        who = {BOT_TOKEN: BOT_ID, USER_TOKEN: CALLER_ID}.get(token or "")
        if who is None:
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        err = lambda code, **kw: (200, {}, {"ok": False, "error": code, **kw})  # noqa: E731
        ok = lambda **kw: (200, {}, {"ok": True, **kw})  # noqa: E731

        def channel() -> Channel | tuple:
            ch = self.channels.get(p.get("channel", ""))
            if ch is None or (ch.is_private and who not in ch.members):
                return err("channel_not_found")
            return ch

        if method == "auth.test":
            return ok(url=TEAM_URL, team="Acme", user=self.users[who]["name"], user_id=who)
        if method == "conversations.create":
            name = p["name"]
            if any(c.name == name for c in self.channels.values()):
                return err("name_taken")
            ch = self.add_channel(name, members={who}, is_private=str(p.get("is_private")) in {"1", "true"})
            return ok(channel=self._channel_json(ch, who))
        if method == "conversations.list":
            visible = [self._channel_json(c, who) for c in sorted(self.channels.values(), key=lambda c: c.id)
                       if (not c.is_private or who in c.members)
                       and not (c.is_archived and str(p.get("exclude_archived")) in {"1", "true"})]
            return self._page(visible, p, "channels")
        if method == "conversations.info":
            ch = channel()
            return ch if isinstance(ch, tuple) else ok(channel=self._channel_json(ch, who))
        if method == "conversations.join":
            ch = channel()
            if isinstance(ch, tuple):
                return ch
            ch.members.add(who)
            return ok(channel=self._channel_json(ch, who))
        if method == "conversations.setTopic":
            ch = channel()
            if isinstance(ch, tuple):
                return ch
            if who not in ch.members:
                return err("not_in_channel")
            ch.topic = p["topic"]
            return ok(channel=self._channel_json(ch, who))
        if method == "conversations.invite":
            ch = channel()
            if isinstance(ch, tuple):
                return ch
            if who not in ch.members:
                return err("not_in_channel")
            users = str(p["users"]).split(",")
            for u in users:
                if u not in self.users:
                    return err("user_not_found")
                if u in ch.members:
                    return err("already_in_channel")
            ch.members.update(users)
            return ok(channel=self._channel_json(ch, who))
        if method in {"conversations.history", "conversations.replies"}:
            ch = channel()
            if isinstance(ch, tuple):
                return ch
            if who not in ch.members:
                return err("not_in_channel")
            if method == "conversations.history":
                oldest = float(p.get("oldest") or 0)
                items = sorted((m for m in ch.messages if float(m["ts"]) > oldest), key=lambda m: -float(m["ts"]))
            else:
                parent = next((m for m in ch.messages if m["ts"] == p["ts"]), None)
                if parent is None:
                    return err("thread_not_found")
                items = [parent, *sorted(ch.replies.get(p["ts"], []), key=lambda m: float(m["ts"]))]
            return self._page(items, p, "messages")
        if method == "chat.postMessage":
            ch = channel()
            if isinstance(ch, tuple):
                return ch
            if who not in ch.members:
                return err("not_in_channel")
            ts = self.add_message(ch, who, p.get("text", ""), thread=p.get("thread_ts"))
            return ok(channel=ch.id, ts=ts, message={"text": p.get("text"), "ts": ts})
        if method == "conversations.members":
            ch = channel()
            return ch if isinstance(ch, tuple) else self._page(sorted(ch.members), p, "members")
        if method == "users.info":
            u = self.users.get(p.get("user", ""))
            return ok(user=u) if u else err("user_not_found")
        if method == "users.lookupByEmail":
            u = next((u for u in self.users.values() if u["profile"].get("email") == p.get("email")), None)
            return ok(user=u) if u else err("users_not_found")
        if method == "users.list":
            return self._page(list(self.users.values()), p, "members")
        if method == "search.messages":
            if who != CALLER_ID:
                return err("not_allowed_token_type")
            q = p["query"].lower()
            hits = [dict(m, channel={"id": c.id, "name": c.name}, permalink=f"{TEAM_URL}archives/{c.id}/p{m['ts'].replace('.', '')}")
                    for c in self.channels.values() for m in c.messages if q in m["text"].lower()]
            count = int(p.get("count") or 20)
            return ok(messages={"matches": hits[:count], "total": len(hits), "pagination": {"total_count": len(hits)}})
        return err("unknown_method")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                method = parts.path.rsplit("/", 1)[-1]
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                params: dict[str, Any] = dict(parse_qsl(parts.query))
                if "json" in (self.headers.get("Content-Type") or ""):
                    params.update(json.loads(raw or "{}"))
                else:
                    params.update(parse_qsl(raw))
                auth = self.headers.get("Authorization") or ""
                token = auth[7:] if auth.startswith("Bearer ") else None
                with fake.lock:
                    fake.calls.append((method, params, token))
                    queue = fake.failures.get(method)
                    fault = queue.pop(0) if queue else None
                    if fault is None and fake.garble_everything:
                        fault = Fault(fake.garble_everything, after_change=True)
                    if fault is None or fault.after_change:
                        status, headers, body = fake.handle(method, params, token)
                if fault is not None and fault.kind == "status":
                    status, headers, body = fault.status, fault.headers, fault.body
                if fault is not None and fault.kind == "hang":
                    fake.release.wait(fault.seconds)
                    if fake.release.is_set():
                        self.close_connection = True
                        return
                    if not fault.after_change:
                        with fake.lock:
                            status, headers, body = fake.handle(method, params, token)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                length = len(data)
                if fault is not None and fault.kind in ("truncated", "cut"):
                    data = data[: len(data) // 2]
                    length = len(data) if fault.kind == "truncated" else length
                    self.close_connection = True
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/html")
                self.send_header("Content-Length", str(length))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        return Handler
