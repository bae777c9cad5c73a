"""History at scale: import N entries of 1-2 KB, then time similar_incidents through the MCP client.

    python bench/history_scale.py [--entries 10000] [--queries 200] [--json]

Data is synthetic but shaped like real incident write-ups (services, symptoms, causes, fixes,
timelines), generated from a fixed seed. Figures: import wall time (files + keyword index, and
vectors), and p50/p95 latency of `similar_incidents` (k=5), for one-line pages, for pasted reports (a
title line and a description) and for those reports joined into one line, measured in-process through the real
MCP client against the built server, after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

SERVICES = ["payments-api", "orders-api", "auth-service", "search-api", "checkout-web", "inventory-sync",
            "notification-worker", "api-gateway", "ledger-db", "cache-cluster", "user-profile-api", "billing-cron"]
SYMPTOMS = ["returning HTTP 500s", "p99 latency above 2s", "timing out on checkout", "503s from the ingress",
            "queue backlog growing", "pods crash-looping", "OOMKilled containers", "TLS handshake failures",
            "elevated error rate after deploy", "stale data served to users", "disk usage at 100%", "DNS lookups failing"]
CAUSES = ["database connection pool exhaustion", "Redis cache keys expired together", "readiness probe path removed",
          "CPU throttling after a limit change", "a connection leak on an exception path", "certificate renewal failed",
          "noisy neighbour batch job on the same nodes", "Kafka consumer rebalance storm", "bad feature flag rollout",
          "retention job failing silently", "CoreDNS overloaded by ndots:5 lookups", "slow query missing an index"]
FIXES = ["increased the pool size and added a statement timeout", "added jitter to TTLs and a null check",
         "rolled back and fixed the probe", "restored the previous CPU limit", "fixed session handling",
         "renewed the certificate manually and fixed the solver", "added pod anti-affinity",
         "made the handler idempotent", "disabled the flag and added a kill switch", "fixed credentials and alerting",
         "scaled CoreDNS and set ndots:2", "added the missing index"]
FILLER = ("The on-call engineer was paged by PagerDuty and acknowledged within five minutes. Dashboards showed the "
          "error budget burning quickly. Customer support reported failed transactions. A Slack incident channel was "
          "opened and the service owner joined. Logs were checked with kubectl and the recent deploys were reviewed. ")


def make_entry(i: int, rnd: random.Random) -> dict:
    svc, sym, cause, fix = rnd.choice(SERVICES), rnd.choice(SYMPTOMS), rnd.choice(CAUSES), rnd.choice(FIXES)
    body = (f"## Summary\n\n{svc} was {sym} for {rnd.randint(5, 180)} minutes.\n\n## Timeline\n\n"
            + FILLER * rnd.randint(3, 6)
            + f"\n\n## Root cause\n\n{cause}.\n\n## Resolution\n\nWe {fix}.\n")
    if len(body) > 2000:  # keep the root cause and resolution, trim the timeline
        head, tail = body.split("## Root cause")
        body = head[: 2000 - len(tail) - 20] + "\n\n## Root cause" + tail
    day = rnd.randint(1, 28)
    return {"id": f"BENCH-{i:05d}", "title": f"{svc} {sym}", "body": body, "service": svc,
            "created": f"2026-{rnd.randint(1, 11):02d}-{day:02d}T{rnd.randint(0, 23):02d}:00:00Z",
            "root_cause": cause, "resolution": fix, "severity": rnd.choice(["SEV1", "SEV2", "SEV3"])}


def make_queries(n: int) -> dict[str, list[str]]:
    """Three kinds of question: a one-line page; a pasted report (title line + description),
    which also searches by its title line (two more lookups); and that report joined into one
    line, which searches by its first words instead."""
    qrnd = random.Random(7)
    short = [f"{qrnd.choice(SERVICES)} is {qrnd.choice(SYMPTOMS)} in production" for _ in range(n)]
    reports = []
    for _ in range(n):
        svc, sym = qrnd.choice(SERVICES), qrnd.choice(SYMPTOMS)
        reports.append(f"{svc} {sym} since the last deploy\n" + FILLER[: qrnd.randint(200, len(FILLER))]
                       + f" Suspect {qrnd.choice(CAUSES)}; {svc} owners are on the bridge.")
    # the same reports joined into one line (a form or script may send them so): led by their first words
    joined = [" ".join(r.split()) for r in reports]
    return {"one-line": short, "report": reports, "joined": joined}


RESULT_KEYS = {"one-line": "similar_incidents_ms", "report": "similar_incidents_ms_reports",
               "joined": "similar_incidents_ms_reports_on_one_line"}


def cpu_check_ms() -> float:
    """A fixed pure-Python workload (median of 5): on a shared VM it shows when the machine itself
    was slow, so figures of different runs can be compared."""
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        sum(i * i % 7 for i in range(400_000))
        runs.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(runs), 1)


def percentiles(lat: list[float]) -> dict[str, float]:
    lat_ms = sorted(x * 1000 for x in lat)
    return {"p50": round(lat_ms[len(lat_ms) // 2], 1), "p95": round(lat_ms[int(len(lat_ms) * 0.95) - 1], 1),
            "max": round(lat_ms[-1], 1), "queries": len(lat_ms)}


async def measure_queries(home: Path, queries: list[str]) -> list[float]:
    from mcp import Client

    from paii_history.config import HistorySettings
    from paii_history.server import build_server

    server = build_server(HistorySettings.load(home=home, warmup=False))
    lat = []
    async with Client(server) as c:
        for q in queries[:5]:  # warm-up: model, chroma, sqlite pages
            await c.call_tool("similar_incidents", {"text": q})
        for q in queries:
            t0 = time.perf_counter()
            r = await c.call_tool("similar_incidents", {"text": q, "k": 5})
            lat.append(time.perf_counter() - t0)
            assert not r.is_error, r.content[0].text
    return lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--reuse", metavar="HOME", help="skip the import: time queries against a home a previous run filled")
    args = ap.parse_args()
    if args.reuse:
        result = {"home": args.reuse, "load": os.getloadavg(), "cpu_check_ms_before": cpu_check_ms()}
        for kind, queries in make_queries(args.queries).items():
            ms = percentiles(asyncio.run(measure_queries(Path(args.reuse), queries)))
            result[RESULT_KEYS[kind]] = ms
        result["cpu_check_ms_after"] = cpu_check_ms()
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "history_queries.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return
    rnd = random.Random(42)
    work = Path(tempfile.mkdtemp(prefix="paii-scale-"))
    print(f"working in {work} (reuse with --reuse {work / 'home'})", flush=True)
    src = work / "incidents.jsonl"
    with src.open("w") as f:
        for i in range(args.entries):
            f.write(json.dumps(make_entry(i, rnd)) + "\n")
    sizes = [len(json.loads(line)["body"]) for line in src.read_text().splitlines()]

    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    home = work / "home"
    store = HistoryStore(HistorySettings.load(home=home, warmup=False))
    phases: dict[str, float] = {}
    last = [time.perf_counter()]

    def progress(done: int, total: int, phase: str) -> None:
        if done >= total:
            now = time.perf_counter()
            phases[phase] = round(now - last[0], 1)
            last[0] = now

    cpu_before = cpu_check_ms()
    t0 = time.perf_counter()
    report = store.import_jsonl(src, "incidents", progress)
    import_s = time.perf_counter() - t0
    store.close()

    qsets = make_queries(args.queries)
    lat = {kind: percentiles(asyncio.run(measure_queries(home, queries))) for kind, queries in qsets.items()}
    result = {
        "entries": args.entries,
        "body_bytes": {"min": min(sizes), "median": int(statistics.median(sizes)), "max": max(sizes)},
        "import_seconds": round(import_s, 1),
        "import_phases_seconds": phases,
        "imported": report.imported,
        "vectors": report.vectors,
        **{RESULT_KEYS[kind]: ms for kind, ms in lat.items()},
        "cpus": os.cpu_count(),
        "load": os.getloadavg(),
        "cpu_check_ms_before": cpu_before,
        "cpu_check_ms_after": cpu_check_ms(),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "history_scale.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
