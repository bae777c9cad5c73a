"""Settings of the runbook server (env prefix ``PAII_RUNBOOK_``).

Runbooks are found, in this order (the first file of a name wins): each folder of
``PAII_RUNBOOK_PATH`` (``os.pathsep``-separated, e.g. a team's git checkout), ``$PAII_HOME/runbooks/``,
and the ``runbooks/`` folder that ships with PAII. Run state lives in ``$PAII_HOME/runbooks/runs/``.
"""

from __future__ import annotations

import functools
import getpass
import os
import re
import subprocess
from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from paii_common.config import PaiiSettings, is_set, read_dotenv

#: the runbooks/ folder beside servers/ (the plugin folder, or a source checkout)
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "runbooks"


def _split(value: str, sep: str) -> list[str]:
    return [part.strip() for part in (value or "").split(sep) if part.strip()]


class RunbookSettings(PaiiSettings):
    model_config = SettingsConfigDict(env_prefix="PAII_RUNBOOK_", extra="ignore")
    server_name: ClassVar[str] = "runbook"

    path: str = Field(default="", description="Extra runbook folders, os.pathsep-separated (PAII_RUNBOOK_PATH).")
    bin_dirs: str = Field(
        default="", description="Folders searched before PATH for the programs `run` steps start (PAII_RUNBOOK_BIN_DIRS)."
    )
    maintenance_windows: str = Field(
        default="",
        description="Team maintenance windows, ';'-separated, UTC: 'Sat 02:00-04:00', '2026-01-03 02:00-04:00'.",
    )
    operator: str = Field(
        default="", description="Who runs runbooks here, for the record (default: PAII_USER, git's user.name, the OS user).")
    approval_ttl: float = Field(default=900.0, gt=0, le=86400, description="Seconds an approval stays valid.")
    max_output: int = Field(default=4000, ge=200, le=200_000, description="Characters of a step's output returned.")
    record_output: int = Field(default=2000, ge=100, le=50_000, description="Characters of a step's output recorded.")
    shipped: bool = Field(default=True, description="Also list the runbooks that ship with PAII.")
    max_file_kb: int = Field(default=128, ge=4, le=16_384, description="Largest runbook file read, in KB (PAII_RUNBOOK_MAX_FILE_KB).")

    def runbook_dirs(self) -> list[Path]:
        dirs = [Path(p).expanduser() for p in _split(self.path, os.pathsep)]
        dirs.append(self.home / "runbooks")
        if self.shipped:
            dirs.append(SHIPPED_DIR)
        out: list[Path] = []
        for d in dirs:
            if d not in out:
                out.append(d)
        return out

    def bin_dir_list(self) -> list[Path]:
        return [Path(p).expanduser() for p in _split(self.bin_dirs, os.pathsep)]

    def window_specs(self) -> list[str]:
        return _split(self.maintenance_windows, ";")

    @property
    def runs_dir(self) -> Path:
        return self.home / "runbooks" / "runs"

    def operator_name(self) -> str:
        """Who runs it and approves, for the record: over HTTP the caller's token name (never the
        server's own user or setting); else :func:`person_name`. Never a value a tool call passes."""
        from paii_common import auth

        caller = auth.authenticated_name()
        if caller:
            return caller
        if auth.over_http():  # served without tokens (--no-auth): nobody known
            return "unknown"
        return person_name(self.operator)

    @property
    def approval_key(self) -> Path:
        """The key that seals approval records: in the person's config folder, never in PAII_HOME."""
        from paii_common.config import paii_config_dir

        return paii_config_dir() / "approval.key"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean(name: str) -> str:
    return _CONTROL.sub("", name).strip()[:100]


@functools.lru_cache(maxsize=1)
def _git_user_name() -> str:
    try:
        out = subprocess.run(["git", "config", "--get", "user.name"], capture_output=True, text=True, timeout=3,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    return _clean(out.stdout) if out.returncode == 0 else ""


def person_name(operator: str = "") -> str:
    """The person on this machine: PAII_RUNBOOK_OPERATOR (``operator``), else PAII_USER (environment
    or the .env file), else git's user.name, else the OS user."""
    for value in (operator, os.environ.get("PAII_USER"), read_dotenv().get("PAII_USER")):
        if value and is_set(value) and _clean(value):
            return _clean(value)
    name = _git_user_name()
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (some containers)
        return "unknown"
