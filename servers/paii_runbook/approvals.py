"""Approvals: server state the person gives, bound to a run, a step and the step's resolved action.

:func:`request` is what the person approves (the step and its exact resolved command, with the
sha256 of :func:`paii_runbook.plan.command_sha`); :func:`grant` stores an approval in a run's state,
valid for ``approval_ttl`` seconds; :func:`take` uses one up (once) before the step runs, or raises
:class:`ApprovalRequired` saying why there is none. The run's state is the dict
:class:`paii_runbook.runs.RunStore` keeps; :class:`paii_runbook.engine.Engine` holds its lock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from paii_common.errors import Conflict, InvalidInput
from paii_runbook.format import Step
from paii_runbook.models import ApprovalInfo
from paii_runbook.plan import action, command_sha, step_command
from paii_runbook.record import cmd_line
from paii_runbook.runs import iso, parse_iso

INFO_FIELDS = ("step", "by", "via", "at", "expires", "command_sha256")


class ApprovalRequired(Conflict):
    """The step needs the person's approval and has no valid one."""

    def __init__(self, request: dict[str, Any], why: str) -> None:
        self.request = request
        super().__init__(
            f"step {request['step']} ({request['title']}) needs the person's approval and {why}; it did not run. "
            f"Ask the person: they approve with approve_step(run_id={request['run_id']!r}, step_id={request['step']!r}) "
            f"(Claude Code shows them the permission prompt), or in their own terminal with "
            f"`paii runbook approve {request['run_id']} {request['step']}`; then call run_step again."
        )


def info(rec: dict[str, Any]) -> ApprovalInfo:
    """What the model sees of a stored approval."""
    return ApprovalInfo(**{k: rec[k] for k in INFO_FIELDS})


def request(st: dict[str, Any], step: Step) -> dict[str, Any]:
    """What the person approves: the step and its exact resolved command."""
    act = action(step, st["parameters"])
    cmd = step_command(step, st["parameters"])
    return {"run_id": st["id"], "runbook": st["runbook"], "step": step.id, "title": step.title, "kind": step.kind,
            "command": cmd_line(cmd.argv) if cmd else None, "argv": cmd.argv if cmd else None,
            "pod": f"{cmd.namespace} {cmd.selector}" if cmd and cmd.kind == "k8s_exec" else None,
            "manual": act.get("manual"), "sha": command_sha(st["id"], act), "parameters": st["parameters"]}


def grant(st: dict[str, Any], step: Step, *, via: str, by: str, now: dt.datetime, ttl: float,
          expect_sha: str | None = None) -> dict[str, Any]:
    """Store by's approval of step, given at now and valid for ttl seconds, in the run's state (with
    an 'approved' event); the record. expect_sha: the command the person saw (it must still be it)."""
    if not step.needs_person:
        raise InvalidInput(f"step {step.id} needs no approval: run it with run_step.")
    if st["steps"].get(step.id, {}).get("status") in ("passed", "skipped"):
        raise Conflict(f"step {step.id} is already {st['steps'][step.id]['status']}: nothing to approve.")
    req = request(st, step)
    if expect_sha and expect_sha != req["sha"]:
        raise Conflict(f"step {step.id}'s command changed while it was being approved: ask the person again.")
    rec = {"step": step.id, "command_sha256": req["sha"], "by": by, "via": via,
           "at": iso(now), "expires": iso(now + dt.timedelta(seconds=ttl)), "used_at": None}
    st["approvals"].append(rec)
    st["events"].append({"at": rec["at"], "kind": "approved", "step": step.id, "by": rec["by"], "via": via})
    return rec


def take(st: dict[str, Any], step: Step, now: dt.datetime) -> dict[str, Any]:
    """Use up the valid approval of step's current command (marking it used at now), or raise
    ApprovalRequired saying why none applies: none given, expired, or given for another command."""
    req = request(st, step)
    mine = [a for a in st["approvals"] if a["step"] == step.id and not a["used_at"]]
    same = [a for a in mine if a["command_sha256"] == req["sha"]]
    valid = [a for a in same if parse_iso(a["expires"]) > now]
    if valid:
        valid[0]["used_at"] = iso(now)
        return valid[0]
    if same:
        raise ApprovalRequired(req, f"its approval ({same[-1]['by']} at {same[-1]['at']}) expired at {same[-1]['expires']}")
    if mine:
        raise ApprovalRequired(req, "the approval given was for a different command (sha256 "
                               f"{mine[-1]['command_sha256'][:12]}, now {req['sha'][:12]}): it does not apply")
    raise ApprovalRequired(req, "has none")
