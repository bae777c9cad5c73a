#!/usr/bin/env python3
"""Retrieval-quality benchmark of the history server.

Imports the benchmark corpus (bench/datasets.py) into a fresh, temporary
history store, runs every query of a split through ``store.similar`` (or
``store.retrieve``) in the modes keyword, vector and hybrid, and reports
recall@1, recall@5, recall@10 and MRR@10.

recall@k is the duplicate-detection "recall rate": the share of queries with
at least one relevant document in the top k.  MRR@10 uses the rank of the
first relevant document (0 when none is in the top 10).

Usage::

    python bench/retrieval.py --split test            # the reported numbers
    python bench/retrieval.py --split dev --limit 100 # quick tuning loop
    python bench/retrieval.py --split test --json     # JSON on stdout

``--dataset dbrd-hadoop`` (or dbrd-hdfs, dbrd-hive) runs the duplicate-bug-report sets built by
``bench/dbrd_build.py``.  Their default protocol is the strict one: the corpus holds the masters
and every non-duplicate, never a duplicate, and each query must find its master among all of
them, newer reports included.  ``--protocol standard`` is the literature's (Sun et al. 2011, the
2023 TOSEM study): every report is in the corpus, each duplicate is searched against the reports
filed before it, and a hit is any earlier report of its group (the master or an earlier
duplicate); the top 60 hits are asked for, then the newer ones dropped.

``--query one-line`` sends each query with its line breaks replaced by spaces (a report joined
into one line, as a form or script may send it); ``--query title`` sends its first line only
(what a person types).  Writes bench/results/retrieval-<dataset>.json (or --out).  ``--engine reference`` runs a
self-contained baseline (SQLite FTS5 BM25 + MiniLM through onnxruntime + RRF)
instead of the store, to check the data without the server.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
# --servers DIR: measure another checkout's code (e.g. a scratch worktree of an older commit)
_SERVERS = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--servers=")), None)
sys.path.insert(0, _SERVERS or str(ROOT / "servers"))

import datasets as bench_datasets  # noqa: E402  (bench/datasets.py)

MODES = ("keyword", "vector", "hybrid")
KS = (1, 5, 10)
CATEGORY = "incidents"


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --------------------------------------------------------------------------- metrics

def score(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    first = next((i for i, d in enumerate(ranked[:10], 1) if d in relevant), None)
    out = {f"recall@{k}": float(first is not None and first <= k) for k in KS}
    out["mrr@10"] = 1.0 / first if first else 0.0
    return out


def aggregate(rows: list[dict[str, float]]) -> dict[str, float]:
    n = max(1, len(rows))
    keys = [f"recall@{k}" for k in KS] + ["mrr@10"]
    return {k: round(sum(r[k] for r in rows) / n, 4) for k in keys}


# --------------------------------------------------------------------------- engines

class StoreEngine:
    """The history server's own store: what users get."""

    name = "paii_history"

    def __init__(self, corpus_path: Path, home: Path, keyword_only: bool = False, more: Path | None = None) -> None:
        from paii_history.config import HistorySettings
        from paii_history.store import HistoryStore

        extra = {"embeddings": "off"} if keyword_only else {}
        self.store = HistoryStore(HistorySettings.load(home=home, warmup=False, **extra))
        t = time.perf_counter()
        if (home / "index").exists() and self.store.kw.count():  # --home: imported by an earlier run
            self.imported, self.import_seconds, self.warnings = self.store.kw.count(), None, set()
            self.store.ensure_ready()
            return
        import inspect

        # every report counts, even one with the same title and text as another (older code has no such check)
        importer = getattr(self.store, "import_file", None)
        dup = {"allow_duplicates": True} if importer and "allow_duplicates" in inspect.signature(importer).parameters else {}
        report = self.store.import_jsonl(corpus_path, category=CATEGORY, **dup)
        self.imported = getattr(report, "imported", None)
        if more is not None:  # --protocol standard: the duplicates too
            added = self.store.import_jsonl(more, category=CATEGORY, **dup)
            self.imported = (self.imported or 0) + (getattr(added, "imported", None) or 0)
        self.import_seconds = round(time.perf_counter() - t, 1)
        errors = list(getattr(report, "errors", []) or [])
        if errors:
            print(f"import: {len(errors)} errors, first: {errors[:3]}", file=sys.stderr)
        for w in getattr(report, "warnings", []) or []:
            print(f"import warning: {w}", file=sys.stderr)
        self.warnings: set[str] = set()

    def search(self, text: str, k: int, mode: str) -> list[str]:
        hits, _, warnings = self.store.similar(text, k=k, mode=mode)  # what `paii history similar` runs
        self.warnings.update(warnings)
        return [h.id for h in hits][:k]

    def close(self) -> None:
        close = getattr(self.store, "close", None)
        if close:
            close()


