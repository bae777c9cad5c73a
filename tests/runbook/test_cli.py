"""`paii runbook ...`: lint output and exit codes, list, status, dry-run; approve asks the person at
their own terminal (a real pseudo-terminal here) and refuses any other input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paii_cli import build_parser, main
from tests.runbook.terminal import at_terminal
from tests.runbook.test_engine import FRONT, step
from tests.runbook.test_format import GOOD

ROOT = Path(__file__).resolve().parents[2]


def run(monkeypatch, capsys, *argv, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    out = capsys.readouterr()
    return stop.value.code, out.out, out.err


def test_lint_prints_file_line_severity_and_exits_1_on_errors(h, monkeypatch, capsys):
    good = h.book("good", GOOD)
    bad = h.book("bad", GOOD.replace("on_fail: undo", "on_fail: nowhere"))
    assert run(monkeypatch, capsys, "runbook", "lint", str(good)) == (0, "", "1 runbook: 0 errors, 0 warnings\n")
    code, out, err = run(monkeypatch, capsys, "runbook", "lint", str(good), str(bad))
    assert code == 1 and out.startswith(f"{bad}:27: error: step 2: on_fail 'nowhere'") and "1 error, 1 warning" in err
    code, out, _ = run(monkeypatch, capsys, "runbook", "lint", "--json", str(bad))
    assert code == 1 and json.loads(out)[0] == {"file": str(bad), "line": 27, "severity": "error",
                                                "message": json.loads(out)[0]["message"]}
    assert run(monkeypatch, capsys, "runbook", "lint", str(h.tmp / "nope.md"))[0] == 2


def test_lint_strict_fails_on_warnings_and_a_name_is_looked_up(h, monkeypatch, capsys):
    h.book("warned", GOOD.replace("timeout: 60\napproval: required\non_fail: undo", "timeout: 60\non_fail: undo"))
    monkeypatch.setenv("PAII_RUNBOOK_PATH", str(h.books))
    assert run(monkeypatch, capsys, "runbook", "lint", "warned")[0] == 0
    assert run(monkeypatch, capsys, "runbook", "lint", "--strict", "warned")[0] == 1
    code, _, err = run(monkeypatch, capsys, "runbook", "lint", "no-such-book")
    assert code == 1 and "no runbook 'no-such-book'" in err  # not found: exit 1 (the CLI's convention)


def test_list_and_status_show_runbooks_and_a_runs_steps(h, monkeypatch, capsys):
    monkeypatch.setenv("PAII_RUNBOOK_PATH", str(h.books))
    monkeypatch.setenv("PAII_RUNBOOK_SHIPPED", "0")
    h.book("order", FRONT + step(1, "run: [echo, one]\ntimeout: 5") + step(2, "run: [echo, two]\ntimeout: 5"))
    run_ = h.engine.start("order", {}, dry_run=False)
    h.engine.run_step(run_.run_id, "1")
    code, out, _ = run(monkeypatch, capsys, "runbook", "list")
    assert code == 0 and out.startswith("order") and f"open run: {run_.run_id}" in out
    code, out, _ = run(monkeypatch, capsys, "runbook", "status", run_.run_id)
    assert code == 0 and "     1 passed      Step 1" in out and ">   2 pending     Step 2" in out
    assert run(monkeypatch, capsys, "runbook", "status", "Bad Id")[0] == 2


def test_approve_is_marked_as_a_writer_and_the_others_are_not():
    sub = next(a for a in build_parser()._subparsers._group_actions[0].choices["runbook"]._actions
               if a.dest == "runbook_command").choices
    assert sub["approve"].get_default("writes") == "runbook"
    assert all(sub[name].get_default("writes") is None for name in ("lint", "list", "status"))


def cli_env(h, **extra) -> dict[str, str]:
    """The environment of `paii` in the person's terminal (this test's PAII_HOME and config folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAII_RUNBOOK_OPERATOR")}
    return {**env, "PYTHONPATH": str(ROOT / "servers"), "PAII_HOME": str(h.home), "PAII_RUNBOOK_PATH": str(h.books),
            "PAII_RUNBOOK_SHIPPED": "0", "PAII_HISTORY_EMBEDDINGS": "off", **extra}


PAII = [sys.executable, "-m", "paii_cli"]


