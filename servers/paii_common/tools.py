"""Tool registration: every tool is marked read-only or not, in one place.

Servers decorate their tool functions with :func:`tool` (a marker, nothing is registered
yet) and hand the list to :func:`register_tools`, which

* derives the MCP ``ToolAnnotations`` (read-only, destructive, idempotent, open-world),
* drops every writer when the settings say read-only (``PAII_READ_ONLY=1``),
* refuses a tool name that is not ``verb_noun`` snake case (names are an API).

The function's docstring is the tool's description and its typed parameters
(``Annotated[..., Field(description=...)]``) are the input schema.
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


@dataclass(frozen=True)
class ToolMeta:
    read_only: bool
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = True
    title: str | None = None
    name: str | None = None


def tool(
    *,
    read_only: bool,
    destructive: bool = False,
    idempotent: bool | None = None,
    open_world: bool = True,
    title: str | None = None,
    name: str | None = None,
) -> Callable[[F], F]:
    """Mark a function as a PAII tool. ``read_only`` is required: every tool says what it does."""

    def mark(fn: F) -> F:
        fn.__paii_tool__ = ToolMeta(  # type: ignore[attr-defined]
            read_only=read_only,
            destructive=destructive,
            idempotent=read_only if idempotent is None else idempotent,
            open_world=open_world,
            title=title,
            name=name,
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


def register_tools(server: MCPServer, fns: Iterable[Callable[..., Any]], *, read_only_mode: bool) -> list[str]:
    """Register marked tools on ``server``; writers are skipped in read-only mode. Returns the names."""
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
        registered = getattr(getattr(server, "_tool_manager", None), "get_tool", lambda _n: None)(name)
        if registered is not None:  # mcp 2.x keeps the schema on the Tool; without it, titles just stay
            _strip_titles(registered.parameters)
        names.append(name)
    return names
