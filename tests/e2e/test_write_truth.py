"""Writes that tell the truth under faults (issue 24), through the real MCP client against the sandbox.

Each test sets the ``paii sandbox fault`` that showed a defect, calls the tool as a model would,
and checks the answer against the sandbox's state and request journal: what the answer claims
happened must be what happened, and no write may be sent (or made) twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from paii_sandbox.faults import Fault

from tests.e2e.conftest import state

UNKNOWN = "may or may not have been made"
UNEXPECTED = "answered with something unexpected"


def fault(sandbox: Any, **spec: Any) -> None:
    asyncio.run_coroutine_threadsafe(sandbox.add_fault(Fault(**spec)), sandbox._loop).result(5)


def clear(sandbox: Any) -> None:
    asyncio.run_coroutine_threadsafe(sandbox.clear_faults(), sandbox._loop).result(5)


@pytest.fixture
def server(sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any):
    """``async with server("jira") as c``: one of PAII's servers, configured as ``paii sandbox env`` says."""
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PAII_HOME", str(tmp_path / "home"))

    @asynccontextmanager
    async def make(name: str) -> AsyncIterator[Any]:
        from mcp import Client

        if name == "jira":
            from paii_jira.config import JiraSettings
            from paii_jira.server import build_server
            built = build_server(JiraSettings.load())
        elif name == "pagerduty":
            from paii_pagerduty.config import PagerDutySettings
            from paii_pagerduty.server import build_server
            built = build_server(PagerDutySettings.load())
        elif name == "slack":
            from paii_slack.config import SlackSettings
            from paii_slack.server import build_server
            built = build_server(SlackSettings.load())
        elif name == "kubernetes":
            import kubernetes.client  # noqa: F401  (imported first: the deadlines are for the network, not the import)
            import kubernetes.stream  # noqa: F401

            from paii_kubernetes.config import KubernetesSettings
            from paii_kubernetes.server import build_server
            built = build_server(KubernetesSettings.load(warmup=False, rollout_poll_s=0.05))
        else:
            from paii_runbook.config import RunbookSettings
            from paii_runbook.server import build_server
            built = build_server(RunbookSettings.load(home=tmp_path / "home"))
        async with Client(built, mode="legacy", elicitation_callback=person_says_yes) as client:
            yield client

    return make


async def person_says_yes(context: Any, params: Any) -> Any:
    """The person at the client's prompt (scale_deployment asks through MCP elicitation): yes."""
    from mcp.types import ElicitResult

    fields = (params.requested_schema or {}).get("properties", {})
    return ElicitResult(action="accept", content={k: True for k, v in fields.items() if v.get("type") == "boolean"})


def text_of(result: Any) -> str:
    return result.content[0].text if result.is_error else str(result.structured_content)


def comments(sandbox: Any, key: str) -> list[str]:
    from paii_jira.adf import to_text

    return [to_text(c["body"]) for c in state(sandbox, "jira")["issues"][key]["comments"]]


def sent(sandbox: Any, service: str, method: str, path: str) -> list[Any]:
    return sandbox.world.requests(service, method, path)


# ---------------------------------------------------------------------------------- item 1
async def test_a_jira_comment_whose_answer_and_read_back_fail_is_unknown_never_unchanged(sandbox, server):
    # the issue: POST 500 (after the comment was made), then the read back failing too, answered
    # "this read changed nothing"; and a model retrying the call posted the comment twice
    path = "/rest/api/3/issue/INC-788/comment"
    fault(sandbox, service="jira", kind="500", after=True, path=path, method="POST", times=1)
    fault(sandbox, service="jira", kind="500", path=path, method="GET", skip=1)  # the check before the post passes
    async with server("jira") as c:
        first = await c.call_tool("add_comment", {"key": "INC-788", "body": "CMT"})
        clear(sandbox)
        retry = await c.call_tool("add_comment", {"key": "INC-788", "body": "CMT"})
    text = text_of(first)
    assert first.is_error and UNKNOWN in text and "reading it back failed too" in text and "get_issue INC-788" in text
    assert "changed nothing" not in text
    assert not retry.is_error and "not added again" in retry.structured_content["note"]
    assert comments(sandbox, "INC-788").count("CMT") == 1  # made once, by the first call
    assert len(sent(sandbox, "jira", "POST", path)) == 1


