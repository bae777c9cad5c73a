"""`make bench`: every figure quoted in README.md, written to bench/results/*.json.

Slow (several minutes): retrieval quality on the public duplicate-report benchmark, history at
10,000 entries, 20 clients over HTTP against one team server, cold start of every server (alone
and through the plugin's launcher), the plugin's idle footprint and first calls, and tools/list sizes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = [
    ("tools/list size", [sys.executable, str(HERE / "tools_size.py")]),
    ("cold start", [sys.executable, str(HERE / "cold_start.py"), "--runs", "7"]),
    # as Claude Code starts them: bin/paii-mcp's front vs an empty MCPServer, no venv at all, the
    # idle footprint of six in one session, the first call of each against the sandbox
    ("plugin start-up, footprint and first calls", [sys.executable, str(HERE / "plugin_start.py")]),
    ("make demo after setup", [sys.executable, str(HERE / "demo_time.py")]),
    # every write tool x five faults: the answer is honest, no write is made twice (fails otherwise)
    ("upstream faults: the unknown-outcome matrix and the default deadlines", [sys.executable, str(HERE / "upstream_faults.py")]),
    # the Claude Code hooks (guard, usage log) as Claude Code runs them; fails over 100 ms
    ("hook latency", [sys.executable, str(HERE / "hook_latency.py"), "--check"]),
    ("history at 10,000 entries", [sys.executable, str(HERE / "history_scale.py")]),
    # team mode: 20 clients with their own tokens over streamable HTTP, one history server of 10,000
    # entries with a Chroma server, 60 s; back to back, then at a person's pace (about a call a second)
    ("team load, 20 clients back to back", [sys.executable, str(HERE / "team_load.py"), "--workers", "2"]),
    ("team load, 20 clients at a call a second", [sys.executable, str(HERE / "team_load.py"), "--workers", "2",
                                                  "--think-ms", "1000",
                                                  "--out", str(HERE / "results" / "team_load_paced.json")]),
    ("retrieval quality", [sys.executable, str(HERE / "retrieval.py"), "--split", "test"]),
    # what a score means: true matches vs other hits, and bench/queries/nonsense.jsonl must all be
    # "no close match" (fails the run otherwise)
    ("scores and nonsense queries", [sys.executable, str(HERE / "calibrate.py"), "--split", "test", "--check"]),
    # the same 15 incidents in English, Spanish and Chinese (bench/queries/multilingual/build.py)
    ("multilingual set, any language", [sys.executable, str(HERE / "retrieval.py"), "--data-dir", str(HERE / "queries"),
                                        "--dataset", "multilingual"]),
    ("multilingual set, English write-ups only", [sys.executable, str(HERE / "retrieval.py"), "--data-dir",
                                                  str(HERE / "queries"), "--dataset", "multilingual-en"]),
] + [
    # duplicate bug reports: built once by bench/dbrd_build.py (needs the source data from GitHub); each
    # protocol's store is imported once under bench/data/.homes and serves the three query forms
    (f"retrieval quality, {d.name}, {title}", [sys.executable, str(HERE / "retrieval.py"), "--split", "test", "--dataset",
                                               d.name, "--modes", "hybrid", "--home", str(HERE / "data" / ".homes"),
                                               "--query", "report,one-line,title", *extra])
    for d in sorted((HERE / "data").glob("dbrd-*")) if (d / "meta.json").exists()
    for title, extra in (("the literature's protocol", ["--protocol", "standard"]), ("strict protocol", []))
] + [
    # scores on the bug reports: ties, perfect scores of other reports, nonsense
    (f"scores, {d.name}", [sys.executable, str(HERE / "calibrate.py"), "--split", "test", "--dataset", d.name, "--check"])
    for d in sorted((HERE / "data").glob("dbrd-*")) if (d / "meta.json").exists()
]

#: splits never used to choose anything (weights, thresholds): reported apart
NEVER_TUNED = ("dbrd-mapreduce", "dbrd-yarn")


def summary() -> None:
    """success@5 of every retrieval result, per set, protocol and query form, pooled; the score counts."""
    import json

    rows = {}
    for f in sorted((HERE / "results").glob("retrieval-*.json")):
        r = json.loads(f.read_text())
        hy = r.get("modes", {}).get("hybrid")
        if hy:
            rows[(r["dataset"], r.get("protocol", "strict"), r.get("query", "report"))] = (hy["recall@5"], r["sizes"]["queries"], hy)
    print("\n## summary: success@5 (hybrid; test splits)")
    for (ds, proto, form), (r5, n, hy) in sorted(rows.items()):
        tag = "  (never tuned on)" if ds in NEVER_TUNED else ""
        print(f"  {ds:18s} {proto:9s} {form:9s} {r5:.3f}  ({n} queries){tag}")
        for g, gr in (hy.get("by_group") or {}).items():
            print(f"  {'':18s} {'':9s} {g + ' queries':9s} {gr['recall@5']:.3f}")
    for proto in ("standard", "strict"):
        for form in ("report", "one-line", "title"):
            for label, keep in (("tuned-on sets", lambda d: d not in NEVER_TUNED), ("never-tuned sets", lambda d: d in NEVER_TUNED)):
                sel = [(r5, n) for (ds, p, fm), (r5, n, _) in rows.items()
                       if ds.startswith("dbrd-") and p == proto and fm == form and keep(ds)]
                if sel:
                    n = sum(x[1] for x in sel)
                    print(f"  pooled dbrd, {label}, {proto} protocol, {form}: {sum(r * k for r, k in sel) / n:.3f} ({n} queries)")
    for f in sorted((HERE / "results").glob("calibrate-*.json")):
        c = json.loads(f.read_text())
        print(f"  scores {c['dataset']} ({c['split']}): other entries at 1.0: {c.get('perfect_score_other_entries')}, "
              f"tied pairs in a top 10: {c.get('tied_score_pairs_in_top10')} ({c.get('queries_with_a_tie')} queries), "
              f"true match in the top 5 said 'no close match': {c.get('true_match_in_top5_but_no_close_match')}, "
              f"nonsense flagged: {c['nonsense']['no_close_match']} of {c['nonsense']['queries']}")


def main() -> None:
    failed = []
    for title, cmd in STEPS:
        if not Path(cmd[1]).exists():
            print(f"\n## {title}: skipped ({Path(cmd[1]).name} missing)")
            continue
        print(f"\n## {title}\n$ {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}", flush=True)
        if subprocess.run(cmd).returncode != 0:
            failed.append(title)
    summary()
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
