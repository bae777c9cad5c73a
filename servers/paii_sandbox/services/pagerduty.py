"""PagerDuty REST API v2, as much as PAII's PagerDuty server calls, with state.

Same paths, methods, ``Authorization: Token token=...`` and ``From`` headers, offset/limit/more
pagination and ``{"error": {"message", "code", "errors"}}`` bodies as api.pagerduty.com.
Acknowledging or resolving an incident changes its status and adds a log entry; a note
appears on the incident and in the log; a status update (``POST /incidents/{id}/status_updates``)
appears in the log as a ``status_update_log_entry`` with its ``message``, as the live API logs it
(the published spec has no read of status updates); on-calls follow the escalation policy's schedules.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from paii_sandbox.services._pagerduty_json import Renderer
from paii_sandbox.services._pagerduty_state import PagerDutyState, add_note, build
from paii_sandbox.timeparse import parse_when

NAME = "pagerduty"
PORT_OFFSET = 0
TOKEN = "sandbox-pagerduty-token"
MAX_LIMIT = 100
API_URL = "https://api.pagerduty.com"
OVERVIEW = {"trigger_log_entry", "acknowledge_log_entry", "resolve_log_entry", "escalate_log_entry",
            "assign_log_entry", "annotate_log_entry"}


def seed(data: dict[str, Any], now: datetime) -> PagerDutyState:
    return build(data, now)


def env(base_url: str, sandbox_dir: Path) -> dict[str, str]:
    from_email = "scott@example.com"
    return {"PAII_PAGERDUTY_URL": base_url, "PAII_PAGERDUTY_TOKEN": TOKEN, "PAII_PAGERDUTY_FROM": from_email}


def error_body(status: int) -> tuple[dict[str, Any], str]:
    messages = {429: ("Rate Limit Exceeded", 2020), 500: ("Internal Server Error", 2000)}
    message, code = messages.get(status, ("Error", 2000))
    return {"error": {"message": message, "code": code}}, "application/json"


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: int, *errors: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.errors = status, message, code, list(errors)


def _bad(*errors: str) -> ApiError:
    return ApiError(400, "Invalid Input Provided", 2001, *errors)


def _not_found() -> ApiError:
    return ApiError(404, "Not Found", 2100)


def _time_param(request: Request, name: str, now: datetime) -> datetime | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return parse_when(value, now)
    except ValueError:
        raise _bad(f"{name} is not a valid ISO 8601 time") from None


def _page(request: Request, key: str, items: list[dict[str, Any]]) -> JSONResponse:
    q = request.query_params
    try:
        limit = min(max(int(q.get("limit", 25)), 1), MAX_LIMIT)
        offset = max(int(q.get("offset", 0)), 0)
    except ValueError:
        raise _bad("limit and offset must be integers") from None
    page = items[offset:offset + limit]
    total = len(items) if q.get("total") == "true" else None
    return JSONResponse({key: page, "limit": limit, "offset": offset, "more": offset + limit < len(items), "total": total})


def create_app(state: PagerDutyState, world: Any) -> Starlette:
    st = state

    def auth(request: Request) -> Renderer:
        header = request.headers.get("authorization", "")
        if header.replace("Token token=", "", 1).strip() != TOKEN or not header.startswith("Token token="):
            raise ApiError(401, "Unauthorized", 2006)
        return Renderer(st, API_URL)  # self links name the real API, as PagerDuty does

    def from_user(request: Request) -> str:
        email = (request.headers.get("from") or "").strip().lower()
        for uid, u in st.users.items():
            if u["email"].lower() == email:
                return uid
        if not email:
            raise _bad('You must specify a user\'s email address in the "From" header to perform this action')
        raise _bad(f"The email address {email} in the From header does not belong to a user of this account")

    def incident_or_404(iid: str) -> dict[str, Any]:
        if iid not in st.incidents:
            raise _not_found()
        return st.incidents[iid]

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise _bad("The request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise _bad("The request body must be a JSON object")
        return data

    def handler(fn: Any) -> Any:
        async def run(request: Request) -> JSONResponse:
            try:
                r = auth(request)
                with world.lock:
                    return await fn(request, r)
            except ApiError as exc:
                err: dict[str, Any] = {"message": exc.message, "code": exc.code}
                if exc.errors:
                    err["errors"] = exc.errors
                return JSONResponse({"error": err}, status_code=exc.status)
        return run

    @handler
    async def list_incidents(request: Request, r: Renderer) -> JSONResponse:
        q, now = request.query_params, world.now()
        statuses = set(q.getlist("statuses[]"))
        urgencies = set(q.getlist("urgencies[]"))
        services = set(q.getlist("service_ids[]"))
        users = set(q.getlist("user_ids[]"))
        found = list(st.incidents.values())
        if q.get("date_range") != "all":
            until = _time_param(request, "until", now) or now
            since = _time_param(request, "since", now) or until - timedelta(days=30)
            if since > until:
                raise _bad("since must be before until")
            found = [i for i in found if since <= i["created_at"] <= until]
        found = [i for i in found if (not statuses or i["status"] in statuses) and (not urgencies or i["urgency"] in urgencies)
                 and (not services or i["service"] in services) and (not users or users & set(i["assignees"]))]
        field, _, order = (q.get("sort_by") or "created_at:asc").partition(":")
        key = {"incident_number": "number", "created_at": "created_at", "resolved_at": "resolved_at", "urgency": "urgency"}.get(field)
        if key is None:
            raise _bad("sort_by must be incident_number, created_at, resolved_at or urgency")
        found.sort(key=lambda i: (i[key] is None, i[key] or 0), reverse=order == "desc")
        return _page(request, "incidents", [r.incident(i["id"]) for i in found])

    @handler
    async def get_incident(request: Request, r: Renderer) -> JSONResponse:
        iid = request.path_params["id"]
        incident_or_404(iid)
        return JSONResponse({"incident": r.incident(iid)})

    @handler
    async def update_incident(request: Request, r: Renderer) -> JSONResponse:
        iid = request.path_params["id"]
        inc = incident_or_404(iid)
        user = from_user(request)
        fields = (await body(request)).get("incident")
        if not isinstance(fields, dict) or fields.get("type") not in ("incident", "incident_reference"):
            raise _bad("incident must be an object with type incident or incident_reference")
        now, agent = world.now(), {"type": "user_reference", "id": user}
        status = fields.get("status")
        if status not in (None, "acknowledged", "resolved"):
            raise _bad("status must be acknowledged or resolved")
        if status and inc["status"] == "resolved":
            raise _bad("Incident Already Resolved")
        if status == "acknowledged" and inc["status"] != "acknowledged":
            st.add_log(iid, "acknowledge", now, agent, channel={"type": "api"})
        if "escalation_level" in fields:
            level = fields["escalation_level"]
            rules = [rule["level"] for rule in st.policies[inc["escalation_policy"]]["rules"]]
            if not isinstance(level, int) or level not in rules:
                raise _bad(f"escalation_level must be one of {rules}")
            inc["escalation_level"] = level
            inc["assignees"] = st.oncall_users(inc["escalation_policy"], level, now)
            st.add_log(iid, "escalate", now, agent, assignees=list(inc["assignees"]))
        if fields.get("escalation_policy"):
            pid = (fields["escalation_policy"] or {}).get("id")
            if pid not in st.policies:
                raise _bad("escalation_policy does not exist")
            inc["escalation_policy"], inc["escalation_level"] = pid, 1
            inc["assignees"] = st.oncall_users(pid, 1, now)
            st.add_log(iid, "assign", now, agent, assignees=list(inc["assignees"]))
        if fields.get("assignments"):
            ids = [(a.get("assignee") or {}).get("id") for a in fields["assignments"]]
            if not all(i in st.users for i in ids):
                raise _bad("every assignee must be a user of this account")
            inc["assignees"] = ids
            st.add_log(iid, "assign", now, agent, assignees=ids)
        if status == "resolved":
            extra = {"note": fields["resolution"]} if fields.get("resolution") else {}
            st.add_log(iid, "resolve", now, agent, channel={"type": "api"}, **extra)
        return JSONResponse({"incident": r.incident(iid)})

    @handler
    async def list_alerts(request: Request, r: Renderer) -> JSONResponse:
        iid = request.path_params["id"]
        incident_or_404(iid)
        q = request.query_params
        alerts = [a for a in st.alerts[iid] if not q.getlist("statuses[]") or a["status"] in q.getlist("statuses[]")]
        alerts.sort(key=lambda a: a["created_at"], reverse=(q.get("sort_by") or "").endswith(":desc"))
        return _page(request, "alerts", [r.alert(iid, a) for a in alerts])

    @handler
    async def notes(request: Request, r: Renderer) -> JSONResponse:
        iid = request.path_params["id"]
        incident_or_404(iid)
        if request.method == "GET":
            return JSONResponse({"notes": [r.note(n) for n in st.notes[iid]]})
        user = from_user(request)
        note = (await body(request)).get("note")
        content = note.get("content") if isinstance(note, dict) else None
        if not isinstance(content, str) or not content.strip():
            raise _bad("note.content is required")
        if len(content) > 25000:
            raise _bad("note.content must be at most 25000 characters")
        return JSONResponse({"note": r.note(add_note(st, iid, user, content, world.now()))})

    @handler
    async def status_update(request: Request, r: Renderer) -> JSONResponse:
        iid = request.path_params["id"]
        incident_or_404(iid)
        user = from_user(request)
        data = await body(request)
        message = data.get("message")
        if not isinstance(message, str) or not message.strip():
            raise _bad("message is required")
        extra = {k: data[k] for k in ("subject", "html_message") if isinstance(data.get(k), str)}
        entry = st.add_log(iid, "status_update", world.now(), {"type": "user_reference", "id": user},
                           channel={"type": "web_trigger", "summary": message[:100]}, message=message, **extra)
        return JSONResponse({"status_update": r.status_update(entry)})

    def _log(request: Request, r: Renderer, incident: str | None) -> JSONResponse:
        q, now = request.query_params, world.now()
        until = _time_param(request, "until", now) or now
        since = _time_param(request, "since", now) or until - timedelta(days=30)
        entries = [e for e in st.log if (incident is None or e["incident"] == incident) and since <= e["created_at"] <= until]
        if q.get("is_overview") == "true":
            entries = [e for e in entries if e["type"] in OVERVIEW]
        entries.sort(key=lambda e: e["created_at"], reverse=True)
        full = "incidents" in q.getlist("include[]")
        return _page(request, "log_entries", [r.log_entry(e, full_incident=full) for e in entries])

    @handler
    async def incident_log(request: Request, r: Renderer) -> JSONResponse:
        incident_or_404(request.path_params["id"])
        return _log(request, r, request.path_params["id"])

    @handler
    async def log_entries(request: Request, r: Renderer) -> JSONResponse:
        return _log(request, r, None)

    @handler
    async def me(request: Request, r: Renderer) -> JSONResponse:
        return JSONResponse({"user": r.user(st.token_user)})

    @handler
    async def users(request: Request, r: Renderer) -> JSONResponse:
        needle = (request.query_params.get("query") or "").lower()
        found = [uid for uid, u in st.users.items() if needle in u["name"].lower() or needle in u["email"].lower()]
        return _page(request, "users", [r.user(uid) for uid in found])

    @handler
    async def services(request: Request, r: Renderer) -> JSONResponse:
        needle = (request.query_params.get("query") or "").lower()
        found = sorted((s for s in st.services.values() if needle in s["name"].lower()), key=lambda s: s["name"])
        return _page(request, "services", [r.service(s["id"], world.now()) for s in found])

    @handler
    async def service(request: Request, r: Renderer) -> JSONResponse:
        sid = request.path_params["id"]
        if sid not in st.services:
            raise _not_found()
        return JSONResponse({"service": r.service(sid, world.now())})

    @handler
    async def oncalls(request: Request, r: Renderer) -> JSONResponse:
        q, now = request.query_params, world.now()
        since = _time_param(request, "since", now) or now
        until = _time_param(request, "until", now) or since
        policies, schedules, users = (set(q.getlist(k)) for k in ("escalation_policy_ids[]", "schedule_ids[]", "user_ids[]"))
        out = []
        for pid, policy in st.policies.items():
            if policies and pid not in policies:
                continue
            for rule in sorted(policy["rules"], key=lambda x: x["level"]):
                if rule.get("user"):
                    entries = [(rule["user"], None)]
                else:
                    entries = [(s["user"], s) for s in st.shifts
                               if s["schedule"] == rule.get("schedule") and s["start"] <= until and s["end"] > since]
                for uid, shift in entries:
                    if (schedules and (not shift or shift["schedule"] not in schedules)) or (users and uid not in users):
                        continue
                    out.append(r.oncall(pid, rule["level"], uid, shift))
        return _page(request, "oncalls", out)

    @handler
    async def windows(request: Request, r: Renderer) -> JSONResponse:
        q, now = request.query_params, world.now()
        which = q.get("filter") or "all"
        tests = {"ongoing": lambda w: w["start"] <= now < w["end"], "future": lambda w: w["start"] > now,
                 "past": lambda w: w["end"] <= now, "open": lambda w: w["end"] > now, "all": lambda w: True}
        if which not in tests:
            raise _bad("filter must be one of past, future, ongoing, open, all")
        services = set(q.getlist("service_ids[]"))
        found = [w for w in st.windows if tests[which](w) and (not services or services & set(w["services"]))]
        found.sort(key=lambda w: w["start"])
        return _page(request, "maintenance_windows", [r.window(w) for w in found])

    return Starlette(routes=[
        Route("/incidents", list_incidents),
        Route("/incidents/{id}", get_incident),
        Route("/incidents/{id}", update_incident, methods=["PUT"]),
        Route("/incidents/{id}/alerts", list_alerts),
        Route("/incidents/{id}/notes", notes, methods=["GET", "POST"]),
        Route("/incidents/{id}/log_entries", incident_log),
        Route("/incidents/{id}/status_updates", status_update, methods=["POST"]),
        Route("/log_entries", log_entries),
        Route("/users/me", me),
        Route("/users", users),
        Route("/services", services),
        Route("/services/{id}", service),
        Route("/oncalls", oncalls),
        Route("/maintenance_windows", windows),
    ])


def dump(state: PagerDutyState) -> dict[str, Any]:
    """What ``paii sandbox state pagerduty`` prints: incidents with their notes and log."""
    r = Renderer(state, API_URL)
    return {
        "incidents": [
            {**r.incident(iid), "notes": [r.note(n) for n in state.notes[iid]],
             "log": [r.log_entry(e) for e in state.log if e["incident"] == iid]}
            for iid in state.incidents
        ],
    }
