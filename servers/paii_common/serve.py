"""The one ``main()`` every server's ``__main__`` calls: parse the transport, log to stderr, run.

Settings and the server are built inside (never at import), and every secret the settings hold
is registered for redaction before the first log line can mention it.

Over stdio, a line that is not a valid JSON-RPC message gets a JSON-RPC error answer
(:func:`run_stdio`); the ``mcp`` package alone leaves it unanswered (see there why).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


def serve(name: str, settings_class: str, description: str, default_port: int, argv: list[str] | None = None) -> None:
    """Run ``paii_<name>.server.build_server(paii_<name>.config.<settings_class>.load())``."""
    parser = argparse.ArgumentParser(prog=f"paii-{name}", description=description)
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio",
                        help="stdio for one client (default); streamable-http to serve a team")
    parser.add_argument("--host", default="127.0.0.1", help="streamable-http only (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port, help=f"streamable-http only (default {default_port})")
    parser.add_argument("--no-auth", action="store_true",
                        help="streamable-http on a loopback address only: serve without tokens, to try it on this machine "
                             "(otherwise every request needs a token from PAII_AUTH_TOKENS_FILE: paii auth add NAME)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="streamable-http only: N processes answer on the port (default 1), for many clients "
                             "at once; they keep no MCP session, so tools cannot ask questions or report progress")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be 1 or more")

    from paii_common.redact import register_secret, setup_logging

    setup_logging()
    config = importlib.import_module(f"paii_{name}.config")
    cls = getattr(config, settings_class)
    try:  # before the server module is imported: a bad setting is reported at once
        settings = cls.load()
    except ValueError as exc:  # SettingError, or pydantic's ValidationError (a ValueError too)
        from paii_common.config import describe_settings_error

        print(f"paii-{name}: cannot start: {describe_settings_error(exc, cls)}", file=sys.stderr)
        raise SystemExit(2) from None
    server_mod = importlib.import_module(f"paii_{name}.server")
    register_secret(*settings.secret_values())
    server = server_mod.build_server(settings)
    if args.transport == "stdio":
        run_stdio(server)
    else:
        from paii_common.transport import run_http  # tokens, exposure checks, Host headers: see there

        run_http(server, name=name, host=args.host, port=args.port, no_auth=args.no_auth, workers=args.workers,
                 settings_class=settings_class)


# ---------------------------------------------------------------------------- stdio
def run_stdio(server: Any) -> None:
    """``server.run("stdio")``, except that an unreadable line gets a JSON-RPC error answer.

    Why a shim (mcp 2.3): ``mcp/server/stdio.py`` (``stdio_server``'s ``stdin_reader``) parses
    each line with pydantic and, when that fails, puts the exception object into the read
    stream; ``mcp/shared/jsonrpc_dispatcher.py`` (``JSONRPCDispatcher._dispatch``) drops it with
    a debug log unless an ``on_stream_exception`` observer was given, and that observer is a
    constructor argument of the dispatcher built inside ``mcp/server/runner.py``
    (``serve_dual_era_loop``): neither ``MCPServer``, ``Server.run`` nor ``stdio_server()``
    can set it, and it would only see the exception, with no way to answer. So a request with a
    lone surrogate escape (``"\\ud800"``, which Python's json accepts and pydantic's parser
    refuses) or nested deeper than pydantic's 200 levels gets no reply at all and the client
    waits until it times out. The shim wraps the read stream: such an exception becomes a
    JSON-RPC error (-32700 parse error, -32600 invalid request) sent on the write stream, with
    the request's id when the line still yields one, else ``null`` as JSON-RPC says.
    Everything else is exactly what ``MCPServer.run_stdio_async`` does.
    """
    import anyio

    async def main() -> None:
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read_stream, write_stream):
            lowlevel = server._lowlevel_server  # what MCPServer.run_stdio_async runs
            await lowlevel.run(
                _AnswerUnreadable(read_stream, write_stream), write_stream, lowlevel.create_initialization_options()
            )

    anyio.run(main)


def _request_id(message: Any) -> tuple[bool, Any]:
    """(answer at all, id): requests and unreadable lines get an answer; notifications and
    responses from the client do not (JSON-RPC never answers those)."""
    if not isinstance(message, dict):
        return True, None
    rid = message.get("id")
    if "id" not in message or rid is None:
        return "method" not in message, None  # a notification gets no answer
    if "result" in message or "error" in message:
        return False, None  # a (malformed) response from the client
    valid = isinstance(rid, str) or (isinstance(rid, int) and not isinstance(rid, bool))
    return True, rid if valid else None


def error_reply(exc: BaseException) -> Any:
    """The JSON-RPC error answering a line the transport could not read, or None (no answer)."""
    from mcp_types import ErrorData, JSONRPCError
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return None
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        code = PARSE_ERROR
        why = str((first.get("ctx") or {}).get("error") or first.get("msg") or "invalid JSON")
        if "recursion limit" in why:
            why += " (nesting deeper than 200 levels is refused)"
        elif "surrogate" in why or "hex escape" in why:
            why += " (a \\ud800-\\udfff escape without its pair is not valid Unicode)"
        text = f"Parse error: {why}"
        try:  # Python's parser accepts what pydantic's refused: the id may still be there
            message = json.loads(first.get("input") or "")
        except Exception:  # truly not JSON (or deeper than Python's own limit)
            message = None
    else:
        code = INVALID_REQUEST
        text = "Invalid request: not a JSON-RPC 2.0 message (jsonrpc, id, method)"
        message = first.get("input")
    answer, rid = _request_id(message)
    if not answer:
        return None
    return JSONRPCError(jsonrpc="2.0", id=rid, error=ErrorData(code=code, message=text))


class _AnswerUnreadable:
    """A read stream that answers unreadable lines itself and passes everything else on."""

    def __init__(self, inner: Any, write_stream: Any) -> None:
        self._inner = inner
        self._write = write_stream

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        import anyio
        from mcp.shared.message import SessionMessage

        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return item
            reply = error_reply(item)
            if reply is None:
                continue
            try:
                await self._write.send(SessionMessage(reply))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return item

    def __aiter__(self) -> _AnswerUnreadable:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _AnswerUnreadable:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
