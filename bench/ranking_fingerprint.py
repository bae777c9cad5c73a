"""A fingerprint of the history's rankings: one hash that changes when any ranking does.

    python bench/ranking_fingerprint.py [--entries 3000] [--queries 300] [--keep DIR] [-v]
    python bench/ranking_fingerprint.py --check        # against bench/ranking_fingerprint.json

``--check`` compares with the expected hashes in bench/ranking_fingerprint.json (exit 1 when one
differs); ``--update`` writes them. tests/history/test_ranking_fingerprint.py checks the keyword
rankings of a small history on every test run: a change to the ranking must update the file on
purpose, and its commit says why.

Imports a generated corpus (fixed seed: several categories and services, varied words, code
identifiers, dates over two years) into a fresh PAII_HOME through ``HistoryStore.import_jsonl``,
then runs every query in every mode (keyword, vector, hybrid), with and without filters
(category, since, service) and through ``similar``, and hashes the ranked ids and scores.
A refactoring that must not change behaviour (issue 17's split) prints the same hash before and
after. ``-v`` also prints one hash per mode, to see which part moved.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

CATEGORIES = ["incidents", "learnings", "bugs", "decisions", "notes"]
SERVICES = ["payments-api", "orders-api", "auth-service", "search-api", "checkout-web", "inventory-sync",
            "notification-worker", "api-gateway", "ledger-db", "cache-cluster", "user-profile-api", "billing-cron"]
NOUNS = ["database", "connection", "pool", "cache", "redis", "kafka", "consumer", "partition", "certificate",
         "ingress", "probe", "deployment", "replica", "queue", "backlog", "latency", "timeout", "disk", "volume",
         "node", "kernel", "memory", "heap", "thread", "lock", "index", "query", "schema", "migration", "token",
         "session", "cookie", "header", "proxy", "gateway", "dns", "resolver", "cron", "job", "batch", "shard"]
VERBS = ["failed", "stalled", "leaked", "expired", "restarted", "throttled", "crashed", "dropped", "rejected",
         "timed out", "spiked", "drained", "rebalanced", "rolled back", "degraded", "recovered", "evicted"]
ADJS = ["slow", "stale", "noisy", "missing", "corrupt", "duplicate", "partial", "intermittent", "silent",
        "cascading", "regional", "primary", "secondary", "orphaned", "unbounded"]
IDENTS = ["DFSClient", "getBlockLocations", "FSNamesystem", "ConnectionPoolTimeoutException", "RedisTemplate",
          "KafkaConsumer", "HikariPool", "NullPointerException", "OutOfMemoryError", "readinessProbe",
          "maxPoolSize", "SSLHandshakeException", "ReplicaSetController", "etcdLeaderElection", "grpcDeadline"]
RARE = [f"zq{c}{d}x" for c in "abcdefgh" for d in range(10)]  # words found in one or two entries


def sentence(rnd: random.Random) -> str:
    words = [rnd.choice(ADJS), rnd.choice(NOUNS), rnd.choice(VERBS), "after", "the", rnd.choice(NOUNS)]
    if rnd.random() < 0.3:
        words.insert(rnd.randint(0, len(words)), rnd.choice(IDENTS))
    if rnd.random() < 0.05:
        words.append(rnd.choice(RARE))
    return " ".join(words).capitalize() + "."


def make_entry(i: int, rnd: random.Random) -> tuple[str, dict]:
    cat = CATEGORIES[i % len(CATEGORIES)] if rnd.random() < 0.8 else "incidents"
    svc = rnd.choice(SERVICES)
    title = f"{svc} {rnd.choice(ADJS)} {rnd.choice(NOUNS)} {rnd.choice(VERBS)}"
    if rnd.random() < 0.2:
        title += f" ({rnd.choice(IDENTS)})"
    body = "\n".join(" ".join(sentence(rnd) for _ in range(rnd.randint(1, 5))) for _ in range(rnd.randint(1, 6)))
    created = f"20{rnd.randint(24, 25)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}T{rnd.randint(0, 23):02d}:00:00Z"
    obj = {"id": f"FP-{i:05d}", "title": title, "body": body, "created": created}
    if rnd.random() < 0.85:
        obj["service"] = svc
    if cat == "incidents":
        obj |= {"severity": rnd.choice(["SEV1", "SEV2", "SEV3"]), "root_cause": sentence(rnd), "resolution": sentence(rnd)}
    return cat, obj


def make_queries(n: int, entries: list[tuple[str, dict]]) -> list[str]:
    rnd = random.Random(11)
    out: list[str] = []
    kinds = ["title", "fragment", "report", "joined", "ident", "rare", "words", "nonsense"]
    for j in range(n):
        kind = kinds[j % len(kinds)]
        _, e = rnd.choice(entries)
        if kind == "title":
            out.append(e["title"])
        elif kind == "fragment":
            words = e["body"].split()
            s = rnd.randint(0, max(len(words) - 4, 0))
            out.append(" ".join(words[s : s + rnd.randint(2, 8)]))
        elif kind == "report":
            out.append(f"{e['title']} again\n{e['body'][:400]}\nSuspect {sentence(rnd)}")
        elif kind == "joined":
            out.append(" ".join(f"{e['title']} {e['body']} {sentence(rnd)} {sentence(rnd)}".split()[:60]))
        elif kind == "ident":
            out.append(f"{rnd.choice(IDENTS)} {rnd.choice(NOUNS)}")
        elif kind == "rare":
            out.append(f"{rnd.choice(RARE)} {rnd.choice(NOUNS)}")
        elif kind == "words":
            out.append(" ".join(rnd.choice(NOUNS + VERBS + ADJS) for _ in range(rnd.randint(1, 12))))
        else:
            out.append(rnd.choice(['"*()^:', "🔥🔥🔥", "a " * 40, "the and of", "xyzzy plugh"]))
    return out


EXPECTED = Path(__file__).with_suffix(".json")


def fingerprint(home: Path, n_entries: int, n_queries: int, modes: tuple[str, ...] = ("keyword", "vector", "hybrid"),
                dump=None) -> tuple[str, dict[str, str], float, float]:
    """(the hash of every ranking, one hash per mode, import seconds, query seconds)."""
    from paii_history.config import HistorySettings
    from paii_history.entries import parse_time
    from paii_history.store import HistoryStore

    rnd = random.Random(5)
    entries = [make_entry(i, rnd) for i in range(n_entries)]
    extra = {"embeddings": "off"} if modes == ("keyword",) else {}
    store = HistoryStore(HistorySettings.load(home=home, warmup=False, **extra))
    t0 = time.monotonic()
    if not store.kw.count():
        for cat in CATEGORIES:
            src = home / f"import-{cat}.jsonl"
            src.write_text("".join(json.dumps(o) + "\n" for c, o in entries if c == cat))
            rep = store.import_jsonl(src, cat, allow_duplicates=True)
            if rep.errors or [w for w in rep.warnings if "semantic search is off" not in w]:
                sys.exit(f"import of {cat} failed: {rep.errors[:3]} {rep.warnings[:3]}")
    if "vector" in modes and store.embedder() is None:
        sys.exit(f"no embedding model ({store.vector_problem}): the fingerprint needs vector mode; run `paii models install`")
    imported = time.monotonic() - t0

    since = parse_time("2025-06-01T00:00:00Z")
    filters = [
        ("all", {}),
        ("incidents", {"categories": ["incidents"]}),
        ("two-cats", {"categories": ["bugs", "learnings"]}),
        ("since", {"since": since}),
        ("service", {"service": "payments-api"}),
        ("cat+since+service", {"categories": ["incidents"], "since": since, "service": "Orders-API"}),
    ]
    hashes: dict[str, hashlib._Hash] = {}
    total = hashlib.sha256()
    queries = make_queries(n_queries, entries)
    t0 = time.monotonic()
    for qi, q in enumerate(queries):
        for mode in modes:
            for fname, f in filters[: 6 if qi % 3 == 0 else 2]:  # every filter on a third of the queries
                hits, truncated, warnings = store.retrieve(q, k=10 if qi % 2 else 5, mode=mode, **f)
                line = json.dumps([qi, mode, fname, [(h.id, round(h.score, 6), h.keyword_rank, h.vector_rank) for h in hits],
                                   truncated, warnings])
                total.update(line.encode())
                hashes.setdefault(mode, hashlib.sha256()).update(line.encode())
                if dump:
                    dump.write(line + "\n")
        if qi % 10 == 0 and modes != ("keyword",):
            hits, truncated, warnings = store.similar(q, k=5)
            line = json.dumps([qi, "similar", [(h.id, round(h.score, 6)) for h in hits], truncated, warnings])
            total.update(line.encode())
            hashes.setdefault("similar", hashlib.sha256()).update(line.encode())
            if dump:
                dump.write(line + "\n")
    ran = time.monotonic() - t0
    store.close()
    return total.hexdigest(), {name: h.hexdigest() for name, h in hashes.items()}, imported, ran


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=3000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--modes", default="keyword,vector,hybrid", help="comma-separated (keyword alone needs no model)")
    ap.add_argument("--keep", type=Path, help="use (and keep) this PAII_HOME instead of a temporary one")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--dump", type=Path, help="also write every ranked line here (to diff two runs)")
    ap.add_argument("--check", action="store_true", help=f"compare with {EXPECTED.name}; exit 1 when it differs")
    ap.add_argument("--update", action="store_true", help=f"write the result into {EXPECTED.name}")
    args = ap.parse_args()

    home = args.keep or Path(tempfile.mkdtemp(prefix="paii-fingerprint-"))
    os.environ["PAII_HOME"] = str(home)
    modes = tuple(args.modes.split(","))
    dump = args.dump.open("w") if args.dump else None
    total, per_mode, imported, ran = fingerprint(home, args.entries, args.queries, modes, dump)
    if args.verbose:
        for name, h in per_mode.items():
            print(f"{name:8} {h[:16]}")
        print(f"import {imported:.1f} s, queries {ran:.1f} s, home {home}", file=sys.stderr)
    key = f"{'+'.join(modes)} {args.entries}x{args.queries}"
    print(f"ranking fingerprint ({args.entries} entries, {args.queries} queries, {args.modes}): {total}")
    if not args.keep:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
    expected = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    if args.update:
        expected[key] = total
        EXPECTED.write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    elif args.check and expected.get(key) != total:
        print(f"differs from {EXPECTED.name} ({expected.get(key, 'no value for ' + key)}): if the ranking was meant to change, "
              "run with --update and say why in the commit", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
