"""bench/retrieval.py's literature protocol: who is in the corpus, what counts as found, what is
searchable when. The figures the README quotes rest on these rules."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_retrieval", ROOT / "bench" / "retrieval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_each_duplicate_is_searched_among_earlier_reports_and_finds_any_earlier_one_of_its_group(tmp_path):
    bench = load_bench()
    write_jsonl(tmp_path / "corpus.jsonl", [
        {"id": "m1", "title": "master", "body": "b", "created": "2010-01-01T00:00:00Z"},
        {"id": "x", "title": "other", "body": "b", "created": "2010-06-01T00:00:00Z"},
        {"id": "late", "title": "newer", "body": "b", "created": "2012-01-01T00:00:00Z"},
    ])
    write_jsonl(tmp_path / "queries-dev.jsonl", [
        {"qid": "d1", "text": "first duplicate\nits description", "relevant": ["m1"], "created": "2010-03-01T00:00:00Z"},
    ])
    write_jsonl(tmp_path / "queries-test.jsonl", [
        {"qid": "d2", "text": "second duplicate\nmore words", "relevant": ["m1"], "created": "2011-01-01T00:00:00Z"},
        {"qid": "d0", "text": "filed with its master", "relevant": ["m1"], "created": "2010-01-01T00:00:00Z"},
    ])
    out, filed_before, relevant_of = bench.standard_protocol(tmp_path, tmp_path / "work" / "dups.jsonl")
    added = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(a["id"], a["title"], a["body"]) for a in added] == [
        ("d1", "first duplicate", "its description"), ("d2", "second duplicate", "more words"),
        ("d0", "filed with its master", "")]
    d2 = {"qid": "d2", "relevant": ["m1"], "created": "2011-01-01T00:00:00Z"}
    assert relevant_of(d2) == {"m1", "d1", "d0"}  # the master or an earlier duplicate
    assert filed_before(d2, ["d2", "late", "x", "d1", "m1"]) == ["x", "d1", "m1"]  # itself and newer ones dropped
    d0 = {"qid": "d0", "relevant": ["m1"], "created": "2010-01-01T00:00:00Z"}
    assert relevant_of(d0) == set()  # nothing earlier to find: the benchmark leaves it out
    assert bench.score(filed_before(d2, ["late", "x", "d1"]), relevant_of(d2))["recall@5"] == 1.0


def test_a_folder_in_the_dataset_layout_is_measured_like_the_shipped_sets(tmp_path, isolated_env):
    bench = load_bench()
    data = tmp_path / "mine"
    data.mkdir()
    (data / "corpus.jsonl").write_text((ROOT / "examples" / "incidents.jsonl").read_text())
    write_jsonl(data / "queries-test.jsonl", [
        {"qid": "q1", "text": "payments-api is returning 500s in production", "relevant": ["INC-234", "INC-456"]},
        {"qid": "q2", "text": "orders-api 503 after a deploy\nnew pods never became ready, old ones were terminated",
         "relevant": ["INC-512"]},
    ])
    import argparse

    args = argparse.Namespace(split="test", limit=0, modes="keyword", engine="store", dataset="mine", home=None,
                              data_dir=tmp_path, protocol="strict", query="report,one-line,title", argv=[])
    results = bench.run(args)  # one imported store, the three query forms
    assert [r["query"] for r in results] == ["report", "one-line", "title"]
    for res in results:
        assert res["sizes"] == {"corpus": 15, "queries": 2, "mean_relevant": 1.5}
        assert res["modes"]["keyword"]["recall@5"] == 1.0, res["query"]
        assert len(res["ranks"]["keyword"]) == 2
