"""Approvals: server state the person gives, bound to a run, a step and the step's resolved action.

:func:`request` is what the person approves (the step and its exact resolved command, with the
sha256 of :func:`paii_runbook.plan.command_sha`); :func:`grant` stores an approval in a run's state,
sealed with the approval key (:mod:`paii_runbook.seal`) and valid for ``approval_ttl`` seconds;
:func:`take` uses one up (once) before the step runs, or raises :class:`ApprovalRequired` saying why
there is none, or :class:`ForgedApproval` for a record without a valid seal. The run's state is the
dict :class:`paii_runbook.runs.RunStore` keeps; :class:`paii_runbook.engine.Engine` holds its lock.

Only the person's own channels call :func:`grant`: the server's MCP elicitation (run_step asks
them) and ``paii runbook approve`` in their terminal. No tool takes an approval as an argument.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from paii_common.errors import Conflict, InvalidInput
from paii_runbook.format import Step
from paii_runbook.models import ApprovalInfo
from paii_runbook.plan import action, command_sha, step_command
from paii_runbook.record import cmd_line
from paii_runbook.runs import iso, parse_iso
from paii_runbook.seal import seal, valid

INFO_FIELDS = ("step", "by", "via", "at", "expires", "command_sha256")


def how_to_approve(run_id: str, step_id: str) -> str:
    return (f"The person approves it themselves: in the prompt their MCP client shows when run_step asks (Claude Code "
            f"does in an interactive session), or, when no prompt appears, in their own terminal with "
            f"`paii runbook approve {run_id} {step_id}`. Then call run_step again. Never try to approve for them.")


class ApprovalRequired(Conflict):
    """The step needs the person's approval and has no valid one."""

    def __init__(self, request: dict[str, Any], why: str, extra: str = "") -> None:
        self.request = request
        super().__init__(f"step {request['step']} ({request['title']}) needs the person's approval and {why}; it did not "
                         f"run. {how_to_approve(request['run_id'], request['step'])}{extra}")


class ForgedApproval(ApprovalRequired):
    """The only approval records for the step are ones PAII did not seal: written or edited outside PAII."""

    def __init__(self, request: dict[str, Any], rec: dict[str, Any], key_path: Any) -> None:
        why = (f"its approval record (by {str(rec.get('by'))[:60]!r} at {str(rec.get('at'))[:40]}) does not carry PAII's "
               "seal: it was written or edited outside PAII, in the run's file, so it is refused")
        super().__init__(request, why, f" If nobody edited the run's file, the approval key ({key_path}) was replaced "
                                       "since the approval was given.")


def info(rec: dict[str, Any]) -> ApprovalInfo:
    """What the model sees of a stored approval."""
    return ApprovalInfo(**{k: str(rec.get(k) or "")[:200] for k in INFO_FIELDS})


def visible(text: Any) -> str | None:
    """Text shown to the person at a prompt, with every control (but the line break), invisible and
    direction-changing character written out (``\\u202e``), so a runbook cannot hide or disguise what is approved."""
    if text is None:
        return None
    return "".join(c if c == "\n" or unicodedata.category(c)[0] != "C" else (f"\\u{ord(c):04x}" if ord(c) > 0xFF else f"\\x{ord(c):02x}")
                   for c in str(text))


def request(st: dict[str, Any], step: Step) -> dict[str, Any]:
    """What the person approves: the step and its exact resolved command (as shown: :func:`visible`)."""
    act = action(step, st["parameters"])
    cmd = step_command(step, st["parameters"])
    return {"run_id": st["id"], "runbook": st["runbook"], "step": step.id, "title": visible(step.title), "kind": step.kind,
            "command": visible(cmd_line(cmd.argv)) if cmd else None, "argv": cmd.argv if cmd else None,
            "pod": visible(f"{cmd.namespace} {cmd.selector}") if cmd and cmd.kind == "k8s_exec" else None,
            "manual": visible(act.get("manual")), "sha": command_sha(st["id"], act),
            "parameters": {k: visible(v) for k, v in st["parameters"].items()}}


def used_info(step_id: str, used: dict[str, Any]) -> ApprovalInfo:
    """What the model sees of the approval an attempt used."""
    return ApprovalInfo(step=step_id, **{k: str(used.get(k) or "") for k in INFO_FIELDS[1:]})


def check_grantable(st: dict[str, Any], step: Step) -> None:
    """Raise unless step of this open run is one the person can approve now."""
    if not step.needs_person:
        raise InvalidInput(f"step {step.id} needs no approval: run it with run_step.")
    status = st["steps"].get(step.id, {}).get("status")
    if status in ("passed", "skipped"):
        raise Conflict(f"step {step.id} is already {status}: nothing to approve.")


def grant(st: dict[str, Any], step: Step, *, via: str, by: str, now: dt.datetime, ttl: float, key: bytes,
          expect_sha: str | None = None) -> dict[str, Any]:
    """Store by's approval of step, given at now and valid for ttl seconds and sealed with key, in the
    run's state (with an 'approved' event); the record. expect_sha: the command the person saw (it
    must still be it)."""
    check_grantable(st, step)
    req = request(st, step)
    if expect_sha and expect_sha != req["sha"]:
        raise Conflict(f"step {step.id}'s command changed while it was being approved: ask the person again.")
    rec = {"step": step.id, "command_sha256": req["sha"], "by": by, "via": via,
           "at": iso(now), "expires": iso(now + dt.timedelta(seconds=ttl)), "used_at": None}
    rec["seal"] = seal(key, st["id"], rec)
    st["approvals"].append(rec)
    st["events"].append({"at": rec["at"], "kind": "approved", "step": step.id, "by": rec["by"], "via": via})
    return rec


def _used_seals(st: dict[str, Any]) -> set[str]:
    """The seals of the approvals the run's attempts used (a record whose used_at was cleared is still used)."""
    return {(a.get("approval") or {}).get("seal") for s in st["steps"].values() for a in s.get("attempts") or []} - {None}


def take(st: dict[str, Any], step: Step, now: dt.datetime, key: bytes, key_path: Any = None) -> dict[str, Any]:
    """Use up the valid approval of step's current command (marking it used at now), or raise
    ApprovalRequired saying why none applies: none given, expired, or given for another command;
    ForgedApproval when a record for the step carries no valid seal."""
    req = request(st, step)
    used = _used_seals(st)
    mine = [a for a in st["approvals"] if a.get("step") == step.id and not a.get("used_at")]
    forged = [a for a in mine if not valid(key, st["id"], a)]
    mine = [a for a in mine if a not in forged and a["seal"] not in used]
    same = [a for a in mine if a["command_sha256"] == req["sha"]]
    live = [a for a in same if parse_iso(a["expires"]) > now]
    if live:
        live[0]["used_at"] = iso(now)
        return live[0]
    if forged:
        raise ForgedApproval(req, forged[-1], key_path)
    if same:
        raise ApprovalRequired(req, f"its approval ({same[-1]['by']} at {same[-1]['at']}) expired at {same[-1]['expires']}")
    if mine:
        raise ApprovalRequired(req, "the approval given was for a different command (sha256 "
                               f"{mine[-1]['command_sha256'][:12]}, now {req['sha'][:12]}): it does not apply")
    raise ApprovalRequired(req, "has none")