class ReferenceEngine:
    """Stand-alone baseline: FTS5 BM25, MiniLM cosine, reciprocal-rank fusion."""

    name = "reference"

    def __init__(self, corpus_path: Path, home: Path) -> None:
        import re
        import sqlite3

        import numpy as np

        self.np, self.re = np, re
        docs = load_jsonl(corpus_path)
        self.ids = [d["id"] for d in docs]
        t = time.perf_counter()
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE f USING fts5(id UNINDEXED, title, body, tokenize='porter unicode61')")
        self.db.executemany("INSERT INTO f VALUES (?,?,?)", [(d["id"], d["title"], d["body"]) for d in docs])
        self.texts = [f"{d['title']}\n{d['body']}"[:1200] for d in docs]
        self._mat = None  # embedded on first vector query
        self.import_seconds = round(time.perf_counter() - t, 1)
        self.imported = len(docs)
        self.warnings: set[str] = set()

    def _load_model(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from paii_history.embed import find_model  # model lookup only
        from paii_history.config import HistorySettings

        s = HistorySettings.load(warmup=False)
        files = find_model(s.embed_model_dir, s.models_dir)
        if files is None:
            raise SystemExit("no MiniLM model found for the reference engine")
        self.tok = Tokenizer.from_file(str(files.tokenizer))
        self.tok.enable_truncation(256)
        self.tok.enable_padding()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        self.sess = ort.InferenceSession(str(files.model), opts, providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str]):
        np = self.np
        out = []
        names = {i.name for i in self.sess.get_inputs()}
        for i in range(0, len(texts), 32):
            enc = self.tok.encode_batch(texts[i:i + 32])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in names:
                feed["token_type_ids"] = np.zeros_like(ids)
            h = self.sess.run(None, feed)[0]
            v = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            out.append(v / np.linalg.norm(v, axis=1, keepdims=True))
        return np.vstack(out)

    def _kw(self, text: str, n: int) -> list[str]:
        terms = list(dict.fromkeys(t.lower() for t in self.re.findall(r"[A-Za-z0-9_]{2,}", text)))[:64]
        if not terms:
            return []
        q = " OR ".join(f'"{t}"' for t in terms)
        rows = self.db.execute("SELECT id FROM f WHERE f MATCH ? ORDER BY bm25(f, 2.0, 1.0) LIMIT ?", (q, n))
        return [r[0] for r in rows]

    def _vec(self, text: str, n: int) -> list[str]:
        if self._mat is None:
            t = time.perf_counter()
            self._load_model()
            self._mat = self.embed(self.texts)
            self.import_seconds = round(self.import_seconds + time.perf_counter() - t, 1)
        sims = self._mat @ self.embed([text])[0]
        return [self.ids[i] for i in self.np.argsort(-sims)[:n]]

    def search(self, text: str, k: int, mode: str) -> list[str]:
        text = text[:4000]
        if mode == "keyword":
            return self._kw(text, k)
        if mode == "vector":
            return self._vec(text, k)
        pool = max(50, 4 * k)
        fused: dict[str, float] = {}
        for lst in (self._kw(text, pool), self._vec(text, pool)):
            for r, d in enumerate(lst, 1):
                fused[d] = fused.get(d, 0.0) + 1.0 / (60 + r)
        return sorted(fused, key=fused.get, reverse=True)[:k]

    def close(self) -> None:
        self.db.close()


# --------------------------------------------------------------------------- protocols

