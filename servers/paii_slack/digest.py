"""``channel_digest``: one bounded read of a channel, shaped for a summary.

History and thread replies are paged with cursors up to a message cap; what did not fit is
said in ``truncated_reason``. Message text is rendered (``<@U1>`` -> ``@alice``, ``<url|label>``
-> ``label (url)``) and then fenced as untrusted channel content; every name (authors, bots,
channels, reactions) goes through :func:`paii_common.untrusted.short`.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from paii_common import clock
from paii_common.untrusted import NOTE, fence

from paii_slack.client import SlackClient
from paii_slack.lookup import UserDirectory, clean_name
from paii_slack.models import ChannelDigest, ChannelRef, Link, Mention, Message, Reaction, Thread, UserRef

LABEL = "slack channel content"
MAX_TEXT = 2000  # characters of one message
MAX_URL = 500
SKIP_SUBTYPES = frozenset({"channel_join", "channel_leave", "bot_add", "bot_remove"})

_ANGLE = re.compile(r"<([^<>]+)>")
_URL = re.compile(r"^(https?://[^|\s]+)(?:\|(.*))?$")


def iso(ts: str | float) -> str:
    return datetime.fromtimestamp(float(ts), tz=UTC).strftime("%Y-%m-%dT%H:%MZ")


def author(msg: dict[str, Any], users: UserDirectory) -> str:
    if msg.get("user"):
        return users.name(msg["user"])
    bot = msg.get("bot_profile") or {}
    return clean_name(msg.get("username") or bot.get("name") or msg.get("bot_id") or "unknown")


def render(text: str, users: UserDirectory) -> tuple[str, list[str]]:
    """Slack markup -> readable text, and the links in it."""
    links: list[str] = []

    def sub(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner.startswith("@"):
            return "@" + users.name(inner[1:].split("|", 1)[0])
        if inner.startswith("#"):
            cid, _, name = inner[1:].partition("|")
            return "#" + (clean_name(name) or cid)
        if inner.startswith("!"):
            special, _, label = inner[1:].partition("|")
            return "@" + (label.lstrip("@") or special.split("^", 1)[0])
        url = _URL.match(inner)
        if url:
            links.append(url.group(1))
            return f"{url.group(2)} ({url.group(1)})" if url.group(2) else url.group(1)
        return match.group(0)

    out = html.unescape(_ANGLE.sub(sub, text or ""))
    return out, links


#: a reply that closes a thread: its text names the outcome
RESOLVED = re.compile(r"\b(resolved|fixed|closing|closed|mitigated|rolled back|reverted)\b|✅", re.I)
MAX_LINE = 400  # characters of one message in a block of lines
MAX_REPLIES = 25  # reply lines shown per thread (the latest ones, with the first)
MAX_THREAD_LINKS = 5


def _fold(text: str, limit: int = MAX_LINE) -> str:
    """One message for a block of lines: its own lines indented, so only a real message starts a line."""
    text = text.strip()
    if len(text) > limit:
        text = text[:limit].rstrip() + " […]"
    return "\n  ".join(line for line in text.splitlines() if line.strip()) or "(no text)"


class _Builder:
    def __init__(self, client: SlackClient, channel_id: str, caller_id: str | None, clock_format: str) -> None:
        self.client = client
        self.channel_id = channel_id
        self.caller_id = caller_id
        self.users = UserDirectory(client)
        self.links: dict[str, Link] = {}
        self.mentions: list[Mention] = []
        self.clock_format = clock_format

    def read(self, msg: dict[str, Any]) -> tuple[str, str, str, list[str], list[Reaction], bool]:
        """(ts, author, readable text, links, reactions, mentions the caller) of one message."""
        ts = str(msg.get("ts"))
        who = author(msg, self.users)
        raw = msg.get("text") or ""
        text, links = render(raw, self.users)
        for url in links:
            self.links.setdefault(url, Link(url=url[:MAX_URL], ts=ts, user=who))
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT] + " […]"
        mentioned = bool(self.caller_id and f"<@{self.caller_id}" in raw)
        if mentioned:
            self.mentions.append(Mention(ts=ts, time=iso(ts), by=who, text=fence(text, LABEL),
                                         permalink=self.client.permalink(self.channel_id, ts, msg.get("thread_ts"))))
        reactions = [Reaction(name=clean_name(r.get("name"), 40), count=int(r.get("count") or 0)) for r in msg.get("reactions") or []]
        return ts, who, text, links, reactions, mentioned

    def line(self, ts: str, who: str, text: str, reactions: list[Reaction]) -> str:
        when = datetime.fromtimestamp(float(ts), tz=UTC).strftime(self.clock_format)
        marks = f" [{', '.join(f':{r.name}: {r.count}' for r in reactions)}]" if reactions else ""
        return f"{when} @{who}: {_fold(text)}{marks}"

    def block(self, lines: list[str]) -> str | None:
        return fence("\n".join(lines), LABEL) if lines else None


def _singles(builder: _Builder, history: list[dict[str, Any]]) -> str | None:
    """Top-level messages as lines; the same text said again is folded into its first line (xN, by whom)."""
    order: list[str] = []
    seen: dict[str, dict[str, Any]] = {}
    for msg in history:
        ts, who, text, _, reactions, mentioned = builder.read(msg)
        if mentioned:
            continue  # in mentions, with its permalink
        key = " ".join(text.lower().split())
        if key in seen and key:
            seen[key]["more"].append(who)
            continue
        seen[key] = {"line": builder.line(ts, who, text, reactions), "more": []}
        order.append(key)
    lines = []
    for key in order:
        rec = seen[key]
        if rec["more"]:
            people = list(dict.fromkeys(rec["more"]))
            rec["line"] += f" (x{len(rec['more']) + 1}, also by {', '.join(people[:5])}{'…' if len(people) > 5 else ''})"
        lines.append(rec["line"])
    return builder.block(lines)


def _thread(builder: _Builder, msg: dict[str, Any], replies: list[dict[str, Any]], more: bool) -> Thread:
    ts, who, text, links, reactions, _ = builder.read(msg)
    people, lines, urls, resolution = [who], [], list(links), None
    for r in sorted(replies, key=lambda r: float(r.get("ts") or 0)):
        rts, rwho, rtext, rlinks, rreactions, _ = builder.read(r)
        people.append(rwho)
        urls += rlinks
        lines.append(builder.line(rts, rwho, rtext, rreactions))
        if RESOLVED.search(rtext):
            resolution = Message(ts=rts, time=iso(rts), user=rwho, text=fence(rtext, LABEL), reactions=rreactions)
    if len(lines) > MAX_REPLIES:
        cut = len(lines) - MAX_REPLIES + 1
        lines = [lines[0], f"(… {cut} replies not shown: open the thread)", *lines[-(MAX_REPLIES - 1):]]
    return Thread(
        ts=ts, time=iso(ts), started_by=who, permalink=builder.client.permalink(builder.channel_id, ts),
        reply_count=int(msg.get("reply_count") or len(replies)), participants=list(dict.fromkeys(people)),
        reactions=reactions, links=list(dict.fromkeys(u[:MAX_URL] for u in urls))[:MAX_THREAD_LINKS],
        first=fence(text, LABEL), replies=builder.block(lines), resolution=resolution, replies_truncated=more,
    )


def build_digest(
    client: SlackClient,
    channel_id: str,
    channel_name: str | None,
    *,
    hours: float,
    max_messages: int,
    now: float | None = None,
) -> ChannelDigest:
    now = clock.timestamp() if now is None else now
    oldest = now - hours * 3600
    if channel_name is None:
        info = client.call("conversations.info", channel=channel_id).get("channel") or {}
        channel_name = info.get("name")
    channel_name = clean_name(channel_name) or None

    caller: UserRef | None = None
    who = client.auth("user" if client.has_user_token else "bot")
    builder = _Builder(client, channel_id, who.get("user_id"), "%H:%M" if hours <= 24 else "%m-%d %H:%M")
    if who.get("user_id"):
        caller = UserRef(id=who["user_id"], name=builder.users.name(who["user_id"]))

    history, more = client.paginate(
        "conversations.history",
        "messages",
        limit=200,
        max_items=max_messages,
        max_pages=max_messages // 200 + 5,
        channel=channel_id,
        oldest=f"{oldest:.6f}",
    )
    history = [m for m in history if m.get("subtype") not in SKIP_SUBTYPES]
    history.sort(key=lambda m: float(m.get("ts") or 0))
    reasons: list[str] = []
    if more:
        reasons.append(f"the window has more than {max_messages} messages: only the newest {len(history)} were read; ask for fewer hours")

    budget = max_messages - len(history)
    count = len(history)
    skipped_threads = 0
    # the newest threads are fetched first when the budget is short
    parents = {m["ts"] for m in history if int(m.get("reply_count") or 0) > 0 and m.get("thread_ts", m["ts"]) == m["ts"]}
    replies_of: dict[str, tuple[list[dict[str, Any]], bool]] = {}
    for ts in sorted(parents, key=float, reverse=True):
        if budget <= 0:
            skipped_threads += 1
            continue
        replies, rmore = client.paginate(
            "conversations.replies", "messages", limit=200, max_items=budget + 1, max_pages=budget // 200 + 5,
            channel=channel_id, ts=ts,
        )
        replies = [r for r in replies if r.get("ts") != ts]
        if len(replies) > budget:
            replies, rmore = replies[:budget], True
        budget -= len(replies)
        count += len(replies)
        replies_of[ts] = (replies, rmore)

    threads = [_thread(builder, m, *replies_of.get(m["ts"], ([], True))) for m in history if m["ts"] in parents]
    singles = _singles(builder, [m for m in history if m["ts"] not in parents])
    if skipped_threads:
        reasons.append(f"replies of {skipped_threads} thread(s) were not read (cap of {max_messages} messages)")
    elif any(t.replies_truncated for t in threads):
        reasons.append(f"some threads have more replies than were read (cap of {max_messages} messages)")

    return ChannelDigest(
        note=NOTE,
        channel=ChannelRef(id=channel_id, name=channel_name),
        since=iso(oldest),
        until=iso(now),
        caller=caller,
        message_count=count,
        messages=singles,
        threads=threads,
        mentions=sorted(builder.mentions, key=lambda m: float(m.ts)),
        links=list(builder.links.values()),
        truncated=bool(reasons),
        truncated_reason="; ".join(reasons) or None,
    )
