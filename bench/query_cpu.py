"""CPU per ``similar_incidents`` call, by stage: where a team server's time goes.

    python bench/query_cpu.py [--entries 2000] [--calls 300] [--distinct] [--json]

On a copy of bench/team_load.py's history and its Chroma server (built once, as there):

1. **In process:** ``HistoryStore.similar`` over team_load's queries (the same mix and seed), one
   call at a time, with the thread CPU time of each stage read around it: the query's embeddings,
   the Chroma queries, the keyword lists, the evidence and scoring of the candidates, reading rows.
   "rest of similar" is what the call cost beyond those (fusion, filters, threads).
2. **Over HTTP:** the real server (``--workers 1``) and one client with a token, calls one after
   another: the CPU of a whole call in the server process and in Chroma. The server's figure less
   the in-process one is what the MCP and HTTP layers and the tool's answer cost.

CPU time, not wall time: the development machine is shared, and a call's CPU is what 20 clients
queue for. ``--distinct`` makes every text unique (no cache hit: the embedding cost in full).
Written to bench/results/query_cpu.json (``--out`` elsewhere).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import team_load  # noqa: E402
from history_scale import cpu_check_ms, make_queries  # noqa: E402

#: (module, class, method, stage): methods that are missing in this version are left out
STAGES = [
    ("paii_history.embed", "Embedder", "embed", "query embedding"),
    ("paii_history.vectors", "VectorIndex", "query_many", "Chroma query (client side)"),
    ("paii_history.vectors", "VectorIndex", "query", "Chroma query (client side)"),
    ("paii_history.vectors", "VectorIndex", "search", "exact vector search (in memory)"),
    ("paii_history.keyword", "KeywordIndex", "keyword", "keyword lists"),
    ("paii_history.retrieve", "RetrievalMixin", "_rerank", "evidence and scoring"),
    ("paii_history.retrieve", "RetrievalMixin", "_evidence", "evidence and scoring"),
    ("paii_history.retrieve", "RetrievalMixin", "_explain", "evidence and scoring"),
    ("paii_history.keyword", "KeywordIndex", "get_many", "reading rows"),
    ("paii_history.store", "HistoryStore", "ensure_ready", "watching the folder"),
    ("paii_history.sync", "SyncMixin", "_look_for_edits", "watching the folder"),  # its background thread
]


def texts(calls: int, distinct: bool, seed: int = 1000) -> list[str]:
    """team_load's queries in the order one client draws them (``distinct``: each made unique)."""
    pool = [q for qs in make_queries(200).values() for q in qs]
    rnd = random.Random(seed)
    out = [rnd.choice(pool) for _ in range(calls)]
    return [f"page {n}: {t}" for n, t in enumerate(out)] if distinct else out  # its title line too


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def instrument() -> tuple[Counter, threading.local]:
    """Wrap each stage's method to add its thread CPU time to a counter (outermost call only)."""
    import importlib

    spent: Counter = Counter()
    local = threading.local()
    for module, cls, name, label in STAGES:
        owner = getattr(importlib.import_module(module), cls)
        if name not in vars(owner):
            continue
        real = vars(owner)[name]

        def wrapped(*a: Any, __real=real, __label=label, **k: Any) -> Any:
            depth = getattr(local, "depth", 0)
            t0 = time.thread_time()
            local.depth = depth + 1
            try:
                return __real(*a, **k)
            finally:
                local.depth = depth
                if depth == 0:
                    spent[__label] += time.thread_time() - t0

        setattr(owner, name, functools.wraps(real)(wrapped))
    return spent, local


def in_process(home: Path, chroma_url: str, queries: list[str]) -> dict[str, Any]:
    spent, _ = instrument()
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    store = HistoryStore(HistorySettings.load(home=home, warmup=False, chroma_url=chroma_url))
    for q in make_queries(5)["one-line"]:  # warm-up: model, Chroma, SQLite pages (other texts)
        store.similar(q, k=5)
    cache = getattr(store.embedder(), "cache", None)  # None: a version without the cache
    hits0, misses0 = (cache.hits, cache.misses) if cache else (0, 0)
    spent.clear()
    t0 = cpu_self()
    for q in queries:
        store.similar(q, k=5)
    total = cpu_self() - t0
    store.close()
    n = len(queries)
    stages = {k: round(v * 1000 / n, 2) for k, v in spent.most_common()}
    stages["rest of similar"] = round(total * 1000 / n - sum(stages.values()), 2)
    hits = cache.hits - hits0 if cache else 0
    looked = hits + (cache.misses - misses0 if cache else 0)
    return {"cpu_ms_per_call": round(total * 1000 / n, 1), "stages_ms": stages,
            "embedding_cache_hits": round(hits / max(looked, 1), 2)}


