"""slack_sdk's retry machinery and WebClient, bent to :class:`~paii_common.http.RetryPolicy`
and the running :func:`~paii_common.http.deadline` (slack_sdk is imported lazily, inside).

Used only by :mod:`paii_slack.client`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from paii_common.http import DEFAULT_POLICY, QuietLogger, RetryPolicy, parse_retry_after


def method_of(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def retry_after(headers: Any) -> float | None:
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
    on_out_of_time: Callable[[], None] | None = None,
    *,
    resendable: frozenset[str] = frozenset(),
) -> list[Any]:
    """slack-sdk retry handlers that follow ``policy``; slack_sdk is imported here, lazily.

    5xx and connection errors are retried only for the ``resendable`` Web API methods; 429s
    for every method. No retry starts that could not finish within the running deadline (``on_out_of_time`` is
    told). ``on_response(method, status)``, when given, sees every HTTP response (the contract
    tests use it to catch a 4xx that a tool tolerates)."""
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
    from slack_sdk.http_retry.handler import RetryHandler

    retries = max(0, policy.max_attempts - 1)

    def in_time(state: Any, wait: float) -> bool:
        if policy.fits(wait):
            state.paii_wait = wait
            return True
        if on_out_of_time is not None:
            on_out_of_time()
        return False

    def next_attempt(state: Any) -> None:
        state.next_attempt_requested = True
        on_retry()
        sleep(getattr(state, "paii_wait", 0) or 0)
        state.increment_current_attempt()

    class RateLimitHandler(RateLimitErrorRetryHandler):
        """Slack's 429 handler, but a Retry-After beyond the policy's cap is reported, not slept."""

        def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
            if not super()._can_retry(state=state, request=request, response=response, error=error):
                return False
            wait = policy.delay(state.current_attempt + 1, retry_after(response.headers) if response else None)
            return wait is not None and in_time(state, wait)

        def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:  # type: ignore[no-untyped-def]
            next_attempt(state)

    class PolicyBackoff:
        """Sleep the policy's backoff between attempts (shared by the 5xx and connection handlers)."""

        def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:  # type: ignore[no-untyped-def]
            next_attempt(state)

    class ServerErrorHandler(PolicyBackoff, RetryHandler):
        """5xx on a method safe to resend: back off and resend (a post is never resent)."""

        def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
            return (
                response is not None
                and response.status_code in policy.retry_statuses
                and method_of(request.url) in resendable
                and in_time(state, policy.delay(state.current_attempt + 1) or 0)
            )

    class ConnectionErrorHandler(PolicyBackoff, ConnectionErrorRetryHandler):
        """Slack's connection-error handler, limited to methods safe to resend."""

        def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
            return (
                method_of(request.url) in resendable
                and super()._can_retry(state=state, request=request, response=response, error=error)
                and in_time(state, policy.delay(state.current_attempt + 1) or 0)
            )

    class Observer(RetryHandler):
        """Never retries: reports each response's status to ``on_response``."""

        def can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
            if response is not None and on_response is not None:
                on_response(method_of(request.url), response.status_code)
            return False

    return [
        *([Observer()] if on_response is not None else []),
        RateLimitHandler(max_retry_count=retries),
        ServerErrorHandler(max_retry_count=retries),
        ConnectionErrorHandler(max_retry_count=retries),
    ]


def sdk_logger() -> Any:
    """slack_sdk's logger, one step down (see QuietLogger), every record redacted."""
    from paii_common.redact import RedactingFilter

    logger = logging.getLogger("paii.slack.sdk")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return QuietLogger("paii.slack.sdk")


_WEB_CLIENT: type | None = None


def web_client_class() -> type:
    """``slack_sdk.WebClient`` whose every attempt's timeout ends by the running deadline."""
    global _WEB_CLIENT
    if _WEB_CLIENT is None:
        from slack_sdk import WebClient

        class BoundedWebClient(WebClient):
            paii_policy: RetryPolicy = DEFAULT_POLICY
            paii_default: float = 30.0

            def _perform_urllib_http_request_internal(self, url: str, req: Any) -> dict[str, Any]:
                # urllib has one timeout for the connect and each read: what is left of the deadline
                # (one client per thread: see SlackClient._client)
                self.timeout = self.paii_policy.attempt_timeouts(self.paii_default)[1]  # type: ignore[assignment]
                return super()._perform_urllib_http_request_internal(url, req)

        _WEB_CLIENT = BoundedWebClient
    return _WEB_CLIENT
