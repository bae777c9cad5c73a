"""What the personal skills read back: entries by tag, their ``data``, and what follows from them.

* :func:`tagged`: the newest entries with a tag (``recent`` with ``tag``).
* :func:`listing_data`: the compact ``data`` of listed entries (:func:`paii_history.kinds.entry_data`);
  an article's words are counted in its file.
* :func:`spanish_review`: from past practice sessions, the words due for review, the mistakes to
  revisit, recent grammar points and themes. The schedule is a Leitner box per word: a word seen
  in ``n`` sessions is due again after ``INTERVAL_DAYS[n]`` days or ``INTERVAL_SESSIONS[n]``
  sessions without it, whichever comes first (1 day / 1 session after the first time, then 3/2,
  7/4, 14/8, 30/16).
* :func:`writing_profile`: from past articles and writing notes, the length range (words the
  server counted), sections, tone, structure, audience and recent topics.

* :class:`PracticeClock`: how long the current practice has lasted, as the server saw it: from
  the first read of the review (the skill's first step) to the last one (its SESSION STATS),
  saved with the session's notes instead of a number the model would have to guess.

Both are computed here so that the model is given the numbers, never asked to work them out.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from typing import TYPE_CHECKING, Any

from paii_history.kinds import KINDS, SpanishNotes, WritingNotes, article_stats, entry_data, read_kind
from paii_history.models import DueWord, LengthRange, PastMistake, SpanishReview, WritingProfile, ago

if TYPE_CHECKING:
    from paii_history.keyword import DocRow
    from paii_history.store import HistoryStore

#: the most entries a review or a profile is computed from (the newest ones)
DIGEST_LIMIT = 200
#: the most articles whose files are read for a profile (the newest ones)
ARTICLE_LIMIT = 50
INTERVAL_DAYS = (1, 3, 7, 14, 30)
INTERVAL_SESSIONS = (1, 2, 4, 8, 16)
DUE_SHOWN, MISTAKES_SHOWN, MISTAKE_SESSIONS, GRAMMAR_SESSIONS = 12, 8, 5, 3

_TAGGED = "EXISTS (SELECT 1 FROM json_each(docs.meta, '$.tags') WHERE lower(json_each.value) = lower(?))"


def tagged(store: HistoryStore, tag: str, category: str | None, since: dt.datetime | None,
           limit: int) -> tuple[list[DocRow], int]:
    """The newest ``limit`` entries tagged ``tag`` (any case), and how many there are in all."""
    store.ensure_ready()
    if category:
        category = store.check_known_category(category)
    where, args = [_TAGGED], [tag.strip()]
    if category:
        where.append("category = ?")
        args.append(category)
    if since is not None:
        where.append("created >= ?")
        args.append(since.timestamp())
    cond = " AND ".join(where)
    db = store.kw.db
    ids = [r[0] for r in db.execute(f"SELECT id FROM docs WHERE {cond} ORDER BY created DESC LIMIT ?", [*args, limit])]
    total = int(db.execute(f"SELECT count(*) FROM docs WHERE {cond}", args).fetchone()[0])
    rows = store.kw.get_many(ids)
    return [rows[i] for i in ids if i in rows], total


def _body(store: HistoryStore, row: DocRow) -> str | None:
    try:
        return store.get(row.id).body
    except Exception:  # gone or unreadable since it was indexed: listed without its counts
        return None


def listing_data(store: HistoryStore, rows: list[DocRow]) -> dict[str, dict[str, Any] | None]:
    """``data`` of each listed entry by id (articles' files are read to count their words)."""
    out = {}
    for row in rows:
        has_kind = any(k in row.meta for k in KINDS)
        if row.category == "articles":
            out[row.id] = entry_data(row.category, row.meta, _body(store, row))
        elif has_kind:
            out[row.id] = entry_data(row.category, row.meta)
        else:
            out[row.id] = None
    return out


def digest(store: HistoryStore, tag: str, category: str | None, since: dt.datetime | None,
           now: float) -> SpanishReview | WritingProfile | None:
    """The review (tag ``spanish``) or profile (tag ``writing``) of the matching entries."""
    kind = tag.strip().lower()
    if kind not in KINDS:
        return None
    rows, _ = tagged(store, kind, category, since, DIGEST_LIMIT)
    if kind == "spanish":
        sessions = [(r.created, n) for r in rows if (n := read_kind("spanish", r.meta.get("spanish")))]
        return spanish_review(sessions, now)
    articles, notes = [], []
    for r in rows:
        n = read_kind("writing", r.meta.get("writing"))
        if r.category == "articles":
            if len(articles) < ARTICLE_LIMIT:
                body = _body(store, r)
                words, sections = article_stats(body) if body is not None else (0, [])
                articles.append((r.created, r.title, words, len(sections), n))
        elif n is not None:
            notes.append((r.created, n))
    return writing_profile(articles, notes, now)


# --------------------------------------------------------------------------------- spanish
class PracticeClock:
    """When each person's current practice began, by the reads of their review (``recent`` with tag
    ``spanish``): the first read starts a practice, each read is an exchange, a read more than
    :attr:`GAP` seconds after the previous one starts a new practice, and saving the session's notes
    ends it. Kept in the server's memory: one practice per person, on the server's clock."""

    GAP = 45 * 60

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, float]] = {}  # who -> (first read, last read)

    def read(self, who: str | None, now: float) -> int:
        """A read of the review: the minutes since this practice began (0 for a new one)."""
        start, last = self._seen.get(who or "", (now, now))
        if now - last > self.GAP or now < start:
            start = now
        self._seen[who or ""] = (start, now)
        return int((now - start) // 60)

    def finish(self, who: str | None, now: float) -> int | None:
        """Saving the notes: the practice's minutes, first to last exchange (None when the server saw
        no practice begin, e.g. after a restart: then no duration is saved, rather than a guess)."""
        seen = self._seen.pop(who or "", None)
        if seen is None or now - seen[1] > self.GAP:
            return None
        start, last = seen
        return int(((last if last > start else now) - start) // 60)


def _day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d")


def spanish_review(sessions: list[tuple[float, SpanishNotes]], now: float) -> SpanishReview:
    """Words due for review, mistakes to revisit, grammar and themes from past sessions (any order)."""
    sessions = sorted(sessions, key=lambda s: s[0])
    n = len(sessions)
    if not n:
        return SpanishReview(sessions=0)
    words: dict[str, dict[str, Any]] = {}
    mistakes: dict[str, dict[str, Any]] = {}
    for i, (ts, notes) in enumerate(sessions):
        for w in notes.words:
            key = " ".join(w.es.lower().split())
            rec = words.setdefault(key, {"es": w.es, "sessions": set(), "last": ts, "last_i": i})
            rec.update(en=w.en, last=ts, last_i=i)
            rec["sessions"].add(i)
        for m in notes.mistakes:
            key = " ".join(m.correct.lower().split())
            rec = mistakes.setdefault(key, {"times": 0})
            rec.update(said=m.said, correct=m.correct, rule=m.rule or rec.get("rule"), last=ts, last_i=i)
            rec["times"] += 1
    due = []
    for rec in words.values():
        box = min(len(rec["sessions"]), len(INTERVAL_DAYS)) - 1
        days = max(0, int((now - rec["last"]) // 86400))
        later = n - 1 - rec["last_i"]
        overdue = max(days / INTERVAL_DAYS[box], later / INTERVAL_SESSIONS[box])
        if overdue >= 1:
            due.append((overdue, -len(rec["sessions"]), DueWord(
                es=rec["es"], en=rec["en"], times=len(rec["sessions"]), last_seen=_day(rec["last"]),
                days_ago=days, sessions_ago=later)))
    due.sort(key=lambda d: (-d[0], -d[1], d[2].es))
    recent_m = [m for m in mistakes.values() if m["last_i"] >= n - MISTAKE_SESSIONS]
    recent_m.sort(key=lambda m: (-m["times"], -m["last"]))
    grammar: list[str] = []
    for _, notes in reversed(sessions[-GRAMMAR_SESSIONS:]):
        grammar += [g for g in notes.grammar if g not in grammar]
    themes = [t.theme for _, t in reversed(sessions) if t.theme]
    last_ts, last = sessions[-1]
    return SpanishReview(
        sessions=n,
        level=last.level,
        last_session=f"{_day(last_ts)} ({ago(last_ts, now)})",
        themes=list(dict.fromkeys(themes))[:5],
        words_total=len(words),
        due_total=len(due),
        due_words=[d[2] for d in due[:DUE_SHOWN]],
        mistakes=[PastMistake(said=m["said"], correct=m["correct"], rule=m["rule"], times=m["times"],
                              last=_day(m["last"])) for m in recent_m[:MISTAKES_SHOWN]],
        grammar=grammar[:8],
    )


# --------------------------------------------------------------------------------- writing
def _range(values: list[int]) -> LengthRange:
    return LengthRange(min=min(values), max=max(values), median=int(statistics.median(values)))


def _top(counter: Counter, k: int = 6) -> list[str]:
    return [f"{value} ({count})" if count > 1 else value for value, count in counter.most_common(k)]


def writing_profile(articles: list[tuple[float, str, int, int, WritingNotes | None]],
                    notes: list[tuple[float, WritingNotes]], now: float) -> WritingProfile:
    """The person's writing from past articles (time, title, words, sections, notes) and notes."""
    counted = [a for a in articles if a[2] > 0]
    if not counted and not notes:
        return WritingProfile(articles=len(articles), notes=0,
                              basis="no articles or writing notes in history yet: ask, do not assume")
    tone, structure, audience = Counter(), Counter(), Counter()
    for w in [a[4] for a in articles if a[4]] + [n for _, n in notes]:
        tone.update(w.tone)
        structure.update(w.structure)
        if w.audience:
            audience[w.audience] += 1
    words = _range([a[2] for a in counted]) if counted else None
    stated = next((n.length for _, n in sorted(notes, key=lambda x: -x[0]) if n.length), None)
    if stated:
        suggested = f"{stated.min}-{stated.max} (stated in a writing note)"
    elif words:
        lo, hi = words.min, words.max
        if len(counted) == 1 or hi - lo < 200:
            lo, hi = int(lo * 0.8), int(hi * 1.2)
        suggested = f"{lo // 100 * 100}-{-(-hi // 100) * 100} (from the articles' word counts)"
    else:
        suggested = None
    times = [a[0] for a in articles] + [t for t, _ in notes]
    parts = [f"{len(articles)} article{'s' * (len(articles) != 1)}", f"{len(notes)} writing note{'s' * (len(notes) != 1)}"]
    newest = sorted(articles, key=lambda a: -a[0])
    return WritingProfile(
        articles=len(articles),
        notes=len(notes),
        words=words,
        suggested_range=suggested,
        sections=int(statistics.median([a[3] for a in counted])) if counted else None,
        tone=_top(tone),
        structure=_top(structure),
        audience=_top(audience, 3),
        topics=[(a[4].topic if a[4] and a[4].topic else a[1]) for a in newest[:5]],
        basis=f"{' and '.join(parts)}, {_day(min(times))} to {_day(max(times))}",
    )


__all__ = ["PracticeClock", "digest", "listing_data", "spanish_review", "tagged", "writing_profile"]
