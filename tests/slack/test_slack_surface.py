"""The tool surface as the model sees it: snapshot, size budget, startup without I/O, stdio."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

from mcp import Client, StdioServerParameters

from paii_slack.config import SlackSettings
from paii_slack.server import build_server

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "slack.json"
MODEL_VIEW_BUDGET = 6000


async def model_view() -> list[dict]:
    async with Client(build_server(SlackSettings.load(token="xoxb-snapshot-000"))) as c:
        tools = (await c.list_tools()).tools
    return [
        {
            "name": t.name,
            "description": t.description,
            "inputSchema": t.input_schema,
            "annotations": t.annotations.model_dump(by_alias=True, exclude_none=True) if t.annotations else None,
        }
        for t in tools
    ]


async def test_tools_list_matches_the_snapshot():
    current = json.dumps(await model_view(), indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current, encoding="utf-8")
    stored = SNAPSHOT.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(stored.splitlines(True), current.splitlines(True), "snapshot", "current"))
    assert not diff, f"tools/list changed (review, then rerun with UPDATE_SNAPSHOTS=1):\n{diff}"


async def test_model_view_of_tools_list_fits_the_budget():
    view = [{k: t[k] for k in ("name", "description", "inputSchema")} for t in await model_view()]
    size = len(json.dumps(view, separators=(",", ":")).encode())
    assert size < MODEL_VIEW_BUDGET, f"tools/list model view is {size} bytes"


def test_building_the_server_imports_no_slack_sdk_and_does_no_io(tmp_path):
    # a URL nobody listens on: building and listing must not touch it
    code = (
        "import sys, asyncio\n"
        "from mcp import Client\n"
        "from paii_slack.config import SlackSettings\n"
        "from paii_slack.server import build_server\n"
        "s = build_server(SlackSettings.load(token='xoxb-x-000000', url='http://10.255.255.1:9/api/'))\n"
        "async def main():\n"
        "    async with Client(s) as c:\n"
        "        print(len((await c.list_tools()).tools))\n"
        "asyncio.run(main())\n"
        "assert 'slack_sdk' not in sys.modules, 'slack_sdk imported before a tool ran'\n"
    )
    env = {**os.environ, "PAII_CONFIG_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "7"


async def test_stdio_server_lists_tools_without_a_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAII_SLACK_", "SLACK_"))}
    env.update(PAII_CONFIG_DIR=str(tmp_path), PAII_HOME=str(tmp_path / "home"))
    params = StdioServerParameters(command=sys.executable, args=["-m", "paii_slack"], env=env)
    async with Client(params) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        result = await c.call_tool("find_user", {"query": "ana"})
    assert "channel_digest" in names and "post_message" in names
    assert result.is_error and "PAII_SLACK_TOKEN" in result.content[0].text
