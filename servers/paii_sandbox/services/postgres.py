"""A stateful Postgres primary/replica pair for the failover runbook, behind ``psql`` and ``kubectl`` shims.

Postgres has no HTTP API, so this service answers ``POST /v1/psql`` and ``POST /v1/kubectl`` with
``{"argv": [...]}`` (Bearer token) and returns ``{"stdout", "stderr", "exit_code"}``. :func:`env`
writes ``psql`` and ``kubectl`` scripts into ``<sandbox>/bin`` that forward their argv here and
print the answer with its exit code, and points the runbook server at that folder
(``PAII_RUNBOOK_BIN_DIRS``), so the same runbook with real ``psql -h ... -c`` commands runs
against the sandbox. ``kubectl`` here only patches and reads the database endpoint Service.

Only the SQL the shipped runbooks send is understood (:data:`_postgres_sql.SQL`, an explicit table); anything
else is an ``ERROR`` like the real server's. The story: read-only on -> active transactions drain
12 -> 8 -> 3 -> 0 over successive polls -> the replica catches up (LSNs equal) -> pg_promote ->
the endpoint moves -> old connections are terminated and reconnect to the new primary.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from paii_sandbox.services._postgres_sql import SQL, PgState, Server, SqlError, _lsn, _lsn_text, render, run_sql

__all__ = ["NAME", "PORT_OFFSET", "SQL", "TOKEN", "PgState", "Server", "SqlError", "create_app", "dump", "env", "kubectl",
           "psql", "render", "run_sql", "seed"]

NAME = "postgres"
PORT_OFFSET = 4
TOKEN = "sandbox-postgres"
PSQL_VALUE = set("hpUdcFvPRT")  # short options of psql that take a value


def seed(data: dict[str, Any], now: datetime) -> PgState:
    servers = {}
    for name, spec in (data.get("servers") or {}).items():
        spec = dict(spec)
        servers[name] = Server(name=name, role=spec.get("role", "primary"), lsn=_lsn(str(spec.get("lsn", "0/0"))),
                               lag_s=float(spec.get("lag_s", 0)), disk_used_pct=float(spec.get("disk_used_pct", 0)),
                               connections=int(spec.get("connections", 0)), active=int(spec.get("active_transactions", 0)),
                               drain=[int(x) for x in spec.get("drain") or []], upstream=spec.get("upstream"),
                               activity=list(spec.get("activity") or []))
    endpoints = {f"{e['namespace']}/{e['service']}": e["host"] for e in data.get("endpoints") or []}
    return PgState(servers=servers, endpoints=endpoints)


def dump(state: PgState) -> dict[str, Any]:
    out = {n: {**asdict(s), "lsn": _lsn_text(s.lsn)} for n, s in state.servers.items()}
    return {"servers": out, "endpoints": state.endpoints, "statements": state.statements[-50:]}


def error_body(status: int) -> tuple[dict[str, Any], str]:
    return {"stdout": "", "stderr": f"psql: error: server closed the connection unexpectedly (HTTP {status})\n",
            "exit_code": 2}, "application/json"


def psql(state: PgState, argv: list[str], env: dict[str, str]) -> tuple[str, str, int]:
    host, commands, aligned, tuples_only, sep, quiet = env.get("PGHOST"), [], True, False, "|", False
    i = 0
    while i < len(argv):
        a = argv[i]
        long = {"--host": "h", "--command": "c", "--field-separator": "F", "--port": "p", "--username": "U",
                "--dbname": "d", "--set": "v"}
        if a.startswith("--"):
            key, _, val = a.partition("=")
            if key in long:
                if not val:
                    i += 1
                    val = argv[i] if i < len(argv) else ""
                opt, flags = long[key], ""
            else:
                flags, opt, val = {"--no-align": "A", "--tuples-only": "t", "--quiet": "q"}.get(key, ""), "", ""
        elif a.startswith("-") and len(a) > 1:
            opt, val, flags = "", "", ""
            for j, ch in enumerate(a[1:]):
                if ch in PSQL_VALUE:
                    opt, val = ch, a[j + 2:]
                    if not val:
                        i += 1
                        val = argv[i] if i < len(argv) else ""
                    break
                flags += ch
        else:
            opt, val, flags = "", "", ""  # dbname / username positionals
        aligned = aligned and "A" not in flags
        tuples_only = tuples_only or "t" in flags
        quiet = quiet or "q" in flags
        if opt == "h":
            host = val
        elif opt == "c":
            commands.append(val)
        elif opt == "F":
            sep = val
        i += 1
    if not host:
        return "", "psql: error: the sandbox psql needs a host: -h HOST (or PGHOST)\n", 2
    srv = state.servers.get(host)
    if srv is None:
        return "", f'psql: error: could not translate host name "{host}" to address: Name or service not known\n', 2
    if not commands:
        return "", "psql: error: the sandbox psql runs -c commands only (no interactive session, no -f)\n", 2
    out = []
    for sql in commands:
        try:
            for result in run_sql(state, srv, sql):
                out.append(render(result, aligned=aligned, tuples_only=tuples_only, sep=sep, quiet=quiet))
        except SqlError as exc:
            return "".join(out), f"ERROR:  {exc}\n", 1
    return "".join(out), "", 0


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
        with world.lock:
            if request.path_params["tool"] == "psql":
                out, err, code = psql(state, argv, {k: str(v) for k, v in (body.get("env") or {}).items()})
            else:
                out, err, code = kubectl(state, argv)
        return JSONResponse({"stdout": out, "stderr": err, "exit_code": code})

    async def show(request: Request) -> JSONResponse:
        with world.lock:
            return JSONResponse(dump(state))

    return Starlette(routes=[Route("/v1/{tool:str}", handle, methods=["POST"]), Route("/v1/state", show, methods=["GET"])])


SHIM = '''#!{python} -S
"""Sandbox stand-in for `{tool}`: forwards its arguments to the PAII sandbox's Postgres service."""
import json, os, socket, sys
HOST, PORT, PATH = {host!r}, {port!r}, {path!r}
env = {{k: os.environ[k] for k in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE") if k in os.environ}}
body = json.dumps({{"argv": sys.argv[1:], "env": env}}).encode()
head = (f"POST {{PATH}} HTTP/1.1\\r\\nHost: {{HOST}}:{{PORT}}\\r\\nAuthorization: Bearer {token}\\r\\n"
        f"Content-Type: application/json\\r\\nContent-Length: {{len(body)}}\\r\\nConnection: close\\r\\n\\r\\n")
try:
    with socket.create_connection((HOST, PORT), timeout=30) as conn:
        conn.sendall(head.encode() + body)
        raw = b"".join(iter(lambda: conn.recv(65536), b""))
    out = json.loads(raw.partition(b"\\r\\n\\r\\n")[2] or b"{{}}")
except (OSError, ValueError) as exc:
    sys.stderr.write(f"{tool}: error: cannot reach the sandbox at {{HOST}}:{{PORT}}: {{exc}}\\n")
    sys.exit(2)
sys.stdout.write(out.get("stdout", ""))
sys.stderr.write(out.get("stderr", ""))
sys.exit(int(out.get("exit_code", 1)))
'''


def env(base_url: str, sandbox_dir: Path) -> dict[str, str]:
    import sys
    import tempfile
    from urllib.parse import urlsplit

    url = urlsplit(base_url)
    folder = Path(sandbox_dir)
    if not folder.is_absolute():  # a runner without a folder passes "." (the working directory: a checkout)
        folder = Path(tempfile.gettempdir()) / f"paii-sandbox-postgres-{url.port}"
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("psql", "kubectl"):
        path = bin_dir / tool
        path.write_text(SHIM.format(python=sys.executable, tool=tool, host=url.hostname, port=url.port or 80,
                                    path=f"{url.path.rstrip('/')}/v1/{tool}", token=TOKEN))
        path.chmod(0o755)
    return {"PAII_RUNBOOK_BIN_DIRS": str(bin_dir)}
