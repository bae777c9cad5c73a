"""hooks/paii_hooks has a direction: parse -> resolve -> rules -> walk -> decision. No module imports
one of a later stage (function-level imports included), the import graph has no cycle, and no
hook module is over 400 lines."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter

import pytest

from tests.hooks.conftest import HOOKS

PACKAGE = HOOKS / "paii_hooks"
STAGES = [
    ("base", {"__init__"}),
    ("parse", {"shell_words", "shell_lex", "shell", "paths", "argv", "protected", "sql"}),
    ("resolve", {"expand", "launchers", "unwrap", "context"}),
    ("rules", {"rules_fs", "rules_machine", "rules_git", "rules_infra", "rules_data", "rules_paii", "rules_hidden", "code_rules",
               "rules"}),
    ("walk", {"sources", "scripts", "shell_state", "follow", "analyse"}),
    ("decision", {"guard_config", "decision"}),
    ("usage log", {"usage_log", "mentions", "session_record"}),  # the usage hook's own modules
]
STAGE = {module: k for k, (_, modules) in enumerate(STAGES) for module in modules}


def imports(path):
    """The paii_hooks modules a file imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "paii_hooks":
            if node.module == "paii_hooks":
                names = [a.name for a in node.names]
                found.update(n for n in names if (PACKAGE / (n + ".py")).exists())
                if any(not (PACKAGE / (n + ".py")).exists() for n in names):
                    found.add("__init__")
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("paii_hooks."))
    return found


GRAPH = {p.stem: imports(p) - {p.stem} for p in PACKAGE.glob("*.py")}


def test_every_module_has_a_stage():
    assert set(GRAPH) - set(STAGE) == set(), "place new modules in a stage of STAGES"


def test_the_import_graph_has_no_cycle():
    try:
        order = list(TopologicalSorter(GRAPH).static_order())
    except CycleError as exc:  # pragma: no cover - the failure message is the point
        pytest.fail("import cycle: %s" % " -> ".join(exc.args[1]))
    assert set(order) >= set(GRAPH)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_imports_a_later_stage(module):
    later = {m for m in GRAPH[module] if STAGE.get(m, 0) > STAGE[module]}
    assert later == set(), "%s (%s) imports %s of a later stage" % (module, STAGES[STAGE[module]][0], sorted(later))


def test_the_usage_log_does_not_load_the_guard():
    for module in STAGES[-1][1]:
        assert GRAPH[module] <= {"__init__"} | STAGES[-1][1], module


@pytest.mark.parametrize("path", sorted(list(PACKAGE.glob("*.py")) + list(HOOKS.glob("*.py"))), ids=lambda p: p.name)
def test_hook_files_stay_under_400_lines(path):
    assert len(path.read_text().splitlines()) <= 400