def test_approve_at_a_terminal_shows_the_command_and_records_yes_under_the_persons_name(h):
    h.book("gate", FRONT + step(1, "run: [touch, '/tmp/{{name}}']\ntimeout: 5\napproval: required"))
    gate = h.engine.start("gate", {}, dry_run=False)
    code, shown = at_terminal([*PAII, "runbook", "approve", gate.run_id, "1"], cli_env(h, PAII_USER="Dana"), "yes\n")
    assert code == 0, shown
    assert "Step 1: Step 1\n  $ touch /tmp/world\nDana: approve running exactly this, once, within 15 min? [y/N]" in shown
    assert "approved by Dana" in shown
    rec = h.engine.runs.load(gate.run_id)["approvals"][0]
    assert rec["by"] == "Dana" and rec["via"] == "paii runbook approve (terminal)" and len(rec["seal"]) == 64
    assert h.engine.run_step(gate.run_id, "1").approval.by == "Dana"


def test_approve_at_a_terminal_records_a_no_and_the_step_stays_closed(h):
    h.book("gate", FRONT + step(1, "run: [touch, /nonexistent/x]\ntimeout: 5\napproval: required"))
    gate = h.engine.start("gate", {}, dry_run=False)
    code, shown = at_terminal([*PAII, "runbook", "approve", gate.run_id, "1", "--json"], cli_env(h, PAII_USER="Dana"), "n\n")
    assert code == 1 and '"approved": false' in shown
    st = h.engine.runs.load(gate.run_id)
    assert st["approvals"] == [] and st["events"][-1]["kind"] == "refused" and st["events"][-1]["by"] == "Dana"


@pytest.mark.parametrize("how", ["pipe", "file", "no input"])
def test_approve_refuses_an_answer_that_does_not_come_from_a_terminal(h, how, tmp_path):
    h.book("gate", FRONT + step(1, "run: [touch, /nonexistent/x]\ntimeout: 5\napproval: required"))
    gate = h.engine.start("gate", {}, dry_run=False)
    answer = tmp_path / "answer"
    answer.write_text("y\n")
    stdin = {"pipe": {"input": "y\n"}, "file": {"stdin": answer.open()}, "no input": {"stdin": subprocess.DEVNULL}}[how]
    out = subprocess.run([*PAII, "runbook", "approve", gate.run_id, "1"], capture_output=True, text=True,
                         env=cli_env(h), timeout=60, start_new_session=True, **stdin)
    assert out.returncode == 1 and "nothing was approved" in out.stderr and "Run it yourself in a terminal" in out.stderr
    assert "[y/N]" not in out.stdout
    assert h.engine.runs.load(gate.run_id)["approvals"] == []


def test_approve_takes_no_name_from_the_command_line(h, monkeypatch, capsys):
    monkeypatch.setenv("PAII_RUNBOOK_PATH", str(h.books))
    h.book("gate", FRONT + step(1, "run: [touch, /nonexistent/x]\ntimeout: 5\napproval: required"))
    gate = h.engine.start("gate", {}, dry_run=False)
    code, _, err = run(monkeypatch, capsys, "runbook", "approve", gate.run_id, "1", "--by", "Dana", stdin="y\n")
    assert code == 2 and "--by is gone: the approval is recorded under your own name" in err
    assert h.engine.runs.load(gate.run_id)["approvals"] == []


def test_approve_checks_the_run_and_the_step_before_asking(h, monkeypatch, capsys):
    """stdin is not a terminal here: each answer is the check's, never the terminal's (it comes first)."""
    monkeypatch.setenv("PAII_RUNBOOK_PATH", str(h.books))
    h.book("gate", FRONT + step(1, "run: [echo, one]\ntimeout: 5") + step(2, "run: [touch, /nonexistent/x]\ntimeout: 5\n"
                                                                          "approval: required"))
    gate = h.engine.start("gate", {}, dry_run=False)
    code, _, err = run(monkeypatch, capsys, "runbook", "approve", "gate-20260102-020000-abcd", "2")
    assert code == 1 and "no run 'gate-20260102-020000-abcd': `paii runbook list` shows each runbook's open runs" in err
    code, _, err = run(monkeypatch, capsys, "runbook", "approve", gate.run_id, "1")
    assert code == 2 and "step 1 needs no approval" in err
    code, _, err = run(monkeypatch, capsys, "runbook", "approve", gate.run_id, "7")
    assert code == 1 and "gate has no step '7'" in err
    h.engine.finish(gate.run_id, "aborted")
    code, _, err = run(monkeypatch, capsys, "runbook", "approve", gate.run_id, "2")
    assert code == 1 and f"run {gate.run_id} is finished (aborted" in err
    assert not (h.settings.runs_dir / ".locks" / "gate-20260102-020000-abcd.lock").exists()


