"""The sandbox in a thread on ephemeral ports, PAII's six real servers in memory pointed at it.

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


class NoSleepExecutor:
    """The runbook server's real executor (real processes, the real Kubernetes client), whose waits
    poll without sleeping: a failover's waits would otherwise take their seconds in the suite."""

    @staticmethod
    def make(settings: Any) -> Any:
        from paii_runbook.client import StepExecutor

        class Fast(StepExecutor):
            def sleep(self, seconds: float) -> None:
                return None

        return Fast(settings)


@pytest.fixture
def clients(sandbox: Any, history_home: Path, monkeypatch: pytest.MonkeyPatch):
    """``async with clients(pd_client=..., slack_client=..., jira=False, prompts=...) as c`` -> {server: mcp Client}.

    All six servers, in memory, configured as the sandbox's environment says (``sandbox.env()``,
    the same variables the demo and ``paii sandbox env`` give them). ``jira=False``: the Jira
    server runs without settings, as for a person who has not configured it. ``person``: an
    elicitation callback that plays the person at the client's prompts (none: the client cannot
    show prompts)."""
    from mcp import Client

    from paii_history.config import HistorySettings
    from paii_history.server import build_server as history_server
    from paii_jira.config import JiraSettings
    from paii_jira.server import build_server as jira_server
    from paii_kubernetes.config import KubernetesSettings
    from paii_kubernetes.server import build_server as kubernetes_server
    from paii_pagerduty.config import PagerDutySettings
    from paii_pagerduty.server import build_server as pagerduty_server
    from paii_runbook.config import RunbookSettings
    from paii_runbook.server import build_server as runbook_server
    from paii_slack.config import SlackSettings
    from paii_slack.server import build_server as slack_server

    env = sandbox.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PAII_HOME", str(history_home))
    monkeypatch.setenv("PAII_HISTORY_WARMUP", "0")

    @asynccontextmanager
    async def make(*, pd_client: Any = None, slack_client: Any = None, slack_timeout: float | None = None,
                   jira: bool = True, jira_timeout: float | None = None,
                   prompts: dict[str, Any] | None = None, person: Any = None) -> AsyncIterator[dict[str, Any]]:
        pd_settings = PagerDutySettings.load(token=env["PAII_PAGERDUTY_TOKEN"], from_email=env["PAII_PAGERDUTY_FROM"],
                                             url=env["PAII_PAGERDUTY_URL"])
        extra = {"read_timeout": slack_timeout} if slack_timeout else {}
        slack_settings = SlackSettings.load(token=env["PAII_SLACK_TOKEN"], user_token=env["PAII_SLACK_USER_TOKEN"],
                                            url=env["PAII_SLACK_URL"], **extra)
        jira_extra = {"read_timeout": jira_timeout, "write_timeout": jira_timeout} if jira_timeout else {}
        jira_settings = JiraSettings.load(**jira_extra) if jira else JiraSettings.load(url="", email="", token="", project="")
        runbook_settings = RunbookSettings.load(home=history_home)
        servers = {
            "pagerduty": pagerduty_server(pd_settings, pd_client),
            "slack": slack_server(slack_settings, slack_client(slack_settings) if slack_client else None),
            "history": history_server(HistorySettings.load(home=history_home, warmup=False)),
            "jira": jira_server(jira_settings),
            "kubernetes": kubernetes_server(KubernetesSettings.load(warmup=False, rollout_poll_s=0.05)),
            "runbook": runbook_server(runbook_settings, NoSleepExecutor.make(runbook_settings)),
        }
        async with AsyncExitStack() as stack:
            # who answers a server's questions (MCP elicitation): prompts per server, person for every server
            answers = {name: person for name in servers} if person else {}
            answers.update(prompts or {})
            extra = {name: {"mode": "legacy", "elicitation_callback": cb} for name, cb in answers.items()}
            yield {name: await stack.enter_async_context(Client(server, **extra.get(name, {})))
                   for name, server in servers.items()}

    return make


def state(sandbox: Any, service: str) -> Any:
    """The service's live state object (tests read it after a scenario)."""
    return sandbox.world.states[service]
