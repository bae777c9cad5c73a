"""The shapes of PagerDuty's answers, as far as the tools read them, by call (:func:`shape`).

pdpyras unwraps each answer (``{"incident": {...}}`` -> the incident) and refuses one without its
wrapper; what is inside is checked here (:func:`paii_common.answers.expect`): an incident without
an id or a status, a note without its content, is "PagerDuty answered with something unexpected",
never an empty success.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints

from paii_common.answers import Answer

Id = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Ref(Answer):
    id: Id


class Incident(Answer):
    id: Id
    status: str


class Note(Answer):
    content: str
    created_at: str | None = None


class LogEntry(Answer):
    id: Id
    type: str


class StatusUpdate(Answer):
    created_at: str


class Oncall(Answer):
    user: dict[str, Any]


#: one entity's shape, by the call's name
ENTITY: dict[str, Any] = {
    "GET /incidents/{id}": Incident,
    "PUT /incidents/{id}": Incident,
    "GET /incidents/{id}/notes": list[Note],
    "POST /incidents/{id}/notes": Note,
    "POST /incidents/{id}/status_updates": StatusUpdate,
    "GET /users/me": Ref,
    "GET /services/{id}": Ref,
}
#: the shape of each item of a listing, by the call's name
ITEM: dict[str, Any] = {
    "GET /incidents": Incident,
    "GET /incidents/{id}/alerts": Ref,
    "GET /incidents/{id}/log_entries": LogEntry,
    "GET /log_entries": LogEntry,
    "GET /oncalls": Oncall,
    "GET /services": Ref,
    "GET /users": Ref,
    "GET /maintenance_windows": Ref,
}
