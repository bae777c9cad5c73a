"""The tool surface is an API: snapshot it, keep it small, mark every writer, start without the library.

``UPDATE_SNAPSHOTS=1 pytest tests/kubernetes`` rewrites ``tests/snapshots/kubernetes.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mcp import Client, StdioServerParameters

from tests.conftest import check_snapshot, model_view

from paii_kubernetes.config import KubernetesSettings
from paii_kubernetes.server import build_server

BUDGET = 6000  # bytes of compact JSON for name + description + inputSchema of every tool
READS = {"list_pods", "describe_pod", "get_logs", "list_events", "get_deployment", "exec_in_pod"}
WRITES = {"restart_deployment", "scale_deployment", "delete_pod", "run_in_pod"}


async def _tools():
    async with Client(build_server(KubernetesSettings.load())) as c:
        return (await c.list_tools()).tools


async def test_tools_list_matches_snapshot():
    check_snapshot("kubernetes", await _tools())


async def test_model_view_of_tools_list_is_under_budget():
    size = len(json.dumps(model_view(await _tools()), separators=(",", ":")).encode())
    assert size < BUDGET, f"tools/list model view is {size} bytes"


async def test_reads_are_read_only_and_every_writer_is_destructive():
    tools = {t.name: t.annotations for t in await _tools()}
    assert set(tools) == READS | WRITES
    for name in READS:
        assert tools[name].read_only_hint is True, name
    for name in WRITES:
        assert tools[name].read_only_hint is False and tools[name].destructive_hint is True, name


async def test_no_tool_passes_raw_api_calls_or_kubectl_through():
    for t in await _tools():
        props = set((t.input_schema or {}).get("properties", {}))
        assert not props & {"path", "url", "verb", "body", "manifest", "kubectl", "command", "shell", "kubeconfig"}, t.name


def test_building_the_server_imports_no_kubernetes_library():
    code = ("import sys; from paii_kubernetes.server import build_server; build_server(); "
            "print(sorted(m for m in ('kubernetes', 'urllib3', 'websocket') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


async def test_stdio_server_lists_tools_without_a_cluster(tmp_path):
    env = {**os.environ, "PAII_CONFIG_DIR": str(tmp_path), "PAII_KUBERNETES_KUBECONFIG": str(tmp_path / "missing"),
           "PAII_KUBERNETES_WARMUP": "0"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "paii_kubernetes"], env=env)
    async with Client(params) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        r = await c.call_tool("list_pods", {})
    assert names == READS | WRITES
    assert r.is_error and "PAII_KUBERNETES_KUBECONFIG" in r.content[0].text
