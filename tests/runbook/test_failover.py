"""The shipped database-failover runbook, not a dry run, against the sandbox's Postgres pair.

The same runbook with real psql/kubectl command lines; the sandbox's shims answer them. Step 5
is approved at the person's terminal (`paii runbook approve` in a pseudo-terminal), steps 9 and
12 at the client's prompt (MCP elicitation); the record says who approved what, how and when.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

from mcp import Client
from mcp_types import ElicitResult

from paii_runbook.config import RunbookSettings
from paii_runbook.engine import Engine
from paii_runbook.server import build_server
from paii_sandbox.services.postgres import dump
from tests.runbook.fakes import FastExecutor
from tests.runbook.terminal import at_terminal

ROOT = Path(__file__).resolve().parents[2]
FRIDAY_2AM = dt.datetime(2026, 1, 2, 2, 0, tzinfo=dt.UTC)


def seed_past_run(home: Path, tmp: Path) -> None:
    """The run Alice did on 2025-11-15, as another install's export would bring it."""
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    line = {"id": "database-failover-20251115-031200-a11c", "title": "Runbook database-failover on primary-postgres: completed",
            "body": "Failover for the storage migration.", "created": "2025-11-15T03:12:00Z", "runbook": "database-failover",
            "run_id": "database-failover-20251115-031200-a11c", "operator": "Alice", "outcome": "completed", "dry_run": False}
    path = tmp / "past.jsonl"
    path.write_text(json.dumps(line) + "\n")
    HistoryStore(HistorySettings.load(home=home, warmup=False)).import_jsonl(path, "runbooks")


def terminal_approve(home: Path, books: str, run_id: str, step: str, answer: str) -> tuple[int, str]:
    """`paii runbook approve RUN STEP` in the person's terminal window (its own process and pty)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "servers"), "PAII_HOME": str(home), "PAII_RUNBOOK_OPERATOR": "alice",
           "PAII_HISTORY_EMBEDDINGS": "off", **({"PAII_RUNBOOK_PATH": books} if books else {})}
    return at_terminal([sys.executable, "-m", "paii_cli", "runbook", "approve", run_id, step], env, answer)


async def call(c, name, args):
    res = await c.call_tool(name, args)
    assert not res.is_error, res.content[0].text
    return res.structured_content


async def test_the_full_failover_runs_against_the_sandbox_with_the_persons_approvals(isolated_env, tmp_path, postgres, h):
    seed_past_run(isolated_env, tmp_path)
    settings = RunbookSettings.load(home=isolated_env, bin_dirs=postgres.env["PAII_RUNBOOK_BIN_DIRS"], operator="alice")
    engine = Engine(settings, FastExecutor(settings, h.k8s), now=lambda: FRIDAY_2AM)
    target = {"target": "primary-postgres"}
    asked: list[str] = []

    async def person(context, params):  # the person at the client's prompt: yes
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    async with Client(build_server(settings, engine=engine), mode="legacy", elicitation_callback=person) as c:
        dry = await call(c, "start_run", {"name": "database-failover", "parameters": target})
        assert [(p["name"], p["passed"], p["value"]) for p in dry["preflight"]] == [
            ("Replica lag", True, "0.2"), ("Disk space used (%)", True, "45"), ("Active connections (will be migrated)", True, "234"),
            ("Target is the primary", True, "f"), ("Replica is a standby", True, "t")]
        assert dry["warnings"] == ["Maintenance window: not currently in a maintenance window (next: Sat 2026-01-03 02:00-04:00 UTC)"]
        assert dry["last_executed"]["when"] == "2025-11-15" and dry["last_executed"]["by"] == "Alice"
        assert dry["approvals_needed"] == ["5", "9", "12"] and dry["steps_total"] == 12
        assert dump(postgres.state)["servers"]["primary-postgres"]["read_only"] is False  # the dry run changed nothing

        run = await call(c, "start_run", {"name": "database-failover", "parameters": target, "dry_run": False})
        rid, results = run["run_id"], {}
        for n in range(1, 13):
            sid = str(n)
            if sid == "5":  # the person approves at their terminal before the prompt would ask
                code, shown = terminal_approve(isolated_env, "", rid, sid, "y\n")
                assert code == 0, shown
                assert "$ psql -X -At -h replica-postgres-01 -U postgres -d postgres -c 'SELECT pg_promote(true, 60)'" in shown
            results[sid] = await call(c, "run_step", {"run_id": rid, "step_id": sid})
            assert results[sid]["status"] == "passed", results[sid]
        done = await call(c, "finish_run", {"run_id": rid, "outcome": "completed", "notes": "failover drill"})
        again = await call(c, "start_run", {"name": "database-failover", "parameters": target})

    assert results["2"]["observed"] == ["12", "8", "3", "0"]
    assert results["3"]["observed"] == ["false", "true"] and '"replica_lsn" : "0/5A000060"' in results["3"]["output"]
    assert results["5"]["approval"]["via"] == "paii runbook approve (terminal)"
    assert results["9"]["approval"]["via"].startswith("elicitation (")
    assert [m.split(":")[0] for m in asked] == ["Approve step 9 of runbook database-failover",
                                               "Confirm you did step 12 of runbook database-failover"]
    assert results["10"]["value"] == "234" and results["11"]["pod"] == "payments-api-7d9f-abcde"
    world = dump(postgres.state)
    assert world["servers"]["replica-postgres-01"]["role"] == "primary"
    assert world["servers"]["replica-postgres-01"]["connections"] == 234
    assert world["servers"]["primary-postgres"]["read_only"] is True
    assert world["endpoints"] == {"payments/postgres-primary": "replica-postgres-01"}
    assert done["steps"] == {"passed": 12} and done["recorded"] == f"history/runbooks/{dt.date.today():%Y-%m}/{rid}.md"
    body = (isolated_env / done["recorded"]).read_text()
    assert "Approved by alice via paii runbook approve (terminal)" in body and "Observed: 12 -> 8 -> 3 -> 0" in body
    assert "Command: kubectl --namespace payments patch service postgres-primary" in body
    assert again["last_executed"]["run_id"] == rid and again["last_executed"]["by"] == "alice"


def test_an_approval_refused_at_the_terminal_is_recorded_and_the_step_stays_closed(isolated_env, h):
    """The real `paii` command in its own terminal: the person answers no."""
    h.book("gate", "---\ntitle: Gate\ndescription: d\n---\n## Step 1: Touch\n```yaml\nrun: [touch, /nonexistent/x]\n"
                   "timeout: 5\napproval: required\n```\n")
    gate = h.engine.start("gate", {}, dry_run=False)
    code, shown = terminal_approve(isolated_env, str(h.books), gate.run_id, "1", "n\n")
    assert code == 1 and "not approved (recorded)" in shown
    assert "Step 1: Touch\n  $ touch /nonexistent/x" in shown
    st = h.engine.runs.load(gate.run_id)
    assert st["approvals"] == [] and st["events"][-1]["kind"] == "refused"
    assert st["events"][-1]["via"] == "paii runbook approve (terminal)" and st["events"][-1]["by"] == "alice"
