"""The keyword index: SQLite (WAL) with an FTS5 table and the ``docs`` table of every entry.

* ``fts``: title and body of each entry (porter stemming; code identifiers also by their parts,
  see :mod:`paii_history.text`), ranked by BM25 with the title weighted above the body, computed
  from the ``postings`` table (:mod:`paii_history.bm25`).
* ``docs``: id -> file, category, dates, the fields results show. It is also the record of which
  file versions are indexed (mtime, size), which is how an incremental sync finds new, changed
  and deleted files; ``skipped`` holds the files that could not be read, with the reason and the
  version of the file it is about (a file is reported once per change), ``notices`` what a reader
  should know about a file that was indexed (e.g. dated by its modification time).

The tables are in :mod:`paii_history.schema`. Derived from the files and rebuildable at any
time: deleting ``$PAII_HOME/index`` loses nothing (``paii history reindex`` rebuilds it and the vectors).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paii_history.bm25 import POSTINGS_VERSION, BM25Postings
from paii_history.schema import connect
from paii_history.text import TEXT_VERSION, fts_query, index_text, plain_text, query_terms


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


class KeywordIndex(BM25Postings):
    """The keyword index of one history (the BM25 ranking over its postings is in :class:`BM25Postings`)."""

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
            conn = connect(self.path)
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
        """Each row: id, category, title, created, updated, path, mtime_ns, size, sha, service, meta, snippet, body,
        and optionally notes (what stats shows about how the file was read)."""
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
                db.execute("DELETE FROM notices WHERE path=?", (r["path"],))
                if r.get("notes"):
                    db.execute("INSERT INTO notices(path, note) VALUES (?,?)", (r["path"], "; ".join(r["notes"])))
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
                db.execute("DELETE FROM notices WHERE path=?", (p,))
            if keep_postings and gone:
                self._update_postings(gone, [])
            db.execute("COMMIT")
            self._writes += 1
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return ids

    def mark_skipped(self, path: str, sig: tuple[int, int], reason: str) -> None:
        """Record that the file at ``path`` in version ``sig`` (mtime_ns, size) is not indexed, and why."""
        self.db.execute(
            "INSERT OR REPLACE INTO skipped(path, mtime_ns, size, reason) VALUES (?,?,?,?)", (path, sig[0], sig[1], reason)
        )

    def set_vec(self, ids: Sequence[str], value: int = 1) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.executemany("UPDATE docs SET vec=? WHERE id=?", [(value, i) for i in ids])
        db.execute("COMMIT")
        self._writes += 1

    def clear(self) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        for t in ("docs", "fts", "skipped", "notices", "postings", "postings_delta"):
            db.execute(f"DELETE FROM {t}")
        db.execute(
            "INSERT OR REPLACE INTO state(key, value) VALUES ('postings', ?), ('tokens', '0'), ('fts_text', ?)",
            (POSTINGS_VERSION, TEXT_VERSION),
        )
        db.execute("COMMIT")
        self._writes += 1

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

    # --- ranking within the filters (BM25 of the postings: see BM25Postings) ----------------
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
        """The version (mtime_ns, size) of every file the index knows, indexed or skipped."""
        out = {r[0]: (r[1], r[2]) for r in self.db.execute("SELECT path, mtime_ns, size FROM docs")}
        for path, (sig, _) in self.skipped_files().items():
            out.setdefault(path, sig)
        return out

    def skipped_files(self) -> dict[str, tuple[tuple[int, int], str]]:
        """path -> (the version of the file that was skipped, why)."""
        return {r[0]: ((r[1], r[2]), r[3]) for r in self.db.execute("SELECT path, mtime_ns, size, reason FROM skipped")}

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

    def body(self, doc_id: str) -> str:
        r = self.db.execute(
            "SELECT fts.body FROM fts JOIN docs ON docs.rowid = fts.rowid WHERE docs.id=?", (doc_id,)
        ).fetchone()
        return plain_text(r[0]) if r else ""  # without the identifier parts

    def brief(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None, float, str]]:
        """id -> (title, service, created, metadata as stored JSON): what ranking reads of many candidates
        (a DocRow parses the metadata and the snippet, a few ms for a ranking's 200 candidates)."""
        out: dict[str, tuple[str, str | None, float, str]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            q = f"SELECT id, title, service, created, meta FROM docs WHERE id IN ({','.join('?' * len(chunk))})"
            out.update((r[0], (r[1], r[2], r[3], r[4])) for r in self.db.execute(q, chunk))
        return out

    def bodies(self, ids: Sequence[str]) -> dict[str, str]:
        """The text of each entry (without identifier parts), for the ids that exist."""
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            q = (f"SELECT docs.id, fts.body FROM docs JOIN fts ON fts.rowid = docs.rowid"
                 f" WHERE docs.id IN ({','.join('?' * len(chunk))})")
            out.update((r[0], plain_text(r[1])) for r in self.db.execute(q, chunk))
        return out

    def services(self) -> list[str]:
        """The services the history's entries are about, lower case (remembered until a write)."""
        sql = "SELECT DISTINCT lower(service) FROM docs WHERE service IS NOT NULL AND service != ''"
        return self._until_commit((sql,), lambda: [r[0] for r in self.db.execute(sql)])

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
        db = self.db
        if db.in_transaction:
            return self._keyword(text, categories, since, service, limit)
        # one read transaction: the entry count, the postings and the docs of one moment, however
        # another process writes meanwhile (a count older than the postings gave log() of a negative)
        db.execute("BEGIN")
        try:
            return self._keyword(text, categories, since, service, limit)
        finally:
            db.execute("COMMIT")

    def _keyword(self, text: str, categories, since, service, limit: int) -> list[tuple[str, float]]:
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

    def notices(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT path, note FROM notices ORDER BY path")]

