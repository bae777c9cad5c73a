"""Writes whose answer may be lost: read the incident back and report the truth.

The client never re-sends a PUT or POST after a 5xx, an unreadable body or a timeout; it
raises :class:`~paii_pagerduty.client.WriteLost`. Here the tools read the state back within
what is left of their deadline (a share of it is reserved for that before the write):

* the update happened: the tool succeeds and says PagerDuty did not confirm it;
* it did not: an :class:`~paii_common.errors.UpstreamError` says so ("... is not
  acknowledged (status: triggered)") and whether retrying is safe now (PagerDuty answered)
  or the write may still be in flight (no answer came);
* the read back fails too: :class:`~paii_common.errors.OutcomeUnknown` says how to find out.

A note is added once: before posting, the incident's recent notes are searched for the same
text (the last :data:`NOTE_LOOKBACK` notes, written in the last :data:`NOTE_WINDOW`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from paii_common import clock
from paii_common.calls import still_awaited
from paii_common.errors import OutcomeUnknown, PaiiError, UpstreamError
from paii_pagerduty.client import SERVICE, PagerDutyClient, WriteLost
from paii_pagerduty.models import Incident, IncidentState, Note, NoteResult, StatusUpdateResult

READ_BACK_SHARE = 0.25  # of a write's time, kept free to read the state back
NOTE_WINDOW = timedelta(hours=1)
NOTE_LOOKBACK = 20
INCIDENT = "/incidents/{}"
CALL_PUT = "PUT /incidents/{id}"
CALL_GET = "GET /incidents/{id}"

#: (the incident read back, when the write started) -> did the write happen?
Check = Callable[[dict[str, Any], datetime], bool]


def _reserve(pd: PagerDutyClient) -> float:
    left = pd.time_left()
    return min(pd.read_timeout, READ_BACK_SHARE * (left if left is not None else pd.write_timeout))


def _first_sentence(exc: Exception) -> str:
    text = str(exc)
    return text.split(". ", 1)[0].rstrip(".")


def _read_back(lost: WriteLost, read: Callable[[], Any], *, see: str, how: str) -> Any:
    try:
        return read()
    except PaiiError as exc:
        raise OutcomeUnknown(
            SERVICE,
            lost.call,
            lost.detail,
            status=lost.status,
            check=f"reading it back failed too ({_first_sentence(exc)}). Call {how} to see {see} before retrying.",
        ) from None


def _not_done_hint(lost: WriteLost, action: str) -> str:
    if lost.answered:
        return f"PagerDuty answered, so the change was not made: {action}."
    return f"No answer came, so the write may still be in flight: check with get_incident in a minute before you {action}."


def update_incident(
    pd: PagerDutyClient, incident_id: str, fields: dict[str, Any], *, goal: str, check: Check, tool: str
) -> IncidentState:
    """PUT ``fields``; if the answer is lost, read the incident back and say whether it is ``goal``."""
    body = {"incident": {"type": "incident_reference", **fields}}
    started = clock.now()
    try:
        return IncidentState(incident=Incident.from_api(pd.put(INCIDENT.format(incident_id), body, call=CALL_PUT, reserve=_reserve(pd))))
    except WriteLost as lost:
        how = f"get_incident(incident_id={incident_id!r})"
        now = _read_back(lost, lambda: pd.get(INCIDENT.format(incident_id), call=CALL_GET), see=f"whether it is {goal}", how=how)
        done = _read_back(lost, lambda: check(now, started), see=f"whether it is {goal}", how=how)
        if done:
            return IncidentState(
                incident=Incident.from_api(now),
                note=f"PagerDuty did not confirm the update ({lost.reason}), but reading the incident back shows it is {goal}.",
            )
        raise UpstreamError(
            SERVICE,
            lost.call,
            f"{lost.detail}; reading the incident back shows it is not {goal} (status: {now.get('status') or 'unknown'})",
            status=lost.status,
            hint=_not_done_hint(lost, f"retry {tool}"),
        ) from None


def escalation_check(pd: PagerDutyClient, incident_id: str, fields: dict[str, Any],
                     before: set[str] | None = None) -> tuple[str, Check, set[str] | None]:
    """What an escalation should have changed, how to see it in the incident read back, and the
    escalate log entries there were before (``before``: those of an earlier call with the same values)."""
    goals: list[str] = []
    checks: list[Check] = []
    if "assignments" in fields:
        wanted = [a["assignee"]["id"] for a in fields["assignments"]]
        goals.append(f"reassigned to {', '.join(wanted)}")
        checks.append(lambda inc, _s: set(wanted) <= {(a.get("assignee") or {}).get("id") for a in inc.get("assignments") or []})
    if "escalation_policy" in fields:
        policy = fields["escalation_policy"]["id"]
        goals.append(f"on escalation policy {policy}")
        checks.append(lambda inc, _s: (inc.get("escalation_policy") or {}).get("id") == policy)
    if "escalation_level" in fields:
        goals.append("escalated")
        # the incident does not show its level, its log does: an escalate entry that was not
        # there before the write (read now, before it) shows the escalation happened
        seen = _escalations(pd, incident_id) if before is None else before
        before = seen
        checks.append(lambda _inc, _s: bool(_escalations(pd, incident_id) - seen))

    def check(inc: dict[str, Any], started: datetime) -> bool:
        return all(c(inc, started) for c in checks)

    return " and ".join(goals), check, before


PENDING_S = 600.0  # how long an escalation whose outcome was unknown is remembered


def escalate(pd: PagerDutyClient, incident_id: str, fields: dict[str, Any]) -> IncidentState:
    """Escalate once: a repeat of an escalation whose answer was lost first reads the incident back, and
    does not escalate again (a second escalation pages the next level again) when the first one landed."""
    key = (incident_id, json.dumps(fields, sort_keys=True))
    earlier = pd.pending.get(key)
    if earlier is not None and time.monotonic() - earlier[0] > PENDING_S:
        earlier = None
    goal, check, before = escalation_check(pd, incident_id, fields, before=earlier[1] if earlier else None)
    if earlier is not None:
        now = pd.get(INCIDENT.format(incident_id), call=CALL_GET)
        if check(now, clock.now()):
            pd.pending.pop(key, None)
            return IncidentState(
                incident=Incident.from_api(now), changed=False,
                note=f"An earlier escalate_incident call with the same values (its answer was lost) did it: the incident "
                     f"is {goal}. Not escalated again.")
    pd.pending[key] = (time.monotonic(), before or set())  # until this call answers
    result = update_incident(pd, incident_id, fields, goal=goal, check=check, tool="escalate_incident")
    if still_awaited():  # (not when the tool's deadline already answered "unknown" for it)
        pd.pending.pop(key, None)
    return result


def _escalations(pd: PagerDutyClient, incident_id: str) -> set[str]:
    entries, _ = pd.list(
        f"/incidents/{incident_id}/log_entries", limit=100, max_pages=1, call="GET /incidents/{id}/log_entries"
    )
    return {str(e.get("id")) for e in entries if str(e.get("type", "")).startswith("escalate")}


# ---------------------------------------------------------------------------- notes
def _norm(text: str) -> str:
    return " ".join((text or "").split())


def _recent_same(notes: list[dict[str, Any]], content: str, now: datetime) -> dict[str, Any] | None:
    want = _norm(content)
    for note in reversed(notes[-NOTE_LOOKBACK:]):
        if _norm(note.get("content") or "") != want:
            continue
        try:
            when = datetime.fromisoformat(str(note.get("created_at")).replace("Z", "+00:00"))
        except ValueError:
            return note  # no readable time: among the latest notes, count it as recent
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if now - when <= NOTE_WINDOW:
            return note
    return None


def add_note(pd: PagerDutyClient, incident_id: str, content: str) -> NoteResult:
    """Add a note unless the same text is already among the incident's recent notes."""
    path = f"/incidents/{incident_id}/notes"

    def notes() -> list[dict[str, Any]]:
        return pd.get(path, call="GET /incidents/{id}/notes") or []

    same = _recent_same(notes(), content, clock.now())
    if same is not None:
        return NoteResult(
            incident_id=incident_id,
            note=Note.from_api(same),
            changed=False,
            message=f"The same note is already on the incident (added {same.get('created_at') or 'recently'}); "
            "not added again. Change the text to add another.",
        )
    try:
        created = pd.post(path, {"note": {"content": content}}, call="POST /incidents/{id}/notes", reserve=_reserve(pd))
        return NoteResult(incident_id=incident_id, note=Note.from_api(created or {}))
    except WriteLost as lost:
        found = _recent_same(
            _read_back(lost, notes, see="whether the note was added", how=f"get_incident(incident_id={incident_id!r})"),
            content,
            clock.now(),
        )
        if found is not None:
            return NoteResult(
                incident_id=incident_id,
                note=Note.from_api(found),
                message=f"PagerDuty did not confirm the note ({lost.reason}), but reading the notes back shows it was added.",
            )
        raise UpstreamError(
            SERVICE,
            lost.call,
            f"{lost.detail}; reading the notes back shows the note is not on the incident",
            status=lost.status,
            hint=_not_done_hint(lost, "call add_incident_note again"),
        ) from None


