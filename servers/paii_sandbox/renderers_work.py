"""Report blocks of the Sprint Status scenario (registered in renderers.py; the runbook's are in
renderers_runbook.py): ``sprint`` shows the text sprint_report renders, its risks, and the offer to post it.
"""

from __future__ import annotations


from paii_sandbox.renderers import renderer, why_not
from paii_sandbox.scenario import Run


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
