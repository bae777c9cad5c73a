"""After a crash: what became of the step a server was running when it stopped.

The run's state names the step being run (``running``): the server that runs it (pid, start
time, boot id, host) and where the step's watcher leaves its files (``track``, see
:mod:`paii_runbook.procs`). When that server is gone, :func:`reap` finds out, in this order:

1. the step's process still runs (it leads its own session, so it outlives the server): the step
   stays ``running`` and is marked orphaned; no second copy starts (:func:`refuse_second_copy`)
   until it ends or the person stops it;
2. it ended and left its result: the result is judged as the server would have and stored as
   the attempt's outcome (the step passed or failed), with a note that it finished after the
   server stopped;
3. nothing is known (no result, or a ``k8s_exec`` whose process lives in a pod): the step is
   ``interrupted``; a retry of a ``k8s_exec`` step waits until the earlier exec's timeout passed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paii_common.errors import Conflict
from paii_runbook import procs
from paii_runbook.client import CommandResult
from paii_runbook.runs import iso, parse_iso

if TYPE_CHECKING:
    from paii_runbook.engine import Engine

UNKNOWN = "the server stopped while this step ran: its outcome is unknown"


def server_alive(running: dict[str, Any]) -> bool:
    return procs.same_process_alive({k: running.get(k) for k in ("pid", "start", "boot", "host")})


def track_path(engine: Engine, running: dict[str, Any]) -> Path | None:
    return engine.runs.root / running["track"] if running.get("track") else None


def live_watchers(track: Path | None) -> list[dict[str, Any]]:
    return [w for w in procs.started(track) if procs.session_alive(w)] if track else []


def refuse_second_copy(st: dict[str, Any]) -> None:
    """Raise while the step's process from before a crash still runs."""
    r = st.get("running") or {}
    orphan = r.get("orphan")
    if not orphan:
        return
    limit = f"; its timeout ends it by {orphan['until']}" if orphan.get("until") else ""
    group = f"`kill -TERM -- -{orphan['pgid']}`" if orphan.get("pgid") else f"`kill -TERM -- -{orphan['pid']}`"
    raise Conflict(
        f"step {r['step']} of {st['id']} is still running: its process (pid {orphan.get('pgid') or orphan['pid']}, "
        f"started {r.get('since')}) outlived the server that started it{limit}. A second copy will not start while "
        f"it runs. Wait: get_run shows the step's outcome once it has ended (run_step on that step then reports it). "
        f"To stop it now, the person runs {group} in their own terminal; then retry or skip the step.")


def _from_result(engine: Engine, st: dict[str, Any], sid: str, res: dict[str, Any]) -> dict[str, Any]:
    """The attempt's fields from a watcher's result, judged by the step's expectation when the
    runbook is unchanged (else by the exit code alone, and it says so)."""
    from paii_runbook.expect import Expect
    from paii_runbook.steps import judged

    cmd = CommandResult(res.get("stdout") or "", res.get("stderr") or "", res.get("exit_code"),
                        float(res.get("duration_s") or 0.0), timed_out=bool(res.get("timed_out")),
                        truncated=bool(res.get("truncated")), error=res.get("error"))
    if cmd.timed_out:
        cmd.error = "timed out: the process group was stopped; it may have done part of its work"
    note = "finished after the server that started it stopped"
    try:
        step = engine._runbook_for(st).step(sid)
        exp = step.expect if step and step.expect else Expect()
    except Conflict:
        exp, note = Expect(), note + " (judged by its exit code: the runbook changed on disk)"
    out = judged(cmd, exp, engine.settings.max_output)
    out["reason"] = f"{out['reason']} ({note})" if out.get("reason") else note
    out["recovered"] = True
    return out


def reap(engine: Engine, st: dict[str, Any]) -> dict[str, Any] | None:
    """Settle a step whose server is gone (see the module's doc). Returns the stored attempt when
    the step's own result was recovered, else None. Changes st only (the caller saves it)."""
    r = st.get("running")
    if not r or server_alive(r):
        return None
    sid = r["step"]
    entry = st["steps"].setdefault(sid, {"title": sid, "attempts": []})
    track = track_path(engine, r)
    live = live_watchers(track)
    if live:
        w = live[-1]
        until = None
        if r.get("timeout"):
            until = iso(parse_iso(r["since"]) + dt.timedelta(seconds=float(r["timeout"]) + 5))
        r["orphan"] = {"pid": w["pid"], "pgid": w.get("pgid"), "until": until}
        return None
    res = procs.result(track) if track and r.get("kind") == "run" else None
    now = iso(engine.now())
    if res is not None:
        attempt = {**r.get("attempt", {}), **_from_result(engine, st, sid, res), "finished": now}
    else:
        attempt = {**r.get("attempt", {}), "status": "interrupted", "finished": now, "reason": UNKNOWN}
        if r.get("kind") == "k8s_exec" and r.get("timeout"):
            entry["retry_after"] = iso(parse_iso(r["since"]) + dt.timedelta(seconds=float(r["timeout"]) + 5))
    entry["attempts"].append(attempt)
    entry["status"] = attempt["status"]
    st["running"] = None
    try:
        rb = engine._runbook_for(st) if attempt["status"] == "passed" else None
    except Conflict:  # the runbook changed on disk: the run cannot go on anyway (finish it)
        rb = None
    if rb is not None and rb.step(sid) is not None:
        engine._advance(st, rb, rb.step(sid))
    else:
        st.update(status="halted", halted_at=sid)
    return attempt if res is not None else None


def check_retry_time(st: dict[str, Any], sid: str, now: dt.datetime) -> None:
    """A k8s_exec step interrupted by a crash may still run in its pod until its timeout."""
    after = st["steps"].get(sid, {}).get("retry_after")
    if after and parse_iso(after) > now:
        raise Conflict(f"step {sid} was interrupted while its command ran in a pod, where PAII cannot see whether it still "
                       f"runs; it may until {after} (its timeout). Retry after that time, or check in the pod first "
                       "(exec_in_pod) that the earlier command is no longer running.")
