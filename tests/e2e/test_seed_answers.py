"""Each seed scenario's facts come from the tools, not from the demo's rendering.

Per scenario: the skill's calls (its scenario file, or the calls its SKILL.md names) run through
PAII's servers against the sandbox, and every fact the seed's sample output shows is looked for in
the tools' results first; then in the report the demo prints from them. The handoff runs on a
fresh world, as in the demo's first run (nothing from the post-mortem step yet).
"""

from __future__ import annotations

import json
import re

from paii_common.untrusted import unmark
from paii_sandbox import renderers, scenario

from tests.e2e.conftest import NOW_ISO, state
from tests.mcp_calls import plain

PD_URL = "https://acme-sandbox.pagerduty.com/incidents/"


async def _run(clients, name: str, **kwargs):
    async with clients(**kwargs) as c:
        run = await scenario.run(scenario.load(name), c, now=NOW_ISO)
    return run, renderers.render(run)


def _record(entries: list[dict], pd_id: str) -> dict:
    """The history record the skill joins to a PagerDuty incident: its PagerDuty link is the incident."""
    [rec] = [e for e in entries if e["category"] == "incidents" and (e.get("links") or {}).get("pagerduty") == PD_URL + pd_id]
    return rec


# ---------------------------------------------------------------------- on-call handoff
async def test_the_handoff_facts_are_in_the_tool_results_on_the_first_run(sandbox, clients):
    await _run(clients, "incident")  # the 2 AM declaration, as in the demo; no post-mortem step yet
    run, report = await _run(clients, "handoff")
    assert not run.failed
    shift, entries = plain(run.data("shift")), plain(run.data("history"))["entries"]
    by_number = {i["number"]: i for i in shift["incidents"]}

    # INC-789: the open incident, its Jira key and its channel by name, joined by the PagerDuty link
    payments = _record(entries, "Q2PAY5XXPROD")
    assert by_number[12345]["url"] == payments["links"]["pagerduty"]
    assert payments["id"] == "INC-789" and payments["title"].startswith("payments-api-500s:")
    assert payments["links"]["slack"] == "#inc-payments-api-500s" and payments["links"]["jira"].endswith("/INC-789")
    assert payments["status"] == "investigating"

    # INC-788: last night's auth-service incident, with its cause, fix and post-mortem meeting
    auth = _record(entries, "Q2AUTHLATENCY")
    assert by_number[12341]["url"] == auth["links"]["pagerduty"] and by_number[12341]["status"] == "resolved"
    assert auth["id"] == "INC-788" and auth["links"]["slack"] == "#inc-auth-service-latency"
    assert auth["root_cause"].startswith("CPU throttling") and auth["resolution"].startswith("Restarted the auth pods")
    assert auth["postmortem"] == "Scheduled for 2026-01-03 15:00 UTC"
    assert "INC-788" in state(sandbox, "jira")["issues"]  # the key exists in Jira too

    # the latest human notes, and why each alert was suppressed or resolved itself
    assert "Watch for latency spikes" in by_number[12341]["notes"][-1]["content"]
    reasons = {unmark(a["summary"]): a["reason"] for a in shift["alerts"]}
    assert reasons["Low disk warning on logs-storage-03"].startswith("False positive, disk expanded")
    assert "Autoscaling handled it" in reasons["Memory alert on cache-cluster (used_memory 91%)"]

    # what the person reads
    assert "1. INC-789: payments-api-500s (PagerDuty #12345)" in report
    assert "2. INC-788: auth-service-latency (PagerDuty #12341)" in report
    assert "INCIDENTS HANDLED (2):" in report  # alerts that resolved themselves are listed as alerts
    block = report.split("2. INC-788")[1].split("ALERTS")[0]
    assert "Root cause: CPU throttling" in block and "Resolution: Restarted the auth pods" in block
    assert "Post-mortem: Scheduled for 2026-01-03 15:00 UTC" in block and "Slack thread: #inc-auth-service-latency" in block
    assert "Slack thread: #inc-payments-api-500s" in report and "C0NEW" not in report
    assert "Low disk warning on logs-storage-03 (suppressed: false positive, disk expanded)" in report
    assert "Memory alert on cache-cluster (used_memory 91%) (resolved automatically: autoscaling handled it)" in report
    assert "‹untrusted" not in report


async def test_an_incident_without_a_history_record_says_its_jira_key_is_unknown(sandbox, clients):
    run, report = await _run(clients, "handoff")  # no declaration: #12345 has no record yet
    assert "PagerDuty #12345: payments-api returning 500s in production (no history record: Jira key unknown)" in report
    assert "INC-789" not in report


