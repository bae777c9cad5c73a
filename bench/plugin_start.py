"""The plugin's servers as Claude Code starts them (`python3 bin/paii-mcp SERVER`): start-up,
footprint and first calls.

    python bench/plugin_start.py [--runs 5] [--call-runs 5] [--port-base 9080] [--json]

1. handshake: process start to `tools/list` answered, each server through bin/paii-mcp (its
   front answers from handshake.json) and with PAII_FRONT=off (the real server answers), vs an
   empty MCPServer (bench/empty_server.py); interleaved runs, medians. Goal: under 0.25x.
2. no venv: the same for a plugin data folder with nothing installed (the install starts, detached,
   and is stopped once the figure is taken). Goal: under 3 s.
3. idle: six servers started and handshaken as in one Claude Code session, then 10 s idle: the
   memory (RSS of every process) and CPU time they took, per PAII_FRONT mode.
4. first call: a read of each server against the sandbox (a fresh server each run, medians):
   the real server started on the call (the default) and, for comparison, already started in the
   background after the handshake (PAII_FRONT=background). Goal: about 1.5 s on a quiet 2-core machine.
The machine's load average is printed with the figures: on a busy machine they are slower.
Results: bench/results/plugin_start.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LAUNCHER = ROOT / "bin" / "paii-mcp"
SERVERS = ("history", "pagerduty", "slack", "jira", "kubernetes", "runbook")
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {"elicitation": {}, "roots": {}},
    "clientInfo": {"name": "claude-code", "version": "2.1.197"}}}
FIRST_CALLS = {
    "history": ("similar_incidents", {"text": "payments-api is returning 500s in production", "service": "payments-api"}),
    "pagerduty": ("list_incidents", {}),
    "slack": ("channel_digest", {"channel": "platform-engineering", "hours": 24}),
    "jira": ("search_issues", {"jql": "project = INC ORDER BY created DESC"}),
    "kubernetes": ("list_pods", {"namespace": "payments"}),
    "runbook": ("find_runbooks", {"text": "payments-api 500s"}),
}


class Proc:
    """A server process spoken to over stdio."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.started = time.perf_counter()
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)

    def send(self, message: dict) -> None:
        assert self.p.stdin
        self.p.stdin.write((json.dumps(message) + "\n").encode())
        self.p.stdin.flush()

    def wait_for(self, msg_id: int) -> dict:
        assert self.p.stdout
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.p.args} exited before answering {msg_id}")
            message = json.loads(line)
            if message.get("id") == msg_id:
                return message

    def handshake(self) -> float:
        self.send(INIT)
        self.wait_for(1)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        self.wait_for(2)
        return time.perf_counter() - self.started

    def call(self, tool: str, arguments: dict, msg_id: int = 3) -> tuple[float, dict]:
        t0 = time.perf_counter()
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
        answer = self.wait_for(msg_id)
        return time.perf_counter() - t0, answer

    def close(self) -> None:
        if self.p.stdin:
            self.p.stdin.close()
        try:
            self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def base_env(home: Path, data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAII_", "CLAUDE_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled modules are cached, as on a person's machine
    env.update(PAII_HOME=str(home), PAII_CONFIG_DIR=str(home / "config"), CLAUDE_PLUGIN_DATA=str(data),
               XDG_CACHE_HOME=str(home / "cache"), PAII_PYTHON=sys.executable)
    env.update(extra)
    return env


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


# ------------------------------------------------------------------------------------- 1. handshake
def handshakes(runs: int, home: Path) -> dict:
    env = base_env(home, home / "plugin-data")
    cases = {"empty MCPServer": ([sys.executable, str(HERE / "empty_server.py")], env)}
    for name in SERVERS:
        cases[f"{name} (front)"] = ([sys.executable, str(LAUNCHER), name], env)
    for name in SERVERS:
        cases[f"{name} (PAII_FRONT=off)"] = ([sys.executable, str(LAUNCHER), name], {**env, "PAII_FRONT": "off"})
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs + 1):  # the first round warms the page cache and .pyc files; not counted
        for name, (cmd, case_env) in cases.items():
            p = Proc(cmd, case_env)
            times[name].append(p.handshake())
            p.close()
    times = {k: v[1:] for k, v in times.items()}
    base = statistics.median(times["empty MCPServer"])
    return {k: {"median_ms": median_ms(v), "ratio_to_empty": round(statistics.median(v) / base, 3)} for k, v in times.items()}


