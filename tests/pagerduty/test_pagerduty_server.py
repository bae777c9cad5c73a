"""The PagerDuty server through the real MCP client, against a stateful fake over HTTP."""

from __future__ import annotations

import json
import logging

import pytest
from mcp import Client
from pd_fake import FROM, OTHER, TOKEN, FakePagerDuty, fake_pd, ref  # noqa: F401 - fake_pd is a fixture

from paii_common.http import RetryPolicy
from paii_common.redact import register_secret
from paii_pagerduty.client import PagerDutyClient
from paii_pagerduty.config import PagerDutySettings
from paii_pagerduty.server import build_server

FAST = RetryPolicy(backoff_base=0.001, backoff_max=0.005, max_retry_after=5)
WRITERS = {"acknowledge_incident", "resolve_incident", "add_incident_note", "escalate_incident", "post_status_update"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in ("PAII_PAGERDUTY_TOKEN", "PAGERDUTY_API_KEY", "PAII_PAGERDUTY_FROM", "PAII_PAGERDUTY_URL", "PAII_READ_ONLY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PAII_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("PAII_HOME", str(tmp_path / "home"))


def make_server(fake: FakePagerDuty, *, token: str | None = TOKEN, from_email: str | None = FROM, **overrides):
    settings = PagerDutySettings.load(token=token, from_email=from_email, url=fake.url, **overrides)
    register_secret(*settings.secret_values())
    client = PagerDutyClient(settings.token_value, from_email=settings.from_email, url=settings.url, policy=FAST)
    return build_server(settings, client)


async def call(server, name: str, args: dict | None = None):
    async with Client(server) as c:
        return await c.call_tool(name, args or {})


def ok(result) -> dict:
    assert not result.is_error, result.content[0].text
    return result.structured_content


def error(result) -> str:
    assert result.is_error, result.structured_content
    return result.content[0].text


# ---------------------------------------------------------------- reads


async def test_list_incidents_returns_open_incidents_newest_first(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.add_incident(2, status="acknowledged", urgency="low")
    fake_pd.add_incident(3, status="resolved")
    out = ok(await call(make_server(fake_pd), "list_incidents"))
    assert [i["id"] for i in out["incidents"]] == ["PINC0002", "PINC0001"]
    first = out["incidents"][0]
    assert first["status"] == "acknowledged" and first["service"] == "payments-api" and first["assignees"] == ["Sam Oncall"]
    assert out["truncated"] is False and out["next_offset"] is None
    sent = fake_pd.calls("GET", "/incidents")[0].query
    assert sent["statuses[]"] == ["triggered", "acknowledged"]


async def test_list_incidents_filters_are_sent(fake_pd):
    fake_pd.add_incident(1)
    out = ok(
        await call(
            make_server(fake_pd),
            "list_incidents",
            {"statuses": ["resolved", "triggered"], "urgencies": ["high"], "service_ids": ["PSVC1"], "since": "2026-01-01T00:00:00Z", "until": "2026-01-02"},
        )
    )
    assert len(out["incidents"]) == 1
    q = fake_pd.calls("GET", "/incidents")[0].query
    assert q["statuses[]"] == ["resolved", "triggered"] and q["urgencies[]"] == ["high"]
    assert q["service_ids[]"] == ["PSVC1"]
    assert q["since"] == ["2026-01-01T00:00:00Z"] and q["until"] == ["2026-01-02T00:00:00Z"]


async def test_list_incidents_pages_across_api_pages_and_says_truncated(fake_pd):
    fake_pd.max_limit = 10  # the API returns at most 10 per page
    for n in range(35):
        fake_pd.add_incident(n)
    server = make_server(fake_pd)
    out = ok(await call(server, "list_incidents", {"limit": 25}))
    assert len(out["incidents"]) == 25 and out["truncated"] is True and out["next_offset"] == 25
    assert len(fake_pd.calls("GET", "/incidents")) == 3
    rest = ok(await call(server, "list_incidents", {"limit": 25, "offset": 25}))
    assert len(rest["incidents"]) == 10 and rest["truncated"] is False
    seen = {i["id"] for i in out["incidents"]} | {i["id"] for i in rest["incidents"]}
    assert len(seen) == 35


async def test_list_incidents_stops_at_the_page_cap(fake_pd):
    fake_pd.max_limit = 2  # tiny pages: 100 items would need 50 requests
    for n in range(300):
        fake_pd.add_incident(n)
    out = ok(await call(make_server(fake_pd), "list_incidents", {"limit": 100}))
    assert len(fake_pd.calls("GET", "/incidents")) == 5
    assert len(out["incidents"]) == 10 and out["truncated"] is True and out["next_offset"] == 10


async def test_list_incidents_assigned_to_me_asks_for_the_current_user(fake_pd):
    fake_pd.add_incident(1)
    fake_pd.add_incident(2, assignments=[{"assignee": ref("user", OTHER["id"], OTHER["name"])}])
    out = ok(await call(make_server(fake_pd), "list_incidents", {"assigned_to_me": True}))
    assert [i["id"] for i in out["incidents"]] == ["PINC0001"]
    assert fake_pd.calls("GET", "/users/me")


async def test_get_incident_returns_alerts_notes_and_log(fake_pd):
    fake_pd.add_incident(7, status="acknowledged")
    fake_pd.alerts["PINC0007"] = [
        {"id": f"PA{n}", "summary": f"5xx rate high {n}", "status": "triggered", "severity": "critical", "suppressed": False, "created_at": "2026-01-01T07:00:00Z", "body": {"details": "x" * 5000}}
        for n in range(30)
    ]
    fake_pd.notes["PINC0007"] = [{"id": "PN1", "user": ref("user", "PUSER1", "Sam Oncall"), "content": "Rolling back v2.3.4", "created_at": "2026-01-01T07:05:00Z"}]
    fake_pd.log_entries = [
        {"id": "L1", "type": "trigger_log_entry", "summary": "Triggered through the API", "created_at": "2026-01-01T07:00:00Z", "agent": ref("service", "PSVC1", "payments-api"), "incident": ref("incident", "PINC0007", "x")}
    ]
    out = ok(await call(make_server(fake_pd), "get_incident", {"incident_id": "PINC0007"}))
    assert out["id"] == "PINC0007" and out["status"] == "acknowledged"
    assert len(out["alerts"]) == 20 and "alerts" in out["truncated"]
    assert "body" not in out["alerts"][0]
    assert out["notes"] == [{"author": "Sam Oncall", "content": "<<untrusted pagerduty note>>\nRolling back v2.3.4\n<<end untrusted>>", "created_at": "2026-01-01T07:05:00Z"}]
    assert out["title"] == "‹untrusted: payments-api 500s #7›"  # written by a monitor: marked as data
    assert out["log"][0]["type"] == "trigger" and out["log"][0]["by"] == "payments-api"


async def test_get_incident_unknown_id_says_how_to_find_one(fake_pd):
    text = error(await call(make_server(fake_pd), "get_incident", {"incident_id": "PNOPE"}))
    assert "GET /incidents/{id}" in text and "HTTP 404" in text and "list the items first" in text


async def test_list_oncalls_for_a_service_at_a_time(fake_pd):
    fake_pd.services = [{"id": "PSVC1", "name": "payments-api", "status": "active", "escalation_policy": ref("escalation_policy", "PEP1", "Payments EP"), "html_url": "u"}]
    fake_pd.oncalls = [
        {"user": ref("user", "PUSER1", "Sam Oncall"), "escalation_policy": ref("escalation_policy", "PEP1", "Payments EP"), "schedule": ref("schedule", "PSCH1", "Primary"), "escalation_level": 1, "start": "2026-01-01T09:00:00Z", "end": "2026-01-02T09:00:00Z"},
        {"user": ref("user", "PUSER9", "Else"), "escalation_policy": ref("escalation_policy", "PEP9", "Other EP"), "schedule": None, "escalation_level": 1, "start": None, "end": None},
    ]
    out = ok(await call(make_server(fake_pd), "list_oncalls", {"service_id": "PSVC1", "at": "2026-01-01T12:00:00+01:00"}))
    assert out["oncalls"] == [
        {"user": "Sam Oncall", "user_id": "PUSER1", "level": 1, "schedule": "Primary", "escalation_policy": "Payments EP", "escalation_policy_id": "PEP1", "start": "2026-01-01T09:00:00Z", "end": "2026-01-02T09:00:00Z"}
    ]
    q = fake_pd.calls("GET", "/oncalls")[0].query
    assert q["escalation_policy_ids[]"] == ["PEP1"] and q["since"] == q["until"] == ["2026-01-01T11:00:00Z"]


async def test_list_services_and_maintenance_windows(fake_pd):
    fake_pd.services = [{"id": "PSVC1", "name": "payments-api", "status": "critical", "escalation_policy": ref("escalation_policy", "PEP1", "Payments EP"), "html_url": "u", "integrations": [{}] * 5}]
    fake_pd.windows = [{"id": "PMW1", "description": "DB upgrade", "start_time": "2026-01-03T02:00:00Z", "end_time": "2026-01-03T04:00:00Z", "services": [ref("service", "PSVC1", "payments-api")]}]
    server = make_server(fake_pd)
    services = ok(await call(server, "list_services", {"query": "pay"}))
    assert services["services"] == [{"id": "PSVC1", "name": "payments-api", "status": "critical", "escalation_policy": "Payments EP", "escalation_policy_id": "PEP1", "url": "u"}]
    assert fake_pd.calls("GET", "/services")[0].query["query"] == ["pay"]
    windows = ok(await call(server, "list_maintenance_windows", {"state": "future"}))
    assert windows["maintenance_windows"][0]["description"] == "DB upgrade"
    assert windows["maintenance_windows"][0]["services"] == ["payments-api"]
    assert fake_pd.calls("GET", "/maintenance_windows")[0].query["filter"] == ["future"]


async def test_shift_activity_summarises_the_window_in_one_call(fake_pd):
    fake_pd.add_incident(1, status="resolved")
    fake_pd.add_incident(2, status="acknowledged", title="auth-service latency")
    fake_pd.add_incident(3, status="resolved", title="disk warning logs-storage-03")
    fake_pd.add_incident(4, status="triggered", assignments=[{"assignee": ref("user", OTHER["id"], OTHER["name"])}])
    user = ref("user", "PUSER1", "Sam Oncall")
    svc = ref("service", "PSVC1", "payments-api")

    def entry(kind, iid, at, agent):
        return {"id": f"{kind}{iid}", "type": f"{kind}_log_entry", "summary": f"{kind} by {agent['summary']}", "created_at": at, "agent": agent, "incident": {"id": iid, "type": "incident_reference"}}

    fake_pd.log_entries = [
        entry("trigger", "PINC0001", "2026-01-01T10:00:00Z", svc),
        entry("acknowledge", "PINC0001", "2026-01-01T10:05:00Z", user),
        entry("resolve", "PINC0001", "2026-01-01T11:00:00Z", user),
        entry("trigger", "PINC0002", "2026-01-01T12:00:00Z", svc),
        entry("acknowledge", "PINC0002", "2026-01-01T12:01:00Z", user),
        entry("trigger", "PINC0003", "2026-01-01T13:00:00Z", svc),
        entry("resolve", "PINC0003", "2026-01-01T13:30:00Z", svc),
        entry("trigger", "PINC0004", "2026-01-01T14:00:00Z", svc),
    ]
    fake_pd.notes["PINC0001"] = [
        {"user": user, "content": "Root cause: DB pool exhaustion", "created_at": "2026-01-01T10:50:00Z"},
        {"user": user, "content": "old note", "created_at": "2025-12-01T10:50:00Z"},
    ]
    fake_pd.alerts["PINC0003"] = [{"id": "PA3", "summary": "Low disk logs-storage-03", "status": "resolved", "suppressed": False}]
    fake_pd.alerts["PINC0002"] = [{"id": "PA2", "summary": "Cache memory", "status": "triggered", "suppressed": True}]
    fake_pd.windows = [{"id": "PMW1", "description": "DB upgrade", "start_time": "2026-01-03T02:00:00Z", "end_time": "2026-01-03T04:00:00Z", "services": []}]

    out = ok(await call(make_server(fake_pd), "shift_activity", {"since": "2026-01-01T09:00:00Z", "until": "2026-01-02T09:00:00Z"}))
    assert out["since"] == "2026-01-01T09:00:00Z" and out["until"] == "2026-01-02T09:00:00Z"
    assert out["counts"] == {"triggered": 4, "acknowledged": 2, "resolved": 2, "open_now": 2}
    by_id = {i["id"]: i for i in out["incidents"]}
    assert by_id["PINC0001"]["in_window"] == ["triggered", "acknowledged", "resolved"]
    assert by_id["PINC0001"]["status"] == "resolved" and by_id["PINC0001"]["resolved_by"] == "Sam Oncall"
    assert [n["content"].splitlines()[1] for n in by_id["PINC0001"]["notes"]] == ["Root cause: DB pool exhaustion"]
    assert by_id["PINC0003"]["auto_resolved"] is True and by_id["PINC0001"]["auto_resolved"] is False
    assert {a["id"] for a in out["alerts"]} == {"PA2", "PA3"}
    assert out["maintenance_windows"][0]["id"] == "PMW1"
    assert [i["status"] for i in out["incidents"]][:2] != ["resolved", "resolved"]  # open first
    q = fake_pd.calls("GET", "/log_entries")[0].query
    assert q["include[]"] == ["incidents"] and q["is_overview"] == ["true"]

    mine = ok(await call(make_server(fake_pd), "shift_activity", {"since": "2026-01-01T09:00:00Z", "until": "2026-01-02T09:00:00Z", "user_id": "me"}))
    assert "PINC0004" not in {i["id"] for i in mine["incidents"]} and mine["user_id"] == "PUSER1"


# ---------------------------------------------------------------- writes


async def test_acknowledge_incident_sends_status_and_from(fake_pd):
    fake_pd.add_incident(1)
    out = ok(await call(make_server(fake_pd), "acknowledge_incident", {"incident_id": "PINC0001"}))
    assert out["incident"]["status"] == "acknowledged" and out["changed"] is True
    put = fake_pd.calls("PUT", "/incidents/PINC0001")[0]
    assert put.body == {"incident": {"type": "incident_reference", "status": "acknowledged"}}
    assert put.headers["from"] == FROM


async def test_acknowledge_already_acknowledged_is_not_an_error(fake_pd):
    fake_pd.add_incident(1, status="acknowledged")
    out = ok(await call(make_server(fake_pd), "acknowledge_incident", {"incident_id": "PINC0001"}))
    assert out["changed"] is False and "Already acknowledged" in out["note"]
    assert out["incident"]["status"] == "acknowledged"
    assert not fake_pd.calls("PUT", "/incidents/PINC0001")


async def test_acknowledge_resolved_incident_refuses_to_reopen_it(fake_pd):
    fake_pd.add_incident(1, status="resolved")
    text = error(await call(make_server(fake_pd), "acknowledge_incident", {"incident_id": "PINC0001"}))
    assert "resolved" in text and "reopen" in text
    assert not fake_pd.calls("PUT", "/incidents/PINC0001")


async def test_resolve_incident_with_resolution_and_twice(fake_pd):
    fake_pd.add_incident(1, status="acknowledged")
    server = make_server(fake_pd)
    out = ok(await call(server, "resolve_incident", {"incident_id": "PINC0001", "resolution": "Pool size raised to 150"}))
    assert out["incident"]["status"] == "resolved"
    assert fake_pd.calls("PUT", "/incidents/PINC0001")[0].body["incident"]["resolution"] == "Pool size raised to 150"
    again = ok(await call(server, "resolve_incident", {"incident_id": "PINC0001"}))
    assert again["changed"] is False and len(fake_pd.calls("PUT", "/incidents/PINC0001")) == 1


async def test_add_incident_note(fake_pd):
    fake_pd.add_incident(1)
    out = ok(await call(make_server(fake_pd), "add_incident_note", {"incident_id": "PINC0001", "content": "Restarted auth pods"}))
    assert out["note"]["content"] == "<<untrusted pagerduty note>>\nRestarted auth pods\n<<end untrusted>>"
    assert out["incident_id"] == "PINC0001" and out["changed"] is True
    assert fake_pd.notes["PINC0001"][0]["content"] == "Restarted auth pods"


async def test_escalate_incident_to_level_and_reassign(fake_pd):
    fake_pd.add_incident(1)
    server = make_server(fake_pd)
    ok(await call(server, "escalate_incident", {"incident_id": "PINC0001", "escalation_level": 2}))
    ok(await call(server, "escalate_incident", {"incident_id": "PINC0001", "user_ids": ["PUSER2"]}))
    ok(await call(server, "escalate_incident", {"incident_id": "PINC0001", "escalation_policy_id": "PEP2"}))
    bodies = [r.body["incident"] for r in fake_pd.calls("PUT", "/incidents/PINC0001")]
    assert bodies[0] == {"type": "incident_reference", "escalation_level": 2}
    assert bodies[1]["assignments"] == [{"assignee": {"id": "PUSER2", "type": "user_reference"}}]
    assert bodies[2]["escalation_policy"] == {"id": "PEP2", "type": "escalation_policy_reference"}
    assert "escalation_level, user_ids or escalation_policy_id" in error(await call(server, "escalate_incident", {"incident_id": "PINC0001"}))
    both = error(await call(server, "escalate_incident", {"incident_id": "PINC0001", "user_ids": ["PUSER2"], "escalation_policy_id": "PEP2"}))
    assert "not both" in both


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


def test_relative_times_are_ages_before_now():
    from datetime import UTC, datetime

    from paii_pagerduty.server import parse_time

    now = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    assert parse_time("24h", "since", now=now) == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert parse_time("90m", "since", now=now) == datetime(2026, 1, 2, 7, 30, tzinfo=UTC)
    assert parse_time("2026-01-01T00:00:00", "since", now=now) == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_time("", "since") is None
