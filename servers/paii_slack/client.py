"""The Slack Web API behind one small class.

:class:`SlackClient` wraps ``slack_sdk.WebClient`` (imported lazily, on the first call, so the
server answers ``initialize`` and ``tools/list`` without loading it). It

* builds no connection and reads no token until a tool is called; a missing token raises
  :class:`~paii_common.errors.NotConfigured` then, not at startup;
* retries with slack-sdk's own retry machinery, counts from :class:`~paii_common.http.RetryPolicy`:
  429 for every method (waiting ``Retry-After`` up to ``max_retry_after``), 5xx and connection
  errors only for read methods and the writes that are safe to repeat (a post that may have
  happened is never sent twice);
* ends every call within ``read_timeout`` / ``write_timeout`` (and the tool call's deadline):
  each attempt's urllib timeout is what is left, and no retry starts that could not finish;
* turns ``SlackApiError``, connection failures and unreadable bodies into :class:`SlackError`,
  :class:`~paii_common.errors.RateLimited` or (a write whose outcome is unknown)
  :class:`WriteLost`, whose message says what to do next;
* checks an ``ok`` answer against the shape the tools read (:mod:`paii_slack.answers`): one that
  does not fit is "Slack answered with something unexpected" (a write: :class:`WriteLost`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from paii_common.answers import UnexpectedAnswer, expect
from paii_common.errors import NotConfigured, OutcomeUnknown, RateLimited, UpstreamError, hint_for_status
from paii_common.http import (
    DEFAULT_POLICY,
    RetryPolicy,
    attempts_text,
    current_deadline,
    deadline,
    seconds_text,
)
from paii_common.redact import redact

from paii_slack.answers import SHAPES
from paii_slack.config import SlackSettings
from paii_slack.sdk import build_retry_handlers, retry_after, sdk_logger, web_client_class

log = logging.getLogger("paii.slack")

SERVICE = "Slack"

#: Web API methods that only read: safe to resend after a 5xx or a dropped connection.
READ_METHODS = frozenset(
    {
        "auth.test",
        "conversations.history",
        "conversations.info",
        "conversations.list",
        "conversations.members",
        "conversations.replies",
        "search.messages",
        "users.info",
        "users.list",
        "users.lookupByEmail",
    }
)

#: writes that change nothing when repeated (joining twice, the same topic, inviting a member):
#: resent after a 5xx or a dropped connection like reads. chat.postMessage and
#: conversations.create are never resent: their outcome is read back instead.
IDEMPOTENT_WRITES = frozenset({"conversations.join", "conversations.setTopic", "conversations.invite"})
RESENDABLE = READ_METHODS | IDEMPOTENT_WRITES

BOT_INVITE = "invite the bot with /invite @<bot name> in that channel"
_TOKEN_HINT = "The token was rejected: check PAII_SLACK_TOKEN (or SLACK_BOT_TOKEN) and run `paii doctor`."

#: Slack error code -> (explanation, what to do next)
ERROR_HINTS: dict[str, tuple[str, str]] = {
    "channel_not_found": (
        "no such channel, or it is private and the bot is not a member",
        f"Check the #name or C... id; for a private channel {BOT_INVITE}.",
    ),
    "not_in_channel": ("the bot is not a member of the channel", f"Ask someone in the channel to {BOT_INVITE}."),
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


class WriteLost(OutcomeUnknown):
    """A write whose outcome is unknown: Slack answered 5xx or an unreadable body, or no answer came.

    ``detail`` says what happened; ``answered`` is True when Slack did answer (the request is
    finished: reading back shows its final effect); ``resendable`` when the method is safe to
    send again (join, setTopic, invite), so repeating the tool is the way to find out.
    """

    def __init__(self, call: str, detail: str, *, answered: bool, status: int | None = None, resendable: bool = False) -> None:
        check = (
            "repeat the tool call: this step is safe to repeat."
            if resendable
            else "read the channel back (channel_digest) before posting or creating again."
        )
        super().__init__(SERVICE, call, detail, status=status, check=check)
        self.detail = detail
        self.reason = f"HTTP {status}: {detail}" if status else detail
        self.answered = answered


def _network_failure(exc: BaseException, url: str) -> tuple[str, str, bool]:
    """(kind, what happened, whether the request surely never reached Slack).

    urllib wraps failures while connecting and sending in ``URLError``; a timeout or a reset
    while waiting for the answer comes bare (the request was sent).
    """
    from http.client import HTTPException
    from urllib.error import URLError

    if isinstance(exc, URLError):
        return "connect", f"could not reach {url}: {getattr(exc, 'reason', exc)}", True
    if isinstance(exc, TimeoutError):
        return "timeout", "no answer", False
    if isinstance(exc, HTTPException):  # IncompleteRead: fewer bytes than Content-Length said
        return "unreadable", "the body ended early", False
    if isinstance(exc, ValueError):  # a JSON body cut short
        return "unreadable", "invalid JSON", False
    return "dropped", f"the connection dropped before an answer ({type(exc).__name__})", False


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
        self._local = threading.local()
        self._auth: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ plumbing
    @property
    def has_user_token(self) -> bool:
        return bool(self.settings.user_token_value)

    def _client(self, which: str) -> Any:
        """The WebClient for the bot or user token; one per thread (each sets its own timeout)."""
        if which == "user":
            token = self.settings.user_token_value
            if not token:
                raise NotConfigured("Slack search", "PAII_SLACK_USER_TOKEN", doc="It needs a user token (xoxp-) with search:read.")
        else:
            token = self.settings.bot_token
            if not token:
                raise NotConfigured("Slack", "PAII_SLACK_TOKEN", "SLACK_BOT_TOKEN")
        clients = self._local.__dict__.setdefault("web", {})
        web = clients.get(which)
        if web is None:
            web = web_client_class()(
                token=token,
                base_url=self.settings.url,
                retry_handlers=build_retry_handlers(
                    self.policy, self._sleep, self._count_retry, self._on_response, self._out_of_time,
                    resendable=RESENDABLE,
                ),
                logger=sdk_logger(),
            )
            web.paii_policy = self.policy
            clients[which] = web
        return web

    def _count_retry(self) -> None:
        self._local.retries = getattr(self._local, "retries", 0) + 1

    def _out_of_time(self) -> None:
        self._local.out_of_time = True

    def time_left(self) -> float | None:
        limit = current_deadline()
        return limit.remaining() if limit is not None else None

    def call(self, method: str, *, token: str = "bot", reserve: float = 0.0, **params: Any) -> dict[str, Any]:
        """Call a Web API method (``"conversations.history"``) through its slack_sdk method; return the body.

        The call ends within ``read_timeout`` (read methods) or ``write_timeout``; ``reserve``
        seconds of the tool's deadline stay free (to read back a write whose answer is lost).
        A write whose outcome is unknown raises :class:`WriteLost`.
        """
        web = self._client(token)
        fn = getattr(web, method.replace(".", "_"))
        from http.client import HTTPException

        from slack_sdk.errors import SlackApiError

        reads = method in READ_METHODS
        budget = self.settings.read_timeout if reads else self.settings.write_timeout
        outer = current_deadline()
        with deadline(budget, reserve=reserve) as limit:
            web.paii_default = budget
            self._local.retries = 0
            self._local.out_of_time = False
            if limit is not None and limit.remaining() < self.policy.min_attempt_time:
                raise UpstreamError(
                    SERVICE, method, f"not sent: the tool call's {seconds_text((outer or limit).seconds)} ran out before it",
                    hint="Retry, with a narrower request if it reads a lot (fewer hours, a smaller count); nothing was changed.",
                )
            try:
                response = fn(**{k: v for k, v in params.items() if v is not None})
            except SlackApiError as exc:
                raise self._translate(method, exc) from None
            except (OSError, HTTPException, ValueError) as exc:  # URLError, timeouts, resets, cut or bad JSON
                raise self._from_network(method, exc, limit) from None
        data = response.data
        shape = SHAPES.get(method)
        if shape is not None:
            try:
                expect(shape, data, service=SERVICE, call=method)
            except UnexpectedAnswer as exc:
                log.warning("%s %s: %s", SERVICE, method, exc.detail)
                if method not in READ_METHODS:
                    raise WriteLost(method, exc.detail, answered=True, resendable=method in RESENDABLE) from None
                raise
        return data if isinstance(data, dict) else {}

    def _tries(self) -> str:
        attempts = getattr(self._local, "retries", 0) + 1
        if getattr(self._local, "out_of_time", False):
            return f"; gave up {attempts_text(attempts)}: another would not finish within the deadline"
        return f"; gave up {attempts_text(attempts)}" if attempts > 1 else ""

    def _from_network(self, method: str, exc: BaseException, limit: Any) -> UpstreamError:
        kind, what, not_sent = _network_failure(exc, self.settings.url)
        tries = self._tries()
        if kind == "timeout":
            detail = f"did not answer within {seconds_text(limit.elapsed()) if limit else '?'}{tries}"
        elif kind == "unreadable":
            detail = f"Slack returned an unreadable response ({what}){tries}"
        else:
            detail = f"{what}{tries}"
        log.warning("%s %s: %s", SERVICE, method, redact(detail))
        if method not in READ_METHODS and not not_sent:
            return WriteLost(method, detail, answered=kind == "unreadable", resendable=method in RESENDABLE)
        if kind == "timeout":
            setting = "PAII_READ_TIMEOUT" if method in READ_METHODS else "PAII_WRITE_TIMEOUT"
            hint = f"Slack is slow or unreachable: retry in a minute (the limit is {setting}); this read changed nothing."
        elif kind == "unreadable":
            hint = "Slack may be having trouble: retry in a minute; this read changed nothing."
        else:
            hint = "Check PAII_SLACK_URL and the network, then retry; nothing was sent, so nothing changed."
        return UpstreamError(SERVICE, method, detail, hint=hint)

    def _translate(self, method: str, exc: Any) -> UpstreamError:
        response = exc.response
        status = getattr(response, "status_code", None)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        raw = str(data.get("error") or "")
        code = raw
        if not re.fullmatch(r"[a-z_.]{1,64}", code):  # a non-JSON body (a proxy's 502 page): say the status
            code = f"HTTP {status}" if status else "unknown_error"
        attempts = getattr(self._local, "retries", 0) + 1
        if status == 429 or code == "ratelimited":
            log.warning("%s %s: rate limited %s", SERVICE, method, attempts_text(attempts))
            return RateLimited(SERVICE, method, attempts=attempts, retry_after=retry_after(response.headers))
        if status is not None and status < 300 and raw.startswith("Received a response in a non-JSON format"):
            detail = f"Slack returned an unreadable response (HTTP {status}, not JSON){self._tries()}"
            log.warning("%s %s: %s", SERVICE, method, detail)
            if method not in READ_METHODS:
                return WriteLost(method, detail, answered=True, resendable=method in RESENDABLE)
            return UpstreamError(SERVICE, method, detail, hint="Slack may be having trouble: retry in a minute; this read changed nothing.")
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
            detail = f"{code if not code.startswith('HTTP') else 'an error page, not JSON'}{self._tries()}"
            log.warning("%s %s failed: HTTP %s %s", SERVICE, method, status, detail)
            if method in READ_METHODS:
                return SlackError(method, code, status=status, detail=detail, hint=hint_for_status(status, write=False))
            return WriteLost(method, detail, answered=True, status=status, resendable=method in RESENDABLE)
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


