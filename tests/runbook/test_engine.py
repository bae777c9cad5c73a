"""The engine with real commands (real processes), each scenario checked in its history record."""

from __future__ import annotations

import json
import subprocess

import pytest

from paii_common.errors import Conflict, InvalidInput
from paii_runbook.engine import ApprovalRequired
from tests.runbook.conftest import COUNTER, PRINT_ARGS, PY, later

FRONT = """\
---
title: Test book
description: Steps for the engine tests.
services: [testsvc]
parameters:
  name: {description: any printable text, pattern: '^[ -~]+$', default: world}
---
"""


def step(n: int, block: str, title: str | None = None) -> str:
    return f"## Step {n}: {title or f'Step {n}'}\n```yaml\n{block.strip()}\n```\n\n"


def touch(path, approval: bool = True) -> str:
    return f"run: [touch, '{path}']\ntimeout: 5\n" + ("approval: required\n" if approval else "approval: none\nreason: test\n")


def test_a_wait_succeeds_on_the_third_poll_and_reports_each_poll(h):
    script, state = h.tmp / "counter.py", h.tmp / "count"
    script.write_text(COUNTER)
    h.book("waits", FRONT + step(1, f"wait:\n  run: ['{PY}', '{script}', '{state}']\n  every: 5\n  timeout: 60\n  until: {{ge: 3}}"))
    run = h.engine.start("waits", {}, dry_run=False)
    seen = []
    res = h.engine.run_step(run.run_id, "1", progress=lambda done, total, msg: seen.append((done, total, msg)))
    assert res.status == "passed" and res.observed == ["1", "2", "3"] and res.value == "3"
    assert h.engine.executor.slept == [5, 5]
    assert [s[:2] for s in seen] == [(1, 13), (2, 13), (3, 13)] and seen[-1][2].endswith("poll 3: 3 (done)")
    assert res.next_step is None and res.run_status == "done"
    done = h.engine.finish(run.run_id, "completed")
    assert done.recorded == f"history/runbooks/{run.run_id[6:10]}-{run.run_id[10:12]}/{run.run_id}.md"
    entry = h.record(run.run_id)
    assert "Observed: 1 -> 2 -> 3" in entry.body and entry.meta["outcome"] == "completed" and entry.meta["operator"] == "alice"


def test_a_wait_that_never_holds_fails_after_its_polls(h):
    h.book("waits", FRONT + step(1, f"wait:\n  run: ['{PY}', -c, 'print(7)']\n  every: 10\n  timeout: 30\n  until: {{equals: 0}}"))
    run = h.engine.start("waits", {}, dry_run=False)
    res = h.engine.run_step(run.run_id, "1")
    assert res.status == "failed" and res.observed == ["7"] * 4 and "still not == 0 after 4 polls" in res.reason


def test_an_expect_that_fails_stops_the_run_until_the_person_chooses(h):
    h.book("lag", FRONT + step(1, f"run: ['{PY}', -c, 'print(\"lag 9\")']\ntimeout: 10\nexpect: {{regex: 'lag (\\d+)', lt: 5}}")
            + step(2, "run: [echo, two]\ntimeout: 5"))
    run = h.engine.start("lag", {}, dry_run=False)
    res = h.engine.run_step(run.run_id, "1")
    assert res.status == "failed" and res.value == "9" and res.exit_code == 0
    assert res.reason == "9 does not meet output matches /lag (\\d+)/ < 5"
    assert res.run_status == "halted" and [o.split(":")[0] for o in res.options] == ["retry", "skip", "abort"]
    with pytest.raises(Conflict, match="stopped at step 1"):
        h.engine.run_step(run.run_id, "2")
    assert h.engine.run_step(run.run_id, "1", "retry").status == "failed"
    assert h.engine.run_step(run.run_id, "1", "skip").status == "skipped"
    assert h.engine.run_step(run.run_id, "2").status == "passed"
    h.engine.finish(run.run_id, "completed", "lag was fine on the dashboard")
    body = h.record(run.run_id).body
    assert "9 does not meet" in body and "retry step 1 by alice" in body and "skip step 1 by alice" in body
    assert "lag was fine on the dashboard" in body


