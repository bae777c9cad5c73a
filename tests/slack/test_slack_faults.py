"""Upstream faults: writes whose answer is lost are read back (a post is never sent twice),
hanging requests end within the deadline, unreadable bodies are named for every tool."""

from __future__ import annotations

import time

import pytest

from fake_slack import BOT_ID, CALLER_ID
from tests.mcp_calls import call, error, ok

import slack_sdk  # noqa: E402,F401 - imported before any deadline runs: a busy machine must not eat it

FAST = {"read_timeout": 1.0, "write_timeout": 2.0}


# ---------------------------------------------------------------- post_message


async def test_a_post_whose_answer_never_comes_is_read_back_and_not_sent_twice(make_server, fake):
    ch = fake.add_channel("inc-x")
    fake.hang("chat.postMessage", after_change=True)
    out = ok(await call(make_server(**FAST), "post_message", {"channel": ch.id, "text": "Mitigated: pool 150 & rising"}))
    assert "did not confirm" in out["note"] and "did not answer within" in out["note"]
    assert out["ts"] == ch.messages[0]["ts"] and out["permalink"].endswith(out["ts"].replace(".", ""))
    assert fake.methods().count("chat.postMessage") == 1 and len(ch.messages) == 1


async def test_a_post_that_did_not_land_says_so_and_whether_it_may_still_arrive(make_server, fake):
    ch = fake.add_channel("inc-x")
    fake.hang("chat.postMessage")
    text = error(await call(make_server(**FAST), "post_message", {"channel": ch.id, "text": "hi"}))
    assert "did not answer within" in text and "the message is not in the channel" in text
    assert "may still happen" in text and "channel_digest" in text
    assert fake.methods().count("chat.postMessage") == 1


async def test_a_500_after_the_post_landed_is_read_back_as_posted(make_server, fake):
    ch = fake.add_channel("inc-x")
    fake.add_message(ch, BOT_ID, "hi")  # the same text earlier does not count: only after the post
    ch.messages[0]["ts"] = f"{time.time() - 3600:.6f}"
    fake.fail("chat.postMessage", 500, after_change=True)
    out = ok(await call(make_server(**FAST), "post_message", {"channel": ch.id, "text": "hi"}))
    assert "HTTP 500" in out["note"] and out["ts"] == ch.messages[-1]["ts"]
    assert fake.methods().count("chat.postMessage") == 1


async def test_a_reply_with_an_unreadable_answer_is_found_in_its_thread(make_server, fake):
    ch = fake.add_channel("inc-x")
    parent = fake.add_message(ch, CALLER_ID, "what is the status?")
    fake.garble("chat.postMessage", "truncated")
    out = ok(await call(make_server(**FAST), "post_message", {"channel": ch.id, "text": "rolling back", "thread_ts": parent}))
    assert "unreadable" in out["note"] and "thread_ts=" in out["permalink"]
    assert fake.methods()[-1] == "conversations.replies" and len(ch.replies[parent]) == 1


async def test_when_the_read_back_fails_too_the_outcome_is_unknown_and_says_how_to_find_out(make_server, fake):
    ch = fake.add_channel("inc-x")
    fake.fail("chat.postMessage", 502)
    # (twice: the check for the same text before the post reads the history too, and posts anyway when it cannot)
    fake.fail("conversations.history", 200, body={"ok": False, "error": "missing_scope", "needed": "channels:history"},
              times=2)
    text = error(await call(make_server(**FAST), "post_message", {"channel": ch.id, "text": "hi"}))
    assert "may or may not have been made" in text and "Do not retry blindly" in text
    assert "missing_scope" in text and "channel_digest" in text
    assert fake.methods().count("chat.postMessage") == 1


# ---------------------------------------------------------------- create_channel, invites


