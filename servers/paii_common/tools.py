"""Tool registration: every tool is marked read-only or not, in one place.

Servers decorate their tool functions with :func:`tool` (a marker, nothing is registered
yet) and hand the list to :func:`register_tools`, which

* derives the MCP ``ToolAnnotations`` (read-only, destructive, idempotent, open-world),
* drops every writer when the settings say read-only (``PAII_READ_ONLY=1``),
* refuses a tool name that is not ``verb_noun`` snake case (names are an API),
* registers the settings' secrets (and PAII's secret-named environment variables) for masking,
* and runs every call through :class:`paii_common.calls.PaiiTool`: an overall deadline
  (``read_timeout`` for readers, ``write_timeout`` for writers), arguments that fail validation
  reported as :class:`~paii_common.errors.InvalidInput` naming the argument, and an exception
  that is not a :class:`~paii_common.errors.PaiiError` reported as a PAII bug with its type and
  message (never the SDK's bare "Error executing tool X"), and every result neutralised and
  masked (invisible characters, forged fence markers, secrets).

The function's docstring is the tool's description and its typed parameters
(``Annotated[..., Field(description=...)]``) are the input schema; the wrapper keeps both, so
``tools/list`` is exactly what the SDK derives from the function.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from mcp.server import MCPServer
from mcp_types import ToolAnnotations

F = TypeVar("F", bound=Callable[..., Any])

_NAME = re.compile(r"^[a-z]+(_[a-z0-9]+)*$")
#: deadlines when no settings are given (the PaiiSettings defaults: PAII_READ_TIMEOUT / PAII_WRITE_TIMEOUT)
DEFAULT_READ_TIMEOUT = 15.0
DEFAULT_WRITE_TIMEOUT = 30.0


@dataclass(frozen=True)
class ToolMeta:
    read_only: bool
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = True
    title: str | None = None
    name: str | None = None
    #: for a writer: how to find out whether it happened when its outcome is unknown (deadline)
    check: str | None = None


def tool(
    *,
    read_only: bool,
    destructive: bool = False,
    idempotent: bool | None = None,
    open_world: bool = True,
    title: str | None = None,
    name: str | None = None,
    check: str | None = None,
) -> Callable[[F], F]:
    """Mark a function as a PAII tool. ``read_only`` is required: every tool says what it does.

    ``check`` (writers): the read that shows whether the write happened, for the error when the
    call runs past its deadline, e.g. ``"get_incident shows its status"``.
    """

    def mark(fn: F) -> F:
        fn.__paii_tool__ = ToolMeta(  # type: ignore[attr-defined]
            read_only=read_only,
            destructive=destructive,
            idempotent=read_only if idempotent is None else idempotent,
            open_world=open_world,
            title=title,
            name=name,
            check=check,
        )
        return fn

    return mark


def tool_meta(fn: Callable[..., Any]) -> ToolMeta:
    meta = getattr(fn, "__paii_tool__", None)
    if meta is None:
        raise TypeError(f"{fn.__name__} is not marked with @tool(read_only=...)")
    return meta


def _strip_titles(schema: Any) -> None:
    """Drop pydantic's generated ``title`` keys from a JSON schema (about 10% of tools/list bytes).

    Only schema objects lose their ``title``; a *property* named ``title`` is kept.
    """
    if not isinstance(schema, dict):
        return
    if isinstance(schema.get("title"), str):
        del schema["title"]
    for key in ("properties", "$defs", "definitions", "patternProperties"):
        for sub in (schema.get(key) or {}).values():
            _strip_titles(sub)
    for key in ("items", "additionalProperties", "not"):
        _strip_titles(schema.get(key))
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for sub in schema.get(key) or ():
            _strip_titles(sub)


def register_tools(
    server: MCPServer,
    fns: Iterable[Callable[..., Any]],
    *,
    read_only_mode: bool | None = None,
    settings: Any = None,
) -> list[str]:
    """Register marked tools on ``server``; writers are skipped in read-only mode. Returns the names.

    ``settings`` (a :class:`~paii_common.config.PaiiSettings`) gives the deadlines and, when
    ``read_only_mode`` is not given, the mode; without it the defaults (15 s / 30 s) apply.
    """
    from paii_common.calls import PaiiTool
    from paii_common.redact import register_environment, register_secret

    # every result is masked (paii_common.calls): for this server's secrets, and PAII's others
    register_secret(*(settings.secret_values() if hasattr(settings, "secret_values") else ()))
    register_environment()
    if read_only_mode is None:
        read_only_mode = bool(getattr(settings, "read_only", False))
    read_timeout = float(getattr(settings, "read_timeout", None) or DEFAULT_READ_TIMEOUT)
    write_timeout = float(getattr(settings, "write_timeout", None) or DEFAULT_WRITE_TIMEOUT)
    service = getattr(settings, "server_name", None) or (server.name or "paii").removeprefix("paii-")
    names: list[str] = []
    for fn in fns:
        meta = tool_meta(fn)
        name = meta.name or fn.__name__
        if not _NAME.match(name):
            raise ValueError(f"tool name {name!r} is not snake_case verb_noun")
        if read_only_mode and not meta.read_only:
            continue
        annotations = ToolAnnotations(
            title=meta.title,
            read_only_hint=meta.read_only,
            destructive_hint=meta.destructive if not meta.read_only else False,
            idempotent_hint=meta.idempotent,
            open_world_hint=meta.open_world,
        )
        description = inspect.cleandoc(fn.__doc__) if fn.__doc__ else None
        server.add_tool(fn, name=name, description=description, annotations=annotations)
        manager = server._tool_manager  # mcp 2.x: the Tool objects the server calls (mcp<3 is pinned)
        registered = manager.get_tool(name)
        _strip_titles(registered.parameters)
        manager._tools[name] = PaiiTool.wrap(
            registered,
            deadline=read_timeout if meta.read_only else write_timeout,
            writes=not meta.read_only,
            service=service,
            check=meta.check,
        )
        names.append(name)
    return names
