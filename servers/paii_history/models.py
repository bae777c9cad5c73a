"""What the history tools return: trimmed to what the model needs to answer the person."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


def ago(ts: float, now: float | None = None) -> str:
    from paii_common import clock

    secs = (now or clock.timestamp()) - ts
    if secs < 0:
        return "in the future"
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= size:
            n = int(secs // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


def when(ts: float) -> str:
    """The one date format of history output (CLI and tools): ISO 8601 UTC to the second, with Z."""
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Saved(BaseModel):
    id: str
    category: str
    path: str = Field(description="The markdown file, relative to $PAII_HOME.")
    created: bool = True
    warnings: list[str] = Field(default_factory=list)


class SearchHit(BaseModel):
    id: str
    category: str
    title: str
    when: str
    score: float
    snippet: str
    service: str | None = None


NO_CLOSE = "Nothing in the history is close to the text: the hits (if any) are only the nearest entries."


class SearchResult(BaseModel):
    hits: list[SearchHit]
    truncated: bool = Field(description="More entries matched than returned: narrow the query or raise limit.")
    no_close_match: bool = Field(default=False, description=NO_CLOSE)
    warnings: list[str] = Field(default_factory=list)


class IncidentHit(BaseModel):
    id: str
    title: str
    when: str
    ago: str
    score: float
    service: str | None = None
    severity: str | None = None
    status: str | None = None
    root_cause: str | None = None
    resolution: str | None = None
    links: dict[str, Any] | None = None
    summary: str | None = None


class SimilarResult(BaseModel):
    hits: list[IncidentHit]
    truncated: bool
    no_close_match: bool = Field(default=False, description=NO_CLOSE)
    warnings: list[str] = Field(default_factory=list)


class EntrySummary(BaseModel):
    id: str
    category: str
    title: str
    when: str
    service: str | None = None
    status: str | None = None
    snippet: str


class RecentResult(BaseModel):
    entries: list[EntrySummary]
    total: int
    truncated: bool


class EntryDetail(BaseModel):
    id: str
    category: str
    title: str
    created: str
    updated: str | None = None
    metadata: dict[str, Any]
    content: str
    path: str
    truncated: bool = False
