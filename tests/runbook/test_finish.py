"""finish_run is one recoverable step: whatever point a crash stops it at, the next finish_run
completes or corrects it, and the run and its history record agree."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import anyio
import pytest
from mcp import Client, StdioServerParameters

from paii_common.errors import Conflict
from paii_runbook.runs import RunStore
from tests.runbook.test_engine import FRONT, step
from tests.runbook.test_stdio import ROOT, call, error

SERVE_WITH_PID = ("import os, runpy, sys; open(sys.argv[1], 'w').write(str(os.getpid())); "
                  "sys.argv = ['paii_runbook']; runpy.run_module('paii_runbook', run_name='__main__')")


class Crash(BaseException):
    """What kill -9 does to the code in flight: nothing after it runs (no except Exception catches it)."""


def one_step(h) -> str:
    h.book("order", FRONT + step(1, "run: [echo, one]\ntimeout: 5"))
    run = h.engine.start("order", {}, dry_run=False)
    h.engine.run_step(run.run_id, "1")
    return run.run_id


def test_a_finish_cut_short_before_its_record_is_completed_by_the_next_finish(h, monkeypatch):
    rid = one_step(h)
    monkeypatch.setattr(h.engine.history, "record", lambda st: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        h.engine.finish(rid, "aborted")
    restarted = h.new_engine()
    shown = restarted.status(rid)
    assert shown.status == "done" and shown.options[0].startswith("finish: finish_run(") and "(aborted)" in shown.options[0]
    with pytest.raises(Conflict, match="was being finished \\(aborted"):
        restarted.run_step(rid, "1", "retry")
    done = restarted.finish(rid, "completed")
    assert done.outcome == "completed" and "was being finished as aborted" in done.warnings[0]
    assert h.record(rid).meta["outcome"] == "completed" == restarted.runs.load(rid)["outcome"]


def test_a_finish_cut_short_after_its_record_is_corrected_by_the_next_finish(h, monkeypatch):
    rid = one_step(h)
    real_save = RunStore._save

    def save_then_crash_on_the_move(self, state):
        if state.get("status") == "finished":
            raise Crash()
        real_save(self, state)

    monkeypatch.setattr(RunStore, "_save", save_then_crash_on_the_move)
    with pytest.raises(Crash):
        h.engine.finish(rid, "aborted")
    monkeypatch.setattr(RunStore, "_save", real_save)
    assert h.record(rid).meta["outcome"] == "aborted"  # the record was written, the run is still open
    restarted = h.new_engine()
    done = restarted.finish(rid, "completed", "the failover did complete")
    assert done.recorded and not [w for w in done.warnings if "could not be recorded" in w]
    entry = h.record(rid)
    assert entry.meta["outcome"] == "completed" == restarted.status(rid).outcome
    assert "the failover did complete" in entry.body
    assert len(h.engine.history.store().recent("runbooks", 10)[0]) == 1  # one record, rewritten


def test_a_run_moved_to_finished_but_not_yet_removed_counts_as_finished(h):
    rid = one_step(h)
    h.engine.finish(rid, "completed")
    runs = h.settings.runs_dir
    (runs / f"{rid}.json").write_text((runs / "finished" / f"{rid}.json").read_text().replace('"finished"', '"running"'))
    assert h.engine.runs.load(rid)["status"] == "finished" and h.engine.runs.open_runs() == []
    with pytest.raises(Conflict, match="is finished"):
        h.engine.finish(rid, "aborted")


def test_the_warning_of_a_record_that_failed_names_where_the_state_is_now(h, monkeypatch):
    rid = one_step(h)
    monkeypatch.setattr(h.engine.history, "record", lambda st: (_ for _ in ()).throw(OSError("disk full")))
    done = h.engine.finish(rid, "completed")
    where = done.warnings[0].rsplit("its full state is in ", 1)[1]
    assert done.recorded is None and os.path.exists(where) and "/finished/" in where


def params(h, pidfile) -> StdioServerParameters:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "servers"), "PAII_HOME": str(h.home),
           "PAII_CONFIG_DIR": str(h.tmp / "cfg"), "PAII_RUNBOOK_PATH": str(h.books), "PAII_RUNBOOK_SHIPPED": "0",
           "PAII_RUNBOOK_OPERATOR": "alice", "PAII_HISTORY_EMBEDDINGS": "off"}
    return StdioServerParameters(command=sys.executable, args=["-c", SERVE_WITH_PID, str(pidfile)], env=env)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3, 0.6])
async def test_finish_run_killed_9_at_any_point_is_completed_by_the_next_and_run_and_record_agree(h, delay):
    h.book("order", FRONT + step(1, "run: [echo, one]\ntimeout: 5"))
    pidfile = h.tmp / "server.pid"
    try:
        async with Client(params(h, pidfile)) as c:
            rid = (await call(c, "start_run", {"name": "order", "dry_run": False}))["run_id"]
            await call(c, "run_step", {"run_id": rid, "step_id": "1"})

            async def kill_after_delay():
                await anyio.sleep(delay)
                os.kill(int(pidfile.read_text()), signal.SIGKILL)

            async with anyio.create_task_group() as tg:
                tg.start_soon(kill_after_delay)
                with anyio.move_on_after(20):
                    await c.call_tool("finish_run", {"run_id": rid, "outcome": "aborted"})
    except BaseException as exc:  # the connection died with the server
        if isinstance(exc, KeyboardInterrupt):
            raise
    time.sleep(0.1)
    async with Client(params(h, pidfile)) as c:
        before = await call(c, "get_run", {"run_id": rid})
        res = await c.call_tool("finish_run", {"run_id": rid, "outcome": "completed"})
        after = await call(c, "get_run", {"run_id": rid})
        if before["status"] == "finished":  # the first finish had completed: it stands
            assert "is finished (aborted" in await error(c, "finish_run", {"run_id": rid, "outcome": "completed"})
        else:
            assert not res.is_error, res.content[0].text
            for warning in res.structured_content["warnings"]:
                assert "its full state is in" not in warning or os.path.exists(warning.rsplit("in ", 1)[1])
    assert after["status"] == "finished" and after["outcome"] == h.record(rid).meta["outcome"]
    assert after["recorded"] and json.loads((h.settings.runs_dir / "finished" / f"{rid}.json").read_text())["outcome"] \
        == after["outcome"]
    assert not (h.settings.runs_dir / f"{rid}.json").exists()
