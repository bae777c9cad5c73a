"""The index database (``$PAII_HOME/index/keyword.sqlite3``): its tables, and how it is opened.

One SQLite file in WAL mode, shared by every process of one PAII_HOME (two servers, a server
and the CLI): ``docs``, ``fts``, ``postings`` and ``postings_delta`` are the keyword index (:mod:`paii_history.keyword`,
:mod:`paii_history.bm25`), ``skipped`` and ``notices`` what the sync says about files
(:mod:`paii_history.sync`), ``vectors`` the embedded history's vectors
(:mod:`paii_history.vectortable`), ``vectors_ml`` its multilingual vectors and ``vectors_ml_done``
which version of each entry has one (:mod:`paii_history.mlindex`), ``state`` versions and generations.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

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
CREATE TABLE IF NOT EXISTS postings_delta(term TEXT NOT NULL, doc INTEGER NOT NULL, freq REAL NOT NULL, len INTEGER NOT NULL,
    PRIMARY KEY(term, doc)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS postings_delta_doc ON postings_delta(doc);
CREATE TABLE IF NOT EXISTS skipped(path TEXT PRIMARY KEY, mtime_ns INTEGER, reason TEXT, size INTEGER NOT NULL DEFAULT -1);
CREATE TABLE IF NOT EXISTS notices(path TEXT PRIMARY KEY, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, vec BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS vectors_ml(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, vec BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS vectors_ml_done(id TEXT PRIMARY KEY, sha TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state(key TEXT PRIMARY KEY, value TEXT);
"""
TOKENIZER = "porter unicode61 remove_diacritics 2"


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the tables (an index from an older PAII gains the new columns) and a
    connection-local scratch FTS table with the same tokenizer: how the postings learn an entry's
    stemmed terms, and a query its stems."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(SCHEMA)
    if "size" not in {r[1] for r in conn.execute("PRAGMA table_info(skipped)")}:  # an index from before it
        with contextlib.suppress(sqlite3.OperationalError):  # another process added it meanwhile
            conn.execute("ALTER TABLE skipped ADD COLUMN size INTEGER NOT NULL DEFAULT -1")
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.tok USING fts5(title, body, tokenize='{TOKENIZER}')")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.tok_terms USING fts5vocab(temp, tok, instance)")
    return conn
