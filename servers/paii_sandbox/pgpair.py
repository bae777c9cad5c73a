"""A real PostgreSQL primary and streaming standby for the sandbox, on free loopback ports.

The server programs come from :mod:`paii_sandbox.pgbin` (:func:`find_installation`). :class:`Pair`
copies a template pair, made once per installation: the primary (``initdb``, the ``payments``
schema) and ``replica-postgres-01`` taken from it with ``pg_basebackup`` (``standby.signal`` and a
``primary_conninfo`` naming it, so ``pg_stat_replication`` shows it by name). Each start writes
``paii-sandbox.conf`` (port, upstream), which both ``postgresql.conf`` files include, and starts
both with ``pg_ctl``.

As root the servers run as the ``postgres`` user, with their data in a folder of the temporary
directory that user can reach; the sandbox folder's ``postgres`` entry links to it. No server
outlives the sandbox: a keeper process (:mod:`paii_sandbox.pgkeeper`) holds a pipe from the
sandbox and stops both servers (fast shutdown) when the pipe closes, also when the sandbox is
killed. Pairs whose sandbox folder is gone are swept away (:func:`sweep`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from paii_common.local import pid_alive
from paii_sandbox.pgbin import (  # noqa: F401 - find_installation and Installation are this module's API too
    Installation,
    PostgresError,
    _as_user,
    _mkdirs,
    _own,
    _run_user,
    data_root,
    find_installation,
    free_port,
    templates_root,
)

PRIMARY, STANDBY = "primary-postgres", "replica-postgres-01"
TEMPLATE_VERSION = "2"  # bump when SCHEMA or BASE_CONF change
BASE_CONF = """
# --- PAII sandbox (a disposable local pair: durability is traded for speed) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 140
shared_buffers = 16MB
fsync = off
full_page_writes = off
wal_keep_size = 64MB
max_wal_senders = 5
hot_standby = on
wal_receiver_status_interval = 1s
log_min_messages = warning
include_if_exists = 'paii-sandbox.conf'
"""
#: the application's database: what payments-api's pool reads and writes
SCHEMA = """
CREATE TABLE ledger (id bigserial PRIMARY KEY, batch_id int NOT NULL, account text NOT NULL,
                     amount_cents bigint NOT NULL, settled boolean NOT NULL DEFAULT false,
                     created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO ledger (batch_id, account, amount_cents)
  SELECT 7741, 'acct_' || g, (g * 137) % 50000 FROM generate_series(1, 400) g;
CREATE TABLE settlement_batches (id int PRIMARY KEY, day date NOT NULL, status text NOT NULL,
                                 refunds_waiting int NOT NULL DEFAULT 0);
INSERT INTO settlement_batches VALUES (7741, '2026-01-01', 'running', 0);
CREATE TABLE web_requests (worker int PRIMARY KEY, served bigint NOT NULL DEFAULT 0);
INSERT INTO web_requests (worker) SELECT g FROM generate_series(0, 499) g;
"""


def _tail(path: Path, n: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------------- the pair
class Pair:
    """Two real servers: :data:`PRIMARY` and its streaming standby :data:`STANDBY`."""

    def __init__(self, inst: Installation, files_dir: Path, *, ephemeral: bool = False) -> None:
        self.inst = inst
        self.files_dir = files_dir
        self.root = data_root(files_dir, ephemeral)
        self.ephemeral = ephemeral
        self.ports: dict[str, int] = {}
        self._keeper: subprocess.Popen | None = None
        self.lock = threading.RLock()

    def data(self, name: str) -> Path:
        return self.root / name

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def dsn(self, name: str, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports[name]}/{database}"

    # ------------------------------------------------------------------ programs
    def _pg(self, tool: str, *args: str, timeout: float = 60) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", HOME=str(self.root.parent))
        try:
            done = subprocess.run([self.inst.tool(tool), *args], capture_output=True, text=True, timeout=timeout, env=env,
                                  stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(self.root.parent), **_as_user())
        except subprocess.TimeoutExpired:
            raise PostgresError(f"{tool} did not finish within {timeout:g} s") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise PostgresError(f"{tool} {' '.join(args[:3])} failed ({done.returncode}): {' | '.join(detail)}")
        return done.stdout

    # ------------------------------------------------------------------ template
    def template(self) -> Path:
        """A stopped pair made once per installation and copied for each new pair: the primary (initdb,
        the schema) and its standby (pg_basebackup of it, with ``standby.signal``)."""
        key = hashlib.sha256(f"{TEMPLATE_VERSION}|{self.inst.bin_dir}|{self.inst.version}|{BASE_CONF}|{SCHEMA}".encode())
        base = templates_root()
        done = base / key.hexdigest()[:16]
        if (done / STANDBY / "standby.signal").exists():
            return done
        _mkdirs(base)
        building = base / f"{done.name}.building-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(building, ignore_errors=True)
        saved, saved_ports = self.root, self.ports
        try:
            self.root = building
            _mkdirs(building)
            primary, standby = building / PRIMARY, building / STANDBY
            self._pg("initdb", "-D", str(primary), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                     "--wal-segsize=1", "--no-sync", "--no-instructions", timeout=120)
            with (primary / "postgresql.conf").open("a") as conf:
                conf.write(BASE_CONF)
            self.ports = {PRIMARY: free_port(), STANDBY: free_port()}
            self._start_one(PRIMARY, keep=False)
            try:
                from paii_sandbox.pgpool import connect

                conn = connect(self.ports[PRIMARY], "postgres")
                conn.run("CREATE DATABASE payments")
                conn.close()
                conn = connect(self.ports[PRIMARY], "payments")
                for statement in (s.strip() for s in SCHEMA.split(";")):
                    if statement:
                        conn.run(statement)
                conn.close()
                self._pg("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.ports[PRIMARY]), "-U", "postgres", "-D",
                         str(standby), "-X", "stream", "-c", "fast", "--no-sync", timeout=120)
                (standby / "standby.signal").touch()
                _own(standby / "standby.signal")
            finally:
                self._pg("pg_ctl", "-D", str(primary), "-w", "-m", "fast", "stop")
            for name in (PRIMARY, STANDBY):
                (building / name / "paii-sandbox.conf").unlink(missing_ok=True)
                self.log(name).unlink(missing_ok=True)
            try:
                building.rename(done)
            except OSError:  # another sandbox made it meanwhile
                pass
        finally:
            self.root, self.ports = saved, saved_ports
            shutil.rmtree(building, ignore_errors=True)
        return done

    # ------------------------------------------------------------------ build, start, stop
    def _write_conf(self, data: Path, name: str, port: int, upstream: int | None = None) -> None:
        lines = [f"port = {port}", f"cluster_name = '{name}'"]
        if upstream is not None:
            lines.append(f"primary_conninfo = 'host=127.0.0.1 port={upstream} user=postgres application_name={name}'")
        conf = data / "paii-sandbox.conf"
        conf.write_text("\n".join(lines) + "\n")
        _own(conf)

    def built(self) -> str | None:
        """The pair id of the data on disk, or None."""
        try:
            return json.loads((self.root / "pair.json").read_text())["pair_id"]
        except (OSError, ValueError, KeyError):
            return None

    def build(self, pair_id: str) -> None:
        """A fresh pair, copied from the template (the servers must be stopped)."""
        with self.lock:
            template = self.template()
            self.wipe()
            _mkdirs(self.root)
            self._link()
            for name in (PRIMARY, STANDBY):
                shutil.copytree(template / name, self.data(name), symlinks=True)
            user = _run_user()
            if user is not None:
                subprocess.run(["chown", "-R", f"{user[0]}:{user[1]}", str(self.root)], check=True)
            self.ports = {PRIMARY: free_port(), STANDBY: free_port()}
            self._start_one(PRIMARY)
            self._start_one(STANDBY)
            (self.root / "pair.json").write_text(json.dumps({"pair_id": pair_id, "version": self.inst.version,
                                                             "sandbox": str(self.files_dir.resolve())}))
            self._wait_streaming()
        sweep(self.root.parent)

    def _link(self) -> None:
        """``<sandbox>/postgres`` points at the data when it lives elsewhere (root)."""
        own = self.files_dir / "postgres"
        if own == self.root:
            return
        if own.is_symlink() and own.resolve() == self.root.resolve():
            return
        if own.is_symlink() or own.is_file():
            own.unlink()
        elif own.is_dir():
            shutil.rmtree(own)
        own.parent.mkdir(parents=True, exist_ok=True)
        own.symlink_to(self.root, target_is_directory=True)

    def _start_one(self, name: str, keep: bool = True) -> None:
        data = self.data(name)
        upstream = self.ports[PRIMARY] if name == STANDBY and (data / "standby.signal").exists() else None
        self._write_conf(data, name, self.ports[name], upstream)
        if keep:
            self._keep()
        self._stop_stale(data)
        try:
            self._pg("pg_ctl", "-D", str(data), "-l", str(self.log(name)), "-w", "-t", "60", "start", timeout=90)
        except PostgresError as exc:
            raise PostgresError(f"{name} did not start: {exc}; its log: {_tail(self.log(name))}") from None

    def start(self) -> None:
        """Start both servers from their data on disk, on free ports."""
        with self.lock:
            self._link()
            self.ports = {PRIMARY: free_port(), STANDBY: free_port()}
            self._start_one(PRIMARY)
            self._start_one(STANDBY)

    def running(self, name: str) -> bool:
        pid = _postmaster_pid(self.data(name))
        return pid is not None and pid_alive(pid)

    def stop(self) -> None:
        with self.lock:
            for name in (STANDBY, PRIMARY):
                data = self.data(name)
                if self.running(name):
                    try:
                        self._pg("pg_ctl", "-D", str(data), "-w", "-t", "30", "-m", "fast", "stop", timeout=40)
                    except PostgresError:
                        _signal_stop(data)
            if self._keeper is not None:
                self._keeper.stdin.close()  # type: ignore[union-attr]
                try:
                    self._keeper.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self._keeper.kill()
                self._keeper = None
            if self.ephemeral:
                self.wipe()

    def wipe(self) -> None:
        """Remove the pair's data (servers must be stopped)."""
        for name in (PRIMARY, STANDBY):
            _signal_stop(self.data(name))
        shutil.rmtree(self.root, ignore_errors=True)
        own = self.files_dir / "postgres"
        if own.is_symlink():
            own.unlink()

    def _keep(self) -> None:
        """The keeper: stops both servers when the sandbox's end of its pipe closes (exit, crash or kill)."""
        if self._keeper is not None and self._keeper.poll() is None:
            return
        dirs = [str(self.data(PRIMARY)), str(self.data(STANDBY))]
        self._keeper = subprocess.Popen([sys.executable, "-m", "paii_sandbox.pgkeeper", *dirs], stdin=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})

    @staticmethod
    def _stop_stale(data: Path) -> None:
        """A server left running on this folder (a sandbox killed before its keeper acted): stop it."""
        pid = _postmaster_pid(data)
        if pid is not None and pid_alive(pid):
            _signal_stop(data)

    def _wait_streaming(self, timeout: float = 20.0) -> None:
        from paii_sandbox.pgpool import connect

        deadline = time.monotonic() + timeout
        conn = connect(self.ports[PRIMARY], "postgres")
        try:
            while time.monotonic() < deadline:
                rows = conn.run("SELECT state FROM pg_stat_replication WHERE application_name = :n", n=STANDBY)
                if rows and rows[0][0] == "streaming":
                    return
                time.sleep(0.05)
        finally:
            conn.close()
        raise PostgresError(f"{STANDBY} did not start streaming from {PRIMARY} within {timeout:g} s: "
                            f"{_tail(self.log(STANDBY))}")

    # ------------------------------------------------------------------ what it is now
    def role(self, name: str) -> str:
        """primary, standby, read-only (a primary that refuses writes) or down."""
        from paii_sandbox.pgpool import connect

        if name not in self.ports or not self.running(name):
            return "down"
        try:
            conn = connect(self.ports[name], "postgres", timeout=5)
            try:
                recovery, read_only = conn.run("SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')")[0]
            finally:
                conn.close()
        except Exception:
            return "down"
        return "standby" if recovery else ("read-only" if read_only == "on" else "primary")


def sweep(parent: Path) -> None:
    """Remove pairs kept outside their sandbox's folder (as root, or in memory) whose folder is gone
    (a test's temporary folder, say) and whose servers are not running."""
    for root in parent.glob("*/pair.json"):
        try:
            owner = Path(json.loads(root.read_text()).get("sandbox") or "")
        except (OSError, ValueError):
            continue
        folder = root.parent
        if str(owner) in ("", ".") or owner.exists() or folder.name == "templates":
            continue
        if any(pid_alive(pid) for pid in (_postmaster_pid(folder / n) for n in (PRIMARY, STANDBY)) if pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _signal_stop(data: Path, grace: float = 15.0) -> None:
    """Stop the postmaster of ``data`` with signals: fast shutdown, then immediate, then kill."""
    import signal

    pid = _postmaster_pid(data)
    if pid is None:
        return
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.05)
