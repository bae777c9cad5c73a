"""``get_timeline``: an incident channel's messages in a window as timeline events.

Each message (thread replies included, joins too) becomes one event whose ``kind`` is decided by
plain rules on its text, in this order, so the same text always gets the same kind:

* Slack's own ``channel_join`` message: ``joined``;
* a code block, or a line that starts with ``$`` or a CLI (kubectl, psql, helm...): ``command``;
* "status update": ``status_update``; "acknowledged": ``acknowledged``; "mitigated", "back to
  normal", "recovered": ``mitigated``; "resolved": ``resolved`` (none of them after "not"/"n't");
* "decided", "decision", "we will", "let's", "going to": ``decision``;
* the first other message of the window: ``report`` (who raised it); the rest: ``message``.

The kinds only say what a message looks like; the merge trusts PagerDuty's acknowledgement and
resolution over a chat message's (paii_history.timeline). The text is fenced: data.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from paii_common import timeline as tl
from paii_common.untrusted import fence

from paii_slack.client import SlackClient
from paii_slack.digest import LABEL, MAX_TEXT, author, render
from paii_slack.lookup import UserDirectory

MAX_MESSAGES = 300
SKEW = 1.0  # seconds past `until` still read: a message posted "now" can carry a ts a little after it
_NOT = r"(?<!not )(?<!n't )(?<!never )"
RULES = [
    ("command", re.compile(r"```|^\s*\$ \S|^\s*(kubectl|psql|helm|curl|python|docker|aws|gcloud|terraform) ", re.M)),
    ("status_update", re.compile(r"\bstatus update\b", re.I)),
    ("acknowledged", re.compile(_NOT + r"\backnowledged\b", re.I)),
    ("mitigated", re.compile(_NOT + r"\b(mitigated|back to normal|recovered)\b", re.I)),
    ("resolved", re.compile(_NOT + r"\bresolved\b", re.I)),
    ("decision", re.compile(r"\b(decided|decision|we will|we'll|let's|going to)\b", re.I)),
]
WHAT = {"joined": "joined", "command": "pasted a command", "status_update": "posted a status update",
        "acknowledged": "said it is acknowledged", "mitigated": "said it is mitigated", "resolved": "said it is resolved",
        "decision": "recorded a decision", "report": "reported it", "message": "wrote"}


def classify(text: str, subtype: str | None, first: bool) -> str:
    if subtype == "channel_join":
        return "joined"
    for kind, rule in RULES:
        if rule.search(text or ""):
            return kind
    return "report" if first else "message"


def build(client: SlackClient, channel_id: str, channel_name: str | None, since: str, until: str) -> tl.Timeline:
    begin, end = tl.window(since, until, default=timedelta(hours=24))
    if channel_name is None:
        info = client.call("conversations.info", channel=channel_id).get("channel") or {}
        channel_name = info.get("name")
    where = f"#{channel_name}" if channel_name else channel_id
    top, more = client.paginate("conversations.history", "messages", limit=200, max_items=MAX_MESSAGES,
                                max_pages=MAX_MESSAGES // 200 + 2, channel=channel_id,
                                oldest=f"{begin.timestamp():.6f}", latest=f"{end.timestamp() + SKEW:.6f}", inclusive=True)
    messages = list(top)
    budget = MAX_MESSAGES - len(messages)
    for parent in [m for m in top if int(m.get("reply_count") or 0) > 0]:
        if budget <= 0:
            more = True
            break
        replies, rmore = client.paginate("conversations.replies", "messages", limit=200, max_items=budget + 1,
                                         max_pages=3, channel=channel_id, ts=parent["ts"])
        replies = [r for r in replies if r.get("ts") != parent["ts"] and begin.timestamp() <= float(r.get("ts") or 0)
                   <= end.timestamp() + SKEW][:budget]
        budget -= len(replies)
        more = more or rmore
        messages += replies
    users = UserDirectory(client)
    events: list[tl.TimelineEvent] = []
    first = True
    for m in sorted(messages, key=lambda x: float(x.get("ts") or 0)):
        ts = str(m.get("ts") or "")
        text, _ = render(m.get("text") or "", users)
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT] + " […]"
        kind = classify(text, m.get("subtype"), first)
        first = first and kind == "joined"
        who = author(m, users)
        events.append(tl.TimelineEvent(
            time=tl.iso(datetime.fromtimestamp(float(ts or 0), UTC)), source="slack", kind=kind, actor=who,
            event=f"Slack {where}: @{who} {WHAT[kind]}", text=None if kind == "joined" else fence(text, LABEL),
            link=client.permalink(channel_id, ts, m.get("thread_ts")), ref=f"{channel_id}/{ts}"))
    events, reason = tl.cap(events)
    if more:
        reason = f"the window has more than {MAX_MESSAGES} messages: narrow it" + (f"; {reason}" if reason else "")
    return tl.Timeline(source="slack", since=tl.iso(begin), until=tl.iso(end), events=events, truncated=bool(reason),
                       truncated_reason=reason)