async def test_a_create_whose_answer_is_lost_finds_the_channel_and_a_repeat_reuses_it(make_server, fake):
    fake.hang("conversations.create", after_change=True)
    server = make_server(**FAST)
    out = ok(await call(server, "create_channel", {"name": "inc-lost"}))
    assert out["created"] is True and out["id"] == fake.by_name("inc-lost").id
    again = ok(await call(server, "create_channel", {"name": "inc-lost"}))
    assert again["created"] is False and again["id"] == out["id"]
    assert len([c for c in fake.channels.values() if c.name == "inc-lost"]) == 1
    assert fake.methods().count("conversations.create") == 2  # the second answered name_taken


async def test_a_create_that_failed_says_the_channel_does_not_exist(make_server, fake):
    fake.fail("conversations.create", 503)
    text = error(await call(make_server(**FAST), "create_channel", {"name": "inc-nope"}))
    assert "HTTP 503" in text and "#inc-nope does not exist" in text and "call create_channel again" in text
    assert fake.methods().count("conversations.create") == 1


async def test_an_invite_whose_answers_keep_failing_is_checked_against_the_members(make_server, fake, sleeps):
    ch = fake.add_channel("inc-x")
    fake.add_user("UANA00001", "ana", "Ana Lopez")
    fake.add_user("UBOB00001", "bob", "Bob")
    fake.fail("conversations.invite", 500, times=4, after_change=True)  # every attempt lands, none answers
    fake.fail("conversations.invite", 500, times=4)
    server = make_server(read_timeout=2.0, write_timeout=8.0)  # room for four attempts per invite
    out = ok(await call(server, "invite_to_channel", {"channel": ch.id, "users": ["UANA00001", "UBOB00001"]}))
    assert [u["id"] for u in out["invited"]] == ["UANA00001"]
    [failed] = out["failed"]
    assert failed["user"] == "UBOB00001" and "not a member now" in failed["error"] and "HTTP 500" in failed["error"]
    assert fake.methods().count("conversations.invite") == 8  # safe to repeat: resent, then read back


# ---------------------------------------------------------------- deadlines


async def test_a_hanging_read_ends_within_the_read_deadline_and_says_what_to_do(make_server, fake):
    ch = fake.add_channel("ops")
    fake.hang("conversations.history", times=4)
    text = error(await call(make_server(**FAST), "channel_digest", {"channel": ch.id}))
    assert "conversations.history" in text and "did not answer within" in text
    assert "PAII_READ_TIMEOUT" in text and "retry" in text
    assert fake.methods().count("conversations.history") == 1


async def test_the_retry_loop_stops_when_the_next_attempt_cannot_finish_in_time(make_server, fake, sleeps):
    ch = fake.add_channel("ops")
    fake.fail("conversations.history", 429, {"Retry-After": "5"}, times=4)  # longer than the 1 s deadline
    text = error(await call(make_server(**FAST), "channel_digest", {"channel": ch.id}))
    assert "rate limited after 1 attempt" in text and sleeps == []


# ---------------------------------------------------------------- unreadable bodies, every tool

EVERY_TOOL = [
    ("find_user", {"query": "ana@example.com"}),
    ("find_user", {"query": "ana"}),
    ("channel_digest", {"channel": "#ops"}),
    ("search_messages", {"query": "cache"}),
    ("post_message", {"channel": "C00000001", "text": "hi"}),
    ("create_channel", {"name": "inc-new", "topic": "t"}),
    ("invite_to_channel", {"channel": "C00000001", "users": ["ana@example.com"]}),
]


@pytest.mark.parametrize("kind", ["truncated", "cut"])
@pytest.mark.parametrize(("tool", "args"), EVERY_TOOL, ids=[f"{t}-{i}" for i, (t, _) in enumerate(EVERY_TOOL)])
async def test_every_tool_names_an_unreadable_response(make_server, fake, kind, tool, args):
    fake.add_channel("ops")
    fake.garble_everything = kind
    text = error(await call(make_server(user_token=True, **FAST), tool, args))
    assert "Slack returned an unreadable response" in text, text
    assert "retry" in text.lower()
    assert "JSONDecodeError" not in text and "Traceback" not in text
