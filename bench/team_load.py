"""Team load: concurrent clients over streamable HTTP, each with its own token, against one history server.

    python bench/team_load.py [--clients 20] [--seconds 60] [--entries 10000] [--think-ms 0] [--json]

The server is the real one (``python -m paii_history --transport streamable-http`` on 127.0.0.1,
tokens required), its history built once from bench/history_scale.py's synthetic incidents and
cached in bench/data/team-load-<N>/ (each run works on a copy). Each client is the mcp package's
streamable HTTP client with its own bearer token; it calls ``similar_incidents`` and, one call in
``--capture-every``, ``capture`` (a new incident), back to back (``--think-ms 0``: as fast as the
server answers, all starting at once) or with a random pause of up to twice ``--think-ms`` before
the first call and between calls (a person's pace).
After the run the server is stopped and the history is checked: every capture answered with an id
is in the index exactly once and on disk exactly once, and nothing else was added or lost.

Figures: calls and errors per tool, p50/p95/max latency as the client sees it, calls per second,
and the check. Written to bench/results/team_load.json (``--out`` elsewhere).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from history_scale import cpu_check_ms, make_entry, make_queries  # noqa: E402


# ------------------------------------------------------------------------------ the history
def build(entries: int, cache: Path, chroma: bool) -> Path:
    """``cache``/home (a PAII home with ``entries`` incidents) and, with ``chroma``, ``cache``/chroma
    (a Chroma server's data with their vectors), built once."""
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    if (cache / ".complete").exists():
        return cache
    shutil.rmtree(cache, ignore_errors=True)
    (cache / "home").mkdir(parents=True)
    rnd = random.Random(42)
    src = cache / "incidents.jsonl"
    with src.open("w") as f:
        for i in range(entries):
            f.write(json.dumps(make_entry(i, rnd)) + "\n")
    print(f"building a history of {entries} entries in {cache} (once)", file=sys.stderr, flush=True)
    server = start_chroma(cache / "chroma", free_port()) if chroma else None
    try:
        url = server.url if server else None
        store = HistoryStore(HistorySettings.load(home=cache / "home", warmup=False, chroma_url=url))
        store.import_jsonl(src, "incidents")
        store.close()
    finally:
        if server:
            server.stop()
    (cache / ".complete").write_text("")
    return cache


def count_entries(home: Path, ids: list[str]) -> dict[str, Any]:
    """What the history holds after the run, read by a store of its own (the server is stopped)."""
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    store = HistoryStore(HistorySettings.load(home=home, warmup=False, embeddings="off"))
    store.ensure_ready()
    files: dict[str, int] = {}
    for path in (home / "history").rglob("*.md"):
        files[path.stem] = files.get(path.stem, 0) + 1
    indexed = {i: store.kw.get(i) is not None for i in ids}
    out = {
        "entries": store.kw.count(),
        "files": sum(files.values()),
        "lost": sorted(i for i in ids if not indexed[i] or files.get(i, 0) == 0),
        "duplicated": sorted({i for i in ids if ids.count(i) > 1 or files.get(i, 0) > 1}),
    }
    store.close()
    return out


# ------------------------------------------------------------------------------ the servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc: subprocess.Popen, port: int, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} stopped: {log.read_text()[-2000:] if log else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{what} did not listen within 90 s")


class Chroma:
    """``chroma run`` on 127.0.0.1 (a team's vector store)."""

    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc, self.url = proc, f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def start_chroma(path: Path, port: int) -> Chroma:
    exe = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(exe), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(proc, port, "chroma run")
    return Chroma(proc, port)


def start_server(home: Path, tokens: Path, port: int, log: Path, env: dict[str, str] | None = None,
                 workers: int = 1) -> subprocess.Popen:
    """The real server process (``--workers``: that many worker processes); its log (stderr) goes to ``log``."""
    environ = {**os.environ, "PAII_HOME": str(home), "PAII_AUTH_TOKENS_FILE": str(tokens), **(env or {})}
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "paii_history", "--transport", "streamable-http",
                                 "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)], env=environ,
                                stdout=subprocess.DEVNULL, stderr=err)
    wait_listening(proc, port, "the history server", log)
    return proc


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) a process and its children alive now have used: ``pid``, or this process."""
    if pid is None:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs (a server's workers)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            out += [int(child), *_children(int(child))]
    return out


# ------------------------------------------------------------------------------ the clients
def percentiles(lat: list[float]) -> dict[str, float | int]:
    if not lat:
        return {"calls": 0}
    ms = sorted(x * 1000 for x in lat)
    return {"calls": len(ms), "p50": round(statistics.median(ms), 1),
            "p95": round(ms[max(0, int(len(ms) * 0.95) - 1)], 1), "max": round(ms[-1], 1)}


async def _client(url: str, token: str, n: int, go: asyncio.Event, window: dict, queries: list[str], args: Any,
                  out: dict) -> None:
    """One client: open its session, wait for ``go`` (every session is open), call until the window ends."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    rnd = random.Random(1000 + n)
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as c:
            window["ready"] += 1
            await go.wait()
            if args.think_ms:  # people do not all press enter at the same instant: start within one pause
                await asyncio.sleep(rnd.uniform(0, 2 * args.think_ms) / 1000)
            calls = 0
            while time.monotonic() < window["end"]:
                calls += 1
                if calls % args.capture_every == 0:
                    entry = make_entry(10_000_000 + n * 100_000 + calls, rnd)
                    tool, arguments = "capture", {"category": "incidents", "title": entry["title"],
                                                  "content": entry["body"], "metadata": {"service": entry["service"]}}
                else:
                    tool, arguments = "similar_incidents", {"text": rnd.choice(queries), "k": 5}
                t0 = time.perf_counter()
                try:
                    r = await c.call_tool(tool, arguments)
                    failed = r.content[0].text[:300] if r.is_error else None
                except Exception as exc:  # a transport failure is an error of the run too
                    r, failed = None, f"{type(exc).__name__}: {str(exc)[:300]}"
                took = time.perf_counter() - t0
                out["latency"][tool].append(took)
                out["timeline"].append((t0 - window["start"], tool, took))
                if failed:
                    out["errors"].append(f"{tool}: {failed}")
                elif tool == "capture":
                    out["captured"].append(r.structured_content["id"])
                if args.think_ms:
                    await asyncio.sleep(rnd.uniform(0, 2 * args.think_ms) / 1000)


