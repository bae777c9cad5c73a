"""The PagerDuty sandbox's state, and how the seed builds it (see ``pagerduty`` in seed.yaml).

Plain dicts keyed by id, times as aware datetimes. An incident's history is its log: the
status, acknowledgements and resolution are what its log entries say, so a seeded incident
and one acknowledged through the API look the same.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paii_sandbox.timeparse import parse_when

STATUS_OF = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}


@dataclass
class PagerDutyState:
    subdomain: str = "acme-sandbox"
    token_user: str = ""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    priorities: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    shifts: list[dict[str, Any]] = field(default_factory=list)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0

    def new_id(self, prefix: str) -> str:
        """A PagerDuty-looking id (``R1A2B3C4D5E6F7``): unique, stable for a given history."""
        self.counter += 1
        digest = hashlib.sha1(f"{prefix}{self.counter}".encode()).hexdigest().upper()
        return (prefix + digest)[:14]

    # ------------------------------------------------------------------ history
    def add_log(self, incident_id: str, kind: str, at: datetime, agent: dict[str, str], **extra: Any) -> dict[str, Any]:
        entry = {"id": self.new_id("R"), "type": f"{kind}_log_entry", "created_at": at, "incident": incident_id,
                 "agent": agent, **extra}
        self.log.append(entry)
        inc = self.incidents[incident_id]
        inc["updated_at"] = max(inc.get("updated_at") or at, at)
        if kind in STATUS_OF:
            inc["status"] = STATUS_OF[kind]
            inc["last_status_change_at"] = at
            inc["last_status_change_by"] = agent
        if kind == "trigger":
            inc["first_trigger_log_entry"] = entry["id"]
        elif kind == "acknowledge":
            inc["acknowledgements"].append({"at": at, "user": agent["id"]})
        elif kind == "resolve":
            inc["resolved_at"] = at
            inc["assignees"] = []
            inc["acknowledgements"] = []
            for alert in self.alerts.get(incident_id, []):
                alert["status"] = "resolved"
        return entry

    def oncall_users(self, policy_id: str, level: int, at: datetime) -> list[str]:
        for rule in self.policies[policy_id]["rules"]:
            if rule["level"] != level:
                continue
            if rule.get("user"):
                return [rule["user"]]
            return [s["user"] for s in self.shifts if s["schedule"] == rule.get("schedule") and s["start"] <= at < s["end"]]
        return []


def _user_agent(uid: str) -> dict[str, str]:
    return {"type": "user_reference", "id": uid}


def _service_agent(sid: str) -> dict[str, str]:
    return {"type": "service_reference", "id": sid}


def build(data: dict[str, Any], now: datetime) -> PagerDutyState:
    """The state from the ``pagerduty`` part of the seed, times relative to ``now``."""
    st = PagerDutyState(subdomain=data.get("subdomain", "acme-sandbox"))
    when = lambda v: parse_when(v, now)  # noqa: E731
    for u in data.get("users") or []:
        st.users[u["id"]] = {"role": "user", "time_zone": "Etc/UTC", **u}
    st.token_user = data.get("api_token_user") or next(iter(st.users), "")
    for p in data.get("priorities") or []:
        st.priorities[p["id"]] = dict(p)
    for s in data.get("schedules") or []:
        st.schedules[s["id"]] = dict(s)
    for ep in data.get("escalation_policies") or []:
        st.policies[ep["id"]] = {"num_loops": 0, **ep, "rules": [dict(r) for r in ep.get("rules") or []]}
    for shift in data.get("oncalls") or []:
        st.shifts.append({**shift, "start": when(shift["start"]), "end": when(shift["end"])})
    for s in data.get("services") or []:
        st.services[s["id"]] = {"description": "", "created_at": when(s.get("created_at", "-400d")), **s}
        st.services[s["id"]]["created_at"] = when(st.services[s["id"]]["created_at"])
    for mw in data.get("maintenance_windows") or []:
        st.windows.append({**mw, "start": when(mw["start"]), "end": when(mw["end"])})
    for spec in sorted(data.get("incidents") or [], key=lambda i: when(i["created_at"])):
        _seed_incident(st, spec, when)
    return st


def _seed_incident(st: PagerDutyState, spec: dict[str, Any], when: Any) -> None:
    iid = spec["id"]
    service = st.services[spec["service"]]
    created = when(spec["created_at"])
    policy = spec.get("escalation_policy") or service["escalation_policy"]
    inc = {
        "id": iid, "number": spec["number"], "title": spec["title"], "status": "triggered",
        "urgency": spec.get("urgency", "high"), "priority": spec.get("priority"), "service": spec["service"],
        "escalation_policy": policy, "escalation_level": 1, "created_at": created, "updated_at": created,
        "incident_key": spec.get("incident_key") or hashlib.md5(iid.encode()).hexdigest(),
        "assignees": list(spec.get("assigned_to") or st.oncall_users(policy, 1, created)),
        "acknowledgements": [], "resolved_at": None, "description": spec.get("description", ""),
    }
    st.incidents[iid] = inc
    st.alerts[iid] = []
    st.notes[iid] = []
    st.add_log(iid, "trigger", created, _service_agent(spec["service"]), channel={"type": "api"})
    for n, alert in enumerate(spec.get("alerts") or []):
        st.alerts[iid].append({
            "id": alert.get("id") or st.new_id("A"), "summary": alert["summary"], "status": "triggered",
            "severity": alert.get("severity", "error"), "suppressed": bool(alert.get("suppressed")),
            "created_at": when(alert.get("created_at", spec["created_at"])), "details": alert.get("details") or {},
            "alert_key": alert.get("key") or f"{iid.lower()}-{n}",
        })
    events = [(when(e["at"]), "event", e) for e in spec.get("log") or []]
    events += [(when(n["created_at"]), "note", n) for n in spec.get("notes") or []]
    for at, what, item in sorted(events, key=lambda x: x[0]):
        if what == "note":
            add_note(st, iid, item["user"], item["content"], at)
            continue
        by = item.get("by") or "service"
        agent = _service_agent(spec["service"]) if by == "service" else _user_agent(by)
        extra = {"note": item["note"]} if item.get("note") else {}
        st.add_log(iid, item["type"], at, agent, **extra)


def add_note(st: PagerDutyState, incident_id: str, user_id: str, content: str, at: datetime) -> dict[str, Any]:
    note = {"id": st.new_id("N"), "user": user_id, "content": content, "created_at": at}
    st.notes[incident_id].append(note)
    st.add_log(incident_id, "annotate", at, _user_agent(user_id), channel={"type": "note", "summary": content[:100]})
    return note
