"""The sandbox Jira's agile API (``/rest/agile/1.0``): boards, their configuration and sprints, read only."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from paii_sandbox.services import _jira_json as J


def agile_routes(st: dict[str, Any]) -> list[Route]:
    """The agile routes over the state dict st."""

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def board_json(b: dict[str, Any], request: Request) -> dict[str, Any]:
        p = st["projects"][b["project"]]
        return {"id": b["id"], "self": f"{base(request)}/rest/agile/1.0/board/{b['id']}", "name": b["name"], "type": b["type"],
                "location": {"projectId": int(p["id"]), "projectKey": p["key"], "projectName": p["name"],
                             "displayName": f"{p['name']} ({p['key']})", "name": f"{p['name']} ({p['key']})",
                             "projectTypeKey": "software"}}

    def paged(values: list[Any], request: Request) -> JSONResponse:
        start, size = J.int_param(request.query_params.get("startAt"), 0), J.int_param(request.query_params.get("maxResults"), 50, top=50) or 50
        return JSONResponse({"maxResults": size, "startAt": start, "total": len(values),
                             "isLast": start + size >= len(values), "values": values[start:start + size]})

    def board_or_none(request: Request) -> dict[str, Any] | None:
        try:
            return st["boards"].get(int(request.path_params["board"]))
        except ValueError:
            return None

    async def boards(request: Request) -> Response:
        name = (request.query_params.get("name") or "").lower()
        return paged([board_json(b, request) for b in st["boards"].values() if name in b["name"].lower()], request)

    async def board_get(request: Request) -> Response:
        b = board_or_none(request)
        if b is None:
            return J.error(404, "Board does not exist or you do not have permission to see it.")
        return JSONResponse(board_json(b, request))

    async def board_config(request: Request) -> Response:
        b = board_or_none(request)
        if b is None:
            return J.error(404, "Board does not exist or you do not have permission to see it.")
        base_url, pts = base(request), st["fields"]["points"]
        cols = [{"name": n, "statuses": [{"id": s["id"], "self": f"{base_url}/rest/api/3/status/{s['id']}"}]}
                for n, s in st["statuses"].items()]
        return JSONResponse({"id": b["id"], "name": b["name"], "type": b["type"], "self": f"{base_url}/rest/agile/1.0/board/{b['id']}/configuration",
                             "location": {"type": "project", "projectKeyOrId": st["projects"][b["project"]]["id"]},
                             "filter": {"id": str(10000 + b["id"]), "self": f"{base_url}/rest/api/3/filter/{10000 + b['id']}"},
                             "columnConfig": {"columns": cols, "constraintType": "none"},
                             "estimation": {"type": "field", "field": {"fieldId": pts["id"], "displayName": pts["name"]}},
                             "ranking": {"rankCustomFieldId": 10019}})

    async def board_sprints(request: Request) -> Response:
        b = board_or_none(request)
        if b is None:
            return J.error(404, "Board does not exist or you do not have permission to see it.")
        states = {s.strip() for s in (request.query_params.get("state") or "").split(",") if s.strip()}
        rows = [J.sprint_json(st, sid, base(request)) for sid, s in sorted(st["sprints"].items())
                if s["board"] == b["id"] and (not states or s["state"] in states)]
        return paged(rows, request)

    async def sprint_get(request: Request) -> Response:
        try:
            sid = int(request.path_params["sprint"])
        except ValueError:
            sid = -1
        if sid not in st["sprints"]:
            return J.error(404, "Sprint does not exist or you do not have permission to see it.")
        return JSONResponse(J.sprint_json(st, sid, base(request)))

    return [Route("/rest/agile/1.0/board", boards), Route("/rest/agile/1.0/board/{board}", board_get),
            Route("/rest/agile/1.0/board/{board}/configuration", board_config),
            Route("/rest/agile/1.0/board/{board}/sprint", board_sprints),
            Route("/rest/agile/1.0/sprint/{sprint}", sprint_get)]
