"""One HTTP retry policy for every integration.

Rules (the same for every server, whatever its client library):

* **429** is retried for any method (the service refused the request before doing it),
  waiting ``Retry-After`` when the service sends one (capped by ``max_retry_after``: a
  longer wait is reported to the model instead of blocking the tool).
* **5xx** (500, 502, 503, 504) and connection errors are retried with exponential backoff
  and jitter, **only for idempotent methods** (GET, HEAD, OPTIONS, PUT, DELETE): a POST
  that may have happened is never sent twice.
* At most ``max_attempts`` attempts in all.

:class:`RetryTransport` applies the policy to any ``httpx`` client. Servers built on other
libraries translate the same :class:`RetryPolicy` into their library's own retry handlers
(slack-sdk's ``RateLimitErrorRetryHandler``, pdpyras' ``retry`` table) rather than
re-implementing the loop.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_5XX = frozenset({500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 30.0
    jitter: float = 0.25
    retry_statuses: frozenset[int] = field(default_factory=lambda: RETRY_5XX)

    def should_retry(self, method: str, status: int | None, attempt: int) -> bool:
        """``status`` None means a connection error. ``attempt`` counts from 1."""
        if attempt >= self.max_attempts:
            return False
        if status == 429:
            return True
        idempotent = method.upper() in IDEMPOTENT
        if status is None:
            return idempotent
        return idempotent and status in self.retry_statuses

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """How long to sleep before attempt ``attempt + 1``; None if the wait is too long."""
        if retry_after is not None:
            return None if retry_after > self.max_retry_after else retry_after
        base = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return base * (1 + random.uniform(-self.jitter, self.jitter))


DEFAULT_POLICY = RetryPolicy()


class RetryTransport(httpx.BaseTransport):
    """An httpx transport that applies a :class:`RetryPolicy` around another transport.

    After the last attempt the final response is returned as is (the caller turns it into
    an :class:`~paii_common.errors.UpstreamError`); ``response.extensions["paii_attempts"]``
    says how many attempts were made.
    """

    def __init__(
        self,
        wrapped: httpx.BaseTransport | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._wrapped = wrapped or httpx.HTTPTransport()
        self.policy = policy
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._wrapped.handle_request(request)
            except httpx.TransportError:
                if not self.policy.should_retry(request.method, None, attempt):
                    raise
                wait = self.policy.delay(attempt)
                self._sleep(wait or 0)
                continue
            if response.status_code < 400 or not self.policy.should_retry(
                request.method, response.status_code, attempt
            ):
                response.extensions["paii_attempts"] = attempt
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = self.policy.delay(attempt, retry_after)
            if wait is None:
                response.extensions["paii_attempts"] = attempt
                return response
            response.close()
            self._sleep(wait)

    def close(self) -> None:
        self._wrapped.close()
