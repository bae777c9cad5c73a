"""PagerDuty REST API v2 objects, rendered from the sandbox state in the published shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paii_sandbox.services._pagerduty_state import PagerDutyState
from paii_sandbox.timeparse import iso

PLURAL = {"user": "users", "service": "services", "escalation_policy": "escalation_policies",
          "schedule": "schedules", "incident": "incidents", "priority": "priorities",
          "maintenance_window": "maintenance_windows", "log_entry": "log_entries", "alert": "alerts"}
WEB = {"user": "users", "service": "service-directory", "escalation_policy": "escalation_policies",
       "schedule": "schedules", "incident": "incidents", "maintenance_window": "maintenance_windows"}


class Renderer:
    """Turns state into API JSON; ``api`` is this sandbox's base URL (for ``self`` links)."""

    def __init__(self, st: PagerDutyState, api: str) -> None:
        self.st = st
        self.api = api.rstrip("/")
        self.web = f"https://{st.subdomain}.pagerduty.com"

    def _links(self, kind: str, oid: str) -> dict[str, str]:
        out = {"self": f"{self.api}/{PLURAL.get(kind, kind + 's')}/{oid}"}
        if kind in WEB:
            out["html_url"] = f"{self.web}/{WEB[kind]}/{oid}"
        return out

    def ref(self, kind: str, oid: str | None) -> dict[str, Any] | None:
        if oid is None:
            return None
        names = {"user": self.st.users, "service": self.st.services, "escalation_policy": self.st.policies,
                 "schedule": self.st.schedules}
        item = names.get(kind, {}).get(oid) or {}
        summary = item.get("name") or oid
        if kind == "incident":
            inc = self.st.incidents[oid]
            summary = f"[#{inc['number']}] {inc['title']}"
        return {"id": oid, "type": f"{kind}_reference", "summary": summary, **self._links(kind, oid)}

    def agent(self, agent: dict[str, str]) -> dict[str, Any]:
        kind = agent["type"].removesuffix("_reference")
        return self.ref(kind, agent["id"]) or {}

    def user(self, uid: str) -> dict[str, Any]:
        u = self.st.users[uid]
        return {
            "id": uid, "type": "user", "summary": u["name"], **self._links("user", uid), "name": u["name"],
            "email": u["email"], "time_zone": u.get("time_zone", "Etc/UTC"), "color": u.get("color", "purple"),
            "role": u.get("role", "user"), "job_title": u.get("job_title", ""), "description": u.get("description"),
            "invitation_sent": False, "teams": [], "contact_methods": [], "notification_rules": [],
        }

    def priority(self, pid: str | None) -> dict[str, Any] | None:
        if not pid:
            return None
        p = self.st.priorities[pid]
        return {"id": pid, "type": "priority", "summary": p["name"], "self": f"{self.api}/priorities/{pid}",
                "name": p["name"], "description": p.get("description", "")}

    def service(self, sid: str, now: datetime) -> dict[str, Any]:
        s = self.st.services[sid]
        open_ = [i["status"] for i in self.st.incidents.values() if i["service"] == sid and i["status"] != "resolved"]
        in_window = any(sid in w["services"] and w["start"] <= now < w["end"] for w in self.st.windows)
        status = "critical" if "triggered" in open_ else "warning" if open_ else "maintenance" if in_window else "active"
        last = max((i["created_at"] for i in self.st.incidents.values() if i["service"] == sid), default=None)
        return {
            "id": sid, "type": "service", "summary": s["name"], **self._links("service", sid), "name": s["name"],
            "description": s.get("description", ""), "auto_resolve_timeout": 14400, "acknowledgement_timeout": 1800,
            "created_at": iso(s["created_at"]), "status": status,
            "last_incident_timestamp": iso(last) if last else None,
            "escalation_policy": self.ref("escalation_policy", s["escalation_policy"]),
            "teams": [], "integrations": [], "alert_creation": "create_alerts_and_incidents",
            "incident_urgency_rule": {"type": "constant", "urgency": "high"},
        }

    def incident(self, iid: str) -> dict[str, Any]:
        i = self.st.incidents[iid]
        alerts = self.st.alerts.get(iid, [])
        triggered = sum(1 for a in alerts if a["status"] == "triggered")
        return {
            "id": iid, "type": "incident", "summary": f"[#{i['number']}] {i['title']}", **self._links("incident", iid),
            "incident_number": i["number"], "title": i["title"], "description": i.get("description") or i["title"],
            "created_at": iso(i["created_at"]), "updated_at": iso(i["updated_at"]), "status": i["status"],
            "incident_key": i["incident_key"], "service": self.ref("service", i["service"]),
            "assignments": [{"at": iso(i["updated_at"]), "assignee": self.ref("user", u)} for u in i["assignees"]],
            "assigned_via": "escalation_policy",
            "acknowledgements": [{"at": iso(a["at"]), "acknowledger": self.ref("user", a["user"])}
                                 for a in i["acknowledgements"]],
            "last_status_change_at": iso(i["last_status_change_at"]),
            "last_status_change_by": self.agent(i["last_status_change_by"]),
            "first_trigger_log_entry": {"id": i["first_trigger_log_entry"], "type": "trigger_log_entry_reference",
                                        "self": f"{self.api}/log_entries/{i['first_trigger_log_entry']}"},
            "alert_counts": {"all": len(alerts), "triggered": triggered, "resolved": len(alerts) - triggered},
            "is_mergeable": True, "escalation_policy": self.ref("escalation_policy", i["escalation_policy"]),
            "teams": [], "pending_actions": [], "urgency": i["urgency"], "priority": self.priority(i.get("priority")),
            "incident_type": {"name": "incident_default"},
            **({"resolved_at": iso(i["resolved_at"])} if i["resolved_at"] else {}),  # the spec: a string, not null
        }

    def alert(self, iid: str, a: dict[str, Any]) -> dict[str, Any]:
        i = self.st.incidents[iid]
        return {
            "id": a["id"], "type": "alert", "summary": a["summary"], "self": f"{self.api}/alerts/{a['id']}",
            "html_url": f"{self.web}/alerts/{a['id']}", "created_at": iso(a["created_at"]), "status": a["status"],
            "alert_key": a["alert_key"], "service": self.ref("service", i["service"]),
            "incident": self.ref("incident", iid), "suppressed": a["suppressed"], "severity": a["severity"],
            "body": {"type": "alert_body", "contexts": [], "details": a.get("details") or {}},
        }

    def note(self, n: dict[str, Any]) -> dict[str, Any]:
        return {"id": n["id"], "user": self.ref("user", n["user"]), "content": n["content"],
                "created_at": iso(n["created_at"]),
                "channel": {"summary": "The PagerDuty website or APIs"}}

    def log_entry(self, e: dict[str, Any], *, full_incident: bool = False) -> dict[str, Any]:
        iid = e["incident"]
        kind = e["type"].removesuffix("_log_entry")
        verbs = {"trigger": "Triggered", "acknowledge": "Acknowledged", "resolve": "Resolved", "annotate": "Note added",
                 "escalate": "Escalated", "assign": "Reassigned", "status_update": "Status update sent"}
        agent = self.agent(e["agent"])
        out = {
            "id": e["id"], "type": e["type"], "summary": f"{verbs.get(kind, kind.title())} by {agent.get('summary', '')}".strip(),
            "self": f"{self.api}/log_entries/{e['id']}", "html_url": f"{self.web}/incidents/{iid}/log_entries/{e['id']}",
            "created_at": iso(e["created_at"]), "agent": agent, "channel": e.get("channel") or {"type": "web_trigger"},
            "service": self.ref("service", self.st.incidents[iid]["service"]),
            "incident": self.incident(iid) if full_incident else self.ref("incident", iid),
            "teams": [], "contexts": [], "event_details": {},
        }
        if e.get("note"):
            out["note"] = e["note"]
        if e.get("message"):
            out["message"] = e["message"]
        if e.get("assignees"):
            out["assignees"] = [self.ref("user", u) for u in e["assignees"]]
        return out

    def status_update(self, e: dict[str, Any]) -> dict[str, Any]:
        out = {"id": e["id"], "message": e["message"], "sender": self.agent(e["agent"]), "created_at": iso(e["created_at"])}
        return {**out, **{k: e[k] for k in ("subject", "html_message") if e.get(k)}}

    def window(self, w: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": w["id"], "type": "maintenance_window", "summary": w["description"], **self._links("maintenance_window", w["id"]),
            "sequence_number": w.get("sequence_number", 1), "start_time": iso(w["start"]), "end_time": iso(w["end"]),
            "description": w["description"], "created_by": self.ref("user", w.get("created_by")),
            "services": [self.ref("service", s) for s in w["services"]], "teams": [],
        }

    def oncall(self, policy: str, level: int, uid: str, shift: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "escalation_policy": self.ref("escalation_policy", policy), "escalation_level": level,
            "schedule": self.ref("schedule", shift["schedule"]) if shift else None, "user": self.ref("user", uid),
            "start": iso(shift["start"]) if shift else None, "end": iso(shift["end"]) if shift else None,
        }
