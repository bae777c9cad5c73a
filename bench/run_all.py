"""`make bench`: every figure quoted in README.md, written to bench/results/*.json.

Slow (several minutes): retrieval quality on the public duplicate-report benchmark, history at
10,000 entries, 20 clients over HTTP against one team server, cold start of every server, and
tools/list sizes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = [
    ("tools/list size", [sys.executable, str(HERE / "tools_size.py")]),
    ("cold start", [sys.executable, str(HERE / "cold_start.py"), "--runs", "7"]),
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
] + [
    # duplicate bug reports: built once by bench/dbrd_build.py (needs the source data from GitHub)
    (f"retrieval quality, {d.name}{title}", [sys.executable, str(HERE / "retrieval.py"), "--split", "test", "--dataset", d.name, *extra])
    for d in sorted((HERE / "data").glob("dbrd-*")) if (d / "meta.json").exists()
    for title, extra in (("", []), (", the literature's protocol", ["--protocol", "standard"]),
                         (", reports joined into one line", ["--query", "one-line"]),
                         (", title lines only", ["--query", "title"]))
]


def main() -> None:
    failed = []
    for title, cmd in STEPS:
        if not Path(cmd[1]).exists():
            print(f"\n## {title}: skipped ({Path(cmd[1]).name} missing)")
            continue
        print(f"\n## {title}\n$ {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}", flush=True)
        if subprocess.run(cmd).returncode != 0:
            failed.append(title)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
