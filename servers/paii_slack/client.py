"""The Slack Web API behind one small class.

:class:`SlackClient` wraps ``slack_sdk.WebClient`` (imported lazily, on the first call, so the
server answers ``initialize`` and ``tools/list`` without loading it). It

* builds no connection and reads no token until a tool is called; a missing token raises
  :class:`~paii_common.errors.NotConfigured` then, not at startup;
* retries with slack-sdk's own retry machinery, counts from :class:`~paii_common.http.RetryPolicy`:
  429 for every method (waiting ``Retry-After`` up to ``max_retry_after``), 5xx and connection
  errors only for read methods (a post that may have happened is never sent twice);
* turns ``SlackApiError`` and connection failures into :class:`SlackError` /
  :class:`~paii_common.errors.RateLimited` whose message says what to do next.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from paii_common.errors import InvalidInput, NotConfigured, NotFound, RateLimited, UpstreamError, hint_for_status
from paii_common.http import DEFAULT_POLICY, RetryPolicy, parse_retry_after

from paii_slack.config import SlackSettings

log = logging.getLogger("paii.slack")

SERVICE = "Slack"

#: Web API methods that only read: safe to resend after a 5xx or a dropped connection.
READ_METHODS = frozenset(
    {
        "auth.test",
        "conversations.history",
        "conversations.info",
        "conversations.list",
        "conversations.replies",
        "search.messages",
        "users.info",
        "users.list",
        "users.lookupByEmail",
    }
)

_BOT_INVITE = "invite the bot with /invite @<bot name> in that channel"
_TOKEN_HINT = "The token was rejected: check PAII_SLACK_TOKEN (or SLACK_BOT_TOKEN) and run `paii doctor`."

#: Slack error code -> (explanation, what to do next)
ERROR_HINTS: dict[str, tuple[str, str]] = {
    "channel_not_found": (
        "no such channel, or it is private and the bot is not a member",
        f"Check the #name or C... id; for a private channel {_BOT_INVITE}.",
    ),
    "not_in_channel": ("the bot is not a member of the channel", f"Ask someone in the channel to {_BOT_INVITE}."),
    "is_archived": ("the channel is archived", "Unarchive it in Slack or use another channel."),
    "invalid_auth": ("invalid token", _TOKEN_HINT),
    "not_authed": ("no token was sent", _TOKEN_HINT),
    "token_revoked": ("the token was revoked", _TOKEN_HINT),
    "token_expired": ("the token expired", _TOKEN_HINT),
    "account_inactive": ("the token's user or bot was deactivated", _TOKEN_HINT),
    "user_not_found": ("no such user", "Use find_user to get a valid user id."),
    "users_not_found": ("no such user", "Use find_user to get a valid user id or email."),
    "restricted_action": ("the workspace settings forbid this for the bot", "Ask a Slack admin, or do it by hand."),
    "msg_too_long": ("the message is too long", "Shorten the text (Slack's limit is 40,000 characters)."),
    "no_text": ("the message is empty", "Give some text."),
    "thread_not_found": ("no such thread", "Check thread_ts: it is the ts of the thread's first message."),
    "invalid_name_specials": ("the channel name has characters Slack does not allow", "Use a-z, 0-9, - and _."),
    "invalid_name_maxlength": ("the channel name is too long", "Use at most 80 characters."),
    "invalid_cursor": ("the page cursor is stale", "Call the tool again without a cursor."),
}


class SlackError(UpstreamError):
    """A Slack Web API call failed; ``code`` is Slack's error string (``channel_not_found``)."""

    def __init__(self, call: str, code: str, *, status: int | None = None, detail: str | None = None, hint: str | None = None) -> None:
        explain, todo = ERROR_HINTS.get(code, ("", None))
        text = detail or (f"{code}: {explain}" if explain else code)
        if hint is None:
            hint = todo
        if hint is None and status:
            hint = hint_for_status(status)
        super().__init__(SERVICE, call, text, status=status if status and status != 200 else None, hint=hint)
        self.code = code


