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


def test_unreachable_server_degrades_to_keyword_search(tmp_path):
    store = HistoryStore(HistorySettings.load(home=tmp_path, chroma_url=f"http://127.0.0.1:{_free_port()}", warmup=False))
    entry, warnings = store.capture("notes", "redis ttl", "extend ttl on critical keys")
    assert entry.path.exists() and warnings and "keyword-searchable" in warnings[0]
    hits, _, warnings = store.retrieve("redis ttl", k=1)
    assert hits[0].id == entry.id and "keyword results only" in warnings[0]
