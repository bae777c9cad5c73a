"""``shift_activity``'s grouping: log entries of a window -> one entry per incident."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from paii_common.untrusted import short
from paii_pagerduty.models import TITLE_MAX, Incident, LogEntry, ShiftIncident

SHIFT_EVENTS = 10
REASON_MAX = 200


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(value: str | None) -> str:
    """A PagerDuty timestamp as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (comparable as text)."""
    if not value:
        return ""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return iso(when if when.tzinfo else when.replace(tzinfo=UTC))


_IN_WINDOW = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}


def _shift_incidents(entries: list[dict[str, Any]], user_id: str | None) -> list[ShiftIncident]:
    """Group log entries by incident; keep the user's incidents when ``user_id`` is given."""
    by_id: dict[str, ShiftIncident] = {}
    involved: set[str] = set()
    for entry in sorted(entries, key=lambda e: _utc(e.get("created_at"))):
        ref = entry.get("incident") or {}
        iid = ref.get("id")
        if not iid:
            continue
        inc = by_id.get(iid)
        if inc is None:
            base = Incident.from_api(ref) if ref.get("status") else Incident(id=iid, title=short(ref.get("summary"), TITLE_MAX))
            inc = by_id[iid] = ShiftIncident(**base.model_dump())
        event = LogEntry.from_api(entry)
        what = _IN_WINDOW.get(event.type)
        if what and what not in inc.in_window:
            inc.in_window.append(what)
        agent = entry.get("agent") or {}
        if event.type == "resolve":
            inc.resolved_by = event.by
            inc.auto_resolved = agent.get("type") not in ("user_reference", "user")
        if len(inc.events) < SHIFT_EVENTS:
            inc.events.append(event)
        if user_id:
            people = {agent.get("id")} | {a.get("id") for a in entry.get("assignees") or []}
            people |= {(a.get("assignee") or {}).get("id") for a in ref.get("assignments") or []}
            if user_id in people:
                involved.add(iid)
    found = [inc for iid, inc in by_id.items() if not user_id or iid in involved]
    # open incidents first, then by creation time
    return sorted(found, key=lambda i: (i.status == "resolved", _utc(i.created_at)))


def alert_reason(notes: list[dict[str, Any]], resolve_note: str | None) -> str | None:
    """Why an alert was suppressed or resolved itself, as a responder left it: the latest note on its
    incident, else the note of its resolve entry; None when nobody said (data, marked as such)."""
    latest = max(notes, key=lambda n: _utc(n.get("created_at")), default=None)
    text = (latest or {}).get("content") or resolve_note
    return short(text, REASON_MAX) or None
