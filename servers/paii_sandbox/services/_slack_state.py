"""The Slack sandbox's state and how the seed builds it (see ``slack`` in seed.yaml).

Messages live per channel in one list (thread replies carry ``thread_ts``); reply counts,
reply users and reactions are computed when a message is read. A channel's ``filler`` block
spreads ordinary chatter over a time range, deterministically, so the seed stays readable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from paii_sandbox.timeparse import parse_when

_BARE_URL = re.compile(r"(?<![<|])\bhttps?://[^\s<>|]+[^\s<>|.,:;!?)]")


def linkify(text: str) -> str:
    """Bare URLs as Slack stores them (``<https://...>``), as it does for every posted message."""
    return _BARE_URL.sub(lambda m: f"<{m.group(0)}>", text)


@dataclass
class SlackState:
    team: dict[str, str] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    bot_user: str = ""
    caller: str = ""
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    last_ts: float = 0.0
    counter: int = 0

    def next_ts(self, now: datetime) -> str:
        """A unique, increasing message ts (``1767319200.000100``) at or after ``now``."""
        ts = max(round(now.timestamp(), 6), round(self.last_ts + 0.0001, 6))
        self.last_ts = ts
        return f"{ts:.6f}"

    def new_channel_id(self) -> str:
        self.counter += 1
        return f"C0NEW{self.counter:05d}"

    def add_message(self, channel: str, user: str, text: str, ts: str, **extra: Any) -> dict[str, Any]:
        msg = {"type": "message", "user": user, "text": linkify(text), "ts": ts, **extra}
        bot = self.users.get(user, {}).get("bot_id")
        if bot:
            msg["bot_id"] = bot
        self.messages.setdefault(channel, []).append(msg)
        self.last_ts = max(self.last_ts, float(ts))
        return msg


def _ts(when: datetime, n: int = 0) -> str:
    return f"{when.timestamp() + n * 0.000001:.6f}"


def build(data: dict[str, Any], now: datetime) -> SlackState:
    st = SlackState(team=dict(data.get("team") or {"id": "T0SANDBOX", "name": "Sandbox", "domain": "sandbox"}))
    bot = data.get("bot") or {}
    for u in data.get("users") or []:
        st.users[u["id"]] = {"tz": "Europe/London", **u}
    if bot:
        st.users[bot["id"]] = {"name": bot.get("name", "paii"), "real_name": bot.get("real_name", "PAII"), "is_bot": True,
                               "bot_id": bot.get("bot_id", "B0PAIIBOT"), "tz": "Etc/UTC", **bot}
        st.bot_user = bot["id"]
    st.caller = data.get("caller") or next(iter(st.users), "")
    humans = [uid for uid, u in st.users.items() if not u.get("is_bot")]
    for spec in data.get("channels") or []:
        members = spec.get("members") or []
        if members == "all" or members == ["all"]:
            members = list(st.users)
        cid = spec["id"]
        st.channels[cid] = {
            "id": cid, "name": spec["name"], "is_private": bool(spec.get("private")), "is_archived": bool(spec.get("archived")),
            "created": parse_when(spec.get("created", "-400d"), now), "creator": spec.get("creator") or humans[0],
            "topic": spec.get("topic", ""), "purpose": spec.get("purpose", ""), "members": list(dict.fromkeys(members)),
        }
        st.messages[cid] = []
        for n, m in enumerate(spec.get("messages") or []):
            _seed_message(st, cid, m, now, n)
        filler = spec.get("filler")
        if filler:
            _seed_filler(st, cid, filler, now)
        st.messages[cid].sort(key=lambda m: float(m["ts"]))
    return st


def _seed_message(st: SlackState, cid: str, m: dict[str, Any], now: datetime, n: int) -> None:
    at = parse_when(m["at"], now)
    ts = _ts(at, n)
    extra = {"reactions": m["reactions"]} if m.get("reactions") else {}
    st.add_message(cid, m["user"], m["text"], ts, **extra)
    for k, reply in enumerate(m.get("replies") or []):
        rts = _ts(parse_when(reply["at"], now), k + 1)
        rextra = {"reactions": reply["reactions"]} if reply.get("reactions") else {}
        st.add_message(cid, reply["user"], reply["text"], rts, thread_ts=ts, **rextra)
    if m.get("replies"):
        st.messages[cid][-len(m["replies"]) - 1]["thread_ts"] = ts


def _seed_filler(st: SlackState, cid: str, spec: dict[str, Any], now: datetime) -> None:
    start, end = (parse_when(v, now) for v in spec["between"])
    count, users, texts = int(spec["count"]), spec["users"], spec["texts"]
    step = (end - start) / max(count, 1)
    for i in range(count):
        at = start + step * i + timedelta(seconds=(i * 37) % 50)
        st.add_message(cid, users[(i * 7 + i // len(users)) % len(users)], texts[i % len(texts)], _ts(at, i))