def test_a_command_that_runs_too_long_is_stopped_and_fails(h):
    h.book("slow", FRONT + step(1, f"run: ['{PY}', -c, 'import time; print(\"started\", flush=True); time.sleep(60)']\ntimeout: 0.5"))
    run = h.engine.start("slow", {}, dry_run=False)
    res = h.engine.run_step(run.run_id, "1")
    assert res.status == "failed" and res.exit_code is None and res.reason.startswith("timed out after 0.5 s")
    assert "started" in res.output
    h.engine.finish(run.run_id, "failed")
    assert "timed out after 0.5 s" in h.record(run.run_id).body


def test_a_missing_program_fails_the_step_and_says_where_it_looked(h):
    h.book("missing", FRONT + step(1, "run: [no-such-program-paii]\ntimeout: 5\napproval: none\nreason: test"))
    run = h.engine.start("missing", {}, dry_run=False)
    res = h.engine.run_step(run.run_id, "1")
    assert res.status == "failed" and "command not found (searched PATH)" in res.reason


def test_a_dry_run_executes_nothing_shows_each_argv_and_is_recorded(h):
    side = h.tmp / "side-effect"
    front = FRONT.replace("parameters:", "preflight:\n  - {name: Reads, run: [echo, ok], timeout: 5}\nparameters:")
    h.book("dry", front + step(1, touch(side)) + step(2, "run: [echo, '{{name}}']\ntimeout: 5"))
    run = h.engine.start("dry", {"name": "prod-db"}, dry_run=True)
    assert not side.exists()
    assert [p.argv for p in run.plan] == [["touch", str(side)], ["echo", "prod-db"]]
    assert run.approvals_needed == ["1"] and run.next_step is None and run.recorded
    assert [(c.name, c.passed, c.value) for c in run.preflight] == [("Reads", True, "ok")]  # checks do run
    with pytest.raises(Conflict, match="is a dry run: nothing executes"):
        h.engine.run_step(run.run_id, "1")
    entry = h.record(run.run_id)
    assert entry.meta["dry_run"] is True and entry.meta["outcome"] == "dry-run"
    assert f"planned: touch {side}" in entry.body
    assert not side.exists()


def test_a_parameter_that_tries_shell_injection_arrives_as_one_literal_argument(h):
    side = h.tmp / "pwned"
    h.book("inject", FRONT + step(1, f"run: ['{PY}', -c, '{PRINT_ARGS}', '{{{{name}}}}']\ntimeout: 10"))
    value = f"x; touch {side} && $(touch {side}) `touch {side}` | sh"
    run = h.engine.start("inject", {"name": value}, dry_run=False)
    res = h.engine.run_step(run.run_id, "1")
    assert json.loads(res.output.split("\n")[1]) == [value]
    assert not side.exists()
    h.engine.finish(run.run_id, "completed")
    assert value in h.record(run.run_id).body  # the record shows the literal argument (shell-quoted)


@pytest.mark.parametrize("value, why", [("--help", "may not start with '-'"), ("a\nb", "no control characters"),
                                        ("é", "does not match its pattern")])
def test_parameter_values_that_could_change_a_command_are_refused(h, value, why):
    h.book("inject", FRONT + step(1, "run: [echo, '{{name}}']\ntimeout: 5"))
    with pytest.raises(InvalidInput, match=why):
        h.engine.start("inject", {"name": value}, dry_run=True)


