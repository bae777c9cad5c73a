"""``get_timeline``: an issue's creation, changelog and comments in a window as timeline events.

A status change to a done status (Done, Resolved, Closed, or the Done category) is ``resolved``,
another status change or a field change is ``change``, an assignee change ``assigned``, a comment
``comment`` (its body fenced: data). Field values other than status and assignee are left out:
the event says which fields changed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from paii_common import timeline as tl
from paii_common.untrusted import fence, short

from paii_jira import answers as A
from paii_jira import history as h
from paii_jira.adf import to_text
from paii_jira.client import JiraClient

LABEL = "jira text"
DONE = {"done", "resolved", "closed", "fixed", "complete", "completed"}
MAX_COMMENTS = 100


def _in(when: Any, begin: Any, end: Any) -> bool:
    return when is not None and begin <= when <= end


def build(jira: JiraClient, key: str, since: str, until: str) -> tl.Timeline:
    issue = jira.get(f"{jira.api}/issue/{key}", {"fields": "summary,created,reporter,status"}, expect=A.IssueRef)
    f = issue.fields or {}
    created = h.parse_time(f.get("created"))
    begin, end = tl.window(since, until, default=timedelta(days=2), start=created)
    link = jira.browse_url(key)
    events: list[tl.TimelineEvent] = []

    def add(when: Any, kind: str, actor: str | None, what: str, text: str | None = None, ref: str | None = None) -> None:
        if _in(when, begin, end):
            events.append(tl.TimelineEvent(time=tl.iso(when), source="jira", kind=kind, actor=actor, event=f"Jira {key}: {what}",
                                           text=fence(text, LABEL) if text else None, link=link, ref=ref))

    reporter = short(h.name_of(f.get("reporter"))) or None
    add(created, "created", reporter, f"created by {reporter or 'someone'}", ref=f"{key}/created")
    for entry in jira.changelog(key):
        when = h.parse_time(entry.get("created"))
        who = short(h.name_of(entry.get("author"))) or None
        fields = []
        for item in entry.get("items") or []:
            name = str(item.get("field") or item.get("fieldId") or "?")
            if name.lower() == "status":
                to = str(item.get("toString") or "?")
                kind = "resolved" if to.strip().lower() in DONE else "change"
                add(when, kind, who, f"status {short(item.get('fromString')) or '?'} -> {short(to)} by {who or 'someone'}",
                    ref=f"{key}/{entry.get('id')}/status")
            elif name.lower() == "assignee":
                add(when, "assigned", who, f"assigned to {short(item.get('toString')) or 'nobody'} by {who or 'someone'}",
                    ref=f"{key}/{entry.get('id')}/assignee")
            else:
                fields.append(short(name, 40))
        if fields:
            add(when, "change", who, f"{', '.join(fields)} changed by {who or 'someone'}", ref=f"{key}/{entry.get('id')}")
    page = jira.get(f"{jira.api}/issue/{key}/comment", {"orderBy": "created", "maxResults": MAX_COMMENTS},
                    expect=A.Comments)
    comments = page.comments
    for c in comments:
        who = short(h.name_of(c.get("author"))) or None
        add(h.parse_time(c.get("created")), "comment", who, f"comment by {who or 'someone'}", to_text(c.get("body"), 1500),
            ref=f"{key}/comment/{c.get('id')}")
    events, reason = tl.cap(events)
    if int(page.total or len(comments)) > len(comments):
        reason = f"more than {MAX_COMMENTS} comments: the first {MAX_COMMENTS} were read" + (f"; {reason}" if reason else "")
    return tl.Timeline(source="jira", since=tl.iso(begin), until=tl.iso(end), events=events, truncated=bool(reason),
                       truncated_reason=reason)
