"""Ending a run in one recoverable step, and its record in the history.

:func:`finish` saves the intent first (``finishing``: the outcome and when), then writes the run's
history entry (replacing one that a finish cut short by a crash left), then moves the run to
``runs/finished/``. A crash anywhere in between leaves a run that says it is being finished:
nothing more runs in it, and the next ``finish_run`` completes it, or corrects its outcome, so
the run and its record always end up agreeing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paii_common.errors import Conflict, InvalidInput
from paii_common.redact import redact
from paii_runbook import procs, recovery
from paii_runbook.models import FinishResult
from paii_runbook.runs import iso, parse_iso

if TYPE_CHECKING:
    from paii_runbook.engine import Engine

OUTCOMES = ("completed", "aborted", "failed", "rolled_back")


def record(engine: Engine, st: dict[str, Any], warnings: list[str]) -> str | None:
    """Write (or rewrite: a finish that a crash cut short is done again) the run's history entry."""
    try:
        rel, more = engine.history.record(st)
    except Exception as exc:
        where = engine.runs.root / ("finished" if st.get("status") == "finished" else "") / f"{st['id']}.json"
        warnings.append(f"the run could not be recorded in the history ({redact(str(exc))[:200]}); "
                        f"its full state is in {where}")
        return None
    warnings.extend(more)
    st["recorded"] = rel
    return rel


def finish(engine: Engine, run_id: str, outcome: str, notes: str | None = None) -> FinishResult:
    """End a run in one recoverable step: the intent is saved first, then the history entry is
    written (replacing one a cut-short finish left), then the run is moved to finished/. A finish
    that a crash cut short is completed (or corrected) by the next finish_run."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}")
    warnings: list[str] = []
    with engine.runs.update(run_id) as st:
        before = st.pop("finishing", None)
        engine._open(st)
        if st.get("running"):
            recovery.refuse_second_copy(st)
            raise Conflict(f"step {st['running']['step']} is still running: wait for it, then finish.")
        left = [sid for sid in st["order"]
                if sid.isdigit() and st["steps"][sid]["status"] not in ("passed", "skipped")]
        if outcome == "completed" and (left or st.get("rolled_back")):
            what = (f"{len(left)} step{'s' if len(left) != 1 else ''} did not pass ({', '.join(left[:6])})" if left
                    else "a rollback ran")
            raise InvalidInput(f"{what}: finish with outcome aborted, failed or rolled_back, or run the steps first.")
        if outcome == "rolled_back" and not st.get("rolled_back"):
            raise InvalidInput("no rollback step passed in this run: use aborted or failed.")
        now = engine.now()
        if notes:
            st["notes"] = redact(notes)[:4000]
        st["finishing"] = {"outcome": outcome, "at": iso(now)}
        engine.runs.save(st)  # a crash from here on: the next finish_run completes this one
        st.update(status="finished", outcome=outcome, finished=iso(now), cursor=None,
                  duration_s=round((now - parse_iso(st["started"])).total_seconds(), 1))
        st.pop("finishing")
        recorded = record(engine, st, warnings)
        if before and before["outcome"] != outcome:
            warnings.append(f"this run was being finished as {before['outcome']} when its server stopped: "
                            f"it is now finished as {outcome}, and its record says so")
        counts: dict[str, int] = {}
        for sid in st["order"]:
            counts[st["steps"][sid]["status"]] = counts.get(st["steps"][sid]["status"], 0) + 1
    procs.remove(engine.runs.root / ".procs" / run_id)
    return FinishResult(run_id=run_id, runbook=st["runbook"], outcome=outcome, duration_s=st["duration_s"],
                        steps=counts, recorded=recorded, warnings=warnings)
