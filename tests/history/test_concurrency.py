"""Two processes share one PAII_HOME all the time (two Claude Code sessions, a session and an
import): a reader's answers stay complete while another process writes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap

from mcp import Client

from paii_history.config import HistorySettings
from paii_history.server import build_server
from paii_history.store import HistoryStore

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore
    home, stop = Path(sys.argv[1]), Path(sys.argv[2])
    store = HistoryStore(HistorySettings.load(home=home, warmup=False))
    store.record_incident("W-0", {"title": "orders-api kafka consumer lag", "service": "orders-api"})
    print("ready", flush=True)
    end, i = time.time() + 10, 0  # at most 10 s of writes
    while time.time() < end and not stop.exists():
        i += 1
        store.record_incident(f"W-{i}", {"title": f"orders-api kafka consumer lag {i}", "service": "orders-api",
                                         "root_cause": f"rebalance storm number {i}"})
    store.record_incident("W-LAST", {"title": "zookeeper session expiry storm on the billing cluster"})
    print(i, flush=True)
    """
)


async def test_a_reader_keeps_vector_results_while_another_process_writes(isolated_env, tmp_path):
    """Issue 10: while a second server captured, the first logged "vector search failed: ...
    Error finding id" and 75% of its similar_incidents answers said "keyword results only"."""
    settings = HistorySettings.load(home=isolated_env, warmup=False)
    store = HistoryStore(settings)
    for i in range(20):
        store.record_incident(f"INC-{i}", {"title": f"payments-api 500s at checkout {i}", "service": "payments-api",
                                           "root_cause": "database connection pool exhausted"})
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(isolated_env), str(stop)],
                              env=dict(os.environ, PAII_HOME=str(isolated_env)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()[-2000:]
        incomplete = []
        async with Client(build_server(settings, store)) as c:
            for n in range(100):
                r = await c.call_tool("similar_incidents", {"text": "payments-api returning 500s", "k": 3})
                assert not r.is_error, r.content[0].text
                if r.structured_content["warnings"] or not r.structured_content["hits"]:
                    incomplete.append((n, r.structured_content["warnings"]))
                await asyncio.sleep(0.02)
        stop.touch()
        written = int(writer.communicate(timeout=60)[0].strip())
    finally:
        writer.kill()
    assert incomplete == [], f"{len(incomplete)} of 100 answers were incomplete, e.g. {incomplete[:2]}"
    assert written > 0, "the writer wrote while the reader searched"
    # and the reader sees what the other process wrote, by meaning
    hits, _, warnings = store.retrieve("zookeeper sessions keep expiring", k=1, mode="vector")
    assert not warnings and hits[0].id == "W-LAST"
    store.close()


def test_own_writes_then_anothers_are_all_searchable_by_meaning(isolated_env):
    """A process that writes after another did first catches up with it: it never marks the
    other's vectors as seen without reading them."""
    settings = HistorySettings.load(home=isolated_env, warmup=False)
    a, b = HistoryStore(settings), HistoryStore(settings)  # two processes' stores (separate connections)
    a.record_incident("A-1", {"title": "ledger-db replication lag"})
    a.retrieve("warm up", k=1, mode="vector")  # a has its matrix in memory
    b.record_incident("B-1", {"title": "search-api index rebuild slow"})
    a.record_incident("A-2", {"title": "auth-service tokens expiring early"})
    hits, _, warnings = a.retrieve("search index rebuild is slow", k=1, mode="vector")
    assert not warnings and hits[0].id == "B-1"
    a.close()
    b.close()


def test_an_index_from_before_the_vector_table_fills_it_from_chroma_once(isolated_env):
    settings = HistorySettings.load(home=isolated_env, warmup=False)
    old = HistoryStore(settings)
    old.record_incident("INC-1", {"title": "ledger-db replication lag after failover"})
    old.record_incident("INC-2", {"title": "checkout-web blank page after a CDN purge"})
    old.kw.db.execute("DELETE FROM vectors")  # as an older PAII left it: vectors in chroma only
    old.kw.db.execute("DELETE FROM state WHERE key='vec_table'")
    old.close()
    store = HistoryStore(settings)
    store.ensure_ready()
    assert store.kw.missing_vectors() == [], "copied from chroma, not embedded again"
    assert store.kw.get_state("vec_table") == "1"
    hits, _, warnings = store.retrieve("the CDN cache purge broke the checkout page", k=1, mode="vector")
    assert not warnings and hits[0].id == "INC-2"
    store.close()
