"""The PagerDuty server's retries and upstream errors, configuration (missing settings, read-only
mode, annotations), secrets kept out of outputs and logs, and bad input refused before any request."""

from __future__ import annotations

import json
import logging

import pytest
from mcp import Client
from pd_fake import FROM, TOKEN, fake_pd  # noqa: F401 - fake_pd is a fixture
from pd_harness import FAST, make_server

from paii_pagerduty.client import PagerDutyClient
from paii_pagerduty.config import PagerDutySettings
from paii_pagerduty.server import build_server
from tests.mcp_calls import call, error, ok

WRITERS = {"acknowledge_incident", "resolve_incident", "add_incident_note", "escalate_incident", "post_status_update"}


# ---------------------------------------------------------------- retries and errors


async def test_429_then_success_is_retried(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.fail_next("GET", "/incidents", 429, 429, headers={"Retry-After": "0"})
    out = ok(await call(make_server(fake_pd), "list_incidents"))
    assert len(out["incidents"]) == 1
    assert len(fake_pd.calls("GET", "/incidents")) == 3


async def test_429_on_a_write_is_retried(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.fail_next("POST", "/incidents/PINC0001/notes", 429, headers={"Retry-After": "0"})
    ok(await call(make_server(fake_pd), "add_incident_note", {"incident_id": "PINC0001", "content": "hi"}))
    assert len(fake_pd.calls("POST", "/incidents/PINC0001/notes")) == 2
    assert len(fake_pd.notes["PINC0001"]) == 1


async def test_429_that_keeps_coming_is_rate_limited_after_bounded_attempts(fake_pd):
    fake_pd.fail_next("GET", "/incidents", 429, 429, 429, 429, 429, headers={"Retry-After": "0"})
    text = error(await call(make_server(fake_pd), "list_incidents"))
    assert "rate limited" in text and "HTTP 429" in text and "do not loop" in text
    assert len(fake_pd.calls("GET", "/incidents")) == FAST.max_attempts


async def test_429_with_a_long_retry_after_is_reported_not_waited(fake_pd):
    fake_pd.fail_next("GET", "/incidents", 429, headers={"Retry-After": "120"})
    text = error(await call(make_server(fake_pd), "list_incidents"))
    assert "retry after 120 s" in text
    assert len(fake_pd.calls("GET", "/incidents")) == 1


async def test_500_on_a_read_is_retried(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.fail_next("GET", "/incidents/PINC0001", 500, 503)
    ok(await call(make_server(fake_pd), "get_incident", {"incident_id": "PINC0001"}))
    assert len(fake_pd.calls("GET", "/incidents/PINC0001")) == 3


async def test_500_on_a_note_is_not_retried_and_says_what_to_do(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.fail_next("POST", "/incidents/PINC0001/notes", 500)
    text = error(await call(make_server(fake_pd), "add_incident_note", {"incident_id": "PINC0001", "content": "hi"}))
    assert len(fake_pd.calls("POST", "/incidents/PINC0001/notes")) == 1
    assert "POST /incidents/{id}/notes failed (HTTP 500)" in text and "fake failure 500" in text
    assert "reading the notes back shows the note is not on the incident" in text
    assert fake_pd.notes["PINC0001"] == []


async def test_unreachable_api_is_an_actionable_error(fake_pd):
    settings = PagerDutySettings.load(token=TOKEN, from_email=FROM, url="http://127.0.0.1:9")
    server = build_server(settings, PagerDutyClient(TOKEN, from_email=FROM, url=settings.url, policy=FAST))
    text = error(await call(server, "list_services"))
    assert "could not reach http://127.0.0.1:9" in text and "PAII_PAGERDUTY_URL" in text
    assert "nothing was sent" in text


# ---------------------------------------------------------------- configuration


async def test_missing_token_still_lists_tools_and_tools_say_what_to_set(fake_pd):
    server = make_server(fake_pd, token=None)
    async with Client(server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert len(names) == 12
        text = error(await c.call_tool("list_incidents", {}))
    assert "PagerDuty is not configured: set PAII_PAGERDUTY_TOKEN or PAGERDUTY_API_KEY" in text
    assert fake_pd.requests == []


async def test_token_from_pagerduty_api_key_alias(fake_pd, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_API_KEY", TOKEN)
    monkeypatch.setenv("PAII_PAGERDUTY_URL", fake_pd.url)
    fake_pd.add_incident(1)
    out = ok(await call(build_server(PagerDutySettings.load()), "list_incidents"))
    assert len(out["incidents"]) == 1


async def test_write_without_from_email_is_not_configured(fake_pd):
    fake_pd.add_incident(1)
    text = error(await call(make_server(fake_pd, from_email=None), "acknowledge_incident", {"incident_id": "PINC0001"}))
    assert "PAII_PAGERDUTY_FROM" in text
    assert fake_pd.requests == []


@pytest.mark.parametrize("how", ["setting", "env"])
async def test_read_only_mode_drops_every_writer(fake_pd, monkeypatch, how):
    if how == "env":
        monkeypatch.setenv("PAII_READ_ONLY", "1")
        server = make_server(fake_pd)
    else:
        server = make_server(fake_pd, read_only=True)
    async with Client(server) as c:
        tools = (await c.list_tools()).tools
    names = {t.name for t in tools}
    assert names.isdisjoint(WRITERS) and "shift_activity" in names and len(names) == 7
    assert all(t.annotations.read_only_hint for t in tools)


async def test_writers_are_annotated_as_writes(fake_pd):
    async with Client(make_server(fake_pd)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    for name, t in tools.items():
        assert t.annotations.read_only_hint is (name not in WRITERS), name


async def test_token_never_appears_in_outputs_or_logs(fake_pd, caplog):
    caplog.set_level(logging.DEBUG)
    fake_pd.add_incident(1)
    fake_pd.fail_next("GET", "/incidents", 400)
    server = make_server(fake_pd)
    outputs = []
    # an error body that echoes the token back
    original = fake_pd.handle

    def echo(method, path, query, body):
        if path == "/services":
            return 400, {"error": {"message": f"bad token Token token={TOKEN}", "errors": [TOKEN]}}, {}
        return original(method, path, query, body)

    fake_pd.handle = echo
    async with Client(server) as c:
        for name, args in [("list_incidents", {}), ("list_incidents", {}), ("list_services", {}), ("get_incident", {"incident_id": "PINC0001"}), ("acknowledge_incident", {"incident_id": "PINC0001"})]:
            r = await c.call_tool(name, args)
            outputs.append(r.content[0].text + json.dumps(r.structured_content or {}))
    bad = make_server(fake_pd, token="wrong-token-abcdef123")
    r = await call(bad, "list_services")
    outputs.append(r.content[0].text)
    assert "rejected" in r.content[0].text or "HTTP 401" in r.content[0].text
    joined = "\n".join(outputs) + caplog.text
    assert TOKEN not in joined and "wrong-token-abcdef123" not in joined
    assert fake_pd.requests  # the token did go on the wire, only to PagerDuty


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("tool", "args", "expect"),
    [
        ("list_incidents", {"since": "yesterday-ish"}, "since='yesterday-ish' is not a time"),
        ("list_incidents", {"until": "2026-01-02"}, "since is required"),
        ("list_incidents", {"since": "2026-01-02", "until": "2026-01-01"}, "must be before until"),
        ("list_incidents", {"statuses": ["open"]}, "statuses"),
        ("list_incidents", {"limit": 1000}, "limit"),
        ("list_oncalls", {"at": "tomorrow"}, "at='tomorrow' is not a time"),
        ("shift_activity", {"since": "1 day"}, "is not a time"),
        ("get_incident", {"incident_id": "../users/me"}, "is not a PagerDuty id"),
        ("list_maintenance_windows", {"state": "soon"}, "state"),
        ("escalate_incident", {"incident_id": "PINC0001", "user_ids": ["a b"]}, "user_ids='a b' is not a PagerDuty id"),
        ("add_incident_note", {"incident_id": "PINC0001", "content": ""}, "content"),
    ],
)
async def test_bad_input_gets_a_clear_error(fake_pd, tool, args, expect):
    text = error(await call(make_server(fake_pd), tool, args))
    assert expect in text
    assert fake_pd.requests == []