def test_an_approval_step_refuses_without_approval_and_runs_once_with_it(h):
    side = h.tmp / "side"
    h.book("gate", FRONT + step(1, touch(side)) + step(2, touch(h.tmp / "two")))
    run = h.engine.start("gate", {}, dry_run=False)
    with pytest.raises(ApprovalRequired, match=r"needs the person's approval and has none; it did not run.*paii runbook approve"):
        h.engine.run_step(run.run_id, "1")
    assert not side.exists()
    ap = h.engine.approve(run.run_id, "1", via="test")
    res = h.engine.run_step(run.run_id, "1")
    assert res.status == "passed" and side.exists() and res.approval.by == "alice"
    assert res.approval.command_sha256 == ap.command_sha256
    st = h.engine.runs.load(run.run_id)
    assert st["approvals"][0]["used_at"]  # single use: consumed by this run of the step


def test_an_approval_for_another_step_is_not_accepted(h):
    h.book("gate", FRONT + step(1, touch(h.tmp / "one")) + step(2, touch(h.tmp / "two")))
    run = h.engine.start("gate", {}, dry_run=False)
    h.engine.approve(run.run_id, "2", via="test")
    with pytest.raises(ApprovalRequired, match="has none"):
        h.engine.run_step(run.run_id, "1")
    assert not (h.tmp / "one").exists()
    h.engine.finish(run.run_id, "aborted")
    body = h.record(run.run_id).body
    assert "approved step 2 by alice via test" in body and "### Step 1: Step 1: pending" in body


def test_an_approval_is_single_use_so_a_retry_needs_a_new_one(h):
    h.book("gate", FRONT + step(1, "run: ['false']\ntimeout: 5\napproval: required"))
    run = h.engine.start("gate", {}, dry_run=False)
    h.engine.approve(run.run_id, "1", via="test")
    assert h.engine.run_step(run.run_id, "1").status == "failed"
    with pytest.raises(ApprovalRequired, match="has none"):
        h.engine.run_step(run.run_id, "1", "retry")


def test_an_approval_for_an_edited_command_is_not_accepted(h):
    side = h.tmp / "side"
    path = h.book("gate", FRONT + step(1, touch(side)))
    run = h.engine.start("gate", {}, dry_run=False)
    h.engine.approve(run.run_id, "1", via="test")
    # the runbook file changed after the approval: nothing of the run may execute
    path.write_text(path.read_text().replace(str(side), str(h.tmp / "elsewhere")))
    with pytest.raises(Conflict, match="changed on disk since run"):
        h.engine.run_step(run.run_id, "1")
    path.write_text(path.read_text().replace(str(h.tmp / "elsewhere"), str(side)))
    # the run's own state edited (its parameter): the resolved command's hash differs from the approved one
    state_file = h.engine.runs.path(run.run_id)
    st = json.loads(state_file.read_text())
    st["parameters"]["name"] = "edited"
    state_file.write_text(json.dumps(st))
    h.book("gate", FRONT + step(1, "run: [touch, '{{name}}']\ntimeout: 5\napproval: required"))
    st["source_sha256"] = __import__("hashlib").sha256((h.books / "gate.md").read_text().encode()).hexdigest()
    state_file.write_text(json.dumps(st))
    with pytest.raises(ApprovalRequired, match="approval given was for a different command"):
        h.engine.run_step(run.run_id, "1")
    assert not side.exists()
    h.engine.finish(run.run_id, "aborted", "the command changed after it was approved")
    entry = h.record(run.run_id)
    assert entry.meta["outcome"] == "aborted" and "### Step 1: Step 1: pending" in entry.body


def test_an_expired_approval_is_not_accepted(h):
    h.book("gate", FRONT + step(1, touch(h.tmp / "one")))
    run = h.engine.start("gate", {}, dry_run=False)
    ap = h.engine.approve(run.run_id, "1", via="test")
    with pytest.raises(ApprovalRequired, match=f"expired at {ap.expires}"):
        h.new_engine(now=later(16)).run_step(run.run_id, "1")
    assert not (h.tmp / "one").exists()
    h.engine.finish(run.run_id, "aborted", "approval expired")
    entry = h.record(run.run_id)
    assert entry.meta["outcome"] == "aborted" and "approval expired" in entry.body


