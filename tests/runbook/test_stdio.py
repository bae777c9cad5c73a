"""The server as Claude Code runs it: a process on stdio. A run survives that process being killed."""

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

from tests.runbook.test_engine import FRONT, step

ROOT = Path(__file__).resolve().parents[2]
SLOW = "import os, sys, time, pathlib; pathlib.Path(sys.argv[1]).write_text(str(os.getpid())); " \
       "time.sleep(30 if os.path.exists(sys.argv[2]) else 0); print('slept')"


def params(h) -> StdioServerParameters:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "servers"), "PAII_HOME": str(h.home),
           "PAII_CONFIG_DIR": str(h.tmp / "cfg"), "PAII_RUNBOOK_PATH": str(h.books), "PAII_RUNBOOK_SHIPPED": "0",
           "PAII_RUNBOOK_OPERATOR": "alice", "PAII_HISTORY_EMBEDDINGS": "off"}
    return StdioServerParameters(command=sys.executable, args=["-m", "paii_runbook"], env=env)


async def call(c, name, args):
    res = await c.call_tool(name, args)
    assert not res.is_error, res.content[0].text
    return res.structured_content


def running_pid(state_file: Path, deadline: float) -> int:
    while time.monotonic() < deadline:
        try:
            running = json.loads(state_file.read_text()).get("running")
        except (OSError, ValueError):
            running = None
        if running:
            return running["pid"]
        time.sleep(0.05)
    raise AssertionError("the step never started")


async def test_a_run_continues_after_the_server_process_is_killed_in_the_middle_of_a_step(h):
    pidfile, flag = h.tmp / "child.pid", h.tmp / "slow"
    flag.write_text("1")
    h.book("long", FRONT + step(1, "run: [echo, one]\ntimeout: 5")
           + step(2, f"run: ['{sys.executable}', -c, \"{SLOW}\", '{pidfile}', '{flag}']\ntimeout: 60\napproval: none\nreason: test")
           + step(3, "run: [echo, three]\ntimeout: 5"))
    run_id = None
    try:
        async with Client(params(h)) as c:
            run_id = (await call(c, "start_run", {"name": "long", "dry_run": False}))["run_id"]
            assert (await call(c, "run_step", {"run_id": run_id, "step_id": "1"}))["next_step"]["id"] == "2"
            state_file = h.settings.runs_dir / f"{run_id}.json"

            async def kill_server_mid_step():
                pid = await anyio.to_thread.run_sync(running_pid, state_file, time.monotonic() + 20)
                os.kill(pid, signal.SIGKILL)

            async with anyio.create_task_group() as tg:
                tg.start_soon(kill_server_mid_step)
                with anyio.move_on_after(25):
                    await c.call_tool("run_step", {"run_id": run_id, "step_id": "2"})
    except BaseException as exc:  # the connection died with the server, as it does for Claude Code
        if isinstance(exc, KeyboardInterrupt):
            raise
    finally:
        if pidfile.exists():  # the step's own process outlives the server (its own session): stop it
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert run_id
    flag.unlink()
    async with Client(params(h)) as c:  # a new server process on the same PAII_HOME
        res = await c.call_tool("run_step", {"run_id": run_id, "step_id": "3"})
        assert res.is_error and "stopped at step 2 (interrupted)" in res.content[0].text
        again = await call(c, "run_step", {"run_id": run_id, "step_id": "2", "choice": "retry"})
        assert again["status"] == "passed" and again["next_step"]["id"] == "3"
        assert (await call(c, "run_step", {"run_id": run_id, "step_id": "3"}))["run_status"] == "done"
        done = await call(c, "finish_run", {"run_id": run_id, "outcome": "completed"})
    assert done["steps"] == {"passed": 3}
    assert "the server stopped while this step ran" in h.record(run_id).body


async def test_over_stdio_a_dry_run_returns_the_plan_and_is_recorded(h):
    h.book("long", FRONT + step(1, "run: [echo, '{{name}}']\ntimeout: 5"))
    async with Client(params(h)) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        dry = await call(c, "start_run", {"name": "long", "parameters": {"name": "db-1"}})
    assert "approve_step" in tools and dry["dry_run"] and dry["plan"][0]["argv"] == ["echo", "db-1"]
    assert h.record(dry["run_id"]).meta["dry_run"] is True


@pytest.fixture(autouse=True)
def _no_stray_config(h):
    (h.tmp / "cfg").mkdir(exist_ok=True)
