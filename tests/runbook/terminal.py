"""A command run the way a person runs it in a terminal window: a pseudo-terminal is its controlling
terminal, stdin and stdout, and the answer is typed after the question shows."""

from __future__ import annotations

import os
import pty
import select
import signal
import time


def at_terminal(argv: list[str], env: dict[str, str], answer: str | None, timeout: float = 60) -> tuple[int, str]:
    """(exit code, what the terminal showed); answer is typed once ``[y/N]`` appears."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        try:
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    out, typed, status = b"", False, None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                done, code = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = code
                    break
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            out += data
            if answer is not None and not typed and b"[y/N]" in out:
                os.write(fd, answer.encode())
                typed = True
        else:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"{argv} did not finish in {timeout} s: {out.decode(errors='replace')}")
    finally:
        os.close(fd)
    if status is None:
        status = os.waitpid(pid, 0)[1]
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace").replace("\r\n", "\n")
