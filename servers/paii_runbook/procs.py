"""Processes on this machine, told apart when a pid is reused, and the files a step's watcher leaves.

A process is identified by (pid, start time, boot id, host): the start time is field 22 of
``/proc/<pid>/stat`` (clock ticks since boot), the boot id ``/proc/sys/kernel/random/boot_id``, so
a pid given to a new process after the old one ended, or after a reboot, is not mistaken for it.
Where there is no ``/proc`` (macOS) a live pid counts as the same process.

A step's command runs under a watcher (:mod:`paii_runbook.watch`) that leads its own session and
writes ``<track>.started`` (its identity and the command's process group) when it starts and
``<track>.result`` when the command ends. The session outlives a server killed in the middle of a
step; :func:`session_alive` says whether anything of it still runs.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from paii_common.local import pid_alive

#: the watcher, run as a script by path (``python -I -S``: standard library only, starts in ~20 ms)
WATCH = str(Path(__file__).with_name("watch.py"))
PROC = Path("/proc")


def boot_id() -> str:
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/pid/stat after the command name: [state, ppid, pgrp, session, ...]."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    return text[text.rfind(")") + 2:].split()


def start_ticks(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def identity(pid: int) -> dict[str, Any]:
    """What tells this process apart from a later one with the same pid."""
    return {"pid": pid, "start": start_ticks(pid), "boot": boot_id(), "host": socket.gethostname()}


def same_process_alive(ident: dict[str, Any]) -> bool:
    """Whether the process ident describes still runs (another machine's: assumed so)."""
    if ident.get("host") and ident["host"] != socket.gethostname():
        return True
    if ident.get("boot") and boot_id() and ident["boot"] != boot_id():
        return False
    pid = int(ident.get("pid") or 0)
    if pid <= 0 or not pid_alive(pid):
        return False
    fields = _stat(pid)
    if fields is None:  # no /proc here (a live pid is all there is to go on), or it just ended
        return not PROC.is_dir()
    if fields[0] == "Z":
        return False
    return ident.get("start") is None or int(fields[19]) == ident["start"]


def session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of session sid."""
    out = []
    try:
        names = os.listdir(PROC)
    except OSError:
        return out
    for name in names:
        if name.isdigit():
            fields = _stat(int(name))
            if fields and len(fields) > 3 and fields[3] == str(sid) and fields[0] != "Z":
                out.append(int(name))
    return out


def session_alive(ident: dict[str, Any]) -> bool:
    """Whether anything of the session whose leader ident describes still runs: the leader, or a
    process it left behind (the kernel keeps a session id from being reused while any member lives)."""
    if ident.get("host") and ident["host"] != socket.gethostname():
        return True
    if ident.get("boot") and boot_id() and ident["boot"] != boot_id():
        return False
    sid = int(ident.get("pid") or 0)
    if sid <= 0:
        return False
    if not PROC.is_dir():
        try:
            os.killpg(sid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if same_process_alive(ident):
        return True
    leader = _stat(sid)
    if leader and leader[3] == str(sid) and ident.get("start") is not None and int(leader[19]) != ident["start"]:
        return False  # the id leads a newer session: the old one is gone
    return bool(session_members(sid))


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def started(track: Path) -> list[dict[str, Any]]:
    """The watchers a step started under track (a wait's polls each have their own)."""
    out = []
    for path in sorted(track.parent.glob(track.name + ".*started")):
        data = read_json(path)
        if data:
            out.append(data)
    return out


def result(track: Path) -> dict[str, Any] | None:
    return read_json(track.with_name(track.name + ".result"))


def remove(track: Path) -> None:
    for path in track.parent.glob(track.name + ".*"):
        try:
            path.unlink()
        except OSError:
            pass


def watcher_argv(track: Path, timeout: float, cap: int, argv: list[str]) -> list[str]:
    return [sys.executable, "-I", "-S", WATCH, str(track), repr(float(timeout)), str(int(cap)), "--", *argv]
