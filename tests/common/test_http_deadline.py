"""paii_common.http deadlines: nested deadlines never extend, retries stop when out of time."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from pydantic import BaseModel, Field

from paii_common.errors import hint_for_status
from paii_common.http import (
    RetryPolicy,
    attempts_text,
    carry_deadline,
    current_deadline,
    deadline,
)
from paii_common.httpx_retry import RetryTransport
from paii_common.tools import tool


def test_a_nested_deadline_never_extends_the_enclosing_one():
    with deadline(1.0) as outer:
        with deadline(100.0) as inner:
            assert inner.end == pytest.approx(outer.end)
        with deadline(0.2) as shorter:
            assert shorter.end < outer.end
        with deadline(100.0, reserve=0.4) as reserved:
            assert reserved.end == pytest.approx(outer.end - 0.4, abs=0.01)
        with deadline(100.0, reserve=10.0) as capped:  # a reserve never takes more than half of what is left
            assert capped.remaining() == pytest.approx(outer.remaining() / 2, abs=0.05)
    assert current_deadline() is None


def test_attempt_timeouts_end_by_the_deadline():
    policy = RetryPolicy(connect_timeout=5.0)
    assert policy.attempt_timeouts(30.0) == (5.0, 30.0)  # outside any deadline: the default
    with deadline(2.0):
        connect, read = policy.attempt_timeouts(30.0)
        assert connect <= 2.0 and read <= 2.0 and connect <= read


def test_fits_says_whether_another_attempt_can_finish():
    policy = RetryPolicy(min_attempt_time=0.25)
    assert policy.fits(100.0)  # no deadline
    with deadline(1.0):
        assert policy.fits(0.5) and not policy.fits(0.9)


def test_writes_are_resent_only_when_the_policy_allows():
    assert RetryPolicy().should_retry("PUT", 503, 1)
    assert not RetryPolicy(resend_writes=False).should_retry("PUT", 503, 1)
    assert RetryPolicy(resend_writes=False).should_retry("GET", 503, 1)
    assert not RetryPolicy().should_retry("POST", None, 1)


def test_one_wording_for_attempts_made():
    assert attempts_text(1) == "after 1 attempt" and attempts_text(4) == "after 4 attempts"


def test_a_5xx_hint_never_says_nothing_changed_unless_told_it_was_a_read():
    assert "changed nothing" in hint_for_status(503, method="GET")
    assert "may or may not have happened" in hint_for_status(500, method="PUT")
    assert "changed nothing" not in hint_for_status(500)  # unknown: never claims it
    assert "changed nothing" not in hint_for_status(502, write=True)


def test_carry_deadline_into_a_thread_pool():
    from concurrent.futures import ThreadPoolExecutor

    with deadline(5.0) as limit, ThreadPoolExecutor(1) as pool:
        seen = pool.submit(carry_deadline(current_deadline)).result()
        assert seen is limit
        assert pool.submit(current_deadline).result() is None  # without it, none


class Seconds(BaseModel):
    seconds: float


async def test_every_registered_tool_call_runs_under_a_client_deadline_a_little_shorter_than_its_own():
    from mcp import Client
    from mcp.server import MCPServer

    from paii_common.tools import register_tools

    class Settings:
        read_only, read_timeout, write_timeout, server_name = False, 10.0, 20.0, "t"

    @tool(read_only=True)
    def get_reader(x: Annotated[int, Field(description="x")] = 1) -> Seconds:
        """Read."""
        return Seconds(seconds=current_deadline().seconds)

    @tool(read_only=False)
    def set_writer() -> Seconds:
        """Write."""
        return Seconds(seconds=current_deadline().seconds)

    server = MCPServer(name="t")
    register_tools(server, [get_reader, set_writer], settings=Settings())
    async with Client(server) as c:
        read = (await c.call_tool("get_reader", {})).structured_content["seconds"]
        write = (await c.call_tool("set_writer", {})).structured_content["seconds"]
    assert 9.0 <= read < 10.0 and 18.0 <= write < 20.0
    assert current_deadline() is None


def test_the_httpx_transport_bounds_each_attempt_and_stops_when_out_of_time():
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(503)

    policy = RetryPolicy(backoff_base=0.4, backoff_max=0.4, jitter=0)
    client = httpx.Client(transport=RetryTransport(httpx.MockTransport(handler), policy), base_url="http://x")
    with deadline(1.0):
        assert client.get("/").status_code == 503
    # attempt 1, sleep 0.4 s, attempt 2; a third after another 0.4 s could not finish by 1 s
    assert len(seen) == 2
    assert all(t["read"] <= 1.0 and t["connect"] <= 1.0 for t in seen) and seen[1]["read"] < seen[0]["read"]
