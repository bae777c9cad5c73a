"""Helpers for tests that need the sandbox's real PostgreSQL pair: a skip that says why it cannot
be had (never a silent pass), and plain SQL against a DSN from ``paii sandbox status``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from paii_sandbox.pgpair import find_installation

INSTALLATION, WHY_NOT = find_installation()
needs_postgres = pytest.mark.skipif(INSTALLATION is None, reason=f"no real PostgreSQL for the sandbox: {WHY_NOT}")


def sql(dsn: str, query: str, **params: Any) -> list[list[Any]]:
    """Rows of one statement, on its own connection (autocommit)."""
    import pg8000.native

    url = urlsplit(dsn)
    conn = pg8000.native.Connection(url.username or "postgres", host=url.hostname, port=url.port,
                                    database=url.path.lstrip("/") or "postgres", ssl_context=False, timeout=20)
    try:
        return conn.run(query, **params)
    finally:
        conn.close()


def sql_error(dsn: str, query: str) -> str:
    """The server's message for a statement that must fail (the test fails if it succeeds)."""
    try:
        sql(dsn, query)
    except Exception as exc:
        return str(exc.args[0].get("M") if exc.args and isinstance(exc.args[0], dict) else exc)
    raise AssertionError(f"{query!r} succeeded on {dsn}")
