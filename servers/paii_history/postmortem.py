"""A post-mortem saved with ``capture`` (category ``postmortems``, metadata ``incident`` and
``meeting``): checked, rendered and kept.

The draft is markdown in the common template (:data:`SECTIONS`, see the postmortem skill). Before
anything is written:

* every section is there (``## Summary`` ... ``## Action items``);
* every statement (a bullet, a table row or a line of prose) outside the timeline cites where it
  comes from: ``[E7]`` (an event of the merged timeline, which must exist), ``[INC-456]`` (a
  history entry or ticket) or ``[input]`` (the person said it);
* every action item has an owner and a due date: ``- Alert on pool use (owner: Priya Raman, due: 2026-01-09) [E4]``.

Then the ``## Timeline`` section is replaced by the one computed from the cached merged timeline
(key moments, durations, events, gaps): its times and durations are never retyped by the model.
The file, ``history/postmortems/<yyyy-mm>/<incident>-postmortem.md``, is markdown a team can
keep in git (names unmarked for people). The incident's record links it and keeps the
post-mortem meeting date, which the handoff shows. Saving again replaces the draft (one per
incident); each action item's ``dedupe_key`` stays the same while its title does, so creating
its ticket twice gives one ticket.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, Field

from paii_common import timeline as tl
from paii_common.errors import Conflict, InvalidInput
from paii_common.untrusted import unmark
from paii_history.entries import Entry, check_id, iso, read_entry, utcnow
from paii_history.models import ActionItem
from paii_history.recurrence import load_cache, record
from paii_history.timeline import Merged, markdown

CATEGORY = "postmortems"
SECTIONS = ("Summary", "Impact", "Timeline", "Root cause and trigger", "Resolution", "Detection", "What went well",
            "What went poorly", "Where we got lucky", "Action items")
_ID = r"(?:E\d+|input|[A-Z][A-Z0-9_]*-\d+)"
CITE = re.compile(rf"\[{_ID}(?:\s*,\s*{_ID})*\]")
EVENT = re.compile(r"\bE\d+\b")
OWNER = re.compile(r"\bowner:\s*([^,;)\]]+)", re.I)
DUE = re.compile(r"\bdue:\s*(\d{4}-\d\d-\d\d)", re.I)
HEADING = re.compile(r"^##\s+(.+?)\s*$", re.M)
MAX_DRAFT = 60_000


class PostmortemSaved(BaseModel):
    id: str
    incident_id: str
    path: str = Field(description="The markdown file, relative to $PAII_HOME.")
    created: bool
    meeting: str | None = None
    action_items: list[ActionItem]
    preview: list[str] = Field(description="The first lines of the saved post-mortem.")


def _sections(draft: str) -> dict[str, str]:
    found: dict[str, str] = {}
    marks = list(HEADING.finditer(draft))
    for n, m in enumerate(marks):
        end = marks[n + 1].start() if n + 1 < len(marks) else len(draft)
        found[m.group(1).strip().rstrip(":").lower()] = draft[m.end():end].strip("\n")
    return found


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].rstrip("-") or "item"


def _statements(body: str) -> list[str]:
    out = []
    for line in body.splitlines():
        text = line.strip()
        if not text or text.startswith(("#", "|---", "| ---", "<!--")) or re.fullmatch(r"\|?[\s:|-]+\|?", text):
            continue
        out.append(text)
    return out


def check_draft(draft: str, merged: Merged) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The sections, and the action items (title, owner, due); InvalidInput listing every problem."""
    if len(draft) > MAX_DRAFT:
        raise InvalidInput(f"the draft is {len(draft)} characters; keep it under {MAX_DRAFT}.")
    sections = _sections(draft)
    problems = [f"missing section `## {name}`" for name in SECTIONS if name.lower() not in sections]
    ids = {e.id for e in merged.events}
    items: list[tuple[str, str, str]] = []
    for name, body in sections.items():
        if name == "timeline":
            continue
        for text in _statements(body):
            cites = CITE.findall(text)
            if not cites:
                problems.append(f"{name}: no source for \"{text[:80]}\" (cite an event [E#], a record [INC-456], or [input])")
                continue
            unknown = sorted({i for c in cites for i in EVENT.findall(c)} - ids)
            if unknown:
                problems.append(f"{name}: {', '.join(unknown)} is not in the timeline (E1-E{len(ids)})")
            if name == "action items" and re.match(r"([-*]|\d+\.)\s", text):
                owner, due = OWNER.search(text), DUE.search(text)
                title = CITE.sub("", re.split(r"\(\s*owner:|\bowner:", text, flags=re.I)[0]).lstrip("-*0123456789. ").strip()
                if not owner or not due:
                    problems.append(f"action item \"{title[:60]}\" needs an owner and a due date: "
                                    "(owner: Name, due: 2026-01-09)")
                    continue
                try:
                    dt.date.fromisoformat(due.group(1))
                except ValueError:
                    problems.append(f"action item \"{title[:60]}\": due {due.group(1)} is not a date")
                    continue
                items.append((title.rstrip(" -:—"), owner.group(1).strip(), due.group(1)))
    if problems:
        raise InvalidInput("the draft cannot be saved yet: " + "; ".join(problems[:12])
                           + (f"; and {len(problems) - 12} more" if len(problems) > 12 else "")
                           + ". Fix these (or ask the person) and capture the post-mortem again.")
    return sections, items


