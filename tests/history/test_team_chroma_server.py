"""Team mode: the same code against a real Chroma server started with `chroma run`."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paii_history.config import HistorySettings
from paii_history.store import HistoryStore

pytestmark = pytest.mark.chroma_server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma_server")
    proc = subprocess.Popen([str(exe), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not start within 60 s")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_two_people_share_one_chroma_server(chroma_url, tmp_path):
    alice = HistoryStore(HistorySettings.load(home=tmp_path / "alice", chroma_url=chroma_url, chroma_collection="team-a", warmup=False))
    alice.record_incident("INC-456", {"title": "payments-api timeouts", "service": "payments-api",
                                      "root_cause": "Database connection pool exhaustion"})
    assert alice.stats()["vectors"] == 1
    assert alice.vectors().location == chroma_url
    # Bob has the same history files (a shared git repository) and the same server
    shutil.copytree(tmp_path / "alice" / "history", tmp_path / "bob" / "history")
    bob = HistoryStore(HistorySettings.load(home=tmp_path / "bob", chroma_url=chroma_url, chroma_collection="team-a", warmup=False))
    hits, _, warnings = bob.retrieve("payment service errors", k=1, categories=["incidents"], mode="vector")
    assert not warnings and hits[0].id == "INC-456"
    assert bob.stats()["vectors"] == 1, "re-indexing the same files upserts, never duplicates"


def test_unreachable_server_keeps_the_write_and_its_keyword_search(tmp_path):
    store = HistoryStore(HistorySettings.load(home=tmp_path, chroma_url=f"http://127.0.0.1:{_free_port()}", warmup=False))
    entry, warnings = store.capture("notes", "redis ttl", "extend ttl on critical keys")
    assert entry.path.exists() and warnings and "keyword-searchable" in warnings[0]
    hits, _, _ = store.retrieve("redis ttl", k=1)
    assert hits[0].id == entry.id


def _entries(store: HistoryStore, n: int = 12) -> None:
    services = ["payments-api", "orders-api", "auth-service"]
    for i in range(n):
        store.record_incident(f"INC-{100 + i}", {"title": f"{services[i % 3]} incident {i}: pool exhausted after deploy {i}",
                                                 "service": services[i % 3], "root_cause": f"cause {i}"})


def test_queries_sent_to_the_rest_api_answer_what_chromadbs_client_answers(chroma_url, tmp_path):
    """The team server's query goes straight to Chroma's REST API; the neighbours and their
    distances are the ones chromadb's own client gets for the same vector and filter."""
    store = HistoryStore(HistorySettings.load(home=tmp_path, chroma_url=chroma_url, chroma_collection="team-rest", warmup=False))
    _entries(store)
    vi = store.vectors()
    vec = store.embedder().embed(["payments-api pool exhausted"])[0]
    for where in (None, {"service": "payments-api"}, {"$and": [{"category": "incidents"}, {"created": {"$gte": 0}}]}):
        ours = vi.query(vec, 5, where)
        theirs = vi._collection().query(query_embeddings=[vec], n_results=5, where=where, include=["distances"])
        assert [i for i, _ in ours] == theirs["ids"][0]
        assert all(abs(c - (1.0 - d)) < 1e-6 for (_, c), d in zip(ours, theirs["distances"][0], strict=True))
    two = vi.query_many([vec, store.embedder().embed(["auth-service"])[0]], 3)
    assert two[0] == vi.query(vec, 3) and len(two[1]) == 3


def test_a_collection_re_created_by_another_server_is_queried_under_its_new_id(chroma_url, tmp_path):
    """Bob's server wipes and rebuilds the team's collection (a reindex): Alice's server, which
    had the old collection open, queries the new one instead of failing until a restart (the
    query a history bigger than EXACT_MAX makes)."""
    settings = dict(chroma_url=chroma_url, chroma_collection="team-recreated", warmup=False)
    alice = HistoryStore(HistorySettings.load(home=tmp_path / "alice", **settings))
    _entries(alice, 3)
    vec = alice.embedder().embed(["payments-api pool exhausted"])[0]
    assert alice.vectors().query(vec, 1)[0][0] == "INC-100"
    shutil.copytree(tmp_path / "alice" / "history", tmp_path / "bob" / "history")
    bob = HistoryStore(HistorySettings.load(home=tmp_path / "bob", **settings))
    bob.vectors().wipe()
    bob.sync()  # every entry embedded again into a new collection
    assert alice.vectors().query(vec, 1)[0][0] == "INC-100"


def test_a_team_server_searches_its_vectors_exactly_even_while_chroma_is_down(tmp_path):
    """Up to EXACT_MAX entries a team server searches the vectors it keeps beside its index
    (exact, like a personal history; Chroma's HNSW can miss a distinct entry): a search by
    meaning needs no round trip to Chroma, and still answers when Chroma is down."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    port = _free_port()
    proc = subprocess.Popen([str(exe), "run", "--path", str(tmp_path / "data"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        store = HistoryStore(HistorySettings.load(home=tmp_path / "home", chroma_url=f"http://127.0.0.1:{port}", warmup=False))
        _entries(store, 6)
        assert store.stats()["vectors"] == 6  # Chroma holds them too
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    hits, _, warnings = store.retrieve("auth-service problems", k=2, categories=["incidents"], mode="vector")
    assert not warnings and {h.id for h in hits} <= {"INC-102", "INC-105"} and len(hits) == 2


def test_a_restarted_chroma_server_is_reached_again_on_the_next_query(tmp_path):
    """The kept-alive connection dies with the server; the next query opens a new one."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    port = _free_port()

    def start():
        proc = subprocess.Popen([str(exe), "run", "--path", str(tmp_path / "data"), "--host", "127.0.0.1", "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return proc
            except OSError:
                time.sleep(0.2)
        proc.kill()
        pytest.fail("chroma run did not start within 60 s")

    proc = start()
    try:
        store = HistoryStore(HistorySettings.load(home=tmp_path / "home", chroma_url=f"http://127.0.0.1:{port}", warmup=False))
        _entries(store, 3)
        vec = store.embedder().embed(["payments-api pool exhausted"])[0]
        before = store.vectors().query(vec, 3)
        proc.terminate()
        proc.wait(timeout=10)
        proc = start()
        assert store.vectors().query(vec, 3) == before
    finally:
        proc.terminate()
        proc.wait(timeout=10)
