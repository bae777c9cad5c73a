"""The shipped database-failover runbook, not a dry run: against the sandbox's stand-in (where no
PostgreSQL can be had) and, for a refused promotion and its rollback, against the real pair.

The same runbook with real psql/kubectl command lines. The person answers the approval prompts
(MCP elicitation); the record says who approved what, how and when. The approved failover of
the real pair end to end is tests/e2e/test_runbook.py.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import sys
from pathlib import Path

import pytest
from mcp import Client

from paii_common.untrusted import unmark
from paii_runbook.config import RunbookSettings
from paii_runbook.engine import Engine
from paii_runbook.server import build_server
from paii_sandbox.services.postgres import dump
from tests.pgreal import needs_postgres, sql
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


def cli_approve(monkeypatch, capsys, run_id: str, step: str, answer: str) -> tuple[int, str]:
    """`paii runbook approve RUN STEP` as the person types it (in this process; a subprocess test is below)."""
    from paii_cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(answer))
    monkeypatch.setenv("PAII_RUNBOOK_OPERATOR", "alice")
    with pytest.raises(SystemExit) as stop:
        main(["runbook", "approve", run_id, step])
    return stop.value.code, capsys.readouterr().out


async def call(c, name, args):
    res = await c.call_tool(name, args)
    assert not res.is_error, res.content[0].text
    return res.structured_content


def asked(seen: list[str], decline: str | None = None):
    """The person at Claude Code's prompt: yes to each approval, no to the one whose text has ``decline``."""
    from mcp.types import ElicitResult

    async def callback(context, params):
        seen.append(params.message)
        if decline and decline in params.message:
            return ElicitResult(action="decline")
        fields = (params.requested_schema or {}).get("properties", {})
        return ElicitResult(action="accept", content={k: True for k, v in fields.items() if v.get("type") == "boolean"})

    return callback


def ticking(start: dt.datetime):
    """A clock that moves one second per reading (a run's duration without waiting for it)."""
    n = iter(range(10**6))
    return lambda: start + dt.timedelta(seconds=next(n))


async def test_the_full_failover_runs_against_the_stand_in_with_the_persons_answers_at_the_prompts(isolated_env, tmp_path,
                                                                                                  postgres, h):
    """Where no PostgreSQL can be had the same runbook runs against the stand-in, step by step."""
    seed_past_run(isolated_env, tmp_path)
    settings = RunbookSettings.load(home=isolated_env, bin_dirs=postgres.env["PAII_RUNBOOK_BIN_DIRS"], operator="alice")
    engine = Engine(settings, FastExecutor(settings, h.k8s), now=ticking(FRIDAY_2AM))
    target, seen = {"target": "primary-postgres"}, []
    async with Client(build_server(settings, engine=engine), mode="legacy", elicitation_callback=asked(seen)) as c:
        dry = await call(c, "start_run", {"name": "database-failover", "parameters": target})
        assert [(unmark(p["name"]), p["passed"], p["value"]) for p in dry["preflight"]] == [
            ("Replica lag (s)", True, "0.2"), ("Disk space used (%)", True, "45"),
            ("Active connections (will be migrated)", True, "100"), ("Target is the primary", True, "yes"),
            ("Replica is a streaming standby", True, "yes")]
        assert dry["warnings"] == ["Maintenance window: not currently in a maintenance window (next: Sat 2026-01-03 02:00-04:00 UTC)"]
        assert dry["last_executed"]["when"] == "2025-11-15" and dry["last_executed"]["by"] == "Alice"
        assert [s["id"] for s in dry["plan"] if s["approval"] and s["kind"] != "manual"] == ["5", "9"]
        assert [s["id"] for s in dry["plan"] if s["kind"] == "manual"] == ["12"]
        assert dump(postgres.state)["standin"]["servers"]["primary-postgres"]["read_only"] is False  # the dry run changed nothing

        run = await call(c, "start_run", {"name": "database-failover", "parameters": target, "dry_run": False})
        rid, results = run["run_id"], {}
        for n in range(1, 13):
            results[str(n)] = await call(c, "run_step", {"run_id": rid, "step_id": str(n)})
            assert results[str(n)]["status"] == "passed", results[str(n)]
        done = await call(c, "finish_run", {"run_id": rid, "outcome": "completed", "notes": "failover drill"})
        again = await call(c, "start_run", {"name": "database-failover", "parameters": target})

    assert [m.splitlines()[0] for m in seen] == [
        "Approve step 5 of runbook database-failover: Promote the replica",
        "Approve step 9 of runbook database-failover: Point the service endpoint at the new primary",
        "Confirm you did step 12 of runbook database-failover: Update monitoring dashboards"]
    assert "$ psql -X -At -h replica-postgres-01 -U postgres -d postgres -c 'SELECT pg_promote(true, 60)'" in seen[0]
    assert results["2"]["observed"] == ["12", "8", "3", "0"]
    assert results["3"]["observed"] == ["false", "true"] and '"replica_lsn" : "0/5A000060"' in results["3"]["output"]
    assert results["5"]["approval"]["by"] == "alice" and results["5"]["approval"]["via"].startswith("elicitation")
    assert results["10"]["value"] == "100" and results["11"]["pod"] == "payments-api-7d9f-abcde"
    world = dump(postgres.state)
    assert world["standin"]["servers"]["replica-postgres-01"]["role"] == "primary"
    assert world["standin"]["servers"]["replica-postgres-01"]["connections"] == 100
    assert world["standin"]["servers"]["primary-postgres"]["read_only"] is True
    assert world["endpoints"] == {"payments/postgres-primary": "replica-postgres-01"}
    assert done["steps"] == {"passed": 12} and done["duration_s"] > 0
    assert done["recorded"] == f"history/runbooks/{dt.date.today():%Y-%m}/{rid}.md"  # the history's clock is real here
    body = (isolated_env / done["recorded"]).read_text()
    assert "Observed: 12 -> 8 -> 3 -> 0" in body and "Command: kubectl --namespace payments patch service postgres-primary" in body
    assert again["last_executed"]["run_id"] == rid and again["last_executed"]["by"] == "alice"


