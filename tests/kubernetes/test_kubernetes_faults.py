"""Upstream faults and configuration problems come back as tool errors that say what to do next;
the client API the runbook engine uses (exec_in_pod, find_pods) and its bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paii_common.errors import InvalidInput, NotConfigured, NotFound, OutcomeUnknown, UpstreamError
from paii_kubernetes.client import KubernetesClient
from paii_kubernetes.config import KubernetesSettings
from paii_kubernetes.models import ExecResult

from .conftest import Fault
from .test_kubernetes_tools import HEALTHY_POD, PAYMENTS_POD, ok, refused


async def test_no_kubeconfig_and_not_in_a_cluster_names_the_setting(tmp_path):
    from paii_kubernetes.server import build_server

    msg = await refused(build_server(KubernetesSettings.load()), "list_pods", {})
    assert "PAII_KUBERNETES_KUBECONFIG" in msg and "paii doctor" in msg


async def test_an_unknown_context_lists_the_known_ones(make_server):
    msg = await refused(make_server(), "list_pods", {"context": "prod-eu"})
    assert "no context 'prod-eu'" in msg and "paii-sandbox" in msg


async def test_rejected_credentials_say_to_refresh_them_and_never_show_the_token(make_server, kubeconfig, sandbox):
    config = json.loads(kubeconfig.read_text())
    config["users"][0]["user"]["token"] = "expired-token-0123456789"
    kubeconfig.write_text(json.dumps(config))
    msg = await refused(make_server(), "list_pods", {})
    assert "HTTP 401" in msg and "Refresh the credentials of context paii-sandbox" in msg
    assert "expired-token-0123456789" not in msg


async def test_forbidden_says_which_permission_is_missing(make_server, sandbox):
    sandbox.faults.append(Fault(path=r"/pods$", status=403))
    msg = await refused(make_server(), "list_pods", {})
    assert "HTTP 403" in msg and "RBAC" in msg and "cannot list resource" in msg


async def test_a_missing_pod_says_to_list_first(make_server):
    msg = await refused(make_server(), "describe_pod", {"name": "payments-api-gone"})
    assert 'pods "payments-api-gone" not found' in msg and "list_pods" in msg


async def test_a_read_is_retried_after_a_503_then_succeeds(make_server, sandbox):
    sandbox.faults.append(Fault(path=r"/pods$", status=503, times=1))
    out = await ok(make_server(), "list_pods", {})
    assert len(out["pods"]) == 3
    assert [p for m, p in sandbox.requests if p.endswith("/pods")] == ["/api/v1/namespaces/payments/pods"] * 2


async def test_a_read_that_keeps_failing_says_it_changed_nothing(make_server, sandbox):
    sandbox.faults.append(Fault(path=r"/pods$", status=500))
    msg = await refused(make_server(), "list_pods", {})
    assert "HTTP 500" in msg and "this read changed nothing" in msg


async def test_a_slow_api_server_times_out_with_an_actionable_message(make_server, sandbox):
    sandbox.faults.append(Fault(path=r"/deployments/", delay=3))
    msg = await refused(make_server(read_timeout=2), "get_deployment", {"name": "payments-api"})
    assert "could not reach the API server" in msg and "context paii-sandbox" in msg and "network" in msg


async def test_a_write_that_fails_with_500_is_never_resent_and_is_read_back(make_server, sandbox):
    sandbox.faults.append(Fault(path=r"/deployments/payments-api$", method="PATCH", status=500))
    msg = await refused(make_server(), "restart_deployment", {"name": "payments-api"})
    assert "reading it back shows it is not restarted" in msg and "call restart_deployment again" in msg
    assert [m for m, p in sandbox.requests if m == "PATCH"] == ["PATCH"]


async def test_a_write_that_times_out_at_the_gateway_is_never_resent_and_its_outcome_is_unknown(make_server, sandbox):
    sandbox.faults.append(Fault(path=r"/deployments/payments-api$", method="PATCH", status=504))
    msg = await refused(make_server(), "restart_deployment", {"name": "payments-api"})
    assert "may or may not have been made" in msg and "get_deployment" in msg and "may still land" in msg
    assert [m for m, p in sandbox.requests if m == "PATCH"] == ["PATCH"]


async def test_unreachable_cluster_is_reported_with_its_address(make_server, kubeconfig):
    config = json.loads(kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = "http://127.0.0.1:9"
    kubeconfig.write_text(json.dumps(config))
    msg = await refused(make_server(), "list_pods", {})
    assert "http://127.0.0.1:9" in msg and "VPN" in msg


async def test_exec_without_rbac_for_pods_exec_says_which_permission(make_server, sandbox):
    sandbox.faults.append(Fault(path=r"/exec$", status=403))
    msg = await refused(make_server(), "exec_in_pod", {"pod": HEALTHY_POD, "argv": ["uptime"]})
    assert "HTTP 403" in msg and "pods/exec" in msg and "RBAC" in msg


async def test_exec_with_rejected_credentials_says_to_refresh_them(make_server, sandbox):
    sandbox.faults.append(Fault(path=r"/exec$", status=401))
    msg = await refused(make_server(), "exec_in_pod", {"pod": HEALTHY_POD, "argv": ["uptime"]})
    assert "HTTP 401" in msg and "Refresh the credentials" in msg


async def test_exec_in_a_missing_pod_is_not_found(make_server):
    msg = await refused(make_server(), "exec_in_pod", {"pod": "payments-api-gone", "argv": ["uptime"]})
    assert "not found" in msg


# --- the client API (KubernetesClient), as the runbook engine calls it -----------------------------

@pytest.fixture
def client(settings: KubernetesSettings) -> KubernetesClient:
    return KubernetesClient(settings)


def test_client_exec_returns_an_exec_result(client):
    result = client.exec_in_pod("payments", HEALTHY_POD, ["python", "manage.py", "dbstats"])
    assert isinstance(result, ExecResult)
    assert result.exit_code == 0 and result.truncated is False and result.timed_out is False
    assert "Waiting queries: 47" in result.stdout and result.stderr == "" and result.duration_s >= 0


def test_client_exec_caps_output_and_says_it_was_truncated(client, sandbox):
    sandbox.state.exec_rules["payments"].insert(0, {"argv": ["yes"], "stdout": "y\n", "repeat": 50000})
    result = client.exec_in_pod("payments", HEALTHY_POD, ["yes"], max_bytes=1000)
    assert result.truncated is True and len(result.stdout) == 1000 and result.exit_code == 0


def test_client_exec_times_out_without_an_exit_code(client, sandbox):
    sandbox.state.exec_rules["payments"].insert(0, {"argv": ["sleep", "30"], "delay": 3})
    result = client.exec_in_pod("payments", HEALTHY_POD, ["sleep", "30"], timeout=0.5)
    assert result.timed_out is True and result.exit_code is None and result.duration_s < 2.5


def test_client_exec_passes_argv_as_separate_arguments(client, sandbox):
    sandbox.state.exec_rules["databases"].insert(0, {"argv": ["echo", "a; rm -rf /", "$(id)"], "stdout": "literal\n"})
    result = client.exec_in_pod("databases", "primary-postgres-0", ["echo", "a; rm -rf /", "$(id)"])
    assert result.stdout == "literal\n"


def test_client_exec_state_flags_make_a_failover_visible(client):
    assert client.exec_in_pod("databases", "replica-postgres-0", ["psql", "-Atc", "SELECT pg_is_in_recovery()"]).stdout == "t\n"
    client.exec_in_pod("databases", "replica-postgres-0", ["psql", "-Atc", "SELECT pg_promote()"])
    assert client.exec_in_pod("databases", "replica-postgres-0", ["psql", "-Atc", "SELECT pg_is_in_recovery()"]).stdout == "f\n"


def test_client_refuses_bad_names_and_a_shell_string(client):
    with pytest.raises(InvalidInput, match="starts with '-'"):
        client.exec_in_pod("payments", "-it", ["uptime"])
    with pytest.raises(InvalidInput, match="list of arguments"):
        client.exec_in_pod("payments", HEALTHY_POD, "uptime")  # type: ignore[arg-type]


def test_find_pods_returns_running_pods_ready_first(client):
    names = client.find_pods("payments", "app=payments-api")
    assert len(names) == 3 and names[-1] == PAYMENTS_POD  # the not-ready one last
    assert client.find_pods("databases", "role=replica") == ["replica-postgres-0"]
    assert client.find_pods("payments", "app=nothing") == []


def test_client_errors_are_the_paii_family(client, sandbox):
    with pytest.raises(NotFound):
        client.call("read pod x", client.core().read_namespaced_pod, "x", "payments")
    sandbox.faults.append(Fault(path=r"/deployments/", method="PATCH", status=503))
    with pytest.raises(OutcomeUnknown):
        client.call("scale", client.apps().patch_namespaced_deployment, "payments-api", "payments",
                    {"spec": {"replicas": 1}}, write=True)
    assert issubclass(OutcomeUnknown, UpstreamError)


def test_in_cluster_config_is_used_without_a_kubeconfig(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    client = KubernetesClient(KubernetesSettings.load())
    with pytest.raises(NotConfigured, match="could not be used"):  # no service account files here
        client.cluster()
    with pytest.raises(InvalidInput, match="no context"):
        client.cluster("other")


def test_client_exec_refuses_to_read_secrets_for_every_caller(client, sandbox):
    with pytest.raises(InvalidInput, match="Secret"):
        client.exec_in_pod("payments", HEALTHY_POD, ["cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"])
    assert not any(path.endswith("/exec") for _, path in sandbox.requests)


async def test_exec_in_pod_stops_within_the_read_deadline_and_says_it_timed_out(make_server, sandbox):
    sandbox.state.exec_rules["payments"].insert(0, {"argv": ["uptime"], "delay": 5})
    out = await ok(make_server(read_timeout=2, exec_allowlist="uptime"), "exec_in_pod",
                   {"pod": HEALTHY_POD, "argv": ["uptime"], "timeout": 120})
    assert out["timed_out"] is True and out["exit_code"] is None and out["duration_s"] < 2
