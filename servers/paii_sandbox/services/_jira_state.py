"""The sandbox Jira's state: built from the seed, changed by writes, searched by JQL (rendered as
Jira Cloud's JSON by :mod:`paii_sandbox.services._jira_json`).

Everything is plain dicts and lists so a test can build a site of its own (230 issues, another
story points field) with :func:`build_state`. Times in the seed are relative to ``now``
("-3d", "+4d", "-10d02:00", "-2h", "-30m") or ISO 8601.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from paii_sandbox.services._jira_jql import JQLError, Query, relative_time

CATEGORIES = {"new": (2, "blue-gray", "To Do"), "indeterminate": (4, "yellow", "In Progress"), "done": (3, "green", "Done")}
DEFAULT_STATUSES = {"To Do": "new", "In Progress": "indeterminate", "In Review": "indeterminate",
                    "Blocked": "indeterminate", "Done": "done"}
PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]
LINK_TYPES = {"Blocks": ("is blocked by", "blocks"), "Relates": ("relates to", "relates to")}
SUBTASK_TYPES = {"Sub-task", "Subtask"}


def when(value: Any, now: datetime) -> datetime | None:
    """A seed time: relative to ``now`` or ISO 8601."""
    if value is None or isinstance(value, datetime):
        return value
    text = str(value).strip()
    m = re.fullmatch(r"([+-])(\d+)d(?:(\d\d):(\d\d))?", text)
    if m:
        delta = timedelta(days=int(m.group(2)), hours=int(m.group(3) or 0), minutes=int(m.group(4) or 0))
        return now + delta if m.group(1) == "+" else now - delta
    m = re.fullmatch(r"([+-])(\d+)([hm])", text)
    if m:
        delta = timedelta(**{"hours" if m.group(3) == "h" else "minutes": int(m.group(2))})
        return now + delta if m.group(1) == "+" else now - delta
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def jtime(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000") if dt else None


def adf(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    paras = [p.strip() for p in str(text).split("\n\n") if p.strip()]
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paras]}


def adf_text(doc: Any) -> str:
    if isinstance(doc, str):
        return doc
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                out.append(str(node.get("text") or ""))
            for child in node.get("content") or []:
                walk(child)
            if node.get("type") in ("paragraph", "heading", "listItem", "codeBlock"):
                out.append("\n")
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(doc)
    return "".join(out).strip()


def build_state(data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The service's state from its seed part (see the jira part of seed.yaml for the shape)."""
    me = data.get("me") or {"id": "712020:paii-bot", "name": "PAII Bot", "email": "paii-bot@example.com"}
    users = {u["id"]: {"id": u["id"], "name": u["name"], "email": u.get("email")} for u in [me, *(data.get("users") or [])]}
    flds = data.get("fields") or {}
    st: dict[str, Any] = {
        "now": now, "me": me["id"], "users": users,
        "auth": {"email": me.get("email"), "token": data.get("token", "sandbox-jira-token"),
                 "pat": data.get("pat", "sandbox-jira-pat")},
        "statuses": {name: {"id": str(10000 + i), "name": name, "category": cat}
                     for i, (name, cat) in enumerate((data.get("statuses") or DEFAULT_STATUSES).items(), 1)},
        "fields": {"points": flds.get("story_points", {"id": "customfield_10016", "name": "Story point estimate",
                                                       "type": "com.pyxis.greenhopper.jira:jsw-story-points"}),
                   "sprint": flds.get("sprint", "customfield_10020"), "flagged": flds.get("flagged", "customfield_10021")},
        "projects": {}, "boards": {}, "sprints": {}, "issues": {}, "next_id": 10000, "next_link": 20000,
    }
    for i, p in enumerate(data.get("projects") or [], 1):
        st["projects"][p["key"]] = {"id": str(10000 + i), "key": p["key"], "name": p.get("name", p["key"]),
                                    "types": list(p.get("types") or ["Task"]), "next": int(p.get("next", 1))}
    for b in data.get("boards") or []:
        st["boards"][int(b["id"])] = {"id": int(b["id"]), "name": b["name"], "project": b["project"], "type": b.get("type", "scrum")}
    for s in data.get("sprints") or []:
        st["sprints"][int(s["id"])] = {"id": int(s["id"]), "name": s["name"], "state": s.get("state", "future"),
                                       "board": int(s["board"]), "goal": s.get("goal"), "start": when(s.get("start"), now),
                                       "end": when(s.get("end"), now), "complete": when(s.get("complete"), now)}
    for spec in data.get("issues") or []:
        add_seed_issue(st, spec, now)
    return st


