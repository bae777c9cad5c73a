"""How a pasted report (a title line, then a description) is searched: its title line counts on its own."""

from __future__ import annotations

import pytest

from paii_history.config import HistorySettings
from paii_history.store import HistoryStore, title_line


def test_title_line_only_when_a_description_follows():
    report = "DataNode fails to start after upgrade\nThe DataNode exits during startup with an IOException on the volume."
    assert title_line(report) == "DataNode fails to start after upgrade"
    assert title_line("  \n DataNode fails to start\n" + "x " * 30) == "DataNode fails to start"
    assert title_line("payments-api is returning 500s in production") is None  # one line: nothing extra
    assert title_line("payments-api 500s\nsee above") is None  # too little under it to be a description
    assert title_line("oops\n" + "a long enough description of what went wrong " * 2) is None  # one word
    assert title_line("x " * 200 + "\n" + "description " * 10) is None  # a first line that is no title


def test_a_long_report_on_one_line_is_led_by_its_first_words():
    joined = ("DataNode fails to start after upgrade to 2.7 the datanode log shows an "
              "IncompatibleClusterIDs error and the process exits right after the block pool scan, "
              "every node of the cluster is affected and a rollback does not help either")
    assert len(joined.split()) >= 30
    assert title_line(joined) == "DataNode fails to start after upgrade to 2.7 the datanode"
    assert title_line("payments-api 500s " * 9) is None  # 27 words: an alert line is searched as it is


@pytest.fixture
def kw_store(isolated_env):
    s = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False, embeddings="off"))
    yield s
    s.close()


def test_the_title_of_a_pasted_report_outweighs_a_long_description(kw_store):
    for n, words in enumerate(["checkout page", "card payments", "queue workers", "database replica", "export job",
                               "latency dashboards", "alerts paging", "tokenizer library upgrade", "sidecar memory",
                               "retried requests", "batch window", "spike in signups"]):
        kw_store.capture("incidents", f"Unrelated incident {n}: {words}", f"Something about {words} and more.", {})
    kw_store.capture("incidents", "Checkout latency spike from card tokenizer timeouts",
                     "The tokenizer sidecar timed out.", {})
    kw_store.capture("incidents", "Nightly batch export slow",
                     "Queue workers were slow; the database replica lagged; workers retried; the queue grew; "
                     "replica lag alerts fired; the batch export finished late.", {})
    report = ("Checkout latency spike: tokenizer timeouts\n"
              "Workers look slow and the queue grew; database replica lag alerts fired and workers retried.")
    hits, _, warnings = kw_store.retrieve(report, k=2, mode="keyword")
    assert hits[0].row.title.startswith("Checkout latency spike")
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True) and 0 < hits[-1].score < 1
    # the description alone points at the other entry: the title line is what found the match
    body_only, _, _ = kw_store.retrieve(report.split("\n", 1)[1], k=2, mode="keyword")
    assert body_only[0].row.title == "Nightly batch export slow"
    # the same report joined into one line (as a form or a script may send it): its first words lead
    joined = report.replace("\n", " ") + " We are still looking into it, more details to follow soon."
    assert len(joined.split()) >= 30
    hits, _, _ = kw_store.retrieve(joined, k=2, mode="keyword")
    assert hits[0].row.title.startswith("Checkout latency spike")


class _FlakyEmbedder:
    """Bag-of-words vectors, and an onnxruntime failure on demand (what a real one does is
    covered elsewhere: this is about what retrieve() does when the vector side fails)."""

    model_id = "flaky-16"

    def __init__(self) -> None:
        self.fail_on: set[str] = set()

    def embed(self, texts, batch_size=None):
        import zlib

        import numpy as np

        out = np.zeros((len(texts), 16), dtype=np.float32)
        for n, t in enumerate(texts):
            if any(f in t for f in self.fail_on):
                raise RuntimeError("onnxruntime: bad allocation")
            for w in t.lower().split():
                out[n, zlib.crc32(w.encode()) % 16] += 1.0
            out[n] /= max(float(np.linalg.norm(out[n])), 1e-9)
        return out


@pytest.fixture
def flaky_store(isolated_env):
    s = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False))
    s._embedder = _FlakyEmbedder()
    for n in range(6):
        s.capture("incidents", f"kafka consumer lag {n}", f"rebalance storm on partition {n}", {})
    yield s
    s.close()


def test_a_failing_vector_side_gives_keyword_results_and_says_so(flaky_store):
    report = "kafka consumer lag after deploy\nThe consumers fell behind and rebalanced over and over for an hour."
    hits, _, warnings = flaky_store.retrieve(report, k=3)
    assert len(hits) == 3 and warnings == [] and hits[0].vector_rank is not None  # both sides

    flaky_store._embedder.fail_on = {"fell behind"}  # the whole text's embedding fails
    hits, _, warnings = flaky_store.retrieve(report, k=3)
    assert len(hits) == 3 and all(h.vector_rank is None for h in hits)
    assert warnings == ["vector search failed (onnxruntime: bad allocation): keyword results only"]
    # for 30 s the vector side is not tried again, and every answer says so
    flaky_store._embedder.fail_on = set()
    hits, _, warnings = flaky_store.retrieve(report, k=3)
    assert len(hits) == 3 and warnings and warnings[0].startswith("vector search unavailable")

    flaky_store._vec_failed_at = 0.0
    flaky_store._embedder.fail_on = {"kafka consumer lag after deploy"}  # only the title line's (other thread)
    hits, _, warnings = flaky_store.retrieve(report, k=3)
    assert len(hits) == 3 and all(h.vector_rank is None for h in hits) and "vector search failed" in warnings[0]


def test_vector_mode_without_vectors_falls_back_to_keywords(flaky_store):
    flaky_store._embedder.fail_on = {"rebalance"}
    hits, _, warnings = flaky_store.retrieve("rebalance storm", k=2, mode="vector")
    assert len(hits) == 2 and all(h.keyword_rank is not None and h.vector_rank is None for h in hits)
    assert warnings == ["vector search failed (onnxruntime: bad allocation): keyword results only"]
    hits, _, warnings = flaky_store.retrieve("rebalance storm", k=2, mode="vector")  # not retried for 30 s
    assert len(hits) == 2 and all(h.keyword_rank is not None for h in hits) and "unavailable" in warnings[0]
