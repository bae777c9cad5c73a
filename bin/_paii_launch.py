"""What bin/paii-mcp and bin/paii share (Python 3.11+ standard library only): where the plugin
and its own data folder are, the venv with PAII's dependencies (built once per dependency set,
detached from the client), and the environment PAII's code runs with.

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
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_BIN = str(Path(__file__).resolve().parent)
if _BIN not in sys.path:
    sys.path.insert(0, _BIN)
import _paii_venvs  # noqa: E402
from _paii_venvs import IN_USE_NAME, _discard, mark_in_use, venv_dir  # noqa: E402,F401

STAMP_NAME = ".paii-stamp"
STATS_NAME = "install-stats.json"
#: what a plugin data folder holds of its own; anything else there is PAII data an older
#: version kept in it (PAII_HOME was the plugin data folder), moved to the data home once
PLUGIN_OWN = frozenset({"venvs", "venv", "tools", "install.log", STATS_NAME, "venv.lock", "pycache", "logs",
                        ".model-fetch", "data-home.json", "data-home.lock"})
VERBOSE = sys.stderr.isatty()  # a person at a terminal sees the installer's progress
_LOG = None  # install.log while an install runs


def env_value(name: str) -> str | None:
    """An environment value, or None when it is empty or an unexpanded placeholder."""
    value = os.environ.get(name, "").strip()
    return value if value and "${" not in value else None


def say(msg: str, *, error: bool = False, prog: str = "paii-mcp") -> None:
    line = f"{prog}: {msg}"
    if _LOG:
        _LOG.write(line + "\n")
        _LOG.flush()
    if VERBOSE or error:
        print(line, file=sys.stderr, flush=True)


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
        _write_atomic(launcher_cache() / POINTERS, json.dumps({**known, key: str(data)}, indent=1))
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
def read_dependencies(pyproject: Path) -> list[str]:
    import tomllib

    with open(pyproject, "rb") as fh:
        return list(tomllib.load(fh)["project"].get("dependencies", []))


def compute_stamp(dependencies: list[str], python_version: str | None = None) -> str:
    """Identifies what the venv must contain: the dependency list and the interpreter version."""
    version = python_version or f"{platform.python_implementation()}-{platform.python_version()}"
    payload = json.dumps({"dependencies": dependencies, "python": version}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
    os.replace(tmp, path)


def _run(cmd: list[str], log, env: dict[str, str] | None = None) -> bool:
    """Run cmd; its output goes to the log (and a terminal), never to stdout. True on success."""
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    started = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env)
    except OSError as exc:
        log.write(f"cannot run: {exc}\n")
        return False
    assert proc.stdout is not None
    for line in iter(proc.stdout.readline, b""):
        text = line.decode(errors="replace")
        if VERBOSE:
            sys.stderr.write(text)
        log.write(text)
        log.flush()
    sys.stderr.flush()
    rc = proc.wait()
    log.write(f"[exit {rc} after {time.monotonic() - started:.1f}s]\n")
    log.flush()
    return rc == 0


def _uv_env() -> dict[str, str]:
    """uv does not read pip's configuration: use the system's certificates (as pip does; needed
    behind TLS-inspecting proxies) and carry over index settings given as PIP_* variables."""
    env = dict(os.environ)
    if not any(env.get(v) for v in ("UV_NATIVE_TLS", "UV_SYSTEM_CERTS")):
        env["UV_SYSTEM_CERTS"] = "1"  # uv >= 0.9 (the variable is renamed)
        env["UV_NATIVE_TLS"] = "1"  # older uv
    for pip_var, uv_var in (("PIP_INDEX_URL", "UV_INDEX_URL"), ("PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL")):
        if env.get(pip_var) and not env.get(uv_var):
            env[uv_var] = env[pip_var]
    return env


def find_uv(data: Path, log) -> str | None:
    """uv on PATH, else one bootstrapped into <data>/tools with pip, else None."""
    found = shutil.which("uv")
    if found:
        return found
    tools = data / "tools"
    local = tools / "bin" / "uv"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    say("uv not found; bootstrapping it with pip into " + str(tools))
    if _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(tools), "uv"], log) and local.is_file():
        return str(local)
    say("could not bootstrap uv; falling back to pip (slower)")
    return None


def build_venv(venv: Path, deps: list[str], data: Path, log) -> bool:
    """Create the venv at venv (a temporary folder, renamed into place by install) and install
    deps into it; True on success. The server only runs `<venv>/bin/python -m ...`, which works
    from the renamed folder (console scripts in bin/ keep the temporary path)."""
    if venv.exists():
        shutil.rmtree(venv)
    python = venv / "bin" / "python"
    uv = find_uv(data, log)
    if uv:
        env = _uv_env()
        if (_run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], log, env)
                and _run([uv, "pip", "install", "--python", str(python), *deps], log, env)):
            return True
        say("uv failed; retrying with pip (slower)")
        shutil.rmtree(venv, ignore_errors=True)
    return (_run([sys.executable, "-m", "venv", str(venv)], log)
            and _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", *deps], log))


def venv_paths(root: Path, data: Path) -> tuple[Path, Path, list[str], str]:
    """(python, stamp file, dependencies, stamp) of the venv this plugin version needs."""
    deps = read_dependencies(root / "pyproject.toml")
    stamp = compute_stamp(deps)
    venv = venv_dir(data, stamp)
    return venv / "bin" / "python", venv / STAMP_NAME, deps, stamp


_venv_paths = venv_paths  # older name, kept for callers outside bin/


def ready(python: Path, stamp_file: Path, want: str) -> bool:
    return _read(stamp_file) == want and python.exists()


_ready = ready


def cleanup_venvs(data: Path, keep: Path) -> list[Path]:
    """_paii_venvs.cleanup_venvs, reporting to install.log (and a terminal)."""
    return _paii_venvs.cleanup_venvs(data, keep, say)


def folder_bytes(path: Path) -> int:
    """The size of the files under path (not following links); 0 when it is gone."""
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def fail_message(data: Path) -> str:
    log_path = data / "install.log"
    try:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
    except OSError:
        tail = []
    return ("dependency install failed; last lines of the log:\n  " + "\n  ".join(tail)
            + f"\nFull log: {log_path}. Check access to the package index, then run "
            f"`{plugin_root() / 'bin' / 'paii-mcp'} --setup` in a terminal (or restart Claude Code).")


def install(root: Path, data: Path) -> Path:
    """Build the venv of the current stamp under an exclusive lock unless it is ready, then
    delete the unused ones (cleanup_venvs); its python. Exits 1 when the install fails."""
    global _LOG
    python, stamp_file, deps, want = venv_paths(root, data)
    if ready(python, stamp_file, want):
        return python
    data.mkdir(parents=True, exist_ok=True)
    log_path = data / "install.log"
    with open(data / "venv.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another server may be installing: wait for it
        if ready(python, stamp_file, want):
            return python
        venv = python.parent.parent
        building = venv.with_name(f"{venv.name}.tmp-{os.getpid()}")  # never counts as ready
        started = time.monotonic()
        with open(log_path, "a") as log:
            _LOG = log
            try:
                stats = read_stats(data)
                _write_atomic(data / STATS_NAME, json.dumps({**stats, "started": time.time(), "stamp": want}))
                log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} stamp {want}\n")
                say(f"installing {len(deps)} dependencies into {venv} (one-off; log: {log_path})")
                venv.parent.mkdir(parents=True, exist_ok=True)
                ok = build_venv(building, deps, data, log)
                seconds = time.monotonic() - started
                say(f"install {'finished' if ok else 'FAILED'} after {seconds:.1f}s")
                if ok:
                    size = folder_bytes(building)
                    _write_atomic(data / STATS_NAME, json.dumps({"bytes": size, "seconds": round(seconds, 1)}))
                    _write_atomic(building / STAMP_NAME, want)
                    (building / IN_USE_NAME).touch()
                    if venv.exists():  # not ready (say a stamp file deleted by hand): replace it
                        _discard(venv)
                    os.rename(building, venv)  # atomic: the venv appears complete or not at all
                    cleanup_venvs(data, keep=venv)
                    if (data / "venv").is_dir():
                        say(f"{data / 'venv'} (the venv of older launchers) is no longer used: delete"
                            " it once no Claude Code session runs an older PAII")
                else:
                    _write_atomic(data / STATS_NAME, json.dumps({**stats, "failed": time.time(), "stamp": want}))
                    shutil.rmtree(building, ignore_errors=True)
            finally:
                _LOG = None
        if not ok:
            say(fail_message(data), error=True)
            sys.exit(1)
    return python


#: what a first install measured on a Linux machine (bench/cold_start.py prints it): until this
#: machine has installed once, the progress message is based on these
EXPECTED_BYTES = 530 * 1024 * 1024
EXPECTED_SECONDS = 90.0


def read_stats(data: Path) -> dict:
    """install-stats.json: the last successful install's size and time, a running one's start."""
    try:
        stats = json.loads((data / STATS_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return stats if isinstance(stats, dict) else {}


def install_progress(root: Path, data: Path, now: float | None = None) -> str:
    """One line for a person or a model: how far the install is and when to try again."""
    _, _, _, want = venv_paths(root, data)
    stats = read_stats(data)
    now = time.time() if now is None else now
    total = float(stats.get("bytes") or EXPECTED_BYTES)
    typical = float(stats.get("seconds") or EXPECTED_SECONDS)
    started = float(stats["started"]) if stats.get("stamp") == want and stats.get("started") else now
    elapsed = max(0.0, now - started)
    building = sorted(venv_dir(data, want).parent.glob(venv_dir(data, want).name + ".tmp-*"))
    done = folder_bytes(building[-1]) if building else 0
    if done > 0.15 * total and elapsed > 0:  # packages are landing: their pace tells the rest
        left = (total - done) * elapsed / done
    else:  # still resolving and downloading (uv copies into the venv at the end)
        left = typical - elapsed if typical > elapsed else typical * 0.25
    left = max(5, int(left + 0.5))
    mb = 1024 * 1024
    where = f"{min(done, total) / mb:.0f} of {total / mb:.0f} MB" if done else f"{total / mb:.0f} MB to install"
    return (f"installing PAII's Python packages (a one-off after installing or updating PAII): {where}, "
            f"{elapsed:.0f} s so far, about {left} s left. Call this tool again then. "
            f"Progress: {data / 'install.log'}")


def last_install_failed(data: Path, root: Path) -> bool:
    stats = read_stats(data)
    return bool(stats.get("failed")) and stats.get("stamp") == venv_paths(root, data)[3]


def installing(data: Path) -> bool:
    """True while an install holds venv.lock."""
    try:
        fd = os.open(data / "venv.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def start_setup(data: Path) -> subprocess.Popen:
    """`paii-mcp --setup` detached from this process and its client (its own session, output to
    install.log), so the install completes even when the client stops waiting or quits."""
    data.mkdir(parents=True, exist_ok=True)
    with open(data / "install.log", "a") as log:
        return subprocess.Popen([sys.executable, str(Path(_BIN) / "paii-mcp"), "--setup"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)


def ensure_venv(root: Path, data: Path) -> Path:
    """The venv's python, installing it first when needed: here with its progress at a terminal,
    else in a detached `paii-mcp --setup` that outlives a client which gives up waiting."""
    python, stamp_file, _, want = venv_paths(root, data)
    if ready(python, stamp_file, want):
        return python
    if VERBOSE:
        return install(root, data)
    start_setup(data).wait()
    if not ready(python, stamp_file, want):
        say(fail_message(data), error=True)
        sys.exit(1)
    return python


def venv_python_in_use(root: Path, data: Path) -> tuple[str, int | None]:
    """The venv's python (installing first if needed), with the venv marked in use (see
    mark_in_use; the fd is returned). A cleanup may delete the venv between the readiness check
    and the lock; the readiness is checked again under the lock, and the venv rebuilt."""
    _, stamp_file, _, want = venv_paths(root, data)
    for _ in range(3):
        python = ensure_venv(root, data)
        fd = mark_in_use(python.parent.parent)
        if fd is not None and ready(python, stamp_file, want):
            return str(python), fd
        if fd is not None:
            os.close(fd)
    return str(python), None  # exec then fails with a message


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
            _write_atomic(record, json.dumps(doc, indent=2))
    except (OSError, ValueError):
        return None
    return (f"Note for the person (once): PAII {doc['summary']}. The `paii` command, Claude Code and other "
            f"editors now share {doc.get('data_home')}.")