# ---------------------------------------------------------------------- sprint status
async def test_the_sprint_facts_are_in_the_report_and_it_offers_the_teams_channel(sandbox, clients):
    run, report = await _run(clients, "sprint")
    r = plain(run.data("report"))
    assert r["status_channel"] == "#team-infra-status"  # PAII_JIRA_TEAMS in the sandbox's environment
    [b] = r["blockers"]
    assert b["waiting_on_who"][0].startswith("Security team (SEC-45") and b["days_blocked"] == 3 and not b["escalated"]
    assert r["period"]["working_days_left"] <= r["period"]["days_left"]
    assert "blocked_by_link" not in r["text"] and not any("blocked_by_link" in x for x in r["risks"])
    assert "Waiting on: Security team" in report and "Found by" not in report
    assert report.rstrip().endswith("Shall I post this to #team-infra-status? (the demo does not post it)")
    slack = state(sandbox, "slack")
    assert not slack.messages["C0INFRAST"]  # offered, not posted


# ---------------------------------------------------------------------- channel summary
async def test_the_channel_digest_is_small_and_holds_what_the_labels_and_action_items_need(sandbox, clients):
    async with clients() as c:
        raw = await c["slack"].call_tool("channel_digest", {"channel": "#platform-engineering", "hours": 8})
        run = await scenario.run(scenario.load("channel-summary"), c, now=NOW_ISO)
    text_bytes = sum(len(part.text.encode()) for part in raw.content)
    d = raw.structured_content
    assert d["message_count"] == 107 and text_bytes < 10_000, text_bytes  # was 31 KB: well under 10 KB now

    threads = {t["started_by"]: t for t in d["threads"]}
    cache, rfc, rota = threads["alice"], threads["david"], threads["eve"]
    assert "cache invalidation" in cache["first"] and "race condition in the cache layer" in cache["replies"]
    assert cache["resolution"]["time"].endswith("22:15Z") and "Resolved" in cache["resolution"]["text"]
    assert cache["participants"] == ["alice", "bob", "charlie"] and cache["reactions"] == [{"name": "eyes", "count": 2}]
    assert "https://github.com/acme/cache-layer/pull/812" in cache["links"]
    assert "new deployment pipeline" in rfc["first"] and "Open for feedback until Friday" in rfc["first"]
    assert "https://docs.acme.example/rfc-042" in rfc["links"] and rfc["resolution"] is None
    assert "Rollback time" in rfc["replies"] and "Canary percentage" in rfc["replies"]
    assert {r["name"]: r["count"] for r in rota["reactions"]} == {"+1": 5, "-1": 3} and "create a survey" in rota["replies"]
    # every mention of the caller, whole, with the PR it asks about
    assert [(m["by"], m["time"][11:16]) for m in d["mentions"]] == [("alice", "22:20"), ("frank", "00:00")]
    assert "review the cache fix" in d["mentions"][0]["text"] and "pull/812" in d["mentions"][0]["text"]
    assert "approval on the infra budget PR" in d["mentions"][1]["text"] and "pull/77" in d["mentions"][1]["text"]
    assert "is anyone on it?" in d["messages"]  # the other messages are all there, as lines

    report = renderers.render(run)
    assert "1. 🔥 Production Issue: Cache invalidation bug" in report and "Status: Resolved at 22:15" in report
    assert "2. 📋 RFC Review: New deployment pipeline" in report and "Key concerns: Rollback time, Canary percentage" in report
    assert "3. 💬 General Discussion: Switch on-call to 1-week rotations" in report
    assert "Sentiment: Mixed (5 in favor, 3 against)" in report and "@eve will create a survey" in report
    assert "1. Review cache fix PR (from Alice)" in report and "2. Approve infra budget PR (from Frank)" in report


# ---------------------------------------------------------------------- writing
async def test_the_writing_profile_comes_from_the_example_articles(sandbox, clients):
    run, report = await _run(clients, "writing")
    p = plain(run.data("profile"))["writing"]
    assert (p["articles"], p["notes"]) == (3, 1)
    assert p["suggested_range"] == "1500-2500 (stated in a writing note)"
    assert 1500 <= p["words"]["min"] and p["words"]["max"] <= 2500  # the example articles are in that range
    assert p["tone"][:2] == ["practical (4)", "hands-on (3)"] and p["structure"][0] == "real-world example (4)"
    assert "Based on your previous articles, you prefer:" in report
    assert "- Practical, hands-on approach" in report and "- Real-world examples" in report
    assert "- 1500-2500 word range" in report


