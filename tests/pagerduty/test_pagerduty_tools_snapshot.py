"""The tool surface is an API: snapshot it, keep it small, start without the HTTP client.

``UPDATE_SNAPSHOTS=1 pytest tests/pagerduty`` rewrites ``tests/snapshots/pagerduty.json``.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import check_snapshot, model_view

from paii_pagerduty.config import PagerDutySettings
from paii_pagerduty.server import build_server

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "pagerduty.json"
BUDGET = 6000  # bytes of compact JSON for name + description + inputSchema of every tool


async def _tools():
    async with Client(build_server(PagerDutySettings.load())) as c:
        return (await c.list_tools()).tools


async def test_tools_list_matches_snapshot():
    tools = await _tools()
    try:
        check_snapshot("pagerduty", tools)
    except AssertionError:
        stored = SNAPSHOT.read_text(encoding="utf-8").splitlines(True)
        current = [
            {
                "name": t.name,
                "description": t.description,
                "inputSchema": t.input_schema,
                "annotations": t.annotations.model_dump(exclude_none=True) if t.annotations else {},
            }
            for t in sorted(tools, key=lambda t: t.name)
        ]
        now = (json.dumps(current, indent=2, sort_keys=True) + "\n").splitlines(True)
        diff = "".join(difflib.unified_diff(stored, now, "snapshot", "current"))
        pytest.fail(f"tools/list changed; review, then rerun with UPDATE_SNAPSHOTS=1:\n{diff}")


async def test_model_view_of_tools_list_is_under_budget():
    size = len(json.dumps(model_view(await _tools()), separators=(",", ":")).encode())
    assert size < BUDGET, f"tools/list model view is {size} bytes"


async def test_descriptions_are_one_short_line():
    for t in await _tools():
        assert "\n" not in t.description and len(t.description) <= 160, t.name


def test_building_the_server_imports_no_http_client():
    code = (
        "import sys; from paii_pagerduty.server import build_server; "
        "from paii_pagerduty.config import PagerDutySettings; build_server(PagerDutySettings.load(token='x')); "
        "print(sorted(m for m in ('pdpyras', 'requests', 'urllib3') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


async def test_stdio_server_lists_tools_without_network(tmp_path):
    env = {
        **os.environ,
        "PAII_CONFIG_DIR": str(tmp_path),
        "PAII_PAGERDUTY_TOKEN": "stdio-token-123456",
        # unroutable: any call before a tool runs would hang or fail
        "PAII_PAGERDUTY_URL": "http://192.0.2.1:9",
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "paii_pagerduty"], env=env)
    async with Client(params) as c:
        names = [t.name for t in (await c.list_tools()).tools]
    assert "shift_activity" in names and len(names) == 12
