"""Runbooks against the whole sandbox world, through PAII's MCP servers.

The dry run the demo shows (scenarios/runbook.yaml); the approved, real failover of the shipped
database-failover runbook (psql and kubectl through the sandbox's Postgres stand-ins, step 11's
k8s_exec through the sandbox's Kubernetes exec WebSocket), then the documentation ticket the
runbook skill offers after a run; and the payments-api health check, whose pool step finds the
incident and which passes whole once the pods are restarted.
"""

from __future__ import annotations

import json
from pathlib import Path

from mcp_types import ElicitResult

from paii_sandbox import renderers, scenario
from paii_sandbox.services.postgres import dump as postgres_dump

from tests.e2e.conftest import NOW_ISO, state

TARGET = {"target": "primary-postgres"}


async def call(c, name: str, args: dict) -> dict:
    res = await c.call_tool(name, args)
    assert not res.is_error, f"{name}: {res.content[0].text}"
    return res.structured_content


async def test_the_dry_run_shows_preflight_warnings_approvals_and_each_argv_and_runs_nothing(sandbox, clients):
    async with clients() as c:
        run = await scenario.run(scenario.load("runbook"), c, now=NOW_ISO)
    report = renderers.render(run)
    assert not run.failed
    plan = run.data("plan")
    assert plan["dry_run"] and plan["approvals_needed"] == ["5", "9", "12"] and len(plan["plan"]) == 12
    assert plan["last_executed"]["when"] == "2025-11-15" and plan["last_executed"]["by"] == "Alice"  # examples/runbooks.jsonl
    assert "⚠️ This runbook has 12 steps and affects production." in report
    assert "Last executed: 2025-11-15 (by Alice, completed)" in report
    assert "✓ Replica lag: 0.2" in report and "✓ Active connections (will be migrated): 234" in report
    assert "⚠️ Maintenance window: not currently in a maintenance window" in report
    assert '$ psql -X -At -h replica-postgres-01 -U postgres -d postgres -c "SELECT pg_promote(true, 60)"' in report
    assert "5. Promote the replica   [approval required, changes something]" in report
    assert "Proceed with the failover? (This will require approval for steps 5, 9 and 12)" in report
    pg = postgres_dump(state(sandbox, "postgres"))
    assert pg["servers"]["primary-postgres"]["read_only"] is False and pg["servers"]["replica-postgres-01"]["role"] == "replica"
    assert [e.path for e in sandbox.world.requests("postgres")] == ["/v1/psql"] * 5  # the five preflight reads only


async def test_the_approved_failover_runs_end_to_end_and_the_offered_ticket_documents_it_once(sandbox, clients, history_home):
    asked: list[str] = []

    async def person(context, params):  # the person at the client's prompt: yes to each step shown
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    async with clients(person=person) as c:
        rb = c["runbook"]
        run = await call(rb, "start_run", {"name": "database-failover", "parameters": TARGET, "dry_run": False})
        rid, results = run["run_id"], {}
        for n in range(1, 13):
            sid = str(n)
            results[sid] = await call(rb, "run_step", {"run_id": rid, "step_id": sid})
            assert results[sid]["status"] == "passed", results[sid]
        done = await call(rb, "finish_run", {"run_id": rid, "outcome": "completed", "notes": "failover drill"})

        # "Shall I create a Jira ticket documenting this failover?" - yes (asked twice: one ticket)
        ticket_args = {
            "summary": "Database failover primary-postgres -> replica-postgres-01 (completed)", "issue_type": "Task",
            "labels": ["runbook", "database-failover"], "dedupe_key": rid,
            "description": f"Runbook database-failover on primary-postgres: completed, {done['steps']['passed']} of 12 steps.\n\n"
                           f"- Record: {done['recorded']} (history entry {rid})\n- Approvals: steps 5, 9 and 12",
        }
        first = await call(c["jira"], "create_issue", ticket_args)
        again = await call(c["jira"], "create_issue", ticket_args)

    assert results["2"]["observed"] == ["12", "8", "3", "0"]
    assert [m.split(":")[0] for m in asked] == ["Approve step 5 of runbook database-failover",
                                               "Approve step 9 of runbook database-failover",
                                               "Confirm you did step 12 of runbook database-failover"]
    assert results["5"]["approval"]["via"].startswith("elicitation (") and results["5"]["approval"]["expires"]
    assert results["11"]["pod"] == "payments-api-7d9f8b6c5-m4n7q" and "Active connections" in results["11"]["output"]
    pg = postgres_dump(state(sandbox, "postgres"))
    assert pg["servers"]["replica-postgres-01"]["role"] == "primary" and pg["servers"]["primary-postgres"]["read_only"] is True
    assert pg["endpoints"] == {"payments/postgres-primary": "replica-postgres-01"}
    assert "settlement-batch    62" in results["11"]["output"]  # the sandbox cluster's answer, over its exec WebSocket
    assert done["recorded"] == f"history/runbooks/2026-01/{rid}.md" and (history_home / done["recorded"]).is_file()

    assert first["created"] and not again["created"] and again["key"] == first["key"]
    tickets = [i for i in state(sandbox, "jira")["issues"].values() if f"paii-{rid}" in i["labels"]]
    assert len(tickets) == 1 and tickets[0]["type"] == "Task" and tickets[0]["project"] == "INC"
    assert done["recorded"] in json.dumps(tickets[0]["description"])


async def test_the_health_check_flags_the_pool_and_passes_whole_after_the_restart(sandbox, clients):
    async def health(rb) -> dict[str, dict]:
        run = await call(rb, "start_run", {"name": "payments-api-health-check", "dry_run": False})
        out = {}
        for step in run["plan"]:
            res = await rb.call_tool("run_step", {"run_id": run["run_id"], "step_id": step["id"]})
            out[step["id"]] = res.structured_content if not res.is_error else {"status": "error", "text": res.content[0].text}
            if out[step["id"]].get("status") == "failed":  # the person chose to skip it and go on
                await call(rb, "run_step", {"run_id": run["run_id"], "step_id": step["id"], "choice": "skip"})
        await call(rb, "finish_run", {"run_id": run["run_id"], "outcome": "completed"})
        return out

    async with clients() as c:
        before = await health(c["runbook"])
        restarted = await call(c["kubernetes"], "restart_deployment", {"name": "payments-api", "namespace": "payments", "timeout": 30})
        after = await health(c["runbook"])
    assert {sid: r["status"] for sid, r in before.items()} == {"1": "passed", "2": "passed", "3": "passed", "4": "passed",
                                                                "5": "failed", "6": "passed"}
    assert before["5"]["value"] == "98" and before["6"]["value"] == "31"
    assert restarted["complete"]
    assert {r["status"] for r in after.values()} == {"passed"}, after
    assert after["5"]["value"] == "12" and after["6"]["value"] == "0"
    assert not Path("bin/psql").exists()  # the stand-ins went to the sandbox's own folder, not the checkout
