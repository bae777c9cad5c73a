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
``bench/dbrd_build.py``.  Writes bench/results/retrieval-<dataset>.json (or --out).  ``--engine reference`` runs a
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
sys.path.insert(0, str(ROOT / "servers"))

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

    def __init__(self, corpus_path: Path, home: Path, keyword_only: bool = False) -> None:
        from paii_history.config import HistorySettings
        from paii_history.store import HistoryStore

        extra = {"embeddings": "off"} if keyword_only else {}
        self.store = HistoryStore(HistorySettings.load(home=home, warmup=False, **extra))
        t = time.perf_counter()
        report = self.store.import_jsonl(corpus_path, category=CATEGORY)
        self.import_seconds = round(time.perf_counter() - t, 1)
        self.imported = getattr(report, "imported", None)
        errors = list(getattr(report, "errors", []) or [])
        if errors:
            print(f"import: {len(errors)} errors, first: {errors[:3]}", file=sys.stderr)
        for w in getattr(report, "warnings", []) or []:
            print(f"import warning: {w}", file=sys.stderr)
        self.warnings: set[str] = set()

    def search(self, text: str, k: int, mode: str) -> list[str]:
        if hasattr(self.store, "similar"):
            res = self.store.similar(text, k=k, mode=mode)
        else:
            res = self.store.retrieve(text, k=k, mode=mode)
        if isinstance(res, tuple):  # retrieve(): (hits, more, warnings)
            hits, *rest = res
            if len(rest) >= 2:
                self.warnings.update(rest[1] or [])
        else:
            hits = res
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


# --------------------------------------------------------------------------- main

def run(args: argparse.Namespace) -> dict:
    data_dir = bench_datasets.ensure(args.dataset, args.data_dir)
    meta = json.loads((data_dir / "meta.json").read_text())
    queries = load_jsonl(data_dir / f"queries-{args.split}.jsonl")
    if args.limit:
        queries = queries[: args.limit]
    modes = args.modes.split(",") if args.modes else list(MODES)
    with tempfile.TemporaryDirectory(prefix="paii-bench-") as tmp:
        home = Path(tmp)
        engine_cls = ReferenceEngine if args.engine == "reference" else StoreEngine
        if engine_cls is StoreEngine:
            engine = StoreEngine(data_dir / "corpus.jsonl", home, keyword_only=modes == ["keyword"])
        else:
            engine = engine_cls(data_dir / "corpus.jsonl", home)
        results: dict[str, dict] = {}
        try:
            for mode in modes:
                rows, lat = [], []
                for q in queries:
                    t = time.perf_counter()
                    ranked = engine.search(q["text"], 10, mode)
                    lat.append(1000 * (time.perf_counter() - t))
                    rows.append(score(ranked, set(q["relevant"])))
                lat.sort()
                # in-process, one query at a time (the first ones also load the model and vectors)
                results[mode] = aggregate(rows) | {
                    "ms_per_query": round(sum(lat) / max(1, len(lat)), 1),
                    "ms_p50": round(lat[len(lat) // 2], 1) if lat else None,
                    "ms_p95": round(lat[max(0, int(len(lat) * 0.95) - 1)], 1) if lat else None,
                }
                print(f"{mode:8s} {results[mode]}", file=sys.stderr)
        finally:
            engine.close()
    cmd = "python bench/retrieval.py " + " ".join(args.argv)
    return {
        "dataset": meta["dataset"],
        "source": meta["source"],
        "license": meta["license"],
        "task": meta["task"],
        "split": args.split,
        "engine": engine.name,
        "sizes": {"corpus": engine.imported, "queries": len(queries),
                  "mean_relevant": round(sum(len(q["relevant"]) for q in queries) / max(1, len(queries)), 2)},
        "import_seconds": engine.import_seconds,
        "modes": results,
        "warnings": sorted(engine.warnings),
        "command": cmd.strip(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


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
    ap.add_argument("--out", type=Path, default=None, help="default: bench/results/retrieval-<dataset>.json")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    args = ap.parse_args(argv)
    args.argv = argv
    res = run(args)
    suffix = "" if args.engine == "store" else f"-{args.engine}"
    out = args.out or (BENCH / "results" / f"retrieval-{args.dataset}{suffix}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2) if args.json else markdown(res))


if __name__ == "__main__":
    main()
