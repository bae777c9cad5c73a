"""Read views for the tools: runbook summaries, the detail with its plan, the find ranking, a run's status."""

from __future__ import annotations

import math
from typing import Any, TypeVar

from pydantic import BaseModel

from paii_common.errors import Conflict, InvalidInput, NotFound
from paii_common.redact import mask
from paii_runbook import approvals
from paii_runbook.catalog import Loaded
from paii_runbook.engine import Engine, _halted_options
from paii_runbook.models import (
    FindResult,
    FoundRunbook,
    LastRun,
    NextStep,
    PlanStep,
    RunbookDetail,
    RunbookList,
    RunbookSummary,
    RunStatus,
    StepState,
)
from paii_runbook.plan import params_view, plan_step, resolve_command, resolve_params
from paii_runbook.record import words

MAX_LIST = 100
M = TypeVar("M", bound=BaseModel)


def masked(model: M) -> M:
    """``model`` with secrets masked in every text: a runbook file may hold a token someone pasted.
    (Every tool result is masked again in ``paii_common.calls``; this is for the CLI's output.)"""
    return type(model).model_validate(mask(model.model_dump()))


def _problems(loaded: Loaded, severities=("error",)) -> list[str]:
    return [p.render(loaded.runbook.path) for p in loaded.problems if p.severity in severities][:10]


def summary(loaded: Loaded, last: LastRun | None, open_runs: list[str]) -> RunbookSummary:
    rb = loaded.runbook
    return RunbookSummary(name=rb.name, title=rb.title or rb.name, services=rb.services, steps=len(rb.steps),
                          approvals=sum(1 for s in rb.steps if s.needs_person), production=rb.production,
                          valid=loaded.valid, problems=_problems(loaded), source=loaded.source, last_run=last,
                          open_runs=open_runs)


def list_runbooks(engine: Engine, service: str | None) -> RunbookList:
    last = engine.last_runs()
    open_by: dict[str, list[str]] = {}
    for st in engine.runs.open_runs():
        if not st.get("dry_run"):
            open_by.setdefault(st["runbook"], []).append(st["id"])
    items = engine.catalog.all()
    if service:
        items = [x for x in items if service.strip().lower() in x.runbook.services]
    out = [summary(x, last.get(x.runbook.name), open_by.get(x.runbook.name, [])) for x in items[:MAX_LIST]]
    return masked(RunbookList(runbooks=out, truncated=len(items) > MAX_LIST))


def shown_params(loaded: Loaded, given: dict[str, Any] | None) -> dict[str, str]:
    """The parameters to resolve the plan with: validated when given, else defaults and {{name}}."""
    rb = loaded.runbook
    if given:
        return resolve_params(rb, given)
    return {n: p.default if p.default is not None else "{{" + n + "}}" for n, p in rb.parameters.items()}


def detail(engine: Engine, loaded: Loaded, given: dict[str, Any] | None) -> RunbookDetail:
    rb = loaded.runbook
    params = shown_params(loaded, given)
    window = engine.maintenance(rb, engine.now())
    mw = None if window is None else f"needed: {window[1]}"
    checks = []
    for c in rb.preflight:
        cmd = resolve_command(c.command, params)
        checks.append(PlanStep(id=f"preflight-{len(checks) + 1}", title=c.name, kind=cmd.kind, argv=cmd.argv,
                               expect=c.expect.describe()))
    return masked(RunbookDetail(
        name=rb.name, title=rb.title, description=rb.description, services=rb.services, parameters=params_view(rb),
        estimated_duration=rb.estimated_duration, production=rb.production, maintenance_window=mw, preflight=checks,
        steps=[plan_step(s, params, prose=True) for s in rb.steps],
        rollbacks=[plan_step(s, params, prose=True) for s in rb.rollbacks.values()],
        notes=rb.notes or None, problems=_problems(loaded, ("error", "warning")),
        last_run=engine.last_runs().get(rb.name), path=str(rb.path)))


def _doc_words(loaded: Loaded) -> tuple[set[str], set[str]]:
    rb = loaded.runbook
    strong = set(words(" ".join([rb.name.replace("-", " "), rb.name, rb.title, *rb.services])))
    weak = set(words(" ".join([rb.description, *(s.title for s in rb.steps), rb.notes[:2000]])))
    return strong, weak


