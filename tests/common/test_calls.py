"""The shared call layer (paii_common.calls): deadlines, argument errors, crashes, unchanged schemas."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated

import pytest
from mcp import Client
from mcp.server import MCPServer
from pydantic import BaseModel, Field

from paii_common.config import PaiiSettings
from paii_common.errors import NotFound
from paii_common.tools import register_tools, tool

release = threading.Event()
finished = threading.Event()


class Thing(BaseModel):
    id: str
    size: int


@tool(read_only=True)
def list_things(
    count: Annotated[int, Field(ge=1, le=50, description="How many", examples=[10])],
    since: Annotated[str, Field(description="Age", examples=["24h"])] = "",
) -> list[Thing]:
    """List things."""
    if count == 7:
        release.wait(10)  # hangs until the test lets it go
        finished.set()
    if count == 8:
        raise OverflowError("date value out of range")
    if count == 9:
        raise NotFound("no thing 9: list things first to get a valid id.")
    return [Thing(id=f"T{n}", size=n) for n in range(count)]


@tool(read_only=False, check="list_things shows every posted thing")
async def post_thing(text: Annotated[str, Field(description="What to post", max_length=100)]) -> Thing:
    """Post a thing."""
    await asyncio.sleep(10)
    return Thing(id="P1", size=len(text))


def server(read_timeout: float = 15, write_timeout: float = 30) -> MCPServer:
    s = MCPServer("paii-demo")
    settings = PaiiSettings(read_timeout=read_timeout, write_timeout=write_timeout)
    register_tools(s, [list_things, post_thing], settings=settings)
    return s


async def call(s: MCPServer, name: str, args: dict) -> tuple[bool, str]:
    async with Client(s) as c:
        r = await c.call_tool(name, args)
    return bool(r.is_error), " ".join(getattr(x, "text", "") for x in r.content)


async def test_a_read_past_its_deadline_says_how_long_it_waited_and_what_to_do():
    release.clear()
    finished.clear()
    is_error, text = await call(server(read_timeout=0.5), "list_things", {"count": 7})
    assert not finished.is_set()  # the answer came while the tool still hung: its thread was abandoned
    release.set()
    assert is_error
    assert "list_things did not finish within 0.5 s" in text and "Retry later" in text and "narrow the request" in text


async def test_a_write_past_its_deadline_reports_an_unknown_outcome_and_how_to_check():
    is_error, text = await call(server(write_timeout=0.5), "post_thing", {"text": "hello"})
    assert is_error
    assert "did not finish within 0.5 s" in text and "may or may not have been made" in text and "Do not retry blindly" in text
    assert "list_things shows every posted thing: check it before calling it again" in text


async def test_a_missing_argument_names_it_with_the_expected_type_and_an_example():
    is_error, text = await call(server(), "list_things", {})
    assert is_error and "`count` is required" in text and "an integer (>= 1, <= 50)" in text and "e.g. 10" in text
    assert "pydantic" not in text and "validation error for" not in text


@pytest.mark.parametrize("args, expect", [
    ({"count": "many"}, "`count`: input should be a valid integer"),
    ({"count": 500}, "`count`: input should be less than or equal to 50 (got 500)"),
    ({"count": 3, "since": 5}, "`since`: input should be a valid string (got 5); expected a string, e.g. '24h'"),
])
async def test_a_wrong_argument_says_what_was_given_and_what_is_expected(args, expect):
    is_error, text = await call(server(), "list_things", args)
    assert is_error and expect in text and "errors.pydantic.dev" not in text


async def test_a_too_long_text_names_the_limit():
    is_error, text = await call(server(), "post_thing", {"text": "x" * 101})
    assert is_error and "`text`" in text and "at most 100 characters" in text


async def test_a_crash_names_the_exception_and_says_it_is_a_paii_bug():
    is_error, text = await call(server(), "list_things", {"count": 8})
    assert is_error and "OverflowError: date value out of range" in text and "PAII bug" in text
    assert text.strip() != "Error executing tool list_things"


async def test_a_paii_error_passes_unchanged():
    is_error, text = await call(server(), "list_things", {"count": 9})
    assert is_error and text == "Error executing tool list_things: no thing 9: list things first to get a valid id."


async def test_a_lone_surrogate_is_refused_naming_the_argument():
    is_error, text = await call(server(), "list_things", {"count": 3, "since": "ab\ud800"})
    assert is_error and "`since` contains \\ud800" in text and "UTF-8" in text
    text.encode("utf-8")  # the error itself is valid text


async def test_a_good_call_returns_structured_output_through_the_wrapper():
    async with Client(server()) as c:
        r = await c.call_tool("list_things", {"count": 2})
    assert not r.is_error and r.structured_content == {"result": [{"id": "T0", "size": 0}, {"id": "T1", "size": 1}]}


async def test_the_wrapper_keeps_the_schema_the_sdk_derives():
    plain = MCPServer("plain")
    plain.add_tool(list_things, name="list_things")
    async with Client(plain) as c:
        want = (await c.list_tools()).tools[0]
    async with Client(server()) as c:
        got = next(t for t in (await c.list_tools()).tools if t.name == "list_things")
    assert got.output_schema == want.output_schema
    assert set(got.input_schema["properties"]) == set(want.input_schema["properties"])
    assert got.input_schema["properties"]["count"] == {k: v for k, v in want.input_schema["properties"]["count"].items() if k != "title"}


def test_deadlines_default_to_the_settings_defaults_without_settings():
    s = MCPServer("paii-demo")
    register_tools(s, [list_things, post_thing], read_only_mode=False)
    tools = {t.name: t for t in s._tool_manager.list_tools()}
    assert tools["list_things"].deadline == 15.0 and tools["post_thing"].deadline == 30.0
