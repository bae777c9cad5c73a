"""What a hit's ``score`` means, and the order of hits: one number for both (issue 23).

Each candidate of a search (the best RERANK of the fused keyword and vector lists, see
:mod:`paii_history.retrieve`) gets its evidence:

* **fused**: how far the entry stands above the others in this search: the z-score fusion of
  BM25 and cosine lists that ranked best on the benchmarks (relative to this search);
* **words**: the share of the text's words the entry holds, each weighted by its rarity in the
  history (idf squared), and the same for a pasted report's title line (absolute, 0-1);
* **cosine**: of the entry's and the text's vectors (absolute);
* **service**: the entry is about a service the text names (+1), or another one (-1) (:mod:`signals`);
* **signature**: the share of the text's error signature the entry shows (exception class, HTTP
  status, named failure such as a connection pool exhausted) (:mod:`signals`).

The ``score`` is the logistic model of these fitted on the dev splits of the benchmarks
(``bench/calibrate.py --fit``): the likelihood that the entry is the one the text is about, at even
odds. Hits are ordered by it (recency breaks exact ties), so a score never contradicts the order,
and distinct evidence gives distinct scores. A score of 1.0 is kept for the same incident: the
same title and text, or an entry the text links to explicitly (its id or one of its links);
others stay under MAX_OTHER. CLOSE_MATCH and up is a close match; a result with none says
``no_close_match``, and hits with no evidence at all (DROP_BELOW) are not shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from paii_history.text import fold, query_terms

if TYPE_CHECKING:  # pragma: no cover
    from paii_history.keyword import KeywordIndex

#: The logistic model, one per kind of search: intercept, then the weight of the fused z-score, the
#: word share, the title line's word share, the cosine and the shared error signature. On the dev
#: splits of dbrd-hadoop, dbrd-hdfs, dbrd-hive and sa-threads (bench/rank_lab.py): the order of the
#: fused z-scores retrieves best; small positive weights for the word share (2), the title line's
#: (0.5) and the cosine (2) beside its 1.35 keep that order or better it (pooled dev success@5 of
#: reports 0.712 -> 0.719, title lines 0.507 -> 0.524; a free fit gave the cosine a negative weight,
#: collinear with the fusion, and ranked worse), and keep nonsense from scoring on its place alone.
#: That sum is then calibrated (Platt scaling on the dev candidates): the score is the chance that the
#: entry is the one the text is about (of 100 hits scored 0.6, about 60 are). Keyword-only searches
#: (no model, or mode=keyword) have no cosine; vector-only ones no word shares. The signature weight
#: is set by hand (on dbrd it moves nothing: 0 to 1 changes one query).
MODELS: dict[str, tuple[float, float, float, float, float, float]] = {
    "hybrid": (-5.569, 0.945, 1.399, 0.350, 1.399, 0.75),
    "keyword": (-5.043, 1.041, 1.542, 0.386, 0.0, 0.75),
    "vector": (-5.549, 1.119, 0.0, 0.0, 1.658, 0.0),
}
#: A shared service is what an on-call engineer looks for first, and the benchmarks name no services:
#: its weight is chosen so that a service the text names outweighs a few shared words of another
#: service's incident (the seed's INC-456 over INC-122 of user-profile-api), while a clearly better
#: match of another service still wins (tests/history/test_incident_similarity.py).
SERVICE_WEIGHT = 1.5
#: An entry that holds every word of the text (or of its title line): in a small history the fused
#: z-scores say little (one keyword hit has a z-score of 0), and a short text held in full is the
#: entry a person means. Neutral on the benchmarks (weight 0 to 3: pooled dev and test success@5
#: within one query), so set for a small history: 数据库连接池 in one entry of a few is a close match.
ALL_WORDS_WEIGHT = 2.5
#: Every benchmark query has a true match, so the fit cannot know a text that matches nothing: its
#: nearest entries still stand out from the rest (emoji, another domain's question). A search whose
#: best candidate holds less than DOUBT_BELOW of the text on an absolute scale (Evidence.absolute)
#: lowers every score of that search by DOUBT_WEIGHT per missing unit: the same for all its hits, so
#: the order does not change, and bench/queries/nonsense.jsonl gets no close match.
DOUBT_BELOW = 0.45
DOUBT_WEIGHT = 8.0

#: all-MiniLM-L6-v2 cosines at or under this are what unrelated texts reach (the 95th percentile of a
#: query's cosine to unrelated entries of the benchmark corpora, bench/calibrate.py): no evidence
UNRELATED_COSINE = 0.30
CLOSE_COSINE = 0.70  # the median cosine of true matches found in the top 10 (bench/calibrate.py)
#: The score is that chance on a tempered scale, score = σ((logit(chance) - logit(CLOSE_CHANCE)) / TEMPER):
#: 0.5 is a chance of CLOSE_CHANCE, 0.3 about 3%, 0.7 about 67%, 0.8 about 89%. Tempered because
#: chances of a few in a thousand, common among the nearest entries, would round to the same four
#: decimals; on this scale distinct evidence stays apart (what is left is split in the last digit, in
#: the order's favour: retrieve.separate).
TEMPER = 2.5
#: A chance from here up is a close match (score 0.5): on the dev splits, of the top hits with a
#: chance of 0.2 or more about two thirds are the true match (test splits: three quarters); under
#: it a hit is shown as the nearest entry only.
CLOSE_CHANCE = 0.2
CLOSE_MATCH = 0.5
DROP_BELOW = 1e-6  # hits with no evidence at all are not shown
MAX_OTHER = 0.9999  # what another entry than the same incident can reach (1.0 is the same incident)
MAX_TERMS = 64  # words of a long text that count (its first; a pasted report's rest adds little)


@dataclass
class Evidence:
    fused: float = 0.0
    words: float = 0.0
    title_words: float = 0.0
    cosine: float | None = None
    service: float = 0.0
    signature: float = 0.0
    same: bool = False  # the same incident: same title and text, or linked from the text
    held: tuple[str, ...] = ()  # the text's words the entry holds, rarest first (for why)
    kind: str = "hybrid"  # which of MODELS scores it: the lists the search had
    doubt: float = 0.0  # the search's own: how little its best candidate holds (see DOUBT_WEIGHT)
    full: bool = True  # the search's own: whether holding every word of its text says much (full_counts)

    def absolute(self) -> float:
        """How much of the text the entry holds on an absolute scale, 0-1: the mean of its word share and
        its cosine placed between what unrelated texts reach (0) and a close match (1); the one there is
        in a keyword-only or vector-only search."""
        words = max(self.words, self.title_words)
        if self.cosine is None:
            return words
        meaning = min(1.0, max(0.0, (self.cosine - UNRELATED_COSINE) / (CLOSE_COSINE - UNRELATED_COSINE)))
        return meaning if self.kind == "vector" else (words + meaning) / 2

    def logit(self) -> float:
        b, fused, words, title_words, cosine, sig = MODELS[self.kind]
        return (b + fused * self.fused + words * self.words + title_words * self.title_words
                + cosine * (self.cosine or 0.0) + SERVICE_WEIGHT * self.service + sig * self.signature
                + ALL_WORDS_WEIGHT * self.full * (self.words >= 0.999 or self.title_words >= 0.999) - self.doubt)

    def score(self) -> float:
        """0-1; 1.0 only for the same incident (not rounded: callers show 4 decimals)."""
        if self.same:
            return 1.0
        if not self.words and (self.cosine is None or self.cosine <= UNRELATED_COSINE) and not self.signature:
            return 0.0  # nothing in common with the text
        z = (self.logit() - math.log(CLOSE_CHANCE / (1 - CLOSE_CHANCE))) / TEMPER
        return min(MAX_OTHER, 1.0 / (1.0 + math.exp(-z))) if z > -700 else 0.0

    def chance(self) -> float:
        """The calibrated chance that the entry is the one the text is about (what score tempers)."""
        return 1.0 if self.same else 1.0 / (1.0 + math.exp(-self.logit()))


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", fold(text)))


def normal(text: str) -> str:
    """A text's words only (case, accents, spacing and punctuation aside): how titles and texts are compared."""
    return _norm(text)


