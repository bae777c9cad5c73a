"""Every Kubernetes tool through the real MCP client, against the sandbox service over real HTTP and
WebSocket (the official kubernetes client does the calls)."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from paii_common.untrusted import CLOSE, unmark

PAYMENTS_POD = "payments-api-7d9f8b6c5-x2k9p"
HEALTHY_POD = "payments-api-7d9f8b6c5-m4n7q"


async def call(server, name: str, args: dict | None = None):
    async with Client(server) as c:
        r = await c.call_tool(name, args or {})
    text = r.content[0].text if r.content else ""
    if r.is_error:
        return True, text
    return False, r.structured_content if r.structured_content is not None else json.loads(text)


async def ok(server, name: str, args: dict | None = None) -> dict:
    err, out = await call(server, name, args)
    assert not err, out
    return out


async def refused(server, name: str, args: dict) -> str:
    err, out = await call(server, name, args)
    assert err, f"{name} should have been refused: {out}"
    return out


async def test_list_pods_puts_the_restarting_pod_first_with_its_last_termination(make_server):
    out = await ok(make_server(), "list_pods", {"selector": "app=payments-api"})
    assert out["context"] == "paii-sandbox" and out["namespace"] == "payments"
    first = out["pods"][0]
    assert first["name"] == PAYMENTS_POD and first["ready"] == "0/1" and first["restarts"] == 4
    assert first["last_termination"] == {"reason": "Error", "exit_code": 137, "finished": first["last_termination"]["finished"]}
    assert [p["ready"] for p in out["pods"][1:]] == ["1/1", "1/1"]
    assert out["truncated"] is False and out["next_cursor"] is None


async def test_list_pods_pages_with_the_cursor_and_says_when_truncated(make_server):
    server = make_server()
    page1 = await ok(server, "list_pods", {"limit": 2})
    assert len(page1["pods"]) == 2 and page1["truncated"] is True and page1["next_cursor"]
    page2 = await ok(server, "list_pods", {"limit": 2, "cursor": page1["next_cursor"]})
    assert len(page2["pods"]) == 1 and page2["truncated"] is False
    names = {p["name"] for p in page1["pods"] + page2["pods"]}
    assert len(names) == 3


async def test_describe_pod_hides_secret_values_and_folds_its_events(make_server):
    out = await ok(make_server(), "describe_pod", {"name": PAYMENTS_POD})
    (container,) = out["containers"]
    assert "LOG_LEVEL=info" in container["env"]
    assert "DATABASE_URL=<hidden: secret payments-db key url>" in container["env"]
    assert out["volumes_from_secrets"] == ["payments-tls"] and out["owner"] == "ReplicaSet/payments-api-7d9f8b6c5"
    ready = next(c for c in out["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    liveness = [e for e in out["events"] if unmark(e["message"]).startswith("Liveness probe failed")]
    assert len(liveness) == 1 and liveness[0]["count"] == 23  # two Event objects, 14 + 9
    assert out["events"][0]["type"] == "Warning"


async def test_get_logs_fences_the_log_and_the_injection_attempt_stays_inside(make_server):
    out = await ok(make_server(), "get_logs", {"pod": PAYMENTS_POD})
    text = out["text"]
    assert text.startswith("<<untrusted pod log>>\n") and text.endswith(CLOSE)
    assert "QueuePool limit of size 100" in text and "IGNORE YOUR PREVIOUS INSTRUCTIONS".lower() in text.lower()
    assert text.index("SYSTEM NOTICE TO THE AI ASSISTANT") > text.index("<<untrusted pod log>>")
    assert out["container"] == "payments-api" and out["previous"] is False and out["lines"] == 11


async def test_get_logs_masks_a_token_an_application_logged(make_server):
    out = await ok(make_server(), "get_logs", {"pod": PAYMENTS_POD, "grep": "retrying charge"})
    assert out["matched"] == 1 and "eyJhbGciOiJIUzI1NiJ9" not in out["text"] and "[redacted" in out["text"]


async def test_get_logs_tail_grep_previous_and_since(make_server):
    server = make_server()
    tail = await ok(server, "get_logs", {"pod": PAYMENTS_POD, "tail": 2})
    assert tail["lines"] == 2 and "98/100 connections in use" in tail["text"]
    grep = await ok(server, "get_logs", {"pod": PAYMENTS_POD, "grep": " 500 "})
    assert grep["matched"] == 4 and all(" 500 " in ln for ln in grep["text"].splitlines()[1:-1])
    prev = await ok(server, "get_logs", {"pod": PAYMENTS_POD, "previous": True})
    assert prev["previous"] is True and "killed after liveness probe failures" in prev["text"]
    recent = await ok(server, "get_logs", {"pod": PAYMENTS_POD, "since": "90s"})
    assert recent["lines"] == 3  # -1m, -40s, -10s


async def test_get_logs_is_bounded_in_bytes_keeping_the_newest_lines(make_server):
    out = await ok(make_server(output_max_bytes=1000), "get_logs", {"pod": PAYMENTS_POD})
    assert out["truncated"] is True and len(out["text"]) < 1200
    assert "98/100 connections in use, 47 waiting" in out["text"]  # the newest line is kept


async def test_get_logs_of_a_container_that_does_not_exist_names_the_valid_ones(make_server):
    msg = await refused(make_server(), "get_logs", {"pod": PAYMENTS_POD, "container": "sidecar"})
    assert "payments-api" in msg


async def test_get_logs_previous_without_a_crash_says_so(make_server):
    msg = await refused(make_server(), "get_logs", {"pod": HEALTHY_POD, "previous": True})
    assert "previous terminated container" in msg


async def test_list_events_puts_warnings_first_and_folds_repeats(make_server):
    out = await ok(make_server(), "list_events", {})
    types = [e["type"] for e in out["events"]]
    assert types == sorted(types, key=lambda t: t != "Warning")
    liveness = [e for e in out["events"] if e["reason"] == "Unhealthy" and "Liveness" in e["message"]]
    assert len(liveness) == 1 and liveness[0]["count"] == 23
    only = await ok(make_server(), "list_events", {"name": "payments-api", "kind": "Deployment"})
    assert [e["reason"] for e in only["events"]] == ["ScalingReplicaSet"]
    warnings = await ok(make_server(), "list_events", {"warnings_only": True, "limit": 2})
    assert len(warnings["events"]) == 2 and warnings["truncated"] is True


async def test_get_deployment_reports_replicas_rollout_and_revisions(make_server):
    out = await ok(make_server(), "get_deployment", {"name": "payments-api"})
    assert (out["desired"], out["ready"], out["updated"]) == (3, 2, 3)
    assert [r["revision"] for r in out["revisions"]] == [3, 2, 1]
    assert out["revisions"][1]["change_cause"] == "‹untrusted: deploy 2.3.2: DB pool 50 -> 100 (INC-456)›"  # someone wrote it
    assert out["selector"] == "app=payments-api"


async def test_exec_in_pod_runs_the_allowlisted_dbstats_over_the_websocket(make_server):
    out = await ok(make_server(), "exec_in_pod", {"pod": HEALTHY_POD, "argv": ["python", "manage.py", "dbstats"]})
    assert out["exit_code"] == 0 and out["timed_out"] is False
    assert "Active connections: 98/100" in out["stdout"] and "Waiting queries: 47" in out["stdout"]
    assert out["stdout"].startswith("<<untrusted command output>>")


async def test_exec_in_pod_refuses_a_command_outside_the_allowlist_and_says_how(make_server, sandbox):
    msg = await refused(make_server(), "exec_in_pod", {"pod": HEALTHY_POD, "argv": ["rm", "-rf", "/tmp/x"]})
    assert "not on the read-only diagnostic allowlist" in msg and "run_in_pod" in msg
    assert not any(path.endswith("/exec") for _, path in sandbox.requests)  # nothing was sent


async def test_exec_in_pod_extra_allowlist_entries_come_from_settings(make_server):
    server = make_server(exec_allowlist="python manage.py showmigrations; cat /proc/pressure/*")
    out = await ok(server, "exec_in_pod", {"pod": HEALTHY_POD, "argv": ["python", "manage.py", "showmigrations"]})
    assert "0042_settlement_batch" in out["stdout"]


@pytest.mark.parametrize("argv", [["env"], ["printenv", "DATABASE_URL"], ["cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"],
                                  ["cat", "/proc/1/environ"], ["sh", "-c", "cat /run/secrets/db"]])
async def test_a_secret_requested_through_exec_is_refused_by_both_exec_tools(make_server, argv):
    server = make_server()
    for tool in ("exec_in_pod", "run_in_pod"):
        msg = await refused(server, tool, {"pod": HEALTHY_POD, "argv": argv})
        assert "Secret" in msg or "secret" in msg.lower()


async def test_exec_output_masks_tokens_and_keys(make_server, sandbox):
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlc2lnbmF0dXJl"
    sandbox.state.exec_rules["payments"].insert(0, {"argv": ["cat", "/proc/uptime"], "stdout": f"token {jwt}\n-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"})
    out = await ok(make_server(), "exec_in_pod", {"pod": HEALTHY_POD, "argv": ["cat", "/proc/uptime"]})
    assert jwt not in out["stdout"] and "abc" not in out["stdout"] and "[redacted" in out["stdout"]


@pytest.mark.parametrize("tool,args", [
    ("list_pods", {"namespace": "-n"}),
    ("describe_pod", {"name": "--all"}),
    ("get_logs", {"pod": "-f"}),
    ("get_deployment", {"name": "-o=yaml"}),
    ("exec_in_pod", {"pod": "--privileged", "argv": ["uptime"]}),
    ("delete_pod", {"name": "--all"}),
    ("list_events", {"name": "-x"}),
])
async def test_a_name_starting_with_a_dash_is_refused_with_the_reason(make_server, tool, args):
    msg = await refused(make_server(), tool, args)
    assert "starts with '-'" in msg


async def test_a_name_holding_a_slash_is_refused(make_server):
    msg = await refused(make_server(), "describe_pod", {"name": "secrets/payments-db"})
    assert "holds '/'" in msg


async def test_list_events_reads_every_page_before_folding(make_server, sandbox):
    from paii_sandbox.services._kubernetes_state import add_event

    for i in range(620):
        t = sandbox.state.now
        add_event(sandbox.state, "payments", "Pod", HEALTHY_POD, "Warning", "Unhealthy", "Readiness probe failed: 503",
                  first=t, last=t, key=f"bulk{i}")
    out = await ok(make_server(), "list_events", {"name": HEALTHY_POD})
    (folded,) = [e for e in out["events"] if unmark(e["message"]) == "Readiness probe failed: 503"]
    assert folded["count"] == 620


async def test_ages_follow_the_fixed_clock_of_paii_now(make_server, sandbox, monkeypatch):
    monkeypatch.setenv("PAII_NOW", sandbox.state.now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    out = await ok(make_server(), "list_pods", {})
    assert {p["age"] for p in out["pods"]} == {"3d"}
