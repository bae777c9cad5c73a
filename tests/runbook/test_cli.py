"""`paii runbook ...`: lint output and exit codes, list, status; approve is a writer command."""

from __future__ import annotations

import io
import json
import sys

import pytest

from paii_cli import build_parser, main
from tests.runbook.test_engine import FRONT, step
from tests.runbook.test_format import GOOD


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


def test_approve_shows_the_command_and_records_yes_with_the_persons_name(h, monkeypatch, capsys):
    monkeypatch.setenv("PAII_RUNBOOK_PATH", str(h.books))
    h.book("gate", FRONT + step(1, "run: [touch, '/tmp/{{name}}']\ntimeout: 5\napproval: required"))
    gate = h.engine.start("gate", {}, dry_run=False)
    code, out, _ = run(monkeypatch, capsys, "runbook", "approve", gate.run_id, "1", "--by", "Dana", stdin="yes\n")
    assert code == 0 and "  $ touch /tmp/world\n" in out and "approved by Dana" in out
    assert h.engine.runs.load(gate.run_id)["approvals"][0]["via"] == "paii runbook approve (terminal)"
    code, _, err = run(monkeypatch, capsys, "runbook", "approve", gate.run_id, "7", stdin="y\n")
    assert code == 1 and "gate has no step '7'" in err


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
