"""Runs in the history store (category ``runbooks``): the record of each run, when each runbook
last ran and by whom, and the history half of ``find_runbooks``' ranking.

One entry per run, written when the run ends (a dry run at once, a real run at ``finish_run``),
with the run id as its id: ``history/runbooks/2026-01/<run id>.md``. Its metadata (runbook,
operator, outcome, dry_run, parameters, timings) is what :meth:`History.last_runs` reads back.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from typing import Any

from paii_common.redact import redact
from paii_runbook.config import RunbookSettings
from paii_runbook.models import LastRun

CATEGORY = "runbooks"
WORD = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]|[a-z0-9]")
STOP = frozenset("a an and are as at be by for from has have in into is it its of on or the to was were with "
                 "what when where which who why how this that these those run runbook runbooks execute".split())


def words(text: str) -> list[str]:
    return [w for w in WORD.findall((text or "").lower()) if w not in STOP]


def _quote(arg: str) -> str:
    quoted = shlex.quote(arg)
    if quoted == arg or not any(c in arg for c in "'") or any(c in arg for c in '"$`\\!'):
        return quoted
    return f'"{arg}"'  # SQL with single quotes reads better in double quotes, and means the same to a shell


def cmd_line(argv: list[str] | None) -> str:
    """The argv as a shell would need it typed (for people to read; nothing runs through a shell)."""
    return " ".join(_quote(a) for a in argv) if argv else ""


def _fence(text: str) -> str:
    body = text.rstrip("\n") or "(no output)"
    return "\n".join("    " + line for line in body.split("\n"))


def render(state: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(title, markdown body, metadata) of a run's history entry."""
    params = state.get("parameters") or {}
    target = params.get("target") or next(iter(params.values()), "")
    kind = "dry run" if state.get("dry_run") else state.get("outcome") or state.get("status")
    title = f"Runbook {state['runbook']}{f' on {target}' if target else ''}: {kind}"
    lines = [
        f"Runbook: {state.get('file', state['runbook'] + '.md')} (sha256 {state.get('source_sha256', '')[:12]})",
        f"Parameters: {', '.join(f'{k}={v}' for k, v in params.items()) or 'none'}",
        f"Operator: {state.get('operator')}  Outcome: {state.get('outcome')}  "
        f"Started: {state.get('started')}  Finished: {state.get('finished')}",
    ]
    if state.get("notes"):
        lines += ["", "Notes:", _fence(state["notes"])]
    for w in state.get("warnings") or []:
        lines.append(f"Warning: {w}")
    lines += ["", "## Preflight"]
    for c in state.get("preflight") or []:
        mark = "ok" if c.get("passed") else "FAILED"
        lines.append(f"- {mark}: {c['name']}: {c.get('message')} ({cmd_line(c.get('argv'))})")
    lines += ["", "## Steps"]
    for sid in state.get("order") or []:
        s = state["steps"][sid]
        lines.append(f"### Step {sid}: {s['title']}: {s['status']}")
        for a in s.get("attempts") or []:
            where = f" in pod {a['pod']}" if a.get("pod") else ""
            lines.append(f"- {a.get('started')} {a.get('choice', 'run')}: {a.get('status')} in {a.get('duration_s', 0):.1f} s, "
                         f"exit code {a.get('exit_code')}{where}")
            if a.get("argv"):
                lines.append(f"  Command: {cmd_line(a['argv'])}")
            if a.get("approval"):
                ap = a["approval"]
                lines.append(f"  Approved by {ap['by']} via {ap['via']} at {ap['at']} (command sha256 {ap['command_sha256'][:12]})")
            if a.get("observed"):
                lines.append(f"  Observed: {' -> '.join(a['observed'])}")
            if a.get("reason") and a.get("reason") != "ok":
                lines.append(f"  Result: {a['reason']}")
            if a.get("output"):
                lines.append(_fence(a["output"]))
        if not s.get("attempts") and state.get("dry_run"):
            lines.append(f"- planned: {cmd_line(s.get('argv')) or s.get('kind')}")
    events = [e for e in state.get("events") or [] if e.get("kind") in ("approved", "refused", "skip", "retry",
                                                                         "approval-unanswered")]
    if events:
        lines += ["", "## Decisions"]
        lines += [f"- {e['at']} {e['kind']} step {e.get('step')} by {e.get('by')} via {e.get('via')}"
                  f"{': ' + e['note'] if e.get('note') else ''}" for e in events]
    meta = {
        "runbook": state["runbook"],
        "run_id": state["id"],
        "operator": state.get("operator"),
        "outcome": state.get("outcome"),
        "dry_run": bool(state.get("dry_run")),
        "parameters": params,
        "started": state.get("started"),
        "finished": state.get("finished"),
        "duration_s": state.get("duration_s"),
        "service": (state.get("services") or [None])[0],
        "tags": ["runbook", state["runbook"]] + (["dry-run"] if state.get("dry_run") else []),
    }
    return title, redact("\n".join(lines) + "\n"), meta


