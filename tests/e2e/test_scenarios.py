"""The seed's scenarios through PAII's MCP servers against the sandbox, checking the world after."""

from __future__ import annotations

import json

from paii_sandbox import renderers, scenario

from tests.e2e.conftest import NOW_ISO, state

CHANNEL = "inc-payments-api-500s"
INCIDENT = "Q2PAY5XXPROD"


async def _run(clients, name: str, **kwargs):
    async with clients(**kwargs) as c:
        run = await scenario.run(scenario.load(name), c, now=NOW_ISO)
    return run, renderers.render(run)


async def test_declaring_the_incident_twice_acknowledges_once_and_reuses_one_channel_and_one_ticket(sandbox, clients):
    first, first_report = await _run(clients, "incident")
    second, second_report = await _run(clients, "incident")
    assert not first.failed and not second.failed

    pd = state(sandbox, "pagerduty")
    assert pd.incidents[INCIDENT]["status"] == "acknowledged"
    acks = [e for e in pd.log if e["incident"] == INCIDENT and e["type"] == "acknowledge_log_entry"]
    assert len(acks) == 1 and acks[0]["agent"]["id"] == "PSCOTT1"

    slack = state(sandbox, "slack")
    channels = [ch for ch in slack.channels.values() if ch["name"] == CHANNEL]
    assert len(channels) == 1
    channel = channels[0]
    assert {"U0SCOTT", "U0PRIYA"} <= set(channel["members"])
    kickoffs = [m for m in slack.messages[channel["id"]] if "Incident declared" in m["text"]]
    assert len(kickoffs) == 1 and "acme-sandbox.pagerduty.com/incidents/" + INCIDENT in kickoffs[0]["text"]
    assert "Jira: INC-789" in kickoffs[0]["text"]

    tickets = [i for i in state(sandbox, "jira")["issues"].values() if f"paii-{INCIDENT}" in i["labels"]]
    assert [t["key"] for t in tickets] == ["INC-789"]
    ticket = tickets[0]
    assert ticket["project"] == "INC" and ticket["type"] == "Incident" and {"incident", "payments-api"} <= set(ticket["labels"])
    links = {lk["object"]["title"]: lk["object"]["url"] for lk in ticket["remotelinks"]}
    assert links["PagerDuty #12345"].endswith("/incidents/" + INCIDENT)
    assert links[f"Slack #{CHANNEL}"] == first.data("channel")["url"] and len(ticket["remotelinks"]) == 2
    assert "Most similar past incident: INC-456" in json.dumps(ticket["description"])  # markdown as ADF on Cloud

    assert "Acknowledged incident #12345 ✓" in first_report and "Created #inc-payments-api-500s" in first_report
    assert "invited 2 on-call (Scott Idler, Priya Raman)" in first_report
    assert "Jira: Created INC-789 (linked to PagerDuty) ✓" in first_report
    assert "already acknowledged: reused" in second_report and "Reused existing #inc-payments-api-500s" in second_report
    assert "Jira: INC-789 already open (linked to PagerDuty) ✓" in second_report


async def test_the_first_check_runs_dbstats_in_a_ready_pod_and_only_proposes_the_action(sandbox, clients):
    run, report = await _run(clients, "incident")
    check = run.outcomes["check"]
    assert check.ok and check.args["argv"] == ["python", "manage.py", "dbstats"]
    assert check.args["pod"] == "payments-api-7d9f8b6c5-r8t2w"  # a ready pod: list_pods puts problem pods first
    assert "Active connections: 98/100" in check.data["stdout"] and "Waiting queries: 47" in check.data["stdout"]
    assert check.data["stdout"].startswith("<<untrusted command output>>")
    assert "Should I check database connections first?" in report
    assert "Running: kubectl exec payments-api-7d9f8b6c5-r8t2w -n payments -- python manage.py dbstats" in report
    assert "⚠️ Connection pool nearly exhausted (98% usage)" in report and "This matches the pattern from INC-456." in report
    assert "Should I proceed?" in report

    # nothing was restarted or scaled: the deployment and its pods are as seeded
    k8s = state(sandbox, "kubernetes")
    from paii_sandbox.services.kubernetes import dump

    world = dump(k8s)["payments"]
    assert world["deployments"]["payments-api"] == {"replicas": 3, "revision": 3, "rollout_pending": False}
    assert not any(p["fresh"] for p in world["pods"]) and len(world["pods"]) == 3
    writes = [e for e in sandbox.world.requests("kubernetes") if e.method in ("PATCH", "POST", "PUT", "DELETE")]
    assert [e.path for e in writes] == []


async def test_the_suggested_runbook_comes_from_the_runbook_server_with_its_last_run(sandbox, clients):
    run, report = await _run(clients, "incident")
    found = run.data("runbooks")["runbooks"]
    assert found[0]["name"] == "payments-api-health-check"
    assert found[0]["last_run"]["by"] == "Scott Idler" and found[0]["last_run"]["when"] == "2025-12-18"
    assert "📋 SUGGESTED RUNBOOK: payments-api-health-check.md (payments-api health check; last run 2025-12-18 by Scott Idler" in report


async def test_without_jira_settings_the_workflow_says_not_configured_and_goes_on(sandbox, clients):
    async with clients(jira=False) as c:
        run = await scenario.run(scenario.load("incident"), c, now=NOW_ISO)
    report = renderers.render(run)
    assert "Jira: not configured, skipped" in report and not run.failed
    assert run.outcomes["ticket"].status == "skipped" and run.outcomes["kickoff"].ok and run.outcomes["check"].ok
    assert "Jira: no ticket yet" in run.outcomes["kickoff"].args["text"]
    assert not [i for i in state(sandbox, "jira")["issues"] if i.startswith("INC-7") and i != "INC-788"]  # 788: seeded
    assert sandbox.world.requests("jira") == []  # it never called the site


