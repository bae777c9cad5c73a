"""The shapes of Slack's answers, as far as the tools read them, by Web API method (:data:`SHAPES`).

slack_sdk turns ``"ok": false`` into an error; an ``"ok": true`` answer is checked here
(:func:`paii_common.answers.expect`): a post without its ``ts``, a channel without its id, a
history without ``messages`` is "Slack answered with something unexpected", never success.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints

from paii_common.answers import Answer

Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Channel(Answer):
    id: Text


class Posted(Answer):
    ts: Text
    channel: Text | None = None


class HasChannel(Answer):
    channel: Channel


class Messages(Answer):
    messages: list[dict[str, Any]]


class Channels(Answer):
    channels: list[Channel]


class Members(Answer):
    members: list[str]


class Users(Answer):
    members: list[dict[str, Any]]


class User(Answer):
    id: Text


class HasUser(Answer):
    user: User


class Auth(Answer):
    user_id: Text


class Search(Answer):
    messages: dict[str, Any]


SHAPES: dict[str, Any] = {
    "auth.test": Auth,
    "chat.postMessage": Posted,
    "conversations.create": HasChannel,
    "conversations.info": HasChannel,
    "conversations.join": HasChannel,
    "conversations.history": Messages,
    "conversations.replies": Messages,
    "conversations.list": Channels,
    "conversations.members": Members,
    "users.list": Users,
    "users.info": HasUser,
    "users.lookupByEmail": HasUser,
    "search.messages": Search,
}
