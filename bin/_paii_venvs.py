"""The venv store of bin/paii-mcp (Python 3.11+ standard library only): one venv folder per
stamp under <data>/venvs, a shared flock on <venv>/.in-use held by every server running from it,
and the cleanup that deletes the venvs no server holds. The launcher imports this module from
its own folder; see its docstring for the whole layout."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Callable

IN_USE_NAME = ".in-use"


def _quiet(msg: str) -> None:
    pass


def venv_dir(data: Path, stamp: str) -> Path:
    """The venv for a stamp: each set of dependencies gets its own folder."""
    return data / "venvs" / stamp[:16]


def _open_in_use(venv: Path) -> int:
    return os.open(venv / IN_USE_NAME, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)


def mark_in_use(venv: Path) -> int | None:
    """Hold a shared lock on <venv>/.in-use in an inheritable fd, so that it survives exec and
    lasts exactly as long as the server (and children given the fd); cleanup_venvs deletes only
    venvs whose lock it can take exclusively. The fd, or None when the venv is gone."""
    try:
        fd = _open_in_use(venv)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a cleanup holds LOCK_EX (it then renames)
        os.set_inheritable(fd, True)
    except OSError:
        os.close(fd)
        return None
    return fd


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _discard(path: Path) -> None:
    """Rename path out of the way first (so no launcher finds it ready any more), then delete."""
    trash = path.with_name(f"{path.name}.del-{os.getpid()}")
    try:
        os.rename(path, trash)
    except OSError:
        trash = path
    shutil.rmtree(trash, ignore_errors=True)


def cleanup_venvs(data: Path, keep: Path, say: Callable[[str], None] = _quiet) -> list[Path]:
    """Delete the venvs under <data>/venvs other than keep that no server uses (their .in-use
    lock can be taken exclusively, and is held while deleting), and the .tmp-<pid> and
    .del-<pid> folders of processes that are gone. Venvs in use are left for a later cleanup.
    Run after an install, under venv.lock; say reports each decision. The folders deleted."""
    removed: list[Path] = []
    try:
        entries = sorted((data / "venvs").iterdir())
    except OSError:
        return removed
    for entry in entries:
        if entry.name == keep.name or entry.is_symlink() or not entry.is_dir():
            continue
        _, sep, pid = entry.name.rpartition(".tmp-")
        if not sep:
            _, sep, pid = entry.name.rpartition(".del-")
        if sep:  # an install or deletion: leave it to its process while that runs
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
            continue
        try:
            fd = _open_in_use(entry)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                say(f"keeping {entry}: a server still runs from it (deleted after a later install)")
                continue
            _discard(entry)
            removed.append(entry)
            say(f"deleted unused venv {entry}")
        finally:
            os.close(fd)
    return removed