def _new_out() -> dict[str, Any]:
    return {"latency": {"similar_incidents": [], "capture": []}, "errors": [], "captured": [], "timeline": []}


async def _window(url: str, tokens: list[str], seconds: float, queries: list[str], args: Any, out: dict) -> float:
    """Every client's session opened first, then all call for ``seconds``; returns the window's length."""
    go = asyncio.Event()
    window = {"ready": 0, "end": 0.0, "start": 0.0}
    tasks = [asyncio.create_task(_client(url, tok, n, go, window, queries, args, out)) for n, tok in enumerate(tokens)]
    deadline = time.monotonic() + 120
    while window["ready"] < len(tokens):
        if time.monotonic() > deadline or any(t.done() for t in tasks):
            go.set()
            await asyncio.gather(*tasks)  # raises what stopped a client
            raise RuntimeError("the clients did not all connect within 120 s")
        await asyncio.sleep(0.05)
    window["start"] = time.perf_counter()
    window["end"] = time.monotonic() + seconds
    t0 = time.monotonic()
    go.set()
    await asyncio.gather(*tasks)
    return time.monotonic() - t0


async def run_load(url: str, tokens: list[str], args: Any) -> dict[str, Any]:
    """``len(tokens)`` clients for ``args.seconds`` after a warm-up; latencies, errors, captured ids."""
    queries = [q for qs in make_queries(200).values() for q in qs]
    warm = _new_out()  # the model, the index and the vector store load on the first calls: not counted
    # with workers, every client warms up: which worker a client's connection reaches is the kernel's choice
    warmers = tokens[:1] if getattr(args, "workers", 1) == 1 else tokens
    await _window(url, warmers, getattr(args, "warmup_s", 3), queries, argparse.Namespace(capture_every=3, think_ms=0), warm)
    out = _new_out()
    pids = {"server": getattr(args, "server_pid", None), "chroma": getattr(args, "chroma_pid", None), "clients": None}
    before = {k: cpu_seconds(p) for k, p in pids.items() if k == "clients" or p}
    out["wall_s"] = await _window(url, tokens, args.seconds, queries, args, out)
    out["cpu_s"] = {k: round(cpu_seconds(pids[k]) - v, 2) for k, v in before.items()}
    out["captured"] += warm["captured"]
    out["warmup_errors"] = warm["errors"]
    out["slowest"] = [(round(t, 2), tool, round(lat * 1000)) for t, tool, lat in sorted(out["timeline"], key=lambda x: -x[2])[:8]]
    return out