def test_a_manual_step_is_confirmed_by_the_person(h):
    h.book("hand", FRONT + step(1, "manual: Add a Grafana annotation for {{name}}"))
    run = h.engine.start("hand", {}, dry_run=False)
    with pytest.raises(ApprovalRequired):
        h.engine.run_step(run.run_id, "1")
    h.engine.approve(run.run_id, "1", via="test", by="bob")
    res = h.engine.run_step(run.run_id, "1")
    assert res.status == "passed" and res.reason == "done by hand, confirmed by bob"
    assert "Add a Grafana annotation for world" in res.output


def test_a_failed_step_offers_its_rollback_and_the_rollback_ends_the_run(h):
    h.book("roll", FRONT + step(1, "run: ['false']\ntimeout: 5\non_fail: undo")
            + "## Rollback undo: Undo it\n```yaml\nrun: [echo, undone]\ntimeout: 5\napproval: none\nreason: test\n```\n")
    run = h.engine.start("roll", {}, dry_run=False)
    res = h.engine.run_step(run.run_id, "1")
    assert res.next_step.id == "undo" and any(o.startswith("rollback") for o in res.options)
    assert h.engine.run_step(run.run_id, "undo").run_status == "done"
    with pytest.raises(InvalidInput, match=r"1 step did not pass \(1\)"):
        h.engine.finish(run.run_id, "completed")
    assert h.engine.finish(run.run_id, "rolled_back").steps == {"failed": 1, "passed": 1}


def test_steps_run_in_order_and_a_second_real_run_waits_for_the_first(h):
    h.book("order", FRONT + step(1, "run: [echo, one]\ntimeout: 5") + step(2, "run: [echo, two]\ntimeout: 5"))
    run = h.engine.start("order", {}, dry_run=False)
    with pytest.raises(Conflict, match="steps run in order and the next is 1"):
        h.engine.run_step(run.run_id, "2")
    with pytest.raises(Conflict, match=f"run {run.run_id} of order is still open"):
        h.engine.start("order", {}, dry_run=False)
    h.engine.start("order", {}, dry_run=True)  # a dry run may look while a real run is open
    with pytest.raises(InvalidInput, match="2 steps did not pass"):
        h.engine.finish(run.run_id, "completed")


def test_a_run_continues_where_it_stopped_with_a_new_engine_on_the_same_home(h):
    h.book("order", FRONT + step(1, "run: [echo, one]\ntimeout: 5") + step(2, "run: [echo, two]\ntimeout: 5"))
    run = h.engine.start("order", {}, dry_run=False)
    assert h.engine.run_step(run.run_id, "1").next_step.id == "2"
    restarted = h.new_engine()
    assert restarted.run_step(run.run_id, "2").status == "passed"
    restarted.finish(run.run_id, "completed")
    assert h.record(run.run_id).meta["outcome"] == "completed"
    # a finished run leaves the open runs' folder (scans stay cheap) but can still be read
    assert not (h.settings.runs_dir / f"{run.run_id}.json").exists()
    assert (h.settings.runs_dir / "finished" / f"{run.run_id}.json").exists()
    assert h.engine.runs.load(run.run_id)["outcome"] == "completed" and h.engine.runs.open_runs() == []


def test_a_step_interrupted_by_a_dead_server_needs_an_explicit_retry_or_skip(h):
    h.book("order", FRONT + step(1, "run: [echo, one]\ntimeout: 5") + step(2, "run: [echo, two]\ntimeout: 5"))
    run = h.engine.start("order", {}, dry_run=False)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with h.engine.runs.update(run.run_id) as st:  # what a server killed in the middle of step 1 leaves
        st["steps"]["1"]["status"] = "running"
        st["running"] = {"step": "1", "pid": dead.pid, "host": __import__("socket").gethostname(), "since": st["started"],
                         "attempt": {"started": st["started"], "choice": "run", "argv": ["echo", "one"]}}
    restarted = h.new_engine()
    with pytest.raises(Conflict, match=r"stopped at step 1 \(interrupted\)"):
        restarted.run_step(run.run_id, "1")
    assert restarted.run_step(run.run_id, "1", "retry").status == "passed"
    restarted.run_step(run.run_id, "2")
    restarted.finish(run.run_id, "completed")
    assert "the server stopped while this step ran" in h.record(run.run_id).body