def test_dry_run_prints_the_checks_and_the_exact_plan_and_runs_nothing(h, monkeypatch, capsys):
    monkeypatch.setenv("PAII_RUNBOOK_PATH", str(h.books))
    side = h.tmp / "side"
    h.book("gate", FRONT + step(1, f"run: [touch, '{side}']\ntimeout: 5\napproval: required")
           + step(2, "run: [psql, -c, \"SELECT 1 FROM t WHERE n = '{{name}}'\"]\ntimeout: 5"))
    code, out, _ = run(monkeypatch, capsys, "runbook", "dry-run", "gate", "name=db-1")
    assert code == 0 and not side.exists()
    assert f"   1. Step 1  [approval]\n      touch {side}\n" in out
    assert "      psql -c \"SELECT 1 FROM t WHERE n = 'db-1'\"\n" in out and "Nothing ran. Recorded to history/runbooks/" in out
    assert run(monkeypatch, capsys, "runbook", "dry-run", "gate", "oops")[0] == 2


def test_dry_run_is_a_writer_command_because_it_records(monkeypatch):
    sub = next(a for a in build_parser()._subparsers._group_actions[0].choices["runbook"]._actions
               if a.dest == "runbook_command").choices
    assert sub["dry-run"].get_default("writes") == "runbook"


def test_read_only_mode_refuses_the_writer_commands_and_lint_still_works(h, monkeypatch, capsys):
    monkeypatch.setenv("PAII_READ_ONLY", "1")
    good = h.book("good", GOOD)
    assert run(monkeypatch, capsys, "runbook", "lint", str(good))[0] == 0
    code, _, err = run(monkeypatch, capsys, "runbook", "approve", "good-20260102-020000-abcd", "1", stdin="y\n")
    assert code == 1 and "read-only" in err


def test_lint_with_no_files_lints_every_runbook_found(h, monkeypatch, capsys):
    monkeypatch.setenv("PAII_RUNBOOK_PATH", str(h.books))
    monkeypatch.setenv("PAII_RUNBOOK_SHIPPED", "0")
    h.book("good", GOOD)
    bad = h.book("bad", GOOD.replace("on_fail: undo", "on_fail: nowhere"))
    code, out, err = run(monkeypatch, capsys, "runbook", "lint")
    assert code == 1 and out.startswith(f"{bad}:27: error: step 2: on_fail 'nowhere'") and err.startswith("2 runbooks: 1 error")
    monkeypatch.delenv("PAII_RUNBOOK_SHIPPED")  # the runbooks that ship with PAII: no errors in any
    monkeypatch.setenv("PAII_RUNBOOK_PATH", str(h.tmp / "none"))
    code, out, err = run(monkeypatch, capsys, "runbook", "lint", "--json")
    assert code == 0 and not [r for r in json.loads(out) if r["severity"] == "error"]


def test_dry_run_of_an_unknown_runbook_points_to_paii_runbook_list(h, monkeypatch, capsys):
    monkeypatch.setenv("PAII_RUNBOOK_PATH", str(h.books))
    h.book("gate", FRONT + step(1, "run: [echo, one]\ntimeout: 5"))
    code, _, err = run(monkeypatch, capsys, "runbook", "dry-run", "gaet")
    assert code == 1 and "no runbook 'gaet'. Did you mean gate? `paii runbook list` shows the runbooks found" in err
    assert "list_runbooks" not in err and "find_runbooks" not in err
    code, out, _ = run(monkeypatch, capsys, "runbook", "dry-run", "nope", "--json")
    assert code == 1 and "`paii runbook list`" in json.loads(out)["error"]


def test_every_runbook_command_answers_json(h, monkeypatch, capsys):
    monkeypatch.setenv("PAII_RUNBOOK_PATH", str(h.books))
    monkeypatch.setenv("PAII_RUNBOOK_SHIPPED", "0")
    h.book("order", FRONT + step(1, "run: [echo, one]\ntimeout: 5"))
    gate = h.engine.start("order", {}, dry_run=False)
    listed = json.loads(run(monkeypatch, capsys, "runbook", "list", "--json")[1])
    assert listed["runbooks"][0]["open_runs"] == [gate.run_id]
    dry = json.loads(run(monkeypatch, capsys, "runbook", "dry-run", "order", "--json")[1])
    assert dry["dry_run"] is True and dry["plan"][0]["argv"] == ["echo", "one"]
    status = json.loads(run(monkeypatch, capsys, "runbook", "status", gate.run_id, "--json")[1])
    assert status["id"] == gate.run_id and status["steps"]["1"]["status"] == "pending"
    code, out, _ = run(monkeypatch, capsys, "runbook", "status", "order-20260102-020000-abcd", "--json")
    assert code == 1 and json.loads(out)["error"].startswith("no run 'order-20260102-020000-abcd'")
