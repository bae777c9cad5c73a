"""The PagerDuty tools through the real MCP client, against a stateful fake over HTTP: what each
read returns and sends, and what each write changes."""

from __future__ import annotations

from pd_fake import FROM, OTHER, fake_pd, ref  # noqa: F401 - fake_pd is a fixture
from pd_harness import make_server

from tests.mcp_calls import call, error, ok


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


def test_relative_times_are_ages_before_now():
    from datetime import UTC, datetime

    from paii_pagerduty.server import parse_time

    now = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    assert parse_time("24h", "since", now=now) == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert parse_time("90m", "since", now=now) == datetime(2026, 1, 2, 7, 30, tzinfo=UTC)
    assert parse_time("2026-01-01T00:00:00", "since", now=now) == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_time("", "since") is None
