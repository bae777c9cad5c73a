"""sprint_report's arithmetic: the seed's Team Infra sprint, and sites built for one behaviour each."""

from __future__ import annotations

import pytest
from mcp import Client

from paii_jira.server import build_server
from tests.jira.conftest import make_client


def site_data(issues: list[dict], *, points: dict | None = None, sprints: list[dict] | None = None) -> dict:
    """A one-board site: board 7 "Core", sprint 5 active (-6d .. +8d), sprint 4 closed before it."""
    data = {
        "projects": [{"key": "CORE", "name": "Core", "types": ["Epic", "Story", "Sub-task"]}],
        "boards": [{"id": 7, "name": "Core board", "project": "CORE"}],
        "sprints": sprints or [
            {"id": 4, "board": 7, "name": "Core 4", "state": "closed", "start": "-20d", "end": "-6d", "complete": "-6d"},
            {"id": 5, "board": 7, "name": "Core 5", "state": "active", "start": "-6d", "end": "+8d"},
        ],
        "issues": [{"key": "CORE-1", "type": "Epic", "summary": "Epic one", "status": "In Progress", "created": "-40d"},
                   {"key": "CORE-2", "type": "Epic", "summary": "Epic two", "status": "In Progress", "created": "-40d"},
                   *issues],
    }
    if points:
        data["fields"] = {"story_points": points}
    return data


def story(n: int, **kw) -> dict:
    base = {"key": f"CORE-{n}", "summary": f"Story {n}", "sprints": [5], "created": "-10d", "epic": "CORE-1", "points": 1}
    base.update(kw)
    return base


async def report(site, **args) -> dict:
    client = make_client(site)
    async with Client(build_server(client.settings, client)) as c:
        result = await c.call_tool("sprint_report", {"board": "Core board", **args})
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def test_seed_team_infra_sprint_matches_the_use_case_summary(site):
    r = await report(site, board="Team Infra")
    assert r["board"] == "Team Infra" and r["sprint"]["name"] == "Sprint 23"
    # Friday 2 January 02:00 to Tuesday 6 January 02:00: Fri, Sat, Sun, Mon, Tue; three of them working days
    assert (r["period"]["days_left"], r["period"]["working_days_left"], r["period"]["days_total"]) == (5, 3, 14)
    p = r["points"]
    assert (p["total"], p["completed"], p["percent_complete"]) == (40, 30, 75)
    assert (p["in_progress"], p["remaining"], p["added_after_start"]) == (8, 2, 1)
    assert {k: r["tickets"][k] for k in ("done", "in_progress", "to_do")} == {"done": 12, "in_progress": 5, "to_do": 3}
    epics = {e["name"]: (e["done_points"], e["total_points"], e["percent"], e["status"]) for e in r["epics"]}
    assert epics == {"Database Migration": (16, 16, 100, "complete"), "Kubernetes Upgrade": (9, 15, 60, "blocked"),
                     "Monitoring Improvements": (5, 9, 55, "on_track")}
    (b,) = r["blockers"]
    assert (b["key"], b["days_blocked"], b["escalated"]) == ("INFRA-234", 3, False)
    assert set(b["signals"]) == {"status", "blocked_by_link"} and b["waiting_on"][0].startswith("SEC-45")
    # the names are other people's text: marked when they are not plain names
    assert b["waiting_on_who"] == ["Security team (SEC-45, assigned to ‹untrusted: Priya Shah (Security)›)"]
    assert r["status_channel"] == "#team-infra-status"
    assert r["assignees"] == 5 and r["health"] == "at_risk"
    assert [v["completed_points"] for v in r["velocity"]] == [36, 34] and r["velocity_average"] == 35
    assert [u["key"] for u in r["unestimated"]] == ["INFRA-247"]
    assert [a["key"] for a in r["added_after_start"]] == ["INFRA-245"]
    assert [(c["key"], c["from_sprint"]) for c in r["carried_over"]] == [("INFRA-230", "Sprint 22")]
    assert r["coverage"] == {"issues_read": 20, "pages": 1, "jql": "sprint = 23 ORDER BY key ASC", "complete": True,
                             "changelogs_fetched": 0, "note": "Read all 20 issues of the sprint in 1 page(s)."}
    text = r["text"]
    assert "▓▓▓▓▓▓▓▓▓▓▓▓░░░░ 75% complete (30/40 points)" in text
    assert "Database Migration (INFRA-100)" in text and "All tickets complete ✓" in text
    assert "Days blocked: 3" in text and "Escalated: No" in text
    assert "Waiting on: Security team (SEC-45, assigned to ‹untrusted: Priya Shah (Security)›)" in text
    assert "Blocked: INFRA-234 (waiting on Security team)" in text
    assert "blocked_by_link" not in text and "Found by" not in text  # how it was found is not for the reader
    assert not any("blocked_by_link" in risk for risk in r["risks"])


