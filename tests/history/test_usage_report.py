"""usage_report: the seed's PAII USAGE ANALYSIS from the usage log the plugin's hooks write
(through the real MCP client, against a log seeded as hooks/usage.py writes it)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

from mcp import Client

from paii_history import usage
from tests.hooks.conftest import HOOKS, SYSTEM_PYTHON
from tests.mcp_calls import plain


def at(days_ago: float) -> str:
    t = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(home, records):
    folder = home / "usage"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "usage.jsonl", "a") as fh:
        for r in records:
            fh.write(json.dumps(dict({"v": 1}, **r)) + "\n")


def tool(server, name, days_ago=1.0, ok=True, session="s1", **extra):
    return dict({"t": at(days_ago), "session": session, "event": "tool", "server": server, "tool": name, "ok": ok,
                 "ms": 120}, **extra)


def prompt(days_ago=1.0, session="s1", **extra):
    return dict({"t": at(days_ago), "session": session, "event": "prompt"}, **extra)


def month_of_use():
    """Roughly the seed's month: history used most, Datadog mentioned every few days."""
    records = []
    for k in range(12):
        records.append(tool("history", "similar_incidents", days_ago=k + 0.5, session="s%d" % k))
        # "Datadog" twice in a request is one mention: the seed counts requests
        records.append(prompt(days_ago=k + 0.5, session="s%d" % k, mentions={"datadog": 2}, topics={"similar-incidents": 1}))
    records += [tool("history", "search", days_ago=2)] * 6
    records += [tool("pagerduty", "list_incidents", days_ago=3, ok=k % 2 == 0) for k in range(6)]
    records += [tool("slack", "channel_digest", days_ago=4)] * 2
    records += [prompt(days_ago=1, command="incident")] * 3 + [prompt(days_ago=2, command="handoff")]
    records += [{"t": at(1), "session": "s1", "event": "skill", "skill": "incident-response", "ok": True}]
    records += [prompt(days_ago=5, mentions={"slack": 4, "grafana": 1})]
    records += [prompt(days_ago=6, topics={"postmortem": 2}), prompt(days_ago=7, topics={"postmortem": 1}),
                prompt(days_ago=8, topics={"postmortem": 1})]
    records += [tool("history", "search", days_ago=45), prompt(days_ago=45, mentions={"sentry": 9})]  # too old
    return records


async def report(server, days=30):
    async with Client(server) as c:
        result = await c.call_tool("usage_report", {"days": days})
    assert not result.is_error, result.content
    return result.structured_content


async def test_the_report_counts_calls_per_plugin_with_bars(server, isolated_env):
    seed(isolated_env, month_of_use())
    r = await report(server)
    assert [(p["name"], p["count"], p["failed"]) for p in r["plugins"]] == [("history", 18, 0), ("pagerduty", 6, 3), ("slack", 2, 0)]
    assert r["plugins"][0]["bar"] == "█" * 20 and r["plugins"][2]["bar"] == "██" + "░" * 18
    assert r["sessions"] == 12 and r["requests"] == 20 and r["period_days"] == 30
    rows = {row["name"]: row["count"] for row in r["skills_and_commands"]}
    assert rows == {"/paii:incident": 3, "/paii:handoff": 1, "incident-response": 1}


async def test_services_without_a_plugin_lead_to_a_high_priority_integration(server, isolated_env):
    seed(isolated_env, month_of_use())
    r = await report(server)
    assert [(m["service"], m["mentions"], m["days"]) for m in r["missing_integrations"]] == [("Datadog", 12, 12), ("Grafana", 1, 1)]
    assert not any(m["service"].lower() == "slack" for m in r["missing_integrations"])  # slack has a PAII server
    assert any(p["title"] == "Missing integration" and "12 mentions of Datadog" in p["detail"] for p in r["patterns"])
    first = r["recommendations"][0]
    assert first["priority"] == "HIGH" and "paii plugin new datadog --type integration --language python" in first["action"]
    assert [x["priority"] for x in r["recommendations"]] == sorted(
        (x["priority"] for x in r["recommendations"]), key=["HIGH", "MEDIUM", "LOW"].index)


async def test_frequent_requests_failures_and_post_mortem_friction_are_patterns(server, isolated_env):
    seed(isolated_env, month_of_use())
    r = await report(server)
    details = [p["detail"] for p in r["patterns"]]
    assert "history.similar_incidents: 12 calls in 12 sessions" in details
    assert "pagerduty.list_incidents failed 3 of 6 calls" in details
    assert any(d.startswith("you asked about post-mortems 3 times; PAII has no tool") for d in details)
    actions = [x["action"] for x in r["recommendations"]]
    assert any("post-mortem workflow" in a for a in actions) and any("Fix pagerduty" in a for a in actions)


async def test_capabilities_never_used_are_listed_modes_and_commands_first(server, isolated_env):
    seed(isolated_env, month_of_use())
    unused = (await report(server))["unused"]
    assert len(unused) == 12 and "runbook: dry-run mode (start_run dry_run=true)" in unused[:3]
    assert "/paii:remember" in unused and "/paii:incident" not in unused and "/paii:handoff" not in unused
    caps = {"tools": {"history": {"capture": {}, "similar_incidents": {}}}, "skills": ["history"], "commands": []}
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    r = usage.report([tool("history", "similar_incidents")], caps, 30, since, "on", [])
    assert r.unused == ["skill history", "history.capture"]


