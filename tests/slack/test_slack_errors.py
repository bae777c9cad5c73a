"""Retries, upstream errors, configuration and secrets."""

from __future__ import annotations

import json
import socket
import time

from mcp import Client

from paii_slack.client import SlackClient
from paii_slack.config import SlackSettings
from paii_slack.server import build_server

from fake_slack import BOT_TOKEN, CALLER_ID, USER_TOKEN
from tests.mcp_calls import call

ALL_TOOLS = {"create_channel", "invite_to_channel", "post_message", "find_user", "channel_digest", "get_timeline",
             "search_messages"}


async def test_rate_limited_then_success_uses_the_sdk_retry_handler(server, fake, sleeps):
    ch = fake.add_channel("ops")
    fake.add_message(ch, CALLER_ID, "hello", ts=time.time() - 60)
    fake.fail("conversations.history", 429, {"Retry-After": "2"})
    result = await call(server, "channel_digest", {"channel": ch.id, "hours": 1})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["message_count"] == 1
    assert sleeps == [2.0]
    assert fake.methods().count("conversations.history") == 2


async def test_rate_limited_writes_are_retried_too(server, fake, sleeps):
    ch = fake.add_channel("ops")
    fake.fail("chat.postMessage", 429, {"Retry-After": "1"})
    result = await call(server, "post_message", {"channel": ch.id, "text": "hi"})
    assert not result.is_error and sleeps == [1.0] and len(ch.messages) == 1


async def test_rate_limited_after_bounded_retries_says_when_to_retry(server, fake, sleeps):
    fake.fail("conversations.history", 429, {"Retry-After": "1"}, times=10)
    ch = fake.add_channel("ops")
    result = await call(server, "channel_digest", {"channel": ch.id})
    text = result.content[0].text
    assert result.is_error
    assert "rate limited after 4 attempts" in text and "retry after 1 s" in text  # PagerDuty's words too
    assert sleeps == [1.0, 1.0, 1.0]


async def test_a_retry_after_longer_than_the_deadline_is_reported_not_slept(server, fake, sleeps):
    fake.fail("conversations.history", 429, {"Retry-After": "20"}, times=10)  # PAII_READ_TIMEOUT is 15 s
    ch = fake.add_channel("ops")
    result = await call(server, "channel_digest", {"channel": ch.id})
    text = result.content[0].text
    assert result.is_error and "rate limited after 1 attempt" in text and "retry after 20 s" in text
    assert sleeps == []


async def test_a_long_retry_after_is_reported_not_slept(server, fake, sleeps):
    fake.fail("conversations.history", 429, {"Retry-After": "600"}, times=10)
    ch = fake.add_channel("ops")
    result = await call(server, "channel_digest", {"channel": ch.id})
    assert result.is_error and "retry after 600 s" in result.content[0].text
    assert sleeps == [] and fake.methods().count("conversations.history") == 1


async def test_server_errors_are_retried_for_reads_only(server, fake, sleeps):
    ch = fake.add_channel("ops")
    fake.fail("conversations.history", 503, body="<html>upstream busy</html>")
    result = await call(server, "channel_digest", {"channel": ch.id})
    assert not result.is_error and len(sleeps) == 1
    fake.fail("chat.postMessage", 500, body="<html>oops</html>")
    result = await call(server, "post_message", {"channel": ch.id, "text": "hi"})
    text = result.content[0].text
    assert result.is_error and "HTTP 500" in text and "the message is not in the channel" in text
    assert fake.methods().count("chat.postMessage") == 1  # never sent twice
    assert "conversations.history" in fake.methods()[-1]  # read back instead


async def test_missing_scope_names_the_scope(server, fake):
    ch = fake.add_channel("ops")
    fake.fail("conversations.history", 200, body={"ok": False, "error": "missing_scope",
                                                  "needed": "channels:history", "provided": "chat:write"})
    result = await call(server, "channel_digest", {"channel": ch.id})
    text = result.content[0].text
    assert result.is_error and "missing_scope" in text and "`channels:history`" in text and "reinstall" in text


