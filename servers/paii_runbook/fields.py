"""Reading the YAML parts of a runbook (frontmatter, step blocks, preflight checks) with line numbers.

Every problem is a :class:`Problem` with the file line it is on and a sentence that says how to fix it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from paii_runbook import expect as expect_mod
from paii_runbook import regexsafe, yamlsafe
from paii_runbook.expect import Expect
from paii_runbook.spec import Check, Command, Parameter, Problem, Runbook, Severity, Step, Wait
from paii_runbook.yamlsafe import Budget

ACTIONS = ("run", "k8s_exec", "wait", "manual")
STEP_KEYS = (*ACTIONS, "timeout", "expect", "approval", "reason", "changes", "on_fail")
CHECK_KEYS = ("name", "run", "k8s_exec", "timeout", "expect", "required", "changes")
FRONT_KEYS = ("title", "description", "services", "parameters", "estimated_duration", "production",
              "maintenance_window", "maintenance_windows", "preflight", "owner", "tags")
PARAM_KEYS = ("description", "pattern", "default", "required", "example")
MAX_DEFAULT = 256  # as a value given at start (plan.MAX_VALUE)
MAX_TIMEOUT = 540.0  # a run_step call ends after 10 minutes (server.STEP_DEADLINE): a step fits in one


def _line(data: dict, key: str, offset: int) -> int:
    return offset + (data.get("__lines__", {}).get(key) or data.get("__line__", 1)) - 1


def _keys(data: dict) -> list[str]:
    return [k for k in data if not (isinstance(k, str) and k.startswith("__"))]


def load_yaml(text: str, offset: int, problems: list[Problem], what: str, budget: Budget | None = None) -> Any:
    """One YAML block of a runbook (a dict, list...) or None with its problem added (never raises)."""
    try:
        return yamlsafe.load(text, budget or Budget(), what)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = offset + (mark.line if mark else 0)
        if isinstance(exc, yamlsafe.Refused):
            problems.append(Problem(line, "error", f"{what}: {exc.problem}"))
        else:
            problems.append(Problem(line, "error", f"{what} is not valid YAML: {getattr(exc, 'problem', None) or exc}"))
    except (RecursionError, MemoryError, ValueError, TypeError) as exc:  # the loader's bounds should make these unreachable
        problems.append(Problem(offset, "error", f"{what} cannot be read ({type(exc).__name__}): simplify it"))
    return None


class _Reader:
    """Validates one YAML mapping (a step's block, a preflight check) into a Command and friends."""

    def __init__(self, data: dict, offset: int, where: str, problems: list[Problem]) -> None:
        self.data, self.offset, self.where, self.problems = data, offset, where, problems

    def err(self, key: str | None, message: str, severity: Severity = "error") -> None:
        line = _line(self.data, key, self.offset) if key else self.offset + self.data.get("__line__", 1) - 1
        self.problems.append(Problem(line, severity, f"{self.where}: {message}"))

    def argv(self, value: Any, key: str) -> list[str] | None:
        if not isinstance(value, list) or not value:
            self.err(key, f"{key} must be a non-empty list of arguments, e.g. [psql, -h, \"{{{{target}}}}\", -c, \"SELECT 1\"]"
                     " (never one shell string: nothing runs through a shell)")
            return None
        out = []
        for n, arg in enumerate(value, 1):
            if isinstance(arg, bool) or arg is None or isinstance(arg, dict | list):
                self.err(key, f"argument {n} of {key} is {arg!r}, not text: quote it (YAML reads bare on/off/yes/no "
                         "as booleans and ~ as null)")
                return None
            out.append(str(arg))
        if any("\x00" in a for a in out):
            self.err(key, f"{key} holds a NUL byte")
            return None
        return out

    def timeout(self, value: Any, key: str, default: float | None) -> float | None:
        if value is None:
            if default is None:
                self.err(None, f"{key} is required (seconds), e.g. {key}: 30")
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TIMEOUT:
            self.err(key, f"{key} must be a number of seconds between 0 and {MAX_TIMEOUT:.0f}")
            return default
        return float(value)

    def command(self, kind: str, value: Any, timeout: Any) -> Command | None:
        if kind == "run":
            argv = self.argv(value, "run")
            t = self.timeout(timeout, "timeout", None)
            return Command("run", argv, t) if argv and t else None
        if not isinstance(value, dict):
            self.err("k8s_exec", "k8s_exec must be a mapping: {namespace: payments, selector: app=payments-api, argv: [...]}")
            return None
        sub = _Reader(value, self.offset, self.where + " k8s_exec", self.problems)
        for key in _keys(value):
            if key not in ("namespace", "selector", "argv", "container", "context"):
                sub.err(key, f"unknown key {key!r} (known: namespace, selector, argv, container, context)")
        for key in ("namespace", "selector"):
            if not isinstance(value.get(key), str) or not value[key].strip():
                sub.err(None, f"{key} is required, e.g. namespace: payments, selector: app=payments-api")
        argv = sub.argv(value.get("argv"), "argv")
        t = self.timeout(timeout, "timeout", 30.0)
        if not argv or not isinstance(value.get("namespace"), str) or not isinstance(value.get("selector"), str):
            return None
        opt = {k: str(value[k]) for k in ("container", "context") if value.get(k) is not None}
        return Command("k8s_exec", argv, t or 30.0, namespace=value["namespace"], selector=value["selector"], **opt)

    def expectation(self, key: str) -> Expect | None:
        value = self.data.get(key)
        if value is None:
            return None
        issues = expect_mod.validate(value, f"{key}")
        if isinstance(value, dict) and "regex" in value and not issues:
            risk = regexsafe.problem(str(value["regex"]))
            if risk:
                issues.append(f"{key}: regex {str(value['regex'])[:80]!r} {risk}")
        for issue in issues:
            self.err(key, issue)
        return None if issues else Expect.from_mapping(value)


def read_step(step: Step, data: dict, offset: int, problems: list[Problem]) -> None:
    r = _Reader(data, offset, f"step {step.id}", problems)
    step.lines = {k: _line(data, k, offset) for k in _keys(data)}
    for key in _keys(data):
        if key not in STEP_KEYS:
            r.err(key, f"unknown key {key!r} (known: {', '.join(STEP_KEYS)})")
    actions = [k for k in ACTIONS if k in data]
    if len(actions) > 1:
        r.err(actions[1], f"a step has at most one action; this one has {', '.join(actions)}: split it into steps")
        return
    if actions:
        step.kind = actions[0]  # type: ignore[assignment]
    if step.kind in ("run", "k8s_exec"):
        step.command = r.command(step.kind, data[step.kind], data.get("timeout"))
    elif step.kind == "wait":
        step.wait = _read_wait(data["wait"], offset, f"step {step.id} wait", problems)
        if "timeout" in data:
            r.err("timeout", "a wait's timeout goes inside it: wait: {run: [...], every: 5, timeout: 300, until: {...}}")
    elif step.kind == "manual":
        if not isinstance(data["manual"], str) or not data["manual"].strip():
            r.err("manual", "manual must say what the person does, e.g. manual: Add a Grafana annotation")
        else:
            step.manual = data["manual"].strip()
    step.expect = r.expectation("expect")
    if step.expect and step.kind in ("manual", "note", "wait"):
        r.err("expect", f"a {step.kind} step has no output to expect: remove expect"
              + (" (a wait's condition is its until)" if step.kind == "wait" else ""))
    approval = data.get("approval")
    if approval is not None and approval not in ("required", "none"):
        r.err("approval", f"approval must be 'required' or 'none' (with a reason), not {approval!r}")
    elif approval is not None:
        step.approval = approval
    if isinstance(data.get("reason"), str):
        step.reason = data["reason"].strip()
    if step.approval == "none" and not step.reason:
        r.err("approval", "approval: none needs a reason: say why this change is safe without the person's approval")
    if "changes" in data:
        if not isinstance(data["changes"], bool):
            r.err("changes", "changes must be true or false")
        else:
            step.changes = data["changes"]
    on_fail = data.get("on_fail", "stop")
    if not isinstance(on_fail, str) or not on_fail.strip():
        r.err("on_fail", "on_fail must be 'stop' or the id of a rollback step")
    else:
        step.on_fail = on_fail.strip()


def _read_wait(value: Any, offset: int, where: str, problems: list[Problem]) -> Wait | None:
    if not isinstance(value, dict):
        problems.append(Problem(offset, "error", f"{where} must be a mapping: {{run: [...], every: 5, timeout: 300, until: {{...}}}}"))
        return None
    r = _Reader(value, offset, where, problems)
    for key in _keys(value):
        if key not in ("run", "k8s_exec", "every", "timeout", "until", "poll_timeout"):
            r.err(key, f"unknown key {key!r} (known: run or k8s_exec, every, timeout, until, poll_timeout)")
    kinds = [k for k in ("run", "k8s_exec") if k in value]
    if len(kinds) != 1:
        r.err(None, "a wait repeats one check: give run: [...] or k8s_exec: {...}")
        return None
    check = r.command(kinds[0], value[kinds[0]], value.get("poll_timeout", 30))
    every = r.timeout(value.get("every"), "every", None)
    total = r.timeout(value.get("timeout"), "timeout", None)
    if every and total and every > total:
        r.err("every", f"every ({every:g} s) is longer than the timeout ({total:g} s)")
    if "until" not in value:
        r.err(None, "until is required: the condition that ends the wait, e.g. until: {equals: 0}")
    until = r.expectation("until")
    if check and every and total and until:
        return Wait(check, every, total, until)
    return None


def read_front(rb: Runbook, front: dict, problems: list[Problem]) -> None:
    r = _Reader(front, 2, "frontmatter", problems)
    for key in _keys(front):
        if key not in FRONT_KEYS:
            r.err(key, f"unknown key {key!r} (known: {', '.join(FRONT_KEYS)})", "warning")
    for key in ("title", "description"):
        if not isinstance(front.get(key), str) or not front[key].strip():
            r.err(None, f"{key} is required (one line)")
        else:
            setattr(rb, key, " ".join(front[key].split()))
    services = front.get("services", [])
    if isinstance(services, str):
        services = [services]
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        r.err("services", "services must be a list of service names, e.g. [postgres, payments-api]")
    else:
        rb.services = [s.strip().lower() for s in services if s.strip()]
    if front.get("estimated_duration") is not None:
        rb.estimated_duration = str(front["estimated_duration"])
    for key in ("production", "maintenance_window"):
        if key in front and not isinstance(front[key], bool):
            r.err(key, f"{key} must be true or false")
        else:
            setattr(rb, key, bool(front.get(key, False)))
    windows = front.get("maintenance_windows", [])
    windows = [windows] if isinstance(windows, str) else windows
    from paii_runbook.windows import parse_window

    for spec in windows if isinstance(windows, list) else [None]:
        try:
            parse_window(spec)
            rb.maintenance_windows.append(spec)
        except (ValueError, TypeError) as exc:
            r.err("maintenance_windows", str(exc))
    _read_parameters(rb, front.get("parameters") or {}, problems)
    checks = front.get("preflight") or []
    if not isinstance(checks, list):
        r.err("preflight", "preflight must be a list of checks: - {name: ..., run: [...], timeout: 10, expect: {...}}")
        checks = []
    for n, item in enumerate(checks, 1):
        if not isinstance(item, dict):
            r.err("preflight", f"preflight check {n} must be a mapping")
            continue
        name = item.get("name") if isinstance(item.get("name"), str) else f"check {n}"
        cr = _Reader(item, 2, f"preflight {name!r}", problems)
        for key in _keys(item):
            if key not in CHECK_KEYS:
                cr.err(key, f"unknown key {key!r} (known: {', '.join(CHECK_KEYS)})")
        if not isinstance(item.get("name"), str):
            cr.err(None, "name is required, e.g. name: Replica lag")
        kinds = [k for k in ("run", "k8s_exec") if k in item]
        if len(kinds) != 1:
            cr.err(None, "a preflight check runs one command: run: [...] or k8s_exec: {...}")
            continue
        command = cr.command(kinds[0], item[kinds[0]], item.get("timeout"))
        exp = cr.expectation("expect") or Expect()
        required = item.get("required", True)
        if command:
            changes = item.get("changes") if isinstance(item.get("changes"), bool) else None
            rb.preflight.append(Check(name, command, exp, bool(required), changes, _line(item, "name", 2)))


def _read_parameters(rb: Runbook, params: Any, problems: list[Problem]) -> None:
    if not isinstance(params, dict):
        problems.append(Problem(2, "error", "frontmatter: parameters must be a mapping of name -> {description, pattern, default}"))
        return
    for name in _keys(params):
        spec = params[name]
        line = _line(params, name, 2)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)):
            problems.append(Problem(line, "error", f"parameter {name!r}: use letters, digits and _ (it is written {{{{{name}}}}})"))
            continue
        spec = {"description": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, dict):
            problems.append(Problem(line, "error", f"parameter {name}: give {{description, pattern, default}}"))
            continue
        for key in _keys(spec):
            if key not in PARAM_KEYS:
                problems.append(Problem(line, "error", f"parameter {name}: unknown key {key!r} (known: {', '.join(PARAM_KEYS)})"))
        p = Parameter(name, str(spec.get("description") or ""))
        if spec.get("pattern") is not None:
            try:
                re.compile(str(spec["pattern"]))
            except re.error as exc:
                problems.append(Problem(line, "error", f"parameter {name}: pattern does not compile: {exc}"))
            else:
                risk = regexsafe.problem(str(spec["pattern"]))
                if risk:
                    problems.append(Problem(line, "error", f"parameter {name}: pattern {str(spec['pattern'])[:80]!r} {risk}"))
                else:
                    p.pattern = str(spec["pattern"])
        if spec.get("default") is not None:
            p.default = str(spec["default"])
            if len(p.default) > MAX_DEFAULT:
                problems.append(Problem(line, "error", f"parameter {name}: the default is over {MAX_DEFAULT} characters"))
            elif p.pattern and not re.fullmatch(p.pattern, p.default):
                problems.append(Problem(line, "error", f"parameter {name}: the default {p.default!r} does not match its pattern"))
        p.required = bool(spec.get("required", p.default is None))
        if spec.get("example") is not None:
            p.example = str(spec["example"])
        rb.parameters[name] = p
