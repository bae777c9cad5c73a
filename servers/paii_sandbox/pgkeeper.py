"""``python -m paii_sandbox.pgkeeper DATA_DIR...``: no sandbox PostgreSQL outlives its sandbox.

The sandbox starts this with a pipe on its standard input and never writes to it. When the pipe
closes (the sandbox stopped, crashed or was killed), each server whose data folder is named
here is stopped: fast shutdown (SIGINT to its postmaster), then immediate, then SIGKILL. It runs
in a session of its own, so a Ctrl-C meant for the sandbox does not reach it.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from paii_sandbox.pgpair import _signal_stop

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only the pipe ends it
    while sys.stdin.buffer.read(4096):
        pass
    for folder in argv:
        _signal_stop(Path(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
