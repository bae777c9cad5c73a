"""What bin/paii-mcp and bin/paii share (Python 3.11+ standard library only): where the plugin
and its own data folder are, the environment PAII's code runs with, and the move of an older
plugin's data to the data home. The venv with PAII's dependencies is bin/_paii_install.py.

Two folders, never mixed:
  plugin data  the plugin's own files: venvs/, tools/ (a bootstrapped uv), install.log,
               install-stats.json, venv.lock. ${CLAUDE_PLUGIN_DATA} under Claude Code; run
               from a terminal, the folder Claude Code gives this installed plugin
               (<plugins>/data/<plugin>-<marketplace>, found from this file's place in
               <plugins>/cache/<marketplace>/<plugin>/<version>/, or as the servers noted it
               for a plugin Claude Code runs in place: remember_data_dir); from a checkout
               Claude Code does not run, ~/.cache/paii/launcher.
  data home    history, runbooks, runs, usage: $PAII_HOME, else the per-user data folder
               (~/.local/share/paii). paii_common.config.paii_home() is the rule; this file
               never decides it. Data an older plugin kept in its data folder is moved there
               once (python -m paii_common.datahome, see move_old_data).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

_BIN = str(Path(__file__).resolve().parent)
if _BIN not in sys.path:
    sys.path.insert(0, _BIN)
from _paii_install import STATS_NAME, write_atomic  # noqa: E402

#: what a plugin data folder holds of its own; anything else there is PAII data an older
#: version kept in it (PAII_HOME was the plugin data folder), moved to the data home once
PLUGIN_OWN = frozenset({"venvs", "venv", "tools", "install.log", STATS_NAME, "venv.lock", "pycache", "logs",
                        ".model-fetch", "data-home.json", "data-home.lock", "run"})


def env_value(name: str) -> str | None:
    """An environment value, or None when it is empty or an unexpanded placeholder."""
    value = os.environ.get(name, "").strip()
    return value if value and "${" not in value else None


# ---------------------------------------------------------------------------------- folders
def plugin_root() -> Path:
    """This plugin's folder: the one holding this file (CLAUDE_PLUGIN_ROOT when it names it too)."""
    return Path(__file__).resolve().parent.parent


def _ours(root: Path) -> bool:
    """CLAUDE_PLUGIN_ROOT/DATA describe this plugin (not another plugin whose hook runs paii)."""
    given = env_value("CLAUDE_PLUGIN_ROOT")
    try:
        return given is None or Path(given).resolve() == root.resolve()
    except OSError:
        return False


def claude_code_data_dir(root: Path) -> Path | None:
    """The data folder Claude Code gives an installed plugin: it copies the plugin to
    <plugins>/cache/<marketplace>/<plugin>/<version>/ and keeps its data in
    <plugins>/data/<plugin@marketplace with [^A-Za-z0-9_-] as ->/ (Claude Code 2.1)."""
    root = root.resolve()
    parts = root.parts
    if len(parts) < 5 or parts[-4] != "cache":
        return None
    marketplace, plugin = parts[-3], parts[-2]
    return root.parents[3] / "data" / re.sub(r"[^A-Za-z0-9_-]", "-", f"{plugin}@{marketplace}")


def launcher_cache() -> Path:
    """The venvs of a checkout's launcher run outside Claude Code: the per-user cache folder."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(env_value("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "paii" / "launcher"


POINTERS = "plugin-data.json"  # in launcher_cache(): plugin folder -> the data folder Claude Code gave it


def _pointers() -> dict:
    try:
        known = json.loads((launcher_cache() / POINTERS).read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def remember_data_dir(root: Path, data: Path) -> None:
    """Claude Code runs a plugin added from a local folder (`claude plugin marketplace add
    ~/src/paii`) in place, not from its cache: the data folder it gives it cannot be found from
    the plugin's path. The servers (which get CLAUDE_PLUGIN_DATA) note it here, so that `paii`
    run from that folder by Claude Code's Bash or a terminal uses the same venv."""
    if claude_code_data_dir(root) == data:
        return
    key = str(root.resolve())
    known = _pointers()
    if known.get(key) == str(data):
        return
    try:
        launcher_cache().mkdir(parents=True, exist_ok=True)
        write_atomic(launcher_cache() / POINTERS, json.dumps({**known, key: str(data)}, indent=1))
    except OSError:
        pass  # then paii builds its own venv: slower once, never wrong


