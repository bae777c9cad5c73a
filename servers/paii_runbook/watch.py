"""The watcher of one step command (standard library only; run as ``python -I -S watch.py``).

    watch.py TRACK TIMEOUT CAP -- PROGRAM [ARG...]

The runbook server starts it as the leader of a new session, so it and the command outlive a
server that is killed in the middle of a step. It writes ``TRACK.started`` at once (its pid, start
time and boot id, and the command's process group), runs PROGRAM (never through a shell) in a
process group of its own, keeps the last CAP bytes of stdout and of stderr, stops the group after
TIMEOUT seconds (TERM, then KILL 2 s later), and writes ``TRACK.result`` when the command has
ended (exit code, output, whether it timed out). Both files are written atomically. A TERM sent
to the watcher is passed on to the command's group; the result is still written.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

GRACE = 2.0


def _write(path: str, data: dict) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
        return int(text[text.rfind(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _boot() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()
    except OSError:
        return ""


class _Tail:
    """Reads a stream to the end, keeping its last ``cap`` bytes."""

    def __init__(self, stream, cap: int) -> None:
        self.buf = bytearray()
        self.cap = cap
        self.dropped = 0
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            self.buf += chunk
            if len(self.buf) > self.cap:
                self.dropped += len(self.buf) - self.cap
                del self.buf[: len(self.buf) - self.cap]

    def text(self) -> str:
        self.thread.join(timeout=5)
        return self.buf.decode("utf-8", errors="replace")


def _stop(pgid: int, proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=GRACE)
            return
        except subprocess.TimeoutExpired:
            continue


def main(argv: list[str]) -> int:
    track, timeout, cap, sep, *command = argv
    if sep != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    timeout_s, cap_n = float(timeout), int(cap)
    began = time.monotonic()
    me = {"pid": os.getpid(), "start": _ticks(os.getpid()), "boot": _boot(), "host": socket.gethostname(),
          "argv0": command[0], "since": time.time()}
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                process_group=0)
    except OSError as exc:
        _write(track + ".started", me)
        _write(track + ".result", {"exit_code": None, "stdout": "", "stderr": "", "timed_out": False, "truncated": False,
                                   "duration_s": time.monotonic() - began, "error": f"{command[0]} could not start: {exc}"})
        return 0
    me["pgid"] = proc.pid
    _write(track + ".started", me)

    def pass_on(*_: object) -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass

    signal.signal(signal.SIGTERM, pass_on)
    out, err = _Tail(proc.stdout, cap_n), _Tail(proc.stderr, cap_n)
    timed_out = False
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop(proc.pid, proc)
        code = None
    _write(track + ".result", {"exit_code": code, "stdout": out.text(), "stderr": err.text(), "timed_out": timed_out,
                               "truncated": bool(out.dropped or err.dropped), "duration_s": time.monotonic() - began,
                               "error": None})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
