"""Report blocks of the Runbook Execution scenario (registered in renderers.py).

``runbook_plan`` shows a dry run in the shape of the runbook skill's plan (the 📋 RUNBOOK header,
preflight checks, warnings, each step's exact argv, the steps that need approval and those done
by hand); ``runbook_run`` shows the approved run step by step (STEP n/N, the command, what it
observed, who approved) and ends with the summary (✅ FAILOVER COMPLETE: the new primary, the
duration, the connections migrated and whether data was lost, each read from a step's result).
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from paii_sandbox.renderers import renderer, unfenced, why_not
from paii_sandbox.scenario import Run

RULE = "═" * 39


def _steps_text(ids: list[str]) -> str:
    """``step 5``, ``steps 5 and 9``, ``steps 5, 9 and 12``."""
    if not ids:
        return "no step"
    if len(ids) == 1:
        return f"step {ids[0]}"
    return f"steps {', '.join(ids[:-1])} and {ids[-1]}"


def show_argv(argv: list[str]) -> str:
    """The argv as a person reads a command line: an argument with spaces in double quotes where
    that reads the same to a shell (the runbook server runs the list itself, without a shell)."""
    out = []
    for arg in argv:
        if re.fullmatch(r"[\w@%+=:,./-]+", arg):
            out.append(arg)
        elif not re.search(r'["$`\\!]', arg):
            out.append(f'"{arg}"')
        else:
            out.append(shlex.quote(arg))
    return " ".join(out)


def _action(step: dict[str, Any]) -> list[str]:
    if step.get("manual"):
        return [f"       manual: {' '.join(unfenced(step['manual']).split())}"]
    lines = []
    if step.get("pod"):
        lines.append(f"       in {step['pod']}")
    if step.get("argv"):
        lines.append(f"       $ {show_argv(step['argv'])}")
    if step.get("wait"):
        lines.append(f"       repeat {step['wait']}")
    elif step.get("expect"):
        lines.append(f"       expect {step['expect']}")
    return lines


@renderer("runbook_plan")
def runbook_plan(run: Run) -> list[str]:
    o = run.outcomes.get("plan")
    target = run.scenario.vars.get("target", "")
    if o is None or not o.ok:
        return [f"📋 RUNBOOK: {run.scenario.vars.get('runbook')}.md", f"Target: {target}", "",
                "  " + why_not(run, o, "runbook")]
    p = o.data
    out = [f"📋 RUNBOOK: {p['runbook']}.md (dry run: nothing was executed)", f"Target: {p['parameters'].get('target', target)}", ""]
    if p.get("production"):
        out.append(f"⚠️ This runbook has {p['steps_total']} steps and affects production.")
    else:
        out.append(f"This runbook has {p['steps_total']} steps.")
    if p.get("estimated_duration"):
        out.append(f"Estimated duration: {p['estimated_duration']}")
    last = p.get("last_executed")
    out.append(f"Last executed: {last['when']} (by {last.get('by') or 'unknown'}, {last.get('outcome') or 'outcome unknown'})"
               if last else "Last executed: never (no real run in the history)")
    out += ["", "PRE-FLIGHT CHECKS:", ""]
    for c in p.get("preflight") or []:
        mark = "✓" if c["passed"] else ("✗" if c.get("required", True) else "⚠️")
        out.append(f"  {mark} {c['name']}: {c.get('value') if c.get('value') is not None else c['message']}")
    for w in p.get("warnings") or []:
        out.append(f"  ⚠️ {w}")
    plan = p.get("plan") or []
    approvals = [s["id"] for s in plan if s.get("approval") and s.get("kind") != "manual"]
    by_hand = [s["id"] for s in plan if s.get("approval") and s.get("kind") == "manual"]
    out += ["", "PLAN (each step's exact command; no shell):", ""]
    for step in p.get("plan") or []:
        ask = "done by hand, you confirm" if step.get("kind") == "manual" else "approval required"
        flags = [f for f, on in ((ask, step.get("approval")), ("changes something", step.get("changes"))) if on]
        out.append(f"  {step['id']:>2}. {step['title']}" + (f"   [{', '.join(flags)}]" if flags else ""))
        out += _action(step)
        if step.get("on_fail"):
            out.append(f"       on failure: offer rollback {step['on_fail']}")
    if p.get("recorded"):
        out += ["", f"📝 Dry run recorded to {p['recorded']}"]
    what = "the failover" if "failover" in p["runbook"] else "the run"
    confirm = f"; {_steps_text(by_hand)} you do by hand and confirm" if by_hand else ""
    out += ["", f"Proceed with {what}? (This will require approval for {_steps_text(approvals)}{confirm})"]
    return out


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    s = round(seconds)
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


def _json(output: str) -> dict[str, Any] | None:
    try:
        value = json.loads(output.strip().splitlines()[-1]) if output.strip() else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _outcome_lines(step: dict[str, Any], res: dict[str, Any]) -> list[str]:
    """What one step observed: a wait's values, a JSON answer's fields, a pod's answer, the value."""
    out = []
    output = unfenced(res.get("output"))
    if res.get("approval"):
        a = res["approval"]
        out.append(f"  {'Confirmed' if step.get('kind') == 'manual' else 'Approved'} by {a['by']} via {a['via']}")
    if res.get("observed"):
        out.append(f"  Observed: {' -> '.join(res['observed'])}")
    fields = _json(output) if res.get("status") == "passed" else None
    if fields:
        out += [f"  {k.replace('_', ' ').replace('lsn', 'LSN').capitalize()}: {v}" for k, v in fields.items() if k != "caught_up"]
    elif res.get("pod"):
        out.append(f"  In pod {res['pod']}:")
        out += [f"    {line}" for line in output.splitlines()[:8]]
    elif step.get("kind") == "manual":
        out.append(f"  By hand: {' '.join(output.split())}")
    mark = "✓" if res.get("status") == "passed" else "✗"
    value = res.get("value")
    shown = "" if value in (None, "") or "\n" in str(value) or fields or res.get("pod") else f": {value}"
    out.append(f"  {mark} {'Complete' if mark == '✓' else 'Failed'}{shown}"
               + ("" if mark == "✓" else f" ({res.get('reason')})"))
    return out


