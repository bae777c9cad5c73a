"""Where a sandbox keeps its files (``$PAII_HOME/sandbox/``), and how the CLI reaches a running one.

    sandbox.json    pid, ports, admin port and token, clock (mode 0600; written once serving)
    state.pickle    the world, saved after writes: a restarted sandbox resumes it (--reset: not)
    writes.log      every write since that save, on disk before it was answered: replayed on start
                    (:mod:`paii_sandbox.writelog`), so a kill -9 loses no acknowledged write
    sandbox.log     the detached process's output
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from paii_common.local import atomic_write, pid_alive
from paii_sandbox.admin import TOKEN_HEADER

__all__ = ["Admin", "default_seed", "load_seed", "pid_alive", "read_info", "sandbox_dir", "write_info"]


def sandbox_dir(home: Path | None = None) -> Path:
    from paii_common.config import paii_home

    return (home or paii_home()) / "sandbox"


def default_seed() -> Path:
    return Path(str(resources.files("paii_sandbox").joinpath("seed.yaml")))


def load_seed(path: Path | None = None) -> dict[str, Any]:
    import yaml

    path = path or default_seed()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the seed must be a mapping with one key per service")
    return data


def write_info(directory: Path, info: dict[str, Any]) -> None:
    atomic_write(directory / "sandbox.json", json.dumps(info, indent=2), mode=0o600)


def read_info(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / "sandbox.json").read_text())
    except (OSError, ValueError):
        return None


class Admin:
    """A client of a running sandbox's admin app."""

    def __init__(self, info: dict[str, Any], timeout: float = 5.0) -> None:
        self.info = info
        self.url = f"http://127.0.0.1:{info['admin_port']}"
        self._client = httpx.Client(base_url=self.url, headers={TOKEN_HEADER: info["admin_token"]}, timeout=timeout)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, path, **kwargs)
        data = response.json()
        if response.status_code >= 400:
            raise ValueError(data.get("error") if isinstance(data, dict) else str(data))
        return data

    def close(self) -> None:
        self._client.close()


def running(directory: Path) -> tuple[dict[str, Any], Admin] | None:
    """The info and an admin client of the sandbox serving from ``directory``, if it answers."""
    info = read_info(directory)
    if not info or not pid_alive(int(info.get("pid", 0))):
        return None
    admin = Admin(info, timeout=2.0)
    try:
        admin.call("GET", "/status")
    except (httpx.HTTPError, ValueError):
        admin.close()
        return None
    return info, admin
