"""The runbook format: markdown with YAML frontmatter and numbered steps (docs/runbooks.md).

    ---
    title: Database failover
    description: Promote the replica when the primary must go.
    parameters:
      target: {description: The primary, pattern: '^[a-z0-9][a-z0-9-]*$'}
    preflight:
      - name: Replica lag
        run: [psql, -h, "{{target}}", -Atc, "SELECT ..."]
        timeout: 10
        expect: {lt: 5}
    ---
    ## Step 1: Enable read-only mode on primary
    Prose for the person.
    ```yaml
    run: [psql, -h, "{{target}}", -c, "ALTER SYSTEM SET default_transaction_read_only = on;"]
    timeout: 30
    approval: required
    ```
    ## Rollback re-enable-writes: Turn writes back on
    ```yaml
    run: [...]
    ```

:func:`parse` never raises on a bad file: it returns what it could read and the problems, each
with its line. :mod:`paii_runbook.lint` adds the checks that need judgement (what changes things).
"""

from __future__ import annotations

import re
from pathlib import Path

from paii_runbook import files
from paii_runbook.fields import load_yaml, read_front, read_step
from paii_runbook.spec import Check, Command, Parameter, Problem, Runbook, Severity, Step, Wait
from paii_runbook.yamlsafe import Budget

__all__ = ["Check", "Command", "Parameter", "Problem", "Runbook", "Severity", "Step", "Wait", "parse", "placeholders"]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
#: the largest runbook file read (PAII_RUNBOOK_MAX_FILE_KB); a real one is a few KB
MAX_FILE_BYTES = 128 * 1024
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
# the title is stripped after the match: "(\S.*?)\s*$" took quadratic time on a long line of spaces
STEP_HEADING = re.compile(r"^##\s+Step\s+(\d+)\s*[:.\-–]\s*(\S.*)$")
ROLLBACK_HEADING = re.compile(r"^##\s+Rollback\s+([a-z0-9][a-z0-9-]*)\s*:\s*(\S.*)$")