def exact_title(text: str, title: str, *, normalised: bool = False) -> bool:
    """The text is the entry's title (case, accents, spacing and punctuation aside); ``normalised``:
    ``text`` is normal(text) already (a ranking compares one text with many titles)."""
    t = text if normalised else _norm(text)
    return bool(t) and len(t) <= 3 * len(title) + 8 and t == _norm(title)


def same_text(text: str, title: str, body: str, *, normalised: bool = False) -> bool:
    """The text is the entry's title and body (case, accents, spacing and punctuation aside)."""
    t = text if normalised else _norm(text)
    return bool(t) and t == _norm(f"{title}\n{body}")


def links_to(text: str, entry_id: str, links: Iterable[str] = ()) -> bool:
    """The text names the entry explicitly: its id as a word (INC-456), or one of its links."""
    if re.search(rf"(?<![\w-]){re.escape(entry_id)}(?![\w-])", text, re.I):
        return True
    return any(isinstance(u, str) and len(u) > 12 and u in text for u in links)


def full_counts(kw: KeywordIndex, text: str) -> bool:
    """Whether holding every word of ``text`` says much: it has two distinct words or more, or its one
    word is rare (in at most 0.1% of the entries, or two): "xxxx", a placeholder in many bug reports,
    does not make an entry a close match by itself."""
    stems = [s for s in dict.fromkeys(kw._stem(query_terms(text, MAX_TERMS, parts=False))) if s]
    if len(stems) != 1:
        return len(stems) > 1
    df = len(next(iter(kw._term_postings(stems, docs_only=True).values()), ((),))[0]) if kw.postings_ready() else 0
    return df <= max(2, kw.count() // 1000)


def word_shares(kw: KeywordIndex, text: str, ids: Iterable[str], held: dict[str, list[str]] | None = None) -> dict[str, float]:
    """For each id: the idf²-weighted share of the text's words its entry holds, 0 to 1 (a word the
    history has never seen weighs as much as the rarest, so nonsense has no word evidence). With
    ``held``: also each id's words of the text, rarest first (for ``why``)."""
    import numpy as np

    ids = list(ids)
    words = query_terms(text, MAX_TERMS, parts=False)
    if not words or not ids:
        return dict.fromkeys(ids, 0.0)
    n_docs = max(kw.count(), 1)
    stemmed = kw._stem(words)
    stems = list(dict.fromkeys(stemmed))  # one weight per stem (plural and singular are one word)
    first = {}
    for w, st in zip(words, stemmed, strict=True):
        first.setdefault(st, w)
    known = [s for s in stems if s]
    postings: dict[str, np.ndarray] = {}
    if known and kw.postings_ready():
        postings = {t: p[0] for t, p in kw._term_postings(known, docs_only=True).items()}

    def idf(df: int) -> float:  # squared: the rare words of a text decide whether an entry matches it
        return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)) ** 2

    weights = [idf(len(postings.get(s, ()))) if s else idf(0) for s in stems]
    total = sum(weights) or 1.0
    rowids = _rowids(kw, ids)
    have = [i for i in ids if i in rowids]
    cand = np.fromiter((rowids[i] for i in have), np.int64, len(have))
    got = np.zeros(len(have))
    holds = np.zeros((len(have), len(stems)), bool) if held is not None else None
    if len(cand):
        # each candidate's place in a table indexed by rowid: one pass over each word's postings, no sort
        lut = np.full(int(cand.max()) + 1, -1, np.int64)
        lut[cand] = np.arange(len(cand))
        for n, (s, w) in enumerate(zip(stems, weights, strict=True)):
            docs = postings.get(s) if s else None
            if docs is None or not len(docs):
                continue
            found = lut[docs[docs < len(lut)]]
            found = found[found >= 0]
            got[found] += w
            if holds is not None:
                holds[found, n] = True
    out = dict.fromkeys(ids, 0.0)
    out.update((i, float(g) / total) for i, g in zip(have, got, strict=True))
    if held is not None:
        rare = sorted(range(len(stems)), key=lambda n: -weights[n])
        for row, i in enumerate(have):
            held[i] = [first[stems[n]] for n in rare if holds[row, n]]
    return out