# ---------------------------------------------------------------------- spanish
async def test_a_practice_is_timed_from_the_first_to_the_last_exchange(sandbox, clients, monkeypatch):
    notes = {"level": "intermediate", "theme": "restaurant", "words": [{"es": "mientras", "en": "while"}],
             "mistakes": [{"said": "una agua", "correct": "un agua", "rule": "stressed a takes un"}],
             "grammar": ["quisiera: polite conditional"], "sentences": 8, "minutes": 42}
    async with clients() as c:
        first = (await c["history"].call_tool("recent", {"tag": "spanish", "count": 5})).structured_content["spanish"]
        assert first["sessions"] == 2 and first["practice_minutes"] == 0  # the example sessions
        assert "un agua con gas" in [m["correct"] for m in first["mistakes"]] and first["themes"][0] == "restaurant"
        monkeypatch.setenv("PAII_NOW", "2026-01-02T02:15:00Z")  # eight exchanges later
        stats = (await c["history"].call_tool("recent", {"tag": "spanish", "count": 1})).structured_content["spanish"]
        assert stats["practice_minutes"] == 15  # SESSION STATS: Duration: 15 minutes
        saved = await c["history"].call_tool("capture", {"category": "learnings", "title": "Spanish practice: restaurant",
                                              "content": "Ordered drinks.", "metadata": {"spanish": notes}})
        entry = (await c["history"].call_tool("get", {"id": saved.structured_content["id"]})).structured_content
    assert entry["metadata"]["spanish"]["minutes"] == 15  # the server's timing, not the 42 sent


# ---------------------------------------------------------------------- self-improvement
async def test_the_usage_report_counts_refusals_apart_mentions_per_request_on_the_sandbox_clock(sandbox, clients,
                                                                                                history_home):
    import importlib.util
    import sys

    from tests.e2e.conftest import ROOT

    sys.path.insert(0, str(ROOT / "hooks"))
    try:
        spec = importlib.util.spec_from_file_location("paii_usage_hook", ROOT / "hooks" / "usage.py")
        hook = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(hook)
    finally:
        sys.path.remove(str(ROOT / "hooks"))
    declined = ("step 5 (Promote the replica) needs the person's approval and has none; it did not run.")
    events = [{"hook_event_name": "UserPromptSubmit", "session_id": f"s{k}",
               "prompt": "check datadog, then the datadog dashboard for payments-api"} for k in range(12)]
    events += [{"hook_event_name": "PostToolUseFailure", "session_id": "s1", "tool_name": "mcp__plugin_paii_runbook__run_step",
                "tool_input": {}, "error": declined}] * 3
    events += [{"hook_event_name": "PostToolUse", "session_id": "s1", "tool_name": "mcp__plugin_paii_runbook__run_step",
                "tool_input": {}, "tool_response": {"content": []}}] * 2
    folder = history_home / "usage"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "usage.jsonl", "w") as fh:
        for n, event in enumerate(events):  # written as the hook writes them, on the sandbox's clock
            rec = {"v": 1, "t": f"2026-01-01T{n % 24:02d}:00:00Z", **hook.record_for(event)}
            fh.write(json.dumps(rec) + "\n")
        fh.write(json.dumps({"v": 1, "t": "2026-11-01T00:00:00Z", "session": "x", "event": "tool",
                             "server": "history", "tool": "search", "ok": True}) + "\n")  # after the sandbox's now
    async with clients() as c:
        r = (await c["history"].call_tool("usage_report", {"days": 30})).structured_content
    assert r["since"] == "2025-12-03"
    assert [(p["name"], p["count"], p["failed"], p["refused"]) for p in r["plugins"]] == [("runbook", 5, 0, 3)]
    datadog = next(m for m in r["missing_integrations"] if m["service"] == "Datadog")
    assert datadog["mentions"] == 12  # 12 requests, each saying it twice
    assert any("12 mentions of Datadog" in p["detail"] for p in r["patterns"])
    assert not any("runbook" in p["detail"] and "failed" in p["detail"] for p in r["patterns"])


# ---------------------------------------------------------------------- incident response
async def test_the_incident_is_searched_with_plain_text_and_recorded_for_the_handoff(sandbox, clients):
    from paii_sandbox.demo import shown_value

    run, report = await _run(clients, "incident")
    text = run.outcomes["similar"].args["text"]
    assert text.startswith("payments-api returning 500s in production\n") and "‹untrusted" not in text
    record = run.outcomes["record"]
    assert record.ok and record.args["links"]["slack"] == "#inc-payments-api-500s" and record.data["id"] == "INC-789"
    assert "History: recorded INC-789 (investigating)" in report
    shown = shown_value(text)
    assert re.fullmatch(r"'.*…'", shown) and len(shown) < 60  # a cut value keeps its closing quote


async def test_declaring_again_does_not_list_the_incident_as_similar_to_itself(sandbox, clients):
    await _run(clients, "incident")
    second, report = await _run(clients, "incident")
    hits = plain(second.data("similar"))["hits"]
    assert any(h["id"] == "INC-789" for h in hits)  # history finds its own record...
    assert "INC-789 (" not in report.split("SIMILAR INCIDENTS")[1]  # ...which is not shown as a similar one
    assert second.outcomes["check"].ok and "Should I check database connections first?" in report
