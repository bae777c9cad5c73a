"""Approval records are sealed: an HMAC-SHA256 over what was approved, with a key only PAII reads.

The key is ``$PAII_CONFIG_DIR/approval.key`` (default ``~/.config/paii/approval.key``), 32 random
bytes written as hex, created with mode 0600 on first use. It never lives in ``PAII_HOME``, where
the run state is: a record appended to or edited in ``runs/<run id>.json`` (a ``command_sha256``
anyone can compute from what ``get_runbook`` shows) carries no valid seal and is refused. In
Claude Code the Bash guard asks the person before any tool touches the key or the run state.

A seal covers (run id, step, command sha256, by, via, at, expires): changing any of them, the
run it belongs to included, breaks it. A new key (the file deleted) voids every approval sealed
with the old one; they are refused, and the person approves again.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Any

from paii_common.errors import Conflict

SEALED = ("step", "command_sha256", "by", "via", "at", "expires")


def _check_file(path: Path) -> None:
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise Conflict(f"the approval key {path} is not a plain file (a link or something else): PAII will not use it. "
                       "Delete it; PAII creates a new one (approvals given before must be given again).")
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise Conflict(f"the approval key {path} can be read or changed by other users (mode {stat.S_IMODE(st.st_mode):o}): "
                       f"PAII will not use it. Run `chmod 600 {path}` in your terminal (if only you own it), or delete it "
                       "so PAII creates a new one.")


def _create(path: Path) -> None:
    """Write a new key next to path, then link it into place (never over an existing key)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and fails if another process made the key first
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def load_key(path: Path) -> bytes:
    """The key at path, created (0600) when there is none."""
    for _ in range(3):
        try:
            _check_file(path)
        except FileNotFoundError:
            _create(path)
            continue
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            text = fh.read(200).strip()
        try:
            key = bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            key = b""
        if len(key) >= 32:
            return key
        time.sleep(0.05)
    raise Conflict(f"the approval key {path} cannot be read as a key: delete it, and PAII creates a new one "
                   "(approvals given before must be given again).")


def _message(run_id: str, rec: dict[str, Any]) -> bytes:
    return json.dumps([run_id, *(rec.get(k) for k in SEALED)], separators=(",", ":"), ensure_ascii=True).encode()


def seal(key: bytes, run_id: str, rec: dict[str, Any]) -> str:
    return hmac.new(key, _message(run_id, rec), hashlib.sha256).hexdigest()


def valid(key: bytes, run_id: str, rec: dict[str, Any]) -> bool:
    mac = rec.get("seal")
    return isinstance(mac, str) and hmac.compare_digest(mac, seal(key, run_id, rec))
