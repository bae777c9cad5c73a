"""hooks/README.md lists every rule of the guard with its decision, and the guard cases cover
every rule: a new rule cannot ship undocumented or untested."""

from __future__ import annotations

import re
import sys

from tests.hooks.conftest import HOOKS
from tests.hooks.guard_cases import ASKS, DESTRUCTIVE
from tests.hooks.guard_cases_kinds import ALL_KINDS

sys.path.insert(0, str(HOOKS))
from paii_hooks.rules import CATALOGUE, LOCKED  # noqa: E402

sys.path.remove(str(HOOKS))


def test_the_readme_lists_every_rule_with_its_decision():
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| ([a-z ()]+) \|", (HOOKS / "README.md").read_text(), re.M))
    assert set(rows) == set(CATALOGUE)
    for rule, (decision, _) in CATALOGUE.items():
        assert rows[rule] == decision + (" (locked)" if rule in LOCKED else ""), rule


def test_every_rule_is_exercised_by_a_guard_case():
    covered = {c["rule"] for c in DESTRUCTIVE + ASKS + ALL_KINDS}
    assert set(CATALOGUE) - covered == set()