def data_dir(root: Path | None = None) -> Path:
    """The plugin's own data folder (see the module docstring)."""
    root = root or plugin_root()
    value = env_value("CLAUDE_PLUGIN_DATA")
    if value and _ours(root):
        return Path(value).expanduser()
    noted = _pointers().get(str(root.resolve()))
    if noted and Path(noted).is_dir():
        return Path(noted)
    return claude_code_data_dir(root) or launcher_cache()


# ---------------------------------------------------------------------------------- the venv


def given_python() -> str | None:
    """PAII_PYTHON: an interpreter that already has the dependencies (no venv)."""
    python = env_value("PAII_PYTHON")
    if python and os.sep not in python:
        python = shutil.which(python) or python
    return python


def child_env(root: Path) -> dict[str, str]:
    """The environment PAII's code runs with: PAII_* values that are empty or unexpanded
    placeholders removed (they mean "not set"), PYTHONPATH=<plugin>/servers first."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("PAII_") and (not v.strip() or "${" in v))}
    servers = str(root / "servers")
    env["PYTHONPATH"] = servers + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


server_env = child_env  # older name


def old_data(data: Path) -> list[str]:
    """Names in the plugin data folder that are PAII data rather than the plugin's own."""
    home = env_value("PAII_HOME")
    if home and Path(home).expanduser().resolve() == data.resolve():
        return []  # the person chose the plugin data folder as the data home
    try:
        return sorted(n for n in os.listdir(data) if n not in PLUGIN_OWN and not n.startswith("install.log."))
    except OSError:
        return []


def move_old_data(python: str, data: Path, env: dict[str, str]) -> None:
    """Move PAII data an older plugin kept in its data folder into the data home, before any PAII
    code opens it (python -m paii_common.datahome: under a lock, nothing lost, said once).
    Cheap when there is nothing to move: one listdir."""
    if not old_data(data):
        return
    with open(data / "install.log", "a") as log:
        subprocess.run([python, "-m", "paii_common.datahome", "--from", str(data)], stdin=subprocess.DEVNULL,
                       stdout=log, stderr=log, env=env, check=False)


def newer_python(argv: list[str], script: Path) -> None:
    """Re-run script under a Python 3.11+ from PATH when this one is older (macOS's python3 is
    3.9); exits 2 with a message when there is none."""
    if sys.version_info >= (3, 11):
        return
    for name in ("python3.13", "python3.12", "python3.11"):
        newer = shutil.which(name)
        if newer:
            os.execv(newer, [newer, str(script), *argv])
    print(f"{script.name}: Python 3.11 or newer is needed, this is {platform.python_version()} "
          f"({sys.executable}); install one (python3.11+ on PATH) or set PAII_PYTHON.", file=sys.stderr)
    sys.exit(2)


def claim_move_note(data: Path) -> str | None:
    """The one-time note about data moved from this plugin data folder to the data home (see
    paii_common.datahome), or None. The first caller gets it and marks it told, under the lock
    the move uses, so one session of one server says it, once."""
    record = data / "data-home.json"
    if not record.exists():
        return None
    try:
        with open(data / "data-home.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            doc = json.loads(record.read_text())
            if doc.get("announced") or not doc.get("summary"):
                return None
            doc["announced"] = True
            write_atomic(record, json.dumps(doc, indent=2))
    except (OSError, ValueError):
        return None
    return (f"Note for the person (once): PAII {doc['summary']}. The `paii` command, Claude Code and other "
            f"editors now share {doc.get('data_home')}.")
