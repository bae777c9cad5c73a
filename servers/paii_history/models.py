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


class ActionItem(BaseModel):
    title: str
    owner: str
    due: str
    dedupe_key: str = Field(description="Pass to create_issue: the same item never makes two tickets.")


class Saved(BaseModel):
    id: str
    category: str
    path: str = Field(description="The markdown file, relative to $PAII_HOME.")
    created: bool = True
    warnings: list[str] = Field(default_factory=list)
    # a post-mortem (category postmortems): its meeting, its action items, its first lines
    meeting: str | None = None
    action_items: list[ActionItem] | None = None
    preview: list[str] | None = None


DATA = "Structured notes (spanish, writing: see the personal skills); an article's words as the server counted them."


class SearchHit(BaseModel):
    id: str
    category: str
    title: str
    when: str
    score: float
    snippet: str
    service: str | None = None
    data: dict[str, Any] | None = Field(default=None, description=DATA)


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
    data: dict[str, Any] | None = Field(default=None, description=DATA)
    links: dict[str, Any] | None = Field(default=None, description="An incident's links (pagerduty, jira, slack...).")
    root_cause: str | None = None
    resolution: str | None = None
    postmortem: str | None = Field(default=None, description="An incident's post-mortem: scheduled for when, or drafted.")


class DueWord(BaseModel):
    es: str
    en: str
    times: int = Field(description="Sessions it came up in.")
    last_seen: str
    days_ago: int
    sessions_ago: int = Field(description="Sessions since, without it.")


class PastMistake(BaseModel):
    said: str
    correct: str
    rule: str | None = None
    times: int
    last: str


class SpanishReview(BaseModel):
    """Computed from the past practice sessions (tag spanish), newest 200."""

    sessions: int
    level: str | None = Field(default=None, description="Of the latest session.")
    last_session: str | None = None
    themes: list[str] = Field(default_factory=list, description="Recent themes, newest first: pick another.")
    words_total: int = 0
    due_total: int = 0
    due_words: list[DueWord] = Field(
        default_factory=list,
        description="Due for review, most overdue first: a word seen in n sessions is due after 1/3/7/14/30 days "
        "or 1/2/4/8/16 sessions without it (n = 1..5+).",
    )
    mistakes: list[PastMistake] = Field(default_factory=list, description="Made in the last 5 sessions, repeated ones first.")
    grammar: list[str] = Field(default_factory=list, description="Grammar points of the last 3 sessions.")
    practice_minutes: int = Field(default=0, description="This practice so far, from your first read of this review: "
                                  "SESSION STATS' duration; saved with the notes.")


class LengthRange(BaseModel):
    min: int
    max: int
    median: int


class WritingProfile(BaseModel):
    """Computed from past articles (category articles) and writing notes (tag writing), newest 200."""

    articles: int
    notes: int
    words: LengthRange | None = Field(default=None, description="Words of the articles, counted by the server.")
    suggested_range: str | None = None
    sections: int | None = Field(default=None, description="Median number of sections.")
    tone: list[str] = Field(default_factory=list, description="Most common first, (count) when more than one.")
    structure: list[str] = Field(default_factory=list)
    audience: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list, description="Newest articles' topics.")
    basis: str = ""


class RecentResult(BaseModel):
    entries: list[EntrySummary]
    total: int
    truncated: bool
    spanish: SpanishReview | None = Field(default=None, description="With tag spanish.")
    writing: WritingProfile | None = Field(default=None, description="With tag writing.")


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
