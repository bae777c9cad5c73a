"""The history MCP server: memory that finds similar past incidents.

``build_server`` does no I/O: the store opens its index on the first tool call (or in a
background warm-up that starts once the handshake is over: after the first message that
follows ``initialize``, normally ``notifications/initialized``).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

from paii_common import clock
from paii_common.auth import actor
from paii_common.tools import register_tools, tool
from paii_history import __version__, kinds, limits, personal
from paii_history.config import HistorySettings
from paii_history.entries import parse_time
from paii_history.limits import ANSWER_FIELD, ANSWER_SHORT, bounded, cut
from paii_history.models import (
    EntryDetail,
    EntrySummary,
    IncidentHit,
    RecentResult,
    Saved,
    SearchHit,
    SearchResult,
    SimilarResult,
    SpanishReview,
    WritingProfile,
    ago,
    when,
)
from paii_history.retrieve import close_call, no_close_match
from paii_history.timeline_tool import TimelineResult, build_timeline
from paii_history.store import HistoryStore
from paii_history.usage import UsageReport

WARMUP_DELAY_S = 1.0

INSTRUCTIONS = (
    "PAII history: the person's long-term memory as markdown files (incidents, learnings, decisions, runbooks, "
    "sessions, notes). Use similar_incidents when an incident starts, record_incident to keep its state, "
    "capture for anything worth remembering, search/recent/get to look things up."
)

GET_LIMIT = 20_000

Since = Annotated[
    str | None,
    Field(description="Only entries created at or after this: ISO date/time or an age like 7d, 24h.", examples=["30d"]),
]
Short = Annotated[str | None, Field(max_length=limits.SHORT)]
IncidentId = Annotated[str, Field(description="Its history id, e.g. INC-789")]
Text = Annotated[str | None, Field(max_length=limits.FIELD)]


def _rel(store: HistoryStore, path) -> str:
    try:
        return str(path.relative_to(store.settings.home))
    except ValueError:
        return str(path)


def build_server(settings: HistorySettings | None = None, client: HistoryStore | None = None) -> MCPServer:
    settings = settings or HistorySettings.load()
    store = client or HistoryStore(settings)

    mcp = MCPServer("paii-history", version=__version__, instructions=INSTRUCTIONS)
    warm_started = threading.Event()
    practice = personal.PracticeClock()

    async def warm_after_handshake(ctx: Any, call_next: Any) -> Any:
        """Nothing is loaded before ``initialize`` is answered; the first message after it
        (``notifications/initialized``, or any request) schedules loading the index and the
        model off the event loop, so the first search does not pay for it."""
        result = await call_next(ctx)
        if settings.warmup and ctx.method != "initialize" and not warm_started.is_set():
            warm_started.set()
            # a second later: importing chromadb and onnxruntime holds the GIL for a while, and
            # the client's first requests (tools/list, prompts/list...) come right now
            timer = threading.Timer(WARMUP_DELAY_S, store.warm)
            timer.name, timer.daemon = "paii-history-warmup", True
            timer.start()
        return result

    mcp.middleware.append(warm_after_handshake)

    def _since(value: str | None):
        return parse_time(value, "since") if value else None

    @tool(read_only=False, idempotent=False, open_world=False)
    async def capture(
        category: Annotated[str, Field(description="sessions, learnings, incidents, decisions, runbooks, notes, articles, postmortems, or another existing category.", max_length=48)],
        title: Annotated[str, Field(description="One line.", max_length=limits.TITLE)],
        content: Annotated[str, Field(description=f"Markdown body, up to {limits.CONTENT // 1024} KB.")],
        metadata: Annotated[dict[str, Any] | None, Field(description=f"Extra frontmatter fields (up to {limits.METADATA_JSON // 1024} KB as JSON), e.g. {{\"tags\": [\"db\"]}}; spanish, writing: a skill's notes; postmortems: incident, meeting.", max_length=50)] = None,
        create_category: Annotated[bool, Field(description="Allow a category that does not exist yet.")] = False,
        allow_duplicate: Annotated[bool, Field(description="Save even if one has this title and text.")] = False,
    ) -> Saved:
        """Save a new entry (learning, decision, session note, runbook execution record...) to history."""
        if category.strip().lower() == "postmortems":  # checked against the incident's merged timeline
            from paii_history.postmortem import save

            done = await asyncio.to_thread(save, store, (metadata or {}).get("incident"), content,
                                           (metadata or {}).get("meeting"), title)
            return Saved(id=done.id, category="postmortems", path=done.path, created=done.created,
                         meeting=done.meeting, action_items=done.action_items, preview=done.preview)
        metadata = kinds.check_metadata(metadata)
        if metadata and isinstance(metadata.get("spanish"), dict):  # timed by the server, never the model's guess
            minutes = practice.finish(actor(), clock.timestamp())
            metadata["spanish"] = {k: v for k, v in metadata["spanish"].items() if k != "minutes"} | (
                {"minutes": minutes} if minutes is not None else {})
        entry, warnings = await asyncio.to_thread(
            store.capture, category, title, content, metadata, create_category=create_category, author=actor(),
            allow_duplicate=allow_duplicate,
        )
        duplicate = any(n.startswith("not saved:") for n in entry.notes)  # the existing entry came back
        return Saved(id=entry.id, category=entry.category, path=_rel(store, entry.path), created=not duplicate,
                     warnings=warnings)

    @tool(read_only=False, idempotent=True, open_world=False)
    async def record_incident(
        id: Annotated[str, Field(description="Stable incident id, up to 128 letters, digits, . _ -, e.g. the Jira key or PagerDuty number.", examples=["INC-789"])],
        title: Annotated[str | None, Field(description="Required when the incident is new.", max_length=limits.TITLE)] = None,
        service: Annotated[str | None, Field(max_length=limits.SERVICE)] = None,
        severity: Short = None,
        status: Annotated[str | None, Field(description="e.g. investigating, mitigated, monitoring, resolved.", max_length=limits.SHORT)] = None,
        summary: Text = None,
        root_cause: Text = None,
        resolution: Text = None,
        started: Annotated[str | None, Field(description="ISO date/time.", max_length=limits.SHORT)] = None,
        resolved: Annotated[str | None, Field(description="ISO date/time.", max_length=limits.SHORT)] = None,
        links: Annotated[dict[Annotated[str, Field(max_length=limits.LINK_KEY)], Annotated[str, Field(max_length=limits.LINK)]] | None,
                         Field(description="e.g. {\"pagerduty\": url, \"jira\": url, \"slack\": url}.", max_length=limits.LINKS)] = None,
        tags: Annotated[list[Annotated[str, Field(max_length=limits.TAG)]] | None, Field(max_length=limits.TAGS)] = None,
        notes: Annotated[str | None, Field(description=f"Timeline notes appended to the body, up to {limits.CONTENT // 1024} KB.")] = None,
    ) -> Saved:
        """Create or update an incident by id. Given fields replace stored ones; omitted fields are kept."""
        fields = {
            "title": title, "service": service, "severity": severity, "status": status, "summary": summary,
            "root_cause": root_cause, "resolution": resolution, "started": started, "resolved": resolved,
            "links": links, "tags": tags,
        }
        entry, created, warnings = await asyncio.to_thread(store.record_incident, id, fields, notes=notes, author=actor())
        return Saved(id=entry.id, category=entry.category, path=_rel(store, entry.path), created=created, warnings=warnings)

    @tool(read_only=True, open_world=False)
    async def search(
        text: Annotated[str, Field(description="What to look for, in words.")],
        category: Annotated[str | None, Field(description="Limit to one category.")] = None,
        since: Since = None,
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> SearchResult:
        """Search all history by meaning and keywords, best first; scores as in similar_incidents."""
        cats = [store.check_known_category(category)] if category else None
        def run():
            found = store.retrieve(text, k=limit, categories=cats, since=_since(since))
            return found, personal.listing_data(store, [h.row for h in found[0]])

        (hits, truncated, warnings), data = await asyncio.to_thread(run)
        return SearchResult(
            hits=[
                SearchHit(id=h.id, category=h.row.category, title=cut(h.row.title, limits.TITLE, h.id), when=when(h.row.created),
                          score=round(h.score, 4), close=h.close, snippet=cut(h.row.snippet, ANSWER_FIELD, h.id), service=_s(h.row.service, h.id, ANSWER_SHORT),
                          data=data.get(h.id))
                for h in hits
            ],
            truncated=truncated,
            no_close_match=no_close_match(hits),
            warnings=warnings + store.git_warnings(),
        )

    @tool(read_only=True, open_world=False)
    async def similar_incidents(
        text: Annotated[str, Field(description="Symptoms, service, errors, alert text. A pasted report: its title on the first line.", examples=["payments-api returning 500s in production"])],
        service: Annotated[str | None, Field(description="Only incidents of this service.")] = None,
        since: Since = None,
        k: Annotated[int, Field(ge=1, le=20)] = 5,
    ) -> SimilarResult:
        """Find past incidents like this one (same service and failure first): root cause, resolution, links.
        score: 0-1 evidence of a match, same across queries; close=false hits are only the nearest."""
        hits, truncated, warnings = await asyncio.to_thread(
            store.similar, text, k=k, since=_since(since), service=service
        )
        out = []
        for h in hits:
            m = h.row.meta
            out.append(
                IncidentHit(
                    id=h.id, title=cut(h.row.title, limits.TITLE, h.id), when=when(h.row.created), ago=ago(h.row.created),
                    score=round(h.score, 4), close=h.close, why=h.why, service=_s(h.row.service, h.id, ANSWER_SHORT),
                    severity=_s(m.get("severity"), h.id, ANSWER_SHORT), status=_s(m.get("status"), h.id, ANSWER_SHORT),
                    root_cause=_s(m.get("root_cause"), h.id), resolution=_s(m.get("resolution"), h.id),
                    links=(bounded(m["links"], h.id, limits.ANSWER_LINK, limits.LINKS)
                           if isinstance(m.get("links"), dict) else None),
                    summary=None if m.get("root_cause") else cut(h.row.snippet, ANSWER_FIELD, h.id),
                )
            )
        return SimilarResult(hits=out, truncated=truncated, no_close_match=no_close_match(hits),
                             close_call=close_call(hits), warnings=warnings + store.git_warnings())

    @tool(read_only=True, open_world=False)
    async def recent(
        category: Annotated[str | None, Field(description="One category, or all when omitted.")] = None,
        count: Annotated[int, Field(ge=1, le=100)] = 10,
        since: Since = None,
        tag: Annotated[str | None, Field(description="Only entries with this tag; spanish and writing add their review/profile.", max_length=limits.TAG)] = None,
    ) -> RecentResult:
        """List the newest entries, newest first."""
        def run():
            start = _since(since)
            if tag and tag.strip():
                rows, total = personal.tagged(store, tag, category, start, count)
                summary = personal.digest(store, tag, category, start, clock.timestamp())
            else:
                (rows, total), summary = store.recent(category, count, start), None
            return rows, total, summary, personal.listing_data(store, rows)

        rows, total, summary, data = await asyncio.to_thread(run)
        if isinstance(summary, SpanishReview):
            summary.practice_minutes = practice.read(actor(), clock.timestamp())
        return RecentResult(
            entries=[
                EntrySummary(id=r.id, category=r.category, title=cut(r.title, limits.TITLE, r.id), when=when(r.created),
                             service=_s(r.service, r.id, ANSWER_SHORT), status=_s(r.meta.get("status"), r.id, ANSWER_SHORT),
                             snippet=cut(r.snippet, ANSWER_FIELD, r.id), data=data.get(r.id),
                             **_incident_extras(r))
                for r in rows
            ],
            total=total,
            truncated=total > len(rows),
            spanish=summary if isinstance(summary, SpanishReview) else None,
            writing=summary if isinstance(summary, WritingProfile) else None,
        )

    @tool(read_only=True, open_world=False)
    async def get(id: Annotated[str, Field(description="An id from search, recent or similar_incidents.")]) -> EntryDetail:
        """Read one entry in full."""
        entry = await asyncio.to_thread(store.get, id)
        body = entry.body
        truncated = len(body) > GET_LIMIT
        return EntryDetail(
            id=entry.id, category=entry.category, title=cut(entry.title, limits.TITLE),
            created=when(entry.created.timestamp()),
            updated=when(entry.updated.timestamp()) if entry.updated else None,
            metadata=bounded(entry.meta, limit=limits.FIELD),
            content=body[:GET_LIMIT] + ("\n…[truncated: open the file to read the rest]" if truncated else ""),
            path=_rel(store, entry.path), truncated=truncated,
        )

    @tool(read_only=True, open_world=False)
    async def get_timeline(
        incident_id: IncidentId,
        sources: Annotated[list[Any], Field(description='get_timeline results, or {"source":"slack","gap":"why"}')],
    ) -> TimelineResult:
        """Merge an incident's timelines from the servers with history's: ordered, deduped; moments,
        durations, gaps, repeats computed."""
        return await asyncio.to_thread(build_timeline, store, incident_id, sources, None, None)

    @tool(read_only=True, open_world=False)
    async def usage_report(days: Annotated[int, Field(ge=1, le=365, description="How many days back.")] = 30) -> UsageReport:
        """Report how PAII itself was used (local usage log, counts only): calls per server and skill,
        services mentioned with no plugin, unused capabilities, recommendations."""
        from paii_history import usage

        return await usage.usage_report(settings.home, days, await mcp.list_tools())

    register_tools(
        mcp,
        [capture, record_incident, search, similar_incidents, recent, get, usage_report, get_timeline],
        settings=settings,
    )
    mcp.store = store  # for tests and the CLI
    return mcp


def _incident_extras(row: Any) -> dict[str, Any]:
    """An incident's links, root cause, resolution and post-mortem line, for a listing (the handoff shows them)."""
    if row.category != "incidents":
        return {}
    meta = row.meta or {}
    links = bounded(meta["links"], row.id, limits.ANSWER_LINK, limits.LINKS) if isinstance(meta.get("links"), dict) else None
    meeting = meta.get("postmortem_meeting")
    if meeting:
        post = f"Scheduled for {str(meeting).replace('T', ' ')[:16]} UTC"
    elif meta.get("postmortem"):
        post = "Drafted, meeting not scheduled"
    else:
        post = None
    return {"links": links, "postmortem": post, "root_cause": _s(meta.get("root_cause"), row.id),
            "resolution": _s(meta.get("resolution"), row.id)}


def _s(value: Any, entry_id: str | None = None, limit: int = ANSWER_FIELD) -> str | None:
    """A field of a listed hit as text, cut to ``limit`` characters (None when empty)."""
    if value is None or value == "":
        return None
    return cut(value if isinstance(value, str) else str(value), limit, entry_id)


__all__ = ["build_server"]