async def test_approval_refusals_are_counted_apart_from_failures(server, isolated_env):
    """The runbook's approval gate stopping a step is the gate working, not a failing tool."""
    gated = [tool("runbook", "run_step", ok=False, refused=True) for _ in range(3)]
    seed(isolated_env, gated + [tool("runbook", "run_step"), tool("runbook", "run_step", ok=False)])
    r = await report(server)
    [row] = r["plugins"]
    assert (row["name"], row["count"], row["failed"], row["refused"]) == ("runbook", 5, 1, 3)
    assert not any("failed" in p["detail"] for p in r["patterns"])  # 1 of 5 is no friction


async def test_the_report_reads_the_period_on_the_sandbox_clock(server, isolated_env, monkeypatch):
    """Under the sandbox (PAII_NOW) "the last 30 days" end at the sandbox's now, as for every other tool."""
    seed(isolated_env, [dict(tool("history", "search"), t="2026-01-01T12:00:00Z"),
                        dict(tool("history", "get"), t="2025-11-01T12:00:00Z"),     # before the 30 days
                        dict(tool("history", "recent"), t="2026-06-01T12:00:00Z")])  # after the sandbox's now
    monkeypatch.setenv("PAII_NOW", "2026-01-02T02:00:00Z")
    r = await report(server)
    assert r["since"] == "2025-12-03" and [(p["name"], p["count"]) for p in r["plugins"]] == [("history", 1)]


async def test_the_period_leaves_older_records_out(server, isolated_env):
    seed(isolated_env, month_of_use())
    r = await report(server, days=60)
    assert r["plugins"][0]["count"] == 19 and ("Sentry", 1) in [(m["service"], m["mentions"]) for m in r["missing_integrations"]]


async def test_with_no_log_the_report_is_empty_and_says_why(server, isolated_env):
    r = await report(server)
    assert r["plugins"] == [] and r["recommendations"] == [] and r["unused"] == []
    assert r["capture"].startswith("on, but nothing recorded yet")


async def test_the_report_says_when_capture_is_off(server, isolated_env, monkeypatch):
    monkeypatch.setenv("PAII_USAGE_LOG", "off")
    assert (await report(server))["capture"].startswith("off (PAII_USAGE_LOG=off)")


async def test_unreadable_lines_are_skipped_with_a_warning(server, isolated_env):
    seed(isolated_env, [tool("history", "search")])
    with open(isolated_env / "usage" / "usage.jsonl", "a") as fh:
        fh.write("{half a line\n\x00\x01\n")
    r = await report(server)
    assert r["plugins"][0]["count"] == 1 and r["warnings"] == ["2 unreadable lines in the usage log were skipped"]


async def test_days_out_of_range_is_refused(server):
    async with Client(server) as c:
        result = await c.call_tool("usage_report", {"days": 0})
    assert result.is_error


def test_a_dry_run_mode_never_used_becomes_a_low_recommendation():
    caps = {"tools": {"runbook": {"start_run": {"dry_run": False}, "run_step": {}}}, "skills": [], "commands": []}
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    real_runs = [tool("runbook", "start_run", modes={"dry_run": False}), tool("runbook", "run_step")]
    r = usage.report(real_runs, caps, 30, since, "on", [])
    assert "runbook: dry-run mode (start_run dry_run=true)" in r.unused
    low = [x for x in r.recommendations if x.priority == "LOW"]
    assert low and low[0].action.startswith("Use runbook: dry-run mode")
    dry = usage.report(real_runs + [tool("runbook", "start_run", modes={"dry_run": True})], caps, 30, since, "on", [])
    assert not any("dry-run" in u for u in dry.unused)
    defaults_on = {"tools": {"runbook": {"start_run": {"dry_run": True}}}, "skills": [], "commands": []}
    assert not any("dry-run" in u for u in usage.report([tool("runbook", "start_run")], defaults_on, 30, since, "on", []).unused)


async def test_what_the_hook_writes_is_what_the_report_reads(server, isolated_env):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(isolated_env), "PAII_HOME": str(isolated_env)}
    calls = [{"hook_event_name": "UserPromptSubmit", "session_id": "h1", "prompt": "/paii:improve and check Datadog"},
             {"hook_event_name": "PostToolUse", "session_id": "h1", "tool_name": "mcp__plugin_paii_history__usage_report",
              "tool_input": {"days": 30}, "tool_response": {}, "duration_ms": 40},
             {"hook_event_name": "SessionEnd", "session_id": "h1", "reason": "other"}]
    for payload in calls:
        proc = subprocess.run([SYSTEM_PYTHON, str(HOOKS / "usage.py")], input=json.dumps(payload).encode(),
                              env=env, capture_output=True, timeout=30)
        assert proc.returncode == 0 and not proc.stdout
    r = await report(server)
    assert r["plugins"][0]["name"] == "history" and r["skills_and_commands"][0]["name"] == "/paii:improve"
    assert r["missing_integrations"][0]["service"] == "Datadog"
    async with Client(server) as c:  # the session record the hook wrote is in history
        recent = (await c.call_tool("recent", {"category": "sessions"})).structured_content
    assert plain(recent["entries"][0]["title"]).startswith("PAII session: /paii:improve")
