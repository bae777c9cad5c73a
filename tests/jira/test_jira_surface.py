"""The Jira tool surface: names, descriptions and schemas are an API (snapshot), and small."""

from __future__ import annotations

import json

from mcp import Client

from paii_jira.config import JiraSettings
from paii_jira.server import build_server
from tests.conftest import check_snapshot, model_view


async def tools():
    async with Client(build_server(JiraSettings())) as c:
        return (await c.list_tools()).tools


async def test_tools_list_matches_the_snapshot():
    check_snapshot("jira", await tools())


async def test_model_view_of_tools_list_is_under_6_kb_and_at_most_10_tools():
    listed = await tools()
    size = len(json.dumps(model_view(listed), separators=(",", ":")))
    assert len(listed) <= 10 and size < 6 * 1024, size


async def test_every_writer_is_marked_and_every_reader_says_so():
    marks = {t.name: (t.annotations.read_only_hint, t.annotations.destructive_hint) for t in await tools()}
    assert marks == {"create_issue": (False, False), "add_comment": (False, False), "transition_issue": (False, False),
                     "get_issue": (True, False), "search_issues": (True, False), "sprint_report": (True, False),
                     "get_timeline": (True, False)}


def test_importing_the_server_does_not_import_the_vendor_sdk():
    import subprocess
    import sys

    code = ("import sys, paii_jira.server, paii_jira.__main__; "
            "print(any(m.split('.')[0] in ('atlassian', 'requests', 'marklas', 'mistune') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
