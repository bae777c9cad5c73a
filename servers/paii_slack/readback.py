"""Writes whose answer is lost: read Slack back and report the truth.

The client never re-sends ``chat.postMessage`` or ``conversations.create`` after a 5xx, an
unreadable body or a timeout; it raises :class:`~paii_slack.client.WriteLost`. The tools then
read back within what is left of their deadline (a share is reserved before the write):

* a post: the bot's messages since just before the post (``conversations.history``, or
  ``conversations.replies`` in a thread) are searched for the same text;
* a channel: the channel list is searched for the name;
* an invite: the channel's members are read.

Found: the tool succeeds. Not found: an error says so, and whether Slack answered (then it did
not happen) or no answer came (it may still arrive). The read back failing too:
:class:`~paii_common.errors.OutcomeUnknown` says how to find out.

A post is made once: before posting, the bot's messages of the last :data:`POST_WINDOW` in that
channel (or thread) are searched for the same text (:func:`recent_post`), so a retry after an
unknown outcome does not post it twice.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from paii_common.errors import OutcomeUnknown, PaiiError, UpstreamError

from paii_slack.client import SERVICE, SlackClient, WriteLost
from paii_slack.lookup import find_channel

READ_BACK_SHARE = 0.25  # of a write's time, kept free to read back
POST_WINDOW = 15 * 60.0  # seconds: the same text by the bot in the same place within this is not posted again
CLOCK_SKEW = 60.0  # seconds before the post that the read back starts from
MAX_MEMBER_PAGES = 5


def read_back_reserve(slack: SlackClient) -> float:
    left = slack.time_left()
    settings = slack.settings
    return min(settings.read_timeout, READ_BACK_SHARE * (left if left is not None else settings.write_timeout))


def _read(lost: WriteLost, read: Callable[[], Any], *, see: str, how: str) -> Any:
    try:
        return read()
    except PaiiError as exc:
        first = str(exc).split(". ", 1)[0].rstrip(".")
        raise OutcomeUnknown(
            SERVICE, lost.call, lost.detail, status=lost.status,
            check=f"reading it back failed too ({first}). {how} to see {see} before trying again.",
        ) from None


def _not_there(lost: WriteLost, what: str, action: str, later: str) -> UpstreamError:
    if lost.answered:
        hint = f"Slack answered, so it did not happen: {action}."
    else:
        hint = f"No answer came, so it may still happen: {later}."
    return UpstreamError(SERVICE, lost.call, f"{lost.detail}; reading back shows {what}", status=lost.status, hint=hint)


def _same_text(posted: str | None, wanted: str) -> bool:
    def norm(text: str | None) -> str:
        return " ".join(html.unescape(text or "").split())

    return norm(posted) == norm(wanted)


def recent_post(slack: SlackClient, channel_id: str, text: str, thread_ts: str | None, since: float) -> dict[str, Any] | None:
    """The bot's message with ``text`` in the channel (or thread) posted after ``since``, if there is one."""
    me = slack.auth()
    if thread_ts:
        data = slack.call("conversations.replies", channel=channel_id, ts=thread_ts, oldest=f"{since:.6f}", limit=100)
    else:
        data = slack.call("conversations.history", channel=channel_id, oldest=f"{since:.6f}", limit=100)
    for msg in data.get("messages") or []:
        if thread_ts and msg.get("ts") == thread_ts:
            continue  # the thread's first message is not a reply
        by_me = msg.get("user") == me.get("user_id") or (me.get("bot_id") and msg.get("bot_id") == me.get("bot_id"))
        if by_me and _same_text(msg.get("text"), text):
            return msg
    return None


def find_post(
    slack: SlackClient, lost: WriteLost, channel_id: str, text: str, thread_ts: str | None, since: float
) -> dict[str, Any]:
    """The bot's message with ``text`` posted after ``since``; raises when it is not there."""
    found = _read(lost, lambda: recent_post(slack, channel_id, text, thread_ts, since),
                  see="whether the message was posted", how="Read the channel (channel_digest, hours=0.1)")
    if found is not None:
        return found
    raise _not_there(
        lost,
        "the message is not in the channel",
        "post it again",
        "read the channel in a minute (channel_digest) before you post it again",
    )


def created_channel(slack: SlackClient, lost: WriteLost, name: str) -> dict[str, Any]:
    """The channel ``name`` after a create whose answer was lost; raises when it does not exist."""
    found = _read(
        lost, lambda: find_channel(slack, name, include_archived=True),
        see=f"whether #{name} exists", how="Call create_channel again (it reuses the channel if it exists)",
    )
    if found is not None:
        return found
    raise _not_there(
        lost,
        f"#{name} does not exist",
        "call create_channel again",
        "call create_channel again in a minute (it reuses the channel if it was created)",
    )


def invite_landed(slack: SlackClient, channel_id: str, user_id: str) -> bool | None:
    """Is ``user_id`` a member now? None when the members cannot be read."""
    try:
        members, more = slack.paginate(
            "conversations.members", "members", limit=1000, max_items=1000 * MAX_MEMBER_PAGES,
            max_pages=MAX_MEMBER_PAGES, channel=channel_id,
        )
    except PaiiError:
        return None
    if user_id in members:
        return True
    return None if more else False
