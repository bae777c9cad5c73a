"""The run lifecycle: start (dry or real), run a step, approve, finish; every run recorded.

Approval is server state (:mod:`paii_runbook.approvals`): :meth:`Engine.approve` stores an approval
bound to the run, the step and the sha256 of the step's resolved action
(:func:`paii_runbook.plan.command_sha`), sealed with the approval key (:mod:`paii_runbook.seal`),
valid for ``approval_ttl`` seconds and used once.
:meth:`Engine.run_step` on a step that needs the person raises :class:`ApprovalRequired` until such
an approval exists; the server then asks the person (elicitation) or tells the model how the
person approves in their own terminal. No tool gives an approval or takes one as an argument.

A step's process is tracked in the run's state (:mod:`paii_runbook.recovery`): after a crash
nothing runs a second copy of a step whose first one still runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from typing import Any

from paii_common.errors import Conflict, InvalidInput, NotFound
from paii_common.redact import redact
from paii_common.untrusted import fence
from paii_runbook import approvals, procs, recovery, seal
from paii_runbook import steps as step_exec
from paii_runbook.approvals import ApprovalRequired, ForgedApproval
from paii_runbook.catalog import Catalog, Loaded
from paii_runbook.client import StepExecutor
from paii_runbook.config import RunbookSettings
from paii_runbook.finish import OUTCOMES
from paii_runbook.format import Runbook, Step
from paii_runbook.models import (
    ApprovalInfo,
    CheckResult,
    FinishResult,
    NextStep,
    RunStatus,
    StartResult,
    StepResult,
)
from paii_runbook.plan import plan_step, resolve_command, resolve_params, step_command
from paii_runbook.record import History
from paii_runbook.runs import RunStore, iso
from paii_runbook.windows import check_windows

__all__ = ["OUTCOMES", "ApprovalRequired", "Engine", "ForgedApproval", "utcnow"]


def utcnow() -> dt.datetime:
    """PAII's clock: ``paii_common.clock`` (``PAII_NOW``, which the sandbox sets) where it exists."""
    try:
        from paii_common.clock import now
    except ImportError:  # a foundation without the shared clock yet
        return dt.datetime.now(dt.UTC)
    return now()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _halted_options(st: dict[str, Any], sid: str) -> list[str]:
    """What the person can choose at a run halted at step sid."""
    rid = st["id"]
    options = [f"retry: run_step(run_id={rid!r}, step_id={sid!r}, choice='retry')",
               f"skip: run_step(run_id={rid!r}, step_id={sid!r}, choice='skip')"]
    if st.get("suggested"):
        options.append(f"rollback: run_step(run_id={rid!r}, step_id={st['suggested']!r})")
    options.append(f"abort: finish_run(run_id={rid!r}, outcome='aborted')")
    return options