async def test_invalid_token_says_to_check_it(make_server, fake):
    server = make_server(token="xoxb-wrong-token-000")
    result = await call(server, "find_user", {"query": "ana@example.com"})
    assert result.is_error and "invalid_auth" in result.content[0].text and "PAII_SLACK_TOKEN" in result.content[0].text


async def test_unreachable_slack_is_an_actionable_error(sleeps):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = SlackSettings.load(token=BOT_TOKEN, url=f"http://127.0.0.1:{port}/api/")
    server = build_server(settings, SlackClient(settings, sleep=sleeps))
    result = await call(server, "find_user", {"query": "ana@example.com"})
    assert result.is_error and "could not reach" in result.content[0].text and "PAII_SLACK_URL" in result.content[0].text
    assert len(sleeps) == 3  # a read: retried by the connection-error handler


async def test_missing_token_still_lists_tools_and_tools_say_what_to_set():
    server = build_server(SlackSettings.load())
    async with Client(server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        result = await c.call_tool("channel_digest", {"channel": "#ops"})
    assert names == ALL_TOOLS
    assert result.is_error
    assert "Slack is not configured: set PAII_SLACK_TOKEN or SLACK_BOT_TOKEN" in result.content[0].text


async def test_read_only_mode_drops_the_writers(make_server):
    async with Client(make_server(read_only=True)) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {"find_user", "channel_digest", "get_timeline", "search_messages"}


def test_settings_accept_slack_bot_token_and_fix_the_url(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-alias-1")
    monkeypatch.setenv("PAII_SLACK_URL", "http://127.0.0.1:4011/api")
    monkeypatch.setenv("PAII_READ_ONLY", "1")
    settings = SlackSettings.load()
    assert settings.bot_token == "xoxb-from-alias-1"
    assert settings.url == "http://127.0.0.1:4011/api/"
    assert settings.read_only is True
    assert "xoxb-from-alias-1" not in repr(settings)
    monkeypatch.setenv("PAII_SLACK_TOKEN", "xoxb-primary-2")
    assert SlackSettings.load().bot_token == "xoxb-primary-2"


def test_unexpanded_placeholders_count_as_unset(monkeypatch):
    monkeypatch.setenv("PAII_SLACK_TOKEN", "${user_config.slack_bot_token}")
    monkeypatch.setenv("PAII_SLACK_USER_TOKEN", "")
    assert SlackSettings.load().bot_token is None
    assert SlackSettings.load().user_token_value is None
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-fallback-3")
    assert SlackSettings.load().bot_token == "xoxb-fallback-3"


async def test_tokens_never_appear_in_outputs_or_logs(make_server, fake, slack_logs):
    server = make_server(user_token=True)
    ch = fake.add_channel("ops")
    fake.add_message(ch, CALLER_ID, "hi", ts=time.time() - 60)
    # an upstream error body that echoes the token back
    fake.fail("chat.postMessage", 200, body={"ok": False, "error": "fatal_error", "detail": f"token={BOT_TOKEN}"})
    fake.fail("conversations.history", 429, {"Retry-After": "0"})
    outputs = []
    async with Client(server) as c:
        for name, args in [
            ("post_message", {"channel": ch.id, "text": f"leak {BOT_TOKEN}?"}),
            ("channel_digest", {"channel": ch.id}),
            ("search_messages", {"query": "hi"}),
            ("find_user", {"query": "nobody"}),
        ]:
            r = await c.call_tool(name, args)
            outputs.append(json.dumps([x.model_dump() for x in r.content]) + json.dumps(r.structured_content))
    text = "\n".join(outputs) + "\n".join(r.getMessage() for r in slack_logs.records) + slack_logs.text
    assert BOT_TOKEN not in text and USER_TOKEN not in text
    assert fake.calls and fake.calls[0][2] in {BOT_TOKEN, USER_TOKEN}  # the tokens were sent, just never shown
