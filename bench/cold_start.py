"""Cold start: process start to `tools/list` answered over stdio, each server vs an empty MCPServer.

    python bench/cold_start.py [--runs 7] [--json]

Runs are interleaved (empty, history, pagerduty, slack, kubernetes, empty, ...) so machine load hits all alike;
the figure is the median of the runs. The target is a ratio under 1.25.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVERS = {
    "empty MCPServer": [sys.executable, str(HERE / "empty_server.py")],
    "history": [sys.executable, "-m", "paii_history"],
    "pagerduty": [sys.executable, "-m", "paii_pagerduty"],
    "slack": [sys.executable, "-m", "paii_slack"],
    "jira": [sys.executable, "-m", "paii_jira"],
    "kubernetes": [sys.executable, "-m", "paii_kubernetes"],
    "runbook": [sys.executable, "-m", "paii_runbook"],
}

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def _wait_for(p: subprocess.Popen, msg_id: int, what: str) -> None:
    while True:
        line = p.stdout.readline()
        if not line:
            raise RuntimeError(f"{p.args} exited before answering {what}")
        if json.loads(line).get("id") == msg_id:
            return


def one_run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert p.stdin and p.stdout
    p.stdin.write((json.dumps(INIT) + "\n").encode())
    p.stdin.flush()
    _wait_for(p, 1, "initialize")
    p.stdin.write((json.dumps(INITIALIZED) + "\n" + json.dumps(LIST) + "\n").encode())
    p.stdin.flush()
    _wait_for(p, 2, "tools/list")
    dt = time.perf_counter() - t0
    p.stdin.close()
    p.terminate()
    p.wait(timeout=10)
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="paii-bench-")
    env = {**os.environ, "PAII_HOME": home, "PAII_HISTORY_WARMUP": "1"}
    # Python caches compiled modules (.pyc) unless told not to, as a user's machine does; a
    # PYTHONDONTWRITEBYTECODE in this shell (some CI images set it) would make every run compile
    # PAII's own source again (installed dependencies come compiled), which is not a real start
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times: dict[str, list[float]] = {k: [] for k in SERVERS}
    for name, cmd in SERVERS.items():  # one warm-up run each (page cache, .pyc)
        one_run(cmd, env)
    for _ in range(args.runs):
        for name, cmd in SERVERS.items():
            times[name].append(one_run(cmd, env))
    base, base_min = statistics.median(times["empty MCPServer"]), min(times["empty MCPServer"])
    # the ratio of medians is the figure; the ratio of the fastest runs is less moved by a busy
    # neighbour on a shared VM (both are reported)
    rows = {name: {"median_ms": round(statistics.median(t) * 1000, 1), "min_ms": round(min(t) * 1000, 1),
                   "ratio_to_empty": round(statistics.median(t) / base, 3),
                   "min_ratio_to_empty": round(min(t) / base_min, 3)} for name, t in times.items()}
    result = {"runs": args.runs, "servers": rows, "load": os.getloadavg()}
    out = HERE / "results" / "cold_start.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"| server | median ms | min ms | ratio to empty (medians) | (fastest runs) |\n|---|---|---|---|---|")
        for name, r in rows.items():
            print(f"| {name} | {r['median_ms']} | {r['min_ms']} | {r['ratio_to_empty']} | {r['min_ratio_to_empty']} |")


if __name__ == "__main__":
    main()