def _history(st: dict[str, Any], issue: dict[str, Any], at: datetime, items: list[dict[str, Any]], author: str | None = None) -> None:
    issue["history"].append({"id": str(len(issue["history"]) + 1 + int(issue["id"]) * 100), "author": author or st["me"],
                             "created": at, "items": items})
    issue["history"].sort(key=lambda h: h["created"])


def status_item(st: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": st["statuses"][old]["id"],
            "fromString": old, "to": st["statuses"][new]["id"], "toString": new}


def sprint_item(st: dict[str, Any], before: list[int], after: list[int]) -> dict[str, Any]:
    names = lambda ids: ", ".join(st["sprints"][i]["name"] for i in ids)  # noqa: E731
    return {"field": "Sprint", "fieldtype": "custom", "fieldId": st["fields"]["sprint"],
            "from": ", ".join(map(str, before)), "fromString": names(before),
            "to": ", ".join(map(str, after)), "toString": names(after)}


def new_issue(st: dict[str, Any], project: str, **values: Any) -> dict[str, Any]:
    proj = st["projects"][project]
    key = values.pop("key", None) or f"{project}-{proj['next']}"
    number = int(key.rsplit("-", 1)[1])
    proj["next"] = max(proj["next"], number + 1)
    st["next_id"] += 1
    created = values.pop("created", None) or st["now"]
    issue = {"id": str(st["next_id"]), "key": key, "project": project, "type": "Task", "summary": "", "description": None,
             "status": "To Do", "assignee": None, "reporter": st["me"], "priority": "Medium", "labels": [],
             "created": created, "updated": created, "resolutiondate": None, "statuscategorychangedate": created,
             "parent": None, "points": None, "sprints": [], "flagged": False, "links": [], "comments": [],
             "remotelinks": [], "history": [], "properties": {}}
    issue.update(values)
    st["issues"][key] = issue
    return issue


def add_seed_issue(st: dict[str, Any], spec: dict[str, Any], now: datetime) -> dict[str, Any]:
    key = spec["key"]
    created = when(spec.get("created", "-20d"), now)
    sprints = [int(s) for s in spec.get("sprints") or []]
    status = spec.get("status", "To Do")
    issue = new_issue(st, key.rsplit("-", 1)[0], key=key, type=spec.get("type", "Story"), summary=spec["summary"],
                      description=adf(spec.get("description")), status="To Do", assignee=spec.get("assignee"),
                      priority=spec.get("priority", "Medium"), labels=list(spec.get("labels") or []), created=created,
                      parent=spec.get("epic") or spec.get("parent"), points=spec.get("points"), sprints=sprints,
                      flagged=bool(spec.get("flagged")))
    # the sprint history: planned before each sprint's start, carried over at the previous one's completion
    member: list[int] = []
    for n, sid in enumerate(sprints):
        sp = st["sprints"][sid]
        at = when(spec["added"], now) if spec.get("added") and n == len(sprints) - 1 else (
            st["sprints"][sprints[n - 1]]["complete"] if n else (sp["start"] or now) - timedelta(hours=1))
        if at and at > created:
            _history(st, issue, at, [sprint_item(st, list(member), member + [sid])])
        member.append(sid)
    cat = st["statuses"][status]["category"]
    explicit = spec.get("history") or []
    if not any(h.get("field") == "status" for h in explicit) and status != "To Do":
        started = when(spec.get("started"), now) or created + timedelta(days=1)
        mid = "In Progress" if status != "In Progress" else None
        _history(st, issue, started, [status_item(st, "To Do", mid or status)])
        if mid:
            _history(st, issue, when(spec.get("done"), now) or started + timedelta(days=1), [status_item(st, mid, status)])
    for h in explicit:
        at = when(h["at"], now)
        if h["field"] == "status":
            item = status_item(st, h["from"], h["to"])
        else:
            item = {"field": h["field"], "fieldtype": h.get("fieldtype", "jira"), "from": h.get("from_id"),
                    "fromString": h.get("from"), "to": h.get("to_id"), "toString": h.get("to")}
        _history(st, issue, at, [item], h.get("author"))
    issue["status"] = status
    moves = [h["created"] for h in issue["history"] for it in h["items"] if it["field"] == "status"]
    issue["statuscategorychangedate"] = moves[-1] if moves else created
    if cat == "done":
        issue["resolutiondate"] = issue["statuscategorychangedate"]
    for link in spec.get("links") or []:
        for kind, other in link.items():
            add_link(st, issue["key"], "inward" if kind == "blocked_by" else "outward", other,
                     "Blocks" if kind in ("blocked_by", "blocks") else "Relates")
    for c in spec.get("comments") or []:
        issue["comments"].append({"id": str(30000 + len(issue["comments"]) + int(issue["id"]) * 10),
                                  "author": c.get("author", st["me"]), "body": adf(c["body"]),
                                  "created": when(c["at"], now), "updated": when(c["at"], now)})
    issue["updated"] = max([created] + [h["created"] for h in issue["history"]] + [c["created"] for c in issue["comments"]])
    return issue


