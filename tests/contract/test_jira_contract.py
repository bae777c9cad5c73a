"""Contract: every jira tool makes its real HTTP calls through atlassian-python-api against Prism
serving Jira Cloud's published platform v3 + agile specs as one site (../shared/api-mocks).
Prism validates each request (path, method, parameters, body): any 4xx is a failure.

Run: .venv/bin/pytest -m contract tests/contract/test_jira_contract.py
"""

from __future__ import annotations

import os
import urllib.request

import pytest
from mcp import Client

from paii_common.http import RetryPolicy
from paii_jira.client import JiraClient
from paii_jira.config import JiraSettings
from paii_jira.server import build_server

pytestmark = pytest.mark.contract

MOCK_URL = os.environ.get("PAII_MOCK_JIRA_URL", "http://127.0.0.1:4016")


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/rest/api/3/myself", timeout=3):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def _mock_up() -> None:
    if not _reachable(MOCK_URL):
        pytest.skip(f"Jira Prism mock not reachable at {MOCK_URL}: start it with ../shared/api-mocks/start.sh jira:4016")


class Requests(list):
    """Every (method, path, status) the client saw."""

    def __call__(self, method: str, path: str, status: int) -> None:
        self.append((method, path, status))


@pytest.fixture
def seen(monkeypatch):
    monkeypatch.setenv("PAII_CONFIG_DIR", "/nonexistent-paii-config")
    log = Requests()
    yield log
    assert log, "no HTTP call was observed"
    rejected = [r for r in log if 400 <= r[2] < 500]
    assert not rejected, f"Prism rejected requests (contract drift): {rejected}"
    assert not [r for r in log if r[1] == "/rest/api/3/search"], "the removed /rest/api/3/search was called"


@pytest.fixture
def server(seen):
    settings = JiraSettings(url=MOCK_URL, email="bot@example.com", token="contract-test-token", project="EX",
                            teams="Team Infra=84")
    client = JiraClient(settings, policy=RetryPolicy(max_attempts=1), on_request=seen)
    return build_server(settings, client)


async def run(server, name: str, args: dict) -> dict:
    async with Client(server) as c:
        result = await c.call_tool(name, args)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def test_create_issue_posts_fields_adf_and_remote_links(server, seen):
    out = await run(server, "create_issue", {
        "summary": "payments-api-500s", "issue_type": "Task", "priority": "High", "labels": ["payments-api"],
        "description": "## Impact\n\n**500s** for EU users, see [PD](https://acme.pagerduty.com/incidents/Q1)",
        "links": [{"title": "PagerDuty #12345", "url": "https://acme.pagerduty.com/incidents/Q1"}]})
    assert out["key"] == "ED-24" and out["created"]
    paths = [(m, p) for m, p, _ in seen]
    assert ("POST", "/rest/api/3/issue") in paths and ("POST", "/rest/api/3/issue/ED-24/remotelink") in paths


async def test_create_issue_with_a_dedupe_key_searches_by_label_first(server, seen):
    out = await run(server, "create_issue", {"summary": "payments-api-500s", "dedupe_key": "Q1ABCDEF",
                                             "links": [{"title": "Slack", "url": "https://acme.slack.com/archives/C1"}]})
    assert out["created"] is False  # the spec's example search result plays the existing ticket
    assert ("POST", "/rest/api/3/search/jql") in [(m, p) for m, p, _ in seen]


async def test_get_issue_reads_fields_and_remote_links(server, seen):
    out = await run(server, "get_issue", {"key": "EX-1"})
    assert out["key"] and out["status"]
    assert {p for _, p, _ in seen} == {"/rest/api/3/issue/EX-1", "/rest/api/3/issue/EX-1/remotelink"}


async def test_search_issues_uses_search_jql(server, seen):
    out = await run(server, "search_issues", {"jql": "project = EX ORDER BY created DESC", "limit": 5})
    assert out["issues"] and out["truncated"] is False
    assert [(m, p) for m, p, _ in seen] == [("POST", "/rest/api/3/search/jql")]


async def test_add_comment_posts_an_adf_body(server, seen):
    out = await run(server, "add_comment", {"key": "EX-1", "body": "Post-mortem **scheduled**."})
    assert out["comment_id"] == "10000"


async def test_transition_issue_reads_transitions_and_posts_one(server, seen):
    out = await run(server, "transition_issue", {"key": "EX-1", "status": "Close Issue"})
    assert out["changed"] and out["status"] == "In Progress"
    assert ("POST", "/rest/api/3/issue/EX-1/transitions", 204) in seen


async def test_sprint_report_reads_board_configuration_sprint_issues_and_velocity(server, seen):
    out = await run(server, "sprint_report", {"board": "Team Infra", "sprint": "37"})
    assert out["board_id"] == 84 and out["sprint"]["id"] == 37 and out["coverage"]["complete"]
    paths = {p for _, p, _ in seen}
    assert {"/rest/agile/1.0/board/84", "/rest/agile/1.0/board/84/configuration", "/rest/agile/1.0/sprint/37",
            "/rest/api/3/field", "/rest/api/3/search/jql", "/rest/agile/1.0/board/84/sprint"} <= paths


async def test_get_timeline_reads_the_issue_its_changelog_and_comments(server, seen):
    out = await run(server, "get_timeline", {"key": "EX-1", "since": "2000-01-01T00:00:00Z", "until": "2000-01-10T00:00:00Z"})
    assert out["source"] == "jira"
    paths = {p for _, p, _ in seen}
    assert {"/rest/api/3/issue/EX-1", "/rest/api/3/issue/EX-1/changelog", "/rest/api/3/issue/EX-1/comment"} <= paths


async def test_create_issue_links_the_new_ticket_to_the_incident_ticket(server, seen):
    out = await run(server, "create_issue", {"summary": "Alert on pool use", "issue_type": "Task", "relates_to": "EX-1"})
    assert out["relates_to"] == "EX-1"
    assert ("POST", "/rest/api/3/issueLink") in [(m, p) for m, p, _ in seen]