def _summary(run: Run, plan: dict[str, Any], results: dict[str, dict[str, Any]]) -> list[str]:
    """The end of the run, each line read from a step's result (or saying it could not be)."""
    finish = run.data("finish")
    params = plan.get("parameters") or {}
    failover = "failover" in plan["runbook"]
    failed = [sid for sid, r in results.items() if r.get("status") != "passed"]
    if failed or finish is None:
        why = why_not(run, run.outcomes.get("steps"), "runbook") if not failed else results[failed[0]].get("reason")
        return [RULE, "", f"❌ {'FAILOVER' if failover else 'RUN'} STOPPED" + (f" at step {failed[0]}" if failed else ""),
                f"  {why}"]
    out = [RULE, "", f"✅ {'FAILOVER' if failover else 'RUNBOOK'} COMPLETE", ""]
    if failover:
        writes = results.get("7", {}).get("status") == "passed"
        out.append(f"  New primary: {params.get('replica', '?')}" + (" (accepts writes: step 7)" if writes else " (not verified)"))
    out.append(f"  Duration: {_duration(finish.get('duration_s'))}")
    if failover:
        moved = results.get("10", {}).get("value")
        out.append(f"  Connections migrated: {moved if moved is not None else 'unknown'}")
        lsn = _json(unfenced(results.get("3", {}).get("output"))) or {}
        drained = (results.get("2", {}).get("observed") or ["?"])[-1] == "0"
        if lsn.get("caught_up") and drained and lsn.get("primary_lsn") == lsn.get("replica_lsn"):
            out.append(f"  Data loss: None (writes stopped and drained; the replica had replayed to the primary's "
                       f"last WAL position {lsn['primary_lsn']} before it was promoted)")
        else:
            out.append("  Data loss: not verified (step 3 did not show the replica at the primary's position)")
    if finish.get("recorded"):
        out += ["", f"📝 Execution recorded to {finish['recorded'].rsplit('/', 1)[0]}/"]
    if failover:
        out += ["", "Shall I create a Jira ticket documenting this failover?"]
    return out


@renderer("runbook_run")
def runbook_run(run: Run) -> list[str]:
    plan = run.data("plan")
    started = run.outcomes.get("run")
    if plan is None or started is None or started.status == "skipped":
        return []
    if not started.ok:
        return ["You: \"yes, proceed\"", "", "  " + why_not(run, started, "runbook")]
    o = run.outcomes.get("steps")
    results = {r["step"]: r for r in ((o.data if o is not None else None) or [])}
    steps = plan.get("plan") or []
    out = ["You: \"yes, proceed\"   (the demo answers as the person, and gives the approvals below at their prompts)", ""]
    for step in steps:
        res = results.get(step["id"])
        if res is None:
            break
        out.append(f"STEP {step['id']}/{len(steps)}: {step['title']}")
        if step.get("argv"):
            out.append(f"  Command: {show_argv(step['argv'])}")
        out += _outcome_lines(step, res)
        out.append("")
    return out + _summary(run, plan, results)
