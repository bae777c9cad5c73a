"""The admin app (loopback, ``port_base + 9``): status, faults, reset, state dumps, the journal.

Every call needs the ``X-Sandbox-Token`` header from ``sandbox.json`` (mode 0600), so only the
person who started the sandbox (and their ``paii sandbox`` commands) can change its world.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from paii_sandbox.faults import Fault
from paii_sandbox.timeparse import iso

if TYPE_CHECKING:
    from paii_sandbox.runner import Sandbox

TOKEN_HEADER = "x-sandbox-token"


def plain(value: Any) -> Any:
    """A service state as JSON-ready data (dataclasses, sets and datetimes included)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    if hasattr(value, "isoformat"):
        return iso(value) if hasattr(value, "astimezone") else value.isoformat()
    return value


def status(sandbox: Sandbox) -> dict[str, Any]:
    """The sandbox as it stands; each runtime's own status under its service's name (``postgres``)."""
    world = sandbox.world
    return {**{name: rt.status() for name, rt in list(world.runtimes.items())},
        "services": {
            name: {"port": sandbox.ports[name], "url": sandbox.base_url(name), "down": world.faults.is_down(name)}
            for name in world.modules
        },
        "admin_port": sandbox.admin_port,
        "port_base": sandbox.port_base,
        "now": iso(world.now()),
        "fixed_clock": world.fixed_now is not None,
        "clock": ("real time" if world.fixed_now is None else
                  f"{'from' if world.clock_since is not None else 'fixed at'} {iso(world.fixed_now)}"),
        "seeded_at": iso(world.seeded_at),
        "faults": [f.describe() for f in world.faults.list()],
        "requests": len(world.journal),
    }


def create_admin_app(sandbox: Sandbox) -> Starlette:
    world = sandbox.world

    def guard(request: Request) -> Response | None:
        if request.headers.get(TOKEN_HEADER) != sandbox.admin_token:
            return JSONResponse({"error": "missing or wrong X-Sandbox-Token (see sandbox.json)"}, status_code=401)
        return None

    async def get_status(request: Request) -> Response:
        return guard(request) or JSONResponse(status(sandbox))

    async def faults(request: Request) -> Response:
        if (denied := guard(request)) is not None:
            return denied
        if request.method == "GET":
            return JSONResponse([f.to_dict() for f in world.faults.list()])
        if request.method == "DELETE":
            q = request.query_params
            gone = await sandbox.clear_faults(q.get("service") or None, q.get("path") or None)
            return JSONResponse({"cleared": [f.describe() for f in gone]})
        try:
            spec = json.loads(await request.body() or b"{}")
            fault = await sandbox.add_fault(Fault(**spec))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"added": fault.describe()})

    async def reset(request: Request) -> Response:
        if (denied := guard(request)) is not None:
            return denied
        await sandbox.reset()
        return JSONResponse({"reset": True, "seeded_at": iso(world.seeded_at)})

    async def state(request: Request) -> Response:
        if (denied := guard(request)) is not None:
            return denied
        name = request.path_params["service"]
        if name not in world.modules:
            return JSONResponse({"error": f"no service {name!r}"}, status_code=404)
        dump = getattr(world.modules[name], "dump", None)
        with world.lock:
            data = dump(world.states[name]) if dump else plain(world.states[name])
        return Response(json.dumps(data, default=str), media_type="application/json")

    async def requests(request: Request) -> Response:
        if (denied := guard(request)) is not None:
            return denied
        q = request.query_params
        found = world.requests(q.get("service"), q.get("method"), q.get("path"))
        return JSONResponse([e.summary() for e in found])

    async def shutdown(request: Request) -> Response:
        if (denied := guard(request)) is not None:
            return denied
        sandbox.stop()
        return JSONResponse({"stopping": True})

    return Starlette(routes=[
        Route("/status", get_status),
        Route("/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/state/{service}", state),
        Route("/requests", requests),
        Route("/shutdown", shutdown, methods=["POST"]),
    ])