def _fences(lines: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, info) of each fenced block (0-based line numbers of the fences)."""
    out, open_at, marker, info = [], None, "", ""
    for i, line in enumerate(lines):
        s = line.strip()
        if open_at is None:
            m = re.match(r"^(`{3,}|~{3,})\s*(.*)$", s)
            if m:
                open_at, marker, info = i, m.group(1), m.group(2).strip()
        elif s.startswith(marker) and not s[len(marker):].strip():
            out.append((open_at, i, info))
            open_at = None
    if open_at is not None:
        out.append((open_at, len(lines), info))
    return out


def parse(path: Path, text: str | None = None, *, max_bytes: int = MAX_FILE_BYTES) -> Runbook:
    """Read a runbook file; problems are in ``.problems`` (nothing raises for a bad file).

    Without ``text`` the file is read with :func:`paii_runbook.files.read` (a regular file, at most
    ``max_bytes``). Parsing is bounded: its YAML by :mod:`paii_runbook.yamlsafe`, the rest is linear."""
    path = Path(path)
    if text is None:
        try:
            _, text = files.read(path, None, max_bytes)
        except files.Unreadable as exc:
            rb = Runbook(path.stem, path, "")
            rb.problems.append(Problem(1, "error", f"{path.name} {exc}"))
            return rb
    rb = Runbook(path.stem, path, text or "")
    budget = Budget()
    problems = rb.problems
    if not NAME.match(rb.name):
        problems.append(Problem(1, "error", f"the file name {path.name!r} is not a runbook name: use lowercase letters, digits and -"))
    lines = text.replace("\r\n", "\n").split("\n")
    body_start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is None:
            problems.append(Problem(1, "error", "the frontmatter has no closing --- line"))
            return rb
        front = load_yaml("\n".join(lines[1:end]), 2, problems, "the frontmatter", budget)
        if isinstance(front, dict):
            read_front(rb, front, problems)
        elif front is not None:
            problems.append(Problem(2, "error", "the frontmatter must be a YAML mapping (title: ..., description: ...)"))
        body_start = end + 1
    else:
        problems.append(Problem(1, "error", "no YAML frontmatter: start the file with --- title: ... description: ... ---"))
    _read_body(rb, lines, body_start, budget)
    _check_refs(rb)
    return rb


def _read_body(rb: Runbook, lines: list[str], start: int, budget: Budget) -> None:
    problems = rb.problems
    fences = [f for f in _fences(lines) if f[0] >= start]
    in_fence = {i for a, b, _ in fences for i in range(a, b + 1)}
    sections: list[tuple[int, str | None, Step | None]] = []  # (heading line, kind, step)
    for i in range(start, len(lines)):
        line = lines[i]
        if i in in_fence or not line.startswith("## "):
            continue
        m, r = STEP_HEADING.match(line), ROLLBACK_HEADING.match(line)
        if m:
            sections.append((i, "step", Step(m.group(1), m.group(2).strip(), i + 1)))
        elif r:
            sections.append((i, "rollback", Step(r.group(1), r.group(2).strip(), i + 1, rollback=True)))
        else:
            if re.match(r"^##\s+(Step|Rollback)\b", line, re.IGNORECASE):
                problems.append(Problem(i + 1, "error", "write step headings as '## Step N: Title' and rollbacks as "
                                        "'## Rollback <id>: Title'"))
            sections.append((i, None, None))
    notes = []
    first = sections[0][0] if sections else len(lines)
    notes.append("\n".join(lines[start:first]).strip())
    next_fence = 0
    for n, (at, kind, step) in enumerate(sections):
        end = sections[n + 1][0] if n + 1 < len(sections) else len(lines)
        if step is None:
            notes.append("\n".join(lines[at:end]).strip())
            continue
        blocks = []
        while next_fence < len(fences) and fences[next_fence][0] < end:  # fences are in order: one pass for all
            if fences[next_fence][0] > at and fences[next_fence][2].split()[:1] == ["yaml"]:
                blocks.append(fences[next_fence])
            next_fence += 1
        if len(blocks) > 1:
            problems.append(Problem(blocks[1][0] + 1, "error", f"step {step.id} has {len(blocks)} yaml blocks: "
                                    "one step, one action block (split it into steps)"))
        prose_lines = lines[at + 1:end]
        if blocks:
            a, b, _ = blocks[0]
            step.block_line = a + 1
            data = load_yaml("\n".join(lines[a + 1:b]), a + 2, problems, f"step {step.id}'s yaml block", budget)
            if isinstance(data, dict):
                read_step(step, data, a + 2, problems)
            elif data is not None:
                problems.append(Problem(a + 2, "error", f"step {step.id}'s yaml block must be a mapping (run: [...], timeout: 30)"))
            prose_lines = lines[at + 1:a] + lines[b + 1:end]
        step.prose = "\n".join(prose_lines).strip()
        if kind == "rollback":
            if step.id in rb.rollbacks:
                problems.append(Problem(step.line, "error", f"two rollback steps are called {step.id!r}"))
            rb.rollbacks[step.id] = step
        else:
            rb.steps.append(step)
    rb.notes = "\n\n".join(n for n in notes if n)
    if not rb.steps:
        problems.append(Problem(start + 1, "error", "no steps: write '## Step 1: Title' headings, each with a ```yaml block"))
    for n, step in enumerate(rb.steps, 1):
        if step.id != str(n):
            problems.append(Problem(step.line, "error", f"step {step.id} is step number {n}: number the steps 1, 2, 3... in order"))
            break


def placeholders(rb: Runbook) -> list[tuple[int, str, str, bool]]:
    """(line, where, name, whole) for every {{name}} in a command; whole = the entire argument."""
    out = []

    def scan(cmd: Command | None, line: int, where: str) -> None:
        if cmd is None:
            return
        for arg in [*cmd.argv, cmd.namespace or "", cmd.selector or "", cmd.container or "", cmd.context or ""]:
            for m in PLACEHOLDER.finditer(arg):
                out.append((line, where, m.group(1), m.group(0) == arg.strip() and m.start() == 0))

    for c in rb.preflight:
        scan(c.command, c.line, f"preflight {c.name!r}")
    for s in [*rb.steps, *rb.rollbacks.values()]:
        scan(s.command or (s.wait.check if s.wait else None), s.line_of(), f"step {s.id}")
    return out


def _check_refs(rb: Runbook) -> None:
    for line, where, name, _ in placeholders(rb):
        if name not in rb.parameters:
            rb.problems.append(Problem(line, "error", f"{where}: {{{{{name}}}}} is not a declared parameter "
                                       f"(declared: {', '.join(rb.parameters) or 'none'})"))
    for s in [*rb.steps, *rb.rollbacks.values()]:
        if s.on_fail != "stop" and s.on_fail not in rb.rollbacks:
            rb.problems.append(Problem(s.line_of("on_fail"), "error", f"step {s.id}: on_fail {s.on_fail!r} is not 'stop' or "
                                       f"a rollback step (## Rollback <id>: ...); rollbacks: {', '.join(rb.rollbacks) or 'none'}"))
