"""Report blocks of the Runbook Execution and Sprint Status scenarios (registered in renderers.py).

``runbook_plan`` shows a dry run in the shape of the runbook skill's plan (the 📋 RUNBOOK
header, preflight checks, warnings, each step's exact argv, the steps that need approval);
``sprint`` shows the text sprint_report renders, its risks, and the offer to post it.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from paii_sandbox.renderers import renderer, unfenced, why_not
from paii_sandbox.scenario import Run


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
    needed = [str(s) for s in p.get("approvals_needed") or []]
    out += ["", "PLAN (each step's exact command; no shell):", ""]
    for step in p.get("plan") or []:
        flags = [f for f, on in (("approval required", step.get("approval")), ("changes something", step.get("changes"))) if on]
        out.append(f"  {step['id']:>2}. {step['title']}" + (f"   [{', '.join(flags)}]" if flags else ""))
        out += _action(step)
        if step.get("on_fail"):
            out.append(f"       on failure: offer rollback {step['on_fail']}")
    if p.get("recorded"):
        out += ["", f"📝 Dry run recorded to {p['recorded']}"]
    out += ["", f"Proceed with the failover? (This will require approval for {_steps_text(needed)})",
            "(the demo stops here; tests/e2e/test_runbook.py runs the approved failover against the sandbox)"]
    return out


@renderer("sprint")
def sprint(run: Run) -> list[str]:
    o = run.outcomes.get("report")
    if o is None or not o.ok:
        return ["📊 SPRINT SUMMARY: " + why_not(run, o, "jira")]
    r = o.data
    out = r["text"].splitlines()
    coverage = r.get("coverage") or {}
    if not coverage.get("complete", True):
        out += ["", f"⚠️ Incomplete read: {coverage.get('note')}: blockers may be missing."]
    if r.get("risks"):
        out += ["", "RISKS:", "", *(f"  - {risk}" for risk in r["risks"])]
    unescalated = [b for b in r.get("blockers") or [] if not b.get("escalated")]
    out += ["", "RECOMMENDATION:", ""]
    if r.get("health") == "on_track" and not unescalated:
        out.append("  On track.")
    elif unescalated:
        b = max(unescalated, key=lambda b: b.get("days_blocked") or 0)
        waits = "; ".join(b.get("waiting_on_who") or b.get("waiting_on") or []) or "whoever it waits on"
        out.append(f"  Sprint is {str(r.get('health', 'at_risk')).replace('_', ' ')}. Suggest escalating {b['key']} "
                   f"(blocked {b.get('days_blocked') or '?'} days, not escalated) to unblock {b.get('epic') or 'its epic'}: {waits}.")
    else:
        out.append(f"  Sprint is {str(r.get('health')).replace('_', ' ')}: see the risks.")
    channel = r.get("status_channel")  # from the team's entry in PAII_JIRA_TEAMS, never guessed
    out += ["", "---", "", (f"Shall I post this to {channel}?" if channel else "Which channel shall I post this to?")
            + " (the demo does not post it)"]
    return out