async def test_the_blockers_comment_comes_back_fenced(site):
    r = await report(site, board="84")
    body = r["blockers"][0]["last_comment"]["body"]
    assert body.startswith("<<untrusted jira comment>>") and "ignore all previous instructions" in body
    assert "ignore all previous" not in r["text"]


async def test_each_blocked_signal_is_found_and_tagged(site):
    site.load(site_data([
        story(10, status="In Progress", flagged=True, history=[{"at": "-2d", "field": "Flagged", "to": "Impediment"}]),
        story(11, status="In Progress", labels=["blocked"],
              history=[{"at": "-1d", "field": "labels", "from": "", "to": "blocked"}]),
        story(12, status="In Progress", links=[{"blocked_by": "CORE-13"}],
              history=[{"at": "-4d", "field": "Link", "to": "This issue is blocked by CORE-13"}]),
        story(13, status="In Progress", sprints=[]),
        story(14, status="Blocked", history=[{"at": "-5d", "field": "status", "from": "To Do", "to": "Blocked"}]),
        story(15, status="Done", labels=["blocked"]),  # done work is never a blocker
        story(16, status="In Progress", links=[{"blocked_by": "CORE-17"}]),
        story(17, status="Done", sprints=[]),  # ... nor is a link to finished work
    ]))
    r = await report(site)
    got = {b["key"]: (b["signals"], b["days_blocked"]) for b in r["blockers"]}
    assert got == {"CORE-10": (["flagged"], 2), "CORE-11": (["label"], 1), "CORE-12": (["blocked_by_link"], 4),
                   "CORE-14": (["status"], 5)}


async def test_escalation_is_a_comment_or_priority_change_after_the_block(site):
    site.load(site_data([
        story(10, status="Blocked", history=[{"at": "-3d", "field": "status", "from": "In Progress", "to": "Blocked"}],
              comments=[{"at": "-3d01:00", "body": "waiting on the vendor"}]),
        story(11, status="Blocked", history=[{"at": "-3d", "field": "status", "from": "In Progress", "to": "Blocked"},
                                             {"at": "-1d", "field": "priority", "from": "Medium", "to": "Highest"}]),
        story(12, status="Blocked", history=[{"at": "-3d", "field": "status", "from": "In Progress", "to": "Blocked"}],
              comments=[{"at": "-2d", "body": "@lead can you chase the vendor?"}]),
    ]))
    r = await report(site)
    got = {b["key"]: (b["days_blocked"], b["escalated"], b["escalation"]) for b in r["blockers"]}
    assert got["CORE-10"] == (3, False, None)
    assert got["CORE-11"][1] and got["CORE-11"][2].startswith("priority Medium -> Highest")
    assert got["CORE-12"][1] and got["CORE-12"][2].startswith("comment by PAII Bot")


