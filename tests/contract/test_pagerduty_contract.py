"""Every PagerDuty tool's real HTTP calls, through pdpyras, against Prism serving PagerDuty's
published OpenAPI spec. Prism rejects a wrong path, method, parameter or body with a 4xx, so
any error result here is drift from the real API.

Run: ``.venv/bin/pytest -m contract tests/contract/test_pagerduty_contract.py``
(mock URL from ``PAII_MOCK_PAGERDUTY_URL``, default http://127.0.0.1:4010).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import pytest
from mcp import Client

from paii_common.http import RetryPolicy
from paii_pagerduty.client import PagerDutyClient
from paii_pagerduty.config import PagerDutySettings
from paii_pagerduty.server import build_server

pytestmark = pytest.mark.contract

MOCK = os.environ.get("PAII_MOCK_PAGERDUTY_URL", "http://127.0.0.1:4010").rstrip("/")
TOKEN = "y_NbAkKc66ryYTWUXYEu"
FROM = "responder@example.com"
# Prism answers 4xx for contract violations: never retry, so a failure shows at once
NO_RETRY = RetryPolicy(max_attempts=1)


def _reachable() -> str | None:
    req = urllib.request.Request(
        f"{MOCK}/services",
        headers={"Authorization": f"Token token={TOKEN}", "Accept": "application/vnd.pagerduty+json;version=2"},
    )
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            r.read()
        return None
    except urllib.error.HTTPError:
        return None  # it answered: reachable
    except OSError as exc:
        return f"PagerDuty mock not reachable at {MOCK} ({exc}); start it with ../shared/api-mocks/start.sh"


@pytest.fixture(scope="module", autouse=True)
def mock_up():
    reason = _reachable()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def client() -> PagerDutyClient:
    return PagerDutyClient(TOKEN, from_email=FROM, url=MOCK, policy=NO_RETRY)


@pytest.fixture
def server(client):
    settings = PagerDutySettings.load(token=TOKEN, from_email=FROM, url=MOCK)
    return build_server(settings, client)


CALLS = [
    ("list_incidents", {}),
    (
        "list_incidents",
        {
            "statuses": ["triggered", "acknowledged", "resolved"],
            "urgencies": ["high"],
            "service_ids": ["PIJ90N7"],
            "since": "2026-01-01T00:00:00Z",
            "until": "2026-01-02T00:00:00Z",
            "assigned_to_me": True,
            "limit": 3,
            "offset": 5,
        },
    ),
    ("get_incident", {"incident_id": "PT4KHLK"}),
    ("acknowledge_incident", {"incident_id": "PT4KHLK"}),
    ("resolve_incident", {"incident_id": "PT4KHLK", "resolution": "Pool size raised"}),
    ("add_incident_note", {"incident_id": "PT4KHLK", "content": "Rolled back v2.3.4"}),
    ("escalate_incident", {"incident_id": "PT4KHLK", "escalation_level": 2}),
    ("escalate_incident", {"incident_id": "PT4KHLK", "user_ids": ["PXPGF42"]}),
    ("escalate_incident", {"incident_id": "PT4KHLK", "escalation_policy_id": "PT20YPA", "escalation_level": 1}),
    ("list_oncalls", {}),
    ("list_oncalls", {"schedule_ids": ["PI7DH85"], "escalation_policy_ids": ["PT20YPA"], "at": "2026-01-01T12:00:00Z"}),
    ("list_oncalls", {"service_id": "PIJ90N7"}),
    ("list_services", {"query": "mail", "limit": 2}),
    ("list_maintenance_windows", {}),
    ("list_maintenance_windows", {"state": "past", "service_ids": ["PIJ90N7"]}),
    ("shift_activity", {"since": "24h"}),
    ("shift_activity", {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z", "user_id": "me"}),
    ("get_timeline", {"incident_id": "PT4KHLK"}),
    ("get_timeline", {"incident_id": "PT4KHLK", "since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}),
    ("post_status_update", {"incident_id": "PT4KHLK", "message": "Impact: EU checkout. Next update 02:45 UTC."}),
]


@pytest.mark.parametrize(("tool", "args"), CALLS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CALLS)])
async def test_tool_calls_match_the_published_spec(server, tool, args):
    async with Client(server) as c:
        result = await c.call_tool(tool, args)
    assert not result.is_error, result.content[0].text
    assert result.structured_content


async def test_every_tool_is_covered(server):
    async with Client(server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {t for t, _ in CALLS}


async def test_listing_stops_at_the_page_cap_although_the_mock_always_says_more(server):
    async with Client(server) as c:
        result = await c.call_tool("list_incidents", {"limit": 100})
    out = result.structured_content
    assert out["truncated"] is True and 1 <= len(out["incidents"]) <= 100


def test_acknowledge_update_body_matches_the_spec(client):
    # the acknowledge tool skips its PUT when the incident is already acknowledged (as the
    # mock's example is), so check the PUT it sends otherwise directly
    body = {"incident": {"type": "incident_reference", "status": "acknowledged"}}
    assert client.put("/incidents/PT4KHLK", body)["id"]


def test_read_back_calls_match_the_spec(client):
    """What a write whose answer is lost is checked with: the incident, its notes, its log."""
    assert client.get("/incidents/PT4KHLK", call="GET /incidents/{id}")["id"]
    client.get("/incidents/PT4KHLK/notes", call="GET /incidents/{id}/notes")
    client.list("/incidents/PT4KHLK/log_entries", limit=100, max_pages=1, call="GET /incidents/{id}/log_entries")
