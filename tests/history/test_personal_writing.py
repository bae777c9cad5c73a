"""Articles and writing notes in history: word counts by the server, and the writing profile that
`recent` with tag writing returns (or says there is nothing to base one on)."""

from __future__ import annotations

import datetime as dt

from mcp import Client

from paii_history.entries import Entry
from paii_history.kinds import article_stats, count_words

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)


def article(words_per_section: list[int], title: str = "An article") -> str:
    parts = [f"# {title}", "", " ".join(["intro"] * 10)]
    for n, words in enumerate(words_per_section, 1):
        parts += ["", f"## Section {n}", "", " ".join(["word"] * words)]
    return "\n".join(parts) + "\n"


def seed(settings, eid: str, category: str, when: dt.datetime, body: str, meta: dict) -> None:
    entry = Entry(id=eid, category=category, title=eid, body=body, created=when, meta=meta)
    path = settings.history_dir / entry.relpath()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(entry.to_markdown())


def test_words_are_counted_without_code_links_or_markup():
    text = "Chaos engineering isn't magic.\n\n```bash\nkubectl delete pod x\n```\n\nSee [the docs](https://x.io/a-b) and <b>this</b>."
    assert count_words(text) == 9  # Chaos engineering isn't magic See the docs and this


def test_sections_are_the_level_two_headings_after_an_opening():
    words, sections = article_stats(article([300, 400]))
    assert words == 710
    assert sections == [{"title": "(opening)", "words": 10}, {"title": "Section 1", "words": 300},
                        {"title": "Section 2", "words": 400}]
    words, sections = article_stats("no headings at all, just seven words")
    assert (words, sections) == (7, [{"title": "(opening)", "words": 7}])


async def test_no_history_gives_an_empty_profile_that_says_to_ask(server):
    async with Client(server) as c:
        r = await c.call_tool("recent", {"tag": "writing"})
    out = r.structured_content
    assert out["entries"] == [] and out["spanish"] is None
    profile = out["writing"]
    assert profile["articles"] == 0 and profile["notes"] == 0 and profile["words"] is None
    assert "ask" in profile["basis"] and profile["suggested_range"] is None


async def test_profile_from_past_articles_and_notes(server, settings):
    practical = {"tone": ["Practical", "hands-on"], "structure": ["real-world example"]}
    seed(settings, "art-1", "articles", NOW - dt.timedelta(days=60), article([500, 600, 590]),
         {"tags": ["writing"], "writing": {**practical, "topic": "SLOs for beginners"}})
    seed(settings, "art-2", "articles", NOW - dt.timedelta(days=20), article([800, 700, 500, 480]),
         {"tags": ["writing"], "writing": {**practical, "topic": "Postmortems that get read"}})
    seed(settings, "lea-w", "learnings", NOW - dt.timedelta(days=5), "Prefers short paragraphs.\n",
         {"tags": ["writing"], "writing": {"tone": ["practical"], "audience": "platform engineers"}})
    async with Client(server) as c:
        r = await c.call_tool("recent", {"tag": "writing"})
    out = r.structured_content
    profile = out["writing"]
    assert profile["articles"] == 2 and profile["notes"] == 1
    assert profile["words"] == {"min": 1700, "max": 2490, "median": 2095}
    assert profile["suggested_range"] == "1700-2500 (from the articles' word counts)"
    assert profile["sections"] == 4  # median of 4 and 5 sections, opening included
    assert profile["tone"][:2] == ["practical (3)", "hands-on (2)"] and profile["structure"] == ["real-world example (2)"]
    assert profile["audience"] == ["platform engineers"]
    assert profile["topics"] == ["Postmortems that get read", "SLOs for beginners"]
    assert profile["basis"] == "2 articles and 1 writing note, 2026-01-09 to 2026-03-05"
    data = {e["id"]: e["data"] for e in out["entries"]}
    assert data["art-2"]["writing"]["words"] == 2490 and data["art-2"]["writing"]["sections"][1] == {"title": "Section 1", "words": 800}


async def test_a_stated_length_in_a_note_wins_over_the_counted_range(server, settings):
    seed(settings, "art-1", "articles", NOW - dt.timedelta(days=30), article([900]), {"tags": ["writing"]})
    seed(settings, "lea-w", "learnings", NOW - dt.timedelta(days=1), "x\n",
         {"tags": ["writing"], "writing": {"length": {"min": 1500, "max": 2500}}})
    async with Client(server) as c:
        r = await c.call_tool("recent", {"tag": "writing"})
    profile = r.structured_content["writing"]
    assert profile["words"] == {"min": 910, "max": 910, "median": 910}
    assert profile["suggested_range"] == "1500-2500 (stated in a writing note)"


async def test_capture_of_an_article_tags_it_and_lists_its_counted_words(server):
    async with Client(server) as c:
        r = await c.call_tool("capture", {"category": "articles", "title": "Chaos engineering: the outage you never debug",
                                          "content": article([200, 300]),
                                          "metadata": {"writing": {"topic": "chaos engineering", "tone": ["practical"],
                                                                   "outline": [{"title": "Introduction", "words": 200}]}}})
        assert not r.is_error, r.content[0].text
        bad = await c.call_tool("capture", {"category": "articles", "title": "t", "content": "c",
                                            "metadata": {"writing": {"tone": "practical"}}})
        s = await c.call_tool("search", {"text": "chaos engineering outage", "category": "articles"})
    assert bad.is_error and "metadata.writing.tone" in bad.content[0].text
    hit = s.structured_content["hits"][0]
    assert hit["data"]["writing"]["words"] == 510 and hit["data"]["writing"]["topic"] == "chaos engineering"
