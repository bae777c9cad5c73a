"""What the history tools return: trimmed to what the model needs to answer the person.

An entry may come from a team's shared history (git) or an import: its content is fenced, and its
title, snippet, service, root cause, resolution, links, tags and other metadata are plain or
marked as other people's text (``paii_common.untrusted``: the types below do it when the result
is sent). The server's own cuts ("… [cut: N more chars]") come first; the types do not cut again."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, Field

from paii_common.untrusted import FencedText, MarkedTree, ShortText

Name = ShortText(200)
Text = ShortText(5000)  # titles, snippets, root causes: already cut by the server (limits.py)
Tree = Annotated[dict[str, Any], MarkedTree]


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


SCORE = ("Evidence that the entry matches, 0-1, the same across queries; hits are in its order. 1.0 only for "
         "the same incident (same title and text, or named in the text).")
CLOSE = "score is at or above the close-match threshold (0.5): under it, only the nearest entry, not a match."


class SearchHit(BaseModel):
    id: str
    category: Name
    title: Text
    when: str
    score: float = Field(description=SCORE)
    close: bool = Field(default=False, description=CLOSE)
    snippet: Text
    service: Name | None = None
    data: Tree | None = Field(default=None, description=DATA)


NO_CLOSE = "Nothing in the history is close to the text: the hits (if any) are only the nearest entries."


class SearchResult(BaseModel):
    hits: list[SearchHit]
    truncated: bool = Field(description="More entries matched than returned: narrow the query or raise limit.")
    no_close_match: bool = Field(default=False, description=NO_CLOSE)
    warnings: list[str] = Field(default_factory=list)


class IncidentHit(BaseModel):
    id: str
    title: Text
    when: str
    ago: str
    score: float = Field(description=SCORE)
    close: bool = Field(default=False, description=CLOSE)
    why: str = Field(default="", description="What it shares with the text: service, failure, rare words, meaning.")
    service: Name | None = None
    severity: Name | None = None
    status: Name | None = None
    root_cause: Text | None = None
    resolution: Text | None = None
    links: Tree | None = None
    summary: Text | None = None


class SimilarResult(BaseModel):
    hits: list[IncidentHit]
    truncated: bool
    no_close_match: bool = Field(default=False, description=NO_CLOSE)
    close_call: str | None = Field(default=None, description="The best two match about equally: which and why; "
                                   "more detail (the alert, the error) tells them apart.")
    warnings: list[str] = Field(default_factory=list)


class EntrySummary(BaseModel):
    id: str
    category: Name
    title: Text
    when: str
    service: Name | None = None
    status: Name | None = None
    snippet: Text
    data: Tree | None = Field(default=None, description=DATA)
    links: Tree | None = Field(default=None, description="An incident's links (pagerduty, jira, slack...).")
    root_cause: Text | None = None
    resolution: Text | None = None
    postmortem: Text | None = Field(default=None, description="An incident's post-mortem: scheduled for when, or drafted.")


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
    category: Name
    title: Text
    created: str
    updated: str | None = None
    metadata: Tree
    content: FencedText("history entry")
    path: str
    truncated: bool = False