def summarise(raw: dict[str, Any], check: dict[str, Any], args: Any, base: int) -> dict[str, Any]:
    calls = sum(len(v) for v in raw["latency"].values())
    return {
        "clients": args.clients, "workers": getattr(args, "workers", 1), "seconds": args.seconds, "entries_before": base, "think_ms": args.think_ms,
        "capture_every": args.capture_every,
        "similar_incidents_ms": percentiles(raw["latency"]["similar_incidents"]),
        "capture_ms": percentiles(raw["latency"]["capture"]),
        "calls_per_s": round(calls / raw["wall_s"], 1),
        # CPU time per call (the machine is shared: what a call costs, whatever else runs)
        "cpu_ms_per_call": {k: round(v * 1000 / max(calls, 1), 1) for k, v in raw.get("cpu_s", {}).items()},
        "errors": len(raw["errors"]) + len(raw["warmup_errors"]), "first_errors": (raw["warmup_errors"] + raw["errors"])[:5],
        "captured": len(raw["captured"]),
        "slowest_calls_s_tool_ms": raw.get("slowest", []),
        "entries_after": check["entries"], "files_after": check["files"],
        "lost": check["lost"][:10], "duplicated": check["duplicated"][:10],
        "count_ok": check["entries"] == base + len(raw["captured"]) == check["files"],
        "cpus": os.cpu_count(), "load": [round(x, 2) for x in os.getloadavg()],
    }


def make_tokens(path: Path, clients: int) -> list[str]:
    from paii_common.auth import add_token

    return [add_token(path, f"oncall{n:02d}") for n in range(clients)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--think-ms", type=float, default=0, help="mean pause between a client's calls (0: back to back)")
    ap.add_argument("--capture-every", type=int, default=5, help="one call in N is a capture (default 5)")
    ap.add_argument("--workers", type=int, default=1, help="the server's worker processes (--workers; default 1)")
    ap.add_argument("--embedded", action="store_true", help="vectors in the server's embedded chromadb, not a Chroma server")
    ap.add_argument("--out", default=str(HERE / "results" / "team_load.json"))
    ap.add_argument("--keep-log", metavar="FILE", help="copy the server's log (stderr) here")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = HERE / "data"
    name = f"team-load-{args.entries}" + ("-embedded" if args.embedded else "")
    cache = build(args.entries, data / name if data.is_dir() else Path(tempfile.mkdtemp(prefix="paii-team-load-")) / name,
                  chroma=not args.embedded)
    work = Path(tempfile.mkdtemp(prefix="paii-team-load-run-"))
    chroma = None
    try:
        home = work / "home"
        shutil.copytree(cache / "home", home)
        env = {}
        if not args.embedded:
            shutil.copytree(cache / "chroma", work / "chroma")
            chroma = start_chroma(work / "chroma", free_port())
            env["PAII_CHROMA_URL"] = chroma.url
        tokens = make_tokens(work / "tokens", args.clients)
        base = count_entries(home, [])["entries"]
        port = free_port()
        cpu_before = cpu_check_ms()
        proc = start_server(home, work / "tokens", port, work / "server.log", env, args.workers)
        args.server_pid, args.chroma_pid = proc.pid, (chroma.proc.pid if chroma else None)
        try:
            raw = asyncio.run(run_load(f"http://127.0.0.1:{port}/mcp", tokens, args))
        finally:
            proc.terminate()
            proc.wait(30)
            if args.keep_log:
                shutil.copy(work / "server.log", args.keep_log)
        result = summarise(raw, count_entries(home, raw["captured"]), args, base)
        result["vectors"] = "embedded chromadb" if args.embedded else "Chroma server (chroma run on 127.0.0.1)"
        result["cpu_check_ms_before"], result["cpu_check_ms_after"] = cpu_before, cpu_check_ms()
    finally:
        if chroma:
            chroma.stop()
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if result["errors"] or result["lost"] or result["duplicated"] or not result["count_ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