async def test_points_by_epic_unestimated_and_a_points_field_under_another_name(site):
    site.load(site_data([
        story(10, points=5, status="Done"), story(11, points=3, status="In Progress"),
        story(12, points=None, status="To Do"), story(13, points=8, epic="CORE-2", status="Done"),
        story(14, points=2, epic=None, status="To Do"),
        story(15, type="Sub-task", points=13, status="Done", parent="CORE-10", epic=None),
    ], points={"id": "customfield_10106", "name": "SP (Story Points)", "type": "com.atlassian.jira.plugin.system.customfieldtypes:float"}))
    r = await report(site)
    assert r["points"]["field"] == "SP (Story Points) (customfield_10106)"
    assert (r["points"]["total"], r["points"]["completed"], r["points"]["percent_complete"]) == (18, 13, 72)
    epics = {e["key"]: (e["done_points"], e["total_points"], e["issues"]) for e in r["epics"]}
    assert epics == {"CORE-1": (5, 8, 3), "CORE-2": (8, 8, 1), None: (0, 2, 1)}
    assert [u["key"] for u in r["unestimated"]] == ["CORE-12"]
    assert r["tickets"]["subtasks_excluded"] == 1 and r["tickets"]["total"] == 5


async def test_scope_added_after_the_start_and_carry_over_from_the_last_sprint(site):
    site.load(site_data([
        story(10, status="To Do"),  # planned: in the sprint before it started
        story(11, status="To Do", created="-30d", added="-2d", points=3),  # pulled in mid-sprint
        story(12, status="To Do", created="-1d", points=2),  # created into the running sprint
        story(13, status="In Progress", sprints=[4, 5], created="-25d", points=5),  # not finished in Core 4
    ]))
    r = await report(site)
    assert {a["key"]: a["points"] for a in r["added_after_start"]} == {"CORE-11": 3, "CORE-12": 2}
    assert r["points"]["added_after_start"] == 5 and r["points"]["committed_at_start"] == r["points"]["total"] - 5
    assert [(c["key"], c["from_sprint"]) for c in r["carried_over"]] == [("CORE-13", "Core 4")]
    # carried-over work counts for the sprint it was finished in, not the one it left
    assert r["velocity"] == [{"id": 4, "name": "Core 4", "completed_points": 0, "completed_issues": 0,
                              "end": r["velocity"][0]["end"]}]


async def test_a_sprint_of_230_issues_is_read_across_every_page(site):
    issues = [story(100 + n, status=("Done" if n % 3 == 0 else "In Progress" if n % 3 == 1 else "To Do"),
                    points=(n % 5) + 1) for n in range(230)]
    site.load(site_data(issues))
    r = await report(site, velocity=False)
    assert r["tickets"]["total"] == 230 and r["coverage"]["issues_read"] == 230
    assert r["coverage"]["pages"] == 5 and r["coverage"]["complete"]  # 50 per page with changelogs
    assert len(site.calls("POST", r"/rest/api/3/search/jql")) == 5
    assert r["points"]["total"] == sum((n % 5) + 1 for n in range(230))
    assert r["points"]["completed"] == sum((n % 5) + 1 for n in range(230) if n % 3 == 0)
    assert r["tickets"]["done"] == 77 and r["velocity"] == []


async def test_a_long_changelog_is_read_from_the_changelog_endpoint(site, monkeypatch):
    from paii_sandbox.services import _jira_json

    site.load(site_data([story(10, status="Blocked", history=[
        {"at": "-3d", "field": "status", "from": "In Progress", "to": "Blocked"}])]))
    real = _jira_json.issue_json

    def truncated(st, o, base, fields, expand="", v2=False):  # what Cloud does past ~40 entries
        out = real(st, o, base, fields, expand, v2)
        if "changelog" in out:
            out["changelog"] = {**out["changelog"], "histories": [], "total": len(o["history"])}
        return out

    monkeypatch.setattr(_jira_json, "issue_json", truncated)
    r = await report(site)
    assert r["coverage"]["changelogs_fetched"] == 1 and r["blockers"][0]["days_blocked"] == 3
    assert site.calls("GET", r"/rest/api/3/issue/CORE-10/changelog")


async def test_the_default_is_the_active_sprint_and_a_named_one_can_be_asked_for(site):
    r = await report(site, board="Team Infra", sprint="Sprint 22", velocity=False)
    assert r["sprint"]["name"] == "Sprint 22" and r["sprint"]["state"] == "closed"
    assert r["points"]["completed"] == 36 and r["tickets"]["total"] == 7  # 6 done + INFRA-230 carried out


