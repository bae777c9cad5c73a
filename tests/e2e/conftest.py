"""The sandbox in a thread on ephemeral ports, PAII's real servers in memory pointed at it.

Every exchange the sandbox served in a test is checked against the vendor's published spec
when the test ends (spec_check.py); a violation fails the test.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import spec_check

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)
NOW_ISO = "2026-01-02T02:00:00Z"


@pytest.fixture(scope="session")
def history_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example history imported once (embedding it is the slow part)."""
    from paii_sandbox.demo import import_examples

    home = tmp_path_factory.mktemp("history_template")
    import_examples(ROOT / "examples", home)
    return home


@pytest.fixture
def history_home(history_template: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(history_template, home)
    return home


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Any:
    from paii_sandbox.files import load_seed
    from paii_sandbox.runner import Sandbox
    from paii_sandbox.services import discover
    from paii_sandbox.world import World

    monkeypatch.setenv("PAII_NOW", NOW_ISO)
    world = World(load_seed(), discover(), now=NOW)
    sb = Sandbox(world).start_in_thread()
    yield sb
    sb.stop_thread()
    if all(spec_check.spec_path(s).exists() for s in spec_check.SPECS):
        problems = spec_check.check(list(world.journal))
        assert not problems, "the sandbox or a PAII client broke the published spec:\n" + "\n".join(problems)


@pytest.fixture
def clients(sandbox: Any, history_home: Path):
    """``async with clients(pd_client=..., slack_client=...) as c`` -> {server: mcp Client}."""
    from mcp import Client

    from paii_history.config import HistorySettings
    from paii_history.server import build_server as history_server
    from paii_pagerduty.config import PagerDutySettings
    from paii_pagerduty.server import build_server as pagerduty_server
    from paii_slack.config import SlackSettings
    from paii_slack.server import build_server as slack_server

    env = sandbox.env()

    @asynccontextmanager
    async def make(*, pd_client: Any = None, slack_client: Any = None, slack_timeout: float | None = None) -> AsyncIterator[dict[str, Any]]:
        pd_settings = PagerDutySettings.load(token=env["PAII_PAGERDUTY_TOKEN"], from_email=env["PAII_PAGERDUTY_FROM"],
                                             url=env["PAII_PAGERDUTY_URL"])
        extra = {"read_timeout": slack_timeout} if slack_timeout else {}
        slack_settings = SlackSettings.load(token=env["PAII_SLACK_TOKEN"], user_token=env["PAII_SLACK_USER_TOKEN"],
                                            url=env["PAII_SLACK_URL"], **extra)
        servers = {
            "pagerduty": pagerduty_server(pd_settings, pd_client),
            "slack": slack_server(slack_settings, slack_client(slack_settings) if slack_client else None),
            "history": history_server(HistorySettings.load(home=history_home, warmup=False)),
        }
        async with AsyncExitStack() as stack:
            yield {name: await stack.enter_async_context(Client(server)) for name, server in servers.items()}

    return make


def state(sandbox: Any, service: str) -> Any:
    """The service's live state object (tests read it after a scenario)."""
    return sandbox.world.states[service]