def _ago(when: dt.datetime, now: dt.datetime) -> str:
    from paii_history.models import ago

    return ago(when.timestamp(), now.timestamp())


class History:
    def __init__(self, settings: RunbookSettings, store: Any | None = None) -> None:
        self.settings = settings
        self._store = store

    def store(self) -> Any:
        if self._store is None:
            from paii_history.config import HistorySettings
            from paii_history.store import HistoryStore

            self._store = HistoryStore(HistorySettings.load(home=self.settings.home, warmup=False))
        return self._store

    def record(self, state: dict[str, Any]) -> tuple[str, list[str]]:
        """Write the run's entry (rewriting the one a finish cut short by a crash left); returns its path
        relative to $PAII_HOME and warnings."""
        title, body, meta = render(state)
        entry, warnings = self.store().capture(CATEGORY, title, body, meta, entry_id=state["id"], replace=True)
        try:
            rel = str(entry.path.relative_to(self.settings.home))
        except ValueError:
            rel = str(entry.path)
        return rel, [w for w in warnings if "semantic" not in w]

    def last_runs(self, now: dt.datetime, *, include_dry: bool = False) -> dict[str, LastRun]:
        """Newest recorded run of each runbook (real runs only, unless include_dry)."""
        rows, _ = self.store().recent(CATEGORY, 500)
        out: dict[str, LastRun] = {}
        for row in rows:  # newest first
            meta = row.meta or {}
            name = meta.get("runbook")
            if not name or name in out or (meta.get("dry_run") and not include_dry):
                continue
            when = dt.datetime.fromtimestamp(row.created, dt.UTC)
            out[name] = LastRun(when=when.date().isoformat(), ago=_ago(when, now), by=meta.get("operator"),
                                outcome=meta.get("outcome"), run_id=meta.get("run_id") or row.id)
        return out

    def related(self, text: str, names: list[str]) -> tuple[dict[str, list[tuple[float, str]]], list[str]]:
        """History search for ``text`` (incidents and runbook runs): runbook name -> [(weight, why)]."""
        hits, _, warnings = self.store().retrieve(text, k=20, categories=[CATEGORY, "incidents"], mode="keyword")
        out: dict[str, list[tuple[float, str]]] = {}
        for rank, h in enumerate(hits):
            weight = 1.0 / (1 + rank)
            meta = h.row.meta or {}
            if h.row.category == CATEGORY and meta.get("runbook") in names:
                out.setdefault(meta["runbook"], []).append((weight, f"ran before for a similar case ({h.row.title})"))
                continue
            blob = " ".join(str(v) for v in (h.row.title, h.row.snippet, meta.get("runbook"), meta.get("runbooks"),
                                              meta.get("resolution"), meta.get("links"))).lower()
            for name in names:
                if name in blob:
                    out.setdefault(name, []).append((weight, f"named by {h.id}: {h.row.title}"))
        return out, [w for w in warnings if "semantic" not in w]
