"""One HTTP retry policy for every integration.

Rules (the same for every server, whatever its client library):

* **429** is retried for any method (the service refused the request before doing it),
  waiting ``Retry-After`` when the service sends one (capped by ``max_retry_after``: a
  longer wait is reported to the model instead of blocking the tool).
* **5xx** (500, 502, 503, 504) and connection errors are retried with exponential backoff
  and jitter, **only for idempotent methods** (GET, HEAD, OPTIONS, PUT, DELETE): a POST
  that may have happened is never sent twice.
* At most ``max_attempts`` attempts in all.

:class:`paii_common.httpx_retry.RetryTransport` applies the policy to any ``httpx`` client
(a separate module, so servers that do not use httpx never import it). Servers built on other
libraries translate the same :class:`RetryPolicy` into their library's own retry handlers
(slack-sdk's ``RateLimitErrorRetryHandler``, pdpyras' ``retry`` table) rather than
re-implementing the loop.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field

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
