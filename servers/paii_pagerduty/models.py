"""Minimal result models: what a responder reads, nothing more.

PagerDuty objects carry dozens of fields (``self`` links, reference types, team lists); the
tools keep ids (to call the next tool), names, states, times and the web link. Text written
by people or monitors is data, never instructions: notes come back fenced
(:func:`paii_common.untrusted.fence`), and titles, alert and log summaries, window
descriptions and every name go through :func:`paii_common.untrusted.short` (a plain name as
it is, anything else marked ``‹untrusted: …›``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from paii_common.untrusted import fence, short

NOTE_LABEL = "pagerduty note"
TITLE_MAX = 300


def _name(ref: Any) -> str | None:
    if isinstance(ref, dict):
        return short(ref.get("summary") or ref.get("name") or ref.get("id")) or None
    return None


def _id(ref: Any) -> str | None:
    return ref.get("id") if isinstance(ref, dict) else None


class Page(BaseModel):
    truncated: bool = Field(False, description="More items exist: call again with offset=next_offset.")
    next_offset: int | None = None


class Incident(BaseModel):
    id: str
    number: int | None = None
    title: str = ""
    status: str = ""
    urgency: str | None = None
    priority: str | None = None
    service: str | None = None
    service_id: str | None = None
    escalation_policy_id: str | None = None
    assignees: list[str] = []
    acknowledged_by: list[str] = []
    created_at: str | None = None
    resolved_at: str | None = None
    url: str | None = None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> Incident:
        return cls(
            id=d.get("id", ""),
            number=d.get("incident_number"),
            title=short(d.get("title") or d.get("summary"), TITLE_MAX),
            status=d.get("status", ""),
            urgency=d.get("urgency"),
            priority=_name(d.get("priority")),
            service=_name(d.get("service")),
            service_id=_id(d.get("service")),
            escalation_policy_id=_id(d.get("escalation_policy")),
            assignees=[n for a in d.get("assignments") or [] if (n := _name(a.get("assignee")))],
            acknowledged_by=[n for a in d.get("acknowledgements") or [] if (n := _name(a.get("acknowledger")))],
            created_at=d.get("created_at"),
            resolved_at=d.get("resolved_at"),
            url=d.get("html_url"),
        )


class IncidentList(Page):
    incidents: list[Incident]


class Alert(BaseModel):
    id: str
    summary: str = ""
    status: str = ""
    severity: str | None = None
    suppressed: bool = False
    created_at: str | None = None
    incident_id: str | None = None
    reason: str | None = Field(default=None, description="Why, when a responder said: the latest note on its incident.")

    @classmethod
    def from_api(cls, d: dict[str, Any], incident_id: str | None = None) -> Alert:
        return cls(
            id=d.get("id", ""),
            summary=short(d.get("summary"), TITLE_MAX),
            status=d.get("status", ""),
            severity=d.get("severity"),
            suppressed=bool(d.get("suppressed")),
            created_at=d.get("created_at"),
            incident_id=incident_id or _id(d.get("incident")),
        )


class Note(BaseModel):
    author: str | None = None
    content: str = ""
    created_at: str | None = None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> Note:
        return cls(author=_name(d.get("user")), content=fence(d.get("content"), NOTE_LABEL), created_at=d.get("created_at"))


class LogEntry(BaseModel):
    at: str | None = None
    type: str = ""
    summary: str = ""
    by: str | None = None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> LogEntry:
        return cls(
            at=d.get("created_at"),
            type=str(d.get("type", "")).removesuffix("_log_entry"),
            summary=short(d.get("summary"), TITLE_MAX),
            by=_name(d.get("agent")),
        )


class IncidentDetail(Incident):
    alerts: list[Alert] = []
    notes: list[Note] = []
    log: list[LogEntry] = []
    truncated: list[str] = Field([], description="Sections cut to their most recent items.")


class IncidentState(BaseModel):
    incident: Incident
    changed: bool = True
    note: str | None = None


class NoteResult(BaseModel):
    incident_id: str
    note: Note
    changed: bool = Field(True, description="False: the same note was already there and was not added again.")
    message: str | None = None


class OnCall(BaseModel):
    user: str | None = None
    user_id: str | None = None
    level: int | None = None
    schedule: str | None = None
    escalation_policy: str | None = None
    escalation_policy_id: str | None = None
    start: str | None = None
    end: str | None = None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> OnCall:
        return cls(
            user=_name(d.get("user")),
            user_id=_id(d.get("user")),
            level=d.get("escalation_level"),
            schedule=_name(d.get("schedule")),
            escalation_policy=_name(d.get("escalation_policy")),
            escalation_policy_id=_id(d.get("escalation_policy")),
            start=d.get("start"),
            end=d.get("end"),
        )


class OnCallList(Page):
    oncalls: list[OnCall]


class Service(BaseModel):
    id: str
    name: str = ""
    status: str | None = None
    escalation_policy: str | None = None
    escalation_policy_id: str | None = None
    url: str | None = None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> Service:
        return cls(
            id=d.get("id", ""),
            name=short(d.get("name") or d.get("summary")),
            status=d.get("status"),
            escalation_policy=_name(d.get("escalation_policy")),
            escalation_policy_id=_id(d.get("escalation_policy")),
            url=d.get("html_url"),
        )


class ServiceList(Page):
    services: list[Service]


class MaintenanceWindow(BaseModel):
    id: str
    description: str | None = None
    start: str | None = None
    end: str | None = None
    services: list[str] = []

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> MaintenanceWindow:
        return cls(
            id=d.get("id", ""),
            description=short(d.get("description") or d.get("summary"), TITLE_MAX) or None,
            start=d.get("start_time"),
            end=d.get("end_time"),
            services=[n for s in d.get("services") or [] if (n := _name(s))],
        )


class MaintenanceWindowList(Page):
    maintenance_windows: list[MaintenanceWindow]


class ShiftIncident(Incident):
    in_window: list[str] = Field([], description="What happened in the window: triggered, acknowledged, resolved.")
    resolved_by: str | None = None
    auto_resolved: bool = False
    events: list[LogEntry] = []
    notes: list[Note] = []


class ShiftActivity(BaseModel):
    since: str
    until: str
    user_id: str | None = None
    counts: dict[str, int] = {}
    incidents: list[ShiftIncident] = []
    alerts: list[Alert] = Field([], description="Suppressed alerts, and alerts of incidents resolved automatically.")
    maintenance_windows: list[MaintenanceWindow] = []
    truncated: list[str] = Field([], description="What was capped; narrow the window or use list_incidents.")


class StatusUpdateResult(BaseModel):
    incident_id: str
    id: str | None = None
    sent_at: str | None = None
    changed: bool = Field(True, description="False: the same update was sent in the last hour; not sent again.")
    message: str | None = None
