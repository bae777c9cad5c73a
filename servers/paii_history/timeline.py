"""The merged incident timeline: every server's events in one ordered, deduplicated list with the
key moments marked and the durations computed here, never by the model.

Why here: the skill orchestrates and each server answers only for its own records, so something
has to put the pieces together. The history server already keeps the incident's record and
the past incidents to compare with, and adds its own entries without a round trip; its
``get_timeline`` takes the other servers' ``get_timeline`` results as they came back, merges them
with :func:`merge` (pure: no I/O) and caches the result for ``capture`` of a post-mortem, which renders the
timeline from that cache, not from a copy the model retyped.

Rules (the same input always gives the same timeline):

* **Order**: by time, then source (PagerDuty, Slack, Jira, Kubernetes, runbook, history).
* **Duplicates**: the same record twice (source and ref) is one event; the same record in two
  sources (a runbook run and its history entry share the run id) is one event with both links;
  two events of the same moment kind (acknowledged, resolved, escalated, status update, detected,
  mitigated) from different sources within :data:`SAME_MOMENT` are one event with both links:
  the acknowledgement PagerDuty logged and the one posted in Slack.
* **Key moments**: *started* (first warning signal, when it comes before detection), *detected*
  (PagerDuty's trigger; else the first report, else the first event), *acknowledged* and
  *resolved* (PagerDuty's when it has one, else the first from another source), *mitigated* (the
  first explicit one: the person's, the incident record's status "mitigated", a chat message;
  else inferred: the first change after detection, a rollout or a runbook step that changed
  something, and said to be inferred).
* **Durations**: time to detect (started -> detected), acknowledge, mitigate and resolve (from
  detected), in seconds and as text.
* **Gaps**: a source not read, not configured or down is named ("Slack not configured: chat
  events missing"); a source cut short says so. Never a silent hole.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from paii_common import timeline as tl
from paii_common.errors import InvalidInput
from paii_common.untrusted import NOTE, FencedText, ShortText

SAME_MOMENT = timedelta(minutes=5)
MERGEABLE = {"detected", "acknowledged", "escalated", "status_update", "mitigated", "resolved"}
ORDER = {s: n for n, s in enumerate((*tl.SOURCES, "person"))}
AUTHORITY = {  # whose word counts for a moment, first wins
    "detected": ("pagerduty", "kubernetes", "slack", "jira", "history", "person", "runbook"),
    "acknowledged": ("pagerduty", "slack", "jira", "history", "person", "runbook", "kubernetes"),
    "resolved": ("pagerduty", "jira", "history", "person", "slack", "runbook", "kubernetes"),
    "mitigated": ("person", "history", "pagerduty", "jira", "slack", "runbook", "kubernetes"),
}
MAX_EVENTS = 400
MAX_SOURCES = 12


class SourceIn(BaseModel):
    """One server's ``get_timeline`` result, or a gap: ``{source, gap: "not configured"}``."""

    source: str
    since: str | None = None
    until: str | None = None
    events: list[tl.TimelineEvent] = []
    truncated: bool = False
    truncated_reason: str | None = None
    gap: str | None = None


class MergedEvent(BaseModel):
    id: str
    time: str
    kind: str
    sources: list[str]
    actor: ShortText() | None = None
    event: str
    text: FencedText("timeline text") | None = None
    links: list[str] = []
    moment: str | None = None


class Moment(BaseModel):
    name: str
    time: str
    event_id: str
    basis: str = Field(description="Which event and why it counts.")


class Duration(BaseModel):
    name: str
    seconds: int
    text: str


class Coverage(BaseModel):
    source: str
    events: int = 0
    status: str = Field(description="read, truncated or gap.")
    note: str | None = None


class Merged(BaseModel):
    note: str = NOTE
    incident_id: str
    since: str
    until: str
    events: list[MergedEvent]
    moments: list[Moment]
    durations: list[Duration]
    coverage: list[Coverage]
    gaps: list[str] = Field(description="Name each in the post-mortem: what the record is missing.")
    truncated: bool = False