# ------------------------------------------------------------------------------------- 2. no venv
def no_venv(runs: int, home: Path) -> dict:
    out = []
    for n in range(runs):
        data = home / f"novenv-{n}"
        env = base_env(home, data)
        env.pop("PAII_PYTHON")
        p = Proc([sys.executable, str(LAUNCHER), "history"], env)
        out.append(p.handshake())
        answer = p.call("recent", {})[1]
        p.close()
        stop_install(data)
        out_text = answer["result"]["content"][0]["text"]
    return {"median_ms": median_ms(out), "runs_ms": [round(t * 1000) for t in out], "a tool call said": out_text}


def stop_install(data: Path) -> None:
    """Stop the detached install the front started (its own process group; its pid is in
    install-stats.json once it holds the lock), then delete what it made."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            pid = json.loads((data / "install-stats.json").read_text()).get("pid")
        except (OSError, ValueError):
            pid = None
        if pid:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            break
        time.sleep(0.2)
    time.sleep(0.5)
    subprocess.run(["rm", "-rf", str(data)], check=False)


# ------------------------------------------------------------------------------------- 3. idle
def tree(pid: int) -> list[int]:
    """pid and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def usage(pid: int) -> tuple[float, float]:
    """(RSS MB, CPU seconds) of pid and its descendants."""
    rss = cpu = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
            stat = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        rss += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0) / 1024
        cpu += (int(stat[11]) + int(stat[12])) / tick
    return rss, cpu


def idle(home: Path, mode: str, idle_s: float = 10.0) -> dict:
    env = base_env(home, home / "plugin-data", PAII_FRONT=mode)
    procs = [Proc([sys.executable, str(LAUNCHER), name], env) for name in SERVERS]
    for p in procs:
        p.handshake()
        for n, method in enumerate(("prompts/list", "resources/list"), 10):
            p.send({"jsonrpc": "2.0", "id": n, "method": method})
            p.wait_for(n)
    time.sleep(idle_s)
    rss = cpu = 0.0
    for p in procs:
        r, c = usage(p.p.pid)
        rss, cpu = rss + r, cpu + c
    for p in procs:
        p.close()
    return {"rss_mb": round(rss), "cpu_s": round(cpu, 2)}


# ------------------------------------------------------------------------------------- 4. first calls
def sandbox(home: Path, port_base: int) -> dict[str, str]:
    paii = [sys.executable, "-m", "paii_cli"]
    env = {**os.environ, "PAII_HOME": str(home), "PYTHONPATH": str(ROOT / "servers")}
    subprocess.run([*paii, "sandbox", "start", "--detach", "--reset", "--port-base", str(port_base)], env=env,
                   check=True, capture_output=True)
    text = subprocess.run([*paii, "sandbox", "env", "--format", "dotenv"], env=env, check=True, capture_output=True,
                          text=True).stdout
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    values = {k: v.strip().strip("'\"") for k, v in values.items()}
    subprocess.run([*paii, "history", "import", "--category", "incidents", str(ROOT / "examples" / "incidents.jsonl")],
                   env=env, check=True, capture_output=True)
    return values