def _hm(value: str) -> str:
    return value.replace("T", " ")[:16]


def render(title: str, incident_id: str, sections: dict[str, str], merged: Merged, meeting: str | None,
           recurrence: str | None) -> str:
    lines = [f"# Post-mortem: {title}", "",
             f"Incident: {incident_id} · Status: draft · Meeting: {meeting or 'not scheduled'} · "
             f"Timeline: {_hm(merged.since)} to {_hm(merged.until)} UTC", "",
             "Blameless: this describes what happened and what the systems made easy or hard, not who is at fault. "
             "Each statement cites a timeline event [E#], a record [ID] or the person's input [input].", ""]
    for name in SECTIONS:
        lines.append(f"## {name}")
        lines.append("")
        if name == "Timeline":
            lines.append(markdown(merged).rstrip())
        else:
            body = sections[name.lower()].strip()
            if name == "Detection" and recurrence:
                body += f"\n\nRecurrence (computed from the history): {recurrence}."
            lines.append(body)
        lines.append("")
    extra = [k for k in sections if k not in {s.lower() for s in SECTIONS}]
    for name in extra:
        lines += [f"## {name[:1].upper()}{name[1:]}", "", sections[name].strip(), ""]
    return unmark("\n".join(lines).rstrip() + "\n")


def save(store: Any, incident_id: Any, draft: str, meeting: Any = None, title: str | None = None) -> PostmortemSaved:
    if not isinstance(incident_id, str) or not incident_id.strip():
        raise InvalidInput("a post-mortem needs metadata {\"incident\": \"<its history id, e.g. INC-789>\"} "
                           "(and \"meeting\": an ISO date/time when one is set).")
    if meeting is not None and not isinstance(meeting, str):
        raise InvalidInput("metadata meeting must be an ISO date/time such as 2026-01-03T15:00:00Z.")
    incident_id = check_id(incident_id.strip())
    merged = load_cache(store, incident_id)
    if merged is None:
        raise Conflict(f"no merged timeline for {incident_id}: call get_timeline (history) with the servers' "
                       "timelines first; the post-mortem's timeline is rendered from it.")
    sections, raw_items = check_draft(draft, merged)
    when = tl.parse(meeting, "meeting") if meeting else None
    meeting_text = when.strftime("%Y-%m-%d %H:%M UTC") if when else None
    rec = record(store, incident_id)
    title = (rec.title if rec else None) or " ".join((title or "").split()).removeprefix("Post-mortem:").strip() or incident_id
    from paii_history.recurrence import recurrence as recur

    rec_info = recur(store, rec).summary if rec else None
    text = render(title, incident_id, sections, merged, meeting_text, rec_info)
    items = [ActionItem(title=t, owner=o, due=d, dedupe_key=f"{incident_id}-{_slug(t)}") for t, o, d in raw_items]
    pm_id = f"{incident_id}-postmortem"
    meta = {"incident": incident_id, "status": "draft", "meeting": iso(when) if when else None,
            "service": (rec.meta.get("service") if rec else None),
            "moments": {m.name: m.time for m in merged.moments}, "durations": {d.name: d.seconds for d in merged.durations},
            "gaps": merged.gaps, "action_items": [i.model_dump() for i in items], "tags": ["postmortem"]}
    now = utcnow()
    with store._write_lock():  # one writer: the entry and the incident's link change together
        store._ensure_category_dir(CATEGORY)
        prev = store.kw.get(pm_id)
        if prev and prev.category != CATEGORY:
            raise Conflict(f"id {pm_id!r} belongs to a {prev.category} entry: rename it, then save again.")
        created_at = read_entry(store._safe_path(prev.path)).created if prev else now
        entry = Entry(id=pm_id, category=CATEGORY, title=f"Post-mortem: {title}"[:300], body=text, created=created_at,
                      updated=now if prev else None, meta={k: v for k, v in meta.items() if v is not None})
        entry, _ = store._write_entry(entry, previous=prev)
        rel = str(entry.path.relative_to(store.settings.home))
        if rec is not None:
            inc_row = store.kw.get(incident_id)
            inc = read_entry(store._safe_path(inc_row.path))
            inc.meta["links"] = {**(inc.meta.get("links") or {}), "postmortem": rel}
            inc.meta["postmortem"] = pm_id
            if when:
                inc.meta["postmortem_meeting"] = iso(when)
            inc.meta["action_items"] = [i.model_dump() for i in items]
            inc.updated = now
            store._write_entry(inc, previous=inc_row)
    preview = [ln for ln in text.splitlines() if ln.strip()][:8]
    return PostmortemSaved(id=pm_id, incident_id=incident_id, path=rel, created=prev is None, meeting=meeting_text,
                           action_items=items, preview=preview)


__all__ = ["PostmortemSaved", "SECTIONS", "check_draft", "save"]
