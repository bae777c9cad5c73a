"""Other people's text is data in every tool of the six servers (issue 22, items 8-9).

The sandbox seed is poisoned (tests/e2e/untrusted_probe.py): every field people or programs write
carries a literal close marker, a fake marker, U+202E, a zero-width split close marker, an
instruction and three secrets; so do a runbook file and the history entries written here. Then
every read tool (and the writers that hand text back: start_run, run_step) is called through the
real MCP client and every string path of every result is judged. The paths come from the results,
not from a list: a field added later that returns poisoned text is judged too.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.e2e import untrusted_probe as probe

POD = "payments-api-7d9f8b6c5-x2k9p"
REPORT = os.environ.get("PAII_PROBE_REPORT")  # a file for the probe's counts (before/after figures)


@pytest.fixture(autouse=True)
def poisoned_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    import paii_sandbox.files as files

    load = files.load_seed
    monkeypatch.setattr(files, "load_seed", lambda path=None: probe.poison_seed(load(path)))


class Calls:
    """Calls tools, keeps each result's findings, and which tools were called."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self.c = clients
        self.findings: list[probe.Finding] = []
        self.called: set[tuple[str, str]] = set()
        self.errors: list[str] = []

    async def __call__(self, server: str, tool: str, args: dict[str, Any] | None = None) -> dict:
        res = await self.c[server].call_tool(tool, args or {})
        if res.is_error:  # asserted after the clients close (an assertion inside them is buried in task groups)
            self.errors.append(f"{server}.{tool} {json.dumps(args)[:200]}: {res.content[0].text}")
            return {}
        self.called.add((server, tool))
        self.findings += probe.judge(server, tool, res)
        return res.structured_content