def _method_of(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == "retry-after":
            if isinstance(value, list):
                value = value[0] if value else None
            return parse_retry_after(str(value) if value is not None else None)
    return None


def build_retry_handlers(
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    on_retry: Callable[[], None],
    on_response: Callable[[str, int], None] | None = None,
) -> list[Any]:
    """slack-sdk retry handlers that follow ``policy``; slack_sdk is imported here, lazily.

    ``on_response(method, status)``, when given, sees every HTTP response (the contract tests
    use it to catch a 4xx that a tool tolerates)."""
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
    from slack_sdk.http_retry.handler import RetryHandler

    retries = max(0, policy.max_attempts - 1)

    class RateLimitHandler(RateLimitErrorRetryHandler):
        """Slack's 429 handler, but a Retry-After beyond the policy's cap is reported, not slept."""

        def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
            if not super()._can_retry(state=state, request=request, response=response, error=error):
                return False
            wait = policy.delay(state.current_attempt + 1, _retry_after(response.headers) if response else None)
            return wait is not None

        def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:  # type: ignore[no-untyped-def]
            wait = policy.delay(state.current_attempt + 1, _retry_after(response.headers) if response else None)
            state.next_attempt_requested = True
            on_retry()
            sleep(wait or 0)
            state.increment_current_attempt()

    class PolicyBackoff:
        """Sleep the policy's backoff between attempts (shared by the 5xx and connection handlers)."""

        def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:  # type: ignore[no-untyped-def]
            state.next_attempt_requested = True
            on_retry()
            sleep(policy.delay(state.current_attempt + 1) or 0)
            state.increment_current_attempt()

    class ReadServerErrorHandler(PolicyBackoff, RetryHandler):
        """5xx on a read method: back off and resend (writes are never resent)."""

        def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
            return (
                response is not None
                and response.status_code in policy.retry_statuses
                and _method_of(request.url) in READ_METHODS
            )

    class ReadConnectionErrorHandler(PolicyBackoff, ConnectionErrorRetryHandler):
        """Slack's connection-error handler, limited to read methods."""

        def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
            return _method_of(request.url) in READ_METHODS and super()._can_retry(
                state=state, request=request, response=response, error=error
            )

    class Observer(RetryHandler):
        """Never retries: reports each response's status to ``on_response``."""

        def can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
            if response is not None and on_response is not None:
                on_response(_method_of(request.url), response.status_code)
            return False

    return [
        *([Observer()] if on_response is not None else []),
        RateLimitHandler(max_retry_count=retries),
        ReadServerErrorHandler(max_retry_count=retries),
        ReadConnectionErrorHandler(max_retry_count=retries),
    ]


def _sdk_logger() -> logging.Logger:
    """slack_sdk's logger, with every record redacted before any handler sees it."""
    from paii_common.redact import RedactingFilter

    logger = logging.getLogger("paii.slack.sdk")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger


class SlackClient:
    """Slack Web API calls for the tools. Construction does no I/O and imports nothing heavy."""

    def __init__(
        self,
        settings: SlackSettings,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        on_response: Callable[[str, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self._on_response = on_response
        self.policy = policy
        self._sleep = sleep
        self._web: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._auth: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ plumbing
    @property
    def has_user_token(self) -> bool:
        return bool(self.settings.user_token_value)

    def _client(self, which: str) -> Any:
        if which == "user":
            token = self.settings.user_token_value
            if not token:
                raise NotConfigured("Slack search", "PAII_SLACK_USER_TOKEN", doc="It needs a user token (xoxp-) with search:read.")
        else:
            token = self.settings.bot_token
            if not token:
                raise NotConfigured("Slack", "PAII_SLACK_TOKEN", "SLACK_BOT_TOKEN")
        with self._lock:
            web = self._web.get(which)
            if web is None:
                from slack_sdk import WebClient

                web = WebClient(
                    token=token,
                    base_url=self.settings.url,
                    timeout=int(self.settings.timeout),
                    retry_handlers=build_retry_handlers(self.policy, self._sleep, self._count_retry, self._on_response),
                    logger=_sdk_logger(),
                )
                self._web[which] = web
            return web

    def _count_retry(self) -> None:
        self._local.retries = getattr(self._local, "retries", 0) + 1

    def call(self, method: str, *, token: str = "bot", **params: Any) -> dict[str, Any]:
        """Call a Web API method (``"conversations.history"``) through its slack_sdk method; return the body."""
        web = self._client(token)
        fn = getattr(web, method.replace(".", "_"))
        self._local.retries = 0
        from slack_sdk.errors import SlackApiError

        try:
            response = fn(**{k: v for k, v in params.items() if v is not None})
        except SlackApiError as exc:
            raise self._translate(method, exc) from None
        except OSError as exc:  # URLError, timeouts, refused connections
            reason = getattr(exc, "reason", None) or exc
            raise UpstreamError(
                SERVICE,
                method,
                f"could not reach {self.settings.url}: {reason}",
                hint="Check PAII_SLACK_URL and the network, then retry.",
            ) from None
        data = response.data
        return data if isinstance(data, dict) else {}

    def _translate(self, method: str, exc: Any) -> UpstreamError:
        response = exc.response
        status = getattr(response, "status_code", None)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        code = str(data.get("error") or "")
        if not re.fullmatch(r"[a-z_.]{1,64}", code):  # a non-JSON body (a proxy's 502 page): say the status
            code = f"HTTP {status}" if status else "unknown_error"
        retries = getattr(self._local, "retries", 0)
        if status == 429 or code == "ratelimited":
            return RateLimited(SERVICE, method, attempts=retries, retry_after=_retry_after(response.headers))
        if code == "missing_scope":
            needed = data.get("needed") or "a scope"
            kind = "user token" if method == "search.messages" else "bot token"
            return SlackError(
                method,
                code,
                status=status,
                detail=f"missing_scope: the {kind} needs the `{needed}` scope (it has: {data.get('provided') or 'unknown'})",
                hint=f"Add `{needed}` under OAuth & Permissions of the Slack app, reinstall the app and update the token.",
            )
        if status and status >= 500:
            if method in READ_METHODS:
                return SlackError(method, code, status=status, detail=f"{code}, retried {retries} times" if retries else code)
            return SlackError(
                method,
                code,
                status=status,
                hint="Slack failed mid-write, so it may or may not have happened: check the channel before retrying.",
            )
        return SlackError(method, code, status=status)

    # ------------------------------------------------------------------ helpers
    def auth(self, token: str = "bot") -> dict[str, Any]:
        """``auth.test`` for the bot (or the user token), cached for the life of the client."""
        cached = self._auth.get(token)
        if cached is None:
            cached = self.call("auth.test", token=token)
            self._auth[token] = cached
        return cached

    def team_url(self) -> str:
        url = str(self.auth().get("url") or "https://slack.com/")
        return url if url.endswith("/") else url + "/"

    def permalink(self, channel_id: str, ts: str, thread_ts: str | None = None) -> str:
        link = f"{self.team_url()}archives/{channel_id}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel_id}"
        return link

    def paginate(
        self, method: str, key: str, *, limit: int, max_items: int, max_pages: int = 50, **params: Any
    ) -> tuple[list[dict[str, Any]], bool]:
        """Follow ``response_metadata.next_cursor``; stop at ``max_items``/``max_pages``. Returns (items, more)."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(max_pages):
            page_limit = max(1, min(limit, max_items - len(items)))
            data = self.call(method, limit=page_limit, cursor=cursor, **params)
            items.extend(data.get(key) or [])
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            more = bool(cursor) or bool(data.get("has_more"))
            if not more:
                return items, False
            if len(items) >= max_items or not cursor:
                return items[:max_items], True
        return items[:max_items], True


CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
MAX_CHANNEL_PAGES = 10  # 10 x 1000 channels
MAX_USER_PAGES = 10  # 10 x 200 users for a name search


def clean_name(value: Any, limit: int = 80) -> str:
    """A display name from Slack, made safe to show: one line, no control characters, bounded."""
    text = re.sub(r"[\x00-\x1f\x7f<>]+", " ", str(value or "")).strip()
    return text[:limit]


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
            hint=f"Check the name; for a private channel {_BOT_INVITE}.",
        )
    return channel["id"], channel.get("name")
