"""The indexes on their own: query words, pruning of words most entries contain, exact vector search."""

from __future__ import annotations

import time

import pytest

from paii_history.bm25 import KEEP_RAREST, PRUNE_MIN_DOCS
from paii_history.keyword import KeywordIndex
from paii_history.text import fts_query, identifier_parts, query_terms


def _rows(n: int):
    now = time.time()
    for i in range(n):
        rare = " kafka rebalance storm" if i % 50 == 0 else ""
        yield {"id": f"E-{i}", "category": "incidents", "title": f"incident {i}", "created": now - i, "updated": None,
               "path": f"incidents/E-{i}.md", "mtime_ns": 0, "size": 0, "sha": str(i), "service": None, "meta": {},
               "snippet": "", "body": f"the service was down in production after a deploy{rare}"}


def test_query_terms_are_distinct_meaningful_and_quoted():
    assert query_terms('payments-api is "returning" 500s; payments pool') == ["payments", "api", "returning", "500s", "pool"]
    assert fts_query('NEAR(disk full) OR pool* "x"') == '"near" OR "disk" OR "full" OR "pool"'  # FTS syntax is inert
    assert fts_query("the a of") is None


def test_code_identifiers_are_also_searched_by_their_parts(tmp_path):
    assert identifier_parts("DFSClient") == ["dfs", "client"]
    assert identifier_parts("getBlockLocations") == ["get", "block", "locations"]
    assert identifier_parts("FSNamesystem") == ["fs", "namesystem"]
    assert identifier_parts("HDFS") == identifier_parts("Hadoop") == identifier_parts("x86") == []
    # a query's words first, then the parts of its identifiers that are not words of it
    assert query_terms("getBlockLocations block timeout") == ["getblocklocations", "block", "timeout", "get", "locations"]
    assert query_terms("getBlockLocations", parts=False) == ["getblocklocations"]
    kw = KeywordIndex(tmp_path / "k.sqlite3")
    body = "NPE at org.apache.hadoop.hdfs.DFSClient.getBlockLocations(DFSClient.java:12)\n"
    kw.upsert([next(_rows(1)) | {"id": "E-1", "body": body}, next(_rows(1)) | {"id": "E-2", "path": "incidents/E-2.md"}])
    assert [i for i, _ in kw.keyword("wrong block locations from the dfs client")] == ["E-1"]
    assert [i for i, _ in kw.keyword("DFSClient")] == ["E-1"]  # the whole word still matches
    assert kw.body("E-1") == body  # the parts are for the index only (the body is what gets embedded)
    kw.close()


def test_words_in_most_entries_are_dropped(tmp_path):
    kw = KeywordIndex(tmp_path / "k.sqlite3")
    kw.upsert(_rows(PRUNE_MIN_DOCS + 100))
    # "production" and "deploy" are in every entry: BM25 gives them almost no weight, so they go
    assert kw._useful_terms(["production", "deploy", "kafka", "rebalance"]) == ["kafka", "rebalance"]
    hits = kw.keyword("kafka consumer rebalance in production after deploy", limit=10)
    assert hits and all(int(i.split("-")[1]) % 50 == 0 for i, _ in hits)
    # a query of common words only still ranks by all of them
    assert len(kw.keyword("production deploy", limit=5)) == 5
    # so are they from a pasted report: its boilerplate would make every entry a match
    report = ["production"] + [f"w{i}" for i in range(40)] + ["kafka", "deploy"]
    assert kw._useful_terms(report) == [f"w{i}" for i in range(40)] + ["kafka"]
    kw.close()


def test_small_histories_are_not_pruned(tmp_path):
    kw = KeywordIndex(tmp_path / "k.sqlite3")
    kw.upsert(_rows(20))
    assert kw._useful_terms(["production", "kafka"]) == ["production", "kafka"]
    assert {i for i, _ in kw.keyword("kafka production", limit=50)} >= {"E-0"}
    kw.close()


