"""BM25 over a postings table: the keyword ranking, computed with numpy.

Kept by :class:`~paii_history.keyword.KeywordIndex` beside its FTS table, in the same transactions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

#: Keyword ranking is FTS5's BM25 (k1 1.2, b 0.75, title words weigh 4) computed with numpy from
#: a postings table kept beside the FTS table, in the same transactions: per stemmed term, the rowids
#: of the entries holding it, its weighted frequency in each and each entry's length in tokens. It
#: ranks exactly as ``ORDER BY bm25(fts, 4.0, 1.0)`` (a test compares them) at a fraction of the
#: cost: FTS5 scores every matching row through its auxiliary-function API (hive, 11.5k real bug
#: reports pasted as queries: p50 18 -> 3-5 ms, p95 40 -> 7-8 ms). Until an older index has built its
#: postings (once, in the sync that follows an upgrade), queries use FTS5's own ranking.
TITLE_WEIGHT, BM25_K1, BM25_B = 4.0, 1.2, 0.75
POSTINGS_VERSION = "1"

#: A write of a few entries (a capture, an update) adds their postings to ``postings_delta``, one
#: small row per term and entry, instead of rewriting each of their terms' blobs (at 10,000 entries
#: that rewrite was ~50 ms of a capture's CPU: a common term's blob is 16 bytes an entry). A term's
#: delta rows are folded into its blob once it has TERM_DELTA_MAX of them (so a common word's blob is
#: rewritten once in 64 captures, a rare word's rows stay small), and the whole delta with any write of
#: more than DELTA_BATCH entries (an import, a sync). Rankings read a term's blob and delta rows as
#: one posting list: the same scores whichever holds an entry.
TERM_DELTA_MAX, DELTA_BATCH = 64, 16

#: An fts5vocab "instance" table's term occurrences, counted per term, entry and column.
_INSTANCES = "SELECT term, doc, col, count(*) FROM {table} GROUP BY term, doc, col"


def _weigh_instances(rows: Iterable[tuple[str, int, str, int]]) -> tuple[dict[str, dict[int, float]], dict[int, int]]:
    """(term, rowid, column, count) rows -> {term: {rowid: weighted frequency}}, {rowid: length in tokens}:
    what BM25 needs, with title words weighing TITLE_WEIGHT as in ``bm25(fts, 4.0, 1.0)``."""
    freqs: dict[str, dict[int, float]] = {}
    lens: dict[int, int] = {}
    for term, doc, col, n in rows:
        per = freqs.setdefault(term, {})
        per[doc] = per.get(doc, 0.0) + (TITLE_WEIGHT if col == "title" else 1.0) * n
        lens[doc] = lens.get(doc, 0) + n
    return freqs, lens


def _posting_arrays(per_doc: dict[int, float], lens: dict[int, int]):
    """One term's postings as the arrays stored: rowids (int64), weighted frequencies (float32), lengths (int32)."""
    import numpy as np

    n = len(per_doc)
    return (np.fromiter(per_doc.keys(), np.int64, n), np.fromiter(per_doc.values(), np.float32, n),
            np.fromiter((lens[d] for d in per_doc), np.int32, n))


#: Queries drop words found in more than half of the entries: FTS5's BM25 gives such a word an
#: IDF of 1e-6, so it hardly moves a score, but every entry holding it must be scored (a pasted
#: report full of boilerplate would score the whole history: p95 317 ms at 10k entries).
PRUNE_MIN_DOCS = 200
#: A long query (a whole bug report, a pasted log) then keeps only its 48 rarest words that the
#: history has, for the same reason (hive, 11.5k reports: keyword step p95 206 -> 75 ms) while its
#: rare words decide the ranking (recall@5 unchanged on the benchmark sets: bench/RETRIEVAL.md).
#: Counting a word is cheap and cached.
KEEP_RAREST = 48