def find(engine: Engine, text: str | None, service: str | None, k: int) -> FindResult:
    text = (text or "").strip()
    service = (service or "").strip().lower() or None
    if not text and not service:
        raise InvalidInput("give text (what is happening, e.g. 'payments-api 500s') or a service name.")
    items = [x for x in engine.catalog.all() if x.valid]
    if service and any(service in x.runbook.services for x in items):
        items = [x for x in items if service in x.runbook.services]
    query = words(text + " " + (service or ""))
    warnings: list[str] = []
    related: dict[str, list[tuple[float, str]]] = {}
    if text:
        try:
            related, more = engine.history.related(text, [x.runbook.name for x in items])
            warnings += more
        except Exception as exc:
            warnings.append(f"history search unavailable ({str(exc)[:160]}): ranked by the runbooks' own text")
    last = engine.last_runs(warnings)
    scored = []
    for x in items:
        strong, weak = _doc_words(x)
        hits = [w for w in dict.fromkeys(query) if w in strong or w in weak]
        score = sum(2.0 if w in strong else 1.0 for w in hits) / max(1.0, math.sqrt(len(set(query)) or 1))
        why = [f"matches: {', '.join(hits[:8])}"] if hits else []
        if service and service in x.runbook.services:
            score += 1.0
            why.append(f"for service {service}")
        for weight, reason in related.get(x.runbook.name, [])[:3]:
            score += weight
            why.append(reason)
        if score > 0:
            scored.append(FoundRunbook(name=x.runbook.name, title=x.runbook.title, services=x.runbook.services,
                                       score=round(score, 3), why=why, last_run=last.get(x.runbook.name)))
    scored.sort(key=lambda f: (-f.score, f.name))
    return masked(FindResult(runbooks=scored[:k], warnings=warnings))


def run_status(engine: Engine, run_id: str) -> RunStatus:
    """A run as it stands (read only: an interrupted step shows as such without being written)."""
    st = engine.runs.load(run_id)
    engine._reap(st)
    steps = []
    for sid in st["order"]:
        s = st["steps"][sid]
        last = (s.get("attempts") or [{}])[-1]
        steps.append(StepState(id=sid, title=s["title"], status=s["status"], attempts=len(s.get("attempts") or []),
                               exit_code=last.get("exit_code"), value=last.get("value"), reason=last.get("reason"),
                               finished=last.get("finished")))
    orphan = (st.get("running") or {}).get("orphan")
    if orphan:
        r = st["running"]
        running = next(s for s in steps if s.id == r["step"])
        running.reason = (f"still running after its server stopped (process group {orphan.get('pgid') or orphan['pid']}, "
                          f"since {r['since']}): it is not started again while it runs")
    nxt_id = st.get("halted_at") or st.get("cursor")
    nxt = next_step(engine, st, nxt_id) if nxt_id in st["steps"] else None
    options = _halted_options(st, st["halted_at"]) if st["status"] == "halted" else []
    if st.get("finishing"):
        options = [f"finish: finish_run(run_id={st['id']!r}, outcome=...): it was being finished "
                   f"({st['finishing']['outcome']}) when its server stopped"]
    given = [approvals.info(a) for a in st.get("approvals") or []]
    return RunStatus(run_id=st["id"], runbook=st["runbook"], parameters=st["parameters"], dry_run=bool(st.get("dry_run")),
                     status=st["status"], outcome=st.get("outcome"), next_step=nxt, steps=steps, approvals=given,
                     options=options, recorded=st.get("recorded"))


def next_step(engine: Engine, st: dict[str, Any], sid: str) -> NextStep:
    """The next step, with whether it needs the person (from the run's state; older states: the runbook)."""
    s = st["steps"][sid]
    needs = s.get("approval")
    if needs is None:
        try:
            step = engine._runbook_for(st).step(sid)
            needs = bool(step and step.needs_person)
        except (Conflict, InvalidInput, NotFound):
            needs = False
    return NextStep(id=sid, title=s["title"], approval=bool(needs))
