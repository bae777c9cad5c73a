"""Expectations (exit code, regex, JSON path, comparisons) and maintenance windows (UTC)."""

from __future__ import annotations

import datetime as dt

import pytest

from paii_runbook.expect import Expect, parse_json_path, validate
from paii_runbook.windows import check_windows, parse_window

FRI_2AM = dt.datetime(2026, 1, 2, 2, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("spec, stdout, code, ok, value", [
    ({}, "anything\n", 0, True, "anything"),
    ({}, "", 3, False, None),
    ({"exit_code": [0, 1]}, "0\n", 1, True, "0"),
    ({"regex": r"lag (\d+)", "lt": 5}, "lag 3\n", 0, True, "3"),
    ({"regex": r"lag (\d+)", "lt": 5}, "lag 7\n", 0, False, "7"),
    ({"json_path": "$.caught_up", "equals": True}, '{"caught_up" : true}', 0, True, "true"),
    ({"json_path": "$.items[1]['name']", "equals": "b"}, '{"items": [{"name": "a"}, {"name": "b"}]}', 0, True, "b"),
    ({"json_path": "$.missing", "equals": 1}, "{}", 0, False, None),
    ({"equals": False}, "f\n", 0, True, "f"),
    ({"equals": "on"}, "on\n", 0, True, "on"),
    ({"ge": 0}, "not a number", 0, False, "not a number"),
])
def test_an_expectation_judges_the_output_and_shows_the_value(spec, stdout, code, ok, value):
    passed, seen, why = Expect.from_mapping(spec).evaluate(stdout, code)
    assert (passed, seen) == (ok, value), why


def test_bad_expectations_and_paths_are_explained():
    assert validate({"regex": "("}, "expect")[0].startswith("expect: regex '(' does not compile")
    assert validate({"lt": "x", "bogus": 1}, "expect") == ["expect: unknown key 'bogus' (known: exit_code, regex, json_path, "
                                                           "equals, ne, lt, le, gt, ge)", "expect: lt must be a number"]
    with pytest.raises(ValueError, match="use .key"):
        parse_json_path("$.a..b")


@pytest.mark.parametrize("specs, now, inside, fragment", [
    (["Sat 02:00-04:00 UTC"], FRI_2AM, False, "next: Sat 2026-01-03 02:00-04:00 UTC"),
    (["Fri 01:30-02:30"], FRI_2AM, True, "in the maintenance window Fri 2026-01-02 01:30-02:30 UTC"),
    (["Thu 23:00-03:00"], FRI_2AM, True, "Thu 2026-01-01 23:00-03:00 UTC"),
    (["2026-01-03 02:00-04:00"], FRI_2AM, False, "next: Sat 2026-01-03"),
    (["2025-12-01 02:00-04:00"], FRI_2AM, False, "no upcoming window"),
    (["daily 01:00-02:00"], FRI_2AM, False, "next: Sat 2026-01-03 01:00-02:00 UTC"),
    ([], FRI_2AM, None, "no maintenance window is known"),
])
def test_maintenance_windows_say_whether_now_is_in_one_and_when_the_next_is(specs, now, inside, fragment):
    got, text = check_windows(specs, now)
    assert got is inside and fragment in text


def test_a_window_in_another_zone_or_without_length_is_refused():
    for bad in ("Sat 02:00-04:00 CET", "someday 02:00-04:00", "Sat 02:00-02:00", "Sat 25:00-26:00"):
        with pytest.raises(ValueError):
            parse_window(bad)