def standard_protocol(data_dir: Path, out: Path):
    """The literature's protocol on a dbrd set: writes every duplicate report (the queries of both
    splits) as corpus lines to out; returns (out, filed_before, relevant_of): filed_before(q, ids)
    keeps the ids filed before q (q itself excluded), relevant_of(q) is q's group filed before q."""
    created: dict[str, str] = {d["id"]: d.get("created") or "" for d in load_jsonl(data_dir / "corpus.jsonl")}
    duplicates = load_jsonl(data_dir / "queries-dev.jsonl") + load_jsonl(data_dir / "queries-test.jsonl")
    group: dict[str, set[str]] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for q in duplicates:
            title, _, body = q["text"].partition("\n")
            fh.write(json.dumps({"id": q["qid"], "title": title, "body": body, "created": q["created"]}) + "\n")
            created[q["qid"]] = q["created"]
            master = q["relevant"][0]
            group.setdefault(master, {master}).add(q["qid"])

    def filed_before(q: dict, ids: list[str]) -> list[str]:
        return [i for i in ids if i != q["qid"] and created.get(i, "") < q["created"]]

    def relevant_of(q: dict) -> set[str]:
        return {i for i in group[q["relevant"][0]] if i != q["qid"] and created[i] < q["created"]}

    return out, filed_before, relevant_of


# --------------------------------------------------------------------------- main

def _forms(queries: list[dict], form: str) -> list[dict]:
    if form == "one-line":
        return [q | {"text": " ".join(q["text"].split())} for q in queries]
    if form == "title":
        return [q | {"text": q["text"].strip().split("\n", 1)[0]} for q in queries]
    return queries


