"""What `paii history import` reads: JSON Lines, a JSON array, pretty-printed objects, Jira's and
PagerDuty's REST JSON and CSV exports, any CSV with a header; every record knows its line (issue 11, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paii_common.errors import InvalidInput
from paii_history.import_formats import adf_text, csv_date, read_records

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "import"


def test_a_pretty_printed_json_array_is_read_record_by_record(tmp_path):
    f = tmp_path / "incidents.json"
    f.write_text(json.dumps([{"id": "A-1", "title": "one"}, {"id": "A-2", "title": "two"}, 7], indent=2))
    fmt, recs = read_records(f)
    assert fmt == "JSON array"
    assert [r.data["id"] for r in recs[:2]] == ["A-1", "A-2"] and [r.line for r in recs] == [2, 6, 10]
    assert recs[2].data is None and "not a JSON object" in recs[2].error


def test_pretty_printed_objects_one_after_another(tmp_path):
    f = tmp_path / "jq.json"
    f.write_text(json.dumps({"id": "A-1", "title": "one"}, indent=2) + "\n" + json.dumps({"id": "A-2", "title": "two"}, indent=2))
    fmt, recs = read_records(f)
    assert fmt == "JSON objects" and [(r.line, r.data["id"]) for r in recs] == [(1, "A-1"), (5, "A-2")]


def test_broken_json_lines_get_their_line_numbers(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text('{"id": "A-1", "title": "one"}\n\nnot json\n[1]\n{"id": "A-2", "title": "two"}\n')
    fmt, recs = read_records(f)
    assert fmt == "JSON Lines" and [r.line for r in recs] == [1, 3, 4, 5]
    assert recs[1].error.startswith("not valid JSON") and "not a JSON object" in recs[2].error


def test_invalid_json_array_names_the_line(tmp_path):
    f = tmp_path / "x.json"
    f.write_text('[\n  {"id": "A-1", "title": "one"},\n  {"id": "A-2", "title": }\n]\n')
    with pytest.raises(InvalidInput, match="line 3"):
        read_records(f)


def test_jira_csv_export_maps_its_columns():
    fmt, recs = read_records(EXAMPLES / "jira-export.csv")
    assert fmt == "CSV" and [r.line for r in recs] == [2, 5, 8]  # descriptions span lines
    first = recs[0].data
    assert first["id"] == "OPS-1412" and first["title"].startswith("checkout-api 502s")
    assert first["created"] == "2026-10-14T03:12:00Z" and first["resolved"] == "2026-10-14T04:05:00Z"
    assert first["tags"] == ["ingress", "502"] and first["service"] == "checkout-api"
    assert first["root_cause"].startswith("Upstream keepalive") and first["jira_resolution"] == "Done"
    assert "Rolled the ingress controller back" in first["body"] and "resolution" not in first


def test_jira_rest_search_json_plain_and_document_format():
    fmt, recs = read_records(EXAMPLES / "jira-search.json")
    assert fmt == "Jira REST search" and [r.data["id"] for r in recs] == ["OPS-1450", "OPS-1457"]
    a, b = recs[0].data, recs[1].data
    assert a["links"] == {"jira": "https://example.atlassian.net/browse/OPS-1450"} and a["service"] == "orders-db"
    assert a["tags"] == ["postgres", "replication"] and a["severity"] == "High" and a["status"] == "Done"
    assert "APNs returned 403" in b["body"] and "restarted notification-service" in b["body"]  # ADF (REST v3)


def test_pagerduty_csv_export_and_rest_json():
    fmt, recs = read_records(EXAMPLES / "pagerduty-incidents.csv")
    d = recs[0].data
    assert fmt == "CSV" and d["id"] == "PD-3121" and d["pagerduty_id"] == "Q1ZYGW8L3H7ABC"
    assert d["title"] == "[FIRING] payments-api p99 latency above 2s" and d["service"] == "payments-api"
    assert d["created"] == "2026-11-12T02:03:11Z" and d["severity"] == "P1"
    fmt, recs = read_records(EXAMPLES / "pagerduty-incidents.json")
    d = recs[0].data
    assert fmt == "PagerDuty REST incidents" and d["id"] == "PD-3130" and d["service"] == "checkout-api"
    assert d["links"]["pagerduty"].endswith("/incidents/Q3AB4CD5EF6GHI") and d["resolved"] == "2026-11-14T08:12:45Z"
    assert "body" not in d or d["body"] == ""  # PagerDuty repeats the title as its description
    assert recs[1].data["severity"] == "high"  # no priority: the urgency stands in


def test_a_vendor_record_on_its_own_line_is_read_as_that_vendor(tmp_path):
    issue = json.loads((EXAMPLES / "jira-search.json").read_text())["issues"][0]
    f = tmp_path / "issues.jsonl"
    f.write_text(json.dumps(issue) + "\n")
    assert read_records(f)[1][0].data["id"] == "OPS-1450"


def test_a_generic_csv_with_the_import_field_names():
    fmt, recs = read_records(EXAMPLES / "incidents.csv")
    d = recs[1].data
    assert d["id"] == "INC-602" and d["tags"] == ["memory", "kubernetes"] and d["root_cause"].startswith("A 40 MP")


def test_a_file_that_is_neither_says_what_import_reads(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("just some words\nand more words\n")
    with pytest.raises(InvalidInput, match="JSON Lines.*CSV with a header row"):
        read_records(f)
    with pytest.raises(InvalidInput, match="no such file"):
        read_records(tmp_path / "missing.jsonl")
    (tmp_path / "latin1.csv").write_bytes("title\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        read_records(tmp_path / "latin1.csv")


def test_csv_dates_and_adf_helpers():
    assert csv_date("14/Oct/26 3:12 AM") == "2026-10-14T03:12:00Z"
    assert csv_date("11/12/2026 02:14") == "2026-11-12T02:14:00Z"
    assert csv_date("2026-11-12T02:14:00Z") == "2026-11-12T02:14:00Z"  # left for parse_time
    assert adf_text({"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "a"}]}]}) == "a\n"
