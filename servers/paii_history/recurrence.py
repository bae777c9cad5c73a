"""What the history itself knows of an incident: its own timeline events, the past incidents it
repeats (computed by a query, not guessed) and their action items; and the merged-timeline cache.

* **Own events**: the entries saved in the window (``entry``; a runbook run's entry has the run id,
  so the merge joins it to the run's end), the incident record's status changes
  (``status_history``: "mitigated" and "resolved" are those moments as the person recorded them)
  and its "## Update" notes (fenced).
* **Recurrence**: past incidents of the same service in the last :data:`RECUR_DAYS` days before
  this one started that share one of its tags (generic tags such as "500" or "sev2" do not
  count), counted per tag: "2nd connection-pool incident on payments-api in 90 days". Plus the
  nearest incidents by text (any service) that score at least the "close match" line.
* **Past action items**: from the past incidents' records (``action_items``, written by
  ``capture`` of a post-mortem); their ticket status is Jira's to tell.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from pydantic import BaseModel, Field

from paii_common import timeline as tl
from paii_common.errors import NotFound
from paii_common.untrusted import fence, short
from paii_history.entries import Entry, check_id
from paii_history.timeline import Merged, SourceIn

RECUR_DAYS = 90
GENERIC_TAGS = {"500", "5xx", "503", "504", "incident", "production", "prod", "outage", "sev1", "sev2", "sev3", "sev4",
                "p1", "p2", "p3", "errors", "error"}
CLOSE_MATCH = 0.45
_UPDATE = re.compile(r"^## Update (\d{4}-\d\d-\d\d \d\d:\d\d) UTC\n+(.*?)(?=^## Update |\Z)", re.M | re.S)


class PastIncident(BaseModel):
    id: str
    title: str
    when: str
    service: str | None = None
    shared_tags: list[str] = []
    score: float | None = None
    root_cause: str | None = None
    action_items: list[dict[str, Any]] = Field(default=[], description="From its post-mortem: check their tickets in Jira.")


class Recurrence(BaseModel):
    summary: str | None = Field(default=None, description="Computed: quote it as it is.")
    window_days: int = RECUR_DAYS
    repeats: list[PastIncident] = Field(default=[], description="Same service, a shared tag, in the window.")
    similar: list[PastIncident] = Field(default=[], description="Closest by text, any service.")
    note: str | None = None


def ordinal(n: int) -> str:
    return f"{n}th" if 10 <= n % 100 <= 13 else f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def record(store: Any, incident_id: str) -> Entry | None:
    try:
        entry = store.get(check_id(incident_id))
    except NotFound:
        return None
    return entry if entry.category == "incidents" else None


def own_events(store: Any, rec: Entry | None, incident_id: str, begin: dt.datetime, end: dt.datetime) -> SourceIn:
    events: list[tl.TimelineEvent] = []
    rows = store.kw.recent(None, 300, begin.timestamp())
    for row in rows:
        when = dt.datetime.fromtimestamp(row.created, dt.UTC)
        if when > end or row.category == "postmortems" or row.id == incident_id:
            continue  # the record itself is dated by the incident's start: its status changes say when it was kept
        events.append(tl.TimelineEvent(time=tl.iso(when), source="history", kind="entry",
                                       event=f"History: {row.category} entry saved: {short(row.title, 160)}", ref=row.id))
    if rec is not None:
        for change in rec.meta.get("status_history") or []:
            status = str(change.get("status") or "")
            try:
                when = tl.parse(str(change.get("at")), "at")
            except Exception:
                continue
            if when is None or not begin <= when <= end:
                continue
            kind = status.lower() if status.lower() in ("mitigated", "resolved") else "change"
            events.append(tl.TimelineEvent(time=tl.iso(when), source="history", kind=kind,
                                           event=f"History {incident_id}: status {short(status, 40)} recorded",
                                           ref=f"{incident_id}/status/{tl.iso(when)}"))
        for stamp, body in _UPDATE.findall(rec.body or ""):
            when = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
            if begin <= when <= end:
                events.append(tl.TimelineEvent(time=tl.iso(when), source="history", kind="note",
                                               event=f"History {incident_id}: update noted",
                                               text=fence(body.strip()[:1500], "history note"),
                                               ref=f"{incident_id}/update/{stamp}"))
    events, reason = tl.cap(events)
    return SourceIn(source="history", since=tl.iso(begin), until=tl.iso(end), events=events, truncated=bool(reason),
                    truncated_reason=reason)


def _tags(meta: dict[str, Any]) -> list[str]:
    return [str(t).lower() for t in meta.get("tags") or [] if str(t).lower() not in GENERIC_TAGS]


def _past(row: Any, shared: list[str] | None = None, score: float | None = None) -> PastIncident:
    m = row.meta or {}
    return PastIncident(id=row.id, title=short(row.title, 200), when=tl.iso(dt.datetime.fromtimestamp(row.created, dt.UTC)),
                        service=short(row.service) or None, shared_tags=shared or [], score=score,
                        root_cause=short(m.get("root_cause"), 300) or None,
                        action_items=[{k: short(v, 200) for k, v in a.items()} for a in (m.get("action_items") or [])
                                      if isinstance(a, dict)][:20])


def recurrence(store: Any, rec: Entry | None) -> Recurrence:
    if rec is None:
        return Recurrence(note="No incident record with this id: record_incident (service, tags, root cause) first, "
                               "then similar past incidents can be counted.")
    service = rec.meta.get("service")
    tags = _tags(rec.meta)
    started = rec.created
    since = started - dt.timedelta(days=RECUR_DAYS)
    rows = [r for r in store.kw.recent("incidents", 1000, since.timestamp())
            if r.id != rec.id and r.created <= started.timestamp()]
    repeats = []
    counts: dict[str, int] = {}
    for r in rows:
        if not service or str(r.service or "").lower() != str(service).lower():
            continue
        shared = [t for t in tags if t in _tags(r.meta)]
        if shared:
            repeats.append(_past(r, shared))
            for t in shared:
                counts[t] = counts.get(t, 0) + 1
    summary = None
    if counts:  # the tag repeated most; on a tie the rarest across all incidents (the most specific)
        overall = {t: sum(1 for r in store.kw.recent("incidents", 1000) if t in _tags(r.meta)) for t in counts}
        tag = max(counts, key=lambda t: (counts[t], -overall[t], -tags.index(t)))
        summary = (f"{ordinal(counts[tag] + 1)} {tag} incident on {short(service)} in {RECUR_DAYS} days "
                   f"(before: {', '.join(p.id for p in repeats if tag in p.shared_tags)})")
    text = "\n".join(str(x) for x in (rec.title, rec.meta.get("root_cause"), rec.meta.get("summary")) if x)
    similar = []
    try:
        hits, _, _ = store.similar(text, k=6)
    except Exception:  # the text search is a bonus: the counted repeats stand without it
        hits = []
    for h in hits:
        if h.id != rec.id and h.id not in {p.id for p in repeats} and h.score >= CLOSE_MATCH and h.row.created <= started.timestamp():
            similar.append(_past(h.row, score=round(h.score, 2)))
    note = None if tags else "The incident record has no tags: record_incident(tags=[...]) to count repeats."
    return Recurrence(summary=summary, repeats=repeats, similar=similar[:5], note=note)


# ---------------------------------------------------------------------- the merged timeline's cache
def cache_path(store: Any, incident_id: str) -> Any:
    return store.settings.home / "timelines" / f"{check_id(incident_id)}.json"


def save_cache(store: Any, merged: Merged) -> None:
    from paii_history.entries import atomic_write

    path = cache_path(store, merged.incident_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, merged.model_dump_json())


def load_cache(store: Any, incident_id: str) -> Merged | None:
    try:
        return Merged.model_validate(json.loads(cache_path(store, incident_id).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