def test_a_long_query_keeps_its_rarest_words_the_history_has(tmp_path):
    """A whole report as the query: only its KEEP_RAREST rarest known words are matched, in the
    query's order (words no entry has are the last choice, not the first)."""
    kw = KeywordIndex(tmp_path / "k.sqlite3")
    now = time.time()
    # word c{j} is in the entries i >= 5j: c0 in all 60, c11 in 5 of them
    kw.upsert({"id": f"E-{i}", "category": "notes", "title": f"note {i}", "created": now - i, "updated": None,
               "path": f"notes/E-{i}.md", "mtime_ns": 0, "size": 0, "sha": str(i), "service": None, "meta": {},
               "snippet": "", "body": " ".join(f"c{j}" for j in range(i // 5 + 1))} for i in range(60))
    words = [f"w{j}" for j in range(KEEP_RAREST)] + [f"c{j}" for j in range(12)]  # w*: no entry has them
    kept = kw._useful_terms(words)
    assert len(kept) == KEEP_RAREST
    assert kept[-12:] == [f"c{j}" for j in range(12)]  # every known word, in the query's order
    assert kept[:-12] == [f"w{j}" for j in range(KEEP_RAREST - 12)]  # unknown words fill the rest, in order
    hits = kw.keyword(" ".join(words), limit=3)
    assert hits and int(hits[0][0].split("-")[1]) >= 55  # an entry with the rarest word (c11) ranks first
    kw.close()


def _vector_index(path, kw=None):
    """A VectorIndex over chroma under ``path`` with its vector table in a keyword index there."""
    from paii_history.vectors import VectorIndex
    from paii_history.vectortable import VectorTable

    kw = kw or KeywordIndex(path / "keyword.sqlite3")
    return VectorIndex(persist_dir=path / "chroma", url=None, collection="x", model_id="test", table=VectorTable(kw)), kw


def _docs(kw, fields):
    """docs rows for these entries: the vector table's rows are read joined with them."""
    kw.upsert([{"id": i, "category": f["category"], "title": i, "created": f["created"], "updated": None, "path": f"{i}.md",
                "mtime_ns": 0, "size": 0, "sha": "", "service": f.get("service"), "meta": {}, "snippet": "", "body": i}
               for i, f in fields.items()])


def test_exact_vector_search_follows_upserts_deletes_and_filters(tmp_path):
    """Embedded histories are searched exactly, in memory; the matrix follows every write."""
    import numpy as np

    def unit(*xs):
        v = np.zeros(8, dtype=np.float32)
        v[: len(xs)] = xs
        return v / np.linalg.norm(v)

    vi, kw = _vector_index(tmp_path)
    meta = lambda cat, t, svc=None: {"category": cat, "created": float(t)} | ({"service": svc} if svc else {})  # noqa: E731
    _docs(kw, {"a": meta("incidents", 10, "api"), "b": meta("notes", 20), "c": meta("incidents", 30, "db")})
    vi.upsert(["a", "b"], np.stack([unit(1, 0), unit(0, 1)]), [meta("incidents", 10, "api"), meta("notes", 20)])
    vi.prepare()  # reads the vectors into memory
    vi.upsert(["c"], np.stack([unit(1, 0.1)]), [meta("incidents", 30, "db")])  # a new entry
    vi.upsert(["b"], np.stack([unit(1, 0.2)]), [meta("notes", 20)])  # a changed one
    q = unit(1, 0)
    assert [i for i, _ in vi.search(q, 3)] == ["a", "c", "b"]
    assert vi.search(q, 3)[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [i for i, _ in vi.search(q, 3, categories=["incidents"])] == ["a", "c"]
    assert [i for i, _ in vi.search(q, 3, since=15)] == ["c", "b"]
    assert [i for i, _ in vi.search(q, 3, service="DB")] == ["c"]
    vi.delete(["a"])
    assert [i for i, _ in vi.search(q, 1)] == ["c"]
    vi.reload()  # read everything again: same answer
    assert [i for i, _ in vi.search(q, 5)] == ["c", "b"]
    kw.close()


def test_exact_search_keeps_numpys_blas_on_the_calling_thread(tmp_path):
    """OpenBLAS spread each search's matrix-vector product over every core with spinning threads
    (~11 ms of CPU for ~0.4 ms of work at 2,000 entries, 20 clients queued for it): after a search,
    numpy's BLAS runs on one thread, and the cosines are those it computed before."""
    import numpy as np
    from threadpoolctl import threadpool_info

    vi, kw = _vector_index(tmp_path)
    rnd = np.random.default_rng(3)
    mat = rnd.standard_normal((300, 16)).astype(np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    ids = [f"e{i}" for i in range(300)]
    _docs(kw, {i: {"category": "incidents", "created": 1.0} for i in ids})
    vi.upsert(ids, mat, [{"category": "incidents", "created": 1.0}] * 300)
    before = mat @ mat[7]
    found = vi.search(mat[7], 5)
    assert found[0][0] == "e7"
    assert [s for _, s in found] == sorted(before.tolist(), reverse=True)[:5]
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)
    kw.close()


def test_another_process_reads_the_vector_table_row_by_row_without_opening_chroma(tmp_path, monkeypatch):
    """A reader's matrix comes from the vector table (SQLite), never from chroma, and after
    another process writes it reads only the new rows (all of them again after a delete)."""
    import numpy as np

    from paii_history.vectors import VectorIndex

    fields = {k: {"category": c, "created": float(n)} for n, (k, c) in enumerate(
        [("a", "incidents"), ("b", "notes"), ("c", "incidents"), ("d", "notes")], 1)}
    writer, kw_w = _vector_index(tmp_path)
    _docs(kw_w, fields)
    vecs = np.eye(8, dtype=np.float32)[:4]
    writer.upsert(["a", "b"], vecs[:2], [fields["a"], fields["b"]])

    def no_chroma(self):
        raise AssertionError("chroma was opened")

    monkeypatch.setattr(VectorIndex, "_collection", no_chroma)
    reader, kw_r = _vector_index(tmp_path, KeywordIndex(tmp_path / "keyword.sqlite3"))  # its own connection
    assert [i for i, _ in reader.search(vecs[1], 2)] == ["b", "a"]
    assert [i for i, _ in reader.search(vecs[1], 2, categories=["incidents"])] == ["a"]  # filters from docs
    monkeypatch.undo()
    writer.upsert(["c"], vecs[2:3], [fields["c"]])  # another process writes
    writer.upsert(["a"], vecs[3:4], [fields["a"]])  # and changes one
    read = []
    real_read = reader.table.read
    monkeypatch.setattr(reader.table, "read", lambda after=0: read.append(after) or real_read(after))
    monkeypatch.setattr(VectorIndex, "_collection", no_chroma)
    reader.refresh()
    assert read == [2], "only the rows after the two it had"
    assert [i for i, _ in reader.search(vecs[2], 1)] == ["c"]
    assert [i for i, _ in reader.search(vecs[3], 1)] == ["a"]
    monkeypatch.undo()
    writer.delete(["c"])
    reader.refresh()  # a delete: everything is read again on the next search
    assert sorted(i for i, _ in reader.search(vecs[2], 3)) == ["a", "b"]
    kw_w.close()
    kw_r.close()


def test_filtered_keyword_search_ranks_like_the_joined_query(tmp_path):
    """Filters most entries pass are applied to the best FTS matches; selective ones in SQL: both
    give what ranking every matching entry would."""
    kw = KeywordIndex(tmp_path / "k.sqlite3")
    rows = list(_rows(PRUNE_MIN_DOCS + 100))
    for r in rows:
        n = int(r["id"].split("-")[1])
        r["category"] = "notes" if n % 10 == 0 else "incidents"
        r["body"] += f" shard{n % 3} replica{n % 4}"
    kw.upsert(rows)

    def joined(categories):
        q = fts_query("shard1 replica2 kafka")
        sql = ("SELECT d.id, -bm25(fts, 4.0, 1.0) FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH ? AND"
               f" d.category IN ({','.join('?' * len(categories))}) ORDER BY bm25(fts, 4.0, 1.0) LIMIT 20")
        return [(i, round(s, 6)) for i, s in kw.db.execute(sql, [q, *categories])]

    for cats in (["incidents"], ["notes"]):  # 90% of entries, then 10%
        got = [(i, round(s, 6)) for i, s in kw.keyword("shard1 replica2 kafka", categories=cats, limit=20)]
        assert got == joined(cats) and len(got) == 20
    assert kw.keyword("nothing-like-this", categories=["incidents"]) == []
    kw.close()


def _fts_ranking(kw: KeywordIndex, monkeypatch, text: str, **filters):
    """What FTS5's own bm25() ranking gives for the same query (the path an index without postings takes)."""
    with monkeypatch.context() as m:
        m.setattr(KeywordIndex, "postings_ready", lambda self: False)
        return kw.keyword(text, **filters)


def _same_ranking(a, b):
    assert len(a) == len(b)
    assert [s for _, s in a] == pytest.approx([s for _, s in b], rel=1e-9)
    # entries with equal scores may come in either order: compare the ids within each score
    def key(hits):
        return sorted((round(s, 9), i) for i, s in hits)
    assert key(a) == key(b)


def test_postings_rank_exactly_as_fts5_through_updates_and_deletes(tmp_path, monkeypatch):
    """Keyword ranking from the postings table equals FTS5's bm25(fts, 4.0, 1.0), with the title
    weighted, words of one stem counted as FTS5 counts them, and after entries change or go."""
    import random

    rnd = random.Random(3)
    vocab = [f"w{i}" for i in range(150)] + ["fail", "fails", "failing", "failed", "timeout", "timeouts", "DFSClient"]
    kw = KeywordIndex(tmp_path / "k.sqlite3")
    now = time.time()

    def row(i: int, version: int = 0) -> dict:
        words = [rnd.choice(vocab[: rnd.randint(5, len(vocab))]) for _ in range(rnd.randint(0, 60))]
        return {"id": f"E-{i}", "category": "notes" if i % 7 == 0 else "incidents",
                "title": " ".join(rnd.sample(vocab, 3)), "created": now - i * 3600, "updated": None,
                "path": f"incidents/E-{i}.md", "mtime_ns": version, "size": 0, "sha": f"{i}-{version}",
                "service": "svc-a" if i % 3 == 0 else None, "meta": {}, "snippet": "", "body": " ".join(words)}

    assert kw.postings_ready()  # a new index keeps postings from the start
    kw.upsert([row(i) for i in range(150)])
    kw.upsert([row(i) for i in range(150, 260)])
    kw.upsert([row(i, 1) for i in range(0, 260, 9)])  # changed entries
    kw.delete_paths([f"incidents/E-{i}.md" for i in range(5, 260, 11)])
    kw.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, fts, instance)")
    assert int(kw.get_state("tokens")) == kw.db.execute("SELECT count(*) FROM temp.fts_terms").fetchone()[0]
    queries = ["fails timeout", "failing failed fail w3", "DFSClient w1 w2 w140", "w149", "nothing-here w0"]
    queries += [" ".join(rnd.sample(vocab, rnd.randint(1, 12))) for _ in range(25)]
    for q in queries:
        for filters in ({}, {"categories": ["incidents"]}, {"categories": ["notes"]}, {"since": now - 100 * 3600},
                        {"service": "SVC-A"}):
            _same_ranking(kw.keyword(q, limit=20, **filters), _fts_ranking(kw, monkeypatch, q, limit=20, **filters))
    kw.clear()
    assert kw.postings_ready() and kw.keyword("fails", limit=5) == []
    assert kw.db.execute("SELECT count(*) FROM postings").fetchone()[0] == 0
    kw.close()


def test_an_index_from_before_postings_builds_them_on_sync(isolated_env, monkeypatch):
    """An index written by an older PAII has no postings: keyword search uses FTS5 meanwhile, and
    the next sync builds them; rankings are the same before and after."""
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False, embeddings="off"))
    for i in range(30):
        store.capture("notes", f"kafka consumer lag {i}", f"rebalance storm number {i} " + "partition " * (i % 5))
    kw = store.kw
    before = kw.keyword("kafka rebalance partition", limit=10)
    kw.db.execute("DELETE FROM postings")
    kw.db.execute("DELETE FROM state WHERE key IN ('postings', 'tokens')")
    store.close()

    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False, embeddings="off"))
    assert not store.kw.postings_ready()
    _same_ranking(store.kw.keyword("kafka rebalance partition", limit=10), before)  # through FTS5
    store.sync()
    assert store.kw.postings_ready()
    _same_ranking(store.kw.keyword("kafka rebalance partition", limit=10), before)
    fts_total = store.kw.db.execute("SELECT count(*) FROM temp.fts_terms").fetchone()[0]
    assert int(store.kw.get_state("tokens")) == fts_total
    store.close()


