"""What the first search in another language than English costs the history server (issue 23 item 3).

    python bench/multilingual_first_call.py [--runs 3] [--json]

Imports the example history (examples/incidents.jsonl) into a fresh PAII_HOME, starts ``python -m
paii_history`` over stdio and calls ``similar_incidents``: an English text twice, then a Spanish one
(the multilingual model is loaded and the 16 entries embedded with it: only then), a second Spanish
one and a Chinese one. For each call: the wall time, the server's CPU time (user+system, from
/proc/<pid>/stat) and its resident memory after the call (VmRSS). The figures are the medians of
``--runs`` fresh servers and homes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CALLS = [
    ("english, first", "checkout requests time out, database connections used up"),
    ("english, again", "disk full on the log storage node"),
    ("spanish, first", "las solicitudes de pago agotan el tiempo, no quedan conexiones a la base de datos"),
    ("spanish, again", "el disco de los registros está lleno"),
    ("chinese", "缓存过期后银行卡授权失败"),
]
TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _send(p: subprocess.Popen, msg: dict) -> None:
    p.stdin.write((json.dumps(msg) + "\n").encode())
    p.stdin.flush()


def _answer(p: subprocess.Popen, msg_id: int) -> dict:
    while True:
        line = p.stdout.readline()
        if not line:
            raise RuntimeError("the server exited")
        msg = json.loads(line)
        if msg.get("id") == msg_id:
            return msg


def one_run(env: dict[str, str]) -> list[dict]:
    home = Path(tempfile.mkdtemp(prefix="paii-ml-first-"))
    env = dict(env, PAII_HOME=str(home))
    subprocess.run([sys.executable, "-m", "paii_cli", "history", "import", "--category", "incidents", "--quiet",
                    str(ROOT / "examples" / "incidents.jsonl")],
                   env=env, check=True, capture_output=True)
    p = subprocess.Popen([sys.executable, "-m", "paii_history"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    _send(p, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}})
    _answer(p, 1)
    _send(p, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    _send(p, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    _answer(p, 2)
    time.sleep(3)  # the start-up sync and warm-up settle
    rows = [{"call": "started", "cpu_s": _cpu(p.pid), "rss_mb": _rss_mb(p.pid)}]
    for n, (name, text) in enumerate(CALLS, start=3):
        cpu0, t0 = _cpu(p.pid), time.perf_counter()
        _send(p, {"jsonrpc": "2.0", "id": n, "method": "tools/call",
                  "params": {"name": "similar_incidents", "arguments": {"text": text, "k": 3}}})
        ans = _answer(p, n)
        wall = time.perf_counter() - t0
        time.sleep(0.5)  # work the call started in the background (a backfill) is counted too
        hits = ans.get("result", {}).get("structuredContent", {}).get("hits", [])
        if os.environ.get("BENCH_DEBUG"):
            print(name, json.dumps(ans)[:1500], file=sys.stderr)
        rows.append({"call": name, "wall_ms": wall * 1000, "cpu_ms": (_cpu(p.pid) - cpu0) * 1000,
                     "rss_mb": _rss_mb(p.pid), "top": hits[0]["id"] if hits else None})
    p.stdin.close()
    p.terminate()
    p.wait(timeout=10)
    shutil.rmtree(home, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAII_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "servers"), env.get("PYTHONPATH", "")])
    runs = [one_run(env) for _ in range(args.runs)]
    out = []
    for i, first in enumerate(runs[0]):
        row = {"call": first["call"], "top": first.get("top")}
        for key in ("wall_ms", "cpu_ms", "rss_mb"):
            if key in first:
                row[key] = round(statistics.median(r[i][key] for r in runs), 1)
        out.append(row)
    if args.json:
        print(json.dumps({"runs": args.runs, "calls": out}, indent=2))
        return
    print(f"| call (median of {args.runs} fresh servers) | wall ms | server CPU ms | RSS after, MB | first hit |")
    print("|---|---|---|---|---|")
    for r in out:
        print(f"| {r['call']} | {r.get('wall_ms', '')} | {r.get('cpu_ms', '')} | {r['rss_mb']} | {r.get('top') or ''} |")


if __name__ == "__main__":
    main()
