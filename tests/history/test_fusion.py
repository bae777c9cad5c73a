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
