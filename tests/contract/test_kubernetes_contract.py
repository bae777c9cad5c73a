"""Every Kubernetes tool's real calls, through the official kubernetes client, against Prism serving
the published core/v1 spec (pods, logs, events, delete) and the WebSocket exec fake. Prism rejects a
wrong path, method, parameter or body with a 4xx, so any error result here is drift from the real API.

apps/v1 (deployments, replica sets) is not in the core/v1 mock: those tools run against the full
spec's mock when one answers (``start.sh kubernetes-full``, port 4014), and are otherwise checked by
the sandbox's spec validation (tests/kubernetes/test_sandbox_service.py).

Run: ``.venv/bin/pytest -m contract tests/contract/test_kubernetes_contract.py``
(``PAII_MOCK_KUBERNETES_URL`` default http://127.0.0.1:4015, ``PAII_MOCK_K8S_EXEC_URL`` default
http://127.0.0.1:4030, ``PAII_MOCK_KUBERNETES_FULL_URL`` default http://127.0.0.1:4014).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from mcp import Client
from mcp_types import ElicitResult

from paii_common.http import RetryPolicy
from paii_kubernetes.client import KubernetesClient
from paii_kubernetes.config import KubernetesSettings
from paii_kubernetes.server import build_server

pytestmark = pytest.mark.contract

CORE = os.environ.get("PAII_MOCK_KUBERNETES_URL", "http://127.0.0.1:4015").rstrip("/")
EXEC = os.environ.get("PAII_MOCK_K8S_EXEC_URL", "http://127.0.0.1:4030").rstrip("/")
FULL = os.environ.get("PAII_MOCK_KUBERNETES_FULL_URL", "http://127.0.0.1:4014").rstrip("/")
TOKEN = "contract-token-0123456789"
NO_RETRY = RetryPolicy(max_attempts=1)  # a contract violation shows at once


def _answers(url: str) -> bool:
    req = urllib.request.Request(f"{url}/api/v1/namespaces/default/pods", headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=8) as r:
            r.read()
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _kubeconfig(tmp_path: Path, server: str) -> str:
    path = tmp_path / f"kubeconfig-{abs(hash(server))}"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "mock",
        "clusters": [{"name": "mock", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "mock", "context": {"cluster": "mock", "user": "u", "namespace": "default"}}],
    }))
    return str(path)


def _server(tmp_path: Path, url: str):
    settings = KubernetesSettings.load(kubeconfig=_kubeconfig(tmp_path, url), warmup=False)
    return build_server(settings, KubernetesClient(settings, policy=NO_RETRY)), settings


@pytest.fixture(scope="module", autouse=True)
def mock_up():
    if not _answers(CORE):
        pytest.skip(f"Kubernetes mock not reachable at {CORE}; start it with ../shared/api-mocks/start.sh kubernetes")


async def _call(server, name: str, args: dict):
    async with Client(server) as c:
        r = await c.call_tool(name, args)
    assert not r.is_error, f"{name}: {r.content[0].text if r.content else r}"
    return r.structured_content


async def test_list_pods_with_selector_limit_and_cursor(tmp_path):
    server, _ = _server(tmp_path, CORE)
    out = await _call(server, "list_pods", {"namespace": "default", "selector": "app=web", "limit": 5})
    assert out["pods"] and all(p["name"] for p in out["pods"])
    await _call(server, "list_pods", {"namespace": "default", "limit": 5, "cursor": "abc"})


async def test_describe_pod_reads_the_pod_and_its_events(tmp_path):
    server, _ = _server(tmp_path, CORE)
    out = await _call(server, "describe_pod", {"name": "web-1", "namespace": "default"})
    assert out["name"] == "web-1" and isinstance(out["events"], list)


async def test_get_logs_with_tail_since_previous_and_container(tmp_path):
    server, _ = _server(tmp_path, CORE)
    await _call(server, "get_logs", {"pod": "web-1", "namespace": "default", "tail": 10})
    await _call(server, "get_logs", {"pod": "web-1", "namespace": "default", "since": "15m", "previous": True})


async def test_list_events_with_field_selectors(tmp_path):
    server, _ = _server(tmp_path, CORE)
    out = await _call(server, "list_events", {"namespace": "default", "name": "web-1", "kind": "Pod", "warnings_only": True})
    assert isinstance(out["events"], list)


async def test_list_events_in_a_window_gives_a_timeline(tmp_path):
    server, _ = _server(tmp_path, CORE)
    out = await _call(server, "list_events", {"namespace": "default", "name": "web", "since": "2026-01-01T00:00:00Z/2026-01-02T00:00:00Z"})
    assert out["timeline"]["source"] == "kubernetes"


async def test_delete_pod(tmp_path):
    server, _ = _server(tmp_path, CORE)
    out = await _call(server, "delete_pod", {"name": "web-1", "namespace": "default"})
    assert out["pod"] == "web-1"


async def test_find_pods_for_the_runbook_engine(tmp_path):
    _, settings = _server(tmp_path, CORE)
    names = KubernetesClient(settings, policy=NO_RETRY).find_pods("default", "app=web")
    assert isinstance(names, list)


async def test_exec_in_pod_sends_argv_as_separate_command_parameters(tmp_path):
    server, settings = _server(tmp_path, EXEC)
    out = await _call(server, "exec_in_pod", {"pod": "web-1", "namespace": "default",
                                              "argv": ["python", "manage.py", "dbstats"]})
    assert out["exit_code"] == 0
    assert "fake-exec ns=default pod=web-1 cmd=['python', 'manage.py', 'dbstats']" in out["stdout"]
    result = KubernetesClient(settings).exec_in_pod("default", "web-1", ["echo", "a b", "$(id)"])
    assert "cmd=['echo', 'a b', '$(id)']" in result.stdout and result.exit_code == 0


async def test_deployment_tools_against_the_full_spec(tmp_path):
    if not _answers(FULL):
        pytest.skip(f"full Kubernetes spec mock not reachable at {FULL} (start.sh kubernetes-full); "
                    "apps/v1 shapes are checked by the sandbox's spec validation")
    server, _ = _server(tmp_path, FULL)
    out = await _call(server, "get_deployment", {"name": "web", "namespace": "default"})
    assert out["name"]


async def test_restart_and_scale_against_the_full_spec(tmp_path):
    if not _answers(FULL):
        pytest.skip(f"full Kubernetes spec mock not reachable at {FULL} (start.sh kubernetes-full)")
    settings = KubernetesSettings.load(kubeconfig=_kubeconfig(tmp_path, FULL), warmup=False, rollout_poll_s=0.2)
    server = build_server(settings, KubernetesClient(settings, policy=NO_RETRY))
    out = await _call(server, "restart_deployment", {"name": "web", "namespace": "default", "timeout": 5})
    assert out["restarted_at"] and isinstance(out["complete"], bool)
    async def person(context, params):  # noqa: ANN001 - the person says yes at the prompt
        return ElicitResult(action="accept", content={"scale": True})

    async with Client(server, mode="legacy", elicitation_callback=person) as c:
        scaled = await c.call_tool("scale_deployment", {"name": "web", "namespace": "default", "replicas": 7})
    assert not scaled.is_error, scaled.content
