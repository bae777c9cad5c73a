"""`paii history import` fails when a record fails, reads every export format the docs show, and
gives every error its line (issue 11, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.history.cli import run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def keyword_only(monkeypatch):
    monkeypatch.setenv("PAII_HISTORY_EMBEDDINGS", "off")


def _twelve_lines(tmp_path: Path) -> Path:
    """3 good records, 8 bad ones and a blank line: the file of the issue."""
    good = [json.dumps({"id": f"OK-{n}", "title": f"good {n}", "body": "b"}) for n in range(1, 4)]
    bad = ["not json", "[1, 2]", json.dumps({"id": "../x", "title": "t"}), json.dumps({"id": "B-1"}),
           json.dumps({"id": "B-2", "title": "t", "created": "yesterday-ish"}), json.dumps({"title": "no id"}),
           json.dumps({"id": "OK-1", "title": "again"}), json.dumps({"id": "B-3", "title": "t", "body": 5})]
    f = tmp_path / "mixed.jsonl"
    f.write_text("\n".join(good[:2] + bad[:4] + [""] + [good[2]] + bad[4:]) + "\n")
    assert len(f.read_text().splitlines()) == 12
    return f


def test_a_file_with_bad_records_imports_nothing_and_fails(capsys, tmp_path, isolated_env):
    r = run(capsys, "history", "import", "--category", "incidents", str(_twelve_lines(tmp_path)))
    assert r.code == 1
    assert "nothing imported: 8 of 11 records" in r.err and "--skip-bad-lines to import the 3 good ones" in r.err
    errors = [ln.strip() for ln in r.err.splitlines() if ln.strip().startswith("error:")]
    assert [e.split(":")[1].strip() for e in errors] == [f"line {n}" for n in (3, 4, 5, 6, 9, 10, 11, 12)]
    assert "also on line 1" in errors[6]
    assert not list((isolated_env / "history").rglob("*.md"))


def test_skip_bad_lines_imports_the_good_ones_and_counts_the_rest(capsys, tmp_path):
    r = run(capsys, "history", "import", "--skip-bad-lines", "--category", "incidents", str(_twelve_lines(tmp_path)))
    assert r.code == 0
    assert r.out.startswith("imported 3, updated 0, unchanged 0 into incidents; skipped 8 bad records")
    r = run(capsys, "history", "import", "--json", "--skip-bad-lines", "--category", "incidents", str(_twelve_lines(tmp_path)))
    data = json.loads(r.out)
    assert r.code == 0 and data["unchanged"] == 3 and data["skipped"] == 8 and len(data["errors"]) == 8


def test_an_id_used_in_another_category_is_an_error_with_its_line(capsys, tmp_path):
    assert run(capsys, "history", "add", "--category", "notes", "--title", "a note", "text").code == 0
    note_id = json.loads(run(capsys, "history", "recent", "--json").out)[0]["id"]
    f = tmp_path / "x.jsonl"
    f.write_text(json.dumps({"id": "A-1", "title": "fine"}) + "\n" + json.dumps({"id": note_id, "title": "clash"}) + "\n")
    r = run(capsys, "history", "import", "--category", "incidents", str(f))
    assert r.code == 1
    assert f"line 2: id '{note_id}' is already used by an entry in 'notes'; not imported" in r.err


@pytest.mark.parametrize("name, ids", [
    ("jira-export.csv", ["OPS-1412", "OPS-1388", "OPS-1301"]),
    ("jira-search.json", ["OPS-1450", "OPS-1457"]),
    ("pagerduty-incidents.csv", ["PD-3121", "PD-3107", "PD-3098"]),
    ("pagerduty-incidents.json", ["PD-3130", "PD-3133"]),
    ("incidents.csv", ["INC-601", "INC-602"]),
])
def test_every_example_of_docs_importing_imports_and_is_searchable(capsys, name, ids):
    """docs/importing.md walks through these files: each imports whole, twice idempotently."""
    r = run(capsys, "history", "import", "--json", "--category", "incidents", str(EXAMPLES / "import" / name))
    data = json.loads(r.out)
    assert r.code == 0 and data["errors"] == [] and data["imported"] == len(ids), r.err
    again = json.loads(run(capsys, "history", "import", "--json", "--category", "incidents", str(EXAMPLES / "import" / name)).out)
    assert again["unchanged"] == len(ids)
    recent = {e["id"] for e in json.loads(run(capsys, "history", "recent", "--json", "-n", "50").out)}
    assert set(ids) <= recent
    entry = json.loads(run(capsys, "history", "get", "--json", ids[0]).out)
    assert entry["title"] and entry["created"].endswith("Z")


def test_a_pretty_printed_json_array_imports(capsys, tmp_path):
    records = [json.loads(line) for line in (EXAMPLES / "incidents.jsonl").read_text().splitlines() if line.strip()]
    f = tmp_path / "incidents.json"
    f.write_text(json.dumps(records, indent=2))
    r = run(capsys, "history", "import", "--category", "incidents", str(f))
    assert r.code == 0 and f"imported {len(records)}," in r.out and "(JSON array" in r.out