def parse_sources(raw: list[Any]) -> list[SourceIn]:
    if len(raw) > MAX_SOURCES:
        raise InvalidInput(f"{len(raw)} sources: pass one result per server (at most {MAX_SOURCES}).")
    out = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidInput(f"sources[{n}] is not an object: pass each server's get_timeline result as it came back.")
        if isinstance(item, dict) and "source" not in item and "timeline" in item:  # Kubernetes list_events
            if not isinstance(item["timeline"], dict):
                raise InvalidInput(f"sources[{n}] is a list_events result without a timeline: call list_events "
                                   "with since (the incident's window) and pass that result.")
            item = item["timeline"]
        try:
            src = SourceIn.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise InvalidInput(f"sources[{n}].{where}: {first.get('msg')}. Pass each server's get_timeline result "
                               "as it came back, or {\"source\": \"slack\", \"gap\": \"not configured\"}.") from None
        src.source = src.source.strip().lower()
        if src.source not in ORDER:
            raise InvalidInput(f"sources[{n}].source {src.source[:40]!r} is not one of {', '.join(ORDER)}.")
        for e in src.events:
            e.source = src.source
            when = tl.parse(e.time, f"sources[{n}] event time")
            e.time = tl.iso(when)
        out.append(src)
    return out


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def duration_text(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def _rank(kind: str, source: str) -> int:
    order = AUTHORITY.get(kind)
    return order.index(source) if order and source in order else len(ORDER)


def _dedupe(events: list[tl.TimelineEvent]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    by_ref: dict[str, dict[str, Any]] = {}
    merged: list[dict[str, Any]] = []
    for e in sorted(events, key=lambda x: (x.time, ORDER.get(x.source, 99))):
        key = (e.source, e.ref or f"{e.time}|{e.event}")
        if key in seen:
            continue
        seen.add(key)
        link = [e.link] if e.link else []
        hit = by_ref.get(e.ref) if e.ref else None
        if hit is None and e.kind in MERGEABLE:
            when = _at(e.time)
            hit = next((m for m in reversed(merged) if m["kind"] == e.kind and e.source not in m["sources"]
                        and abs(_at(m["time"]) - when) <= SAME_MOMENT), None)
        if hit is not None:
            if e.source not in hit["sources"]:
                hit["sources"].append(e.source)
            hit["links"] += [x for x in link if x not in hit["links"]]
            if _rank(e.kind, e.source) < _rank(hit["kind"], hit["primary"]):  # the better witness tells it
                hit.update(time=e.time, actor=e.actor, event=e.event, text=e.text or hit["text"], primary=e.source)
            continue
        item = {"time": e.time, "kind": e.kind if e.kind in tl.KINDS else "other", "sources": [e.source], "primary": e.source,
                "actor": e.actor, "event": e.event, "text": e.text, "links": link}
        merged.append(item)
        if e.ref:
            by_ref[e.ref] = item
    merged.sort(key=lambda m: (m["time"], ORDER.get(m["primary"], 99)))
    return merged


def _pick(events: list[MergedEvent], kind: str, after: datetime | None = None,
          before: datetime | None = None) -> MergedEvent | None:
    found = [e for e in events if e.kind == kind and (after is None or _at(e.time) >= after)
             and (before is None or _at(e.time) <= before)]
    if not found:
        return None
    return min(found, key=lambda e: (min(_rank(kind, s) for s in e.sources), e.time))


def _moments(events: list[MergedEvent]) -> tuple[list[Moment], dict[str, datetime]]:
    out: list[Moment] = []
    times: dict[str, datetime] = {}

    def mark(name: str, e: MergedEvent | None, basis: str) -> None:
        if e is None:
            return
        e.moment = e.moment or name
        times[name] = _at(e.time)
        out.append(Moment(name=name, time=e.time, event_id=e.id, basis=f"{e.id}: {basis}"))

    detected = _pick(events, "detected") or next((e for e in events if e.kind == "report"), None) or \
        (events[0] if events else None)
    if detected is not None:
        how = ("the page (" + ", ".join(tl.NAMES.get(s, s) for s in detected.sources) + ")" if detected.kind == "detected"
               else "the first report" if detected.kind == "report" else "the first event recorded (no page found)")
        signal = next((e for e in events if e.kind == "signal" and _at(e.time) < _at(detected.time)), None)
        mark("started", signal, "the first warning signal, before anyone was paged")
        mark("detected", detected, how)
    start = times.get("detected")
    ack = _pick(events, "acknowledged", start)
    mark("acknowledged", ack, f"acknowledged ({', '.join(tl.NAMES.get(s, s) for s in ack.sources)})" if ack else "")
    resolved = _pick(events, "resolved", start)
    end = _at(resolved.time) if resolved else None
    mitigated = _pick(events, "mitigated", start, end)
    if mitigated is not None:
        mark("mitigated", mitigated, f"said to be mitigated ({', '.join(tl.NAMES.get(s, s) for s in mitigated.sources)})")
    else:
        change = next((e for e in events if e.kind == "change" and start and _at(e.time) >= start
                       and (end is None or _at(e.time) <= end)), None)
        mark("mitigated", change, "inferred: the first change after detection (nobody marked the mitigation)")
    mark("resolved", resolved, f"resolved ({', '.join(tl.NAMES.get(s, s) for s in resolved.sources)})" if resolved else "")
    out.sort(key=lambda m: ("started", "detected", "acknowledged", "mitigated", "resolved").index(m.name))
    return out, times


def _durations(times: dict[str, datetime]) -> list[Duration]:
    out = []
    for name, a, b in (("time to detect", "started", "detected"), ("time to acknowledge", "detected", "acknowledged"),
                       ("time to mitigate", "detected", "mitigated"), ("time to resolve", "detected", "resolved")):
        if a in times and b in times and times[b] >= times[a]:
            secs = (times[b] - times[a]).total_seconds()
            out.append(Duration(name=name, seconds=int(secs), text=duration_text(secs)))
    return out


def merge(incident_id: str, sources: list[SourceIn], *, since: datetime | None = None,
          until: datetime | None = None) -> Merged:
    given: dict[str, list[SourceIn]] = {}
    for s in sources:
        given.setdefault(s.source, []).append(s)
    events = [e for s in sources if not s.gap for e in s.events
              if (since is None or _at(e.time) >= since) and (until is None or _at(e.time) <= until)]
    items = _dedupe(events)
    cut = len(items) > MAX_EVENTS
    items = items[:MAX_EVENTS]
    merged = [MergedEvent(id=f"E{n}", **{k: v for k, v in m.items() if k != "primary"}) for n, m in enumerate(items, 1)]
    moments, times = _moments(merged)
    coverage, gaps = [], []
    for source in tl.SOURCES:
        parts = given.get(source) or []
        read = [p for p in parts if not p.gap]
        count = sum(1 for e in merged if source in e.sources)
        if not read:
            reason = next((p.gap for p in parts if p.gap), None) or "not read"
            gaps.append(tl.gap_text(source, reason))
            coverage.append(Coverage(source=source, status="gap", note=gaps[-1]))
            continue
        cuts = [p.truncated_reason or "cut short" for p in read if p.truncated]
        if cuts:
            gaps.append(f"{tl.NAMES[source]} read in part ({'; '.join(cuts)[:200]}): some {tl.MISSING[source]} missing")
        coverage.append(Coverage(source=source, events=count, status="truncated" if cuts else "read",
                                 note=gaps[-1] if cuts else None))
    starts = [t for s in sources for t in (s.since,) if t] + [e.time for e in merged[:1]]
    ends = [t for s in sources for t in (s.until,) if t] + [e.time for e in merged[-1:]]
    first = tl.iso(since) if since else min(starts, default=tl.iso(tl.parse("now", "now")))
    last = tl.iso(until) if until else max(ends, default=first)
    return Merged(incident_id=incident_id, since=first, until=last, events=merged, moments=moments,
                  durations=_durations(times), coverage=coverage, gaps=gaps, truncated=cut)


# ---------------------------------------------------------------------- markdown for people
def _cell(text: str | None) -> str:
    return " ".join(str(text or "").split()).replace("|", "/")


def markdown(m: Merged, *, quote: int = 160) -> str:
    """The timeline sections of a post-mortem: key moments, durations, the events, the gaps.

    Words of others are quoted (cut to ``quote`` characters) after their event; the caller
    unmarks names for people (``paii_common.untrusted.unmark``) when it saves the file."""
    from paii_common.untrusted import CLOSE

    lines = ["### Key moments", "", "| Moment | Time (UTC) | Event |", "|---|---|---|"]
    for mo in m.moments:
        lines.append(f"| {mo.name} | {mo.time.replace('T', ' ').removesuffix('Z')} | {_cell(mo.basis)} |")
    if m.durations:
        lines += ["", "Durations (computed from the events): " + "; ".join(f"{d.name} {d.text}" for d in m.durations) + "."]
    lines += ["", "### Events", "", "| Id | Time (UTC) | Source | What happened |", "|---|---|---|---|"]
    for e in m.events:
        what = _cell(e.event)
        if e.text:
            body = e.text.split("\n", 1)[-1].rsplit("\n" + CLOSE, 1)[0] if e.text.startswith("<<untrusted") else e.text
            body = _cell(body)
            what += f": “{body[:quote - 1] + '…' if len(body) > quote else body}”"
        if e.moment:
            what = f"**{e.moment}**: {what}"
        links = " ".join(f"[link]({u})" for u in e.links[:3])
        lines.append(f"| {e.id} | {e.time[11:19]} | {', '.join(tl.NAMES.get(s, s) for s in e.sources)} | {what} {links}".rstrip() + " |")
    if m.gaps:
        lines += ["", "### Gaps in the record", ""] + [f"- {g}" for g in m.gaps]
    return "\n".join(lines) + "\n"