@needs_postgres
async def test_a_promotion_the_person_declines_does_not_run_and_the_rollback_turns_the_real_primary_writable(isolated_env,
                                                                                                          monkeypatch):
    """Against the real pair: read-only is on and drained, the person says no to the promotion, the
    rollback (approved) turns writes back on; the standby never left recovery."""
    from paii_sandbox.admin import status
    from tests.e2e.conftest import NoSleepExecutor
    from tests.runbook.test_postgres_sandbox import start_sandbox

    sb = start_sandbox([])
    try:
        for key, value in sb.env().items():
            monkeypatch.setenv(key, value)
        pg = status(sb)["postgres"]
        settings = RunbookSettings.load(home=isolated_env, operator="alice")
        seen: list[str] = []
        async with Client(build_server(settings, NoSleepExecutor.make(settings)), mode="legacy",
                          elicitation_callback=asked(seen, decline="step 5 ")) as c:
            run = await call(c, "start_run", {"name": "database-failover", "parameters": {"target": "primary-postgres"},
                                              "dry_run": False})
            for n in range(1, 5):
                res = await call(c, "run_step", {"run_id": run["run_id"], "step_id": str(n)})
                assert res["status"] == "passed", res
            assert sql(pg["primary"]["dsn"], "SHOW default_transaction_read_only") == [["on"]]
            refused = await c.call_tool("run_step", {"run_id": run["run_id"], "step_id": "5"})
            assert refused.is_error and "the person declined step 5" in refused.content[0].text
            back = await call(c, "run_step", {"run_id": run["run_id"], "step_id": "re-enable-writes"})
            done = await call(c, "finish_run", {"run_id": run["run_id"], "outcome": "rolled_back"})
        assert back["status"] == "passed" and done["outcome"] == "rolled_back"
        assert sql(pg["standby"]["dsn"], "SELECT pg_is_in_recovery()") == [[True]]  # never promoted
        assert sql(pg["primary"]["dsn"], "SHOW default_transaction_read_only") == [["off"]]
        assert sql(pg["primary"]["app_dsn"], "INSERT INTO ledger (batch_id, account, amount_cents) VALUES (0, 'after', 1) "
                   "RETURNING account") == [["after"]]
        assert [m.splitlines()[0].split(":")[0] for m in seen] == ["Approve step 5 of runbook database-failover",
                                                                    "Approve step re-enable-writes of runbook database-failover"]
    finally:
        sb.stop_thread(timeout=60)


def test_an_approval_refused_at_the_terminal_is_recorded_and_the_step_stays_closed(isolated_env, h):
    """The real `paii` command in its own terminal: the person answers no."""
    h.book("gate", "---\ntitle: Gate\ndescription: d\n---\n## Step 1: Touch\n```yaml\nrun: [touch, /nonexistent/x]\n"
                   "timeout: 5\napproval: required\n```\n")
    gate = h.engine.start("gate", {}, dry_run=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "servers"), "PAII_HOME": str(isolated_env), "PAII_RUNBOOK_OPERATOR": "alice",
           "PAII_HISTORY_EMBEDDINGS": "off", "PAII_RUNBOOK_PATH": str(h.books)}
    code, shown = at_terminal([sys.executable, "-m", "paii_cli", "runbook", "approve", gate.run_id, "1"], env, "n\n")
    assert code == 1 and "not approved (recorded)" in shown
    assert "Step 1: Touch\n  $ touch /nonexistent/x" in shown
    st = h.engine.runs.load(gate.run_id)
    assert st["approvals"] == [] and st["events"][-1]["kind"] == "refused"
    assert st["events"][-1]["via"] == "paii runbook approve (terminal)" and st["events"][-1]["by"] == "alice"