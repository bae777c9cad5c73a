"""What a hit's ``score`` means: absolute evidence that an entry matches the text, comparable
across queries (issue 11, item 3), not its place in one result list.

Two pieces of evidence, each from 0 to 1:

* **words**: the share of the query's words the entry holds, each weighted by its rarity in the
  history (idf, squared: missing the one rare word of "pgbouncer prepared statements" is most of it). A word the history has never seen weighs as much as the rarest, so a text of
  nonsense words, punctuation or emoji has no word evidence at all, and an entry that holds
  every word of the query has 1.0 (a long text: the weight of SATURATE rare words is enough).
  A pasted report's title line counts on its own too: the better of the two.
* **meaning**: the cosine of the entry's and the text's MiniLM vectors, placed between the cosine
  of unrelated texts and that of close matches (COSINE_UNRELATED, COSINE_CLOSE, measured by
  ``bench/calibrate.py``): unrelated pairs score 0, close ones 1.

``score`` is their mean in hybrid mode (the words alone in keyword mode, the meaning alone in
vector mode). A score of CLOSE_MATCH or more is a close match; results whose best hit is below it
say "no close match", and hits below DROP_BELOW are not shown at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from paii_history.text import query_terms

if TYPE_CHECKING:  # pragma: no cover
    from paii_history.keyword import KeywordIndex

#: MiniLM cosines (all-MiniLM-L6-v2, int8, 96 tokens): the 95th percentile of a query's cosine to
#: unrelated entries of the benchmark corpora, and the median cosine of true matches found in the
#: top 10 (bench/calibrate.py, dev splits of dbrd-hadoop, dbrd-hdfs, dbrd-hive and sa-threads)
COSINE_UNRELATED = 0.30
COSINE_CLOSE = 0.70
CLOSE_MATCH = 0.45  # a score from here up is a close match
DROP_BELOW = 0.001  # hits with no evidence at all (no word of the text, a cosine unrelated texts reach): not shown
MAX_TERMS = 64  # words of a long text that count (its first; a pasted report's rest adds little)
#: A long text (a pasted report) is matched in full by no entry; matching the weight of SATURATE
#: words the history has never seen (its rarest) is full word evidence already.
SATURATE = 8


def meaning(cosine: float | None) -> float:
    """A cosine as evidence from 0 (what unrelated texts reach) to 1 (a close match)."""
    if cosine is None:
        return 0.0
    return min(1.0, max(0.0, (cosine - COSINE_UNRELATED) / (COSINE_CLOSE - COSINE_UNRELATED)))


def _norm_title(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def exact_title(text: str, title: str) -> bool:
    """The text is the entry's title (case, spacing and punctuation aside)."""
    t = _norm_title(text)
    return bool(t) and t == _norm_title(title)


def word_evidence(kw: KeywordIndex, text: str, ids: Iterable[str]) -> dict[str, tuple[float, float]]:
    """For each id: (the idf-weighted share of the text's words its entry holds, the same with a long
    text's weight saturating at SATURATE rare words: the evidence), both 0 to 1."""
    import numpy as np

    ids = list(ids)
    words = query_terms(text, MAX_TERMS, parts=False)
    if not words or not ids:
        return dict.fromkeys(ids, (0.0, 0.0))
    n_docs = max(kw.count(), 1)
    stems = list(dict.fromkeys(kw._stem(words)))  # one weight per stem (plural and singular are one word)
    known = [s for s in stems if s]
    postings: dict[str, np.ndarray] = {}
    if known and kw.postings_ready():
        postings = {t: p[0] for t, p in kw._term_postings(known, docs_only=True).items()}

    def idf(df: int) -> float:  # squared: the rare words of a text decide whether an entry matches it
        return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)) ** 2

    weights = [idf(len(postings.get(s, ()))) if s else idf(0) for s in stems]
    total = sum(weights) or 1.0
    enough = min(total, SATURATE * idf(0))
    rowids = _rowids(kw, ids)
    have = [i for i in ids if i in rowids]
    cand = np.fromiter((rowids[i] for i in have), np.int64, len(have))
    got = np.zeros(len(have))
    for s, w in zip(stems, weights, strict=True):
        docs = postings.get(s) if s else None
        if docs is not None and len(docs) and len(cand):
            got += w * np.isin(cand, docs)
    out = dict.fromkeys(ids, (0.0, 0.0))
    out.update((i, (float(g) / total, min(1.0, float(g) / enough))) for i, g in zip(have, got, strict=True))
    return out


def _rowids(kw: KeywordIndex, ids: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = f"SELECT id, rowid FROM docs WHERE id IN ({','.join('?' * len(chunk))})"
        out.update((i, r) for i, r in kw.db.execute(sql, chunk))
    return out


def combine(words: float | None, meaning_: float | None) -> float:
    """The score from the evidence there is: their mean when both are, else the one that is."""
    have = [e for e in (words, meaning_) if e is not None]
    return round(sum(have) / len(have), 4) if have else 0.0
