"""The demo's own look at the database around the failover: a row written to the primary before it,
and after it, what each server says (not what the runbook reported).
"""

from __future__ import annotations

from typing import Any

from paii_sandbox.pgpair import PRIMARY, STANDBY
from paii_sandbox.pgpool import connect


def write_marker(pair: Any, label: str) -> int:
    """Insert a ledger row on the primary (committed, before the failover); its id."""
    conn = connect(pair.ports[PRIMARY], "payments")
    try:
        return conn.run("INSERT INTO ledger (batch_id, account, amount_cents) VALUES (0, :a, 4200) RETURNING id", a=label)[0][0]
    finally:
        conn.close()


def verify(pair: Any, marker: int) -> list[tuple[bool, str]]:
    """After the failover: (passed, what was checked) for the new primary, the row and the old primary."""
    out: list[tuple[bool, str]] = []
    new = connect(pair.ports[STANDBY], "payments")
    try:
        in_recovery = new.run("SELECT pg_is_in_recovery()")[0][0]
        written = None if in_recovery else new.run(
            "INSERT INTO ledger (batch_id, account, amount_cents) VALUES (0, 'after-failover', 1) RETURNING id")[0][0]
        out.append((not in_recovery and written is not None,
                    f"{STANDBY}: pg_is_in_recovery() = {str(in_recovery).lower()}"
                    + (f", and it takes writes (inserted ledger row {written})" if written else "")))
        row = new.run("SELECT id, account FROM ledger WHERE id = :id", id=marker)
        out.append((bool(row), f"the row written to {PRIMARY} before the failover is on {STANDBY}: "
                    + (f"ledger row {row[0][0]} ({row[0][1]})" if row else f"ledger row {marker} is MISSING")))
    finally:
        new.close()
    old = connect(pair.ports[PRIMARY], "payments")
    try:
        old.run("INSERT INTO ledger (batch_id, account, amount_cents) VALUES (0, 'split-brain?', 1)")
        out.append((False, f"{PRIMARY} still TAKES WRITES: two primaries"))
    except Exception as exc:
        message = exc.args[0].get("M") if exc.args and isinstance(exc.args[0], dict) else str(exc)
        out.append(("read-only" in str(message), f"{PRIMARY} refuses writes: {message}"))
    finally:
        old.close()
    return out
