"""Upstream faults with the default deadlines (15 s / 30 s): how long a tool takes to answer when
PagerDuty or Slack hangs, what it says, and how many requests it sent. Run by bench/upstream_faults.py.

Uses the tests' stateful HTTP fakes (tests/pagerduty/pd_fake.py, tests/slack/fake_slack.py) on
127.0.0.1; the scenarios run concurrently (about half a minute).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "pagerduty"), str(ROOT / "tests" / "slack")]
HANG = 120.0  # longer than any deadline: the fake answers only when the run ends


async def _timed(label: str, server, tool: str, args: dict, sent) -> dict:
    from mcp import Client

    started = time.monotonic()
    async with Client(server) as c:
        r = await c.call_tool(tool, args)
    seconds = round(time.monotonic() - started, 1)
    if r.is_error:
        text = r.content[0].text
    else:
        out = r.structured_content or {}
        text = out.get("message") or (out.get("note") if isinstance(out.get("note"), str) else None) or "ok"
    return {"scenario": label, "seconds": seconds, "error": r.is_error, "says": text, "sent": sent()}


async def deadlines() -> list[dict]:
    from fake_slack import BOT_TOKEN, FakeSlack
    from pd_fake import FROM, TOKEN, FakePagerDuty, serve

    from paii_pagerduty.config import PagerDutySettings
    from paii_pagerduty.server import build_server as pd_server
    from paii_slack.config import SlackSettings
    from paii_slack.server import build_server as slack_server

    pd = FakePagerDuty()
    pd_http = serve(pd)
    for n in range(1, 6):
        pd.add_incident(n)
    pd.hang_next("PUT", "/incidents/PINC0001", seconds=HANG)
    pd.hang_next("PUT", "/incidents/PINC0002", seconds=HANG, after_change=True)
    pd.hang_next("POST", "/incidents/PINC0003/notes", seconds=HANG, after_change=True)
    pd.hang_next("GET", "/incidents", seconds=HANG, times=5)
    pd.fail_next("PUT", "/incidents/PINC0004", 500, 500, 500, 500)
    slack = FakeSlack().start()
    ch = slack.add_channel("inc-x")
    slack.hang("chat.postMessage", seconds=HANG, after_change=True)
    slack.hang("conversations.list", seconds=HANG, times=5)
    pd_settings = PagerDutySettings.load(token=TOKEN, from_email=FROM, url=pd.url)
    slack_settings = SlackSettings.load(token=BOT_TOKEN, url=slack.url)

    def puts(iid: str):
        return lambda: len(pd.calls("PUT", f"/incidents/{iid}"))

    try:
        return list(await asyncio.gather(
            _timed("PagerDuty acknowledge_incident, the PUT hangs and did not land", pd_server(pd_settings),
                   "acknowledge_incident", {"incident_id": "PINC0001"}, puts("PINC0001")),
            _timed("PagerDuty acknowledge_incident, the PUT hangs but landed", pd_server(pd_settings),
                   "acknowledge_incident", {"incident_id": "PINC0002"}, puts("PINC0002")),
            _timed("PagerDuty acknowledge_incident, the PUT answers 500 (did not land)", pd_server(pd_settings),
                   "acknowledge_incident", {"incident_id": "PINC0004"}, puts("PINC0004")),
            _timed("PagerDuty add_incident_note, the POST hangs but landed", pd_server(pd_settings),
                   "add_incident_note", {"incident_id": "PINC0003", "content": "x"},
                   lambda: len(pd.calls("POST", "/incidents/PINC0003/notes"))),
            _timed("PagerDuty list_incidents, the GET hangs", pd_server(pd_settings), "list_incidents", {},
                   lambda: len(pd.calls("GET", "/incidents"))),
            _timed("Slack post_message, the post hangs but landed", slack_server(slack_settings),
                   "post_message", {"channel": ch.id, "text": "Mitigated"}, lambda: slack.methods().count("chat.postMessage")),
            _timed("Slack channel_digest by #name, conversations.list hangs", slack_server(slack_settings),
                   "channel_digest", {"channel": "#inc-x"}, lambda: slack.methods().count("conversations.list")),
        ))
    finally:
        pd.release.set()
        pd_http.shutdown()
        slack.stop()