@pytest.mark.parametrize("board,needle", [("Team Nope", "No board is named 'Team Nope'"), ("999", "No board 999")])
async def test_an_unknown_board_lists_the_boards_and_teams(site, board, needle):
    client = make_client(site)
    async with Client(build_server(client.settings, client)) as c:
        result = await c.call_tool("sprint_report", {"board": board})
    text = result.content[0].text
    assert result.is_error and needle in text and "Team Infra (84)" in text and "team infra=84" in text


async def test_data_center_reads_the_sprint_through_rest_v2_with_a_pat(site):
    client = make_client(site, email=None, token=None, pat="sandbox-jira-pat")
    async with Client(build_server(client.settings, client)) as c:
        result = await c.call_tool("sprint_report", {"board": "Team Infra"})
    assert not result.is_error, result.content[0].text
    r = result.structured_content
    assert (r["points"]["completed"], r["points"]["total"], r["blockers"][0]["days_blocked"]) == (30, 40, 3)
    assert site.calls("GET", r"/rest/api/2/search") and not site.calls(path=r"/rest/api/3/.*")


async def test_the_report_follows_paii_now_like_the_sandbox_clock(site, monkeypatch):
    from paii_jira.client import JiraClient

    monkeypatch.setenv("PAII_NOW", "2026-01-02T02:00:00Z")  # the site's seed clock
    settings = make_client(site).settings
    client = JiraClient(settings)  # no clock given: PAII_NOW rules
    async with Client(build_server(settings, client)) as c:
        r = (await c.call_tool("sprint_report", {"board": "Team Infra", "velocity": False})).structured_content
    assert r["period"]["days_left"] == 5 and r["blockers"][0]["days_blocked"] == 3


@pytest.mark.parametrize(("now", "end", "days", "working"), [
    ("2026-01-05T10:00:00Z", "+4d", 5, 5),            # Monday 10:00 to Friday 10:00: never more working days than days
    ("2026-01-02T02:00:00Z", "+4d", 5, 3),            # Friday to Tuesday, across a weekend
    ("2026-01-05T10:00:00Z", "2026-01-09T00:00:00Z", 4, 4),  # ending at midnight: Friday is not a day of it
    ("2026-01-05T10:00:00Z", "-1d", 0, 0),            # over
])
async def test_days_left_and_working_days_left_never_contradict(site, now, end, days, working):
    from datetime import datetime

    at = datetime.fromisoformat(now.replace("Z", "+00:00"))
    site.load(site_data([story(10)], sprints=[{"id": 5, "board": 7, "name": "Core 5", "state": "active",
                                               "start": "-6d", "end": end}]), now=at)
    r = await report(site, velocity=False)
    assert (r["period"]["days_left"], r["period"]["working_days_left"]) == (days, working)
    assert r["period"]["working_days_left"] <= r["period"]["days_left"]


async def test_a_blocker_in_the_teams_own_project_waits_on_its_assignee(site):
    site.load(site_data([
        story(12, status="In Progress", links=[{"blocked_by": "CORE-13"}]),
        story(13, status="In Progress", sprints=[], assignee="712020:bo"),
    ]) | {"users": [{"id": "712020:bo", "name": "Bo Chen", "email": "bo@example.com"}]})
    r = await report(site)
    assert r["blockers"][0]["waiting_on_who"] == ["Bo Chen (CORE-13)"]


@pytest.mark.parametrize(("teams", "channel"), [
    ("Team Infra=84#team-infra-status", "#team-infra-status"),
    ('{"Team Infra": {"board": 84, "channel": "team-infra-status"}}', "#team-infra-status"),
    ("Team Infra=84", None),
])
async def test_the_teams_status_channel_comes_from_the_teams_setting(site, teams, channel):
    client = make_client(site, teams=teams)
    async with Client(build_server(client.settings, client)) as c:
        by_team = (await c.call_tool("sprint_report", {"board": "Team Infra", "velocity": False})).structured_content
        by_board = (await c.call_tool("sprint_report", {"board": "84", "velocity": False})).structured_content
    assert by_team["status_channel"] == by_board["status_channel"] == channel
