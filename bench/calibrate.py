#!/usr/bin/env python3
"""What a score means, measured: the evidence of true matches, of other hits and of nonsense.

    python bench/calibrate.py [--dataset sa-threads] [--split dev] [--limit 0] [--json]

Imports a benchmark dataset (bench/datasets.py, bench/dbrd_build.py) into a history kept under
bench/data/.homes/<dataset> (imported once, reused), runs each query of the split through
``store.similar`` in hybrid mode, and reports, for the hits of the top 10: the scores of the true
matches and of the others, how often a query whose true match is in the top 5 is said to have
"no close match", the MiniLM cosine of unrelated pairs (the 95th percentile of each query's
cosines to the whole corpus, the median over queries) and of the true matches found. Then it runs
bench/queries/nonsense.jsonl against the same history: every one must get "no close match".
The constants of servers/paii_history/evidence.py come from these figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "servers"))

import datasets as bench_datasets  # noqa: E402
from retrieval import load_jsonl  # noqa: E402

NONSENSE = BENCH / "queries" / "nonsense.jsonl"


def open_store(data_dir: Path, home: Path, *, keyword_only: bool = False):
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    extra = {"embeddings": "off"} if keyword_only else {}
    store = HistoryStore(HistorySettings.load(home=home, warmup=False, **extra))
    if not (home / "index").exists() or not store.kw.count():
        report = store.import_file(data_dir / "corpus.jsonl", "incidents", allow_duplicates=True)
        print(f"imported {report.imported} into {home}", file=sys.stderr)
    return store


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def nonsense_report(store, mode: str = "hybrid") -> dict:
    from paii_history.retrieve import no_close_match

    out = []
    for q in load_jsonl(NONSENSE):
        hits, _, _ = store.similar(q["query"], k=10, mode=mode)
        out.append({"kind": q["kind"], "query": q["query"][:40], "best": max((h.score for h in hits), default=0.0),
                    "hits": len(hits), "no_close_match": no_close_match(hits)})
    return {"queries": len(out), "no_close_match": sum(r["no_close_match"] for r in out),
            "failures": [r for r in out if not r["no_close_match"]], "best_scores": sorted(r["best"] for r in out)}


def run(args) -> dict:
    import numpy as np

    from paii_history.retrieve import no_close_match

    data_dir = bench_datasets.ensure(args.dataset, bench_datasets.DATA)
    home = bench_datasets.DATA / ".homes" / (args.dataset + ("-kw" if args.mode == "keyword" else ""))
    shared = bench_datasets.DATA / ".homes" / f"{args.dataset}-strict" / "store"  # rank_lab.py's / retrieval.py --home's
    if args.mode != "keyword" and (shared / "index").exists():
        home = shared
    store = open_store(data_dir, home, keyword_only=args.mode == "keyword")
    queries = load_jsonl(data_dir / f"queries-{args.split}.jsonl")
    if args.limit:
        queries = queries[: args.limit]
    true_scores, other_scores, true_cos, background = [], [], [], []
    top5 = top5_flagged = top1 = 0
    perfect_true = perfect_other = tied_pairs = queries_with_ties = 0
    emb = store.embedder() if args.mode != "keyword" else None
    vi = store.vectors() if emb is not None else None
    for q in queries:
        hits, _, _ = store.similar(q["text"], k=10, mode=args.mode)
        rel = set(q["relevant"])
        ranks = [n for n, h in enumerate(hits, 1) if h.id in rel]
        rounded = [round(h.score, 4) for h in hits]
        ties = sum(rounded[i] == rounded[j] for i in range(len(hits)) for j in range(i + 1, len(hits)))
        tied_pairs += ties
        queries_with_ties += bool(ties)
        for h in hits:
            (true_scores if h.id in rel else other_scores).append(h.score)
            if h.score >= 1.0:
                if h.id in rel:
                    perfect_true += 1
                else:
                    perfect_other += 1
            if h.id in rel and h.cosine is not None:
                true_cos.append(h.cosine)
        if ranks and ranks[0] <= 5:
            top5 += 1
            top5_flagged += no_close_match(hits)
        top1 += bool(ranks and ranks[0] == 1)
        if vi is not None:
            exact = vi._exact_index()
            if exact is not None and len(exact.ids):
                cos = exact.mat @ np.asarray(emb.embed([q["text"][:4000]])[0], dtype=np.float32)
                background.append(float(np.percentile(cos, 95)))
    n = max(1, len(queries))
    res = {
        "dataset": args.dataset, "split": args.split, "mode": args.mode, "queries": len(queries),
        "recall@1": round(top1 / n, 4), "recall@5": round(top5 / n, 4),
        "true_match_in_top5_but_no_close_match": top5_flagged,
        "perfect_score_other_entries": perfect_other,  # 1.0 is the same incident only: should be 0
        "perfect_score_true_matches": perfect_true,
        "tied_score_pairs_in_top10": tied_pairs,  # two entries of one result at the same 4-decimal score
        "queries_with_a_tie": queries_with_ties,
        "true_scores": {p: round(percentile(true_scores, p), 3) for p in (0.1, 0.25, 0.5, 0.75)},
        "other_scores": {p: round(percentile(other_scores, p), 3) for p in (0.5, 0.75, 0.9, 0.99)},
        "true_cosine_median": round(statistics.median(true_cos), 3) if true_cos else None,
        "unrelated_cosine_p95_median": round(statistics.median(background), 3) if background else None,
        "nonsense": nonsense_report(store, args.mode),
    }
    store.close()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default=bench_datasets.DATASET)
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--mode", choices=("hybrid", "keyword", "vector"), default="hybrid")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--check", action="store_true", help="exit 1 if a nonsense query is not 'no close match'")
    ap.add_argument("--out", type=Path, default=None, help="default: bench/results/calibrate-<dataset>.json")
    ap.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE",
                    help="try another constant, e.g. --set retrieve.WORDS_WEIGHT=0.5 (module of paii_history)")
    args = ap.parse_args()
    import importlib

    for item in args.set:
        name, value = item.split("=", 1)
        mod, const = name.rsplit(".", 1)
        module = importlib.import_module(f"paii_history.{mod}")
        setattr(module, const, type(getattr(module, const))(value))
        if mod == "evidence":  # retrieve imported these by name
            retrieve = importlib.import_module("paii_history.retrieve")
            if hasattr(retrieve, const):
                setattr(retrieve, const, getattr(module, const))
    res = run(args)
    out = args.out or (BENCH / "results" / f"calibrate-{args.dataset}.json")
    if not args.set and not args.limit:
        out.write_text(json.dumps(res | {"command": "python bench/calibrate.py " + " ".join(sys.argv[1:])}, indent=2) + "\n")
    failed = bool(res["nonsense"]["failures"])
    if args.json:
        print(json.dumps(res, indent=2))
        raise SystemExit(1 if failed and args.check else 0)
    ns = res.pop("nonsense")
    for k, v in res.items():
        print(f"{k:40s} {v}")
    print(f"{'nonsense: no close match':40s} {ns['no_close_match']} of {ns['queries']}; best scores {ns['best_scores'][-5:]}")
    for f in ns["failures"]:
        print(f"  NOT flagged: {f}")
    raise SystemExit(1 if failed and args.check else 0)


if __name__ == "__main__":
    main()
