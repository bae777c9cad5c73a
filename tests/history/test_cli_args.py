"""Arguments and output of the history commands: ranges checked, errors from paths that fail,
one date format (issue 11, item 7)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.history.cli import run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(autouse=True)
def keyword_only(monkeypatch):
    monkeypatch.setenv("PAII_HISTORY_EMBEDDINGS", "off")


@pytest.fixture
def imported(capsys):
    assert run(capsys, "history", "import", "--category", "incidents", str(EXAMPLES / "incidents.jsonl")).code == 0


@pytest.mark.parametrize("argv", [
    ("similar", "-k", "0", "payments"),
    ("similar", "-k", "-1", "payments"),
    ("similar", "-k", "101", "payments"),
    ("similar", "-k", "five", "payments"),
    ("search", "--limit", "0", "payments"),
    ("recent", "-n", "0"),
])
def test_counts_out_of_range_are_usage_errors(capsys, imported, argv):
    r = run(capsys, "history", *argv)
    assert r.code == 2
    assert "out of range: use 1 to" in r.err or "is not a whole number" in r.err
    assert "no matches" not in r.out and "more matches" not in r.out


def test_no_hits_never_says_there_are_more(capsys, imported):
    r = run(capsys, "history", "search", "--mode", "keyword", "zzqqxx-nothing-like-this")
    assert r.code == 0 and "more matches" not in r.out


def test_get_of_a_missing_id_raises_a_paii_error(capsys, imported):
    """With --json the `paii` entry point prints PaiiErrors as JSON; the history path must raise one."""
    from paii_cli import build_parser
    from paii_common.errors import NotFound

    args = build_parser().parse_args(["history", "get", "--json", "INC-000"])
    with pytest.raises(NotFound, match="no history entry with id 'INC-000'"):
        args.func(args)
    r = run(capsys, "history", "get", "--json", "INC-000")
    assert r.code == 1 and "INC-000" in (r.err + r.out) and "unexpected error" not in r.err


def test_text_that_is_not_utf8_is_a_clear_error(capsys, imported):
    r = run(capsys, "history", "search", "caf\udce9")  # how Python passes the byte 0xE9 from argv
    assert r.code == 2 and "not valid UTF-8" in r.err


def test_dates_are_iso_utc_with_z_everywhere(capsys, imported):
    hits = json.loads(run(capsys, "history", "search", "--json", "payments-api").out)
    assert hits and all(ISO_Z.match(h["when"]) for h in hits) and all(h["ago"].endswith("ago") for h in hits)
    recent = json.loads(run(capsys, "history", "recent", "--json").out)
    assert all(ISO_Z.match(r["when"]) for r in recent)
    text = run(capsys, "history", "recent").out
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  incidents", text, re.M)
    entry = json.loads(run(capsys, "history", "get", "--json", "INC-456").out)
    assert ISO_Z.match(entry["created"])
    shown = run(capsys, "history", "search", "payments-api").out
    assert re.search(r"^1\. INC-\d+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(.+ ago\) - ", shown, re.M)


async def test_tool_results_use_the_same_date_format(server):
    from mcp import Client

    server.store.record_incident("INC-9", {"title": "cache stampede", "started": "2026-11-12T02:00:00.123+00:00"})
    async with Client(server) as c:
        res = (await c.call_tool("search", {"text": "cache stampede"})).structured_content
        assert ISO_Z.match(res["hits"][0]["when"])
        got = (await c.call_tool("get", {"id": "INC-9"})).structured_content
        assert ISO_Z.match(got["created"])


def test_recent_filters_by_tag_and_since_like_the_tool(capsys):
    assert run(capsys, "history", "import", "--category", "notes", str(EXAMPLES / "notes.jsonl")).code == 0
    tagged = json.loads(run(capsys, "history", "recent", "--json", "--tag", "DEPLOY").out)
    assert [r["id"] for r in tagged] == ["note-deploy-pending-v234"]
    later = json.loads(run(capsys, "history", "recent", "--json", "--since", "2026-01-01T18:00:00Z").out)
    assert [r["id"] for r in later] == ["note-cache-autoscaling"]
    assert json.loads(run(capsys, "history", "recent", "--json", "--tag", "nosuch").out) == []
    bad = run(capsys, "history", "recent", "--since", "yesterday-ish")
    assert bad.code == 2 and "since" in bad.err
