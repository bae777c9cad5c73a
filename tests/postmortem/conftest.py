"""The sandbox world with all six PAII servers in memory, and a clock the test moves forward.

``desk`` gives ``async with desk() as d``: ``d.call(server, tool, **args)`` returns the structured
result (and fails the test on a tool error), ``d.error(...)`` the error text of a call that must
fail, ``d.tick("02:10")`` moves the sandbox's and the servers' clock (``PAII_NOW``) to that time on
2 January 2026. Every exchange with PagerDuty and Slack is checked against the published spec.
"""

from __future__ import annotations

import os
import shutil
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import spec_check

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)
INCIDENT = "Q2PAY5XXPROD"
CHANNEL = "#inc-payments-api-500s"
SERVERS = ("pagerduty", "slack", "jira", "kubernetes", "runbook", "history")


def at(hhmm: str) -> datetime:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return NOW.replace(hour=hours, minute=minutes)


@pytest.fixture(scope="session")
def example_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from paii_sandbox.demo import import_examples

    home = tmp_path_factory.mktemp("pm_history")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAII_HISTORY_EMBEDDINGS", "off")  # keyword search is enough here, and fast
        import_examples(ROOT / "examples", home)
    return home


def start_world(mp: pytest.MonkeyPatch, home: Path, folder: Path) -> Any:
    """The sandbox in a thread under the demo clock; the servers' environment points at it."""
    from paii_sandbox.files import load_seed
    from paii_sandbox.runner import Sandbox
    from paii_sandbox.services import discover
    from paii_sandbox.world import World

    mp.setenv("PAII_HOME", str(home))
    mp.setenv("PAII_NOW", "2026-01-02T02:00:00Z")
    mp.setenv("PAII_HISTORY_WARMUP", "0")
    mp.setenv("PAII_HISTORY_EMBEDDINGS", "off")
    mp.setenv("PAII_KUBERNETES_ROLLOUT_POLL_S", "0.05")
    mp.setenv("PAII_RUNBOOK_OPERATOR", "Scott Idler")
    sb = Sandbox(World(load_seed(), discover(), now=NOW), directory=folder).start_in_thread()
    for key, value in sb.env().items():
        if key != "PAII_NOW":
            mp.setenv(key, value)
    return sb


def check_spec(sb: Any) -> None:
    if all(spec_check.spec_path(s).exists() for s in spec_check.SPECS):
        problems = spec_check.check(list(sb.world.journal))
        assert not problems, "the sandbox or a PAII client broke the published spec:\n" + "\n".join(problems)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, example_history: Path, tmp_path: Path) -> Any:
    home = tmp_path / "home"
    shutil.copytree(example_history, home)
    sb = start_world(monkeypatch, home, tmp_path / "sandbox")
    yield sb
    sb.stop_thread()
    check_spec(sb)


class Desk:
    def __init__(self, sandbox: Any, clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
        self.sandbox, self.clients, self._mp = sandbox, clients, monkeypatch

    def tick(self, hhmm: str) -> None:
        when = at(hhmm)
        self.sandbox.world.fixed_now = when
        self._mp.setenv("PAII_NOW", when.strftime("%Y-%m-%dT%H:%M:%SZ"))

    async def fault(self, **spec: Any) -> None:
        """A sandbox fault (``kind="down"`` stops a service listening), set on the sandbox's loop."""
        import asyncio

        from paii_sandbox.faults import Fault

        asyncio.run_coroutine_threadsafe(self.sandbox.add_fault(Fault(**spec)), self.sandbox._loop).result(10)

    async def clear(self, service: str) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.sandbox.clear_faults(service), self.sandbox._loop).result(10)

    async def raw(self, server: str, tool: str, **args: Any) -> Any:
        return await self.clients[server].call_tool(tool, args)

    async def call(self, server: str, tool: str, **args: Any) -> Any:
        result = await self.raw(server, tool, **args)
        text = " ".join(getattr(c, "text", "") for c in result.content or [])
        assert not result.is_error, f"{server}.{tool} failed: {text}"
        return result.structured_content

    async def error(self, server: str, tool: str, **args: Any) -> str:
        result = await self.raw(server, tool, **args)
        assert result.is_error, f"{server}.{tool} should have failed: {result.structured_content}"
        return " ".join(getattr(c, "text", "") for c in result.content or [])

    def state(self, service: str) -> Any:
        return self.sandbox.world.states[service]


def build(name: str) -> Any:
    import importlib

    module = importlib.import_module(f"paii_{name}.server")
    return module.build_server()


@asynccontextmanager
async def open_desk(sandbox: Any, mp: pytest.MonkeyPatch, without: tuple[str, ...] = ()):
    from mcp import Client

    assert os.environ["PAII_PAGERDUTY_URL"].startswith("http://127.0.0.1")
    failed: list[BaseException] = []
    async with AsyncExitStack() as stack:
        clients = {n: await stack.enter_async_context(Client(build(n))) for n in SERVERS if n not in without}
        try:
            yield Desk(sandbox, clients, mp)
        except Exception as exc:  # raised after the clients closed: not wrapped in six task groups
            failed.append(exc)
    if failed:
        raise failed[0]


@pytest.fixture
def desk(world: Any, monkeypatch: pytest.MonkeyPatch):
    return lambda without=(): open_desk(world, monkeypatch, without)
