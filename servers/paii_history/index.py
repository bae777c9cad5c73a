"""The search index: derived from the files, rebuildable at any time.

* :class:`KeywordIndex`: SQLite (WAL) with an FTS5 table (porter stemming, BM25 with the
  title weighted above the body; code identifiers also by their parts), a ``postings`` table
  the ranking is computed from (see TITLE_WEIGHT) and a ``docs`` table (id -> file, category,
  dates, the fields results show). It is also the record of which file versions are indexed
  (mtime, size), which is how an incremental sync finds new, changed and deleted files.
* :class:`VectorIndex`: chromadb, embedded (``PersistentClient`` under ``$PAII_HOME/index``)
  or a Chroma server (``PAII_CHROMA_URL``); vectors are computed by PAII and passed in.

Deleting ``$PAII_HOME/index`` loses nothing: ``paii history reindex`` rebuilds both.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs(
    rowid INTEGER PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL,
    path TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    sha TEXT NOT NULL,
    service TEXT,
    meta TEXT NOT NULL,
    snippet TEXT NOT NULL,
    vec INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS docs_cat_created ON docs(category, created);
CREATE INDEX IF NOT EXISTS docs_path ON docs(path);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, body, tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS postings(term TEXT PRIMARY KEY, docs BLOB NOT NULL, freqs BLOB NOT NULL, lens BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS skipped(path TEXT PRIMARY KEY, mtime_ns INTEGER, reason TEXT);
CREATE TABLE IF NOT EXISTS state(key TEXT PRIMARY KEY, value TEXT);
"""

TOKENIZER = "porter unicode61 remove_diacritics 2"
#: Keyword ranking is FTS5's BM25 (k1 1.2, b 0.75, title words weigh 4) computed with numpy from
#: a postings table kept beside the FTS table, in the same transactions: per stemmed term, the rowids
#: of the entries holding it, its weighted frequency in each and each entry's length in tokens. It
#: ranks exactly as ``ORDER BY bm25(fts, 4.0, 1.0)`` (a test compares them) at a fraction of the
#: cost: FTS5 scores every matching row through its auxiliary-function API (hive, 11.5k real bug
#: reports pasted as queries: p50 18 -> 3-5 ms, p95 40 -> 7-8 ms). Until an older index has built its
#: postings (once, in the sync that follows an upgrade), queries use FTS5's own ranking.
TITLE_WEIGHT, BM25_K1, BM25_B = 4.0, 1.2, 0.75
POSTINGS_VERSION = "1"

STOPWORDS = frozenset(
    """a an and are as at be but by for from has have in is it its of on or that the this to was were will with
    we our you your they their i me my he she him her them not no yes do does did done so if then than there here
    what when where which who why how all any can could should would may might just also into out up down over
    after before about again more most some such only own same too very s t don now via per""".split()
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")


#: Code identifiers are single FTS tokens (DFSClient, getBlockLocations, FSNamesystem), so a report
#: saying "block locations" never matched one saying getBlockLocations. The keyword index also holds
#: the parts of every camelCase or PascalCase word of an entry (index_text), and a query adds the
#: parts of its own such words after its words, at half a word's weight (a word counts twice). Dev
#: splits of the three dbrd sets, keyword-only, pooled: recall@1 0.316 -> 0.352, recall@5 0.540 ->
#: 0.560, MRR@10 0.406 -> 0.438 (parts at a word's weight: recall@5 0.548; bench/RETRIEVAL.md).
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ALNUM = re.compile(r"[A-Za-z0-9]+")  # the words the FTS tokenizer sees ("_" separates)
#: Between an entry's text and its identifier parts in the FTS body column (body() strips it).
IDENT_MARK = "\n\x1f"
#: The form of the text the FTS table holds; an index of another form is rewritten in its next sync.
TEXT_VERSION = "ident-1"


def identifier_parts(word: str) -> list[str]:
    """The parts of a camelCase or PascalCase word, lower case, two characters or more
    (DFSClient -> dfs, client; getBlockLocations -> get, block, locations); [] for any other word."""
    parts = _CAMEL.split(word)
    return [p.lower() for p in parts if len(p) >= 2] if len(parts) > 1 else []


def index_text(text: str) -> str:
    """``text`` as the FTS table holds it: then IDENT_MARK and the parts of its identifiers, each identifier once."""
    parts: list[str] = []
    for w in dict.fromkeys(_ALNUM.findall(text)):
        parts += identifier_parts(w)
    return f"{text}{IDENT_MARK}{' '.join(parts)}"


def plain_text(indexed: str) -> str:
    """The text an FTS column holds without its identifier parts (the inverse of index_text)."""
    return indexed.rpartition(IDENT_MARK)[0] if IDENT_MARK in indexed else indexed


def query_terms(text: str, max_terms: int = 128, *, parts: bool = True) -> list[str]:
    """The distinct meaningful words of ``text``, in order, then (``parts``) the parts of its
    identifiers that are not among them; at most ``max_terms`` in all."""
    seen: list[str] = []
    extra: list[str] = []
    for w in _WORD.findall(text):
        for piece in w.split("_"):
            word = piece.lower()
            if len(word) >= 2 and word not in STOPWORDS and word not in seen:
                seen.append(word)
            if parts:
                extra += identifier_parts(piece)
    seen += [p for p in dict.fromkeys(extra) if p not in STOPWORDS and p not in seen]
    return seen[:max_terms]


def fts_query(text: str, max_terms: int = 128, terms: Sequence[str] | None = None) -> str | None:
    """An OR query of the distinct meaningful words of ``text`` (quoted, so FTS syntax in it is inert)."""
    words = list(terms) if terms is not None else query_terms(text, max_terms)
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in words)