async def test_a_jira_comment_under_the_issues_whole_service_fault_says_truthfully_what_happened(sandbox, server):
    # `paii sandbox fault jira 500 --after`: every request is done, then answered 500
    fault(sandbox, service="jira", kind="500", after=True)
    async with server("jira") as c:
        result = await c.call_tool("add_comment", {"key": "INC-788", "body": "CMT"})
    text = text_of(result)
    posted = comments(sandbox, "INC-788").count("CMT")
    assert result.is_error
    # either it says nothing changed and nothing did, or it says the outcome is unknown
    assert (posted == 0 and "changed nothing" in text) or UNKNOWN in text
    assert posted <= 1


# ---------------------------------------------------------------------------------- item 2
async def test_delete_pod_never_resends_the_delete_and_reads_the_statefulset_pod_back(sandbox, server):
    # the issue: GET 200, DELETE 500 (the pod was deleted), DELETE again 404, "not found ... List first"
    path = "/api/v1/namespaces/databases/pods/primary-postgres-0"
    before = state(sandbox, "kubernetes").pods[("databases", "primary-postgres-0")].created
    fault(sandbox, service="kubernetes", kind="500", after=True, method="DELETE", times=1)
    async with server("kubernetes") as c:
        result = await c.call_tool("delete_pod", {"name": "primary-postgres-0", "namespace": "databases"})
    assert not result.is_error, text_of(result)
    assert "did not confirm" in result.structured_content["replaced"] and "replaced" in result.structured_content["replaced"]
    assert [e.status for e in sent(sandbox, "kubernetes", "DELETE", path)] == [500]  # sent once
    assert state(sandbox, "kubernetes").pods[("databases", "primary-postgres-0")].created != before


async def test_a_delete_whose_answer_never_came_is_unknown_and_a_retry_does_not_delete_the_replacement(
        sandbox, server, monkeypatch):
    path = "/api/v1/namespaces/databases/pods/primary-postgres-0"
    monkeypatch.setenv("PAII_WRITE_TIMEOUT", "3")
    fault(sandbox, service="kubernetes", kind="slow", seconds=4, method="DELETE", times=1)  # lands after the deadline
    async with server("kubernetes") as c:
        first = await c.call_tool("delete_pod", {"name": "primary-postgres-0", "namespace": "databases"})
        deadline = time.monotonic() + 20
        while not any(e.applied and e.status for e in sent(sandbox, "kubernetes", "DELETE", path)):
            assert time.monotonic() < deadline, "the slow DELETE never landed"
            await asyncio.sleep(0.1)
        replacement = state(sandbox, "kubernetes").pods[("databases", "primary-postgres-0")].created
        retry = await c.call_tool("delete_pod", {"name": "primary-postgres-0", "namespace": "databases"})
    assert first.is_error and UNKNOWN in text_of(first)
    assert retry.is_error and "replacement" in text_of(retry) and "It was not deleted" in text_of(retry)
    assert len(sent(sandbox, "kubernetes", "DELETE", path)) == 1
    assert state(sandbox, "kubernetes").pods[("databases", "primary-postgres-0")].created == replacement


# ---------------------------------------------------------------------------------- item 3
async def test_a_malformed_200_from_jira_is_never_success(sandbox, server):
    # the issue: create_issue returned key "None" and created true; add_comment comment_id ""; get_issue KeyError
    fault(sandbox, service="jira", kind="malformed", method="POST", path="/rest/api/3/issue")
    fault(sandbox, service="jira", kind="malformed", after=True, method="POST", path="*/comment")
    fault(sandbox, service="jira", kind="malformed", method="GET", path="/rest/api/3/issue/INC-789")
    async with server("jira") as c:
        created = await c.call_tool("create_issue", {"summary": "payments-api 500s"})
        comment = await c.call_tool("add_comment", {"key": "INC-788", "body": "pool at 98%"})
        read = await c.call_tool("get_issue", {"key": "INC-789"})
    assert created.is_error and f"Jira {UNEXPECTED}" in text_of(created) and UNKNOWN in text_of(created)
    assert "search_issues" in text_of(created)
    assert not comment.is_error and UNEXPECTED in comment.structured_content["note"]
    assert comment.structured_content["comment_id"] not in ("", "None")
    assert comments(sandbox, "INC-788").count("pool at 98%") == 1
    assert read.is_error and f"Jira {UNEXPECTED}" in text_of(read) and "internal error" not in text_of(read)


