"""Ranking and scores on a generated history of a few hundred entries: an exact match ranks first,
a score means the same across queries, nonsense gets "no close match" (issue 10 item 10, issue 11 item 3)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from paii_history.config import HistorySettings
from paii_history.evidence import CLOSE_MATCH
from paii_history.retrieve import no_close_match
from paii_history.store import HistoryStore

NONSENSE = Path(__file__).resolve().parents[2] / "bench" / "queries" / "nonsense.jsonl"
SERVICES = ["payments-api", "orders-api", "auth-service", "search-api", "ledger-db", "cache-cluster"]
NOUNS = ["connection pool", "cache", "kafka consumer", "certificate", "ingress", "replica", "queue", "disk",
         "memory", "lock", "index", "migration", "token", "dns", "timeout", "latency", "deploy", "probe"]
VERBS = ["exhausted", "expired", "lagging", "full", "leaking", "stuck", "failing", "slow", "flapping", "dropped"]


def _corpus(n: int = 300) -> list[dict]:
    """Entries that look alike on purpose: shared words, and tokens one letter apart (zqbx4, zqcx4)."""
    rnd = random.Random(7)
    out = []
    for i in range(n):
        svc, noun, verb = rnd.choice(SERVICES), rnd.choice(NOUNS), rnd.choice(VERBS)
        token = "zq" + "bcdfg"[i % 5] + "x" + str(i // 5)  # zqbx0 (GEN-0), zqcx0 (GEN-1), ... zqbx1 (GEN-5)
        out.append({"id": f"GEN-{i}", "title": f"{svc} {noun} {verb} {token}", "service": svc,
                    "body": f"{svc}: the {noun} was {verb} ({token}). Note {i % 7}.", "created": f"2026-0{1 + i % 9}-1{i % 10}T00:00:00Z"})
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The same generated history, with vectors (hybrid) and without (keyword)."""
    src = tmp_path_factory.mktemp("gen") / "gen.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in _corpus()) + "\n")
    made = {}
    for name, extra in (("hybrid", {}), ("keyword", {"embeddings": "off"})):
        s = HistoryStore(HistorySettings.load(home=tmp_path_factory.mktemp(name), warmup=False, **extra))
        assert s.import_file(src, "incidents").imported == 300
        made[name] = s
    yield made
    for s in made.values():
        s.close()


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_the_entry_with_a_rare_word_ranks_above_near_misses(stores, mode):
    hits, _, _ = stores[mode].retrieve("zqbx0", k=5, mode=mode)  # GEN-0 holds it; GEN-1 has zqcx0...
    assert hits[0].id == "GEN-0" and hits[0].close
    assert all(h.score <= hits[0].score for h in hits)


@pytest.mark.parametrize("mode, every", [("keyword", 1), ("hybrid", 5)])
def test_an_exact_title_ranks_first(stores, mode, every):
    corpus = _corpus()
    missed = [r["id"] for r in corpus[::every]
              if stores[mode].retrieve(r["title"], k=3, mode=mode)[0][0].id != r["id"]]
    assert missed == []


def test_an_entry_holding_every_word_ranks_first(stores):
    store = stores["hybrid"]
    target = next(r for r in _corpus() if r["service"] == "ledger-db" and "certificate" in r["title"])
    words = f"{target['title'].split()[-1]} certificate ledger-db"
    hits, _, _ = store.retrieve(words, k=5)
    assert hits[0].id == target["id"] and hits[0].words == 1.0


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_nonsense_and_other_domains_get_no_close_match(stores, mode):
    queries = [json.loads(line) for line in NONSENSE.read_text().splitlines() if line.strip()]
    flagged = {q["query"][:30]: no_close_match(stores[mode].retrieve(q["query"], k=10, mode=mode)[0]) for q in queries}
    assert [q for q, ok in flagged.items() if not ok] == []


def test_a_score_means_the_same_across_queries(stores):
    """Hits that share only common words with the text are not close; the one with its rare word is."""
    store = stores["hybrid"]
    store.capture("learnings", "pgbouncer breaks prepared statements",
                  "In transaction pooling mode pgbouncer cannot keep prepared statements: disable them in the driver.", {})
    for n in range(10):
        store.capture("learnings", f"prepared rollout checklist {n}", "Statements for the change board, prepared in advance.", {})
    hits, _, _ = store.retrieve("pgbouncer prepared statements", k=10)
    assert hits[0].row.title == "pgbouncer breaks prepared statements" and hits[0].close
    assert all(not h.close for h in hits[1:]), [(h.row.title, h.score) for h in hits]
    assert max(h.score for h in hits[1:]) < CLOSE_MATCH <= hits[0].score


def test_search_tool_and_cli_say_no_close_match(stores, capsys, monkeypatch):
    from tests.history.cli import run

    monkeypatch.setenv("PAII_HOME", str(stores["keyword"].settings.home))
    monkeypatch.setenv("PAII_HISTORY_EMBEDDINGS", "off")
    r = run(capsys, "history", "search", "🔥🔥🔥")
    assert r.code == 0 and r.out.startswith(("no matches", "no close match"))
    r = run(capsys, "history", "search", "--json", "payments-api kafka consumer lagging")
    assert r.code == 0 and json.loads(r.out)[0]["close"] is True