def test_a_required_preflight_check_that_fails_keeps_the_run_from_starting_and_is_recorded(h):
    h.book("pre", FRONT.replace("parameters:", "preflight:\n  - {name: Lag, run: [echo, '9'], timeout: 5, expect: {lt: 5}}\n"
                                "parameters:") + step(1, "run: [echo, one]\ntimeout: 5"))
    with pytest.raises(Conflict, match=r"preflight failed, so pre did not start: Lag: 9 does not meet < 5.*recorded at history/runbooks/"):
        h.engine.start("pre", {}, dry_run=False)
    dry = h.engine.start("pre", {}, dry_run=True)
    assert dry.preflight[0].passed is False and dry.preflight[0].value == "9"
    outcomes = sorted(r.meta["outcome"] for r in h.engine.history.store().recent("runbooks", 10)[0])
    assert outcomes == ["aborted", "dry-run"]


def test_the_next_start_says_when_it_last_ran_and_by_whom(h):
    h.book("order", FRONT + step(1, "run: [echo, one]\ntimeout: 5"))
    first = h.engine.start("order", {}, dry_run=False)
    h.engine.run_step(first.run_id, "1")
    h.engine.finish(first.run_id, "completed")
    nxt = h.engine.start("order", {}, dry_run=True)
    assert nxt.last_executed.by == "alice" and nxt.last_executed.run_id == first.run_id
    assert nxt.last_executed.outcome == "completed" and nxt.last_executed.ago == "just now"


def test_a_k8s_exec_step_interrupted_by_a_crash_is_retried_only_after_its_timeout(h):
    import datetime as dt

    h.book("pod", FRONT + step(1, "k8s_exec:\n  namespace: payments\n  selector: app=payments-api\n"
                                  "  argv: [cat, /proc/loadavg]\ntimeout: 30"))
    run = h.engine.start("pod", {}, dry_run=False)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with h.engine.runs.update(run.run_id) as st:  # what a server killed in the middle of the exec leaves
        st["steps"]["1"]["status"] = "running"
        st["running"] = {"step": "1", "pid": dead.pid, "start": None, "host": __import__("socket").gethostname(),
                         "since": st["started"], "kind": "k8s_exec", "timeout": 30, "track": None,
                         "attempt": {"started": st["started"], "choice": "run"}}
    started = dt.datetime.fromisoformat(h.engine.runs.load(run.run_id)["started"].replace("Z", "+00:00"))
    soon = h.new_engine(now=lambda: started + dt.timedelta(seconds=10))
    with pytest.raises(Conflict, match="where PAII cannot see whether it still runs; it may until"):
        soon.run_step(run.run_id, "1", "retry")
    later_on = h.new_engine(now=lambda: started + dt.timedelta(seconds=60))
    assert later_on.run_step(run.run_id, "1", "retry").status == "passed"
    assert h.k8s.calls == [("payments", "payments-api-7d9f-abcde", ["cat", "/proc/loadavg"])]  # one exec, the retry


def test_a_reused_pid_is_not_mistaken_for_the_process_it_replaced():
    import os

    from paii_runbook import procs

    import subprocess
    import sys

    me = procs.identity(os.getpid())
    assert procs.same_process_alive(me)
    # a session of its own (this test's session leader may live outside the pid namespace: getsid() is 0 in CI)
    leader = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    ident = procs.identity(leader.pid)
    try:
        assert procs.session_alive(ident)
    finally:
        leader.kill()
        leader.wait()
    assert not procs.session_alive(ident)
    if me["start"] is not None:  # Linux: the same pid with another start time is another process
        assert not procs.same_process_alive({**me, "start": me["start"] - 1})
        assert not procs.same_process_alive({**me, "boot": "another-boot"})