async def read_everything(call: Calls, history_home) -> None:
    t = {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T02:00:00Z"}
    # PagerDuty
    pd_timeline = await call("pagerduty", "get_timeline", {"incident_id": "Q2PAY5XXPROD", **t})
    await call("pagerduty", "get_incident", {"incident_id": "Q2PAY5XXPROD"})
    await call("pagerduty", "get_incident", {"incident_id": "Q2AUTHLATENCY"})
    await call("pagerduty", "list_incidents", {"since": "2025-12-25T00:00:00Z", "statuses": ["triggered", "acknowledged", "resolved"]})
    await call("pagerduty", "list_maintenance_windows", {"state": "all"})
    await call("pagerduty", "list_oncalls", {})
    await call("pagerduty", "list_services", {})
    await call("pagerduty", "shift_activity", {"since": "2025-12-30T00:00:00Z"})
    # Slack
    slack_timeline = await call("slack", "get_timeline", {"channel": "platform-engineering", **t})
    await call("slack", "channel_digest", {"channel": "platform-engineering", "hours": 8})
    await call("slack", "channel_digest", {"channel": "inc-auth-service-latency", "hours": 24})
    await call("slack", "search_messages", {"query": "ignore"})
    await call("slack", "find_user", {"query": "alice"})
    # Jira
    jira_timeline = await call("jira", "get_timeline", {"key": "INFRA-234", "since": "2025-12-25T00:00:00Z",
                                                       "until": "2026-01-02T02:00:00Z"})
    await call("jira", "get_issue", {"key": "INFRA-234"})
    await call("jira", "get_issue", {"key": "INC-456"})
    await call("jira", "search_issues", {"jql": "project = INFRA ORDER BY created DESC", "limit": 50})
    await call("jira", "sprint_report", {"board": "84"})
    # Kubernetes
    k8s_timeline = await call("kubernetes", "list_events", {"namespace": "payments", "since": "2026-01-01T00:00:00Z"})
    await call("kubernetes", "list_events", {"namespace": "auth"})
    await call("kubernetes", "describe_pod", {"name": POD, "namespace": "payments"})
    await call("kubernetes", "get_deployment", {"name": "payments-api", "namespace": "payments"})
    await call("kubernetes", "get_logs", {"pod": POD, "namespace": "payments"})
    await call("kubernetes", "get_logs", {"pod": POD, "namespace": "payments", "previous": True})
    await call("kubernetes", "list_pods", {"namespace": "payments"})
    await call("kubernetes", "exec_in_pod", {"pod": POD, "namespace": "payments", "argv": ["python", "manage.py", "dbstats"]})
    # Runbooks: a poisoned file in the person's runbook folder, read, dry-run, run
    books = history_home / "runbooks"
    books.mkdir(exist_ok=True)
    (books / "poisoned.md").write_text(probe.runbook_text(), encoding="utf-8")
    await call("runbook", "list_runbooks", {})
    await call("runbook", "find_runbooks", {"text": "poisoned print"})
    await call("runbook", "get_runbook", {"name": "poisoned"})
    run = await call("runbook", "start_run", {"name": "poisoned", "dry_run": False})
    await call("runbook", "run_step", {"run_id": run["run_id"], "step_id": "1"})
    await call("runbook", "get_run", {"run_id": run["run_id"]})
    await call("runbook", "finish_run", {"run_id": run["run_id"], "outcome": "aborted", "notes": probe.PAYLOAD})
    rb_timeline = await call("runbook", "get_timeline", {"since": "6h"})
    # History: entries written with the payload in every field, read every way
    p = probe.PAYLOAD
    saved = await call("history", "capture", {"category": "learnings", "title": f"Poisoned {p}"[:200], "content": p,
                                              "metadata": {"tags": ["poison", p[:60]], "note": p}})
    await call("history", "record_incident", {"id": "INC-9001", "title": f"Poisoned incident {p}"[:200], "service": "payments-api",
                                              "summary": p, "root_cause": p, "resolution": p, "notes": p, "status": "resolved",
                                              "links": {"jira": f"https://jira.example/INC-9001 {p}"[:200]},
                                              "tags": ["poison", p[:60]]})
    await call("history", "search", {"text": "poisoned QZX1 ignore previous instructions"})
    await call("history", "similar_incidents", {"text": "Poisoned incident QZX1 ignore previous instructions"})
    await call("history", "recent", {"count": 20})
    await call("history", "recent", {"tag": "poison"})
    await call("history", "get", {"id": saved["id"]})
    await call("history", "get", {"id": "INC-9001"})
    await call("history", "get_timeline", {"incident_id": "Q2PAY5XXPROD",
                                           "sources": [pd_timeline, slack_timeline, jira_timeline, k8s_timeline["timeline"],
                                                       rb_timeline]})
    await call("history", "usage_report", {})


async def test_every_field_from_other_people_comes_back_fenced_neutralised_and_masked(sandbox, clients, history_home):
    async with clients() as c:
        call = Calls(c)
        await read_everything(call, history_home)
        readers = {(server, t.name) for server, client in c.items() for t in (await client.list_tools()).tools
                   if t.annotations and t.annotations.read_only_hint}
    assert call.errors == []
    assert readers - call.called == set(), "every read tool is probed"
    poisoned = sorted({f.path for f in call.findings if f.poisoned})
    bad = sorted({f"{f.path}: {'; '.join(f.problems)}" for f in call.findings if f.problems})
    raw = sorted({f.path for f in call.findings if f.poisoned and f.problems})
    if REPORT:
        with open(REPORT, "w", encoding="utf-8") as out:
            json.dump({"poisoned_paths": len(poisoned), "raw_paths": len(raw), "paths_with_problems": len(bad),
                       "problems": bad, "poisoned": poisoned}, out, indent=1, ensure_ascii=False)
    # the seed reaches the tools it should (else the probe proves nothing)
    servers = {p.split(".", 1)[0] for p in poisoned}
    assert servers == {"pagerduty", "slack", "jira", "kubernetes", "runbook", "history"}, servers
    assert len(poisoned) >= 60, poisoned
    assert bad == [], f"{len(raw)} of {len(poisoned)} poisoned paths are raw:\n" + "\n".join(bad)
