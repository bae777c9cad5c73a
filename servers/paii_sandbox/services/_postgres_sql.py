"""The stand-in for a Postgres pair, used only where no real PostgreSQL can be had (see
:mod:`paii_sandbox.services.postgres`). Its state and the SQL it understands: :class:`Server` and :class:`PgState`,
one handler per statement the shipped runbooks send (:data:`SQL`, an explicit table of patterns),
:func:`run_sql` for one ``-c`` string and :func:`render` for psql's aligned or unaligned output.
:mod:`paii_sandbox.services.postgres` serves them behind its ``psql`` and ``kubectl`` shims.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

PSQL_VALUE = set("hpUdcFvPRT")  # short options of psql that take a value


@dataclass
class Server:
    name: str
    role: str  # primary | replica
    lsn: int
    lag_s: float = 0.0
    disk_used_pct: float = 0.0
    connections: int = 0
    active: int = 0
    drain: list[int] = field(default_factory=list)
    read_only: bool = False
    pending_read_only: bool | None = None
    upstream: str | None = None
    activity: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PgState:
    servers: dict[str, Server]  # the stand-in's servers (unused while a real pair runs)
    endpoints: dict[str, str]  # "namespace/service" -> host
    statements: list[str] = field(default_factory=list)
    pair_id: str = ""  # this seeding's real pair: a reseed rebuilds it
    pool: dict[str, Any] = field(default_factory=dict)  # payments-api's pool story (seed: postgres.pool)
    batch_done: bool = False  # the stuck settlement batch stopped (the database turned read-only)


class SqlError(Exception):
    pass


def _lsn(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def _lsn_text(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:08X}"


# ---------------------------------------------------------------------------------------- SQL
def _primary(state: PgState, srv: Server) -> Server:
    return state.servers.get(srv.upstream or "", srv)


def _replicas(state: PgState, primary: Server, name: str) -> list[Server]:
    return [s for s in state.servers.values() if s.role == "replica" and s.upstream == primary.name and s.name == name]


def _drained(srv: Server) -> bool:
    return srv.read_only and not srv.drain


def sql_set_read_only(state, srv, m):
    srv.pending_read_only = m["value"].lower() in ("on", "true", "1")
    return "ALTER SYSTEM"


def sql_reload(state, srv, m):
    if srv.pending_read_only is not None:
        srv.read_only, srv.pending_read_only = srv.pending_read_only, None
    return (["pg_reload_conf"], [["t"]])


def sql_show_read_only(state, srv, m):
    return ([m["col"] or "default_transaction_read_only"], [["on" if srv.read_only else "off"]])


def sql_active(state, srv, m):
    if srv.read_only and srv.drain:
        srv.active = srv.drain.pop(0)
    return (["count"], [[str(srv.active)]])


def sql_connections(state, srv, m):
    return (["count"], [[str(srv.connections)]])


def sql_activity(state, srv, m):
    rows = [[str(a.get("pid")), str(a.get("usename")), str(a.get("state")), str(a.get("query"))[:60]] for a in srv.activity]
    return (["pid", "usename", "state", "query"], rows if srv.active else [])


def sql_lag(state, srv, m):
    reps = _replicas(state, srv, m["replica"]) if srv.role == "primary" else []
    return (["lag_s"], [[f"{r.lag_s:g}"] for r in reps])


def sql_caught_up(state, srv, m):
    reps = _replicas(state, srv, m["replica"]) if srv.role == "primary" else []
    rows = []
    for r in reps:
        if _drained(srv):
            r.lsn = min(srv.lsn, r.lsn + 0x60) if r.lsn < srv.lsn else srv.lsn
        else:
            srv.lsn += 0x60  # writes go on while the primary takes them
        rows.append([json.dumps({"primary_lsn": _lsn_text(srv.lsn), "replica_lsn": _lsn_text(r.lsn),
                                 "caught_up": r.lsn >= srv.lsn}).replace('": ', '" : ')])
    return (["json_build_object"], rows)


def sql_current_lsn(state, srv, m):
    if srv.role != "primary":
        raise SqlError("recovery is in progress\nHINT:  WAL control functions cannot be executed during recovery.")
    return (["pg_current_wal_lsn"], [[_lsn_text(srv.lsn)]])


def sql_in_recovery(state, srv, m):
    return (["pg_is_in_recovery"], [["t" if srv.role == "replica" else "f"]])


def sql_is_primary(state, srv, m):
    return (["case"], [["no: it is in recovery" if srv.role == "replica" else "yes"]])


def sql_is_streaming_standby(state, srv, m):
    return (["case"], [["yes" if srv.role == "replica" else "no: it is not in recovery"]])


def sql_promote(state, srv, m):
    if srv.role != "replica":
        raise SqlError("recovery is not in progress\nHINT:  Recovery control functions can only be executed during recovery.")
    srv.role, srv.upstream, srv.lag_s = "primary", None, 0.0
    return (["pg_promote"], [["t"]])


def sql_accepts_writes(state, srv, m):
    return (["?column?"], [["t" if srv.role == "primary" and not srv.read_only else "f"]])


def sql_terminate(state, srv, m):
    n = srv.connections
    srv.connections = 0
    targets = [state.servers[h] for h in state.endpoints.values() if h in state.servers]
    if targets:  # clients reconnect through the endpoint
        targets[0].connections += n
    return (["count"], [[str(n)]])


def sql_one(state, srv, m):
    return (["?column?"], [["1"]])


S = r"\s*"
SQL: list[tuple[re.Pattern, Any]] = [(re.compile(p, re.IGNORECASE | re.DOTALL), fn) for p, fn in [
    (r"ALTER SYSTEM SET default_transaction_read_only\s*(=|TO)\s*'?(?P<value>on|off|true|false)'?", sql_set_read_only),
    (r"SELECT pg_reload_conf\(\)", sql_reload),
    (r"SHOW default_transaction_read_only|SELECT current_setting\('default_transaction_read_only'\)(?: AS (?P<col>\w+))?",
     sql_show_read_only),
    (r"SELECT count\(\*\) FROM pg_stat_activity WHERE .*state\s*(<>|!=)\s*'idle'.*", sql_active),
    (r"SELECT count\(pg_terminate_backend\(pid\)\) FROM pg_stat_activity WHERE backend_type = 'client backend'.*",
     sql_terminate),
    (r"SELECT count\(\*\) FROM pg_stat_activity WHERE backend_type = 'client backend'( AND pid <> pg_backend_pid\(\))?",
     sql_connections),
    (r"SELECT pid, usename, state, left\(query, \d+\) FROM pg_stat_activity WHERE .*state\s*(<>|!=)\s*'idle'.*",
     sql_activity),
    (r"SELECT CASE WHEN pg_wal_lsn_diff\(pg_current_wal_flush_lsn\(\), replay_lsn\) < 8192 THEN 0 ELSE round\(COALESCE\("
     r"EXTRACT\(EPOCH FROM replay_lag\), 0\), 3\) END FROM pg_stat_replication WHERE application_name = '(?P<replica>[^']+)'",
     sql_lag),
    (r"SELECT json_build_object\('primary_lsn', pg_current_wal_insert_lsn\(\), 'replica_lsn', replay_lsn, 'caught_up', "
     r"replay_lsn >= pg_current_wal_insert_lsn\(\)\) FROM pg_stat_replication WHERE application_name = '(?P<replica>[^']+)'",
     sql_caught_up),
    (r"SELECT pg_current_wal_lsn\(\)", sql_current_lsn),
    (r"SELECT pg_is_in_recovery\(\)", sql_in_recovery),
    (r"SELECT CASE WHEN pg_is_in_recovery\(\) THEN 'no: it is in recovery' ELSE 'yes' END", sql_is_primary),
    (r"SELECT CASE WHEN NOT pg_is_in_recovery\(\) THEN 'no: it is not in recovery' WHEN \(SELECT status FROM "
     r"pg_stat_wal_receiver\) = 'streaming' THEN 'yes' ELSE 'no: it is not streaming' END", sql_is_streaming_standby),
    (r"SELECT pg_promote\((?:wait\s*=>\s*)?(true|false)?\s*(,\s*(?:wait_seconds\s*=>\s*)?\d+)?\)", sql_promote),
    (r"SELECT NOT pg_is_in_recovery\(\) AND current_setting\('transaction_read_only'\) = 'off'", sql_accepts_writes),
    (r"SELECT 1", sql_one),
]]


def run_sql(state: PgState, srv: Server, sql: str) -> list[Any]:
    """Results of each statement of one -c string: a command tag, or (columns, rows)."""
    out = []
    for stmt in (s.strip() for s in sql.split(";")):
        if not stmt:
            continue
        flat = " ".join(stmt.split())
        state.statements.append(f"{srv.name}: {flat}")
        fn = next(((f, m) for p, f in SQL if (m := p.fullmatch(flat))), None)
        if fn is None:
            raise SqlError(f"the sandbox Postgres does not know this statement: {flat[:120]}\n"
                           "HINT:  it understands the statements of the shipped runbooks (servers/paii_sandbox/services/_postgres_sql.py).")
        out.append(fn[0](state, srv, fn[1]))
    return out


def render(result: Any, *, aligned: bool, tuples_only: bool, sep: str, quiet: bool = False) -> str:
    if isinstance(result, str):
        return "" if quiet else result + "\n"
    cols, rows = result
    if not aligned:
        lines = ([] if tuples_only else [sep.join(cols)]) + [sep.join(r) for r in rows]
        if not tuples_only:
            lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
        return "".join(line + "\n" for line in lines)
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    lines = [] if tuples_only else [" " + " | ".join(c.center(w) for c, w in zip(cols, widths, strict=True)) + " ",
                                    "-" + "-+-".join("-" * w for w in widths) + "-"]
    lines += [" " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    if not tuples_only:
        lines += [f"({len(rows)} row{'s' if len(rows) != 1 else ''})", ""]
    return "".join(line + "\n" for line in lines)


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
