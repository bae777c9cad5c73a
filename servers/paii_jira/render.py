"""The SPRINT SUMMARY text, in the style of the use-case seed (16-cell ▓/░ progress bars). Names,
summaries and the goal in it are other people's text: plain or marked (``paii_common.untrusted.short``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paii_common.untrusted import short

if TYPE_CHECKING:
    from paii_jira.models import SprintReport

CELLS = 16


def bar(done: float, total: float) -> str:
    filled = round(CELLS * done / total) if total else 0
    filled = min(CELLS, max(0, filled))
    return "▓" * filled + "░" * (CELLS - filled)


def _pts(value: float) -> str:
    return f"{value:g}"


def render(r: SprintReport) -> str:
    p, t = r.points, r.tickets
    start, end = (r.period.start or "?")[:10], (r.period.end or "?")[:10]
    left = f" ({r.period.days_left} days left, {r.period.working_days_left} working)" if r.period.days_left is not None else ""
    lines = [
        f"📊 SPRINT SUMMARY: {short(r.board)} - {short(r.sprint.name)}",
        "",
        f"Period: {start} to {end}{left}",
        f"Capacity: {r.assignees} engineers, {_pts(p.total)} story points"
        + (f" ({_pts(p.committed_at_start)} committed at start + {_pts(p.added_after_start)} added)" if p.added_after_start else ""),
    ]
    if r.sprint.goal:
        lines.append(f"Goal: {short(r.sprint.goal, 300)}")
    lines += [
        "",
        "PROGRESS:",
        f"  {bar(p.completed, p.total)} {p.percent_complete}% complete ({_pts(p.completed)}/{_pts(p.total)} points)",
        "",
        f"  Completed: {t.done} tickets",
        f"  In Progress: {t.in_progress} tickets ({_pts(p.in_progress)} points)",
        f"  Remaining: {t.to_do} tickets ({_pts(p.remaining)} points)",
        "",
        "BY EPIC:",
    ]
    for e in r.epics:
        title = f"{short(e.name, 300)} ({e.key})" if e.key else short(e.name, 300)
        if e.status == "complete":
            state = "All tickets complete ✓"
        elif e.status == "blocked":
            who = {b.key: b.waiting_on_who for b in r.blockers}
            state = "Blocked: " + ", ".join(k + (f" (waiting on {who[k][0].split(' (')[0]})" if who.get(k) else "")
                                            for k in e.blocked_issues)
        elif e.status == "behind":
            state = f"Behind ({e.done_issues}/{e.issues} tickets done)"
        else:
            state = "On track"
        lines += ["", f"  {title}", f"    {bar(e.done_points, e.total_points)} {e.percent}% "
                  f"({_pts(e.done_points)}/{_pts(e.total_points)} points)", f"    {state}"]
    lines += ["", "BLOCKERS:"]
    if not r.blockers:
        lines.append("  None found" + ("" if r.coverage.complete else " in the issues read (the read was cut short)"))
    for n, b in enumerate(r.blockers, 1):
        lines += ["", f"  {n}. {b.key}: {short(b.summary, 300)}"]
        if b.waiting_on_who:
            lines.append(f"     Waiting on: {'; '.join(b.waiting_on_who)}")
        if b.waiting_on:
            lines.append(f"     Blocked by: {'; '.join(b.waiting_on)}")
        elif not b.waiting_on_who:
            lines.append(f"     Waiting on: unknown (status {b.status}; see the last comment)")
        lines.append(f"     Days blocked: {b.days_blocked if b.days_blocked is not None else 'unknown (before the changelog)'}")
        lines.append(f"     Escalated: {'Yes, ' + b.escalation if b.escalated and b.escalation else 'No'}")
    extra = []
    if r.added_after_start:
        extra.append("  Added after start: " + ", ".join(f"{a.key} ({_pts(a.points or 0)} pts)" for a in r.added_after_start))
    if r.carried_over:
        extra.append("  Carried over: " + ", ".join(f"{c.key} (from {short(c.from_sprint)})" for c in r.carried_over))
    if r.unestimated:
        extra.append("  Unestimated: " + ", ".join(u.key for u in r.unestimated))
    if extra:
        lines += ["", "SCOPE:"] + extra
    if r.velocity:
        lines += ["", "VELOCITY (last closed sprints):",
                  "  " + ", ".join(f"{short(v.name)}: {_pts(v.completed_points)}" for v in r.velocity)
                  + (f" (average {_pts(r.velocity_average or 0)})" if r.velocity_average is not None else "")]
    lines += ["", f"Coverage: {r.coverage.issues_read} issues, {r.coverage.pages} page(s), JQL: {r.coverage.jql}"
              + ("" if r.coverage.complete else " — INCOMPLETE")]
    return "\n".join(lines)
