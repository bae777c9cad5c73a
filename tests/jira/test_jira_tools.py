"""The Jira tools through the real MCP client in memory, against the sandbox site over HTTP."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from paii_common.redact import register_secret
from paii_jira.config import JiraSettings
from paii_jira.server import build_server
from tests.jira.conftest import TOKEN, Fault, make_client

PD = {"title": "PagerDuty #12345", "url": "https://acme.pagerduty.com/incidents/Q1ABCDEF"}
SLACK = {"title": "#inc-payments-api-500s", "url": "https://acme.slack.com/archives/C0123ABCD"}
INCIDENT = {"summary": "payments-api-500s: 500 errors in production", "project": "INC", "priority": "Highest",
            "description": "## Impact\n\npayments-api returns **500s** for EU users.\n\n- started 02:00\n- see `dbstats`",
            "labels": ["payments-api"], "dedupe_key": "Q1ABCDEF"}


async def call(server, name: str, args: dict):
    async with Client(server) as c:
        return await c.call_tool(name, args)


async def ok(server, name: str, args: dict) -> dict:
    result = await call(server, name, args)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def err(server, name: str, args: dict) -> str:
    result = await call(server, name, args)
    assert result.is_error, result.structured_content
    return result.content[0].text


# ---------------------------------------------------------------- create_issue


async def test_create_issue_makes_the_incident_ticket_with_adf_and_remote_links(site, server):
    out = await ok(server, "create_issue", {**INCIDENT, "links": [PD, SLACK]})
    assert out["key"] == "INC-789" and out["created"] and out["url"].endswith("/browse/INC-789")
    assert {link["url"] for link in out["remote_links"]} == {PD["url"], SLACK["url"]}
    issue = site.state["issues"]["INC-789"]
    assert issue["type"] == "Incident" and issue["priority"] == "Highest"
    assert issue["labels"] == ["payments-api", "paii-Q1ABCDEF"]
    doc = issue["description"]
    assert doc["type"] == "doc" and doc["content"][0]["type"] == "heading"
    assert any(n["type"] == "bulletList" for n in doc["content"])


async def test_declaring_the_same_incident_twice_returns_the_first_ticket_with_both_links(site, server):
    first = await ok(server, "create_issue", {**INCIDENT, "links": [PD]})
    again = await ok(server, "create_issue", {**INCIDENT, "summary": "payments-api down (again)", "links": [PD, SLACK]})
    assert (first["key"], first["created"]) == ("INC-789", True)
    assert (again["key"], again["created"]) == ("INC-789", False) and "already exists" in again["note"]
    inc = [k for k in site.state["issues"] if k.startswith("INC-78") and k != "INC-788"]  # 788: a seeded past incident
    assert inc == ["INC-789"], "the ticket exists once"
    assert sorted(link["object"]["url"] for link in site.state["issues"]["INC-789"]["remotelinks"]) == sorted([PD["url"], SLACK["url"]])
    assert len(site.calls("POST", r"/rest/api/3/issue")) == 1


async def test_dedupe_finds_the_ticket_in_jira_not_in_a_local_cache(site, client):
    await ok(build_server(client.settings, client), "create_issue", INCIDENT)
    fresh = make_client(site)  # a new process: nothing remembered
    again = await ok(build_server(fresh.settings, fresh), "create_issue", INCIDENT)
    assert (again["key"], again["created"]) == ("INC-789", False)


async def test_a_create_whose_answer_is_lost_is_read_back_by_its_dedupe_key(site):
    client = make_client(site, write_timeout=2.0)  # the create may wait 1.2 s; 0.8 s stay for the read-back
    site.faults.append(Fault("POST", r"/rest/api/3/issue", after_delay=2.0))
    out = await ok(build_server(client.settings, client), "create_issue", {**INCIDENT, "links": [PD]})
    assert out["key"] == "INC-789" and "found by its dedupe label" in out["note"]
    assert len(site.calls("POST", r"/rest/api/3/issue")) == 1, "a create is never sent twice"
    assert [k for k in site.state["issues"] if k.startswith("INC-7") and k != "INC-788"] == ["INC-789"]  # 788: seeded


async def test_a_create_that_fails_with_a_5xx_and_left_nothing_says_the_outcome_is_unknown(site, server):
    site.faults.append(Fault("POST", r"/rest/api/3/issue", status=503, times=5))
    text = await err(server, "create_issue", {**INCIDENT, "dedupe_key": "QZZZ"})
    assert "may or may not have been made" in text and 'labels = "paii-QZZZ"' in text and "Do not retry blindly" in text
    assert len(site.calls("POST", r"/rest/api/3/issue")) == 1, "a POST is never re-sent after a 5xx"


async def test_a_429_on_create_is_retried_after_retry_after(site, server):
    site.faults.append(Fault("POST", r"/rest/api/3/issue", status=429, headers={"Retry-After": "1"}))
    out = await ok(server, "create_issue", INCIDENT)
    assert out["created"] and len(site.calls("POST", r"/rest/api/3/issue")) == 2


async def test_an_unknown_project_lists_the_projects_the_token_can_see(site, server):
    text = await err(server, "create_issue", {**INCIDENT, "project": "OPS", "dedupe_key": None})
    assert "OPS" in text and "INC (Incidents)" in text and "INFRA (Infrastructure)" in text


async def test_an_unknown_issue_type_lists_the_projects_types(site, server):
    text = await err(server, "create_issue", {**INCIDENT, "issue_type": "Outage"})
    assert "no issue type 'Outage'" in text and "Incident, Task" in text and "PAII_JIRA_INCIDENT_TYPE" in text


async def test_create_issue_without_a_project_says_which_setting_gives_a_default(site):
    client = make_client(site, project=None)
    text = await err(build_server(client.settings, client), "create_issue", {"summary": "x"})
    assert "PAII_JIRA_PROJECT" in text


# ---------------------------------------------------------------- get / search


async def test_get_issue_is_compact_and_fences_people_s_text(site, server):
    out = await ok(server, "get_issue", {"key": "inc-456"})
    assert out["key"] == "INC-456" and out["status"] == "Done" and out["status_category"] == "Done"
    assert out["description"].startswith("<<untrusted jira text>>") and "SYSTEM NOTE TO THE ASSISTANT" in out["description"]
    assert "fields" not in out and len(json.dumps(out)) < 2500
    blocked = await ok(server, "get_issue", {"key": "INFRA-234", "comments": 1})
    assert blocked["links"] == [{"relation": "is blocked by", "key": "SEC-45",  # a summary is someone's text: marked
                                 "summary": "‹untrusted: Security review: Kubernetes 1.29 upgrade›", "status": "To Do"}]
    assert len(blocked["comments"]) == 1 and blocked["comments"][0]["body"].startswith("<<untrusted")


async def test_get_issue_of_a_missing_key_says_how_to_find_one(site, server):
    assert "search_issues" in await err(server, "get_issue", {"key": "INC-99999"})
    assert "is not an issue key" in await err(server, "get_issue", {"key": "payments"})


async def test_search_issues_pages_with_the_cursor_and_says_when_truncated(site, server):
    jql = "project = INFRA AND sprint = 23 ORDER BY key ASC"
    first = await ok(server, "search_issues", {"jql": jql, "limit": 15})
    assert len(first["issues"]) == 15 and first["truncated"] and first["next_cursor"]
    rest = await ok(server, "search_issues", {"jql": jql, "limit": 15, "cursor": first["next_cursor"]})
    assert len(rest["issues"]) == 5 and not rest["truncated"] and rest["next_cursor"] is None
    keys = [i["key"] for i in first["issues"] + rest["issues"]]
    assert len(set(keys)) == 20 and keys == sorted(keys, key=lambda k: int(k.split("-")[1]))
    assert site.calls("POST", r"/rest/api/3/search/jql")


async def test_search_by_status_category_and_label(site, server):
    out = await ok(server, "search_issues", {"jql": 'project = INFRA AND statusCategory != Done AND sprint in openSprints() ORDER BY key'})
    assert {i["key"] for i in out["issues"]} == {"INFRA-234", "INFRA-235", "INFRA-236", "INFRA-243", "INFRA-244",
                                                 "INFRA-245", "INFRA-246", "INFRA-247"}
    assert all(i["status_category"] != "Done" for i in out["issues"])


async def test_bad_jql_comes_back_with_jiras_message(site, server):
    text = await err(server, "search_issues", {"jql": "project = INFRA AND bogus = 1"})
    assert "Field 'bogus' does not exist" in text and "Fix the JQL" in text
    text = await err(server, "search_issues", {"jql": "project = NOPE"})
    assert "The value 'NOPE' does not exist" in text and "INC (Incidents)" in text


# ---------------------------------------------------------------- comment / transition


async def test_add_comment_posts_adf_and_get_issue_shows_it(site, server):
    out = await ok(server, "add_comment", {"key": "INC-456", "body": "Post-mortem **scheduled** for 2026-01-03."})
    assert out["key"] == "INC-456" and out["comment_id"]
    body = site.state["issues"]["INC-456"]["comments"][-1]["body"]
    assert body["type"] == "doc"
    issue = await ok(server, "get_issue", {"key": "INC-456"})
    assert "Post-mortem" in issue["comments"][-1]["body"] and issue["comment_count"] == 1


async def test_transition_issue_moves_by_status_name_and_records_the_change(site, server):
    out = await ok(server, "transition_issue", {"key": "INFRA-236", "status": "in progress"})
    assert out == {"key": "INFRA-236", "from_status": "To Do", "status": "In Progress", "changed": True,
                   "url": f"{site.url}/browse/INFRA-236"}
    assert site.state["issues"]["INFRA-236"]["history"][-1]["items"][0]["toString"] == "In Progress"
    again = await ok(server, "transition_issue", {"key": "INFRA-236", "status": "In Progress"})
    assert again["changed"] is False


async def test_a_status_that_does_not_exist_lists_the_valid_ones(site, server):
    text = await err(server, "transition_issue", {"key": "INFRA-236", "status": "Shipped"})
    assert "cannot move from To Do to 'Shipped'" in text and "Done (via 'Done')" in text and "In Progress" in text


# ---------------------------------------------------------------- configuration, auth, secrets


async def test_a_401_names_the_settings_to_check_and_never_shows_the_token(site):
    register_secret("wrong-token-value")
    client = make_client(site, token="wrong-token-value")
    text = await err(build_server(client.settings, client), "get_issue", {"key": "INC-456"})
    assert "HTTP 401" in text and "PAII_JIRA_EMAIL" in text and "PAII_JIRA_TOKEN" in text
    assert "wrong-token-value" not in text and TOKEN not in text


async def test_without_credentials_every_tool_says_what_to_set(site):
    settings = JiraSettings(url=site.url)
    text = await err(build_server(settings), "search_issues", {"jql": "project = INC"})
    assert "PAII_JIRA_TOKEN" in text and "PAII_JIRA_PAT" in text
    assert not site.log, "nothing is sent without credentials"


async def test_tools_list_needs_no_network_and_read_only_drops_the_writers(site):
    settings = JiraSettings(url="http://127.0.0.1:9", email="a@b.c", token="t", read_only=True)
    async with Client(build_server(settings)) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {"get_issue", "search_issues", "sprint_report", "get_timeline"}


def test_teams_setting_takes_pairs_or_json():
    assert JiraSettings(teams="Team Infra=84, Team Core = Core board").teams == {"team infra": "84", "team core": "Core board"}
    assert JiraSettings(teams='{"Team Infra": 84}').teams == {"team infra": "84"}
    with pytest.raises(ValueError):
        JiraSettings(teams="Team Infra")


def test_a_pat_alone_means_data_center_and_the_token_alias_is_read(monkeypatch):
    assert JiraSettings(pat="x").cloud is False and JiraSettings(email="a@b.c", token="t").cloud is True
    monkeypatch.setenv("JIRA_API_TOKEN", "from-alias")
    assert JiraSettings.load().token_value == "from-alias"


async def test_data_center_creates_through_rest_v2_with_the_text_as_it_is(site):
    client = make_client(site, email=None, token=None, pat="sandbox-jira-pat")
    out = await ok(build_server(client.settings, client), "create_issue", {**INCIDENT, "links": [PD]})
    again = await ok(build_server(client.settings, client), "create_issue", INCIDENT)
    assert (out["key"], out["created"], again["created"]) == ("INC-789", True, False)
    assert site.calls("POST", r"/rest/api/2/issue") and site.calls("GET", r"/rest/api/2/search")
    assert not site.calls(path=r"/rest/api/3/.*")
    assert "returns **500s** for EU users" in str(site.state["issues"]["INC-789"]["description"])  # markdown kept as text
