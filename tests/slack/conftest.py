from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from paii_common.redact import register_secret
from paii_slack.client import SlackClient
from paii_slack.config import SlackSettings
from paii_slack.server import build_server

from fake_slack import BOT_TOKEN, USER_TOKEN, FakeSlack


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for var in ("PAII_SLACK_TOKEN", "SLACK_BOT_TOKEN", "PAII_SLACK_USER_TOKEN", "SLACK_USER_TOKEN",
                "PAII_SLACK_URL", "PAII_READ_ONLY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PAII_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("PAII_HOME", str(tmp_path / "home"))


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_server(fake: FakeSlack, sleeps: Sleeps):
    def make(*, user_token: bool = False, token: str | None = BOT_TOKEN, read_only: bool = False, **timeouts: float):
        settings = SlackSettings.load(
            token=token, user_token=USER_TOKEN if user_token else None, url=fake.url, read_only=read_only, **timeouts
        )
        register_secret(*settings.secret_values())
        return build_server(settings, SlackClient(settings, sleep=sleeps))

    return make


@pytest.fixture
def server(make_server):
    return make_server()


@pytest.fixture
def slack_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog
