"""Runbooks against the whole sandbox world, through PAII's MCP servers.

The demo's scenario (scenarios/runbook.yaml): the dry run, then the approved failover of the
sandbox's real PostgreSQL pair, with the person answering the runbook server's approval prompts
(MCP elicitation); afterwards the databases themselves are asked what happened, and the Jira
ticket the runbook skill offers documents the run once. And the payments-api health check, whose
pool step reads the real pool and passes whole once the pods are restarted.
"""

from __future__ import annotations

from paii_common.untrusted import unmark

import json
import time
from pathlib import Path

from mcp import types

from paii_sandbox import renderers, scenario
from paii_sandbox.admin import status

from tests.e2e.conftest import NOW_ISO, state
from tests.pgreal import needs_postgres, sql, sql_error

TARGET = {"target": "primary-postgres"}


async def call(c, name: str, args: dict) -> dict:
    res = await c.call_tool(name, args)
    assert not res.is_error, f"{name}: {res.content[0].text}"
    return res.structured_content


def the_person(seen: list[str]):
    """The person at the approval prompt: yes to each, every yes/no field ticked."""

    async def answer(context, params):
        seen.append(params.message)
        fields = (params.requested_schema or {}).get("properties", {})
        return types.ElicitResult(action="accept", content={k: True for k, v in fields.items() if v.get("type") == "boolean"})

    return answer


@needs_postgres
async def test_the_approved_failover_moves_the_real_primary_and_the_databases_confirm_it(sandbox, clients, history_home,
                                                                                          monkeypatch):
    pg = status(sandbox)["postgres"]
    before = sql(pg["primary"]["app_dsn"], "INSERT INTO ledger (batch_id, account, amount_cents) VALUES (0, 'before-failover', "
                                           "4200) RETURNING id")[0][0]
    sandbox.world.clock_since = time.time()  # the clocks move on from 02:00, so the run takes as long as it took
    monkeypatch.setenv("PAII_NOW_SINCE", f"{sandbox.world.clock_since:.3f}")
    seen: list[str] = []
    async with clients(prompts={"runbook": the_person(seen)}) as c:
        run = await scenario.run(scenario.load("runbook"), c, now=NOW_ISO)
        report = renderers.render(run)

        # "Shall I create a Jira ticket documenting this failover?" - yes (asked twice: one ticket)
        done, rid = run.data("finish"), run.data("run")["run_id"]
        ticket_args = {
            "summary": "Database failover primary-postgres -> replica-postgres-01 (completed)", "issue_type": "Task",
            "labels": ["runbook", "database-failover"], "dedupe_key": rid,
            "description": f"Runbook database-failover on primary-postgres: completed, {done['steps']['passed']} of 12 steps.\n\n"
                           f"- Record: {done['recorded']} (history entry {rid})\n- Approvals: steps 5 and 9; step 12 confirmed",
        }
        first = await call(c["jira"], "create_issue", ticket_args)
        again = await call(c["jira"], "create_issue", ticket_args)

    assert not run.failed, [o.error for o in run.failed]
    # what the databases say, not what the run reported
    assert sql(pg["standby"]["dsn"], "SELECT pg_is_in_recovery()") == [[False]]
    assert "read-only transaction" in sql_error(pg["primary"]["app_dsn"], "INSERT INTO ledger (batch_id, account, amount_cents) "
                                                                          "VALUES (0, 'split', 1)")
    assert sql(pg["standby"]["app_dsn"], "SELECT account FROM ledger WHERE id = :id", id=before) == [["before-failover"]]
    assert sql(pg["standby"]["app_dsn"], "INSERT INTO ledger (batch_id, account, amount_cents) VALUES (0, 'after', 1) "
                                         "RETURNING account") == [["after"]]
    assert status(sandbox)["postgres"]["service"] == {"payments/postgres-primary": "replica-postgres-01"}

    # the person was asked for steps 5 and 9 and confirmed step 12; nothing else asked them
    assert [m.splitlines()[0].split(":")[0] for m in seen] == [
        "Approve step 5 of runbook database-failover", "Approve step 9 of runbook database-failover",
        "Confirm you did step 12 of runbook database-failover"]
    steps = {r["step"]: r for r in run.data("steps")}
    assert steps["5"]["approval"]["via"].startswith("elicitation")
    assert int(steps["10"]["value"]) >= 100  # payments-api's pool, terminated on the old primary
    assert "Active connections: 12/100" in steps["11"]["output"] and "Database: payments on replica-postgres-01" in steps["11"]["output"]
    lsn = json.loads(steps["3"]["output"].split("\n")[1])
    assert lsn["caught_up"] is True and lsn["primary_lsn"] == lsn["replica_lsn"]
    assert done["duration_s"] > 0 and done["recorded"] == f"history/runbooks/2026-01/{rid}.md"
    assert (history_home / done["recorded"]).is_file()

    assert "✓ Target is the primary: yes" in report and "✓ Replica is a streaming standby: yes" in report
    assert "Proceed with the failover? (This will require approval for steps 5 and 9; step 12 you do by hand and confirm)" in report
    assert "✅ FAILOVER COMPLETE" in report and "  New primary: replica-postgres-01 (accepts writes: step 7)" in report
    assert f"  Connections migrated: {steps['10']['value']}" in report
    assert f"  Data loss: None (writes stopped and drained; the replica had replayed to the primary's last WAL position {lsn['primary_lsn']}" in report
    assert "📝 Execution recorded to history/runbooks/2026-01/" in report

    assert first["created"] and not again["created"] and again["key"] == first["key"]
    tickets = [i for i in state(sandbox, "jira")["issues"].values() if f"paii-{rid}" in i["labels"]]
    assert len(tickets) == 1 and tickets[0]["type"] == "Task" and tickets[0]["project"] == "INC"
    assert done["recorded"] in json.dumps(tickets[0]["description"])


@needs_postgres
async def test_the_dry_run_reads_the_real_pair_and_runs_nothing(sandbox, clients):
    pg = status(sandbox)["postgres"]
    async with clients() as c:
        plan = await call(c["runbook"], "start_run", {"name": "database-failover", "parameters": TARGET, "dry_run": True})
    checks = {unmark(p["name"]): p for p in plan["preflight"]}  # names: the runbook's text, marked
    assert all(p["passed"] for p in checks.values()), checks
    assert checks["Target is the primary"]["value"] == "yes" and checks["Active connections (will be migrated)"]["value"] == "100"
    assert 0 <= float(checks["Disk space used (%)"]["value"]) < 85  # df of the disk holding the primary's data
    assert plan["last_executed"]["when"] == "2025-11-15" and plan["last_executed"]["by"] == "Alice"  # examples/runbooks.jsonl
    assert sql(pg["primary"]["dsn"], "SHOW default_transaction_read_only") == [["off"]]
    assert sql(pg["standby"]["dsn"], "SELECT pg_is_in_recovery()") == [[True]]


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
    assert not Path("bin/psql").exists()  # the wrapper went to the sandbox's own folder, not the checkout
