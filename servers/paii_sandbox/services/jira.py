"""The sandbox's Jira Cloud site: platform REST v3 (+ v2 for Data Center clients) and the agile API.

Stateful (creates, comments, transitions and remote links change later reads), seeded from
the ``jira`` part of ``seed.yaml`` relative to the sandbox clock, with a changelog behind every status and sprint
change and JQL good enough for PAII (project, status, statusCategory, sprint, labels, text, dates,
ORDER BY). Paths, auth (basic email + API token; bearer PAT on v2), paging (``nextPageToken`` on
``/rest/api/3/search/jql``, ``startAt`` elsewhere) and error bodies follow the published specs
(/work/shared/api-mocks/jira and jira-software); the removed ``/rest/api/3/search`` answers 410.

    python -m paii_sandbox.services.jira --port 9650 [--now 2026-01-02T02:00:00Z]
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from paii_sandbox.services import _jira_json as J
from paii_sandbox.services import _jira_state as S
from paii_sandbox.services._jira_agile import agile_routes
from paii_sandbox.services._jira_jql import JQLError

NAME = "jira"
PORT_OFFSET = 2
SEED_FILE = Path(__file__).resolve().parents[1] / "seed.yaml"


def seed(data: dict[str, Any], now: datetime) -> dict[str, Any]:
    # a seed file of a person's own without a jira part gets the packaged one
    return S.build_state(data or load_seed(), now)


def env(base_url: str, sandbox_dir: Path) -> dict[str, str]:
    return {"PAII_JIRA_URL": base_url.rstrip("/"), "PAII_JIRA_EMAIL": "paii-bot@example.com",
            "PAII_JIRA_TOKEN": "sandbox-jira-token", "PAII_JIRA_PROJECT": "INC", "PAII_JIRA_INCIDENT_TYPE": "Incident",
            "PAII_JIRA_TEAMS": "Team Infra=84#team-infra-status"}


def create_app(state: dict[str, Any], world: Any) -> Starlette:
    st = state

    def now() -> datetime:
        st["now"] = world.now()
        return st["now"]

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def v2(request: Request) -> bool:
        return request.url.path.startswith("/rest/api/2/")

    def issue_or_404(key: str) -> dict[str, Any] | None:
        key = key.upper()
        return st["issues"].get(key) or next((o for o in st["issues"].values() if o["id"] == key), None)

    async def body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    # ------------------------------------------------------------------------- platform
    async def myself(request: Request) -> Response:
        return JSONResponse(J.user_json(st, st["me"], base(request)))

    async def fields(request: Request) -> Response:
        f = st["fields"]
        out = [{"id": k, "key": k, "name": n, "custom": False, "navigable": True, "orderable": True, "searchable": True,
                "clauseNames": [k], "schema": {"type": t, "system": k}}
               for k, n, t in (("summary", "Summary", "string"), ("status", "Status", "status"), ("labels", "Labels", "array"),
                               ("description", "Description", "string"), ("parent", "Parent", "issuelink"),
                               ("issuelinks", "Linked Issues", "array"), ("priority", "Priority", "priority"))]
        for fid, name, custom, typ in ((f["points"]["id"], f["points"]["name"], f["points"].get("type", "com.atlassian.jira.plugin.system.customfieldtypes:float"), "number"),
                                       (f["sprint"], "Sprint", "com.pyxis.greenhopper.jira:gh-sprint", "array"),
                                       (f["flagged"], "Flagged", "com.atlassian.jira.plugin.system.customfieldtypes:multicheckboxes", "array")):
            cid = int(fid.split("_")[-1])
            out.append({"id": fid, "key": fid, "name": name, "custom": True, "navigable": True, "orderable": True,
                        "searchable": True, "clauseNames": [f"cf[{cid}]", name],
                        "schema": {"type": typ, "custom": custom, "customId": cid}})
        return JSONResponse(out)

    def project_json(p: dict[str, Any], request: Request, types: bool = False) -> dict[str, Any]:
        out = {"self": f"{base(request)}/rest/api/3/project/{p['id']}", "id": p["id"], "key": p["key"], "name": p["name"],
               "projectTypeKey": "software", "simplified": False, "style": "classic"}
        if types:
            out["issueTypes"] = [J.type_json(t, base(request)) for t in p["types"]]
        return out

    async def project_search(request: Request) -> Response:
        start, size = J.int_param(request.query_params.get("startAt"), 0), J.int_param(request.query_params.get("maxResults"), 50, top=100)
        values = [project_json(p, request) for p in st["projects"].values()]
        page = values[start:start + size]
        return JSONResponse({"self": str(request.url), "startAt": start, "maxResults": size, "total": len(values),
                             "isLast": start + size >= len(values), "values": page})

    async def project_list(request: Request) -> Response:  # v2 (Data Center)
        return JSONResponse([project_json(p, request) for p in st["projects"].values()])

    async def project_get(request: Request) -> Response:
        ref = request.path_params["key"]
        p = next((p for p in st["projects"].values() if ref.upper() == p["key"] or ref == p["id"]), None)
        if p is None:
            return J.error(404, "No project could be found with key '%s'." % ref)
        return JSONResponse(project_json(p, request, types=True))

    async def create_issue(request: Request) -> Response:
        data = await body(request)
        f = (data or {}).get("fields") if isinstance(data, dict) else None
        if not isinstance(f, dict):
            return J.error(400, "Can not deserialize instance of fields")
        errors: dict[str, str] = {}
        pref = f.get("project") or {}
        proj = next((p for p in st["projects"].values() if pref.get("key") == p["key"] or str(pref.get("id")) == p["id"]), None)
        if proj is None:
            errors["project"] = "Specify a valid project ID or key"
        tname = (f.get("issuetype") or {}).get("name")
        if proj and tname not in proj["types"]:
            errors["issuetype"] = "Specify an issue type" if not tname else "The issue type selected is invalid."
        if not str(f.get("summary") or "").strip():
            errors["summary"] = "You must specify a summary of the issue."
        prio = (f.get("priority") or {}).get("name", "Medium") if f.get("priority") else "Medium"
        if prio not in S.PRIORITIES:
            errors["priority"] = "The priority selected is invalid."
        labels = f.get("labels") or []
        if any(not isinstance(lb, str) or " " in lb for lb in labels):
            errors["labels"] = "The label contains spaces which is invalid."
        desc = f.get("description")
        if desc is not None and not v2(request) and not (isinstance(desc, dict) and desc.get("type") == "doc"):
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        if errors:
            return J.error(400, errors=errors)
        desc_doc = S.adf(desc) if isinstance(desc, str) else desc
        issue = S.new_issue(st, proj["key"], type=tname, summary=f["summary"], description=desc_doc, priority=prio,
                            labels=list(labels), assignee=(f.get("assignee") or {}).get("accountId"),
                            parent=(f.get("parent") or {}).get("key"), created=now(),
                            points=f.get(st["fields"]["points"]["id"]))
        api = "2" if v2(request) else "3"
        return JSONResponse({"id": issue["id"], "key": issue["key"], "self": f"{base(request)}/rest/api/{api}/issue/{issue['id']}"},
                            status_code=201)

    async def get_issue(request: Request) -> Response:
        o = issue_or_404(request.path_params["key"])
        if o is None:
            return J.error(404, "Issue does not exist or you do not have permission to see it.")
        q = request.query_params
        wanted = q.getlist("fields") or None
        return JSONResponse(J.issue_json(st, o, base(request), wanted, q.get("expand", ""), v2=v2(request)))

    async def changelog(request: Request) -> Response:
        o = issue_or_404(request.path_params["key"])
        if o is None:
            return J.error(404, "Issue does not exist or you do not have permission to see it.")
        start, size = J.int_param(request.query_params.get("startAt"), 0), J.int_param(request.query_params.get("maxResults"), 100, top=100)
        hist = J.changelog_json(st, o, base(request))
        return JSONResponse({"self": str(request.url), "startAt": start, "maxResults": size, "total": len(hist),
                             "isLast": start + size >= len(hist), "values": hist[start:start + size]})

    def comment_json(o: dict[str, Any], c: dict[str, Any], request: Request) -> dict[str, Any]:
        return {"self": f"{base(request)}/rest/api/3/issue/{o['id']}/comment/{c['id']}", "id": c["id"],
                "author": J.user_json(st, c["author"], base(request)), "updateAuthor": J.user_json(st, c["author"], base(request)),
                "body": S.adf_text(c["body"]) if v2(request) else c["body"], "created": S.jtime(c["created"]),
                "updated": S.jtime(c["updated"])}

    async def comments(request: Request) -> Response:
        o = issue_or_404(request.path_params["key"])
        if o is None:
            return J.error(404, "Issue does not exist or you do not have permission to see it.")
        if request.method == "POST":
            data = await body(request) or {}
            text = data.get("body") if isinstance(data, dict) else None
            if not text or (not v2(request) and not (isinstance(text, dict) and text.get("type") == "doc")):
                return J.error(400, errors={"comment": "Comment body can not be empty!" if not text else
                                         "Operation value must be an Atlassian Document (see the Atlassian Document Format)"})
            at = now()
            c = {"id": str(40000 + sum(len(x["comments"]) for x in st["issues"].values())), "author": st["me"],
                 "body": S.adf(text) if isinstance(text, str) else text, "created": at, "updated": at}
            o["comments"].append(c)
            o["updated"] = at
            return JSONResponse(comment_json(o, c, request), status_code=201)
        q = request.query_params
        ordered = sorted(o["comments"], key=lambda c: c["created"], reverse=q.get("orderBy", "created").startswith("-"))
        start, size = J.int_param(q.get("startAt"), 0), J.int_param(q.get("maxResults"), 100, top=100)
        return JSONResponse({"startAt": start, "maxResults": size, "total": len(ordered),
                             "comments": [comment_json(o, c, request) for c in ordered[start:start + size]]})

    async def transitions(request: Request) -> Response:
        o = issue_or_404(request.path_params["key"])
        if o is None:
            return J.error(404, "Issue does not exist or you do not have permission to see it.")
        options = {str(11 + 10 * i): name for i, name in enumerate(st["statuses"])}
        if request.method == "GET":
            return JSONResponse({"expand": "transitions", "transitions": [
                {"id": tid, "name": name, "to": J.status_json(st, name, base(request)), "hasScreen": False, "isGlobal": True,
                 "isInitial": False, "isAvailable": True, "isConditional": False}
                for tid, name in options.items() if name != o["status"]]})
        data = await body(request) or {}
        tid = str(((data.get("transition") or {}) if isinstance(data, dict) else {}).get("id") or "")
        if tid not in options or options[tid] == o["status"]:
            return J.error(400, f"Transition id '{tid}' is not valid for this issue.")
        at, old, new = now(), o["status"], options[tid]
        S._history(st, o, at, [S.status_item(st, old, new)])
        o["status"], o["updated"] = new, at
        if st["statuses"][old]["category"] != st["statuses"][new]["category"]:
            o["statuscategorychangedate"] = at
        o["resolutiondate"] = at if st["statuses"][new]["category"] == "done" else None
        return Response(status_code=204)

    async def remotelinks(request: Request) -> Response:
        o = issue_or_404(request.path_params["key"])
        if o is None:
            return J.error(404, "Issue does not exist or you do not have permission to see it.")
        b = base(request)
        if request.method == "GET":
            gid = request.query_params.get("globalId")
            items = [dict(lk, self=f"{b}/rest/api/3/issue/{o['key']}/remotelink/{lk['id']}") for lk in o["remotelinks"]]
            if gid:
                hit = next((x for x in items if x.get("globalId") == gid), None)
                return JSONResponse(hit) if hit else J.error(404, "No remote link with that global id.")
            return JSONResponse(items)
        data = await body(request) or {}
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict) or not obj.get("url") or not obj.get("title"):
            return J.error(400, errors={"object": "The remote link needs object.url and object.title."})
        gid = data.get("globalId")
        found = next((lk for lk in o["remotelinks"] if gid and lk.get("globalId") == gid), None)
        link = {k: v for k, v in {"globalId": gid, "object": {"url": obj["url"], "title": obj["title"]},
                                  "relationship": data.get("relationship"), "application": data.get("application")}.items() if v}
        if found:
            found.update(link)
            return JSONResponse({"id": found["id"], "self": f"{b}/rest/api/3/issue/{o['key']}/remotelink/{found['id']}"})
        link["id"] = 50000 + sum(len(x["remotelinks"]) for x in st["issues"].values())
        o["remotelinks"].append(link)
        o["updated"] = now()
        return JSONResponse({"id": link["id"], "self": f"{b}/rest/api/3/issue/{o['key']}/remotelink/{link['id']}"}, status_code=201)

    async def issue_link(request: Request) -> Response:
        status, messages = S.link_issues(st, await body(request))
        return Response(status_code=201) if status == 201 else J.error(status, *messages)

    async def search_jql(request: Request) -> Response:
        if request.method == "POST":
            data = await body(request)
            if not isinstance(data, dict):
                return J.error(400, "The request body is not valid JSON.")
            jql, token, size = data.get("jql", ""), data.get("nextPageToken"), data.get("maxResults", 50)
            wanted, expand = data.get("fields") or ["id"], data.get("expand") or ""
            expand = ",".join(expand) if isinstance(expand, list) else expand
        else:
            q = request.query_params
            jql, token, size = q.get("jql", ""), q.get("nextPageToken"), q.get("maxResults", 50)
            wanted, expand = q.getlist("fields") or ["id"], q.get("expand", "")
        try:
            now()
            hits = S.search(st, jql)
        except JQLError as exc:
            return J.error(400, str(exc))
        try:
            start = int(base64.b64decode(token).decode()) if token else 0
        except (ValueError, binascii.Error):
            return J.error(400, "The provided next page token is invalid or expired.")
        size = J.int_param(size, 50, top=50 if "changelog" in expand else 100) or 50
        page = hits[start:start + size]
        out: dict[str, Any] = {"issues": [J.issue_json(st, o, base(request), wanted, expand) for o in page],
                               "isLast": start + size >= len(hits)}
        if not out["isLast"]:
            out["nextPageToken"] = base64.b64encode(str(start + size).encode()).decode()
        return JSONResponse(out)

    async def search_v2(request: Request) -> Response:  # Data Center's search (startAt paging)
        q = request.query_params
        try:
            now()
            hits = S.search(st, q.get("jql", ""), require_bounded=False)
        except JQLError as exc:
            return J.error(400, str(exc))
        start, size = J.int_param(q.get("startAt"), 0), J.int_param(q.get("maxResults"), 50, top=100)
        wanted = q.getlist("fields") or ["*navigable"]
        return JSONResponse({"startAt": start, "maxResults": size, "total": len(hits), "issues": [
            J.issue_json(st, o, base(request), wanted, q.get("expand", ""), v2=True) for o in hits[start:start + size]]})

    async def search_removed(request: Request) -> Response:
        return J.error(410, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                         "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")

    routes = [Route("/rest/api/3/search", search_removed, methods=["GET", "POST"]),
              Route("/rest/api/3/search/jql", search_jql, methods=["GET", "POST"]),
              Route("/rest/api/2/search", search_v2, methods=["GET"]),
              Route("/rest/api/3/project/search", project_search), Route("/rest/api/2/project", project_list)]
    for v in ("2", "3"):
        p = f"/rest/api/{v}"
        routes += [Route(f"{p}/myself", myself), Route(f"{p}/field", fields), Route(f"{p}/project/{{key}}", project_get),
                   Route(f"{p}/issue", create_issue, methods=["POST"]), Route(f"{p}/issue/{{key}}", get_issue),
                   Route(f"{p}/issue/{{key}}/changelog", changelog),
                   Route(f"{p}/issue/{{key}}/comment", comments, methods=["GET", "POST"]),
                   Route(f"{p}/issue/{{key}}/transitions", transitions, methods=["GET", "POST"]),
                   Route(f"{p}/issue/{{key}}/remotelink", remotelinks, methods=["GET", "POST"]),
                   Route(f"{p}/issueLink", issue_link, methods=["POST"])]
    routes += agile_routes(st)

    async def authenticate(request: Request, call_next: Any) -> Response:
        header = request.headers.get("authorization", "")
        auth = st["auth"]
        ok = False
        if header.lower().startswith("basic "):
            try:
                user, _, token = base64.b64decode(header[6:]).decode().partition(":")
                ok = (not auth.get("email") or user == auth["email"]) and token == auth["token"]
            except (ValueError, binascii.Error):
                ok = False
        elif header.lower().startswith("bearer "):
            ok = header[7:].strip() == auth.get("pat")
        if not ok:
            return PlainTextResponse("Client must be authenticated to access this resource.", status_code=401)
        return await call_next(request)

    return Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=authenticate)])


class LocalWorld:
    """The sandbox clock when this module runs on its own: fixed (``--now``) or real time."""

    def __init__(self, fixed: datetime | None = None) -> None:
        self.fixed = fixed
        self.started = fixed or datetime.now(UTC)

    def now(self) -> datetime:
        return self.fixed or datetime.now(UTC)


def load_seed(path: Path = SEED_FILE) -> dict[str, Any]:
    import yaml

    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(NAME) or {}


def main(argv: list[str] | None = None) -> None:
    import argparse

    import uvicorn

    ap = argparse.ArgumentParser(description="The sandbox Jira site on 127.0.0.1 (seeded from the jira part of seed.yaml).")
    ap.add_argument("--port", type=int, default=9652)
    ap.add_argument("--now", help="fixed clock, e.g. 2026-01-02T02:00:00Z (default: real time)")
    args = ap.parse_args(argv)
    fixed = datetime.fromisoformat(args.now.replace("Z", "+00:00")) if args.now else None
    world = LocalWorld(fixed)
    app = create_app(seed(load_seed(), world.now()), world)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
