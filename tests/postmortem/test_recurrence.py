"""Similar past incidents are counted by a query over the history (same service, a shared tag, the
last 90 days before this one started), never guessed, and their action items are checked in Jira."""

from __future__ import annotations

from mcp import Client

from paii_history.config import HistorySettings
from paii_history.server import build_server

PD = {"source": "pagerduty", "since": "2026-01-02T01:50:00Z", "until": "2026-01-02T03:00:00Z",
      "events": [{"time": "2026-01-02T02:00:00Z", "source": "pagerduty", "kind": "triggered", "event": "PagerDuty: triggered"}]}


async def _record(c: Client, id_: str, service: str, started: str, tags: list[str]) -> None:
    result = await c.call_tool("record_incident", {
        "id": id_, "title": f"{service}: {id_}", "service": service, "severity": "SEV2", "status": "resolved",
        "started": started, "resolved": started.replace("T02:", "T03:"), "root_cause": "connection pool exhausted",
        "tags": tags})
    assert not result.is_error, result.content


async def test_the_third_repeat_in_the_window_is_counted_and_older_or_other_services_are_not(tmp_path):
    server = build_server(HistorySettings.load(home=tmp_path, warmup=False))
    async with Client(server) as c:
        await _record(c, "INC-100", "payments-api", "2025-08-01T02:00:00Z", ["connection-pool"])  # over 90 days before
        await _record(c, "INC-200", "payments-api", "2025-11-10T02:00:00Z", ["connection-pool", "db"])
        await _record(c, "INC-300", "ledger-api", "2025-12-01T02:00:00Z", ["connection-pool"])  # another service
        await _record(c, "INC-400", "payments-api", "2025-12-20T02:00:00Z", ["connection-pool"])
        await _record(c, "INC-500", "payments-api", "2025-12-28T02:00:00Z", ["disk"])  # no shared tag
        await _record(c, "INC-600", "payments-api", "2026-01-02T02:00:00Z", ["connection-pool", "db"])
        out = (await c.call_tool("get_timeline", {"incident_id": "INC-600", "sources": [PD]})).structured_content
    rec = out["recurrence"]
    assert rec["summary"] == "3rd connection-pool incident on payments-api in 90 days (before: INC-400, INC-200)"
    assert sorted(p["id"] for p in rec["repeats"]) == ["INC-200", "INC-400"]


async def test_without_a_record_nothing_is_counted_and_the_note_says_what_to_do(tmp_path):
    server = build_server(HistorySettings.load(home=tmp_path, warmup=False))
    async with Client(server) as c:
        out = (await c.call_tool("get_timeline", {"incident_id": "INC-999", "sources": [PD]})).structured_content
    assert out["recurrence"]["summary"] is None and "record_incident" in out["recurrence"]["note"]


async def test_the_repeats_action_items_are_checked_by_their_jira_tickets(desk):
    async with desk() as d:
        await d.call("history", "record_incident", id="INC-789", title="payments-api-500s", service="payments-api",
                     severity="SEV1", status="resolved", started="2026-01-02T01:58:00Z", resolved="2026-01-02T02:30:00Z",
                     root_cause="connection pool exhausted by the settlement batch", tags=["connection-pool"])
        merged = await d.call("history", "get_timeline", incident_id="INC-789", sources=[PD])
        items = merged["recurrence"]["repeats"][0]["action_items"]
        keys = [i["jira"] for i in items]
        found = await d.call("jira", "search_issues", jql=f"key in ({', '.join(keys)})")
    status = {i["key"]: i["status"] for i in found["issues"]}
    assert status == {"INFRA-245": "In Progress", "INFRA-241": "Done"}  # the pool alert after INC-456 is not done
