"""The guard decides every case of tests/hooks/guard_cases.py as expected: destructive commands
and their disguised forms are blocked (exit 2, the reason and rule on stderr) or asked about
(JSON ``ask`` with the reason), and commands that only look alike are allowed (exit 0, silent).

Every case goes through hooks/guard.py's main() under the system python3 (the hook JSON on its
stdin, its exit code and streams recorded) in one process; a sample of them (every 6th, and
every rule's first case) also runs the way Claude Code runs a hook, one process per call, and
must come out the same."""

from __future__ import annotations

import pytest

from tests.hooks.conftest import decision_of
from tests.hooks.guard_cases import ASKS, DESTRUCTIVE, SAFE

ALL = DESTRUCTIVE + ASKS + SAFE


def test_the_case_lists_are_large_and_distinct():
    assert len(DESTRUCTIVE) + len(ASKS) >= 60 * 2 and len(SAFE) >= 60
    ids = [c["id"] + c["cwd"] + str(c["env"]) for c in ALL]
    assert len(ids) == len(set(ids)), "two cases share an id"


@pytest.fixture(scope="module")
def results(world):
    return world.run_cases(ALL)


def sample():
    first_of_rule = {}
    for c in ALL:
        first_of_rule.setdefault(c["rule"], c)
    picked = {c["id"]: c for c in ALL[::6]}
    picked.update({c["id"]: c for c in first_of_rule.values()})
    return list(picked.values())


def test_a_process_per_call_decides_like_the_batch(world, results):
    cases = sample()
    each = world.run_each(cases)
    assert len(cases) >= 40
    for c in cases:
        assert each[c["id"]] == results[c["id"]], c["command"]


def check(case, results):
    rc, out, err = results[case["id"]]
    decision, reason = decision_of(rc, out, err)
    assert decision == case["decision"], "%r: expected %s, got %s (%s)" % (case["command"], case["decision"], decision, reason)
    if case["decision"] == "block":
        assert rc == 2 and out == "" and err.startswith("PAII guard blocked this command: ")
    elif case["decision"] == "ask":
        assert rc == 0 and reason.startswith("PAII guard: ")
    else:
        assert rc == 0 and out == "" and err == ""
    if case["rule"]:
        assert "[rule %s]" % case["rule"] in reason, "%r: expected rule %s in %r" % (case["command"], case["rule"], reason)


@pytest.mark.parametrize("case", DESTRUCTIVE, ids=[c["id"] for c in DESTRUCTIVE])
def test_destructive_commands_are_blocked(case, results):
    check(case, results)


@pytest.mark.parametrize("case", ASKS, ids=[c["id"] for c in ASKS])
def test_commands_that_depend_on_context_are_asked_about(case, results):
    check(case, results)


@pytest.mark.parametrize("case", SAFE, ids=[c["id"] for c in SAFE])
def test_commands_that_only_look_dangerous_are_allowed(case, results):
    check(case, results)
