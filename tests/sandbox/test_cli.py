"""``paii sandbox``: a detached sandbox outlives the CLI calls that steer it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

PAII = str(Path(sys.executable).with_name("paii"))


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def paii(home: Path, *args: str, timeout: float = 60, process: bool = False) -> Result:
    """``paii sandbox ARGS``; ``process``: as a real ``paii`` process (``start --detach`` needs one)."""
    if process:
        env = {**os.environ, "PAII_HOME": str(home)}
        done = subprocess.run([PAII, "sandbox", *args], env=env, capture_output=True, text=True, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)
    import contextlib
    import io

    from paii_cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.environ.get("PAII_HOME")
    os.environ["PAII_HOME"] = str(home)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["sandbox", *args])
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        if old is None:
            os.environ.pop("PAII_HOME", None)
        else:
            os.environ["PAII_HOME"] = old
    return Result(code, out.getvalue(), err.getvalue())


def test_a_detached_sandbox_is_steered_by_later_cli_calls_and_stopped(tmp_path):
    home = tmp_path / "home"
    started = paii(home, "start", "--detach", "--port-base", "0", "--now", "2026-01-02T02:00:00Z", process=True)
    try:
        assert started.returncode == 0, started.stderr
        assert "clock from 2026-01-02T02:00:00Z" in started.stdout  # it starts there and moves on
        env = dict(line.removeprefix("export ").split("=", 1) for line in paii(home, "env").stdout.splitlines())
        dotenv = paii(home, "env", "--format", "dotenv").stdout
        assert f"PAII_PAGERDUTY_URL={env['PAII_PAGERDUTY_URL']}" in dotenv and env["PAII_NOW"] == "2026-01-02T02:00:00Z"
        claude = json.loads(paii(home, "env", "--format", "claude").stdout)
        assert claude["pluginConfigs"]["paii@inline"]["options"]["pagerduty_from"] == "scott@example.com"

        headers = {"Authorization": f"Token token={env['PAII_PAGERDUTY_TOKEN']}", "From": env["PAII_PAGERDUTY_FROM"]}
        body = {"incident": {"type": "incident_reference", "status": "acknowledged"}}
        assert httpx.put(f"{env['PAII_PAGERDUTY_URL']}/incidents/Q2PAY5XXPROD", headers=headers, json=body).status_code == 200
        dump = json.loads(paii(home, "state", "pagerduty").stdout)
        assert next(i for i in dump["incidents"] if i["id"] == "Q2PAY5XXPROD")["status"] == "acknowledged"

        assert paii(home, "fault", "pagerduty", "429", "--times", "1", "--retry-after", "2").returncode == 0
        limited = httpx.get(f"{env['PAII_PAGERDUTY_URL']}/incidents", headers=headers)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
        assert paii(home, "fault", "pagerduty", "down").returncode == 0
        try:
            httpx.get(f"{env['PAII_PAGERDUTY_URL']}/incidents", headers=headers, timeout=2)
            raise AssertionError("a service that is down must refuse connections")
        except httpx.ConnectError:
            pass
        status = json.loads(paii(home, "status", "--json").stdout)
        assert status["services"]["pagerduty"]["down"] is True
        assert paii(home, "fault", "pagerduty", "clear").returncode == 0
        assert httpx.get(f"{env['PAII_PAGERDUTY_URL']}/incidents", headers=headers).status_code == 200
        assert paii(home, "fault", "pagerduty", "slow").returncode == 2  # slow needs a duration
        assert paii(home, "reset").returncode == 0
        dump = json.loads(paii(home, "state", "pagerduty").stdout)
        assert next(i for i in dump["incidents"] if i["id"] == "Q2PAY5XXPROD")["status"] == "triggered"
    finally:
        stopped = paii(home, "stop")
    assert stopped.returncode == 0 and "stopped the sandbox" in stopped.stdout
    assert paii(home, "status").returncode == 1
    assert paii(home, "env").returncode == 1


def test_a_port_in_use_is_named(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = paii(tmp_path / "home", "start", "--port-base", str(port))
    assert result.returncode == 1
    assert "is already in use" in result.stderr and str(port) in result.stderr
