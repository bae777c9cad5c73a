"""Parameters in, exact commands out: substitution, the plan the person reviews, the command hash.

A parameter's value replaces ``{{name}}`` inside one argument and stays inside it: it is never
split into several arguments and no shell ever reads it. Values are checked against the
parameter's pattern (a full match), may not start with ``-`` (it would read as an option) and
may not hold control characters.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Any

from paii_common.errors import InvalidInput
from paii_runbook.format import PLACEHOLDER, Command, Runbook, Step
from paii_runbook.lint import step_changes
from paii_runbook.models import Param, PlanStep

MAX_VALUE = 256


def resolve_params(rb: Runbook, given: dict[str, Any] | None) -> dict[str, str]:
    given = dict(given or {})
    unknown = sorted(set(given) - set(rb.parameters))
    if unknown:
        raise InvalidInput(f"{rb.name} has no parameter {', '.join(unknown)}; it takes: "
                           f"{', '.join(rb.parameters) or 'none'} (get_runbook shows them).")
    out: dict[str, str] = {}
    for name, p in rb.parameters.items():
        value = given.get(name, p.default)
        if value is None:
            if p.required:
                eg = f", e.g. {p.example}" if p.example else ""
                raise InvalidInput(f"parameter {name} is required ({p.description or 'see get_runbook'}{eg}).")
            value = ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidInput(f"parameter {name} must be text, not {type(value).__name__}.")
        value = str(value)
        if len(value) > MAX_VALUE or re.search(r"[\x00-\x1f\x7f]", value):
            raise InvalidInput(f"parameter {name}: at most {MAX_VALUE} characters, no control characters or newlines.")
        if value.startswith("-"):
            raise InvalidInput(f"parameter {name} may not start with '-' (a command would read it as an option).")
        if value and p.pattern and not re.fullmatch(p.pattern, value):
            raise InvalidInput(f"parameter {name}={value!r} does not match its pattern {p.pattern}"
                               + (f" (e.g. {p.example})." if p.example else "."))
        out[name] = value
    return out


def substitute(text: str | None, params: dict[str, str]) -> str | None:
    if text is None:
        return None
    return PLACEHOLDER.sub(lambda m: params.get(m.group(1), m.group(0)), text)


def resolve_command(cmd: Command, params: dict[str, str]) -> Command:
    return dataclasses.replace(
        cmd,
        argv=[substitute(a, params) for a in cmd.argv],
        namespace=substitute(cmd.namespace, params),
        selector=substitute(cmd.selector, params),
        container=substitute(cmd.container, params),
        context=substitute(cmd.context, params),
    )


def step_command(step: Step, params: dict[str, str]) -> Command | None:
    cmd = step.command or (step.wait.check if step.wait else None)
    return resolve_command(cmd, params) if cmd else None


def action(step: Step, params: dict[str, str]) -> dict[str, Any]:
    """The resolved action, canonical: what an approval is bound to (through its hash)."""
    out: dict[str, Any] = {"step": step.id, "kind": step.kind}
    cmd = step_command(step, params)
    if cmd:
        out.update(argv=cmd.argv, timeout=cmd.timeout, namespace=cmd.namespace, selector=cmd.selector,
                   container=cmd.container, context=cmd.context)
    if step.wait:
        out.update(every=step.wait.every, wait_timeout=step.wait.timeout, until=step.wait.until.describe())
    if step.expect:
        out["expect"] = step.expect.describe()
    if step.manual:
        out["manual"] = substitute(step.manual, params)
    return out


def command_sha(run_id: str, act: dict[str, Any]) -> str:
    blob = json.dumps({"run": run_id, **act}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def pod_text(cmd: Command) -> str:
    parts = [f"namespace {cmd.namespace}", f"selector {cmd.selector}"]
    if cmd.container:
        parts.append(f"container {cmd.container}")
    if cmd.context:
        parts.append(f"context {cmd.context}")
    return ", ".join(parts) + " (first ready pod)"


def plan_step(step: Step, params: dict[str, str], *, prose: bool = False) -> PlanStep:
    cmd = step_command(step, params)
    out = PlanStep(id=step.id, title=step.title, kind=step.kind, approval=step.needs_person,
                   changes=step_changes(step)[0], on_fail=None if step.on_fail == "stop" else step.on_fail)
    if cmd:
        out.argv = cmd.argv
        if cmd.kind == "k8s_exec":
            out.pod = pod_text(cmd)
    if step.wait:
        out.wait = f"every {step.wait.every:g} s, up to {step.wait.timeout:g} s, until {step.wait.until.describe()}"
    if step.expect:
        out.expect = step.expect.describe()
    if step.manual:
        out.manual = substitute(step.manual, params)
    if prose and step.prose:
        out.prose = substitute(step.prose, params)
    return out


def params_view(rb: Runbook) -> list[Param]:
    return [Param(**dataclasses.asdict(p)) for p in rb.parameters.values()]