def run(args: argparse.Namespace) -> list[dict]:
    """One result per query form (``--query report,title`` measures both on one imported store)."""
    data_dir = bench_datasets.ensure(args.dataset, args.data_dir)
    meta_file = data_dir / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {
        "dataset": args.dataset, "source": str(data_dir), "license": "unknown", "task": "related entries"}
    all_queries = load_jsonl(data_dir / f"queries-{args.split}.jsonl")
    if args.limit:
        all_queries = all_queries[: args.limit]
    modes = args.modes.split(",") if args.modes else list(MODES)
    standard = args.protocol == "standard"
    if standard and (args.engine != "store" or not args.dataset.startswith("dbrd-")):
        sys.exit("--protocol standard needs --engine store and a dbrd-* dataset (it uses the reports' dates)")
    keyword_only = modes == ["keyword"]
    with tempfile.TemporaryDirectory(prefix="paii-bench-") as tmp:
        home = Path(tmp)
        if args.home:  # kept between runs: imported once
            home = args.home / f"{args.dataset}-{args.protocol}{'-kw' if keyword_only else ''}"
            home.mkdir(parents=True, exist_ok=True)
        engine_cls = ReferenceEngine if args.engine == "reference" else StoreEngine
        filed_before = relevant_of = None
        if standard:
            more, filed_before, relevant_of = standard_protocol(data_dir, home / "duplicates.jsonl")
            engine = StoreEngine(data_dir / "corpus.jsonl", home / "store", keyword_only=keyword_only, more=more)
            all_queries = [q for q in all_queries if relevant_of(q)]  # one filed with its master has nothing to find
        elif engine_cls is StoreEngine:
            engine = StoreEngine(data_dir / "corpus.jsonl", home / "store" if args.home else home,
                                 keyword_only=keyword_only)
        else:
            engine = engine_cls(data_dir / "corpus.jsonl", home)
        out = []
        try:
            for form in args.query.split(","):
                queries = _forms(all_queries, form)
                results: dict[str, dict] = {}
                per_query: dict[str, list] = {}
                for mode in modes:
                    rows, lat, ranks = [], [], []
                    for q in queries:
                        t = time.perf_counter()
                        if standard:
                            ranked = filed_before(q, engine.search(q["text"], 60, mode))[:10]
                        else:
                            ranked = engine.search(q["text"], 10, mode)
                        lat.append(1000 * (time.perf_counter() - t))
                        relevant = relevant_of(q) if standard else set(q["relevant"])
                        rows.append(score(ranked, relevant))
                        ranks.append(next((i for i, d in enumerate(ranked, 1) if d in relevant), None))
                    lat.sort()
                    # in-process, one query at a time (the first ones also load the model and vectors)
                    results[mode] = aggregate(rows) | {
                        "ms_per_query": round(sum(lat) / max(1, len(lat)), 1),
                        "ms_p50": round(lat[len(lat) // 2], 1) if lat else None,
                        "ms_p95": round(lat[max(0, int(len(lat) * 0.95) - 1)], 1) if lat else None,
                    }
                    per_query[mode] = [[q["qid"], r] for q, r in zip(queries, ranks)]
                    groups = sorted({q["group"] for q in queries if q.get("group")})
                    if groups:  # e.g. the multilingual set: each query language on its own
                        results[mode]["by_group"] = {g: aggregate([row for q, row in zip(queries, rows) if q.get("group") == g])
                                                     for g in groups}
                    print(f"{form:8s} {mode:8s} {results[mode]}", file=sys.stderr)
                cmd = "python bench/retrieval.py " + " ".join(a for a in args.argv if not a.startswith("--servers"))
                out.append({
                    "protocol": args.protocol,
                    "query": form,
                    "dataset": meta["dataset"],
                    "source": meta["source"],
                    "license": meta["license"],
                    "task": meta["task"],
                    "split": args.split,
                    "engine": engine.name,
                    "code": _SERVERS or "this checkout",
                    "sizes": {"corpus": engine.imported, "queries": len(queries),
                              "mean_relevant": round(sum(len(relevant_of(q) if standard else q["relevant"]) for q in queries)
                                                   / max(1, len(queries)), 2)},
                    "import_seconds": engine.import_seconds,
                    "modes": results,
                    "ranks": per_query,  # each query's rank of its first relevant hit (None: not in the top 10)
                    "warnings": sorted(engine.warnings),
                    "command": cmd.strip(),
                    "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                "load": round(os.getloadavg()[0], 1)},
                    "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                })
        finally:
            engine.close()
    return out


def markdown(res: dict) -> str:
    lines = [
        f"Dataset `{res['dataset']}` ({res['split']} split, engine `{res['engine']}`): "
        f"{res['sizes']['corpus']} documents, {res['sizes']['queries']} queries, "
        f"{res['sizes']['mean_relevant']} relevant per query.",
        "",
        "| mode | recall@1 | recall@5 | recall@10 | MRR@10 | ms/query |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, r in res["modes"].items():
        lines.append(f"| {mode} | {r['recall@1']:.3f} | {r['recall@5']:.3f} | {r['recall@10']:.3f} "
                     f"| {r['mrr@10']:.3f} | {r['ms_per_query']} |")
        for g, gr in (r.get("by_group") or {}).items():
            lines.append(f"| {mode}, {g} queries | {gr['recall@1']:.3f} | {gr['recall@5']:.3f} | {gr['recall@10']:.3f} "
                         f"| {gr['mrr@10']:.3f} | |")
    lines += ["", f"Command: `{res['command']}`"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--limit", type=int, default=0, help="only the first N queries")
    ap.add_argument("--modes", default="", help="comma-separated subset of keyword,vector,hybrid")
    ap.add_argument("--engine", choices=("store", "reference"), default="store")
    ap.add_argument("--dataset", default=bench_datasets.DATASET)
    ap.add_argument("--data-dir", type=Path, default=bench_datasets.DATA)
    ap.add_argument("--protocol", choices=("strict", "standard"), default="strict",
                    help="dbrd sets: strict (masters only in the corpus, the default) or standard "
                         "(every report; each duplicate searched among earlier reports)")
    ap.add_argument("--query", default="report",
                    help="report (each query as it is, the default), one-line (joined into one line) or title "
                         "(its first line only); several, comma-separated, share one imported store")
    ap.add_argument("--home", type=Path, default=None,
                    help="keep the imported stores under this folder and reuse them (default: a temporary one)")
    ap.add_argument("--servers", default=None, help="=DIR: the servers/ folder of another checkout to measure")
    ap.add_argument("--out", type=Path, default=None,
                    help="default: bench/results/retrieval-<dataset>[-standard][-one-line or -title].json")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    args = ap.parse_args(argv)
    args.argv = argv
    bad = [f for f in args.query.split(",") if f not in ("report", "one-line", "title")]
    if bad:
        ap.error(f"--query: {bad[0]!r} is not report, one-line or title")
    for res in run(args):
        suffix = ("" if args.engine == "store" else f"-{args.engine}") + ("-standard" if args.protocol == "standard" else "")
        suffix += "" if res["query"] == "report" else f"-{res['query']}"
        out = args.out or (BENCH / "results" / f"retrieval-{args.dataset}{suffix}.json")
        if args.out and "," in args.query:
            out = out.with_name(f"{out.stem}-{res['query']}{out.suffix}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=2) + "\n")
        print(json.dumps(res, indent=2) if args.json else markdown(res))


if __name__ == "__main__":
    main()
