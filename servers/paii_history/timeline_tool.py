"""The history's ``get_timeline``: merge the servers' timelines with the history's own, cache the
result for ``capture`` of a post-mortem and count the past incidents this one repeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from paii_common import timeline as tl
from paii_history.entries import check_id
from paii_history.recurrence import Recurrence, own_events, record, recurrence, save_cache
from paii_history.timeline import Merged, merge, parse_sources


class TimelineResult(Merged):
    recurrence: Recurrence
    at: dict[str, str] = Field(default={}, description="Moment -> its event id, e.g. acknowledged: E8 (to cite).")
    took: dict[str, str] = Field(default={}, description="detect, acknowledge, mitigate, resolve -> the duration's text.")


def _bounds(sources: list[Any], rec: Any, since: str | None, until: str | None) -> tuple[datetime, datetime]:
    """The window: as asked, else from the sources' windows and events (and the record's start)."""
    times = [tl.parse(t, "time") for s in sources for t in (s.since, s.until, *(e.time for e in s.events)) if t]
    if rec is not None:
        times.append(rec.created)
    end = tl.parse(until, "until") or max(times, default=None) or tl.parse("now", "now")
    begin = tl.parse(since, "since") or min(times, default=end)
    begin = max(min(begin, end), end - tl.WINDOW_MAX)
    return begin, end


def build_timeline(store: Any, incident_id: str, raw: list[dict[str, Any]], since: str | None,
                   until: str | None) -> TimelineResult:
    store.ensure_ready()
    check_id(incident_id)
    sources = [s for s in parse_sources(raw) if s.source != "history"]
    rec = record(store, incident_id)
    begin, end = _bounds(sources, rec, since, until)
    merged = merge(incident_id, [*sources, own_events(store, rec, incident_id, begin, end)],
                   since=begin if since else None, until=end if until else None)
    save_cache(store, merged)
    return TimelineResult(**merged.model_dump(), recurrence=recurrence(store, rec),
                          at={m.name: m.event_id for m in merged.moments},
                          took={d.name.removeprefix("time to "): d.text for d in merged.durations})
