"""The runbook format: what parses, and every problem reported with its file line."""

from __future__ import annotations

from pathlib import Path

import pytest

from paii_common.errors import InvalidInput
from paii_runbook.lint import classify, lint_file

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
---
title: Restart the cache
description: Restart cache pods one by one.
services: [cache]
parameters:
  host: {description: the host, pattern: '^[a-z0-9-]+$', example: cache-1}
preflight:
  - name: Cache answers
    run: [echo, PONG]
    timeout: 5
    expect: {regex: PONG}
---
Intro.

## Step 1: Look first
Prose for the person.
```yaml
run: [echo, "{{host}}"]
timeout: 5
```

## Step 2: Restart
```yaml
run: [systemctl, restart, "cache@{{host}}"]
timeout: 60
approval: required
on_fail: undo
```

## Step 3: Tell people
```yaml
manual: Post in #ops that {{host}} restarted.
```

## Rollback undo: Start it again
```yaml
run: [systemctl, start, "cache@{{host}}"]
timeout: 60
approval: required
```
"""


def problems(h, text: str, name: str = "book"):
    path = h.book(name, text)
    rb, found = lint_file(path)
    return rb, [(p.line, p.severity, p.message) for p in found]


def test_a_well_formed_runbook_parses_into_steps_rollbacks_and_checks(h):
    rb, found = problems(h, GOOD)
    assert found == []
    assert [s.id for s in rb.steps] == ["1", "2", "3"] and list(rb.rollbacks) == ["undo"]
    assert rb.steps[1].approval == "required" and rb.steps[1].on_fail == "undo"
    assert rb.steps[2].kind == "manual" and rb.steps[2].needs_person
    assert rb.steps[0].prose == "Prose for the person." and rb.parameters["host"].required
    assert rb.preflight[0].name == "Cache answers"


@pytest.mark.parametrize("text, line, fragment", [
    (GOOD.replace("timeout: 60\napproval: required\non_fail: undo", "approval: required\non_fail: undo"), 24,
     "timeout is required"),
    (GOOD.replace("on_fail: undo", "on_fail: nowhere"), 27, "on_fail 'nowhere'"),
    (GOOD.replace('run: [echo, "{{host}}"]', 'run: [echo, "{{hots}}"]'), 18, "{{hots}} is not a declared parameter"),
    (GOOD.replace("## Step 2: Restart", "## Step 3: Restart"), 22, "number the steps"),
    (GOOD.replace('run: [echo, "{{host}}"]\ntimeout: 5', 'run: [echo, on]\ntimeout: 5'), 18, "not text: quote it"),
    (GOOD.replace("timeout: 5\n```\n\n## Step 2", "timeout: 5\nmanual: also this\n```\n\n## Step 2"), 20,
     "at most one action"),
    (GOOD.replace("run: [echo, PONG]", "run: [redis-cli, flushall]"), 8, "must only read"),
    (GOOD.replace("expect: {regex: PONG}", "expect: {regex: '(unclosed'}"), 11, "does not compile"),
    (GOOD.replace("title: Restart the cache\n", ""), 2, "title is required"),
    (GOOD.replace("  - name: Cache answers\n", "  - name: [Cache answers\n"), 9, "not valid YAML"),
])
def test_each_problem_names_its_line_and_what_is_wrong(h, text, line, fragment):
    _, found = problems(h, text)
    errors = [(n, m) for n, sev, m in found if sev == "error"]
    assert any(fragment in m and n == line for n, m in errors), found


def test_a_changing_step_without_approval_is_a_warning_and_an_acknowledged_one_a_note(h):
    text = GOOD.replace("timeout: 60\napproval: required\non_fail: undo", "timeout: 60\non_fail: undo")
    _, found = problems(h, text)
    assert (24, "warning", "step 2 changes something (PAII cannot tell that systemctl only reads) but has no approval: "
            "add approval: required, or approval: none with a reason") in found
    _, found = problems(h, text.replace("on_fail: undo", "approval: none\nreason: a cache restart loses nothing\non_fail: undo"), "b")
    assert [sev for _, sev, _ in found] == ["note"]
    _, found = problems(h, text.replace("on_fail: undo", "approval: none\non_fail: undo"), "c")
    assert any("needs a reason" in m for _, _, m in found)


def test_a_parameter_inside_a_longer_argument_needs_a_pattern(h):
    text = GOOD.replace("host: {description: the host, pattern: '^[a-z0-9-]+$', example: cache-1}", "host: {description: the host}")
    _, found = problems(h, text)
    assert any(sev == "error" and "inside a longer argument" in m for _, sev, m in found)


def test_the_shipped_runbooks_lint_without_errors_or_warnings():
    for path in sorted((ROOT / "runbooks").glob("*.md")):
        rb, found = lint_file(path)
        assert [p for p in found if p.severity != "note"] == [], (path, found)
        assert rb.steps
    rb, _ = lint_file(ROOT / "runbooks/database-failover.md")
    assert len(rb.steps) == 12 and [s.id for s in rb.steps if s.needs_person] == ["5", "9", "12"]
    assert [s.id for s in rb.steps if s.approval == "required"] == ["5", "9"]


def test_the_complete_example_in_the_docs_lints_clean(h):
    import re

    example = re.search(r"````markdown\n(.*?)````", (ROOT / "docs/runbooks.md").read_text(), re.S).group(1)
    rb, found = problems(h, example, "restart-cache")
    assert found == [] and [s.kind for s in rb.steps] == ["run", "run", "wait", "k8s_exec", "manual"]
    assert list(rb.rollbacks) == ["page-owner"]


def test_an_invalid_runbook_never_starts_and_the_error_says_where(h):
    h.book("broken", GOOD.replace("on_fail: undo", "on_fail: nowhere"))
    with pytest.raises(InvalidInput, match=r"broken.md:27: error: step 2: on_fail 'nowhere'"):
        h.engine.start("broken", {"host": "cache-1"}, dry_run=True)
    assert not h.settings.runs_dir.exists() or not list(h.settings.runs_dir.rglob("*.json"))


@pytest.mark.parametrize("argv, changes", [
    (["psql", "-h", "db", "-At", "-c", "SELECT count(*) FROM pg_stat_activity"], False),
    (["psql", "-Atc", "SHOW default_transaction_read_only"], False),
    (["psql", "-c", "ALTER SYSTEM SET default_transaction_read_only = on;", "-c", "SELECT pg_reload_conf();"], True),
    (["psql", "-c", "SELECT pg_promote(true, 60)"], True),
    (["psql", "-c", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"], True),
    (["psql", "-h", "db", "-f", "fix.sql"], True),
    (["kubectl", "-n", "payments", "get", "pods"], False),
    (["kubectl", "--namespace", "payments", "patch", "service", "x"], True),
    (["curl", "-s", "https://grafana/api/health"], False),
    (["curl", "-X", "POST", "https://grafana/api/annotations"], True),
    (["curl", "--data", "{}", "https://x"], True),
    (["python", "manage.py", "dbstats"], False),
    (["python", "manage.py", "migrate"], True),
    (["cat", "/proc/loadavg"], False),
    (["mystery-tool"], True),
])
def test_the_classifier_knows_reads_from_changes(argv, changes):
    assert classify(argv)[0] is changes
