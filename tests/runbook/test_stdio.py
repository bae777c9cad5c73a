"""The server as Claude Code runs it: a process on stdio. A run survives that process being killed
(kill -9, in the middle of a step), and a step never runs twice at once."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from paii_runbook.procs import session_alive
from tests.runbook.test_engine import FRONT, step

ROOT = Path(__file__).resolve().parents[2]
# a step that says when it starts and ends (one line each, with its pid) and takes as many seconds as its file says
STEP = "import os, sys, time; log = sys.argv[1]; open(log, 'a').write(f'start {os.getpid()} '); " \
       "time.sleep(float(open(sys.argv[2]).read())); open(log, 'a').write(f'end {os.getpid()} '); print('step done')"


def params(h) -> StdioServerParameters:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "servers"), "PAII_HOME": str(h.home),
           "PAII_CONFIG_DIR": str(h.tmp / "cfg"), "PAII_RUNBOOK_PATH": str(h.books), "PAII_RUNBOOK_SHIPPED": "0",
           "PAII_RUNBOOK_OPERATOR": "alice", "PAII_HISTORY_EMBEDDINGS": "off"}
    return StdioServerParameters(command=sys.executable, args=["-m", "paii_runbook"], env=env)


async def call(c, name, args):
    res = await c.call_tool(name, args)
    assert not res.is_error, res.content[0].text
    return res.structured_content


async def error(c, name, args) -> str:
    res = await c.call_tool(name, args)
    assert res.is_error, (res.structured_content.get("reason"), res.structured_content.get("output"))
    return res.content[0].text


def wait_for(what, deadline_s: float = 60):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def log_lines(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def kill_sessions(h) -> None:
    """Stop every step process a test left (their watchers lead their own sessions)."""
    for started in (h.settings.runs_dir / ".procs").glob("*started"):
        for pgid in (json.loads(started.read_text()).get("pgid"), json.loads(started.read_text())["pid"]):
            if pgid:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def book(h, log: Path, seconds: float) -> Path:
    """Steps 1-3; step 2 takes `seconds` (the returned file holds them: write it to change that)."""
    duration = h.tmp / "seconds"
    duration.write_text(str(seconds))
    h.book("long", FRONT + step(1, "run: [echo, one]\ntimeout: 5")
           + step(2, f"run: ['{sys.executable}', -c, \"{STEP}\", '{log}', '{duration}']\ntimeout: 20\napproval: none\n"
                     "reason: test")
           + step(3, "run: [echo, three]\ntimeout: 5"))
    return duration


async def start_and_kill_the_server_in_step_2(h, log: Path) -> str:
    """Run steps 1 and 2 in a real stdio server and kill -9 that server once step 2's process has started."""
    run_id, killed = None, []
    try:
        async with Client(params(h)) as c:
            run_id = (await call(c, "start_run", {"name": "long", "dry_run": False}))["run_id"]
            assert (await call(c, "run_step", {"run_id": run_id, "step_id": "1"}))["next_step"]["id"] == "2"
            state_file = h.settings.runs_dir / f"{run_id}.json"

            async def kill_server_once_the_step_runs():
                await anyio.to_thread.run_sync(wait_for, lambda: "start" in log_lines(log))
                server = json.loads(state_file.read_text())["running"]["pid"]
                os.kill(server, signal.SIGKILL)
                killed.append(server)

            async with anyio.create_task_group() as tg:
                tg.start_soon(kill_server_once_the_step_runs)
                with anyio.move_on_after(30):
                    await c.call_tool("run_step", {"run_id": run_id, "step_id": "2"})
    except BaseException as exc:  # the connection died with the server, as it does for Claude Code
        if isinstance(exc, KeyboardInterrupt):
            raise
    assert run_id and killed, "the server was not killed in the middle of step 2"
    return run_id