def _rowids(kw: KeywordIndex, ids: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = f"SELECT id, rowid FROM docs WHERE id IN ({','.join('?' * len(chunk))})"
        out.update((i, r) for i, r in kw.db.execute(sql, chunk))
    return out


#: How a named failure reads in ``why``.
_FAILURE_TEXT = {"db-pool-exhausted": "connection pool exhausted", "conn-refused": "connection refused",
                 "oom": "out of memory", "disk-full": "disk full", "cert-expired": "certificate expired",
                 "crashloop": "crash loop", "cache-expiry": "cache expiry", "rate-limited": "rate limited",
                 "cpu-throttling": "CPU throttling", "replication-lag": "lag"}


def explain(ev: Evidence | None, services: set[str], failures: frozenset[str], words: list[str],
            service: str | None) -> str:
    """What a hit shares with the text, e.g. "same service payments-api; same failure: connection pool
    exhausted, HTTP 500; words: queuepool, timed; meaning 0.62"."""
    if ev is None:
        return ""
    if ev.same:
        return "the same incident (same title and text, or named in the text)"
    parts = []
    if ev.service > 0 and service:
        parts.append(f"same service {service}")
    elif ev.service < 0 and service:
        parts.append(f"another service ({service})")
    if failures:
        named = sorted(_FAILURE_TEXT.get(f, f.replace("exc:", "").replace("http:", "HTTP ")) for f in failures
                       if not (f.startswith("http:") and f.endswith("xx") and len(failures) > 1))
        parts.append("same failure: " + ", ".join(named))
    words = [w for w in words if not (service and w in re.split(r"[^\w]+", service.lower()))]
    if words:
        parts.append("words: " + ", ".join(words))
    if ev.cosine is not None:
        parts.append(f"meaning {ev.cosine:.2f}")
    return "; ".join(parts)