class BM25Postings:
    """The BM25 half of :class:`~paii_history.keyword.KeywordIndex`: keeps the ``postings`` table in
    step with the FTS table (inside the index's write transactions), ranks query words by it and
    chooses which words of a query are worth ranking by. Uses the index's ``db``, ``count``,
    ``get_state``, ``_writes`` and its ``_df``/``_stems`` caches."""

    # --- postings (see TITLE_WEIGHT) --------------------------------------------------------
    def postings_ready(self) -> bool:
        return self.get_state("postings") == POSTINGS_VERSION

    def _tokenize(self, items: Sequence[tuple[int, str, str]]) -> tuple[dict[str, dict[int, float]], dict[int, int]]:
        """(rowid, title, body) -> {term: {rowid: weighted frequency}}, {rowid: length in tokens}."""
        db = self.db
        db.execute("DELETE FROM temp.tok")
        db.executemany("INSERT INTO temp.tok(rowid, title, body) VALUES (?,?,?)", items)
        freqs, lens = _weigh_instances(db.execute(_INSTANCES.format(table="temp.tok_terms")))
        db.execute("DELETE FROM temp.tok")
        return freqs, lens

    def _update_postings(self, gone: Sequence[tuple[int, str, str]], added: Sequence[tuple[int, str, str]]) -> None:
        """Inside an open write transaction: drop the terms of replaced or deleted entries, add new ones
        (to the delta for a few entries, else into the blobs with the delta: see TERM_DELTA_MAX)."""
        db = self.db
        old, old_lens = self._tokenize(gone) if gone else ({}, {})
        new, new_lens = self._tokenize(added) if added else ({}, {})
        tokens = int(self.get_state("tokens") or 0) + sum(new_lens.values()) - sum(old_lens.values())
        db.execute("INSERT OR REPLACE INTO state(key, value) VALUES ('tokens', ?)", (str(max(tokens, 0)),))
        in_delta: set[tuple[str, int]] = set()  # (term, entry) of the going entries that the delta holds
        gone_ids = [g[0] for g in gone]
        for start in range(0, len(gone_ids), 500):
            part = gone_ids[start : start + 500]
            sql = f"SELECT term, doc FROM postings_delta WHERE doc IN ({','.join('?' * len(part))})"
            in_delta.update((r[0], r[1]) for r in db.execute(sql, part))
        db.executemany("DELETE FROM postings_delta WHERE doc=?", [(d,) for d in gone_ids])
        old = {t: per for t, per in ((t, {d: f for d, f in per.items() if (t, d) not in in_delta}) for t, per in old.items()) if per}
        if len(gone) + len(added) > DELTA_BATCH:  # a large write: fold the whole delta in with it
            for term, doc, freq, length in db.execute("SELECT term, doc, freq, len FROM postings_delta"):
                new.setdefault(term, {})[doc] = freq
                new_lens[doc] = length
            db.execute("DELETE FROM postings_delta")
            self._rewrite_blobs(old, new, new_lens)
            return
        db.executemany(
            "INSERT OR REPLACE INTO postings_delta(term, doc, freq, len) VALUES (?,?,?,?)",
            [(t, d, f, new_lens[d]) for t, per in new.items() for d, f in per.items()],
        )
        full: list[str] = []  # this write's terms whose delta rows are now enough to fold into their blob
        terms = list(new)
        for start in range(0, len(terms), 500):
            part = terms[start : start + 500]
            sql = (f"SELECT term FROM postings_delta WHERE term IN ({','.join('?' * len(part))})"
                   " GROUP BY term HAVING count(*) >= ?")
            full += [r[0] for r in db.execute(sql, [*part, TERM_DELTA_MAX])]
        fold: dict[str, dict[int, float]] = {}
        fold_lens: dict[int, int] = {}
        for start in range(0, len(full), 500):
            part = full[start : start + 500]
            sql = f"SELECT term, doc, freq, len FROM postings_delta WHERE term IN ({','.join('?' * len(part))})"
            for term, doc, freq, length in db.execute(sql, part):
                fold.setdefault(term, {})[doc] = freq
                fold_lens[doc] = length
        db.executemany("DELETE FROM postings_delta WHERE term=?", [(t,) for t in full])
        if old or fold:
            self._rewrite_blobs(old, fold, fold_lens)

    def _rewrite_blobs(self, old: dict[str, dict[int, float]], new: dict[str, dict[int, float]], new_lens: dict[int, int]) -> None:
        """Rewrite the blob of every term in ``old`` or ``new``: without ``old``'s entries, with ``new``'s."""
        import numpy as np

        db = self.db
        terms = list(old.keys() | new.keys())
        stored: dict[str, tuple[bytes, bytes, bytes]] = {}
        for start in range(0, len(terms), 500):
            part = terms[start : start + 500]
            sql = f"SELECT term, docs, freqs, lens FROM postings WHERE term IN ({','.join('?' * len(part))})"
            stored.update((r[0], r[1:]) for r in db.execute(sql, part))
        writes, empty = [], []
        for term in terms:
            r = stored.get(term)
            if r is None and term not in old:  # a term no entry had: nothing to merge
                writes.append((term, *(a.tobytes() for a in _posting_arrays(new[term], new_lens))))
                continue
            docs, fr, ln = (
                (np.frombuffer(r[0], np.int64), np.frombuffer(r[1], np.float32), np.frombuffer(r[2], np.int32))
                if r else (np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int32))
            )
            if term in old:
                keep = ~np.isin(docs, np.fromiter(old[term], np.int64))
                docs, fr, ln = docs[keep], fr[keep], ln[keep]
            if term in new:
                add_docs, add_fr, add_ln = _posting_arrays(new[term], new_lens)
                docs, fr, ln = np.concatenate([docs, add_docs]), np.concatenate([fr, add_fr]), np.concatenate([ln, add_ln])
            if len(docs):
                writes.append((term, docs.tobytes(), fr.tobytes(), ln.tobytes()))
            else:
                empty.append((term,))
        db.executemany("INSERT OR REPLACE INTO postings(term, docs, freqs, lens) VALUES (?,?,?,?)", writes)
        db.executemany("DELETE FROM postings WHERE term=?", empty)

    def _term_postings(self, terms: Sequence[str], *, docs_only: bool = False) -> dict[str, tuple[Any, ...]]:
        """Each term's posting list, blob and delta rows as one: (rowids, weighted frequencies as float64,
        lengths), or (rowids,) with ``docs_only``; in the order the blobs come, delta-only terms after."""
        import numpy as np

        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        cols = "term, docs" if docs_only else "term, docs, freqs, lens"
        out: dict[str, tuple[Any, ...]] = {}
        for r in self.db.execute(f"SELECT {cols} FROM postings WHERE term IN ({marks})", list(terms)):
            d = np.frombuffer(r[1], np.int64)
            out[r[0]] = (d,) if docs_only else (d, np.frombuffer(r[2], np.float32).astype(np.float64),
                                                np.frombuffer(r[3], np.int32))
        delta: dict[str, list[tuple[int, float, int]]] = {}
        for term, doc, freq, length in self.db.execute(
            f"SELECT term, doc, freq, len FROM postings_delta WHERE term IN ({marks}) ORDER BY term, doc", list(terms)
        ):
            delta.setdefault(term, []).append((doc, freq, length))
        for term in sorted(delta):
            rows = delta[term]
            add = (np.fromiter((x[0] for x in rows), np.int64, len(rows)),
                   np.fromiter((x[1] for x in rows), np.float32, len(rows)).astype(np.float64),
                   np.fromiter((x[2] for x in rows), np.int32, len(rows)))
            have = out.get(term)
            if docs_only:
                out[term] = (np.concatenate([have[0], add[0]]),) if have else add[:1]
            else:
                out[term] = tuple(np.concatenate([a, b]) for a, b in zip(have, add, strict=True)) if have else add
        return out

    def build_postings(self) -> None:
        """Build the postings of an index that has none (an index written by an older PAII): one
        pass over the FTS table's own term instances (a few seconds at 10k entries)."""
        db = self.db
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, fts, instance)")
        db.execute("BEGIN IMMEDIATE")
        try:
            if self.postings_ready():  # another process built them meanwhile
                db.execute("COMMIT")
                return
            db.execute("DELETE FROM postings")
            db.execute("DELETE FROM postings_delta")
            per_term, lens = _weigh_instances(db.execute(_INSTANCES.format(table="temp.fts_terms")))
            db.executemany(
                "INSERT INTO postings(term, docs, freqs, lens) VALUES (?,?,?,?)",
                (
                    (term, *(a.tobytes() for a in _posting_arrays(per, lens)))
                    for term, per in per_term.items()
                ),
            )
            db.execute(
                "INSERT OR REPLACE INTO state(key, value) VALUES ('postings', ?), ('tokens', ?)",
                (POSTINGS_VERSION, str(sum(lens.values()))),
            )
            db.execute("COMMIT")
            self._writes += 1
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _stem(self, words: Sequence[str]) -> list[str | None]:
        """Each query word's term as the index stores it (the FTS tokenizer's stem), cached."""
        missing = [w for w in dict.fromkeys(words) if w not in self._stems]
        if missing:
            if len(self._stems) > 100_000:
                self._stems = {}
            db = self.db
            db.execute("DELETE FROM temp.tok")
            db.executemany("INSERT INTO temp.tok(rowid, title, body) VALUES (?, ?, '')", enumerate(missing, 1))
            found = dict.fromkeys(missing)
            for term, doc in db.execute("SELECT term, doc FROM temp.tok_terms"):
                found[missing[doc - 1]] = term
            db.execute("DELETE FROM temp.tok")
            self._stems.update(found)
        return [self._stems.get(w) for w in words]

    def _rank_bm25(self, words: Sequence[str], allowed=None) -> tuple[Any, Any]:
        """(rowids, scores) of every entry holding a word, as FTS5's bm25(fts, 4.0, 1.0) scores
        the OR of the words (each word a phrase: two words with one stem count twice)."""
        import numpy as np

        mult = Counter(t for t in self._stem(words) if t)
        n_docs = self.count()
        if not mult or not n_docs:
            return np.zeros(0, np.int64), np.zeros(0)
        avgdl = max(int(self.get_state("tokens") or 0), 1) / n_docs
        all_docs, all_scores = [], []
        for term, (d, f, length) in self._term_postings(list(mult)).items():
            idf = math.log((n_docs - len(d) + 0.5) / (len(d) + 0.5))
            idf = idf if idf > 0 else 1e-6  # as FTS5
            all_docs.append(d)
            all_scores.append(mult[term] * idf * f * (BM25_K1 + 1) / (f + BM25_K1 * (1 - BM25_B + BM25_B * length / avgdl)))
        if not all_docs:
            return np.zeros(0, np.int64), np.zeros(0)
        every, weights = np.concatenate(all_docs), np.concatenate(all_scores)
        size = int(every.max()) + 1
        if size <= 4 * len(every) + 1_000_000:  # sum per entry over a dense rowid range: no sort
            dense = np.bincount(every, weights=weights, minlength=size)
            docs = np.flatnonzero(np.bincount(every, minlength=size))
            scores = dense[docs]
        else:
            docs, inverse = np.unique(every, return_inverse=True)
            scores = np.bincount(inverse, weights=weights)
        if allowed is not None:
            keep = np.isin(docs, allowed)
            docs, scores = docs[keep], scores[keep]
        return docs, scores

    def _useful_terms(self, terms: list[str]) -> list[str]:
        """The words of a query worth ranking by (see PRUNE_MIN_DOCS and KEEP_RAREST), in its order."""
        if len(terms) < 2:
            return terms
        total = self.count()
        if total < PRUNE_MIN_DOCS and len(terms) <= KEEP_RAREST:
            return terms
        if abs(total - self._df_total) > total // 20:  # the history changed a lot: count again
            self._df, self._df_total = {}, total
        unknown = [t for t in terms if t not in self._df]
        if unknown and self.postings_ready():  # one lookup: a term's postings are 8 bytes an entry
            stems = self._stem(unknown)
            marks = ",".join("?" * len(stems))
            sizes = dict(self.db.execute(f"SELECT term, length(docs) / 8 FROM postings WHERE term IN ({marks})", stems))
            for term, n in self.db.execute(
                f"SELECT term, count(*) FROM postings_delta WHERE term IN ({marks}) GROUP BY term", stems
            ):
                sizes[term] = sizes.get(term, 0) + n
            self._df.update((t, sizes.get(st, 0)) for t, st in zip(unknown, stems))
        dfs = []
        for t in terms:
            df = self._df.get(t)
            if df is None:
                df = self.db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (f'"{t}"',)).fetchone()[0]
                self._df[t] = df
            dfs.append(df)
        keep = [i for i, df in enumerate(dfs) if df * 2 <= total or total < PRUNE_MIN_DOCS]
        if not keep:  # every word is common: rank by the least common of them
            keep = list(range(len(terms)))
        if len(keep) > KEEP_RAREST:  # the rarest words the history has, in the query's order
            keep = sorted(sorted(keep, key=lambda i: (dfs[i] == 0, dfs[i], i))[:KEEP_RAREST])
        return [terms[i] for i in keep]

