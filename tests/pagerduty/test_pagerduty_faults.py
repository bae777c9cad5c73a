"""Upstream faults: writes whose answer is lost, hanging requests, unreadable bodies, stderr noise.

A write whose outcome is unknown is read back and the truth reported; nothing is sent twice;
every request ends within the read/write deadline. Deadlines here are a second or two so the
suite stays fast; the hanging fake answers only when the test ends.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading

import pd_harness
import pytest
from pd_fake import TOKEN, FakePagerDuty, fake_pd, ref  # noqa: F401 - fake_pd is a fixture
from pd_harness import FAST

from paii_common.http import RetryPolicy
from tests.mcp_calls import call, error, ok

PUT = ("PUT", "/incidents/PINC0001")
NOTES = ("POST", "/incidents/PINC0001/notes")


def make_server(fake: FakePagerDuty, *, read_timeout: float = 1.0, write_timeout: float = 2.0, policy=FAST):
    """The server with deadlines of a second or two."""
    return pd_harness.make_server(fake, read_timeout=read_timeout, write_timeout=write_timeout, policy=policy)


# ---------------------------------------------------------------- acknowledge / resolve / escalate


async def test_acknowledge_whose_put_answers_500_after_the_change_reads_back_and_reports_acknowledged(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.fail_next(*PUT, 500, after_change=True)
    out = ok(await call(make_server(fake_pd), "acknowledge_incident", {"incident_id": "PINC0001"}))
    assert out["incident"]["status"] == "acknowledged" and out["changed"] is True
    assert "did not confirm" in out["note"] and "HTTP 500" in out["note"] and "is acknowledged" in out["note"]
    assert len(fake_pd.calls(*PUT)) == 1  # read back, never re-sent


async def test_acknowledge_whose_put_answers_500_without_the_change_says_it_is_not_acknowledged(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.fail_next(*PUT, 500)
    text = error(await call(make_server(fake_pd), "acknowledge_incident", {"incident_id": "PINC0001"}))
    assert "HTTP 500" in text and "is not acknowledged (status: triggered)" in text
    assert "retry acknowledge_incident" in text
    assert "changed nothing" not in text and "nothing was changed" not in text
    assert len(fake_pd.calls(*PUT)) == 1


async def test_a_hanging_put_ends_within_the_write_deadline_and_the_read_back_tells_the_truth(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.hang_next(*PUT, after_change=True)
    out = ok(await call(make_server(fake_pd), "acknowledge_incident", {"incident_id": "PINC0001"}))
    assert out["incident"]["status"] == "acknowledged"
    assert "did not answer within" in out["note"] and "is acknowledged" in out["note"]
    assert len(fake_pd.calls(*PUT)) == 1


async def test_a_hanging_put_that_did_not_land_says_not_acknowledged_and_how_to_check(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.hang_next(*PUT)
    text = error(await call(make_server(fake_pd), "resolve_incident", {"incident_id": "PINC0001"}))
    assert "did not answer within" in text and "is not resolved (status: triggered)" in text
    assert "still be in flight" in text and "get_incident" in text
    assert "nothing was changed" not in text
    assert len(fake_pd.calls(*PUT)) == 1


async def test_when_the_read_back_fails_too_the_outcome_is_unknown_and_says_how_to_find_out(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.fail_next(*PUT, 502)
    # the first GET is the tool's own state check; every later one (the read back) fails
    original = fake_pd.handle
    gets = []

    def failing_read_back(method, path, query, body):
        if method == "GET" and path == "/incidents/PINC0001":
            gets.append(1)
            if len(gets) > 1:
                return 503, {"error": {"message": "read side down", "code": 1}}, {}
        return original(method, path, query, body)

    fake_pd.handle = failing_read_back
    text = error(await call(make_server(fake_pd), "acknowledge_incident", {"incident_id": "PINC0001"}))
    assert "may or may not have been made" in text and "Do not retry blindly" in text
    assert "get_incident" in text and "PINC0001" in text
    assert len(fake_pd.calls(*PUT)) == 1


async def test_an_unreadable_answer_to_a_put_is_read_back(fake_pd):
    fake_pd.add_incident(1, status="acknowledged")
    fake_pd.garble_next(*PUT, "truncated")
    out = ok(await call(make_server(fake_pd), "resolve_incident", {"incident_id": "PINC0001"}))
    assert out["incident"]["status"] == "resolved" and "unreadable" in out["note"]
    assert len(fake_pd.calls(*PUT)) == 1


async def test_escalate_to_users_whose_answer_is_lost_reads_the_assignments_back(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.fail_next(*PUT, 500, after_change=True)
    out = ok(await call(make_server(fake_pd), "escalate_incident", {"incident_id": "PINC0001", "user_ids": ["PUSER2"]}))
    assert "is reassigned to PUSER2" in out["note"] and out["changed"] is True
    assert len(fake_pd.calls(*PUT)) == 1


async def test_escalate_to_a_level_whose_answer_is_lost_reads_the_log_back(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.hang_next(*PUT, after_change=True)
    out = ok(await call(make_server(fake_pd), "escalate_incident", {"incident_id": "PINC0001", "escalation_level": 2}))
    assert "is escalated" in out["note"]
    fake_pd.fail_next(*PUT, 500)
    text = error(await call(make_server(fake_pd), "escalate_incident", {"incident_id": "PINC0001", "escalation_level": 3}))
    assert "is not escalated" in text


# ---------------------------------------------------------------- notes


async def test_a_note_whose_post_hangs_is_found_on_read_back_and_a_retry_does_not_add_it_twice(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.hang_next(*NOTES, after_change=True)
    server = make_server(fake_pd)
    args = {"incident_id": "PINC0001", "content": "Restarted auth pods"}
    first = ok(await call(server, "add_incident_note", args))
    assert first["changed"] is True and "did not answer within" in first["message"]
    assert first["note"]["content"].splitlines()[1] == "Restarted auth pods"
    again = ok(await call(server, "add_incident_note", args))
    assert again["changed"] is False and "already" in again["message"]
    assert [n["content"] for n in fake_pd.notes["PINC0001"]] == ["Restarted auth pods"]
    assert len(fake_pd.calls(*NOTES)) == 1


async def test_a_note_whose_post_fails_without_landing_says_it_is_not_there(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.fail_next(*NOTES, 500)
    text = error(await call(make_server(fake_pd), "add_incident_note", {"incident_id": "PINC0001", "content": "hi"}))
    assert "HTTP 500" in text and "the note is not on the incident" in text and "add_incident_note again" in text
    assert len(fake_pd.calls(*NOTES)) == 1 and fake_pd.notes["PINC0001"] == []


async def test_a_note_with_an_unreadable_answer_is_found_on_read_back(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.garble_next(*NOTES, "cut")
    out = ok(await call(make_server(fake_pd), "add_incident_note", {"incident_id": "PINC0001", "content": "hi"}))
    assert out["changed"] is True and len(fake_pd.notes["PINC0001"]) == 1
    assert len(fake_pd.calls(*NOTES)) == 1


async def test_the_same_note_added_twice_in_a_row_is_added_once(fake_pd):
    fake_pd.add_incident(1)
    server = make_server(fake_pd)
    args = {"incident_id": "PINC0001", "content": "Rolled back v2.3.4"}
    assert ok(await call(server, "add_incident_note", args))["changed"] is True
    again = ok(await call(server, "add_incident_note", args))
    assert again["changed"] is False and "not added again" in again["message"]
    other = ok(await call(server, "add_incident_note", {**args, "content": "Rolled back v2.3.5"}))
    assert other["changed"] is True and len(fake_pd.notes["PINC0001"]) == 2


async def test_an_old_note_with_the_same_text_does_not_block_a_new_one(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.notes["PINC0001"] = [{"id": "PN0", "user": ref("user", "PUSER1", "Sam"), "content": "still investigating", "created_at": "2025-01-01T00:00:00Z"}]
    out = ok(await call(make_server(fake_pd), "add_incident_note", {"incident_id": "PINC0001", "content": "still investigating"}))
    assert out["changed"] is True and len(fake_pd.notes["PINC0001"]) == 2


# ---------------------------------------------------------------- reads: deadlines and bodies


async def test_a_hanging_get_fails_within_the_read_deadline_and_says_how_long_it_waited(fake_pd):
    fake_pd.hang_next("GET", "/incidents", times=5)
    text = error(await call(make_server(fake_pd), "list_incidents"))
    assert "GET /incidents" in text and "did not answer within" in text
    assert "PAII_READ_TIMEOUT" in text and "retry" in text
    assert len(fake_pd.calls("GET", "/incidents")) == 1  # a second attempt could not finish in time


async def test_retries_stop_when_the_next_attempt_cannot_finish_in_time(fake_pd):
    fake_pd.fail_next("GET", "/incidents", 503, 503, 503, 503)
    slow = RetryPolicy(backoff_base=5.0, backoff_max=5.0)  # a backoff longer than the whole deadline
    text = error(await call(make_server(fake_pd, policy=slow), "list_incidents"))
    assert "HTTP 503" in text and "after 1 attempt" in text and "this read changed nothing" in text
    assert len(fake_pd.calls("GET", "/incidents")) == 1


async def test_read_errors_say_attempts_made_in_the_same_words_as_slack(fake_pd):
    fake_pd.fail_next("GET", "/incidents", 503, 503, 503, 503)
    text = error(await call(make_server(fake_pd), "list_incidents"))
    assert "after 4 attempts" in text
    fake_pd.fail_next("GET", "/incidents", 429, 429, 429, 429, headers={"Retry-After": "0"})
    assert "rate limited after 4 attempts" in error(await call(make_server(fake_pd), "list_incidents"))


@pytest.mark.parametrize("kind", ["truncated", "cut"])
async def test_an_unreadable_body_on_a_read_names_the_problem(fake_pd, kind):
    fake_pd.add_incident(1)
    fake_pd.garble_next("GET", "/incidents/PINC0001", kind, times=4)
    text = error(await call(make_server(fake_pd), "get_incident", {"incident_id": "PINC0001"}))
    assert "PagerDuty returned an unreadable response" in text and "retry" in text
    assert "JSONDecodeError" not in text and "Traceback" not in text


async def test_a_cut_body_on_a_read_is_retried(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.garble_next("GET", "/incidents/PINC0001", "cut")
    ok(await call(make_server(fake_pd), "get_incident", {"incident_id": "PINC0001"}))
    assert len(fake_pd.calls("GET", "/incidents/PINC0001")) == 2


# ---------------------------------------------------------------- stderr


def test_the_stdio_server_prints_no_deprecation_warning_and_one_line_for_a_failed_call(fake_pd, tmp_path):
    fake_pd.fail_next("GET", "/incidents", 503, 503, 503, 503)
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_incidents", "arguments": {}}},
    ]
    env = {**os.environ, "PAII_CONFIG_DIR": str(tmp_path), "PAII_PAGERDUTY_TOKEN": TOKEN, "PAII_PAGERDUTY_URL": fake_pd.url,
           "PYTHONWARNINGS": "default"}
    env.pop("PAII_LOG_LEVEL", None)
    proc = subprocess.Popen([sys.executable, "-m", "paii_pagerduty"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    watchdog = threading.Timer(60, proc.kill)  # a missing answer fails the test instead of hanging it
    watchdog.start()
    proc.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in lines))
    proc.stdin.flush()
    answers = [json.loads(proc.stdout.readline() or b"null") for _ in range(2)]  # initialize, then the tool call
    watchdog.cancel()
    proc.stdin.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=30)
    assert answers[1]["result"]["isError"] is True and "after 4 attempts" in answers[1]["result"]["content"][0]["text"]
    assert "deprecated" not in stderr
    assert len([line for line in stderr.splitlines() if line.strip()]) == 1, stderr
    assert len(fake_pd.calls("GET", "/incidents")) == 4


async def test_retries_are_logged_below_warning(fake_pd, caplog):
    caplog.set_level(logging.DEBUG)
    fake_pd.add_incident(1)
    fake_pd.fail_next("GET", "/incidents/PINC0001", 500, 503)
    ok(await call(make_server(fake_pd), "get_incident", {"incident_id": "PINC0001"}))
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]
