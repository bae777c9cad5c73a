"""The sandbox Jira's state rendered as Jira Cloud's JSON (REST v3, or v2 for Data Center clients):
users, statuses, issue types, sprints, issues with their fields and changelogs, and error bodies.
Plain functions of the state dict :func:`paii_sandbox.services._jira_state.build_state` makes.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from paii_sandbox.services._jira_state import CATEGORIES, LINK_TYPES, PRIORITIES, SUBTASK_TYPES, adf_text, jtime


def error(status: int, *messages: str, errors: dict[str, str] | None = None) -> JSONResponse:
    """Jira's error body: ``{"errorMessages": [...], "errors": {field: message}}``."""
    return JSONResponse({"errorMessages": list(messages), "errors": errors or {}}, status_code=status)


def int_param(value: Any, default: int, *, top: int | None = None) -> int:
    """A paging parameter: default when it is not a number, else clamped to 0..top."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        return default
    return max(0, min(n, top) if top else n)


def user_json(st: dict[str, Any], uid: str | None, base: str) -> dict[str, Any] | None:
    u = st["users"].get(uid) if uid else None
    if not u:
        return None
    out = {"self": f"{base}/rest/api/3/user?accountId={u['id']}", "accountId": u["id"], "displayName": u["name"],
           "active": True, "accountType": "atlassian", "timeZone": "UTC"}
    if u.get("email"):
        out["emailAddress"] = u["email"]
    return out


def status_json(st: dict[str, Any], name: str, base: str) -> dict[str, Any]:
    s = st["statuses"][name]
    cid, color, cname = CATEGORIES[s["category"]]
    return {"self": f"{base}/rest/api/3/status/{s['id']}", "id": s["id"], "name": name, "description": "",
            "iconUrl": f"{base}/images/icons/statuses/generic.png",
            "statusCategory": {"self": f"{base}/rest/api/3/statuscategory/{cid}", "id": cid, "key": s["category"],
                               "colorName": color, "name": cname}}


def type_json(name: str, base: str) -> dict[str, Any]:
    ids = {"Epic": "10000", "Story": "10001", "Task": "10002", "Bug": "10003", "Sub-task": "10004", "Incident": "10005"}
    return {"self": f"{base}/rest/api/3/issuetype/{ids.get(name, '10009')}", "id": ids.get(name, "10009"), "name": name,
            "subtask": name in SUBTASK_TYPES, "hierarchyLevel": 1 if name == "Epic" else (-1 if name in SUBTASK_TYPES else 0)}


def sprint_json(st: dict[str, Any], sid: int, base: str) -> dict[str, Any]:
    s = st["sprints"][sid]
    out = {"id": sid, "self": f"{base}/rest/agile/1.0/sprint/{sid}", "state": s["state"], "name": s["name"],
           "originBoardId": s["board"]}
    for k, field in (("startDate", "start"), ("endDate", "end"), ("completeDate", "complete")):
        if s.get(field) and (field != "complete" or s["state"] == "closed"):
            out[k] = jtime(s[field])
    if s.get("goal"):
        out["goal"] = s["goal"]
    return out


def mini_json(st: dict[str, Any], key: str, base: str) -> dict[str, Any]:
    o = st["issues"][key]
    return {"id": o["id"], "key": key, "self": f"{base}/rest/api/3/issue/{o['id']}",
            "fields": {"summary": o["summary"], "status": status_json(st, o["status"], base),
                       "priority": {"self": f"{base}/rest/api/3/priority/{PRIORITIES.index(o['priority']) + 1}",
                                    "id": str(PRIORITIES.index(o["priority"]) + 1), "name": o["priority"]},
                       "issuetype": type_json(o["type"], base)}}


def issue_fields(st: dict[str, Any], o: dict[str, Any], base: str, v2: bool) -> dict[str, Any]:
    f = st["fields"]
    text = (lambda d: adf_text(d) if d else None) if v2 else (lambda d: d)
    comments = [{"self": f"{base}/rest/api/3/issue/{o['id']}/comment/{c['id']}", "id": c["id"],
                 "author": user_json(st, c["author"], base), "body": text(c["body"]), "created": jtime(c["created"]),
                 "updated": jtime(c["updated"])} for c in o["comments"]]
    links = []
    for lk in o["links"]:
        if lk["key"] not in st["issues"]:
            continue
        inward, outward = LINK_TYPES[lk["type"]]
        entry = {"id": lk["id"], "self": f"{base}/rest/api/3/issueLink/{lk['id']}",
                 "type": {"id": "1000" + str(list(LINK_TYPES).index(lk["type"])), "name": lk["type"], "inward": inward, "outward": outward}}
        entry["inwardIssue" if lk["dir"] == "inward" else "outwardIssue"] = mini_json(st, lk["key"], base)
        links.append(entry)
    project = st["projects"][o["project"]]
    return {
        "summary": o["summary"], "status": status_json(st, o["status"], base), "issuetype": type_json(o["type"], base),
        "project": {"self": f"{base}/rest/api/3/project/{project['id']}", "id": project["id"], "key": project["key"],
                    "name": project["name"]},
        "assignee": user_json(st, o["assignee"], base), "reporter": user_json(st, o["reporter"], base),
        "priority": mini_json(st, o["key"], base)["fields"]["priority"], "labels": list(o["labels"]),
        "created": jtime(o["created"]), "updated": jtime(o["updated"]), "resolutiondate": jtime(o["resolutiondate"]),
        "statuscategorychangedate": jtime(o["statuscategorychangedate"]), "description": text(o["description"]),
        "parent": mini_json(st, o["parent"], base) if o["parent"] in st["issues"] else None,
        "issuelinks": links, "comment": {"comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0},
        f["points"]["id"]: o["points"],
        f["sprint"]: [sprint_json(st, s, base) for s in o["sprints"]] or None,
        f["flagged"]: [{"self": f"{base}/rest/api/3/customFieldOption/10019", "value": "Impediment", "id": "10019"}] if o["flagged"] else None,
    }


def changelog_json(st: dict[str, Any], o: dict[str, Any], base: str) -> list[dict[str, Any]]:
    return [{"id": h["id"], "author": user_json(st, h["author"], base), "created": jtime(h["created"]),
             "items": [{k: v for k, v in it.items() if v is not None} for it in h["items"]]} for h in o["history"]]


def issue_json(st: dict[str, Any], o: dict[str, Any], base: str, fields: list[str] | None, expand: str = "",
               v2: bool = False) -> dict[str, Any]:
    api = "2" if v2 else "3"
    out: dict[str, Any] = {"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
                           "id": o["id"], "key": o["key"], "self": f"{base}/rest/api/{api}/issue/{o['id']}"}
    wanted = [f.strip() for f in (fields if fields is not None else ["*all"]) for f in f.split(",") if f.strip()]
    if wanted and wanted != ["id"]:
        full = issue_fields(st, o, base, v2)
        keep = set(full) if ("*all" in wanted or "*navigable" in wanted) else {f for f in wanted if not f.startswith("-")}
        keep -= {f[1:] for f in wanted if f.startswith("-")}
        out["fields"] = {k: v for k, v in full.items() if k in keep}
    if "changelog" in (expand or ""):
        hist = changelog_json(st, o, base)
        out["changelog"] = {"startAt": 0, "maxResults": len(hist), "total": len(hist), "histories": hist}
    return out