class Engine:
    def __init__(self, settings: RunbookSettings, executor: StepExecutor | None = None, history: Any | None = None,
                 now=None) -> None:
        self.settings = settings
        self.executor = executor or StepExecutor(settings)
        self.catalog = Catalog(settings)
        self.runs = RunStore(settings.runs_dir)
        self.history = History(settings, history)
        self.now = now or utcnow

    # ------------------------------------------------------------------ runbooks
    def valid(self, name: str) -> Loaded:
        loaded = self.catalog.get(name)
        if not loaded.valid:
            errors = [p.render(loaded.runbook.path) for p in loaded.problems if p.severity == "error"]
            raise InvalidInput(f"runbook {loaded.runbook.name} is invalid and cannot start: " + "; ".join(errors[:10])
                               + ". Fix the file (`paii runbook lint FILE` lists every problem).")
        return loaded

    def key(self) -> bytes:
        """The approval key (created on first use): approvals are sealed and checked with it."""
        key = self.settings.approval_key
        if key.resolve().is_relative_to(self.settings.home.resolve()):
            raise Conflict(f"the approval key would be {key}, inside PAII_HOME ({self.settings.home}), where the runs are: "
                           "set PAII_CONFIG_DIR to a folder outside it (the default is ~/.config/paii).")
        return seal.load_key(key)

    def maintenance(self, rb: Runbook, now: dt.datetime) -> tuple[bool | None, str] | None:
        """None when the runbook does not need a window; else (in one?, sentence)."""
        if not rb.maintenance_window:
            return None
        return check_windows([*rb.maintenance_windows, *self.settings.window_specs()], now)

    def last_runs(self, warnings: list[str] | None = None, *, include_dry: bool = False) -> dict:
        try:
            return self.history.last_runs(self.now(), include_dry=include_dry)
        except Exception as exc:  # the history is a help here, never a blocker
            if warnings is not None:
                warnings.append(f"could not read past runs from the history ({redact(str(exc))[:200]})")
            return {}

    def _runbook_for(self, st: dict[str, Any]) -> Runbook:
        loaded = self.valid(st["runbook"])
        if _sha(loaded.runbook.source) != st["source_sha256"]:
            raise Conflict(f"runbook {st['runbook']} changed on disk since run {st['id']} started, so its commands (and "
                           "any approval) may no longer be what runs. Finish this run (finish_run outcome='aborted') and "
                           "start a new one; a dry run shows the new plan.")
        return loaded.runbook

    # ------------------------------------------------------------------ start
    def start(self, name: str, parameters: dict[str, Any] | None, dry_run: bool) -> StartResult:
        loaded = self.valid(name)
        rb = loaded.runbook
        params = resolve_params(rb, parameters)
        now = self.now()
        if not dry_run:
            for other in self.runs.open_runs(rb.name):
                if not other.get("dry_run"):
                    raise Conflict(f"run {other['id']} of {rb.name} is still open (started {other['started']} by "
                                   f"{other.get('operator')}, next step {other.get('halted_at') or other.get('cursor')}): "
                                   f"continue it with run_step, or end it with finish_run(run_id={other['id']!r}, "
                                   "outcome='aborted').")
        warnings = [p.render(rb.path) for p in loaded.problems if p.severity == "warning"]
        window = self.maintenance(rb, now)
        if window and window[0] is not True:
            warnings.insert(0, f"Maintenance window: {window[1]}")
        checks = []
        for c in rb.preflight:
            cmd = resolve_command(c.command, params)
            passed, value, message = step_exec.check(self.executor, cmd, c.expect)
            checks.append(CheckResult(name=c.name, passed=passed, value=value, message=message, argv=cmd.argv,
                                      required=c.required))
        warnings += [f"preflight {c.name}: {c.message}" for c in checks if not c.passed and not c.required]
        last = self.last_runs(warnings).get(rb.name)
        run_id = self.runs.new_id(rb.name, now)
        plan = [plan_step(s, params) for s in rb.steps]
        state = {
            "id": run_id, "runbook": rb.name, "title": rb.title, "file": str(rb.path), "source_sha256": _sha(rb.source),
            "dry_run": dry_run, "parameters": params, "services": rb.services, "operator": self.settings.operator_name(),
            "status": "running", "outcome": None, "started": iso(now), "finished": None,
            "preflight": [c.model_dump() for c in checks], "warnings": warnings,
            "order": [s.id for s in rb.steps], "cursor": rb.steps[0].id, "halted_at": None, "suggested": None,
            "running": None, "approvals": [], "events": [], "recorded": None,
            "steps": {s.id: {"title": s.title, "kind": s.kind, "status": "pending", "argv": p.argv,
                             "approval": s.needs_person, "attempts": []} for s, p in zip(rb.steps, plan, strict=True)},
        }
        failed = [c for c in checks if not c.passed and c.required]
        result = StartResult(run_id=run_id, runbook=rb.name, title=rb.title, dry_run=dry_run, parameters=params,
                             steps_total=len(rb.steps), estimated_duration=rb.estimated_duration, production=rb.production,
                             last_executed=last, preflight=checks, warnings=warnings,
                             approvals_needed=[s.id for s in rb.steps if s.needs_person], plan=plan)
        if dry_run or failed:
            state.update(status="finished", outcome="dry-run" if dry_run else "aborted", finished=iso(now),
                         duration_s=0.0, cursor=None)
            if failed and not dry_run:
                state["notes"] = "did not start: preflight failed: " + "; ".join(f"{c.name}: {c.message}" for c in failed)
            self.runs.create(state)
            with self.runs.update(run_id) as st:
                result.recorded = self._record(st, result.warnings)
            if failed and not dry_run:
                raise Conflict(f"preflight failed, so {rb.name} did not start: "
                               + "; ".join(f"{c.name}: {c.message}" for c in failed)
                               + f". Fix it and call start_run again (this attempt is recorded at {result.recorded}).")
            return result
        self.runs.create(state)
        result.next_step = rb.steps[0].id
        return result

    # ------------------------------------------------------------------ approvals
    def _reap(self, st: dict[str, Any]) -> dict[str, Any] | None:
        """Settle a step whose server is gone (:func:`paii_runbook.recovery.reap`)."""
        return recovery.reap(self, st)

    def _open(self, st: dict[str, Any]) -> dict[str, Any] | None:
        """Refuse a run nothing may change; returns a step outcome recovered after a crash, if any."""
        recovered = self._reap(st)
        if st.get("dry_run"):
            raise Conflict(f"{st['id']} is a dry run: nothing executes. Start a real run with start_run(dry_run=false).")
        if st["status"] == "finished":
            raise Conflict(f"run {st['id']} is finished ({st.get('outcome')}; recorded at {st.get('recorded')}): "
                           "start a new run with start_run.")
        if st.get("finishing"):
            f = st["finishing"]
            raise Conflict(f"run {st['id']} was being finished ({f['outcome']}, at {f['at']}) when its server stopped: call "
                           "finish_run again to complete it (the same outcome, or the right one); nothing more runs.")
        return recovered

    def request(self, st: dict[str, Any], step: Step) -> dict[str, Any]:
        """What the person approves: the step and its exact resolved command."""
        return approvals.request(st, step)

    def approval_request(self, run_id: str, step_id: str) -> dict[str, Any]:
        """What the person would approve, after every check an approval must pass (asked nothing yet)."""
        st = self.runs.load(run_id)
        self._open(st)
        recovery.refuse_second_copy(st)
        step = self._step(self._runbook_for(st), step_id)
        approvals.check_grantable(st, step)
        return self.request(st, step)

    @staticmethod
    def _step(rb: Runbook, step_id: Any) -> Step:
        step = rb.step(str(step_id).strip())
        if step is None:
            ids = [s.id for s in rb.steps] + list(rb.rollbacks)
            raise NotFound(f"{rb.name} has no step {step_id!r}: steps are {', '.join(ids)}")
        return step

    def approve(self, run_id: str, step_id: str, *, via: str, by: str | None = None, expect_sha: str | None = None) -> ApprovalInfo:
        with self.runs.update(run_id) as st:
            self._open(st)
            step = self._step(self._runbook_for(st), step_id)
            rec = approvals.grant(st, step, via=via, by=by or self.settings.operator_name(), now=self.now(),
                                  ttl=self.settings.approval_ttl, key=self.key(), expect_sha=expect_sha)
        return approvals.info(rec)

    def note(self, run_id: str, step_id: str, kind: str, *, via: str, by: str | None = None, text: str | None = None) -> None:
        """Record a decision that ran nothing: a refusal, an unanswered prompt."""
        with self.runs.update(run_id) as st:
            st["events"].append({"at": iso(self.now()), "kind": kind, "step": str(step_id), "via": via,
                                 "by": by or self.settings.operator_name(), "note": redact(text or "")[:500] or None})

    # ------------------------------------------------------------------ steps
    def _check_choice(self, st: dict[str, Any], step: Step, choice: str) -> None:
        status, sid = st["status"], step.id
        nxt = st.get("halted_at") if status == "halted" else st.get("cursor")
        where = f"run_step(run_id={st['id']!r}, step_id={nxt!r})" if nxt else "finish_run"
        if choice not in ("run", "retry", "skip"):
            raise InvalidInput("choice must be run, retry or skip")
        if choice == "run" and step.rollback and status in ("running", "halted"):
            return
        if status == "done":
            raise Conflict(f"every step of {st['id']} is done: finish it with finish_run (outcome completed"
                           f"{' or rolled_back' if st.get('rolled_back') else ''}).")
        if status == "halted":
            if sid != st["halted_at"] or choice == "run":
                opts = f"retry or skip step {st['halted_at']}" + (f", or run rollback {st['suggested']}" if st.get("suggested") else "")
                raise Conflict(f"the run stopped at step {st['halted_at']} ({st['steps'][st['halted_at']]['status']}): the person "
                               f"chooses: {opts} (run_step with choice='retry'/'skip'), or finish_run(outcome='aborted').")
            return
        if choice == "retry":
            raise Conflict(f"step {sid} has not failed: nothing to retry (next: {where}).")
        if sid != st["cursor"]:
            state = st["steps"].get(sid, {}).get("status", "pending")
            raise Conflict(f"step {sid} is {state}; steps run in order and the next is {st['cursor']}: {where}.")

    def _advance(self, st: dict[str, Any], rb: Runbook, step: Step) -> None:
        st.update(halted_at=None, suggested=None)
        if step.rollback:
            st.update(status="done", cursor=None, rolled_back=step.id)
            return
        ids = [s.id for s in rb.steps]
        i = ids.index(step.id) + 1
        st["cursor"] = ids[i] if i < len(ids) else None
        st["status"] = "running" if st["cursor"] else "done"

    def run_step(self, run_id: str, step_id: str, choice: str = "run", progress: step_exec.Progress | None = None) -> StepResult:
        with self.runs.update(run_id) as st:
            recovered = self._open(st)
            rb = self._runbook_for(st)
            step = self._step(rb, step_id)
            if recovered and (st["steps"].get(step.id, {}).get("attempts") or [None])[-1] is recovered:
                return self._result(st, rb, step, recovered)  # report what the earlier process did; run nothing
            if st.get("running"):
                recovery.refuse_second_copy(st)
                r = st["running"]
                raise Conflict(f"step {r['step']} of {run_id} is running (since {r['since']}, process {r['pid']}): wait "
                               "for it; get_run shows when it has finished.")
            self._check_choice(st, step, choice)
            if choice == "retry":
                recovery.check_retry_time(st, step.id, self.now())
            entry = st["steps"].setdefault(step.id, {"title": step.title, "kind": step.kind, "status": "pending", "attempts": []})
            if step.id not in st["order"]:
                st["order"].append(step.id)
            now = iso(self.now())
            if choice == "skip":
                entry["status"] = "skipped"
                entry["attempts"].append({"started": now, "finished": now, "choice": "skip", "status": "skipped",
                                          "duration_s": 0.0, "by": self.settings.operator_name()})
                st["events"].append({"at": now, "kind": "skip", "step": step.id, "by": self.settings.operator_name(), "via": "run_step"})
                self._advance(st, rb, step)
                return self._result(st, rb, step, entry["attempts"][-1])
            approval = (approvals.take(st, step, self.now(), self.key(), self.settings.approval_key)
                        if step.needs_person else None)
            cmd = step_command(step, st["parameters"])
            attempt = {"started": now, "choice": choice, "argv": cmd.argv if cmd else None,
                       "approval": {k: approval[k] for k in (*approvals.INFO_FIELDS[1:], "seal")} if approval else None}
            if choice == "retry":
                st["events"].append({"at": now, "kind": "retry", "step": step.id, "by": self.settings.operator_name(), "via": "run_step"})
            entry["status"] = "running"
            track = f".procs/{run_id}.{step.id}.{len(entry['attempts']) + 1}"
            st["running"] = {"step": step.id, **procs.identity(os.getpid()), "since": now, "attempt": attempt,
                             "kind": cmd.kind if cmd else step.kind, "timeout": cmd.timeout if cmd else None,
                             "track": track}
        try:
            outcome = step_exec.execute(self.executor, step, st["parameters"], cap=self.settings.max_output,
                                        confirmed_by=approval["by"] if approval else None, progress=progress,
                                        track=self.runs.root / track)
        except BaseException as exc:
            outcome = {"status": "failed", "reason": f"the step could not run: {redact(str(exc))[:300]}", "duration_s": 0.0}
            if not isinstance(exc, Exception):
                self._store_attempt(run_id, rb, step, attempt, outcome)
                raise
        return self._store_attempt(run_id, rb, step, attempt, outcome)

    def _store_attempt(self, run_id: str, rb: Runbook, step: Step, attempt: dict, outcome: dict) -> StepResult:
        with self.runs.update(run_id) as st:
            rec_cap = self.settings.record_output
            stored = {**attempt, **outcome, "finished": iso(self.now())}
            if stored.get("output") and len(stored["output"]) > rec_cap:
                stored["output"] = "…" + stored["output"][-rec_cap:]
            entry = st["steps"][step.id]
            entry["attempts"].append(stored)
            entry["status"] = outcome["status"]
            track = (st.get("running") or {}).get("track")
            st["running"] = None
            if outcome["status"] == "passed":
                self._advance(st, rb, step)
            else:
                st.update(status="halted", halted_at=step.id,
                          suggested=step.on_fail if step.on_fail != "stop" else None)
            result = self._result(st, rb, step, {**attempt, **outcome})
        if track:
            procs.remove(self.runs.root / track)  # the attempt is stored: its watcher's files are not needed
        return result

    def _result(self, st: dict[str, Any], rb: Runbook, step: Step, a: dict[str, Any]) -> StepResult:
        nxt = None
        if st["status"] == "running" and st.get("cursor"):
            ns = rb.step(st["cursor"])
            nxt = NextStep(id=ns.id, title=ns.title, approval=ns.needs_person)
        elif st["status"] == "halted" and st.get("suggested"):
            ns = rb.step(st["suggested"])
            nxt = NextStep(id=ns.id, title=ns.title, approval=ns.needs_person)
        options = _halted_options(st, step.id) if st["status"] == "halted" else []
        ap = a.get("approval")
        return StepResult(
            run_id=st["id"], step=step.id, title=step.title, status=a["status"], exit_code=a.get("exit_code"),
            duration_s=a.get("duration_s", 0.0), value=a.get("value"), observed=a.get("observed") or [],
            reason=a.get("reason"), pod=a.get("pod"), truncated=bool(a.get("truncated")),
            output=fence(a["output"], "command output") if a.get("output") else None,
            approval=approvals.used_info(step.id, ap) if ap else None, next_step=nxt, run_status=st["status"],
            options=options)

    def status(self, run_id: str) -> RunStatus:
        """A run as it stands (:func:`paii_runbook.views.run_status`)."""
        from paii_runbook.views import run_status

        return run_status(self, run_id)

    # ------------------------------------------------------------------ finish and record
    def _record(self, st: dict[str, Any], warnings: list[str]) -> str | None:
        from paii_runbook.finish import record

        return record(self, st, warnings)

    def finish(self, run_id: str, outcome: str, notes: str | None = None) -> FinishResult:
        """End a run and record it (:func:`paii_runbook.finish.finish`)."""
        from paii_runbook.finish import finish

        return finish(self, run_id, outcome, notes)