async def test_after_a_kill_9_a_retry_never_starts_a_second_copy_while_the_first_runs_and_then_reports_it(h):
    log = h.tmp / "step.log"
    book(h, log, 8)
    try:
        run_id = await start_and_kill_the_server_in_step_2(h, log)
        async with Client(params(h)) as c:  # a new server process on the same PAII_HOME
            refused = await error(c, "run_step", {"run_id": run_id, "step_id": "2", "choice": "retry"})
            assert f"step 2 of {run_id} is still running" in refused and "A second copy will not start" in refused
            assert "kill -TERM -- -" in refused
            assert "still running" in await error(c, "run_step", {"run_id": run_id, "step_id": "3"})
            assert "still running" in await error(c, "finish_run", {"run_id": run_id, "outcome": "aborted"})
            shown = await call(c, "get_run", {"run_id": run_id})
            assert shown["steps"][1]["status"] == "running" and "still running after its server stopped" in shown["steps"][1]["reason"]
            await anyio.to_thread.run_sync(wait_for, lambda: "end" in log_lines(log))
            with anyio.fail_after(60):  # the step's watcher writes its result after the command ends
                while (await call(c, "get_run", {"run_id": run_id}))["steps"][1]["status"] == "running":
                    await anyio.sleep(0.1)
            reported = await call(c, "run_step", {"run_id": run_id, "step_id": "2", "choice": "retry"})
            assert reported["status"] == "passed" and reported["exit_code"] == 0 and "step done" in reported["output"]
            assert "finished after the server that started it stopped" in reported["reason"]
            assert reported["next_step"]["id"] == "3"
            assert (await call(c, "run_step", {"run_id": run_id, "step_id": "3"}))["run_status"] == "done"
            done = await call(c, "finish_run", {"run_id": run_id, "outcome": "completed"})
    finally:
        kill_sessions(h)
    assert log_lines(log)[::2] == ["start", "end"]  # one copy, start to end: never a second one
    assert done["steps"] == {"passed": 3}
    assert "finished after the server that started it stopped" in h.record(run_id).body
    assert not list((h.settings.runs_dir / ".procs").glob(f"{run_id}.*"))


async def test_a_step_whose_process_died_with_the_server_is_interrupted_and_runs_again_only_on_retry(h):
    log = h.tmp / "step.log"
    duration = book(h, log, 8)
    try:
        run_id = await start_and_kill_the_server_in_step_2(h, log)
        kill_sessions(h)  # the step's process group dies too (a reboot, an OOM kill): its outcome is unknown
        tracks = list((h.settings.runs_dir / ".procs").glob("*started"))
        await anyio.to_thread.run_sync(wait_for, lambda: not any(session_alive(json.loads(p.read_text())) for p in tracks))
        duration.write_text("0")
        async with Client(params(h)) as c:
            assert "stopped at step 2 (interrupted)" in await error(c, "run_step", {"run_id": run_id, "step_id": "3"})
            assert "the server stopped while this step ran" in (await call(c, "get_run", {"run_id": run_id}))["steps"][1]["reason"]
            again = await call(c, "run_step", {"run_id": run_id, "step_id": "2", "choice": "retry"})
            assert again["status"] == "passed" and again["next_step"]["id"] == "3"
            assert (await call(c, "run_step", {"run_id": run_id, "step_id": "3"}))["run_status"] == "done"
            done = await call(c, "finish_run", {"run_id": run_id, "outcome": "completed"})
    finally:
        kill_sessions(h)
    assert log_lines(log)[::2] == ["start", "start", "end"]  # the killed copy never ended; the retry ran after it
    assert done["steps"] == {"passed": 3}
    assert "the server stopped while this step ran" in h.record(run_id).body


async def test_over_stdio_a_dry_run_returns_the_plan_and_is_recorded(h):
    h.book("long", FRONT + step(1, "run: [echo, '{{name}}']\ntimeout: 5"))
    async with Client(params(h)) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        dry = await call(c, "start_run", {"name": "long", "parameters": {"name": "db-1"}})
    assert "run_step" in tools and not [t for t in tools if "approv" in t] and dry["dry_run"] and dry["plan"][0]["argv"] == ["echo", "db-1"]
    assert h.record(dry["run_id"]).meta["dry_run"] is True


@pytest.fixture(autouse=True)
def _no_stray_config(h):
    (h.tmp / "cfg").mkdir(exist_ok=True)
