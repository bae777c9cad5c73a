"""The venv of the plugin (Python 3.11+ standard library only), shared by bin/paii-mcp and bin/paii:
one venv per dependency set (stamp) in the plugin's own data folder, built aside under a lock
and renamed into place, installed with uv (or pip) detached from the client, with its progress
readable while it runs (install_progress). The venv store itself (in-use locks, cleanup) is
bin/_paii_venvs.py; bin/paii-mcp --help describes the layout.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
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
VERBOSE = sys.stderr.isatty()  # a person at a terminal sees the installer's progress
_LOG = None  # install.log while an install runs


def say(msg: str, *, error: bool = False, prog: str = "paii-mcp") -> None:
    line = f"{prog}: {msg}"
    if _LOG:
        _LOG.write(line + "\n")
        _LOG.flush()
    if VERBOSE or error:
        print(line, file=sys.stderr, flush=True)


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


def write_atomic(path: Path, text: str) -> None:
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


_venv_paths = venv_paths  # the name tests used


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
    """What failed and how to see why (the last lines of install.log, the --setup command)."""
    log_path = data / "install.log"
    try:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
    except OSError:
        tail = []
    return ("dependency install failed; last lines of the log:\n  " + "\n  ".join(tail)
            + f"\nFull log: {log_path}. Check access to the package index, then run "
            f"`{Path(_BIN) / 'paii-mcp'} --setup` in a terminal (or restart Claude Code).")


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
                write_atomic(data / STATS_NAME, json.dumps({**stats, "started": time.time(), "stamp": want, "pid": os.getpid()}))
                log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} stamp {want}\n")
                say(f"installing {len(deps)} dependencies into {venv} (one-off; log: {log_path})")
                venv.parent.mkdir(parents=True, exist_ok=True)
                ok = build_venv(building, deps, data, log)
                seconds = time.monotonic() - started
                say(f"install {'finished' if ok else 'FAILED'} after {seconds:.1f}s")
                if ok:
                    size = folder_bytes(building)
                    write_atomic(data / STATS_NAME, json.dumps({"bytes": size, "seconds": round(seconds, 1)}))
                    write_atomic(building / STAMP_NAME, want)
                    (building / IN_USE_NAME).touch()
                    if venv.exists():  # not ready (say a stamp file deleted by hand): replace it
                        _discard(venv)
                    os.rename(building, venv)  # atomic: the venv appears complete or not at all
                    cleanup_venvs(data, keep=venv)
                    if (data / "venv").is_dir():
                        say(f"{data / 'venv'} (the venv of older launchers) is no longer used: delete"
                            " it once no Claude Code session runs an older PAII")
                else:
                    write_atomic(data / STATS_NAME, json.dumps({**stats, "failed": time.time(), "stamp": want}))
                    shutil.rmtree(building, ignore_errors=True)
            finally:
                _LOG = None
        if not ok:
            say(fail_message(data), error=True)
            sys.exit(1)
    return python


#: a first install on Linux (452 MB; 13 s from a warm uv cache, minutes when downloading): until this
#: machine has installed once, the progress message is based on these
EXPECTED_BYTES = 450 * 1024 * 1024
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
