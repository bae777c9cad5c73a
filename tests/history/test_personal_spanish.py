"""Spanish practice notes in history: checked on capture, returned as data, and a review schedule
computed by the server (words due, past mistakes), through the real MCP client in memory."""

from __future__ import annotations

import datetime as dt

from mcp import Client

from paii_history.entries import Entry
from paii_history.kinds import SpanishNotes
from paii_history.personal import spanish_review
from tests.mcp_calls import plain

DAY = 86400.0
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)

SESSION = {
    "level": "intermediate",
    "theme": "restaurant",
    "words": [{"es": "mientras", "en": "while"}, {"es": "camarero", "en": "waiter", "seen": 3}],
    "mistakes": [{"said": "una agua con gas", "correct": "un agua con gas",
                  "rule": "feminine nouns starting with a stressed a take un/el"}],
    "grammar": ["quisiera: polite conditional"],
    "sentences": 8,
    "minutes": 99,  # the model's guess: the server saves its own timing instead
}


def seed(settings, n: int, when: dt.datetime, notes: dict, title: str | None = None) -> str:
    """A session written on disk as a person's history would hold it (dated in the past)."""
    eid = f"lea-spanish-{n}"
    entry = Entry(id=eid, category="learnings", title=title or f"Spanish practice {n}", body="Notes.\n",
                  created=when, meta={"tags": ["spanish"], "spanish": notes})
    path = settings.history_dir / entry.relpath()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(entry.to_markdown())
    return eid


def notes(**kw) -> SpanishNotes:
    return SpanishNotes.model_validate({"level": "intermediate", **kw})


def test_a_word_seen_once_is_due_a_day_later_and_not_before():
    now = NOW.timestamp()
    fresh = spanish_review([(now - 3600, notes(words=[{"es": "agua", "en": "water"}]))], now)
    assert fresh.due_words == [] and fresh.words_total == 1
    day = spanish_review([(now - DAY - 60, notes(words=[{"es": "agua", "en": "water"}]))], now)
    assert [(w.es, w.days_ago, w.sessions_ago, w.times) for w in day.due_words] == [("agua", 1, 0, 1)]


def test_a_word_seen_in_more_sessions_waits_longer():
    now = NOW.timestamp()
    w = [{"es": "mientras", "en": "while"}]
    sessions = [(now - 6 * DAY, notes(words=w)), (now - 5 * DAY, notes(words=w)), (now - 2 * DAY, notes(words=w))]
    # seen in 3 sessions: due after 7 days or 4 sessions without it; 2 days and 0 sessions is not due
    assert spanish_review(sessions, now).due_words == []
    later = sessions + [(now - DAY + i, notes(words=[{"es": "otra", "en": "other"}])) for i in range(4)]
    due = spanish_review(later, now).due_words
    assert [(d.es, d.sessions_ago) for d in due if d.es == "mientras"] == [("mientras", 4)]


def test_most_overdue_words_come_first_and_mistakes_repeated_come_first():
    now = NOW.timestamp()
    agua = {"said": "una agua", "correct": "un agua", "rule": "stressed a"}
    ser = {"said": "estoy profesor", "correct": "soy profesor", "rule": "ser for professions"}
    sessions = [
        (now - 20 * DAY, notes(words=[{"es": "viejo", "en": "old"}], mistakes=[agua])),
        (now - 3 * DAY, notes(words=[{"es": "nuevo", "en": "new"}], mistakes=[ser])),
        (now - 2 * DAY, notes(mistakes=[agua], grammar=["un agua"], theme="restaurant")),
    ]
    r = spanish_review(sessions, now)
    assert [d.es for d in r.due_words] == ["viejo", "nuevo"]  # 20 days overdue before 3
    assert [(m.correct, m.times) for m in r.mistakes] == [("un agua", 2), ("soy profesor", 1)]
    assert r.sessions == 3 and r.grammar == ["un agua"] and r.themes == ["restaurant"]
    assert r.last_session.startswith("2026-03-08") and r.last_session.endswith("(2 days ago)")


def test_no_sessions_is_a_first_session():
    r = spanish_review([], NOW.timestamp())
    assert r.sessions == 0 and r.due_words == [] and r.level is None


async def test_capture_checks_spanish_notes_and_tags_them(server):
    async with Client(server) as c:
        r = await c.call_tool("capture", {"category": "learnings", "title": "Spanish: restaurant role-play",
                                          "content": "Practised ordering.", "metadata": {"spanish": SESSION}})
        assert not r.is_error, r.content[0].text
        g = await c.call_tool("get", {"id": r.structured_content["id"]})
    meta = plain(g.structured_content["metadata"])  # frontmatter is marked as data: read it as a person would
    assert meta["tags"] == ["spanish"]
    assert meta["spanish"]["words"][0] == {"es": "mientras", "en": "while"}  # seen once: no count stored
    assert meta["spanish"]["mistakes"][0]["correct"] == "un agua con gas"


