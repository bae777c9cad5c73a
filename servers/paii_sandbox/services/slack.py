"""The Slack Web API, as much as PAII's Slack server calls, with state.

Served under ``/api/`` like slack.com: every method by GET or POST (form or JSON body), the
token as ``Authorization: Bearer`` (or a ``token`` field), cursor pagination
(``response_metadata.next_cursor``), HTTP 200 with ``{"ok": false, "error": ...}`` for
errors and 429 + ``Retry-After`` when rate limited. A created channel is listed and its
name is then ``name_taken``; an invited user is a member (``conversations.members`` lists them,
as PAII reads them back after a lost invite); a posted message is in history.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from paii_sandbox.services._slack_state import SlackState, build

NAME = "slack"
PORT_OFFSET = 1
BOT_TOKEN = "xoxb-sandbox-0000000000-paii"
USER_TOKEN = "xoxp-sandbox-0000000000-scott"
USER_ONLY = {"search.messages"}
CHANNEL_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")


def seed(data: dict[str, Any], now: datetime) -> SlackState:
    return build(data, now)


def env(base_url: str, sandbox_dir: Path) -> dict[str, str]:
    return {"PAII_SLACK_URL": f"{base_url}/api/", "PAII_SLACK_TOKEN": BOT_TOKEN, "PAII_SLACK_USER_TOKEN": USER_TOKEN,
            "PAII_SLACK_STAKEHOLDER_CHANNEL": "#incidents"}


def error_body(status: int) -> tuple[dict[str, Any], str]:
    return {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}, "application/json"


class SlackFail(Exception):
    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error, self.status, self.extra = error, status, extra


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, value = base64.b64decode(cursor).decode().partition(":")
        assert kind == "offset"
        return int(value)
    except Exception:
        raise SlackFail("invalid_cursor") from None


def _limit(params: dict[str, str], default: int, cap: int) -> int:
    try:
        return min(max(int(params.get("limit") or default), 1), cap)
    except ValueError:
        raise SlackFail("invalid_limit") from None


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def create_app(state: SlackState, world: Any) -> Starlette:
    st = state

    def team_url() -> str:
        return f"https://{st.team.get('domain', 'sandbox')}.slack.com/"

    def who(request: Request, params: dict[str, str]) -> tuple[str, str]:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else params.get("token", "")
        if not token:
            raise SlackFail("not_authed")
        if token == BOT_TOKEN:
            return st.bot_user, "bot"
        if token == USER_TOKEN:
            return st.caller, "user"
        raise SlackFail("invalid_auth")

    def channel_of(params: dict[str, str], user: str, *, member: bool = False) -> dict[str, Any]:
        cid = params.get("channel") or ""
        ch = st.channels.get(cid)
        if ch is None or (ch["is_private"] and user not in ch["members"]):
            raise SlackFail("channel_not_found")
        if member and user not in ch["members"]:
            raise SlackFail("not_in_channel")
        return ch

    def conversation(ch: dict[str, Any], user: str) -> dict[str, Any]:
        created = int(ch["created"].timestamp())
        topic_set = created if ch["topic"] else 0
        return {
            "id": ch["id"], "name": ch["name"], "name_normalized": ch["name"], "is_channel": not ch["is_private"],
            "is_group": ch["is_private"], "is_im": False, "is_mpim": False, "is_private": ch["is_private"],
            "created": created, "creator": ch["creator"], "is_archived": ch["is_archived"],
            "is_general": ch["name"] == "general", "unlinked": 0, "is_shared": False, "is_ext_shared": False,
            "is_org_shared": False, "is_pending_ext_shared": False, "pending_shared": [], "previous_names": [],
            "is_member": user in ch["members"], "num_members": len(ch["members"]),
            "topic": {"value": ch["topic"], "creator": ch["creator"] if ch["topic"] else "", "last_set": topic_set},
            "purpose": {"value": ch["purpose"], "creator": ch["creator"] if ch["purpose"] else "", "last_set": created if ch["purpose"] else 0},
        }

    def message(cid: str, m: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in m.items() if k != "reactions"}
        if m.get("reactions"):
            out["reactions"] = [{"name": name, "users": users, "count": len(users)} for name, users in m["reactions"].items()]
        if m.get("thread_ts") == m["ts"]:
            replies = [r for r in st.messages[cid] if r.get("thread_ts") == m["ts"] and r["ts"] != m["ts"]]
            if replies:
                out["reply_count"] = len(replies)
                out["reply_users"] = list(dict.fromkeys(r["user"] for r in replies))
                out["reply_users_count"] = len(out["reply_users"])
                out["latest_reply"] = replies[-1]["ts"]
        return out

    def user_obj(uid: str) -> dict[str, Any]:
        u = st.users[uid]
        display = u.get("display_name", u.get("name", ""))
        profile = {"real_name": u.get("real_name", ""), "display_name": display,
                   "real_name_normalized": u.get("real_name", ""), "display_name_normalized": display,
                   "title": u.get("title", ""), "team": st.team.get("id", ""), "avatar_hash": "sandbox",
                   "status_text": "", "status_emoji": "", "phone": "", "skype": "",
                   "image_24": "https://a.slack-edge.com/sandbox_24.png", "image_32": "https://a.slack-edge.com/sandbox_32.png",
                   "image_48": "https://a.slack-edge.com/sandbox_48.png", "image_72": "https://a.slack-edge.com/sandbox_72.png",
                   "image_192": "https://a.slack-edge.com/sandbox_192.png", "image_512": "https://a.slack-edge.com/sandbox_512.png"}
        if u.get("email"):
            profile["email"] = u["email"]
        if u.get("bot_id"):
            profile["bot_id"] = u["bot_id"]
        return {
            "id": uid, "team_id": st.team.get("id", ""), "name": u["name"], "deleted": bool(u.get("deleted")),
            "color": "9f69e7", "real_name": u.get("real_name", ""), "tz": u.get("tz", "Etc/UTC"), "tz_label": u.get("tz", "UTC"),
            "tz_offset": 0, "profile": profile, "is_admin": False, "is_owner": False, "is_primary_owner": False,
            "is_restricted": False, "is_ultra_restricted": False, "is_bot": bool(u.get("is_bot")), "is_app_user": False,
            "updated": 1700000000, "has_2fa": False,
        }

    def page(items: list[Any], params: dict[str, str], default: int, cap: int) -> tuple[list[Any], str]:
        start, limit = _offset(params.get("cursor")), _limit(params, default, cap)
        chunk = items[start:start + limit]
        return chunk, _cursor(start + limit) if start + limit < len(items) else ""

    # ------------------------------------------------------------------ methods
    def auth_test(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        out = {"url": team_url(), "team": st.team.get("name", ""), "user": st.users[user]["name"],
               "team_id": st.team.get("id", ""), "user_id": user, "is_enterprise_install": False}
        if kind == "bot":
            out["bot_id"] = st.users[user].get("bot_id", "")
        return out

    def conversations_list(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        types = set((p.get("types") or "public_channel").split(","))
        found = [ch for ch in st.channels.values()
                 if (("private_channel" in types) if ch["is_private"] else ("public_channel" in types))
                 and (not ch["is_private"] or user in ch["members"])
                 and not (_truthy(p.get("exclude_archived")) and ch["is_archived"])]
        chunk, cursor = page(found, p, 100, 1000)
        return {"channels": [conversation(ch, user) for ch in chunk], "response_metadata": {"next_cursor": cursor}}

    def conversations_info(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        return {"channel": conversation(channel_of(p, user), user)}

    def conversations_history(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        ch = channel_of(p, user, member=kind == "bot")
        oldest, latest = float(p.get("oldest") or 0), float(p.get("latest") or 9e12)
        inclusive = _truthy(p.get("inclusive"))
        top = [m for m in st.messages[ch["id"]] if m.get("thread_ts", m["ts"]) == m["ts"]
               and (oldest <= float(m["ts"]) <= latest if inclusive else oldest < float(m["ts"]) < latest)]
        top.sort(key=lambda m: float(m["ts"]), reverse=True)
        chunk, cursor = page(top, p, 100, 999)
        return {"messages": [message(ch["id"], m) for m in chunk], "has_more": bool(cursor), "pin_count": 0,
                "channel_actions_ts": None, "channel_actions_count": 0, "response_metadata": {"next_cursor": cursor}}

    def conversations_replies(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        ch = channel_of(p, user, member=kind == "bot")
        ts = p.get("ts") or ""
        thread = [m for m in st.messages[ch["id"]] if m["ts"] == ts or m.get("thread_ts") == ts]
        if not thread:
            raise SlackFail("thread_not_found")
        thread.sort(key=lambda m: float(m["ts"]))
        chunk, cursor = page(thread, p, 100, 1000)
        return {"messages": [message(ch["id"], m) for m in chunk], "has_more": bool(cursor),
                "response_metadata": {"next_cursor": cursor}}

    def joined(cid: str, uid: str, **extra: str) -> None:
        """Slack's own "has joined the channel" message (subtype channel_join), as the live API writes it."""
        st.add_message(cid, uid, f"<@{uid}> has joined the channel", st.next_ts(world.now()), subtype="channel_join", **extra)

    def conversations_create(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        name = (p.get("name") or "").strip()
        if not name:
            raise SlackFail("invalid_name_required")
        if len(name) > 80:
            raise SlackFail("invalid_name_maxlength")
        if not CHANNEL_NAME.match(name):
            raise SlackFail("invalid_name_specials")
        if any(ch["name"] == name for ch in st.channels.values()):
            raise SlackFail("name_taken")
        cid = st.new_channel_id()
        st.channels[cid] = {"id": cid, "name": name, "is_private": _truthy(p.get("is_private")), "is_archived": False,
                            "created": world.now(), "creator": user, "topic": "", "purpose": "", "members": [user]}
        st.messages[cid] = []
        joined(cid, user)
        return {"channel": conversation(st.channels[cid], user)}

    def conversations_members(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        chunk, cursor = page(list(channel_of(p, user)["members"]), p, 100, 1000)
        return {"members": chunk, "response_metadata": {"next_cursor": cursor}}

    def conversations_join(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        ch = channel_of(p, user)
        if ch["is_archived"]:
            raise SlackFail("is_archived")
        if user not in ch["members"]:
            ch["members"].append(user)
            joined(ch["id"], user)
        return {"channel": conversation(ch, user)}

    def conversations_set_topic(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        ch = channel_of(p, user, member=True)
        topic = p.get("topic") or ""
        if len(topic) > 250:
            raise SlackFail("too_long")
        ch["topic"] = topic
        return {"channel": conversation(ch, user)}

    def conversations_invite(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        ch = channel_of(p, user, member=True)
        ids = [u.strip() for u in (p.get("users") or "").split(",") if u.strip()]
        if not ids:
            raise SlackFail("no_user")
        for uid in ids:
            if uid not in st.users:
                raise SlackFail("user_not_found")
            if uid == user:
                raise SlackFail("cant_invite_self")
        if all(uid in ch["members"] for uid in ids):
            raise SlackFail("already_in_channel")
        for uid in ids:
            if uid not in ch["members"]:
                ch["members"].append(uid)
                joined(ch["id"], uid, inviter=user)
        return {"channel": conversation(ch, user)}

    def chat_post_message(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        ch = channel_of(p, user, member=True)
        text = p.get("text") or ""
        if not text.strip():
            raise SlackFail("no_text")
        if len(text) > 40000:
            raise SlackFail("msg_too_long")
        thread = p.get("thread_ts") or None
        if thread and not any(m["ts"] == thread for m in st.messages[ch["id"]]):
            raise SlackFail("thread_not_found")
        extra = {"thread_ts": thread} if thread else {}
        msg = st.add_message(ch["id"], user, text, st.next_ts(world.now()), **extra)
        if thread:
            parent = next(m for m in st.messages[ch["id"]] if m["ts"] == thread)
            parent["thread_ts"] = thread
        return {"channel": ch["id"], "ts": msg["ts"], "message": message(ch["id"], msg)}

    def users_info(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        if p.get("user") not in st.users:
            raise SlackFail("user_not_found")
        return {"user": user_obj(p["user"])}

    def users_list(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        chunk, cursor = page(list(st.users), p, 100, 1000)
        return {"members": [user_obj(u) for u in chunk], "cache_ts": 1700000000,
                "response_metadata": {"next_cursor": cursor}}

    def users_lookup_by_email(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        email = (p.get("email") or "").strip().lower()
        for uid, u in st.users.items():
            if (u.get("email") or "").lower() == email:
                return {"user": user_obj(uid)}
        raise SlackFail("users_not_found")

    def search_messages(p: dict[str, str], user: str, kind: str) -> dict[str, Any]:
        query = p.get("query") or ""
        channel = re.search(r"in:#?([a-z0-9_-]+)", query)
        words = [w.lower() for w in re.sub(r"\b(in|from|after|before):\S+", "", query).split()]
        matches = []
        for cid, msgs in st.messages.items():
            ch = st.channels[cid]
            if (ch["is_private"] and user not in ch["members"]) or (channel and ch["name"] != channel.group(1)):
                continue
            for m in msgs:
                if all(w in m["text"].lower() for w in words):
                    matches.append({"type": "message", "user": m["user"], "username": st.users[m["user"]]["name"],
                                    "ts": m["ts"], "text": m["text"], "channel": {"id": cid, "name": ch["name"]},
                                    "permalink": f"{team_url()}archives/{cid}/p{m['ts'].replace('.', '')}"})
        matches.sort(key=lambda m: float(m["ts"]), reverse=True)
        count = _limit({"limit": p.get("count", "20")}, 20, 100)
        return {"query": query, "messages": {"total": len(matches), "matches": matches[:count],
                                              "pagination": {"total_count": len(matches), "page": 1, "per_page": count}}}

    methods = {
        "auth.test": auth_test, "conversations.list": conversations_list, "conversations.info": conversations_info,
        "conversations.history": conversations_history, "conversations.replies": conversations_replies,
        "conversations.create": conversations_create, "conversations.join": conversations_join,
        "conversations.setTopic": conversations_set_topic, "conversations.invite": conversations_invite,
        "conversations.members": conversations_members, "chat.postMessage": chat_post_message, "users.info": users_info,
        "users.list": users_list,
        "users.lookupByEmail": users_lookup_by_email, "search.messages": search_messages,
    }

    async def api(request: Request) -> JSONResponse:
        name = request.path_params["method"]
        params: dict[str, str] = dict(request.query_params)
        raw = await request.body()
        ctype = request.headers.get("content-type", "")
        if raw and "json" in ctype:
            try:
                data = json.loads(raw)
            except ValueError:
                return JSONResponse({"ok": False, "error": "invalid_json"})
            params.update({k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, list | dict) else str(v).lower()
                           for k, v in data.items() if v is not None})
        elif raw:
            params.update(dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)))
        fn = methods.get(name)
        if fn is None:
            return JSONResponse({"ok": False, "error": "unknown_method"}, status_code=404)
        try:
            user, kind = who(request, params)
            if name in USER_ONLY and kind != "user":
                raise SlackFail("not_allowed_token_type")
            with world.lock:
                return JSONResponse({"ok": True, **fn(params, user, kind)})
        except SlackFail as exc:
            return JSONResponse({"ok": False, "error": exc.error, **exc.extra}, status_code=exc.status)

    return Starlette(routes=[Route("/api/{method}", api, methods=["GET", "POST"])])


def dump(state: SlackState) -> dict[str, Any]:
    """What ``paii sandbox state slack`` prints: channels with members and their latest messages."""
    return {
        "channels": [
            {"id": cid, "name": ch["name"], "topic": ch["topic"], "members": ch["members"],
             "messages": len(state.messages[cid]), "latest": state.messages[cid][-5:]}
            for cid, ch in state.channels.items()
        ],
        "users": {uid: {"name": u["name"], "email": u.get("email")} for uid, u in state.users.items()},
    }