# ---------------------------------------------------------------------------- status updates
STATUS_WINDOW = timedelta(hours=1)


def _same_update(entries: list[dict[str, Any]], message: str, now: datetime) -> dict[str, Any] | None:
    from paii_pagerduty.timeline import status_message

    want = _norm(message)
    for entry in reversed(entries):
        if _norm(status_message(entry)) != want:
            continue
        try:
            when = datetime.fromisoformat(str(entry.get("created_at")).replace("Z", "+00:00"))
        except ValueError:
            return entry
        if now - (when if when.tzinfo else when.replace(tzinfo=UTC)) <= STATUS_WINDOW:
            return entry
    return None


def post_status_update(pd: PagerDutyClient, incident_id: str, message: str) -> StatusUpdateResult:
    """Send a status update once: the same text sent in the last hour is not sent again.

    PagerDuty has no read of an incident's status updates; its log has them as
    ``status_update_log_entry`` (what the check before the post and the read back look at)."""
    from paii_pagerduty.timeline import status_updates

    since = (clock.now() - STATUS_WINDOW).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    same = _same_update(status_updates(pd, incident_id, since), message, clock.now())
    if same is not None:
        return StatusUpdateResult(
            incident_id=incident_id, sent_at=same.get("created_at"), changed=False,
            message=f"The same status update was sent at {same.get('created_at') or 'recently'}; not sent again.")
    try:
        sent = pd.post(f"/incidents/{incident_id}/status_updates", {"message": message},
                       call="POST /incidents/{id}/status_updates", reserve=_reserve(pd)) or {}
        return StatusUpdateResult(incident_id=incident_id, sent_at=sent.get("created_at"), id=sent.get("id"))
    except WriteLost as lost:
        how = f"get_timeline(incident_id={incident_id!r})"
        found = _same_update(_read_back(lost, lambda: status_updates(pd, incident_id, since),
                                        see="whether the update was sent", how=how), message, clock.now())
        if found is not None:
            return StatusUpdateResult(
                incident_id=incident_id, sent_at=found.get("created_at"),
                message=f"PagerDuty did not confirm the update ({lost.reason}), but its log shows it was sent.")
        raise UpstreamError(
            SERVICE, lost.call, f"{lost.detail}; the incident's log shows no such status update",
            status=lost.status, hint=_not_done_hint(lost, "call post_status_update again"),
        ) from None