async def test_the_practice_is_timed_by_the_server_from_the_first_to_the_last_read(server, monkeypatch):
    """SESSION STATS' duration: first read of the review to the last; saved instead of the model's number."""
    async def practice(c, at: str, count: int = 5) -> int:
        monkeypatch.setenv("PAII_NOW", at)
        r = await c.call_tool("recent", {"tag": "spanish", "count": count})
        return r.structured_content["spanish"]["practice_minutes"]

    async with Client(server) as c:
        assert await practice(c, "2026-03-10T12:00:00Z") == 0       # step 1: the practice begins
        assert await practice(c, "2026-03-10T12:15:30Z", 1) == 15   # the SESSION STATS read
        monkeypatch.setenv("PAII_NOW", "2026-03-10T12:17:00Z")      # the person says yes a little later
        r = await c.call_tool("capture", {"category": "learnings", "title": "Spanish: restaurant",
                                          "content": "Practised ordering.", "metadata": {"spanish": SESSION}})
        saved = (await c.call_tool("get", {"id": r.structured_content["id"]})).structured_content["metadata"]
        assert saved["spanish"]["minutes"] == 15  # first to last exchange, not the 99 the model sent
        # a new practice after the save, or after an hour's gap, starts again at 0
        assert await practice(c, "2026-03-10T12:20:00Z") == 0
        assert await practice(c, "2026-03-10T14:00:00Z") == 0


async def test_a_session_saved_without_a_timed_practice_keeps_no_duration(server):
    async with Client(server) as c:
        r = await c.call_tool("capture", {"category": "learnings", "title": "Spanish: market",
                                          "content": "Practised.", "metadata": {"spanish": SESSION}})
        saved = (await c.call_tool("get", {"id": r.structured_content["id"]})).structured_content["metadata"]
    assert "minutes" not in saved["spanish"]  # the server saw no practice begin: nothing rather than a guess


async def test_capture_refuses_malformed_spanish_notes_saying_where_and_the_shape(server):
    async with Client(server) as c:
        bad = {**SESSION, "words": [{"es": "agua"}]}
        r = await c.call_tool("capture", {"category": "learnings", "title": "t", "content": "c", "metadata": {"spanish": bad}})
        assert r.is_error
        text = r.content[0].text
        assert "metadata.spanish.words[0].en" in text and '"es": "mientras"' in text
        r = await c.call_tool("capture", {"category": "learnings", "title": "t", "content": "c",
                                          "metadata": {"spanish": {**SESSION, "vocabulary": []}}})
        assert r.is_error and "metadata.spanish.vocabulary" in r.content[0].text
        r = await c.call_tool("recent", {"tag": "spanish"})
        assert r.structured_content["total"] == 0


async def test_recent_with_tag_spanish_gives_data_and_the_review(server, settings, monkeypatch):
    monkeypatch.setenv("PAII_NOW", NOW.isoformat())
    seed(settings, 1, NOW - dt.timedelta(days=9), {**SESSION, "theme": "market"})
    seed(settings, 2, NOW - dt.timedelta(days=2), {"level": "intermediate", "theme": "restaurant",
                                                   "words": [{"es": "la cuenta", "en": "the bill"}],
                                                   "mistakes": SESSION["mistakes"]})
    async with Client(server) as c:
        await c.call_tool("capture", {"category": "learnings", "title": "unrelated", "content": "pool sizes"})
        r = await c.call_tool("recent", {"tag": "spanish", "count": 1})
    out = r.structured_content
    assert out["total"] == 2 and out["truncated"] is True and out["writing"] is None
    (entry,) = out["entries"]
    assert entry["id"] == "lea-spanish-2" and entry["data"]["spanish"]["words"] == [{"es": "la cuenta", "en": "the bill"}]
    review = out["spanish"]  # computed from both sessions, not only the one listed
    assert review["sessions"] == 2 and review["level"] == "intermediate" and review["themes"] == ["restaurant", "market"]
    assert {w["es"] for w in review["due_words"]} == {"mientras", "camarero", "la cuenta"}
    assert review["mistakes"][0] == {"said": "una agua con gas", "correct": "un agua con gas",
                                     "rule": SESSION["mistakes"][0]["rule"], "times": 2, "last": "2026-03-08"}


async def test_search_returns_spanish_data_and_other_entries_none(server, settings):
    seed(settings, 1, NOW - dt.timedelta(days=1), SESSION, title="Spanish practice: ordering water")
    async with Client(server) as c:
        await c.call_tool("capture", {"category": "notes", "title": "ordering water filters for the office", "content": "x"})
        r = await c.call_tool("search", {"text": "ordering water"})
    hits = {h["id"]: h for h in r.structured_content["hits"]}
    assert hits["lea-spanish-1"]["data"]["spanish"]["level"] == "intermediate"
    assert all(h["data"] is None for i, h in hits.items() if i != "lea-spanish-1")


async def test_a_hand_edited_session_keeps_what_fits(server, settings):
    seed(settings, 1, NOW - dt.timedelta(days=3), {"theme": "bus", "words": [{"es": "parada", "en": "stop"}, "autobús", {"es": 3}],
                                                   "mistakes": "none", "grammar": ["por vs para"]})
    async with Client(server) as c:
        r = await c.call_tool("recent", {"tag": "SPANISH"})
    out = r.structured_content
    data = out["entries"][0]["data"]["spanish"]
    assert data["words"] == [{"es": "parada", "en": "stop"}] and data["level"] == "unknown"
    assert "mistakes" not in data and data["grammar"] == ["por vs para"]
    assert out["spanish"]["words_total"] == 1


async def test_tag_filter_with_an_unknown_category_is_an_error(server):
    async with Client(server) as c:
        r = await c.call_tool("recent", {"tag": "spanish", "category": "lernings"})
    assert r.is_error and "Did you mean 'learnings'" in r.content[0].text
