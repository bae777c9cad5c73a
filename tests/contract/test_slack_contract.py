"""Contract: every slack tool makes its real HTTP calls via slack_sdk against Prism serving Slack's
published OpenAPI spec (../shared/api-mocks). Prism validates each request: any 4xx is a failure.

Run: .venv/bin/pytest -m contract tests/contract/test_slack_contract.py
"""

from __future__ import annotations

import os
import urllib.request

import pytest
from mcp import Client

from paii_slack.client import SlackClient
from paii_slack.lookup import find_channel
from paii_slack.readback import invite_landed
from paii_slack.config import SlackSettings
from paii_slack.server import build_server

pytestmark = pytest.mark.contract

MOCK_URL = os.environ.get("PAII_MOCK_SLACK_URL", "http://127.0.0.1:4011/api/")
BOT = "xoxb-123456789012-contract-test"
USER = "xoxp-123456789012-contract-test"


def _reachable(url: str) -> bool:
    req = urllib.request.Request(url.rstrip("/") + "/auth.test", method="POST", headers={"Authorization": f"Bearer {BOT}"})
    try:
        with urllib.request.urlopen(req, timeout=3):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def _mock_up() -> None:
    if not _reachable(MOCK_URL):
        pytest.skip(f"Slack Prism mock not reachable at {MOCK_URL}: start it with ../shared/api-mocks/start.sh")


class Statuses(list):
    """Every (method, HTTP status) slack_sdk received, to catch a 4xx that a tool tolerates."""

    def __call__(self, method: str, status: int) -> None:
        self.append((method, status))


@pytest.fixture
def statuses(monkeypatch):
    monkeypatch.setenv("PAII_CONFIG_DIR", "/nonexistent-paii-config")
    seen = Statuses()
    yield seen
    assert seen, "no HTTP call was observed"
    rejected = [(m, s) for m, s in seen if 400 <= s < 500]
    assert not rejected, f"Prism rejected requests (contract drift): {rejected}"


@pytest.fixture
def slack(statuses) -> SlackClient:
    settings = SlackSettings.load(token=BOT, user_token=USER, url=MOCK_URL)
    return SlackClient(settings, sleep=lambda s: None, on_response=statuses)


@pytest.fixture
def server(slack):
    return build_server(slack.settings, slack)


async def call(server, name: str, args: dict) -> dict:
    async with Client(server) as c:
        r = await c.call_tool(name, args)
    assert not r.is_error, r.content[0].text
    return r.structured_content


async def test_create_channel(server, statuses):
    out = await call(server, "create_channel", {"name": "inc-42 payments", "topic": "payments 500s",
                                                "members": ["spengler@ghostbusters.example.com", "W0123ABCD"]})
    assert out["id"] and out["created"] is True
    assert out["invites"]["invited"]


def test_channel_reuse_calls(slack, statuses):
    found = find_channel(slack, "general", include_archived=True)
    assert found and found["id"]
    slack.call("conversations.join", channel=found["id"])


async def test_invite_to_channel(server, statuses):
    out = await call(server, "invite_to_channel", {"channel": "#general", "users": ["W012A3CDE", "spengler@ghostbusters.example.com"]})
    assert len(out["invited"]) == 2


async def test_post_message(server, statuses):
    out = await call(server, "post_message", {"channel": "C012AB3CD", "text": "Mitigated", "thread_ts": "1503435956.000247"})
    assert out["ts"]


async def test_find_user(server, statuses):
    assert (await call(server, "find_user", {"query": "spengler@ghostbusters.example.com"}))["users"]
    await call(server, "find_user", {"query": "spengler"})


async def test_channel_digest_by_name_and_id(server, statuses):
    out = await call(server, "channel_digest", {"channel": "#general", "hours": 8})
    assert out["channel"]["name"] == "general" and out["message_count"] > 0
    assert out["truncated"] is True  # the mock always says has_more: the cap stops the paging
    out = await call(server, "channel_digest", {"channel": "C012AB3CD", "hours": 1})
    assert out["channel"]["name"]


def test_thread_replies_paging(slack, statuses):
    replies, more = slack.paginate("conversations.replies", "messages", limit=200, max_items=10, max_pages=3,
                                   channel="C012AB3CD", ts="1482960137.003543")
    assert replies and more


async def test_search_messages(server, statuses):
    out = await call(server, "search_messages", {"query": "meaning in:#general", "count": 5})
    assert out["matches"]


def test_read_back_calls(slack, statuses):
    """The reads a lost write is checked with: members (an invite), history and replies since a time (a post)."""
    assert invite_landed(slack, "C012AB3CD", "W012A3CDE") is not None
    slack.call("conversations.history", channel="C012AB3CD", oldest="1503435956.000247", limit=100)
    slack.call("conversations.replies", channel="C012AB3CD", ts="1503435956.000247", oldest="1503435956.000247", limit=100)


async def test_get_timeline_reads_history_and_replies_in_a_window(server, statuses):
    out = await call(server, "get_timeline", {"channel": "#general", "since": "2026-01-01T00:00:00Z",
                                              "until": "2026-01-02T00:00:00Z"})
    assert out["source"] == "slack" and isinstance(out["events"], list)


async def test_post_message_to_the_stakeholder_channel(slack, statuses):
    settings = slack.settings.model_copy(update={"stakeholder_channel": "C012AB3CD"})
    out = await call(build_server(settings, slack), "post_message", {"channel": "stakeholders", "text": "Status update"})
    assert out["channel"] and out["ts"]
