"""The sandbox clock: ``--now`` is where it starts, and it moves on with real time (the servers'
``PAII_NOW`` + ``PAII_NOW_SINCE`` too), so a runbook run lasts as long as it took."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from paii_common import clock
from paii_sandbox.files import load_seed
from paii_sandbox.runner import Sandbox
from paii_sandbox.services import discover
from paii_sandbox.world import World

NOW = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)


def test_a_running_clock_starts_at_now_and_moves_on_a_fixed_one_stands_still(monkeypatch):
    monkeypatch.setenv("PAII_SANDBOX_POSTGRES", "off")  # the clock only: no database pair needed
    running = World(load_seed(), discover(), now=NOW, running=True)
    fixed = World(load_seed(), discover(), now=NOW)
    running.clock_since -= 90  # as if started a minute and a half ago
    assert timedelta(seconds=90) <= running.now() - NOW < timedelta(seconds=120)
    assert fixed.now() == NOW
    for world, moves in ((running, True), (fixed, False)):
        sb = Sandbox(world).start_in_thread()
        try:
            env = sb.env()
        finally:
            sb.stop_thread()
        assert env["PAII_NOW"] == "2026-01-02T02:00:00Z"
        assert ("PAII_NOW_SINCE" in env) == moves
        if moves:  # the servers' clock reads what the world's does
            assert abs(float(env["PAII_NOW_SINCE"]) - world.clock_since) < 1


def test_the_servers_clock_follows_paii_now_since_and_stands_still_without_it(monkeypatch):
    monkeypatch.setenv("PAII_NOW", "2026-01-02T02:00:00Z")
    monkeypatch.delenv("PAII_NOW_SINCE", raising=False)
    assert clock.now() == NOW
    monkeypatch.setenv("PAII_NOW_SINCE", f"{time.time() - 600:.3f}")  # rounded: up to 0.5 ms either side
    assert timedelta(minutes=10) - timedelta(milliseconds=1) <= clock.now() - NOW < timedelta(minutes=11)