def test_an_index_from_before_identifier_parts_is_rewritten_on_sync(isolated_env, monkeypatch):
    """An older index holds entries' text without the parts of their identifiers: the next sync
    rewrites it from the FTS table (no file read, no vector touched) and rebuilds the postings."""
    from paii_history.config import HistorySettings
    from paii_history.text import plain_text
    from paii_history.store import HistoryStore

    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False, embeddings="off"))
    store.capture("incidents", "NPE in DFSClient", "at org.apache.hadoop.hdfs.DFSClient.getBlockLocations(DFSClient.java:12)")
    store.capture("incidents", "slow namenode", "the namenode was slow to answer block reports")
    kw = store.kw
    for rowid, title, body in kw.db.execute("SELECT rowid, title, body FROM fts").fetchall():  # the old form
        kw.db.execute("UPDATE fts SET title=?, body=? WHERE rowid=?", (plain_text(title), plain_text(body), rowid))
    kw.db.execute("DELETE FROM state WHERE key IN ('fts_text', 'postings', 'tokens')")
    store.close()

    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False, embeddings="off"))
    assert not store.kw.text_current()
    store.sync()
    assert store.kw.text_current() and store.kw.postings_ready()
    hits = store.kw.keyword("wrong block locations from the dfs client", limit=5)
    assert hits[0][0] == store.recent("incidents", 5)[0][-1].id  # the NPE entry, found by the parts
    _same_ranking(hits, _fts_ranking(store.kw, monkeypatch, "wrong block locations from the dfs client", limit=5))
    assert "getBlockLocations" in store.kw.body(hits[0][0]) and "\x1f" not in store.kw.body(hits[0][0])
    store.close()