def add_link(st: dict[str, Any], key: str, direction: str, other: str, kind: str) -> None:
    st["next_link"] += 1
    lid = str(st["next_link"])
    st["issues"][key]["links"].append({"id": lid, "type": kind, "dir": direction, "key": other})
    if other in st["issues"]:
        st["issues"][other]["links"].append({"id": lid, "type": kind, "dir": "outward" if direction == "inward" else "inward",
                                             "key": key})


def link_issues(st: dict[str, Any], data: Any) -> tuple[int, list[str]]:
    """``POST /issueLink``: (201, []) or (status, Jira's error messages)."""
    data = data if isinstance(data, dict) else {}
    kind = str((data.get("type") or {}).get("name") or "")
    if kind not in LINK_TYPES:
        return 404, [f"No issue link type with name '{kind}' found."]
    inward, outward = ((data.get(side) or {}).get("key") for side in ("inwardIssue", "outwardIssue"))
    if inward not in st["issues"] or outward not in st["issues"]:
        return 404, ["Issue does not exist or you do not have permission to see it."]
    add_link(st, outward, "inward", inward, kind)
    return 201, []


# ---------------------------------------------------------------------------------- JQL
def view(st: dict[str, Any], o: dict[str, Any]) -> dict[str, Any]:
    low = lambda x: x.lower() if isinstance(x, str) else x  # noqa: E731
    return {
        "project": low(o["project"]), "key": low(o["key"]), "issuekey": low(o["key"]), "id": o["id"],
        "status": low(o["status"]), "statuscategory": st["statuses"][o["status"]]["category"],
        "sprint": list(o["sprints"]), "labels": [low(x) for x in o["labels"]], "label": [low(x) for x in o["labels"]],
        "assignee": low(o["assignee"]), "reporter": low(o["reporter"]), "priority": low(o["priority"]),
        "type": low(o["type"]), "issuetype": low(o["type"]), "summary": o["summary"],
        "description": adf_text(o["description"]) if o["description"] else None,
        "comment": [adf_text(c["body"]) for c in o["comments"]],
        "text": [o["summary"], adf_text(o["description"]) if o["description"] else ""] + [adf_text(c["body"]) for c in o["comments"]],
        "created": o["created"], "createddate": o["created"], "updated": o["updated"], "updateddate": o["updated"],
        "resolved": o["resolutiondate"], "resolutiondate": o["resolutiondate"],
        "resolution": "done" if o["resolutiondate"] else None, "parent": low(o["parent"]), "epic link": low(o["parent"]),
        "statuscategorychangeddate": o["statuscategorychangedate"],
        "cf:" + st["fields"]["points"]["id"].split("_")[-1]: o["points"],
        "cf:" + st["fields"]["sprint"].split("_")[-1]: list(o["sprints"]),
    }


