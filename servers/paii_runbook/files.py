"""Reading a runbook file that may come from someone else's repository, bounded in what it can do.

A runbook folder is often a team's git checkout: any file in it is untrusted. :func:`read` opens
one file so that no file can hurt the server or reach past its folder:

* a symlink is followed only when its real path stays inside the runbook folder (the history
  store's rule); a link that leaves it, a dangling link or a loop is refused and says so;
* the file is opened without following a last-moment link and without blocking
  (``O_NOFOLLOW | O_NONBLOCK``), then must be a regular file (a FIFO, socket, device or folder
  named ``*.md`` is refused instead of blocking a thread forever);
* at most ``max_bytes`` are read: a larger file is refused with its size and the cap;
* the text must be UTF-8.

Each refusal is an :class:`Unreadable` whose message names the file and what is wrong: the
catalog lists it as that runbook's one problem and every other runbook still works.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

Key = tuple[int, int, int, int]

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class Unreadable(Exception):
    """The file is not read: the message says why and what to do."""


def size_text(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _real(path: Path) -> Path:
    """``path`` with every symlink resolved; Unreadable for a loop or a dangling link."""
    try:
        return path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        raise Unreadable("is a symlink loop: it can never be read; remove it or point it at a runbook file") from None
    except FileNotFoundError:
        if path.is_symlink():
            raise Unreadable(f"is a symlink to {os.readlink(path)}, which does not exist: remove it or fix the link") from None
        raise Unreadable("no longer exists") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise Unreadable("is a symlink loop: it can never be read; remove it or point it at a runbook file") from None
        raise Unreadable(f"cannot be read: {exc.strerror or exc}") from None


def _opened_path(fd: int) -> Path | None:
    """Where the open file really is (Linux ``/proc/self/fd``), or None where that is not known."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None


def read(path: Path, folder: Path | None, max_bytes: int, *,
         unchanged: Callable[[Key], bool] | None = None) -> tuple[Key, str | None]:
    """(the file's identity key, its text): the text is None when ``unchanged(key)`` says the caller
    already has it. ``folder`` is the runbook folder the file must stay in (None for a file the person
    named on the command line). Raises :class:`Unreadable` with the reason."""
    real = _real(path)
    if folder is not None:
        try:
            home = folder.resolve(strict=True)
        except (OSError, RuntimeError):
            raise Unreadable(f"is in a runbook folder that cannot be read ({folder})") from None
        if not real.is_relative_to(home):
            raise Unreadable(f"is a symlink to {real}, outside the runbook folder {folder}: not read (PAII reads "
                             "runbooks only inside their folder); replace the link with the file itself")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == 40:  # the real path became a symlink meanwhile
            raise Unreadable("changed into a symlink while being read: try again") from None
        raise Unreadable(f"cannot be opened: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if folder is not None:
            where = _opened_path(fd)
            if where is not None and not where.is_relative_to(home):
                raise Unreadable(f"led outside the runbook folder {folder} while being opened ({where}): not read")
        if not stat.S_ISREG(st.st_mode):
            raise Unreadable(f"is {_kind(st.st_mode)}, not a regular file: not read; remove it or rename it "
                             "(only *.md files in a runbook folder are read as runbooks)")
        if st.st_size > max_bytes:
            raise Unreadable(_too_large(st.st_size, max_bytes))
        key = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
        if unchanged is not None and unchanged(key):
            return key, None
        chunks, got = [], 0
        while got <= max_bytes:
            chunk = os.read(fd, min(1 << 16, max_bytes + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > max_bytes:  # it grew while being read
            raise Unreadable(_too_large(got, max_bytes, at_least=True))
    finally:
        os.close(fd)
    try:
        return key, b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None


def _too_large(size: int, cap: int, at_least: bool = False) -> str:
    return (f"is {'over ' if at_least else ''}{size_text(size)}; a runbook may be at most {size_text(cap)} "
            "(PAII_RUNBOOK_MAX_FILE_KB): not read. Split it into smaller runbooks, or raise the cap")
