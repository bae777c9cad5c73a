"""Pod exec WebSockets through the world: faults, the write log and the journal, as for HTTP requests."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from paii_sandbox.faults import MALFORMED_BODY, DropConnection

if TYPE_CHECKING:
    from paii_sandbox.world import World


async def websocket(world: World, name: str, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A WebSocket (a pod exec): faults, the write log and the journal, like an HTTP request.

    Faults: 429 and 500 refuse the upgrade with that status; ``down`` accepts, then drops the
    connection; ``malformed`` answers an exit status of the wrong shape; ``slow`` waits before the
    command runs. With ``after`` the command runs first and its output is lost."""
    from paii_sandbox.world import Exchange

    inner = world.apps[name]
    path = scope["path"]
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
    exchange = Exchange(name, "GET", path, (scope.get("query_string") or b"").decode("latin-1"), 0, headers, b"")
    fault = world.faults.take(name, "GET", path)
    exchange.fault = (fault.kind + (" after" if fault.after else "")) if fault else None
    accepted = False

    async def client(message: dict[str, Any]) -> None:
        nonlocal accepted
        if message["type"] == "websocket.accept":
            accepted, exchange.status = True, 101
        elif message["type"] == "websocket.http.response.start":
            exchange.status = message["status"]
        await send(message)

    async def run(out: Any, incoming: Any) -> None:
        exchange.applied = True
        seq, token = world.log_request(name, scope, headers, b"") if world.mutates(name, "WEBSOCKET", path) else (None, None)
        try:
            await inner(scope, incoming, out)
        finally:
            world.request_done(seq, token)
        if seq is not None and world.write_log is not None:
            await world.write_log.sync(seq)

    try:
        if fault is None or fault.kind == "slow":
            if fault is not None:
                await asyncio.sleep(fault.seconds or 0)
            await run(client, receive)
            return
        connect = await receive()
        if fault.after:  # the command runs; the client sees at most the acceptance
            given = [connect]

            async def once() -> dict[str, Any]:
                return given.pop() if given else {"type": "websocket.disconnect", "code": 1000}

            async def accept_only(message: dict[str, Any]) -> None:
                if message["type"] == "websocket.accept" and fault.kind != "500":
                    await client(message)

            await run(accept_only, once)
        if fault.kind in ("429", "500"):
            status = 429 if fault.kind == "429" else 500
            body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": "fault injected by the sandbox", "code": status}).encode()
            await client({"type": "websocket.http.response.start", "status": status,
                          "headers": [(b"content-type", b"application/json")]})
            await client({"type": "websocket.http.response.body", "body": body})
            return
        if not accepted:
            await client({"type": "websocket.accept", "subprotocol": _exec_protocol(scope)})
        if fault.kind == "malformed":
            await client({"type": "websocket.send", "bytes": b"\x03" + MALFORMED_BODY})
            await client({"type": "websocket.close", "code": 1000})
            return
        raise DropConnection(f"{name} {path}")  # down: the connection ends without an answer
    finally:
        world.journal.append(exchange)


def _exec_protocol(scope: dict[str, Any]) -> str | None:
    offered = scope.get("subprotocols") or []
    return next((p for p in ("v5.channel.k8s.io", "v4.channel.k8s.io") if p in offered), None)
