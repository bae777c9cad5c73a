"""Run state on disk: ``$PAII_HOME/runbooks/runs/<run id>.json``, one JSON file per open run;
a finished run (dry runs included) moves to ``runs/finished/``, so finding the open runs reads
only the open ones.

Every change is a read-modify-write under an exclusive ``flock`` on ``<run id>.lock`` (the
server, a second server and ``paii runbook approve`` may touch the same run), written to a
temporary file, fsynced and renamed into place, so a crash leaves the old state or the new one.
A command never runs while the lock is held: the step is marked ``running`` (with the process
id), the lock released, the command run, and the result written under the lock again. What
became of a step still marked ``running`` whose server is gone: :mod:`paii_runbook.recovery`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paii_common.errors import InvalidInput, NotFound
from paii_common.local import atomic_write

RUN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,126}$")


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, indent=1, ensure_ascii=False, default=str))


class RunStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def new_id(self, runbook: str, now: dt.datetime) -> str:
        return f"{runbook}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"

    @staticmethod
    def _check(run_id: str) -> str:
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise InvalidInput(f"run id {str(run_id)[:60]!r} is not valid: use the run_id start_run returned "
                               "(e.g. database-failover-20260102-020000-3fa1)")
        return run_id

    def path(self, run_id: str) -> Path:
        """Where the run's state is (an open run's place when it is nowhere yet). A finished run's
        file wins over an open one a crash left behind while it was being moved."""
        open_path = self.root / f"{self._check(run_id)}.json"
        done = self.root / "finished" / open_path.name
        return done if done.exists() else open_path

    def load(self, run_id: str) -> dict[str, Any]:
        path = self.path(run_id)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound(f"no run {run_id!r}: start one with start_run (list_runbooks shows each runbook's open runs)") from None
        except ValueError as exc:
            raise InvalidInput(f"the state of run {run_id} ({path}) cannot be read ({exc}): restore or delete the file") from None

    def save(self, state: dict[str, Any]) -> None:
        """Write the state now (the caller holds its lock: inside :meth:`update`)."""
        self._save(state)

    def _save(self, state: dict[str, Any]) -> None:
        open_path = self.root / f"{state['id']}.json"
        if state.get("status") == "finished":
            atomic_write_json(self.root / "finished" / open_path.name, state)
            open_path.unlink(missing_ok=True)
        else:
            atomic_write_json(open_path, state)

    def create(self, state: dict[str, Any]) -> None:
        with self._lock(state["id"]):
            self._save(state)

    @contextlib.contextmanager
    def _lock(self, run_id: str) -> Iterator[None]:
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{run_id}.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def update(self, run_id: str) -> Iterator[dict[str, Any]]:
        """The run's state under the lock; written back when the block ends without an exception.
        An unknown run id is NotFound before anything is created (no lock file)."""
        if not self.path(run_id).exists():
            self.load(run_id)  # raises NotFound (or InvalidInput for a malformed id)
        with self._lock(run_id):
            state = self.load(run_id)
            yield state
            self._save(state)

    def all(self) -> list[dict[str, Any]]:
        """The open runs' states (finished ones are in finished/)."""
        out = []
        if not self.root.is_dir():
            return out
        for p in sorted(self.root.glob("*.json")):
            if (self.root / "finished" / p.name).exists():
                continue  # moved to finished/ by a process that stopped before removing this copy
            try:
                out.append(json.loads(p.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        return out

    def open_runs(self, runbook: str | None = None) -> list[dict[str, Any]]:
        return [s for s in self.all() if s.get("status") != "finished" and (runbook is None or s.get("runbook") == runbook)]
