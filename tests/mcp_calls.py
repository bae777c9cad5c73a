"""Calling a server's tools through the real MCP client (in memory), and reading the result."""

from __future__ import annotations

from mcp import Client


async def call(server, name: str, args: dict | None = None):
    """One tool call in a fresh client session; the CallToolResult."""
    async with Client(server) as c:
        return await c.call_tool(name, args or {})


def ok(result) -> dict:
    """The structured result of a call that must have succeeded."""
    assert not result.is_error, result.content[0].text
    return result.structured_content


def error(result) -> str:
    """The message of a call that must have failed."""
    assert result.is_error, result.structured_content
    return result.content[0].text


def plain(value):
    """A result as a person reads it: each ``‹untrusted: …›`` marker (other people's text) as its text."""
    from paii_common.untrusted import unmark

    if isinstance(value, str):
        return unmark(value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
