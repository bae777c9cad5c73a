"""Channels and users by name, on top of :class:`~paii_slack.client.SlackClient` (no SDK here).

Every name that comes back from Slack goes through :func:`paii_common.untrusted.short`: a plain
name as it is, anything else marked as data.
"""

from __future__ import annotations

import re
from typing import Any

from paii_common.errors import InvalidInput, NotFound, RateLimited, UpstreamError
from paii_common.untrusted import short

from paii_slack.client import BOT_INVITE, SlackClient, log

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
MAX_CHANNEL_PAGES = 10  # 10 x 1000 channels
MAX_USER_PAGES = 10  # 10 x 200 users for a name search


def clean_name(value: Any, limit: int = 80) -> str:
    """A name from Slack (a person, a bot, a channel, a reaction), safe to show: see ``short``."""
    return short(value, limit)


def user_ref_name(user: dict[str, Any]) -> str:
    profile = user.get("profile") or {}
    return clean_name(profile.get("display_name") or user.get("real_name") or profile.get("real_name") or user.get("name") or user.get("id"))


class UserDirectory:
    """User id -> name, looked up with ``users.info`` once per id for the life of one tool call."""

    def __init__(self, client: SlackClient, max_lookups: int = 150) -> None:
        self._client = client
        self._names: dict[str, str] = {}
        self._left = max_lookups

    def remember(self, user: dict[str, Any]) -> None:
        if user.get("id"):
            self._names[user["id"]] = user_ref_name(user)

    def name(self, user_id: str | None) -> str:
        if not user_id:
            return "unknown"
        if user_id not in self._names:
            name = user_id
            if self._left > 0:
                self._left -= 1
                try:
                    user = self._client.call("users.info", user=user_id).get("user") or {}
                    name = user_ref_name(user) or user_id
                except RateLimited:
                    self._left = 0
                except UpstreamError as exc:  # a missing users:read scope must not sink a digest
                    log.info("users.info %s failed: %s", user_id, exc)
            self._names[user_id] = name
        return self._names[user_id]


def _find_channel(client: SlackClient, name: str, *, include_archived: bool) -> dict[str, Any] | None:
    cursor = None
    for _ in range(MAX_CHANNEL_PAGES):
        data = client.call(
            "conversations.list",
            types="public_channel,private_channel",
            exclude_archived=not include_archived,
            limit=1000,
            cursor=cursor,
        )
        for channel in data.get("channels") or []:
            if channel.get("name") == name or channel.get("name_normalized") == name:
                return channel
        cursor = (data.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def find_channel(client: SlackClient, name: str, *, include_archived: bool = False) -> dict[str, Any] | None:
    """The channel called ``name`` that the bot can see, or None."""
    return _find_channel(client, name.lstrip("#").lower(), include_archived=include_archived)


def resolve_channel(client: SlackClient, ref: str) -> tuple[str, str | None]:
    """``C0123ABCD`` or ``#name``/``name`` -> (id, name or None)."""
    ref = (ref or "").strip()
    if not ref:
        raise InvalidInput("channel is empty: give a channel id (C0123ABCD) or #name.")
    if ref.startswith("<#") and ref.endswith(">"):  # Slack's own <#C123|name> form
        ref = ref[2:-1].split("|", 1)[0]
    if CHANNEL_ID.match(ref):
        return ref, None
    channel = find_channel(client, ref)
    if channel is None:
        raise NotFound(
            f"No channel named #{ref.lstrip('#').lower()} is visible to the bot.",
            hint=f"Check the name; for a private channel {BOT_INVITE}.",
        )
    return channel["id"], channel.get("name")
