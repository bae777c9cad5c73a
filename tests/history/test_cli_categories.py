"""The CLI treats a category as the tools do: a typo in a read fails with a suggestion, and a new
category is created only on purpose (issue 11, item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.history.cli import run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def keyword_only(monkeypatch):
    monkeypatch.setenv("PAII_HISTORY_EMBEDDINGS", "off")  # categories do not need the model


@pytest.fixture
def imported(capsys):
    r = run(capsys, "history", "import", "--category", "incidents", str(EXAMPLES / "incidents.jsonl"))
    assert r.code == 0, r.err
    return r


def test_search_with_a_misspelt_category_fails_with_the_suggestion(capsys, imported):
    r = run(capsys, "history", "search", "--category", "incident", "payments")
    assert r.code == 2
    assert "unknown category 'incident'" in r.err and "Did you mean 'incidents'?" in r.err
    assert "no matches" not in r.out


def test_similar_and_recent_with_an_unknown_category_fail(capsys, imported):
    r = run(capsys, "history", "similar", "--category", "nosuch", "payments-api 500s")
    assert r.code == 2 and "unknown category 'nosuch'" in r.err
    r = run(capsys, "history", "recent", "--category", "incidnets")
    assert r.code == 2 and "Did you mean 'incidents'?" in r.err


def test_a_known_category_still_searches(capsys, imported):
    r = run(capsys, "history", "search", "--category", "incidents", "payments")
    assert r.code == 0 and "INC-" in r.out
    r = run(capsys, "history", "search", "--category", "decisions", "payments")  # built in, empty
    assert r.code == 0 and "no matches" in r.out


def test_import_into_a_near_miss_of_a_category_needs_create_category(capsys, imported, isolated_env):
    r = run(capsys, "history", "import", "--category", "incidnets", str(EXAMPLES / "incidents.jsonl"))
    assert r.code == 2
    assert "Did you mean 'incidents'?" in r.err and "--create-category" in r.err
    assert not (isolated_env / "history" / "incidnets").exists()
    r = run(capsys, "history", "import", "--category", "incidnets", "--create-category", str(EXAMPLES / "incidents.jsonl"))
    # the same ids live in incidents: every record is refused, but the category was created on purpose
    assert "creating a new category 'incidnets'" in r.err


def test_import_into_a_new_category_says_it_creates_one(capsys, isolated_env):
    r = run(capsys, "history", "import", "--category", "retros", str(EXAMPLES / "incidents.jsonl"))
    assert r.code == 0, r.err
    assert "creating a new category 'retros'" in r.err
    assert "into retros" in r.out
    r = run(capsys, "history", "import", "--json", "--category", "retros", str(EXAMPLES / "incidents.jsonl"))
    data = json.loads(r.out)
    assert r.code == 0 and data["new_category"] is False and data["unchanged"] == 16
    assert "creating" not in r.err  # it exists now


def test_one_edit_apart():
    from paii_cli.history_write import one_edit_apart

    assert one_edit_apart("incidnets", "incidents")  # two neighbours swapped
    assert one_edit_apart("incident", "incidents") and one_edit_apart("incidentss", "incidents")
    assert one_edit_apart("lerrnings", "learnings")
    assert not one_edit_apart("incidents", "incidents")
    assert not one_edit_apart("retros", "incidents") and not one_edit_apart("inc", "incidents")
    assert not one_edit_apart("nitoes", "notes")
