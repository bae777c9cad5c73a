"""The writing tools against the stateful sandbox: restart, scale (the person confirms the preview at
the client's prompt), delete, run_in_pod; protected namespaces and read-only mode."""

from __future__ import annotations

import mcp_types as types
from mcp import Client

from .test_kubernetes_tools import HEALTHY_POD, PAYMENTS_POD, call, ok, refused


async def test_restart_deployment_rolls_out_a_new_revision_and_reports_progress(make_server):
    server = make_server()
    progress: list[tuple[float, float | None]] = []

    async with Client(server) as c:
        r = await c.call_tool("restart_deployment", {"name": "payments-api"},
                              progress_callback=lambda p, t, m: progress.append((p, t)) or _noop())
    assert not r.is_error, r.content
    out = r.structured_content
    assert out["complete"] is True and out["status"].startswith("rollout complete: 3/3 ready")
    assert out["deployment_now"]["revisions"][0]["revision"] == 4
    assert progress and progress[-1] == (3, 3)
    pods = await ok(server, "list_pods", {})
    assert all(p["restarts"] == 0 for p in pods["pods"]) and PAYMENTS_POD not in {p["name"] for p in pods["pods"]}
    dbstats = await ok(server, "exec_in_pod", {"pod": pods["pods"][0]["name"], "argv": ["python", "manage.py", "dbstats"]})
    assert "Active connections: 12/100" in dbstats["stdout"]  # the fresh pods' answer


async def _noop() -> None:
    return None


async def test_restart_that_does_not_finish_in_time_says_so_and_how_to_follow(make_server):
    out = await ok(make_server(rollout_poll_s=0.3), "restart_deployment", {"name": "payments-api", "timeout": 0.1 + 0.4})
    assert out["complete"] is False and "get_deployment" in out["status"]


async def test_scale_in_a_client_that_cannot_ask_changes_nothing_however_often_it_is_called(make_server, sandbox):
    server = make_server()
    for _ in range(3):  # the old "second identical call applies" is gone: no call acts without the person
        msg = await refused(server, "scale_deployment", {"name": "payments-api", "replicas": 5})
        assert "Not scaled: payments/payments-api replicas 3 -> 5 needs the person's yes" in msg
        assert "kubectl scale deployment/payments-api -n payments --replicas=5" in msg
    assert sandbox.state.deps[("payments", "payments-api")].replicas == 3
    same = await ok(server, "scale_deployment", {"name": "payments-api", "replicas": 3})
    assert same["applied"] is False and same["preview"] == "replicas 3 -> 3 (no change)"


async def test_scale_asks_the_person_through_elicitation_when_the_client_supports_it(make_server, sandbox):
    asked: list[str] = []

    async def answer(context, params):  # noqa: ANN001
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"scale": True})

    async with Client(make_server(), mode="legacy", elicitation_callback=answer) as c:
        r = await c.call_tool("scale_deployment", {"name": "payments-api", "replicas": 2})
    assert not r.is_error, r.content
    assert asked == ["Scale deployment payments/payments-api: replicas 3 -> 2?"]
    assert r.structured_content["applied"] is True and sandbox.state.deps[("payments", "payments-api")].replicas == 2


async def test_scale_declined_through_elicitation_changes_nothing(make_server, sandbox):
    async def decline(context, params):  # noqa: ANN001
        return types.ElicitResult(action="decline")

    async with Client(make_server(), mode="legacy", elicitation_callback=decline) as c:
        r = await c.call_tool("scale_deployment", {"name": "payments-api", "replicas": 0})
    assert r.is_error and "did not approve replicas 3 -> 0" in r.content[0].text
    assert sandbox.state.deps[("payments", "payments-api")].replicas == 3


async def test_delete_pod_removes_it_and_its_owner_recreates_one(make_server):
    server = make_server()
    out = await ok(server, "delete_pod", {"name": PAYMENTS_POD})
    assert out["owner"] == "ReplicaSet/payments-api-7d9f8b6c5" and "replacement" in out["replaced"]
    names = {p["name"] for p in (await ok(server, "list_pods", {}))["pods"]}
    assert PAYMENTS_POD not in names and len(names) == 3
    missing = await refused(server, "delete_pod", {"name": PAYMENTS_POD})
    assert "not found" in missing and "list_pods" in missing


async def test_run_in_pod_runs_a_command_outside_the_allowlist(make_server):
    out = await ok(make_server(), "run_in_pod", {"pod": "replica-postgres-0", "namespace": "databases",
                                                 "argv": ["psql", "-Atc", "SELECT pg_is_in_recovery()"]})
    assert out["exit_code"] == 0 and "t\n" in out["stdout"]


async def test_run_in_pod_reports_a_non_zero_exit_code(make_server):
    out = await ok(make_server(), "run_in_pod", {"pod": HEALTHY_POD, "argv": ["no-such-tool"]})
    assert out["exit_code"] == 127 and "no answer" in out["stderr"]


async def test_a_write_in_kube_system_is_refused_by_every_writer(make_server, sandbox):
    server = make_server()
    for tool, args in [("restart_deployment", {"name": "coredns"}), ("scale_deployment", {"name": "coredns", "replicas": 3}),
                       ("delete_pod", {"name": "coredns-abc"}), ("run_in_pod", {"pod": "coredns-abc", "argv": ["ls"]})]:
        msg = await refused(server, tool, {**args, "namespace": "kube-system"})
        assert "protected namespace" in msg and "PAII_KUBERNETES_ALLOW_PROTECTED_WRITES" in msg
    assert not any("kube-system" in path for _, path in sandbox.requests)


async def test_protected_namespaces_are_configurable(make_server):
    msg = await refused(make_server(protected_namespaces="payments, kube-system"), "delete_pod", {"name": PAYMENTS_POD})
    assert "payments is a protected namespace" in msg
    out = await ok(make_server(protected_namespaces="payments", allow_protected_writes=True), "delete_pod",
                   {"name": PAYMENTS_POD})
    assert out["pod"] == PAYMENTS_POD


async def test_read_only_mode_drops_every_writer(make_server):
    async with Client(make_server(read_only=True)) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {"list_pods", "describe_pod", "get_logs", "list_events", "get_deployment", "exec_in_pod"}
    err, _ = await call(make_server(read_only=True), "delete_pod", {"name": PAYMENTS_POD})
    assert err


async def test_a_client_without_a_back_channel_cannot_scale(make_server, sandbox):
    async def accept(context, params):  # noqa: ANN001 - never reached: the connection cannot carry the request
        return types.ElicitResult(action="accept", content={"scale": True})

    async with Client(make_server(), elicitation_callback=accept) as c:
        for _ in range(2):
            r = await c.call_tool("scale_deployment", {"name": "payments-api", "replicas": 4})
            assert r.is_error and "this client cannot ask them" in r.content[0].text
    assert sandbox.state.deps[("payments", "payments-api")].replicas == 3