def first_calls(home: Path, runs: int, settings: dict[str, str], mode: str, wait_s: float = 0.0) -> dict:
    env = base_env(home, home / "plugin-data", PAII_FRONT=mode, **settings)
    out = {}
    for name in SERVERS:
        tool, arguments = FIRST_CALLS[name]
        times, errors, cpus = [], [], []
        for _ in range(runs):
            p = Proc([sys.executable, str(LAUNCHER), name], env)
            p.handshake()
            time.sleep(wait_s)
            cpu_before = usage(p.p.pid)[1]
            took, answer = p.call(tool, arguments)
            cpus.append(usage(p.p.pid)[1] - cpu_before)
            p.close()
            times.append(took)
            if answer.get("result", {}).get("isError") or "error" in answer:
                errors.append(json.dumps(answer)[:200])
        out[name] = {"tool": tool, "median_ms": median_ms(times), "runs_ms": [round(t * 1000) for t in times],
                     "median_cpu_s": round(statistics.median(cpus), 2),
                     **({"errors": errors[:1]} if errors else {})}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--call-runs", type=int, default=5)
    ap.add_argument("--port-base", type=int, default=9080, help="the sandbox's ports (5 from here)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", choices=["handshake", "no_venv", "idle", "first_call"], action="append",
                    help="run only these parts (repeatable; default all)")
    args = ap.parse_args()
    parts = set(args.only or ["handshake", "no_venv", "idle", "first_call"])
    result: dict = {"load_before": [round(x, 1) for x in os.getloadavg()], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="paii-bench-plugin-") as tmp:
        home = Path(tmp)
        if "handshake" in parts:
            result["handshake"] = handshakes(args.runs, home)
        if "no_venv" in parts:
            result["no_venv"] = no_venv(args.runs, home)
        if "idle" in parts:
            result["idle_six"] = {mode: idle(home, mode) for mode in ("call", "background", "off")}
        if "first_call" in parts:
            settings = sandbox(home / "world", args.port_base)
            try:
                settings_env = {**settings, "PAII_HOME": str(home / "world")}
                result["first_call"] = first_calls(home, args.call_runs, settings_env, "call")
                result["first_call_background"] = first_calls(home, max(3, args.call_runs // 2), settings_env,
                                                              "background", 8.0)
            finally:
                subprocess.run([sys.executable, "-m", "paii_cli", "sandbox", "stop"], capture_output=True,
                               env={**os.environ, "PAII_HOME": str(home / "world"), "PYTHONPATH": str(ROOT / "servers")})
    result["load_after"] = [round(x, 1) for x in os.getloadavg()]
    out = HERE / "results" / "plugin_start.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"load average {result['load_before']} -> {result['load_after']} on {result['cpus']} CPUs")
    if "handshake" in result:
        print("\n| start to tools/list answered | median ms | ratio to empty MCPServer |\n|---|---|---|")
        for name, r in result["handshake"].items():
            print(f"| {name} | {r['median_ms']} | {r['ratio_to_empty']} |")
    if "no_venv" in result:
        nv = result["no_venv"]
        print(f"\nno venv at all: tools/list answered in {nv['median_ms']} ms (median); a tool call said: {nv['a tool call said']}")
    if "idle_six" in result:
        print("\n| six servers, one session, 10 s idle | RSS MB | CPU s |\n|---|---|---|")
        for mode, r in result["idle_six"].items():
            print(f"| PAII_FRONT={mode} | {r['rss_mb']} | {r['cpu_s']} |")
    if "first_call" not in result:
        return
    print("\n| first call | tool | started on the call (default): median ms, CPU s | started in the background "
          "(a woken sibling, or PAII_FRONT=background): median ms, CPU s |\n|---|---|---|---|")
    for name in SERVERS:
        a, b = result["first_call"][name], result["first_call_background"][name]
        err = " (errors: " + a["errors"][0] + ")" if a.get("errors") else ""
        print(f"| {name} | {a['tool']} | {a['median_ms']}, {a['median_cpu_s']}{err} | {b['median_ms']}, {b['median_cpu_s']} |")
    print("(CPU s: what the call cost the server's processes; on a quiet machine the wait is about that)")


if __name__ == "__main__":
    main()
