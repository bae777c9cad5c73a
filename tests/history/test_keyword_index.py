"""The indexes on their own: query words, pruning of words most entries contain, exact vector search."""

from __future__ import annotations

import time

import pytest

from paii_history.index import KEEP_RAREST, PRUNE_MIN_DOCS, KeywordIndex, fts_query, query_terms


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


def test_exact_vector_search_follows_upserts_deletes_and_filters(tmp_path):
    """Embedded histories are searched exactly, in memory; the matrix follows every write."""
    import numpy as np

    from paii_history.index import VectorIndex

    def unit(*xs):
        v = np.zeros(8, dtype=np.float32)
        v[: len(xs)] = xs
        return v / np.linalg.norm(v)

    vi = VectorIndex(persist_dir=tmp_path / "chroma", url=None, collection="x", model_id="test")
    meta = lambda cat, t, svc=None: {"category": cat, "created": float(t)} | ({"service": svc} if svc else {})  # noqa: E731
    vi.upsert(["a", "b"], np.stack([unit(1, 0), unit(0, 1)]), [meta("incidents", 10, "api"), meta("notes", 20)])
    vi.prepare()  # reads the collection into memory
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
    vi.reload()  # another process wrote: read again from chroma, same answer
    assert [i for i, _ in vi.search(q, 5)] == ["c", "b"]


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