#: Queries drop words found in more than half of the entries: FTS5's BM25 gives such a word an
#: IDF of 1e-6, so it hardly moves a score, but every entry holding it must be scored (a pasted
#: report full of boilerplate would score the whole history: p95 317 ms at 10k entries).
PRUNE_MIN_DOCS = 200
#: A long query (a whole bug report, a pasted log) then keeps only its 48 rarest words that the
#: history has, for the same reason (hive, 11.5k reports: keyword step p95 206 -> 75 ms) while its
#: rare words decide the ranking (recall@5 unchanged on the benchmark sets: bench/RETRIEVAL.md).
#: Counting a word is cheap and cached.
KEEP_RAREST = 48


@dataclass
class DocRow:
    id: str
    category: str
    title: str
    created: float
    updated: float | None
    path: str
    service: str | None
    meta: dict[str, Any]
    snippet: str


def _filters(
    categories: Sequence[str] | None, since: float | None, service: str | None, prefix: str = ""
) -> tuple[list[str], list[Any]]:
    """SQL conditions and arguments for the filters every query shares."""
    where: list[str] = []
    args: list[Any] = []
    if categories:
        where.append(f"{prefix}category IN ({','.join('?' * len(categories))})")
        args.extend(categories)
    if since is not None:
        where.append(f"{prefix}created >= ?")
        args.append(since)
    if service:
        where.append(f"lower({prefix}service) = lower(?)")
        args.append(service)
    return where, args


def _row(r: sqlite3.Row) -> DocRow:
    return DocRow(
        id=r["id"],
        category=r["category"],
        title=r["title"],
        created=r["created"],
        updated=r["updated"],
        path=r["path"],
        service=r["service"],
        meta=json.loads(r["meta"]),
        snippet=r["snippet"],
    )


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


class KeywordIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._df: dict[str, int] = {}  # document frequency of query words, for pruning
        self._df_total = 0
        self._writes = 0  # this object's commits; with PRAGMA data_version, says when counts are stale
        self._stems: dict[str, str | None] = {}  # query word -> its stemmed term

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.executescript(SCHEMA)
            # a scratch FTS table with the same tokenizer: how the postings learn an entry's
            # stemmed terms, and a query its stems (connection-local, never written to disk)
            conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.tok USING fts5(title, body, tokenize='{TOKENIZER}')")
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.tok_terms USING fts5vocab(temp, tok, instance)")
            self._local.conn = conn
            if not conn.execute("SELECT 1 FROM docs LIMIT 1").fetchone() and not self.postings_ready():
                # a new index keeps its postings from the first entry on
                conn.execute(
                    "INSERT OR IGNORE INTO state(key, value) VALUES ('postings', ?), ('tokens', '0'), ('fts_text', ?)",
                    (POSTINGS_VERSION, TEXT_VERSION),
                )
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- state -----------------------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        r = self.db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return r[0] if r else None

    def set_state(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO state(key, value) VALUES (?, ?)", (key, value))

    # --- writes ----------------------------------------------------------------------------
    def upsert(self, rows: Iterable[dict[str, Any]]) -> None:
        """Each row: id, category, title, created, updated, path, mtime_ns, size, sha, service, meta, snippet, body."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            keep_postings = self.postings_ready()
            gone: list[tuple[int, str, str]] = []
            added: list[tuple[int, str, str]] = []
            for r in rows:
                old = db.execute("SELECT rowid FROM docs WHERE id=?", (r["id"],)).fetchone()
                if old:
                    if keep_postings:
                        gone.append(db.execute("SELECT rowid, title, body FROM fts WHERE rowid=?", (old[0],)).fetchone())
                    db.execute("DELETE FROM fts WHERE rowid=?", (old[0],))
                    db.execute("DELETE FROM docs WHERE rowid=?", (old[0],))
                cur = db.execute(
                    "INSERT INTO docs(id, category, title, created, updated, path, mtime_ns, size, sha, service, meta, snippet, vec)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,0)",
                    (
                        r["id"], r["category"], r["title"], r["created"], r["updated"], r["path"], r["mtime_ns"],
                        r["size"], r["sha"], r["service"], json.dumps(r["meta"], default=str), r["snippet"],
                    ),
                )
                title, body = index_text(r["title"]), index_text(r["body"])
                db.execute("INSERT INTO fts(rowid, title, body) VALUES (?,?,?)", (cur.lastrowid, title, body))
                db.execute("DELETE FROM skipped WHERE path=?", (r["path"],))
                added.append((cur.lastrowid, title, body))
            if keep_postings:
                self._update_postings(gone, added)
            db.execute("COMMIT")
            self._writes += 1
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def delete_paths(self, paths: Sequence[str]) -> list[str]:
        db = self.db
        ids = []
        db.execute("BEGIN IMMEDIATE")
        try:
            keep_postings = self.postings_ready()
            gone: list[tuple[int, str, str]] = []
            for p in paths:
                r = db.execute("SELECT rowid, id FROM docs WHERE path=?", (p,)).fetchone()
                if r:
                    if keep_postings:
                        gone.append(db.execute("SELECT rowid, title, body FROM fts WHERE rowid=?", (r[0],)).fetchone())
                    db.execute("DELETE FROM fts WHERE rowid=?", (r[0],))
                    db.execute("DELETE FROM docs WHERE rowid=?", (r[0],))
                    ids.append(r[1])
                db.execute("DELETE FROM skipped WHERE path=?", (p,))
            if keep_postings and gone:
                self._update_postings(gone, [])
            db.execute("COMMIT")
            self._writes += 1
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return ids

    def mark_skipped(self, path: str, mtime_ns: int, reason: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO skipped(path, mtime_ns, reason) VALUES (?,?,?)", (path, mtime_ns, reason))

    def set_vec(self, ids: Sequence[str], value: int = 1) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.executemany("UPDATE docs SET vec=? WHERE id=?", [(value, i) for i in ids])
        db.execute("COMMIT")
        self._writes += 1

    def clear(self) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        for t in ("docs", "fts", "skipped", "postings"):
            db.execute(f"DELETE FROM {t}")
        db.execute(
            "INSERT OR REPLACE INTO state(key, value) VALUES ('postings', ?), ('tokens', '0'), ('fts_text', ?)",
            (POSTINGS_VERSION, TEXT_VERSION),
        )
        db.execute("COMMIT")
        self._writes += 1

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
        """Inside an open write transaction: drop the terms of replaced or deleted entries, add new ones."""
        import numpy as np

        db = self.db
        old, old_lens = self._tokenize(gone) if gone else ({}, {})
        new, new_lens = self._tokenize(added) if added else ({}, {})
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
        tokens = int(self.get_state("tokens") or 0) + sum(new_lens.values()) - sum(old_lens.values())
        db.execute("INSERT OR REPLACE INTO state(key, value) VALUES ('tokens', ?)", (str(max(tokens, 0)),))

    def text_current(self) -> bool:
        return self.get_state("fts_text") == TEXT_VERSION

    def migrate_text(self) -> None:
        """Rewrite every entry's FTS text in the current form (an index from an older PAII has no
        identifier parts), from the text the FTS table holds: no file is read, no vector changes.
        The postings are rebuilt after it (build_postings)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if not self.text_current():
                for rowid, title, body in db.execute("SELECT rowid, title, body FROM fts").fetchall():
                    new = (index_text(plain_text(title)), index_text(plain_text(body)))
                    if new != (title, body):
                        db.execute("UPDATE fts SET title=?, body=? WHERE rowid=?", (*new, rowid))
                db.execute("DELETE FROM state WHERE key IN ('postings', 'tokens')")
                db.execute("INSERT OR REPLACE INTO state(key, value) VALUES ('fts_text', ?)", (TEXT_VERSION,))
            db.execute("COMMIT")
            self._writes += 1
            self._df = {}
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def build_postings(self) -> None:
        """Build the postings of an index that has none (an index written by an older PAII): one
        pass over the FTS table's own term instances (a few seconds at 10k entries)."""
        import numpy as np

        db = self.db
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, fts, instance)")
        db.execute("BEGIN IMMEDIATE")
        try:
            if self.postings_ready():  # another process built them meanwhile
                db.execute("COMMIT")
                return
            db.execute("DELETE FROM postings")
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
        rows = self.db.execute(
            f"SELECT term, docs, freqs, lens FROM postings WHERE term IN ({','.join('?' * len(mult))})", list(mult)
        ).fetchall()
        all_docs, all_scores = [], []
        for term, docs, fr, ln in rows:
            d = np.frombuffer(docs, np.int64)
            f = np.frombuffer(fr, np.float32).astype(np.float64)
            length = np.frombuffer(ln, np.int32)
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

    def _rowids_matching(self, categories: Sequence[str] | None, since: float | None, service: str | None):
        """The rowids the filters keep (for selective filters), remembered like count_matching."""
        import numpy as np

        where, args = _filters(categories, since, service)
        sql = f"SELECT rowid FROM docs WHERE {' AND '.join(where)}"
        return self._until_commit(
            (sql, tuple(args)), lambda: np.fromiter((r[0] for r in self.db.execute(sql, args)), np.int64)
        )

    def _keyword_postings(self, terms: Sequence[str], categories, since, service, limit: int) -> list[tuple[str, float]]:
        import numpy as np

        where, args = _filters(categories, since, service)
        allowed = None
        if where and self.count_matching(categories, since, service) / max(self.count(), 1) < 0.25:
            allowed = self._rowids_matching(categories, since, service)  # selective: filter first
        # "+column": look the few best rowids up one by one, not scan a category through its index
        where, args = _filters(categories, since, service, "+")
        docs, scores = self._rank_bm25(terms, allowed)
        if not len(docs):
            return []
        first = np.arange(len(docs))
        if len(docs) > 4 * limit:
            first = np.argpartition(-scores, 4 * limit - 1)[: 4 * limit]
        first = first[np.lexsort((docs[first], -scores[first]))]  # best first; ties by rowid
        found = self._ids_within(docs, scores, first, where, args, limit)
        if len(found) < limit and len(first) < len(docs):  # the filters dropped most of the best
            rest = np.setdiff1d(np.arange(len(docs)), first, assume_unique=True)
            order = rest[np.lexsort((docs[rest], -scores[rest]))]
            found += self._ids_within(docs, scores, order, where, args, limit - len(found))
        return found[:limit]

    def _ids_within(self, docs, scores, order, where: list[str], args: list[Any], need: int) -> list[tuple[str, float]]:
        """(id, score) of the first ``need`` entries at ``order`` that pass the filters."""
        found: list[tuple[str, float]] = []
        for start in range(0, len(order), 500):
            if len(found) >= need:
                break
            chunk = order[start : start + 500]
            rowids = [int(x) for x in docs[chunk]]
            cond = " AND ".join([f"rowid IN ({','.join('?' * len(rowids))})", *where])
            ids = dict(self.db.execute(f"SELECT rowid, id FROM docs WHERE {cond}", rowids + args).fetchall())
            found.extend((ids[r], float(scores[j])) for r, j in zip(rowids, chunk) if r in ids)
        return found

    # --- reads -----------------------------------------------------------------------------
    def files(self) -> dict[str, tuple[int, int]]:
        out = {r[0]: (r[1], r[2]) for r in self.db.execute("SELECT path, mtime_ns, size FROM docs")}
        for r in self.db.execute("SELECT path, mtime_ns FROM skipped"):
            out.setdefault(r[0], (r[1], -1))
        return out

    def get(self, doc_id: str) -> DocRow | None:
        r = self.db.execute("SELECT * FROM docs WHERE id=?", (doc_id,)).fetchone()
        return _row(r) if r else None

    def get_many(self, ids: Sequence[str]) -> dict[str, DocRow]:
        out: dict[str, DocRow] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            q = f"SELECT * FROM docs WHERE id IN ({','.join('?' * len(chunk))})"
            for r in self.db.execute(q, chunk):
                out[r["id"]] = _row(r)
        return out

    def filter_fields(self) -> dict[str, dict[str, Any]]:
        """category, created and service of every entry: what vector search filters on."""
        out = {}
        for i, cat, created, svc in self.db.execute("SELECT id, category, created, service FROM docs"):
            out[i] = {"category": cat, "created": created} | ({"service": str(svc).lower()} if svc else {})
        return out

    def body(self, doc_id: str) -> str:
        r = self.db.execute(
            "SELECT fts.body FROM fts JOIN docs ON docs.rowid = fts.rowid WHERE docs.id=?", (doc_id,)
        ).fetchone()
        return plain_text(r[0]) if r else ""  # without the identifier parts

    def missing_vectors(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM docs WHERE vec=0")]

    def keyword(
        self,
        text: str,
        *,
        categories: Sequence[str] | None = None,
        since: float | None = None,
        service: str | None = None,
        limit: int = 50,
    ) -> list[tuple[str, float]]:
        """(id, bm25 score, higher is better) best first."""
        terms = self._useful_terms(query_terms(text))
        if not terms:
            return []
        words = set(query_terms(text, parts=False))
        if any(t not in words for t in terms):  # a word counts twice, a part of an identifier once (see identifier_parts)
            terms = [t for t in terms for _ in range(2 if t in words else 1)]
        if self.postings_ready():
            return self._keyword_postings(terms, categories, since, service, limit)
        # an index whose postings are not built yet (until its next sync): FTS5 ranks
        q = fts_query(text, terms=terms)
        where, args = _filters(categories, since, service, "d.")
        sql = (
            "SELECT d.id, -bm25(fts, 4.0, 1.0) AS s FROM fts JOIN docs d ON d.rowid = fts.rowid"
            f" WHERE fts MATCH ? AND {' AND '.join(where) or '1'} ORDER BY bm25(fts, 4.0, 1.0) LIMIT ?"
        )
        return [(r[0], float(r[1])) for r in self.db.execute(sql, [q, *args, limit])]

    def _useful_terms(self, terms: list[str]) -> list[str]:
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

    def recent(self, category: str | None, count: int, since: float | None = None) -> list[DocRow]:
        where, args = _filters([category] if category else None, since, None)
        sql = "SELECT * FROM docs" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY created DESC LIMIT ?"
        return [_row(r) for r in self.db.execute(sql, [*args, count])]

    def count(self, category: str | None = None, since: float | None = None) -> int:
        return self.count_matching([category] if category else None, since, None)

    def count_matching(self, categories: Sequence[str] | None, since: float | None, service: str | None) -> int:
        where, args = _filters(categories, since, service)
        sql = "SELECT count(*) FROM docs" + (f" WHERE {' AND '.join(where)}" if where else "")
        if not where:  # SQLite counts a whole table quickly
            return int(self.db.execute(sql).fetchone()[0])
        # a filtered count scans the table (~0.7 ms at 10k entries, twice a query)
        return self._until_commit((sql, tuple(args)), lambda: int(self.db.execute(sql, args).fetchone()[0]))

    def _until_commit(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """``compute()``, remembered (per thread, a few hundred keys) until anything commits, in this
        process (self._writes) or another (PRAGMA data_version)."""
        version = (self.db.execute("PRAGMA data_version").fetchone()[0], self._writes)
        cache = getattr(self._local, "until_commit", None)
        if cache is None or cache[0] != version or len(cache[1]) > 256:
            cache = self._local.until_commit = (version, {})
        if key not in cache[1]:
            cache[1][key] = compute()
        return cache[1][key]

    def categories(self) -> dict[str, int]:
        """Entries per category (a scan: ~0.8 ms at 10k entries; asked by every similar search)."""
        sql = "SELECT category, count(*) FROM docs GROUP BY category"
        return dict(self._until_commit((sql,), lambda: {r[0]: r[1] for r in self.db.execute(sql)}))

    def skipped(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT path, reason FROM skipped ORDER BY path")]


#: chromadb keeps one client system per path for the whole process (SharedSystemClient), and
#: creating a client while another thread clears that cache fails ('RustBindingsAPI' object has
#: no attribute 'bindings', or a KeyError on the path): every VectorIndex creates, drops and
#: reaches its client under this one process-wide lock.
_CHROMA_LOCK = threading.RLock()


#: Embedded histories up to this size are searched exactly, in memory (384 floats an entry: 15 MB
#: at 10k), instead of through chroma's approximate HNSW query: on histories of near-identical
#: entries HNSW can miss the one distinct entry outright (an entry with cosine 0.65 to the query,
#: all others under 0.16, was not in chroma's top 400 of 600), a known chromadb behaviour.
#: Scoring every vector costs about a millisecond at 10k. Bigger histories and team servers use chroma's query.
EXACT_MAX = 50_000


class VectorIndex:
    """chromadb behind one small interface; the client is created on first use."""

    def __init__(
        self, *, persist_dir: Path, url: str | None, collection: str, model_id: str,
        fields: Callable[[], dict[str, dict[str, Any]]] | None = None,
        stamp: Callable[[], str | None] | None = None,
    ) -> None:
        self.persist_dir = persist_dir
        self._fields = fields  # the filter fields of every entry, read faster than chroma's metadata
        self._stamp = stamp  # changes with every vector write, in any process: says when a snapshot is stale
        self.url = url
        # embedded: one collection per model, so a model change never mixes vectors; a team's
        # server keeps the configured name and refuses vectors of another model
        self.collection_name = collection if url else f"paii-history-{model_id}"
        self.model_id = model_id
        self._client = None
        self._col = None
        self._lock = _CHROMA_LOCK
        self._exact: _Exact | None = None  # the embedded collection's vectors, for exact search
        self._too_big = False

    @property
    def location(self) -> str:
        return self.url or str(self.persist_dir)

    def _collection(self):
        with self._lock:
            if self._col is None:
                import chromadb
                from chromadb.config import Settings

                settings = Settings(anonymized_telemetry=False, allow_reset=False)
                if self.url:
                    u = urlparse(self.url)
                    self._client = chromadb.HttpClient(
                        host=u.hostname or "localhost",
                        port=u.port or (443 if u.scheme == "https" else 8000),
                        ssl=u.scheme == "https",
                        settings=settings,
                    )
                else:
                    if not (self.persist_dir / "chroma.sqlite3").exists():
                        # chromadb caches one system per path in a process; a folder deleted under
                        # it (the index was wiped) must not be served from that stale cache
                        from chromadb.api.client import SharedSystemClient

                        SharedSystemClient.clear_system_cache()
                    self.persist_dir.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(path=str(self.persist_dir), settings=settings)
                col = self._client.get_or_create_collection(
                    self.collection_name,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"model": self.model_id, "paii": "history"},
                    embedding_function=None,
                )
                stored = (col.metadata or {}).get("model")
                if stored and stored != self.model_id:
                    raise RuntimeError(
                        f"the vector collection {self.collection_name!r} holds {stored} vectors but this machine "
                        f"embeds with {self.model_id}; set PAII_HISTORY_CHROMA_COLLECTION to a new name or run `paii history reindex` to rebuild it"
                    )
                self._col = col
            return self._col

    def reload(self) -> None:
        """Forget the cached client so the next call reads what another process wrote."""
        with self._lock:
            self._col = None
            self._client = None
            self._exact, self._too_big = None, False
            if not self.url:
                try:
                    from chromadb.api.client import SharedSystemClient

                    SharedSystemClient.clear_system_cache()
                except Exception:  # pragma: no cover - best effort
                    pass

    def upsert(self, ids: Sequence[str], vectors, metadatas: Sequence[dict[str, Any]]) -> None:
        col = self._collection()
        step = 4000
        for s in range(0, len(ids), step):
            col.upsert(ids=list(ids[s : s + step]), embeddings=vectors[s : s + step], metadatas=list(metadatas[s : s + step]))
        with self._lock:
            if self._exact is not None:
                self._exact.upsert(ids, vectors, metadatas)
                self._too_big = len(self._exact.ids) > EXACT_MAX
                if self._too_big:
                    self._exact = None

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._collection().delete(ids=list(ids))
            with self._lock:
                if self._exact is not None:
                    self._exact.delete(ids)

    def count(self) -> int:
        return self._collection().count()

    def wipe(self) -> None:
        self._collection()
        with self._lock:
            self._client.delete_collection(self.collection_name)
            self._col = None
            self._exact, self._too_big = None, False

    def prepare(self) -> None:
        """Open the collection and, for exact search, read its vectors (the warm-up calls this)."""
        self._exact_index()

    def _exact_index(self) -> _Exact | None:
        if self.url:
            return None
        with self._lock:
            if self._exact is None and not self._too_big:
                stamp = self._stamp() if self._stamp and self._fields else None
                if stamp and (exact := self._read_snapshot(stamp)) is not None:
                    self._exact = exact
                    return exact
                col = self._collection()
                total = col.count()
                if total > EXACT_MAX:
                    self._too_big = True
                    return None
                exact = _Exact()
                fields = self._fields() if self._fields else None
                page = 5000
                for offset in range(0, total, page):
                    got = col.get(include=["embeddings"] if fields is not None else ["embeddings", "metadatas"],
                                  limit=page, offset=offset)
                    metas = [fields.get(i) for i in got["ids"]] if fields is not None else got["metadatas"]
                    exact.upsert(got["ids"], got["embeddings"], metas)
                self._exact = exact
                if stamp:
                    self._write_snapshot(exact, stamp)
            return self._exact

    # A snapshot of the embedded collection's vectors (one .npy-in-.npz file beside it), valid while
    # no vector has been written since: a new process reads it in milliseconds, without importing
    # chromadb or paging 10k vectors out of it (~2 s), which is most of a one-shot `paii history similar`.
    @property
    def _snapshot_path(self) -> Path:
        return self.persist_dir.parent / f"vectors-{self.collection_name}.npz"

    def _read_snapshot(self, stamp: str) -> _Exact | None:
        import numpy as np

        try:
            with np.load(self._snapshot_path, allow_pickle=False) as z:
                if str(z["stamp"]) != stamp:
                    return None
                mat, ids = z["mat"], [str(i) for i in z["ids"]]
        except (OSError, KeyError, ValueError):  # none yet, or unreadable: chroma is the source
            return None
        fields = self._fields() if self._fields else {}
        exact = _Exact()
        exact.upsert(ids, mat, [fields.get(i) for i in ids])
        return exact

    def _write_snapshot(self, exact: _Exact, stamp: str) -> None:
        import io

        import numpy as np

        from paii_history.entries import atomic_write

        buf = io.BytesIO()
        np.savez(buf, mat=exact.mat, ids=np.array(exact.ids, dtype=str), stamp=np.array(stamp))
        try:
            atomic_write(self._snapshot_path, buf.getvalue())
        except OSError as exc:  # a cache: searching works without it
            log.warning("history: could not write the vector snapshot: %s", exc)

    def search(
        self, vector, n: int, categories: Sequence[str] | None = None, since: float | None = None, service: str | None = None
    ) -> list[tuple[str, float]] | None:
        """Exact nearest neighbours within the filters, (id, cosine) best first; None when this
        index is searched through chroma instead (a team server, or more than EXACT_MAX entries)."""
        exact = self._exact_index()
        if exact is None:
            return None
        with self._lock:  # the arrays of this moment (an upsert replaces them, never edits them)
            mat, ids, cats, created, services = exact.mat, exact.ids, exact.cats, exact.created, exact.services
        if not ids:
            return []
        import numpy as np

        scores = mat @ np.asarray(vector, dtype=np.float32)
        keep = np.ones(len(ids), dtype=bool)
        if categories:  # object arrays: == per value is much cheaper than np.isin's sort
            in_cats = np.zeros(len(ids), dtype=bool)
            for c in set(categories):
                in_cats |= cats == c
            keep &= in_cats
        if since is not None:
            keep &= created >= since
        if service:
            keep &= services == service.lower()
        idx = np.flatnonzero(keep)
        if len(idx) > n:
            idx = idx[np.argpartition(-scores[idx], n - 1)[:n]]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [(ids[i], float(scores[i])) for i in idx]

    def query(self, vector, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """(id, cosine similarity) best first."""
        col = self._collection()
        total = col.count()
        if total == 0:
            return []
        res = col.query(query_embeddings=[vector], n_results=min(n, total), where=where or None, include=["distances"])
        ids = res["ids"][0]
        dists = res["distances"][0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=True)]


class _Exact:
    """The vectors of an embedded collection as one matrix, with the metadata filters need."""

    def __init__(self) -> None:
        import numpy as np

        self.mat = np.zeros((0, 0), dtype=np.float32)
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.cats = np.array([], dtype=object)
        self.created = np.array([], dtype=np.float64)
        self.services = np.array([], dtype=object)

    def upsert(self, ids: Sequence[str], vectors, metadatas: Sequence[dict[str, Any] | None]) -> None:
        import numpy as np

        if not len(ids):
            return
        vecs = np.asarray(vectors, dtype=np.float32)
        # (category, created, service) of each: what the filters compare
        fields = [((m or {}).get("category"), float((m or {}).get("created") or 0.0), (m or {}).get("service")) for m in metadatas]
        mat = self.mat if self.mat.size else np.zeros((0, vecs.shape[1]), dtype=np.float32)
        mat, cats, created, services = mat.copy(), self.cats.copy(), self.created.copy(), self.services.copy()
        ids_out, pos = list(self.ids), dict(self.pos)
        new = [j for j, i in enumerate(ids) if i not in pos]
        for j, i in enumerate(ids):
            if i in pos:
                p = pos[i]
                mat[p] = vecs[j]
                cats[p], created[p], services[p] = fields[j]
        if new:
            mat = np.vstack([mat, vecs[new]])
            cats = np.concatenate([cats, np.array([fields[j][0] for j in new], dtype=object)])
            created = np.concatenate([created, np.array([fields[j][1] for j in new])])
            services = np.concatenate([services, np.array([fields[j][2] for j in new], dtype=object)])
            for j in new:
                pos[ids[j]] = len(ids_out)
                ids_out.append(ids[j])
        self.mat, self.ids, self.pos, self.cats, self.created, self.services = mat, ids_out, pos, cats, created, services

    def delete(self, ids: Sequence[str]) -> None:
        import numpy as np

        gone = {self.pos[i] for i in ids if i in self.pos}
        if not gone:
            return
        keep = np.array([p not in gone for p in range(len(self.ids))], dtype=bool)
        self.ids = [i for p, i in enumerate(self.ids) if p not in gone]
        self.pos = {i: p for p, i in enumerate(self.ids)}
        self.mat, self.cats, self.created, self.services = self.mat[keep], self.cats[keep], self.created[keep], self.services[keep]