def test_small_writes_go_to_the_delta_and_rank_exactly_as_blobs_and_fts5(tmp_path, monkeypatch):
    """A capture's postings go to the small delta table, a term's rows folded into its blob past
    TERM_DELTA_MAX and the whole delta with a large write; rankings (and the words' document counts)
    are the same whichever table holds an entry (or part of it), through updates and deletes."""
    import random

    from paii_history import bm25

    monkeypatch.setattr(bm25, "TERM_DELTA_MAX", 4)
    rnd = random.Random(5)
    vocab = [f"w{i}" for i in range(80)] + ["fail", "fails", "failed", "timeout", "DFSClient"]
    now = time.time()

    def row(i: int, version: int = 0) -> dict:
        words = [rnd.choice(vocab[: rnd.randint(5, len(vocab))]) for _ in range(rnd.randint(1, 40))]
        return {"id": f"E-{i}", "category": "incidents", "title": " ".join(rnd.sample(vocab, 3)), "created": now - i,
                "updated": None, "path": f"incidents/E-{i}.md", "mtime_ns": version, "size": 0, "sha": f"{i}-{version}",
                "service": None, "meta": {}, "snippet": "", "body": " ".join(words)}

    kw = KeywordIndex(tmp_path / "k.sqlite3")
    kw.upsert([row(i) for i in range(200)])  # an import: straight into the blobs
    assert kw.db.execute("SELECT count(*) FROM postings_delta").fetchone()[0] == 0
    final: dict[int, dict] = {}
    for i in range(200, 230):  # captures, one entry each
        final[i] = row(i)
        kw.upsert([final[i]])
        if i == 202:  # three captures: every term's rows are still in the delta
            assert kw.db.execute("SELECT count(DISTINCT doc) FROM postings_delta").fetchone()[0] == 3
    for i in (3, 210, 228, 229):  # updates of an entry in the blobs and of entries in the delta
        final[i] = row(i, 1)
        kw.upsert([final[i]])
    kw.delete_paths(["incidents/E-7.md", "incidents/E-227.md"])
    most = kw.db.execute("SELECT max(n), count(*) FROM (SELECT count(*) AS n FROM postings_delta GROUP BY term)").fetchone()
    assert most[0] < 4 and most[1] > 10, "common terms were folded on the way, rare ones wait in the delta"
    kw.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, fts, instance)")
    assert int(kw.get_state("tokens")) == kw.db.execute("SELECT count(*) FROM temp.fts_terms").fetchone()[0]

    queries = ["fails timeout", "failed fail w3", "DFSClient w1 w2 w70", "w79", "nothing-here w0"]
    queries += [" ".join(rnd.sample(vocab, rnd.randint(1, 10))) for _ in range(20)]
    with_delta = {q: kw.keyword(q, limit=20) for q in queries}
    counts = {q: kw._useful_terms(query_terms(q)) for q in queries}
    for q in queries:
        _same_ranking(with_delta[q], _fts_ranking(kw, monkeypatch, q, limit=20))
    kw.db.execute("DELETE FROM state WHERE key='postings'")
    kw.build_postings()  # every entry in the blobs: exactly the same scores
    assert kw.db.execute("SELECT count(*) FROM postings_delta").fetchone()[0] == 0
    kw._df = {}
    for q in queries:
        assert kw.keyword(q, limit=20) == with_delta[q]
        assert kw._useful_terms(query_terms(q)) == counts[q]
    kw.close()
