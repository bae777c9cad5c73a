"""The sandbox process: build the world (resuming the saved one), bind, write sandbox.json, serve.

Used by ``paii sandbox start`` in the foreground and, detached, by ``python -m paii_sandbox``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from paii_sandbox.files import load_seed, write_info
from paii_sandbox.runner import Sandbox
from paii_sandbox.services import discover
from paii_sandbox.timeparse import iso
from paii_sandbox.world import World


def build(directory: Path, *, port_base: int, now: datetime | None, reset: bool, seed: Path | None,
          say: Callable[[str], None] = print) -> Sandbox:
    """A bound (not yet serving) sandbox; raises PortInUse naming the port."""
    from paii_sandbox.writelog import WriteLog

    world = World(load_seed(seed), discover(), now=now, running=True)
    state, log = directory / "state.pickle", directory / "writes.log"
    entries = []
    if state.exists() and not reset:
        why = world.restore(state.read_bytes())
        if why is None:
            entries = WriteLog.read(log)
            replayed = world.replay(entries)
            more = f" and {replayed} logged write(s) made after it" if replayed else ""
            say(f"resumed the saved world from {state}{more}")
        else:
            say(f"started from the seed: {why}")
    sandbox = Sandbox(world, port_base=port_base, directory=directory, say=say)
    sandbox.bind()
    if not entries:  # a log of another world (or none): the fresh snapshot replaces it
        log.unlink(missing_ok=True)
    sandbox.open_log(after=max((e["seq"] for e in entries), default=0))
    return sandbox


def info_of(sandbox: Sandbox, seed: Path | None) -> dict[str, object]:
    return {
        "pid": os.getpid(), "port_base": sandbox.port_base, "ports": sandbox.ports, "admin_port": sandbox.admin_port,
        "admin_token": sandbox.admin_token, "now": iso(sandbox.world.fixed_now) if sandbox.world.fixed_now else None,
        "seed": str(seed) if seed else None, "env": sandbox.env(),
    }


def serve(sandbox: Sandbox, directory: Path, seed: Path | None, on_ready: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT; sandbox.json exists exactly while serving."""
    write_info(directory, info_of(sandbox, seed))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if on_ready:
            loop.call_soon(on_ready)
        await sandbox.serve(stop)

    try:
        asyncio.run(main())
    finally:
        info = directory / "sandbox.json"
        if info.exists():
            info.unlink()


def main(argv: list[str] | None = None) -> int:
    import argparse

    from paii_sandbox.runner import PortInUse

    p = argparse.ArgumentParser(prog="python -m paii_sandbox", description="Serve the PAII sandbox (see `paii sandbox start`).")
    p.add_argument("serve", choices=["serve"])
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--port-base", type=int, default=0)
    p.add_argument("--now", default=None)
    p.add_argument("--seed", type=Path, default=None)
    p.add_argument("--reset", action="store_true")
    args = p.parse_args(argv)
    from paii_sandbox.timeparse import parse_when

    now = parse_when(args.now, datetime.now().astimezone()) if args.now else None
    try:
        sandbox = build(args.dir, port_base=args.port_base, now=now, reset=args.reset, seed=args.seed,
                        say=lambda m: print(m, file=sys.stderr))
    except PortInUse as exc:
        print(f"paii sandbox: {exc}", file=sys.stderr)
        return 1
    serve(sandbox, args.dir, args.seed)
    return 0
