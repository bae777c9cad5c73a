"""Scenarios: a skill's sequence of tool calls, described once (``scenarios/<name>.yaml``).

``make demo`` and the end-to-end tests both run these files through MCP clients; a test checks
that each skill's SKILL.md names the same tools in the same order. A step::

    - id: incident                   # its result is {incident...} in later expressions
      server: pagerduty              # which MCP server (a missing one: "not configured, skipped")
      tool: get_incident
      args: {incident_id: "{incidents.incidents[0].id}"}
      needs: [incidents]             # skipped when one of these failed or was skipped
      each: "{oncalls.oncalls}"      # optional: one call per item ({item} in args)
      when: "{channel.created}"      # optional: skipped (not failed) when false
      pick:                          # optional: the first item of `from` whose `pattern` (a regex)
        from: "{vars.checks}"        #   is found in `match` is {pick} in args; none: skipped
        match: "{similar.hits[0].root_cause ?? ''}"
      by_hand: acknowledge by hand   # what the person must do if the step cannot run

Expressions: ``{a.b[0].c}``, ``{a.b[-1]}`` (the last), ``{a[*].b}`` (a list), ``{a[?b][0]}`` (the first item of a
that has a b), ``{x ?? y}`` (y when x is missing),
``'literal'``, ``{input}``, ``{vars.name}``, ``{gaps.<step id>}`` (a step that did not succeed, as a
timeline gap: ``{"source": its server, "gap": why}``), ``{times.since}`` (the scenario's ``times:``, relative
to the clock, e.g. ``since: -24h``), ``{now}``. A string that is one expression keeps the value's
type; otherwise values are put into the text (a list: one per line where the expression is a
line of its own, else joined with ", "). In a list of args, a mapping with a value that has no
value is left out (an optional entry, such as a link to a channel that could not be created); in
a mapping inside the args, such a key is left out. Text the servers marked ``‹untrusted: …›`` is
passed on as its plain text, as the model does when it searches for a title it read: the marker
is for the model's eyes, not part of the title.

A server that answers "not configured" (its settings are missing) is skipped for the rest of the
run, like a server that is not there ("Jira: not configured, skipped"); one that cannot be
reached is skipped too, and the report says what to do by hand.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from paii_common.untrusted import unmark

#: an error text that means the service could not be reached at all
UNREACHABLE = re.compile(r"could not reach|unreachable|connection refused|timed out|timeout", re.I)
#: an error text that means the server has no settings (paii_common.errors.NotConfigured)
NOT_CONFIGURED = re.compile(r"\bis not configured: set ")
CALL_TIMEOUT = 60.0
SERVICE_NAMES = {"pagerduty": "PagerDuty", "slack": "Slack", "history": "History", "jira": "Jira",
                 "kubernetes": "Kubernetes", "runbook": "Runbook"}


class ToolClient(Protocol):
    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> Any: ...


@dataclass
class Step:
    id: str
    server: str
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    needs: list[str] = field(default_factory=list)
    each: str | None = None
    when: str | None = None
    pick: dict[str, str] | None = None
    by_hand: str | None = None


@dataclass
class Scenario:
    name: str
    skill: str
    title: str
    input: str
    steps: list[Step]
    report: list[str]
    vars: dict[str, Any] = field(default_factory=dict)
    times: dict[str, str] = field(default_factory=dict)
    covers: list[int] = field(default_factory=list)
    path: Path | None = None

    @property
    def tools(self) -> list[str]:
        return [s.tool for s in self.steps]


@dataclass
class Outcome:
    step: Step
    status: str  # ok | failed | skipped
    data: Any = None
    error: str | None = None
    reason: str | None = None
    args: Any = None
    picked: Any = None  # the item the step's ``pick`` chose

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Run:
    scenario: Scenario
    context: dict[str, Any]
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)
    not_configured: set[str] = field(default_factory=set)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.status == "failed"]

    def data(self, step_id: str, default: Any = None) -> Any:
        o = self.outcomes.get(step_id)
        return o.data if o is not None and o.ok else default


def scenario_dir() -> Path:
    return Path(str(resources.files("paii_sandbox").joinpath("scenarios")))


def load(name_or_path: str | Path) -> Scenario:
    import yaml

    path = Path(name_or_path)
    if not path.suffix:
        path = scenario_dir() / f"{name_or_path}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = [Step(**s) for s in data["steps"]]
    ids = [s.id for s in steps]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: step ids must be unique")
    for s in steps:
        unknown = [n for n in s.needs if n not in ids[: ids.index(s.id)]]
        if unknown:
            raise ValueError(f"{path}: step {s.id} needs {unknown}, which do not come before it")
    return Scenario(name=data["name"], skill=data["skill"], title=data.get("title", data["name"]), input=data.get("input", ""),
                    steps=steps, report=list(data.get("report") or []), vars=dict(data.get("vars") or {}),
                    times={k: str(v) for k, v in (data.get("times") or {}).items()}, covers=list(data.get("covers") or []),
                    path=path)


# ---------------------------------------------------------------------- expressions
_MISSING = object()
_EXPR = re.compile(r"\{([^{}]+)\}")
_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(-?\d+|\*|\?[A-Za-z_][A-Za-z0-9_]*)\]")


def _lookup(path: str, scope: dict[str, Any]) -> Any:
    values: list[Any] = [scope]
    spread = False
    for name, index in _PART.findall(path.strip()):
        nxt: list[Any] = []
        for v in values:
            if name:
                got = v.get(name, _MISSING) if isinstance(v, dict) else getattr(v, name, _MISSING)
            elif index == "*":
                spread = True
                nxt.extend(v if isinstance(v, list) else [])
                continue
            elif index.startswith("?"):  # the items that have this field (not empty), still a list
                got = [x for x in v if isinstance(x, dict) and x.get(index[1:]) not in (None, "", [])] \
                    if isinstance(v, list) else _MISSING
            else:
                got = v[int(index)] if isinstance(v, list) and -len(v) <= int(index) < len(v) else _MISSING
            if got is not _MISSING and got is not None:
                nxt.append(got)
        values = nxt
        if not values and not spread:
            return _MISSING
    if spread:
        return values
    return values[0] if values else _MISSING


def evaluate(expr: str, scope: dict[str, Any]) -> Any:
    for option in expr.split("??"):
        option = option.strip()
        if len(option) >= 2 and option[0] == option[-1] == "'":
            return option[1:-1]  # a literal: the last resort
        value = _lookup(option, scope)
        if value is not _MISSING and value != [] and value != "":
            return value
    return _MISSING


def resolve(value: Any, scope: dict[str, Any], *, loose: bool = False) -> Any:
    """Fill the ``{...}`` expressions in a step's args; raises KeyError naming a missing one. ``loose``
    (a mapping that is an argument's value): a key without a value is left out instead."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            try:
                out[k] = resolve(v, scope, loose=isinstance(v, dict))
            except KeyError:
                if not loose:
                    raise
        return out
    if isinstance(value, list):
        out: list[Any] = []
        for v in value:
            try:
                got = resolve(v, scope)
            except KeyError:
                if isinstance(v, dict):
                    continue  # an optional entry
                raise
            out.extend(got if isinstance(got, list) and isinstance(v, str) and _EXPR.fullmatch(v) else [got])
        return out
    if not isinstance(value, str):
        return value
    whole = _EXPR.fullmatch(value)
    if whole:
        got = evaluate(whole.group(1), scope)
        if got is _MISSING:
            raise KeyError(whole.group(1))
        return unmark(got) if isinstance(got, str) else got

    def text(match: re.Match[str]) -> str:
        got = evaluate(match.group(1), scope)
        if got is _MISSING:
            raise KeyError(match.group(1))
        if not isinstance(got, list):
            return unmark(str(got))
        alone = value[: match.start()].rpartition("\n")[2] == "" \
            and value[match.end():].partition("\n")[0] == ""
        return ("\n" if alone else ", ").join(unmark(str(g)) for g in got)

    return _EXPR.sub(text, value)


# ---------------------------------------------------------------------- running
def _result(result: Any) -> tuple[bool, Any, str]:
    text = " ".join(getattr(c, "text", "") for c in (result.content or []))
    return bool(result.is_error), result.structured_content, text


async def run(scenario: Scenario, clients: dict[str, ToolClient], *, now: str = "",
              on_step: Callable[[Outcome], Awaitable[None] | None] | None = None) -> Run:
    """Run every step in order; a failure skips what needs it and the rest goes on."""
    r = Run(scenario, {"input": scenario.input, "vars": scenario.vars, "now": now, "times": _times(scenario, now),
                       "gaps": {}})
    for step in scenario.steps:
        outcome = await _run_step(r, step, clients)
        r.outcomes[step.id] = outcome
        if outcome.ok:
            r.context[step.id] = outcome.data
        else:  # what a timeline merge is told instead: {gaps.<id>} names the source and why it is missing
            why = " ".join((outcome.reason or outcome.error or "not read").split())[:200]
            r.context["gaps"][step.id] = {"source": step.server, "gap": why}
        if on_step is not None:
            maybe = on_step(outcome)
            if asyncio.iscoroutine(maybe):
                await maybe
    return r


def _times(scenario: Scenario, now: str) -> dict[str, str]:
    """The scenario's ``times:`` (``since: -24h``) as ISO times relative to ``now`` (default: real time)."""
    from datetime import UTC, datetime

    from paii_sandbox.timeparse import iso, parse_when

    base = parse_when(now, datetime.now(UTC)) if now else datetime.now(UTC)
    return {k: iso(parse_when(v, base)) for k, v in scenario.times.items()}


async def _run_step(r: Run, step: Step, clients: dict[str, ToolClient]) -> Outcome:
    service = SERVICE_NAMES.get(step.server, step.server)
    if step.server not in clients or step.server in r.not_configured:
        return Outcome(step, "skipped", reason=f"{service}: not configured, skipped")
    if step.server in r.unreachable:
        return Outcome(step, "skipped", reason=f"{service} unreachable")
    blocked = [n for n in step.needs if not r.outcomes[n].ok]
    if blocked:
        return Outcome(step, "skipped", reason=f"needs {', '.join(blocked)}")
    try:
        if step.when is not None and not resolve(step.when, r.context):
            return Outcome(step, "skipped", reason="not needed")
        items = resolve(step.each, r.context) if step.each else [None]
        pick = pick_item(step, r.context)
    except KeyError as exc:
        return Outcome(step, "skipped", reason=f"no value for {exc.args[0]}")
    if pick is _MISSING:
        return Outcome(step, "skipped", reason="nothing to pick: no item matches")
    results, calls = [], []
    for item in items:
        try:
            args = resolve(step.args, {**r.context, "item": item, "pick": pick})
        except KeyError as exc:
            return Outcome(step, "skipped", reason=f"no value for {exc.args[0]}")
        calls.append(args)
        try:
            result = await asyncio.wait_for(clients[step.server].call_tool(step.tool, args), CALL_TIMEOUT)
        except (TimeoutError, asyncio.TimeoutError):
            r.unreachable.add(step.server)
            return Outcome(step, "failed", error=f"{service} {step.tool} did not answer in {CALL_TIMEOUT:.0f} s", args=args)
        is_error, data, text = _result(result)
        if is_error:
            if NOT_CONFIGURED.search(text):
                r.not_configured.add(step.server)
                return Outcome(step, "skipped", reason=f"{service}: not configured, skipped", error=text.strip(), args=args)
            if UNREACHABLE.search(text):
                r.unreachable.add(step.server)
            return Outcome(step, "failed", error=text.strip() or "tool error", args=args, picked=pick,
                           data=results if step.each else None)  # what the calls before it returned
        results.append(data)
    return Outcome(step, "ok", data=results if step.each else results[0], args=calls if step.each else calls[0], picked=pick)


def pick_item(step: Step, scope: dict[str, Any]) -> Any:
    """The step's ``pick``: the first item of ``from`` whose ``pattern`` is found in ``match``
    (None without a ``pick``; ``_MISSING`` when nothing matches; KeyError when ``from`` has no value)."""
    if not step.pick:
        return None
    items = resolve(step.pick["from"], scope)
    text = str(resolve(step.pick.get("match") or "", scope) or "")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and re.search(str(item.get("pattern") or "(?!)"), text, re.I):
            return item
    return _MISSING
