"""Faults on demand against PAII's servers: rate limits, a failed write, a service down, a slow one."""

from __future__ import annotations

import asyncio

from paii_common.http import RetryPolicy
from paii_sandbox import renderers, scenario
from paii_sandbox.faults import Fault

from tests.e2e.conftest import NOW_ISO, state

FAST = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.05)


def _add(sandbox, **spec) -> None:
    asyncio.run_coroutine_threadsafe(sandbox.add_fault(Fault(**spec)), sandbox._loop).result(5)


def _pd_client(sandbox, **kwargs):
    from paii_pagerduty.client import PagerDutyClient

    env = sandbox.env()
    return PagerDutyClient(env["PAII_PAGERDUTY_TOKEN"], from_email=env["PAII_PAGERDUTY_FROM"], url=env["PAII_PAGERDUTY_URL"],
                           policy=FAST, **kwargs)


async def test_a_429_with_retry_after_is_waited_out_then_the_call_succeeds(sandbox, clients):
    _add(sandbox, service="pagerduty", kind="429", times=1, retry_after=1, path="/incidents", method="GET")
    async with clients() as c:
        result = await c["pagerduty"].call_tool("list_incidents", {})
    assert not result.is_error and result.structured_content["incidents"][0]["number"] == 12345
    calls = sandbox.world.requests("pagerduty", "GET", "/incidents")
    assert [e.status for e in calls] == [429, 200]
    assert calls[0].response_headers["retry-after"] == "1"


async def test_a_500_on_a_write_is_reported_and_not_sent_again(sandbox, clients):
    _add(sandbox, service="pagerduty", kind="500", times=1, path="/incidents/*/notes", method="POST")
    _add(sandbox, service="slack", kind="500", times=1, path="/api/chat.postMessage")
    async with clients() as c:
        note = await c["pagerduty"].call_tool("add_incident_note", {"incident_id": "Q2PAY5XXPROD", "content": "looking"})
        post = await c["slack"].call_tool("post_message", {"channel": "C0PLATFORM", "text": "looking"})
    assert note.is_error and "500" in note.content[0].text
    assert post.is_error
    assert len(sandbox.world.requests("pagerduty", "POST", "/incidents/Q2PAY5XXPROD/notes")) == 1
    assert len(sandbox.world.requests("slack", "POST", "/api/chat.postMessage")) == 1
    assert not any(n["content"] == "looking" for n in state(sandbox, "pagerduty").notes["Q2PAY5XXPROD"])


async def test_a_500_after_the_change_leaves_the_note_written_once(sandbox, clients):
    _add(sandbox, service="pagerduty", kind="500", times=1, path="/incidents/*/notes", method="POST", after=True)
    async with clients() as c:
        note = await c["pagerduty"].call_tool("add_incident_note", {"incident_id": "Q2PAY5XXPROD", "content": "pool at 98%"})
    assert not note.is_error and "reading the notes back shows it was added" in note.structured_content["message"]
    written = [n for n in state(sandbox, "pagerduty").notes["Q2PAY5XXPROD"] if n["content"] == "pool at 98%"]
    assert len(written) == 1  # it happened, once: the client did not send it again


async def test_with_pagerduty_down_the_workflow_goes_on_and_says_what_to_do_by_hand(sandbox, clients):
    _add(sandbox, service="pagerduty", kind="down")
    async with clients(pd_client=_pd_client(sandbox, read_timeout=2, write_timeout=2)) as c:
        run = await scenario.run(scenario.load("incident"), c, now=NOW_ISO)
    report = renderers.render(run)
    assert "PagerDuty unreachable: acknowledge by hand" in report
    assert run.outcomes["services"].status == "failed" and run.outcomes["acknowledge"].status == "skipped"
    assert run.outcomes["channel"].ok and run.outcomes["similar"].ok and run.outcomes["kickoff"].ok
    assert any(ch["name"] == "inc-payments-api-500s" for ch in state(sandbox, "slack").channels.values())
    assert state(sandbox, "pagerduty").incidents["Q2PAY5XXPROD"]["status"] == "triggered"


async def test_a_slow_upstream_is_cut_off_by_the_timeout_with_a_clear_error(sandbox, clients):
    import slack_sdk.web  # noqa: F401  (imported first: the 0.5 s deadline is for the network, not the import)

    from paii_slack.client import SlackClient

    _add(sandbox, service="slack", kind="slow", seconds=3, path="/api/conversations.list")
    async with clients(slack_timeout=0.5, slack_client=lambda s: SlackClient(s, policy=FAST)) as c:
        result = await c["slack"].call_tool("channel_digest", {"channel": "#platform-engineering", "hours": 8})
    text = result.content[0].text
    assert result.is_error and "conversations.list" in text
    assert "did not answer within" in text and "PAII_READ_TIMEOUT" in text


async def test_with_jira_down_the_workflow_goes_on_and_says_to_file_the_ticket_by_hand(sandbox, clients):
    _add(sandbox, service="jira", kind="down")
    async with clients(jira_timeout=2) as c:
        run = await scenario.run(scenario.load("incident"), c, now=NOW_ISO)
    report = renderers.render(run)
    assert "Jira unreachable: file the ticket by hand" in report
    assert run.outcomes["ticket"].status == "failed" and [o.step.id for o in run.failed] == ["ticket"]
    assert run.outcomes["acknowledge"].ok and run.outcomes["channel"].ok and run.outcomes["kickoff"].ok
    assert run.outcomes["check"].ok and "Connection pool nearly exhausted" in report
    assert "Jira: no ticket yet" in run.outcomes["kickoff"].args["text"]
    assert "INC-789" not in state(sandbox, "jira")["issues"]


async def test_an_invite_whose_answers_are_lost_is_read_back_from_the_channel_members(sandbox, clients):
    # the invite lands, but its answer and the answer to the one re-send are lost: only the members tell
    from paii_slack.client import SlackClient

    _add(sandbox, service="slack", kind="500", times=2, path="/api/conversations.invite", after=True)
    async with clients(slack_client=lambda s: SlackClient(s, policy=FAST)) as c:
        channel = await c["slack"].call_tool("create_channel", {"name": "inc-lost-invite"})
        invite = await c["slack"].call_tool("invite_to_channel", {"channel": channel.structured_content["id"], "users": ["U0PRIYA"]})
    assert not invite.is_error, invite.content[0].text
    assert [u["id"] for u in invite.structured_content["invited"]] == ["U0PRIYA"]
    members = sandbox.world.requests("slack", path="/api/conversations.members")
    assert members and members[-1].status == 200 and "U0PRIYA" in members[-1].json()["members"]
    assert len(sandbox.world.requests("slack", path="/api/conversations.invite")) == 2  # sent, re-sent once, then read back


async def test_with_kubernetes_down_the_first_check_is_offered_to_run_by_hand(sandbox, clients):
    _add(sandbox, service="kubernetes", kind="down")
    async with clients() as c:
        run = await scenario.run(scenario.load("incident"), c, now=NOW_ISO)
    report = renderers.render(run)
    assert run.outcomes["pods"].status == "failed" and run.outcomes["check"].status == "skipped"
    assert run.outcomes["ticket"].ok and run.outcomes["kickoff"].ok  # the rest of the declaration went on
    assert "Should I check database connections first?" in report
    assert "Kubernetes unreachable: run the check by hand" in report
    assert "kubectl exec <a app=payments-api pod> -n payments -- python manage.py dbstats" in report
