"""Similar incidents as a responder needs them (issue 23): the seed's history, ranked by service and
failure as well as words, whatever the clock; scores that separate entries and say when a hit is only
the nearest; close calls named with their reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from paii_history.config import HistorySettings
from paii_history.server import build_server
from paii_history.store import HistoryStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "incidents.jsonl"
SENTENCE = "payments-api returning 500s in production"
ALERT = "sqlalchemy.exc.TimeoutError: QueuePool limit reached, connection timed out"


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory):
    store = HistoryStore(HistorySettings.load(home=tmp_path_factory.mktemp("seed"), warmup=False))
    assert store.import_file(EXAMPLES, "incidents").imported == 16
    yield store
    store.close()


@pytest.fixture(params=["2026-01-02T02:00:00Z", None], ids=["fixed-clock", "real-clock"])
def clock(request, monkeypatch):
    if request.param:
        monkeypatch.setenv("PAII_NOW", request.param)
    else:
        monkeypatch.delenv("PAII_NOW", raising=False)
    return request.param


def test_the_alert_text_puts_the_pool_incident_of_the_same_service_first(seed_store, clock):
    hits, _, _ = seed_store.similar(f"{SENTENCE}\n{ALERT}", k=5)
    ids = [h.id for h in hits]
    assert ids[0] == "INC-456", [(h.id, h.score, h.why) for h in hits]
    assert hits[0].close and "payments-api" in hits[0].why and "connection pool" in hits[0].why
    assert ids.index("INC-122") > 0  # user-profile-api's pool incident: another service, below


def test_the_alert_on_one_line_too(seed_store, clock):
    hits, _, _ = seed_store.similar(f"{SENTENCE} {ALERT}", k=3)
    assert hits[0].id == "INC-456"


def test_the_sentence_alone_names_the_close_call_and_keeps_its_order_whatever_the_clock(seed_store, clock):
    from paii_history.retrieve import close_call

    hits, _, _ = seed_store.similar(SENTENCE, k=5)
    top = {h.id: h for h in hits[:2]}
    assert set(top) == {"INC-234", "INC-456"}
    assert round(hits[0].score, 4) != round(hits[1].score, 4)  # distinct evidence, distinct scores
    note = close_call(hits)
    assert note and "INC-234" in note and "INC-456" in note and "payments-api" in note
    again, _, _ = seed_store.similar(SENTENCE, k=5)
    assert [h.id for h in again] == [h.id for h in hits]


def test_scores_follow_the_order_and_no_two_entries_tie(seed_store):
    for text in (SENTENCE, f"{SENTENCE}\n{ALERT}", "disk full on the logging nodes", "certificate expired on the gateway"):
        hits, _, _ = seed_store.similar(text, k=10)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert len({round(s, 4) for s in scores}) == len(scores), (text, scores)
        assert all(s < 1.0 for s in scores)


def test_only_the_same_incident_scores_one(seed_store):
    rec = json.loads(EXAMPLES.read_text().splitlines()[0])
    hits, _, _ = seed_store.similar(f"{rec['title']}\n{rec['body']}", k=3)
    assert hits[0].id == rec["id"] and hits[0].score == 1.0
    assert all(h.score < 1.0 for h in hits[1:])
    hits, _, _ = seed_store.similar("what happened in INC-277 again?", k=3)
    assert hits[0].id == "INC-277" and hits[0].score == 1.0


async def test_similar_incidents_labels_hits_under_the_threshold(seed_store):
    server = build_server(seed_store.settings, seed_store)
    async with Client(server) as client:
        res = await client.call_tool("similar_incidents", {"text": SENTENCE, "k": 5})
    data = res.structured_content
    closes = [h["close"] for h in data["hits"]]
    assert closes[0] is True and False in closes  # the nearest entries past the close ones say so
    assert all(h["score"] < 0.5 for h in data["hits"] if not h["close"])
    assert data["no_close_match"] is False and "INC-456" in data["close_call"]
    assert all(h["why"] for h in data["hits"])


def test_nothing_close_says_no_close_match(seed_store):
    from paii_history.retrieve import no_close_match

    hits, _, _ = seed_store.similar("quarterly marketing newsletter layout review", k=5)
    assert no_close_match(hits) and not any(h.close for h in hits)
