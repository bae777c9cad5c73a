"""``get_timeline``: an incident's log entries and notes as timeline events, and the clock of its
stakeholder updates (minutes since the last one: computed here, never by the model).

Log entry types map to kinds: trigger -> detected, acknowledge -> acknowledged, escalate ->
escalated, assign/delegate -> assigned, resolve -> resolved, status_update -> status_update.
Notify entries (who got a phone call) are left out: noise for a post-mortem. Notes come from the
notes endpoint, in full and fenced, instead of the annotate entries' first 100 characters.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field

from paii_common import timeline as tl
from paii_common.untrusted import fence, short
from paii_pagerduty.client import PagerDutyClient

LOG_CAP = 300
KINDS = {"trigger": "detected", "acknowledge": "acknowledged", "unacknowledge": "other", "escalate": "escalated",
         "assign": "assigned", "delegate": "assigned", "resolve": "resolved", "status_update": "status_update",
         "urgency_change": "change", "snooze": "other"}
VERBS = {"trigger": "triggered", "acknowledge": "acknowledged", "unacknowledge": "unacknowledged",
         "escalate": "escalated", "assign": "reassigned", "delegate": "reassigned", "resolve": "resolved",
         "status_update": "status update sent", "urgency_change": "urgency changed", "snooze": "snoozed"}
SKIP = {"notify", "annotate"}  # notify: noise; annotate: the notes endpoint has the whole text
STATUS_UPDATE = "status_update_log_entry"
LABEL = "pagerduty text"


class IncidentTimeline(tl.Timeline):
    incident_id: str
    status: str = ""
    last_status_update: str | None = None
    minutes_since_update: int | None = Field(
        default=None, description="Since the last status update (or the trigger when none): 30 or more, offer one.")


def status_message(entry: dict[str, Any]) -> str:
    """The text of a status update log entry (the API names the field ``message``)."""
    return str(entry.get("message") or (entry.get("channel") or {}).get("summary") or "")


def status_updates(pd: PagerDutyClient, incident_id: str, since: str | None = None) -> list[dict[str, Any]]:
    """The incident's status update log entries, oldest first."""
    params: dict[str, Any] = {"since": since} if since else {}
    entries, _ = pd.list(f"/incidents/{incident_id}/log_entries", params, limit=LOG_CAP, max_pages=3,
                         call="GET /incidents/{id}/log_entries")
    found = [e for e in entries if e.get("type") == STATUS_UPDATE]
    return sorted(found, key=lambda e: str(e.get("created_at") or ""))


def build(pd: PagerDutyClient, incident: dict[str, Any], since: str, until: str) -> IncidentTimeline:
    iid = incident["id"]
    now = tl.parse("now", "now")
    start = tl.parse(since, "since", now=now) or tl.event_time(incident.get("created_at"))
    resolved = tl.event_time(incident.get("resolved_at")) if incident.get("status") == "resolved" else None
    end = tl.parse(until, "until", now=now) or resolved or now
    if start is None or start >= end:
        start = end - timedelta(hours=6)
    if not since:  # the incident's own span, never longer than a timeline read covers
        start = max(start, end - tl.WINDOW_MAX)
    begin, finish = tl.window(tl.iso(start), tl.iso(end))
    link = incident.get("html_url")
    entries, cut = pd.list(f"/incidents/{iid}/log_entries", {"since": tl.iso(begin), "until": tl.iso(finish)},
                           limit=LOG_CAP, max_pages=4, call="GET /incidents/{id}/log_entries")
    events: list[tl.TimelineEvent] = []
    for e in entries:
        kind = str(e.get("type") or "").removesuffix("_log_entry")
        when = tl.event_time(e.get("created_at"))
        if kind in SKIP or when is None:
            continue
        agent = e.get("agent") or {}
        actor = short(agent.get("summary") or agent.get("id")) or None
        text = e.get("note") or (status_message(e) if kind == "status_update" else None)
        summary = f"{VERBS[kind]} by {actor or 'PagerDuty'}" if kind in VERBS else short(e.get("summary"), 200) or kind
        events.append(tl.TimelineEvent(
            time=tl.iso(when), source="pagerduty", kind=KINDS.get(kind, "other"), actor=actor,
            event=f"PagerDuty: {summary}", text=fence(text, LABEL) if text else None,
            link=e.get("html_url") or link, ref=str(e.get("id") or "") or None))
    notes = pd.get(f"/incidents/{iid}/notes", call="GET /incidents/{id}/notes") or []
    for n in notes:
        when = tl.event_time(n.get("created_at"))
        if when is None or not begin <= when <= finish:
            continue
        who = short((n.get("user") or {}).get("summary")) or None
        events.append(tl.TimelineEvent(
            time=tl.iso(when), source="pagerduty", kind="note", actor=who,
            event=f"PagerDuty: note by {who or 'someone'}", text=fence(n.get("content"), LABEL), link=link,
            ref=str(n.get("id") or "") or None))
    events, reason = tl.cap(events)
    if cut:
        reason = f"more than {LOG_CAP} log entries: the first {LOG_CAP} were read" + (f"; {reason}" if reason else "")
    updates = [e for e in entries if e.get("type") == STATUS_UPDATE]
    last = max((str(e.get("created_at")) for e in updates), default=None)
    since_last = tl.event_time(last) or tl.event_time(incident.get("created_at"))
    minutes = int((now - since_last).total_seconds() // 60) if since_last and incident.get("status") != "resolved" else None
    return IncidentTimeline(
        source="pagerduty", since=tl.iso(begin), until=tl.iso(finish), events=events, truncated=bool(reason),
        truncated_reason=reason, incident_id=iid, status=str(incident.get("status") or ""),
        last_status_update=tl.iso(tl.event_time(last)) if tl.event_time(last) else None, minutes_since_update=minutes)
