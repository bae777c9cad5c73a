"""The shipped database-failover runbook, not a dry run, against the sandbox's Postgres pair.

The same runbook with real psql/kubectl command lines; the sandbox's shims answer them. Step 5
is approved from the person's terminal (`paii runbook approve`), steps 9 and 12 through
approve_step; the record says who approved what, how and when.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from paii_common.untrusted import unmark
from paii_runbook.config import RunbookSettings
from paii_runbook.engine import Engine
from paii_runbook.server import build_server
from paii_sandbox.services.postgres import dump
from tests.runbook.fakes import FastExecutor

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


async def test_the_full_failover_runs_against_the_sandbox_with_the_persons_approvals(isolated_env, tmp_path, postgres, h,
                                                                                     monkeypatch, capsys):
    seed_past_run(isolated_env, tmp_path)
    settings = RunbookSettings.load(home=isolated_env, bin_dirs=postgres.env["PAII_RUNBOOK_BIN_DIRS"], operator="alice")
    engine = Engine(settings, FastExecutor(settings, h.k8s), now=lambda: FRIDAY_2AM)
    target = {"target": "primary-postgres"}
    async with Client(build_server(settings, engine=engine)) as c:
        dry = await call(c, "start_run", {"name": "database-failover", "parameters": target})
        assert [(unmark(p["name"]), p["passed"], p["value"]) for p in dry["preflight"]] == [  # names: marked runbook text
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
            if sid == "5":
                refused = await c.call_tool("run_step", {"run_id": rid, "step_id": sid})
                assert refused.is_error and f"paii runbook approve {rid} 5" in refused.content[0].text
                code, shown = cli_approve(monkeypatch, capsys, rid, sid, "y\n")
                assert code == 0, shown
                assert "$ psql -X -At -h replica-postgres-01 -U postgres -d postgres -c 'SELECT pg_promote(true, 60)'" in shown
            elif sid in ("9", "12"):
                await call(c, "approve_step", {"run_id": rid, "step_id": sid})
            results[sid] = await call(c, "run_step", {"run_id": rid, "step_id": sid})
            assert results[sid]["status"] == "passed", results[sid]
        done = await call(c, "finish_run", {"run_id": rid, "outcome": "completed", "notes": "failover drill"})
        again = await call(c, "start_run", {"name": "database-failover", "parameters": target})

    assert results["2"]["observed"] == ["12", "8", "3", "0"]
    assert results["3"]["observed"] == ["false", "true"] and '"replica_lsn" : "0/5A000060"' in results["3"]["output"]
    assert results["5"]["approval"]["via"] == "paii runbook approve (terminal)"
    assert results["9"]["approval"]["via"] == "approve_step (client permission prompt)"
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
    """The real `paii` command in its own process: the person answers no."""
    h.book("gate", "---\ntitle: Gate\ndescription: d\n---\n## Step 1: Touch\n```yaml\nrun: [touch, /nonexistent/x]\n"
                   "timeout: 5\napproval: required\n```\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "servers"), "PAII_HOME": str(isolated_env), "PAII_RUNBOOK_PATH": str(h.books)}
    gate = h.engine.start("gate", {}, dry_run=False)
    out = subprocess.run([sys.executable, "-m", "paii_cli", "runbook", "approve", gate.run_id, "1"], input="n\n",
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 1 and "not approved (recorded)" in out.stdout
    assert "Step 1: Touch\n  $ touch /nonexistent/x" in out.stdout
    st = h.engine.runs.load(gate.run_id)
    assert st["approvals"] == [] and st["events"][-1]["kind"] == "refused" and st["events"][-1]["via"] == "paii runbook approve"
