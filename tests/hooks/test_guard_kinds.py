"""The guard decides every case of tests/hooks/guard_cases_kinds.py (the kinds of bypass issue 22
reported, and their harmless look-alikes) as expected, through hooks/guard.py's main() under the
system python3 (tests/hooks/batch_runner.py)."""

from __future__ import annotations

import pytest

from tests.hooks.guard_cases_kinds import ALL_KINDS, KINDS
from tests.hooks.test_guard_decisions import check


@pytest.fixture(scope="module")
def results(world):
    return world.run_cases(ALL_KINDS)


def test_each_kind_has_destructive_and_harmless_cases():
    for kind, cases in KINDS.items():
        decisions = {c["decision"] for c in cases}
        assert decisions - {"allow"} and ("allow" in decisions or kind == "fork bombs as data"), kind
    ids = [c["id"] for c in ALL_KINDS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", ALL_KINDS, ids=[c["id"] for c in ALL_KINDS])
def test_the_guard_decides_each_kind_as_bash_would_run_it(case, results):
    check(case, results)
