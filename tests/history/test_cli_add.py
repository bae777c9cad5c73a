"""`paii history add`: one entry from the command line, checked as the capture tool checks it (issue 11, item 8)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.history.cli import run


@pytest.fixture(autouse=True)
def keyword_only(monkeypatch):
    monkeypatch.setenv("PAII_HISTORY_EMBEDDINGS", "off")


def test_add_records_a_learning_that_search_and_get_find(capsys, isolated_env):
    r = run(capsys, "history", "add", "--category", "learnings", "--title", "pgbouncer breaks prepared statements",
            "--tag", "postgres", "--tag", "pgbouncer", "--service", "orders-api",
            "In transaction pooling mode, disable prepared statements in the driver.")
    assert r.code == 0, r.err
    entry_id = r.out.split()[1]
    path = Path(r.out.strip().rsplit(": ", 1)[1])
    assert path.is_file() and path.is_relative_to(isolated_env / "history" / "learnings")
    text = path.read_text()
    assert "title: pgbouncer breaks prepared statements" in text and "- pgbouncer" in text and "service: orders-api" in text
    found = json.loads(run(capsys, "history", "search", "--json", "pgbouncer prepared statements").out)
    assert found[0]["id"] == entry_id
    got = json.loads(run(capsys, "history", "get", "--json", entry_id).out)
    assert got["content"].startswith("In transaction pooling mode") and got["metadata"]["tags"] == ["postgres", "pgbouncer"]


def test_add_reads_the_body_from_stdin_and_prints_json(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("## Decision\n\nWe page on SLO burn, not on CPU.\n"))
    r = run(capsys, "history", "add", "--json", "--category", "decisions", "--title", "Page on SLO burn rate", "-")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["category"] == "decisions" and data["id"].startswith("dec-") and Path(data["path"]).is_file()
    assert "We page on SLO burn" in Path(data["path"]).read_text()


def test_add_validates_as_capture_does(capsys, isolated_env):
    r = run(capsys, "history", "add", "--category", "learnings", "--title", "x" * 301, "body")
    assert r.code == 2 and "longer than 300 characters" in r.err
    r = run(capsys, "history", "add", "--category", "learnings", "--title", "   ", "body")
    assert r.code == 2 and "title is empty" in r.err
    r = run(capsys, "history", "add", "--category", "../etc", "--title", "t", "body")
    assert r.code == 2 and "not valid" in r.err
    r = run(capsys, "history", "add", "--category", "lerrnings", "--title", "t", "body")
    assert r.code == 2 and "Did you mean 'learnings'?" in r.err and "--create-category" in r.err
    r = run(capsys, "history", "add", "--category", "retros", "--title", "t", "body")  # new: capture needs consent too
    assert r.code == 2 and "--create-category" in r.err
    assert not any((isolated_env / "history").glob("*/*/*.md"))
    r = run(capsys, "history", "add", "--category", "retros", "--create-category", "--title", "t", "body")
    assert r.code == 0 and "creating a new category 'retros'" in r.err


def test_add_is_marked_as_a_writer():
    from paii_cli import build_parser

    p = build_parser()
    assert p.parse_args(["history", "add", "--category", "notes", "--title", "t"]).writes == "history"
    assert p.parse_args(["history", "import", "--category", "incidents", "f.jsonl"]).writes == "history"
    assert getattr(p.parse_args(["history", "search", "x"]), "writes", False) is False