async def test_a_malformed_200_is_named_the_same_way_in_pagerduty_slack_and_kubernetes(sandbox, server):
    fault(sandbox, service="pagerduty", kind="malformed", method="GET", path="/incidents")
    fault(sandbox, service="pagerduty", kind="malformed", after=True, method="PUT")
    fault(sandbox, service="slack", kind="malformed", path="/api/conversations.history", times=1)
    fault(sandbox, service="slack", kind="malformed", after=True, path="/api/chat.postMessage")
    fault(sandbox, service="kubernetes", kind="malformed", method="GET", path="*/pods")
    fault(sandbox, service="kubernetes", kind="malformed", after=True, method="PATCH")
    async with server("pagerduty") as pd, server("slack") as sl, server("kubernetes") as k8s:
        reads = [await pd.call_tool("list_incidents", {}),
                 await sl.call_tool("channel_digest", {"channel": "C0PLATFORM", "hours": 1}),
                 await k8s.call_tool("list_pods", {"namespace": "payments"})]
        ack = await pd.call_tool("acknowledge_incident", {"incident_id": "Q2PAY5XXPROD"})
        post = await sl.call_tool("post_message", {"channel": "C0PLATFORM", "text": "rolling back"})
        scale = await k8s.call_tool("scale_deployment", {"name": "payments-api", "namespace": "payments", "replicas": 4})
    for service, result in zip(("PagerDuty", "Slack", "Kubernetes"), reads, strict=True):
        assert result.is_error and f"{service} {UNEXPECTED}" in text_of(result), text_of(result)
        assert "changed nothing" in text_of(result)
    # the writes landed (after=True): each says so, and that the service did not confirm it
    assert not ack.is_error and UNEXPECTED in ack.structured_content["note"]
    assert state(sandbox, "pagerduty").incidents["Q2PAY5XXPROD"]["status"] == "acknowledged"
    assert not post.is_error and UNEXPECTED in post.structured_content["note"] and post.structured_content["ts"]
    assert not scale.is_error and scale.structured_content["applied"] and UNEXPECTED in scale.structured_content["next"]
    assert len(sent(sandbox, "slack", "POST", "/api/chat.postMessage")) == 1


# ---------------------------------------------------------------------------------- item 5
BAD_TIMES = ["2026-13-45T99:99:99Z", "a\x00b", "../../etc/passwd", "9" * 5_000_000]


@pytest.mark.parametrize("bad", BAD_TIMES, ids=["no-such-date", "nul", "path", "5mb"])
async def test_every_timeline_refuses_a_bad_since_with_the_same_error(sandbox, server, bad):
    # the issue: PagerDuty's get_timeline returned its default window for these; the others refused them
    calls = {"pagerduty": {"incident_id": "Q2PAY5XXPROD"}, "slack": {"channel": "C0PLATFORM"},
             "jira": {"key": "INC-788"}, "runbook": {}}
    answers = {}
    for name, args in calls.items():
        async with server(name) as c:
            answers[name] = await c.call_tool("get_timeline", {**args, "since": bad})
    async with server("kubernetes") as c:
        answers["kubernetes"] = await c.call_tool("list_events", {"namespace": "payments", "since": bad})
    for name, result in answers.items():
        assert result.is_error, f"{name} accepted since={bad[:30]!r}"
        text = text_of(result)
        assert "since=" in text and "is not a time" in text and "ISO 8601" in text, (name, text[:300])
        assert len(text) < 1000  # never the 5 MB echoed back
    assert not sent(sandbox, "pagerduty", "GET", "/incidents/Q2PAY5XXPROD/log_entries")


# ---------------------------------------------------------------------------------- item 8
async def test_a_jira_label_with_a_nul_is_refused_before_anything_is_sent(sandbox, server):
    async with server("jira") as c:
        result = await c.call_tool("create_issue", {"summary": "x", "labels": ["pay\x00ments"], "dedupe_key": "Q9"})
        bad_key = await c.call_tool("create_issue", {"summary": "x", "dedupe_key": "Q\x1b[31m9"})
    assert result.is_error and "control character" in text_of(result) and "label" in text_of(result)
    assert bad_key.is_error and "control character" in text_of(bad_key) and "dedupe_key" in text_of(bad_key)
    assert not sent(sandbox, "jira", "POST", "/rest/api/3/issue")
    assert not sent(sandbox, "jira", "POST", "/rest/api/3/search/jql")
