"""``get_timeline``: the runbook steps run in a window, from the runs on disk (open and finished).

One event per step attempt at its start: ``change`` when the step needed the person's approval
(it changes something), else ``step``; its result, exit code, duration, approver and the first
lines of its output (fenced: programs wrote it). A run's start and end are events too; the end
carries the run id as ``ref``, the id of the run's history entry, so the merge makes them one.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from paii_common import timeline as tl
from paii_common.untrusted import fence, short

MAX_RUNS = 200
OUTPUT_CHARS = 400
LABEL = "command output"


def _runs(root: Path) -> list[dict[str, Any]]:
    files = [*root.glob("*.json"), *(root / "finished").glob("*.json")] if root.is_dir() else []
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    out = []
    for path in files[:MAX_RUNS]:
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return out


def build(root: Path, since: str, until: str, runbook: str | None) -> tl.Timeline:
    begin, end = tl.window(since, until)
    events: list[tl.TimelineEvent] = []

    def add(when: datetime | None, kind: str, actor: Any, what: str, text: str | None = None, ref: str | None = None) -> None:
        if when is not None and begin <= when <= end:
            events.append(tl.TimelineEvent(time=tl.iso(when), source="runbook", kind=kind, actor=short(actor) or None,
                                           event=what, text=fence(text, LABEL) if text else None, ref=ref))

    for st in _runs(root):
        name = str(st.get("runbook") or "?")
        if runbook and name != runbook:
            continue
        rid, op = str(st.get("id") or ""), st.get("operator")
        dry = " (dry run)" if st.get("dry_run") else ""
        add(tl.event_time(st.get("started")), "other", op, f"Runbook {name}: run started{dry} by {short(op) or 'someone'}",
            ref=f"{rid}/start")
        for sid in st.get("order") or []:
            step = (st.get("steps") or {}).get(sid) or {}
            for n, a in enumerate(step.get("attempts") or []):
                approval = a.get("approval") or {}
                took = f", {float(a.get('duration_s') or 0):.1f} s" if a.get("duration_s") is not None else ""
                code = f", exit {a['exit_code']}" if a.get("exit_code") is not None else ""
                by = f", approved by {short(approval.get('by'))}" if approval else ""
                what = (f"Runbook {name} step {sid} ({short(step.get('title'), 120)}): {a.get('status') or '?'}"
                        f"{code}{took}{by}")
                detail = "\n".join(x for x in (a.get("reason") if a.get("reason") not in (None, "ok") else None,
                                                str(a.get("output") or "")[:OUTPUT_CHARS] or None) if x)
                add(tl.event_time(a.get("started")), "change" if approval else "step", a.get("by") or op, what, detail or None,
                    ref=f"{rid}/{sid}/{n}")
        if st.get("status") == "finished":
            add(tl.event_time(st.get("finished")), "other", op, f"Runbook {name}: run finished ({st.get('outcome')}){dry}", ref=rid)
    events, reason = tl.cap(events)
    return tl.Timeline(source="runbook", since=tl.iso(begin), until=tl.iso(end), events=events,
                       truncated=bool(reason), truncated_reason=reason)