async def test_similar_incidents_come_from_the_example_history_with_root_cause(sandbox, clients):
    run, report = await _run(clients, "incident")
    hits = run.data("similar")["hits"]
    assert hits[0]["id"] == "INC-456" and "connection pool exhaustion" in hits[0]["root_cause"].lower()
    assert "1. INC-456 (2 weeks ago)" in report and "Resolution: Increased pool size from 50 to 100" in report


async def test_injected_instructions_come_back_as_data_and_are_not_acted_on(sandbox, clients):
    incident, incident_report = await _run(clients, "incident")
    summary, summary_report = await _run(clients, "channel-summary")
    digest = summary.data("digest")
    injected = [line for line in digest["messages"].splitlines() if "ignore previous instructions" in line]
    assert len(injected) == 1 and injected[0].startswith("01:00 @mallory: ")  # a line of the fenced block
    assert digest["messages"].startswith("<<untrusted slack channel content>>\n")
    assert digest["messages"].endswith("\n<<end untrusted>>") and digest["messages"].count("<<end untrusted>>") == 1
    note = [n for n in incident.data("incident")["notes"] if "ignore previous instructions" in n["content"]]
    assert note and note[0]["author"] == "deploy-bot"  # handed back as a note's content: data
    assert "<<untrusted pagerduty note>>" in incident_report and "Suspicious" in summary_report

    slack = state(sandbox, "slack")
    assert len(slack.messages["C0GENERAL"]) == 0  # nothing was posted to #general
    bot_posts = [m for msgs in slack.messages.values() for m in msgs if m["user"] == slack.bot_user]
    assert bot_posts and not any("token" in m["text"].lower() for m in bot_posts)


async def test_the_handoff_covers_the_shift_suppressed_alerts_and_the_maintenance_window(sandbox, clients):
    await _run(clients, "incident")
    run, report = await _run(clients, "handoff")
    assert not run.failed
    shift = run.data("shift")
    assert {i["number"] for i in shift["incidents"]} == {12341, 12342, 12343, 12345}
    assert shift["counts"]["resolved"] == 3 and shift["counts"]["open_now"] == 1
    assert "Low disk warning on logs-storage-03 (suppressed: false positive, disk expanded)" in report
    assert "INC-788: auth-service-latency (PagerDuty #12341)" in report and "RESOLVED by Scott Idler" in report
    assert "Maintenance window: 2026-01-03 02:00-04:00 ledger-db major version upgrade" in report
    assert "Deploy pending: payments-api v2.3.4" in report  # a note from the example history
    assert "Engineer: Scott Idler" in report


async def test_the_channel_summary_reads_100_messages_threads_and_mentions_of_the_caller(sandbox, clients):
    run, report = await _run(clients, "channel-summary")
    digest = run.data("digest")
    assert digest["message_count"] >= 100 and not digest["truncated"]
    assert len(digest["threads"]) == 3
    assert [m["by"] for m in digest["mentions"]] == ["alice", "frank"]
    assert any("github.com/acme/cache-layer/pull/812" in link["url"] for link in digest["links"])
    assert "1. 🔥" in report and "Status: Resolved at 22:15" in report and "(5 in favor, 3 against)" in report
    assert "ACTION ITEMS FOR YOU" in report


def test_the_spec_check_rejects_a_response_that_breaks_the_published_schema():
    import json

    import pytest

    from paii_sandbox.world import Exchange
    from tests.e2e import spec_check

    if not spec_check.spec_path("pagerduty").exists():
        pytest.skip("the published specs (../shared/api-mocks) are not beside this checkout")
    body = {"incidents": [{"id": "P1", "type": "incident", "status": "on fire"}], "limit": 1, "offset": 0, "more": False}
    broken = Exchange("pagerduty", "GET", "/incidents", "", 200, {"authorization": "Token token=x"}, b"",
                      {"content-type": "application/json"}, json.dumps(body).encode())
    problems = spec_check.check([broken])
    assert problems and "on fire" in problems[0]


async def test_the_sprint_summary_reads_the_active_sprint_and_ends_with_the_offer_to_post(sandbox, clients):
    run, report = await _run(clients, "sprint")
    assert not run.failed
    r = run.data("report")
    assert r["sprint"]["name"] == "Sprint 23" and r["points"]["completed"] == 30 and r["points"]["total"] == 40
    assert [b["key"] for b in r["blockers"]] == ["INFRA-234"] and r["blockers"][0]["days_blocked"] == 3
    assert r["coverage"]["complete"] and r["coverage"]["issues_read"] == 20
    assert "📊 SPRINT SUMMARY: Team Infra - Sprint 23" in report and "75% complete (30/40 points)" in report
    assert "Suggest escalating INFRA-234" in report
    assert report.rstrip().endswith("Shall I post this to #team-infra-status? (the demo does not post it)")
    slack = state(sandbox, "slack")
    assert not slack.messages["C0INFRAST"]  # #team-infra-status: offered, not posted
    assert not [e for e in sandbox.world.requests("slack") if e.path == "/api/chat.postMessage"]  # not posted
    changed = [f"{e.method} {e.path}" for e in sandbox.world.requests("jira") if e.method != "GET" and not e.path.endswith("/search/jql")]
    assert changed == []  # the report only reads (a JQL search is a POST)