async def over_http(url: str, token: str, queries: list[str], server_pid: int, chroma_pid: int) -> dict[str, Any]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as c:
            for q in make_queries(5)["one-line"]:
                await c.call_tool("similar_incidents", {"text": q, "k": 5})
            s0, c0, w0 = team_load.cpu_seconds(server_pid), team_load.cpu_seconds(chroma_pid), time.perf_counter()
            lat = []
            for q in queries:
                t = time.perf_counter()
                r = await c.call_tool("similar_incidents", {"text": q, "k": 5})
                lat.append(time.perf_counter() - t)
                assert not r.is_error, r.content[0].text
            s1, c1 = team_load.cpu_seconds(server_pid), team_load.cpu_seconds(chroma_pid)
    n = len(queries)
    return {"server_cpu_ms_per_call": round((s1 - s0) * 1000 / n, 1), "chroma_cpu_ms_per_call": round((c1 - c0) * 1000 / n, 1),
            "alone_ms": team_load.percentiles(lat), "wall_s": round(time.perf_counter() - w0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--distinct", action="store_true", help="every text unique: no embedding cache hit")
    ap.add_argument("--out", default=str(HERE / "results" / "query_cpu.json"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = HERE / "data"
    name = f"team-load-{args.entries}"
    cache = team_load.build(args.entries, data / name if data.is_dir() else Path(tempfile.mkdtemp(prefix="paii-qcpu-")) / name,
                            chroma=True)
    queries = texts(args.calls, args.distinct)
    result: dict[str, Any] = {"entries": args.entries, "calls": args.calls, "distinct": args.distinct,
                              "cpu_check_ms_before": cpu_check_ms()}
    work = Path(tempfile.mkdtemp(prefix="paii-qcpu-run-"))
    chroma = None
    try:
        shutil.copytree(cache / "home", work / "home")
        shutil.copytree(cache / "chroma", work / "chroma")
        chroma = team_load.start_chroma(work / "chroma", team_load.free_port())
        # the server first (its own process), then in process here (this process imports the store)
        tokens = team_load.make_tokens(work / "tokens", 1)
        port = team_load.free_port()
        proc = team_load.start_server(work / "home", work / "tokens", port, work / "server.log", {"PAII_CHROMA_URL": chroma.url})
        try:
            result["http"] = asyncio.run(over_http(f"http://127.0.0.1:{port}/mcp", tokens[0], queries, proc.pid, chroma.proc.pid))
        finally:
            proc.terminate()
            proc.wait(30)
        result["in_process"] = in_process(work / "home", chroma.url, queries)
        result["mcp_http_and_answer_ms"] = round(result["http"]["server_cpu_ms_per_call"] - result["in_process"]["cpu_ms_per_call"], 1)
    finally:
        if chroma:
            chroma.stop()
        shutil.rmtree(work, ignore_errors=True)
    result["cpu_check_ms_after"] = cpu_check_ms()
    result["load"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
        return
    ip, http = result["in_process"], result["http"]
    print(f"similar_incidents at {args.entries} entries, {args.calls} calls{' (every text unique)' if args.distinct else ''}: "
          f"CPU per call (ms)")
    print(f"  server process, over HTTP   {http['server_cpu_ms_per_call']:6.1f}")
    print(f"    in process (the store)    {ip['cpu_ms_per_call']:6.1f}")
    for k, v in ip["stages_ms"].items():
        print(f"      {k:28s}{v:6.1f}")
    print(f"    MCP, HTTP and the answer  {result['mcp_http_and_answer_ms']:6.1f}")
    print(f"  Chroma server               {http['chroma_cpu_ms_per_call']:6.1f}")
    print(f"  embedding cache hits: {ip['embedding_cache_hits']:.0%} of the texts embedded; "
          f"one client alone: p50 {http['alone_ms'].get('p50')} ms; load {result['load']}")


if __name__ == "__main__":
    main()
