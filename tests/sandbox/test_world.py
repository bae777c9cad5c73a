"""The seed world is coherent under the demo clock, and each service behaves like its API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from paii_sandbox.faults import Fault, FaultTable
from paii_sandbox.files import load_seed
from paii_sandbox.services import discover, pagerduty, slack
from paii_sandbox.timeparse import parse_when
from paii_sandbox.world import World

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)
PD = {"Authorization": f"Token token={pagerduty.TOKEN}"}
BOT = {"Authorization": f"Bearer {slack.BOT_TOKEN}"}


@pytest.fixture
def world() -> World:
    return World(load_seed(), discover(), now=NOW)


@pytest.fixture
def pd(world):
    return TestClient(world.asgi("pagerduty"), base_url="http://127.0.0.1:1")


@pytest.fixture
def sl(world):
    client = TestClient(world.asgi("slack"), base_url="http://127.0.0.1:1")

    def call(method: str, token: dict | None = BOT, **params):
        return client.post(f"/api/{method}", headers=token or {}, data=params).json()

    return call


def test_relative_seed_times_follow_the_clock():
    assert parse_when("-14m", NOW) == NOW - timedelta(minutes=14)
    assert parse_when("+1d02:00", NOW) == datetime(2026, 1, 3, 4, 0, tzinfo=UTC)
    assert parse_when("2026-01-01T10:00:00Z", NOW) == datetime(2026, 1, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="seed time"):
        parse_when("yesterday", NOW)


def test_the_seed_world_has_what_the_scenarios_need(world):
    st = world.states["pagerduty"]
    page = st.incidents["Q2PAY5XXPROD"]
    assert page["title"] == "payments-api returning 500s in production" and page["status"] == "triggered"
    assert len(st.alerts["Q2PAY5XXPROD"]) == 3
    day = [i for i in st.incidents.values() if i["created_at"] > NOW - timedelta(hours=24)]
    assert any(i["status"] == "resolved" for i in day)
    assert any(a["suppressed"] for i in day for a in st.alerts[i["id"]])
    assert any(NOW + timedelta(hours=12) < w["start"] < NOW + timedelta(hours=36) for w in st.windows)
    oncall = {st.users[u]["email"] for u in st.oncall_users("PEPPAY1", 1, NOW) + st.oncall_users("PEPPAY1", 2, NOW)}
    sl = world.states["slack"]
    assert oncall == {"scott@example.com", "priya@example.com"}
    assert oncall <= {u.get("email") for u in sl.users.values()}
    channel = sl.messages["C0PLATFORM"]
    recent = [m for m in channel if float(m["ts"]) > (NOW - timedelta(hours=8)).timestamp()]
    assert len(recent) >= 100
    assert sum("<@U0SCOTT>" in m["text"] for m in recent) == 2
    injections = [m for m in recent if "ignore previous instructions" in m["text"]]
    notes = [n for n in st.notes["Q2PAY5XXPROD"] if "ignore previous instructions" in n["content"]]
    assert len(injections) == 1 and len(notes) == 1


def test_the_example_history_is_dated_before_the_demo_clock_and_inc_456_is_pool_exhaustion():
    rows = [json.loads(line) for path in (ROOT / "examples").glob("*.jsonl") for line in path.read_text().splitlines()
            if line.strip()]
    assert all(parse_when(r["created"], NOW) < NOW for r in rows)
    inc = next(r for r in rows if r.get("id") == "INC-456")
    assert "connection pool exhaustion" in inc["root_cause"].lower() and inc["service"] == "payments-api"
    assert timedelta(days=13) < NOW - parse_when(inc["created"], NOW) < timedelta(days=16)


def test_pagerduty_acknowledge_changes_the_status_and_logs_who_did_it(pd, world):
    r = pd.put("/incidents/Q2PAY5XXPROD", headers={**PD, "From": "scott@example.com"},
               json={"incident": {"type": "incident_reference", "status": "acknowledged"}})
    assert r.status_code == 200 and r.json()["incident"]["status"] == "acknowledged"
    assert r.json()["incident"]["acknowledgements"][0]["acknowledger"]["summary"] == "Scott Idler"
    log = pd.get("/incidents/Q2PAY5XXPROD/log_entries", headers=PD).json()["log_entries"]
    assert log[0]["type"] == "acknowledge_log_entry" and log[0]["created_at"] == "2026-01-02T02:00:00Z"


def test_pagerduty_refuses_a_write_without_from_and_a_wrong_token(pd):
    body = {"incident": {"type": "incident_reference", "status": "acknowledged"}}
    r = pd.put("/incidents/Q2PAY5XXPROD", headers=PD, json=body)
    assert r.status_code == 400 and "From" in r.json()["error"]["errors"][0]
    r = pd.get("/incidents", headers={"Authorization": "Token token=wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == 2006
    assert pd.get("/incidents/NOPE", headers=PD).status_code == 404


def test_pagerduty_a_note_appears_on_the_incident(pd):
    r = pd.post("/incidents/Q2PAY5XXPROD/notes", headers={**PD, "From": "priya@example.com"}, json={"note": {"content": "pool at 98%"}})
    assert r.status_code == 200
    notes = pd.get("/incidents/Q2PAY5XXPROD/notes", headers=PD).json()["notes"]
    assert notes[-1]["content"] == "pool at 98%" and notes[-1]["user"]["summary"] == "Priya Raman"


def test_pagerduty_pages_with_offset_limit_and_more(pd):
    first = pd.get("/incidents", headers=PD, params={"limit": 2, "statuses[]": ["resolved"]}).json()
    second = pd.get("/incidents", headers=PD, params={"limit": 2, "offset": 2, "statuses[]": ["resolved"]}).json()
    assert first["more"] is True and len(first["incidents"]) == 2
    assert second["more"] is False and {i["id"] for i in first["incidents"]}.isdisjoint(i["id"] for i in second["incidents"])


def test_slack_a_created_channel_is_listed_and_its_name_is_then_taken(sl):
    created = sl("conversations.create", name="inc-test")
    assert created["ok"] and created["channel"]["is_member"]
    assert sl("conversations.create", name="inc-test") == {"ok": False, "error": "name_taken"}
    names = [c["name"] for c in sl("conversations.list", limit="1000")["channels"]]
    assert "inc-test" in names
    assert sl("conversations.create", name="Bad Name!")["error"] == "invalid_name_specials"


def test_slack_an_invited_user_is_a_member_and_a_posted_message_is_in_history(sl, world):
    cid = sl("conversations.create", name="inc-test")["channel"]["id"]
    assert sl("conversations.invite", channel=cid, users="U0SCOTT,U0PRIYA")["ok"]
    assert sl("conversations.invite", channel=cid, users="U0SCOTT")["error"] == "already_in_channel"
    assert {"U0SCOTT", "U0PRIYA"} <= set(world.states["slack"].channels[cid]["members"])
    posted = sl("chat.postMessage", channel=cid, text="kickoff https://example.com/x")
    history = sl("conversations.history", channel=cid)["messages"]
    assert history[0]["ts"] == posted["ts"] and history[0]["text"] == "kickoff <https://example.com/x>"


def test_slack_conversations_members_lists_the_invited_users_in_pages(sl):
    cid = sl("conversations.create", name="inc-test")["channel"]["id"]
    sl("conversations.invite", channel=cid, users="U0SCOTT,U0PRIYA")
    first = sl("conversations.members", channel=cid, limit="2")
    rest = sl("conversations.members", channel=cid, limit="2", cursor=first["response_metadata"]["next_cursor"])
    assert first["ok"] and len(first["members"]) == 2 and rest["response_metadata"]["next_cursor"] == ""
    assert {"U0SCOTT", "U0PRIYA"} <= set(first["members"] + rest["members"])
    assert sl("conversations.members", channel="C0NOPE")["error"] == "channel_not_found"


def test_slack_pages_with_cursors_and_checks_the_token(sl):
    first = sl("conversations.history", channel="C0PLATFORM", limit="50")
    second = sl("conversations.history", channel="C0PLATFORM", limit="50", cursor=first["response_metadata"]["next_cursor"])
    assert first["has_more"] and len(first["messages"]) == 50
    assert float(second["messages"][0]["ts"]) < float(first["messages"][-1]["ts"])
    assert sl("auth.test", token=None)["error"] == "not_authed"
    assert sl("auth.test", token={"Authorization": "Bearer xoxb-wrong"})["error"] == "invalid_auth"
    assert sl("search.messages", query="cache")["error"] == "not_allowed_token_type"
    assert sl("conversations.history", channel="C0NOPE")["error"] == "channel_not_found"


def test_a_fault_answers_in_the_services_own_shape_for_its_count(world, pd):
    world.faults.add(Fault(service="pagerduty", kind="429", times=2, retry_after=3, path="/incidents"))
    for _ in range(2):
        r = pd.get("/incidents", headers=PD)
        assert r.status_code == 429 and r.headers["retry-after"] == "3" and r.json()["error"]["code"] == 2020
    assert pd.get("/incidents", headers=PD).status_code == 200
    assert pd.get("/services", headers=PD).status_code == 200


def test_fault_matching_by_path_glob_and_method():
    table = FaultTable()
    table.add(Fault(service="pagerduty", kind="500", path="/incidents/*/notes", method="post"))
    assert table.take("pagerduty", "GET", "/incidents/X/notes") is None
    assert table.take("slack", "POST", "/incidents/X/notes") is None
    assert table.take("pagerduty", "POST", "/incidents/X/notes").kind == "500"
    with pytest.raises(ValueError, match="slow fault needs seconds"):
        Fault(service="slack", kind="slow")


def test_faults_declared_in_the_seed_apply_from_the_start_and_reset_restores_the_seed(world):
    seed = load_seed()
    seed["slack"]["faults"] = [{"kind": "500", "path": "/api/chat.postMessage", "times": 1}]
    w = World(seed, discover(), now=NOW)
    assert [f.describe() for f in w.faults.list()] == ["slack: 500 on /api/chat.postMessage, 1 more time(s)"]
    w.states["pagerduty"].incidents["Q2PAY5XXPROD"]["status"] = "resolved"
    w.reseed()
    assert w.states["pagerduty"].incidents["Q2PAY5XXPROD"]["status"] == "triggered"


def test_a_saved_world_resumes_only_under_the_same_clock(world):
    world.states["pagerduty"].incidents["Q2PAY5XXPROD"]["status"] = "acknowledged"
    saved = world.snapshot()
    again = World(load_seed(), discover(), now=NOW)
    assert again.restore(saved) is None and again.states["pagerduty"].incidents["Q2PAY5XXPROD"]["status"] == "acknowledged"
    other = World(load_seed(), discover(), now=NOW + timedelta(days=1))
    assert "clock" in other.restore(saved)


def test_a_sandbox_without_a_folder_gives_its_services_a_temporary_one_never_the_working_directory(tmp_path, monkeypatch):
    from paii_sandbox.runner import Sandbox

    monkeypatch.chdir(tmp_path)
    sb = Sandbox(World(load_seed(), discover(), now=NOW)).start_in_thread()
    try:
        env = sb.env()
        kubeconfig, bin_dir = Path(env["PAII_KUBERNETES_KUBECONFIG"]), Path(env["PAII_RUNBOOK_BIN_DIRS"])
        assert kubeconfig.is_file() and (bin_dir / "psql").is_file()
        folder = sb.files_dir()
        assert folder in kubeconfig.parents and folder in bin_dir.parents and tmp_path not in folder.parents
        assert sb.env() == env  # the same folder for every call
    finally:
        sb.stop_thread()
    assert list(tmp_path.iterdir()) == []  # nothing in the working directory
    assert not folder.exists()  # and the temporary folder is gone with the sandbox


def test_the_claude_settings_give_every_server_its_options_and_the_rest_as_environment(tmp_path):
    from paii_sandbox.cli import USER_CONFIG, claude_settings
    from paii_sandbox.runner import Sandbox

    declared = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text())["userConfig"]
    mcp = json.loads((ROOT / ".mcp.json").read_text())["mcpServers"]
    passed = {var: value.removeprefix("${user_config.").removesuffix("}") for server in mcp.values()
              for var, value in server["env"].items() if value.startswith("${user_config.")}
    assert {k: v for k, v in passed.items() if k in USER_CONFIG} == {k: v for k, v in USER_CONFIG.items() if k in passed}
    assert set(USER_CONFIG.values()) <= set(declared)

    sb = Sandbox(World(load_seed(), discover(), now=NOW), directory=tmp_path / "sandbox")
    sb.bind()
    env = sb.env()
    settings = claude_settings(env)
    options, rest = settings["pluginConfigs"]["paii@inline"]["options"], settings["env"]
    for var, value in env.items():
        # a variable .mcp.json sets from an option must come as that option: the environment would be hidden
        assert (options[passed[var]] == value) if var in passed else (rest[var] == value), var
    assert {"jira_url", "jira_token", "jira_teams", "kubernetes_kubeconfig", "pagerduty_token", "slack_bot_token"} <= set(options)
    assert {"PAII_PAGERDUTY_URL", "PAII_SLACK_URL", "PAII_RUNBOOK_BIN_DIRS", "PAII_NOW"} <= set(rest)
    for sock in sb._sockets.values():
        sock.close()
