"""Closing the loop against the sandbox: the incident is declared, worked, mitigated and resolved
through PAII's six servers (tests/postmortem/flow.py); then every server's timeline is read, the
history merges them, the post-mortem is saved and its action items become tickets, once.

The story runs once for the module (about 15 s: six servers and a sandbox); each test checks one
behaviour of what it produced.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.mcp_calls import plain
from tests.postmortem.conftest import check_spec, open_desk, start_world
from tests.postmortem.flow import TICKET, draft_for, event_of, read_timelines, run_incident, save_args

MISSING = ("pagerduty", "slack", "jira", "kubernetes", "runbook")
NAME = {"pagerduty": "PagerDuty", "slack": "Slack", "jira": "Jira", "kubernetes": "Kubernetes", "runbook": "Runbook"}


def _source(result: dict[str, Any]) -> str | None:
    return result.get("source") or (result.get("timeline") or {}).get("source")


async def _play(sb: Any, mp: pytest.MonkeyPatch, home: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"home": home}
    async with open_desk(sb, mp) as d:
        await run_incident(d)
        sources = out["sources"] = await read_timelines(d)
        merged = await d.call("history", "get_timeline", incident_id=TICKET, sources=sources)
        out["refused"] = await d.error("history", "capture", **save_args(draft_for(merged, cite=False)))
        out["unknown_id"] = await d.error("history", "capture", **save_args(draft_for(merged).replace("[E", "[E9", 1)))
        out["after_refusals"] = await d.call("history", "recent", category="postmortems")
        out["gaps"] = {}
        for missing in MISSING:  # each source not configured: a named gap, in the timeline and the draft
            partial = [{"source": missing, "gap": "not configured"} if _source(s) == missing else s for s in sources]
            variant = await d.call("history", "get_timeline", incident_id=TICKET, sources=partial)
            saved = await d.call("history", "capture", **save_args(draft_for(variant)))
            out["gaps"][missing] = (variant, (home / saved["path"]).read_text())
        await d.fault(service="slack", kind="down")
        out["slack_down"] = await d.call("history", "get_timeline", incident_id=TICKET, sources=await read_timelines(d))
        await d.clear("slack")
        out["merged"] = merged = await d.call("history", "get_timeline", incident_id=TICKET, sources=sources)
        out["saved"] = saved = await d.call("history", "capture", **save_args(draft_for(merged), "2026-01-03T15:00:00Z"))
        out["text"] = (home / saved["path"]).read_text()
        out["record"] = await d.call("history", "get", id=TICKET)
        out["tickets"] = []
        for _ in range(2):  # the skill run twice: the same drafts, the same dedupe keys
            again = await d.call("history", "capture", **save_args(draft_for(merged), "2026-01-03T15:00:00Z"))
            for item in again["action_items"]:
                made = await d.call("jira", "create_issue", summary=item["title"], issue_type="Task",
                                    dedupe_key=item["dedupe_key"], relates_to=TICKET, labels=[f"postmortem-{TICKET}"],
                                    description=f"Owner: {item['owner']}. Due: {item['due']}.")
                out["tickets"].append((made["key"], made["created"]))
        out["saved_again"] = again
        out["jira"] = d.state("jira")
    return out


@pytest.fixture(scope="module")
def story(example_history: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("pm_story")
    home = folder / "home"
    shutil.copytree(example_history, home)
    with pytest.MonkeyPatch.context() as mp:
        sb = start_world(mp, home, folder / "sandbox")
        try:
            out = asyncio.run(_play(sb, mp, home))
        finally:
            sb.stop_thread()
        check_spec(sb)
    return out


def test_the_merged_timeline_orders_every_source_and_computes_the_durations(story):
    merged = story["merged"]
    times = [e["time"] for e in merged["events"]]
    assert times == sorted(times)
    assert {c["source"]: (c["status"], c["events"] > 0) for c in merged["coverage"]} == {
        s: ("read", True) for s in ("pagerduty", "slack", "jira", "kubernetes", "runbook", "history")}
    assert merged["gaps"] == []
    assert {m["name"]: m["time"] for m in merged["moments"]} == {
        "started": "2026-01-02T01:20:00Z", "detected": "2026-01-02T01:46:00Z", "acknowledged": "2026-01-02T02:00:00Z",
        "mitigated": "2026-01-02T02:10:00Z", "resolved": "2026-01-02T02:30:00Z"}
    assert {x["name"]: (x["seconds"], x["text"]) for x in merged["durations"]} == {
        "time to detect": (26 * 60, "26 min"), "time to acknowledge": (14 * 60, "14 min"),
        "time to mitigate": (24 * 60, "24 min"), "time to resolve": (44 * 60, "44 min")}
    assert event_of(merged, "started")["sources"] == ["kubernetes"]
    assert event_of(merged, "detected")["sources"] == ["pagerduty"]


def test_the_acknowledgement_seen_by_pagerduty_and_said_in_slack_is_one_event_with_two_links(story):
    merged = story["merged"]
    acks = [e for e in merged["events"] if e["kind"] == "acknowledged"]
    assert len(acks) == 1
    assert acks[0]["sources"] == ["pagerduty", "slack"] and len(acks[0]["links"]) == 2
    assert "pagerduty.com" in acks[0]["links"][0] and "slack.com" in acks[0]["links"][1]
    assert acks[0]["event"] == "PagerDuty: acknowledged by Scott Idler"  # PagerDuty's word: the better witness
    assert {"pagerduty", "jira", "history"} <= set(event_of(merged, "resolved")["sources"])
    runs = [e for e in merged["events"] if "run finished" in e["event"]]
    assert len(runs) == 1 and runs[0]["sources"] == ["runbook", "history"]  # the run and its history entry


def test_each_source_gives_what_it_alone_knows(story):
    kinds = {(s, e["kind"]) for e in story["merged"]["events"] for s in e["sources"]}
    assert {("slack", "joined"), ("slack", "command"), ("slack", "report"), ("jira", "created"),
            ("kubernetes", "signal"), ("kubernetes", "change"), ("runbook", "step"), ("history", "change"),
            ("pagerduty", "status_update"), ("pagerduty", "note")} <= kinds
    note = next(e for e in story["merged"]["events"] if e["kind"] == "note" and "pagerduty" in e["sources"])
    assert note["text"].startswith("<<untrusted") and "ignore previous instructions" in note["text"]
    pd = next(s for s in story["sources"] if s.get("source") == "pagerduty")
    assert pd["minutes_since_update"] is None and pd["last_status_update"] == "2026-01-02T02:12:00Z"


def test_the_past_incident_it_repeats_is_counted_by_a_query_with_its_action_items(story):
    rec = story["merged"]["recurrence"]
    assert rec["summary"] == "2nd connection-pool incident on payments-api in 90 days (before: INC-456)"
    assert [p["id"] for p in rec["repeats"]] == ["INC-456"]
    assert [a["jira"] for a in rec["repeats"][0]["action_items"]] == ["INFRA-245", "INFRA-241"]


def test_the_post_mortem_cites_the_timeline_and_is_linked_from_the_incident(story):
    merged, saved, text, record = story["merged"], story["saved"], story["text"], story["record"]
    assert saved["path"] == "history/postmortems/2026-01/INC-789-postmortem.md"
    ack = event_of(merged, "acknowledged")["id"]
    assert f"| acknowledged | 2026-01-02 02:00:00 | {ack}: acknowledged (PagerDuty, Slack) |" in text
    assert "time to acknowledge 14 min; time to mitigate 24 min" in text
    assert f"The page was acknowledged in 14 min. [{ack}]" in text
    assert "Recurrence (computed from the history): 2nd connection-pool incident" in text
    assert "‹untrusted" not in text and "Meeting: 2026-01-03 15:00 UTC" in text
    assert plain(record["metadata"]["links"]["postmortem"]) == saved["path"]
    assert record["metadata"]["postmortem_meeting"] == "2026-01-03T15:00:00Z"
    assert [i["owner"] for i in saved["action_items"]] == ["Priya Raman", "Scott Idler"]
    assert saved["preview"][0] == "# Post-mortem: payments-api-500s: 500 errors in production"


def test_a_statement_without_a_source_is_refused_and_nothing_is_saved(story):
    assert "no source for" in story["refused"] and "summary:" in story["refused"]
    assert "is not in the timeline" in story["unknown_id"]
    assert story["after_refusals"]["entries"] == []


def test_action_item_tickets_exist_once_after_running_it_twice(story):
    mine = [i for i in story["jira"]["issues"].values() if f"postmortem-{TICKET}" in i["labels"]]
    assert len(mine) == 2
    first, second = story["tickets"][:2], story["tickets"][2:]
    assert [c for _, c in first] == [True, True] and [c for _, c in second] == [False, False]
    assert [k for k, _ in first] == [k for k, _ in second] == sorted(i["key"] for i in mine)
    for issue in mine:
        assert [lk["type"] for lk in issue["links"] if lk["key"] == TICKET] == ["Relates"]
    assert not story["saved_again"]["created"]  # saving again replaced the draft


@pytest.mark.parametrize("missing", MISSING)
def test_a_source_not_configured_is_a_named_gap_in_the_timeline_and_the_draft(story, missing):
    variant, text = story["gaps"][missing]
    gap = next(c for c in variant["coverage"] if c["source"] == missing)
    assert gap["status"] == "gap" and gap["note"].startswith(f"{NAME[missing]} not configured: ")
    assert gap["note"].endswith(" missing") and gap["note"] in variant["gaps"]
    assert not any(missing in e["sources"] for e in variant["events"])
    assert f"- {gap['note']}" in text


def test_without_pagerduty_the_moments_come_from_the_other_sources_and_say_so(story):
    variant, _ = story["gaps"]["pagerduty"]
    moments = {m["name"]: m for m in variant["moments"]}
    assert "PagerDuty not configured: pager events missing" in variant["gaps"]
    assert moments["acknowledged"]["basis"].endswith("acknowledged (Slack)")
    assert moments["resolved"]["time"] == "2026-01-02T02:30:00Z"


def test_a_source_that_is_down_leaves_its_error_as_the_gap(story):
    gap = next(c for c in story["slack_down"]["coverage"] if c["source"] == "slack")
    assert gap["status"] == "gap" and gap["note"].startswith("Slack ")
    assert gap["note"].endswith(": chat events missing") and "could not reach" in gap["note"]