def resolver(st: dict[str, Any]) -> Any:
    cats = {"to do": "new", "new": "new", "in progress": "indeterminate", "indeterminate": "indeterminate", "done": "done",
            "2": "new", "4": "indeterminate", "3": "done"}

    def resolve(field: str, raw: Any, mode: str) -> Any:
        if mode == "range":
            if field in ("created", "createddate", "updated", "updateddate", "resolved", "resolutiondate", "statuscategorychangeddate"):
                return relative_time(raw, st["now"])
            try:
                return float(raw)
            except (TypeError, ValueError):
                raise JQLError(f"The operator '<' is not supported by the '{field}' field.") from None
        if isinstance(raw, tuple):  # a function
            fn = raw[1]
            if fn == "currentuser":
                return {st["me"].lower()}
            states = {"opensprints": "active", "closedsprints": "closed", "futuresprints": "future"}
            if fn in states and field == "sprint":
                return {sid for sid, s in st["sprints"].items() if s["state"] == states[fn]}
            raise JQLError(f"Error in the JQL Query: Unable to find JQL function '{fn}()'.")
        text = str(raw).strip()
        if field == "project":
            proj = next((p for p in st["projects"].values() if text.lower() in (p["key"].lower(), p["name"].lower(), p["id"])), None)
            if proj is None:
                raise JQLError(f"The value '{text}' does not exist for the field 'project'.")
            return {proj["key"].lower()}
        if field == "status":
            name = next((n for n, s in st["statuses"].items() if text.lower() in (n.lower(), s["id"])), None)
            if name is None:
                raise JQLError(f"The value '{text}' does not exist for the field 'status'.")
            return {name.lower()}
        if field == "statuscategory":
            if text.lower() not in cats:
                raise JQLError(f"The value '{text}' does not exist for the field 'statusCategory'.")
            return {cats[text.lower()]}
        if field in ("sprint", "cf:" + st["fields"]["sprint"].split("_")[-1]):
            ids = {sid for sid, s in st["sprints"].items() if text == str(sid) or text.lower() == s["name"].lower()}
            if not ids:
                raise JQLError(f"The value '{text}' does not exist for the field 'sprint'.")
            return ids
        if field in ("assignee", "reporter"):
            hits = {u["id"].lower() for u in st["users"].values()
                    if text.lower() in (u["id"].lower(), u["name"].lower(), (u.get("email") or "").lower())}
            return hits or {text.lower()}
        if field.startswith("cf:"):
            try:
                return {float(text)}
            except ValueError:
                return {text.lower()}
        return {text.lower()}

    return resolve


def _key_sort(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return project, int(number) if number.isdigit() else 0


def search(st: dict[str, Any], jql: str, *, require_bounded: bool = True) -> list[dict[str, Any]]:
    """The issues a JQL finds, in its ORDER BY (default: key descending, as Jira does). Raises JQLError."""
    query = Query(jql or "", resolve=resolver(st), now=st["now"])
    if require_bounded and not query.bounded:
        raise JQLError("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
    hits = [o for o in st["issues"].values() if query.where(view(st, o))]
    order = query.order or [("created", True)]
    for field, desc in reversed(order):
        if field in ("key", "issuekey", "id", "rank"):
            hits.sort(key=lambda o: _key_sort(o["key"]), reverse=desc)
        elif field == "priority":
            hits.sort(key=lambda o: PRIORITIES.index(o["priority"]), reverse=not desc)
        elif field == "resolved":
            hits.sort(key=lambda o: o["resolutiondate"] or datetime.min.replace(tzinfo=UTC), reverse=desc)
        else:
            hits.sort(key=lambda o: o[field] if field in o else o["key"], reverse=desc)
    return hits
