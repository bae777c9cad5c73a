"""One HTTP retry policy and one deadline rule for every integration.

Retries (the same for every server, whatever its client library):

* **429** is retried for any method (the service refused the request before doing it),
  waiting ``Retry-After`` when the service sends one (capped by ``max_retry_after``: a
  longer wait is reported to the model instead of blocking the tool).
* **5xx** (500, 502, 503, 504) and connection errors are retried with exponential backoff
  and jitter, **only for idempotent methods** (GET, HEAD, OPTIONS, PUT, DELETE): a POST
  that may have happened is never sent twice. With ``resend_writes=False`` a PUT or DELETE
  is not re-sent either: the caller reads the state back instead (PagerDuty does this).
* At most ``max_attempts`` attempts in all; errors say how many were made
  (:func:`attempts_text`: "after 4 attempts", the same words for every service).

Deadlines: every upstream request ends by a deadline. :func:`deadline` opens one for a block
(a tool call, one client call); nested deadlines never extend an enclosing one. A client asks
:func:`current_deadline` for what is left and gives each attempt a connect timeout of at most
``connect_timeout`` and a read timeout of the rest (:meth:`RetryPolicy.attempt_timeouts`); it
does not start another attempt when the backoff plus ``min_attempt_time`` no longer fits
(:meth:`RetryPolicy.fits`), so attempts x timeout + backoff never exceed the deadline.

:class:`paii_common.httpx_retry.RetryTransport` applies the policy to any ``httpx`` client
(a separate module, so servers that do not use httpx never import it). Servers built on other
libraries translate the same :class:`RetryPolicy` into their library's own retry handlers
(slack-sdk's ``RateLimitErrorRetryHandler``, pdpyras' ``retry`` table) rather than
re-implementing the loop.
"""

from __future__ import annotations

import contextvars
import email.utils
import functools
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: methods that only read: re-sending them can never change anything
READS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_5XX = frozenset({500, 502, 503, 504})

F = TypeVar("F", bound=Callable[..., Any])


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


def attempts_text(attempts: int) -> str:
    """How errors of every service say how hard they tried: ``after 1 attempt``, ``after 4 attempts``."""
    return f"after {attempts} attempt{'' if attempts == 1 else 's'}"


def seconds_text(seconds: float) -> str:
    """A duration for a message: ``0.5 s``, ``14 s``."""
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


# ---------------------------------------------------------------------------- deadlines
class Deadline:
    """A moment every upstream request of a block must finish by (monotonic clock)."""

    __slots__ = ("end", "start")

    def __init__(self, seconds: float, *, end: float | None = None) -> None:
        self.start = time.monotonic()
        self.end = self.start + seconds if end is None else end

    @property
    def seconds(self) -> float:
        """The length of the whole deadline."""
        return max(0.0, self.end - self.start)

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.start


_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("paii_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The innermost deadline of the running block, or None outside any."""
    return _DEADLINE.get()


@contextmanager
def deadline(seconds: float | None, *, reserve: float = 0.0) -> Iterator[Deadline | None]:
    """Run the block under a deadline ``seconds`` from now, never later than the enclosing one.

    ``reserve`` keeps that many seconds of the enclosing deadline free for what follows the
    block (a write leaves time to read the state back). ``seconds=None`` only narrows the
    enclosing deadline (None outside any).
    """
    outer = _DEADLINE.get()
    mine = Deadline(seconds) if seconds is not None else None
    if outer is not None:
        limit = outer.end - max(0.0, min(reserve, outer.remaining() / 2))
        if mine is None or limit < mine.end:
            mine = Deadline(0, end=limit)
    token = _DEADLINE.set(mine)
    try:
        yield mine
    finally:
        _DEADLINE.reset(token)


def carry_deadline(fn: F) -> F:
    """``fn`` running under the caller's deadline in another thread (thread pools copy no context)."""
    current = _DEADLINE.get()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        token = _DEADLINE.set(current)
        try:
            return fn(*args, **kwargs)
        finally:
            _DEADLINE.reset(token)

    return run  # type: ignore[return-value]


def tool_budget(timeout: float) -> float:
    """What one tool call's upstream requests may use of its ``timeout``: a little less, so the
    client's own precise error comes before the tool-level deadline. ``paii_common.calls``
    runs every tool call inside ``deadline(tool_budget(timeout))``."""
    return max(timeout * 0.5, timeout - min(1.0, timeout * 0.1))


# ---------------------------------------------------------------------------- retries
@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 30.0
    jitter: float = 0.25
    retry_statuses: frozenset[int] = field(default_factory=lambda: RETRY_5XX)
    #: longest connect timeout of one attempt (the read timeout is what is left of the deadline)
    connect_timeout: float = 5.0
    #: no attempt starts with less than this left before the deadline
    min_attempt_time: float = 0.25
    #: False: PUT and DELETE are not re-sent after a 5xx or a lost answer either (read back instead)
    resend_writes: bool = True

    def resendable(self, method: str) -> bool:
        """May this method be sent again after a 5xx or a lost answer?"""
        return method.upper() in (IDEMPOTENT if self.resend_writes else READS)

    def should_retry(self, method: str, status: int | None, attempt: int) -> bool:
        """``status`` None means a connection error. ``attempt`` counts from 1."""
        if attempt >= self.max_attempts:
            return False
        if status == 429:
            return True
        if status is None:
            return self.resendable(method)
        return self.resendable(method) and status in self.retry_statuses

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """How long to sleep before attempt ``attempt + 1``; None if the wait is too long."""
        if retry_after is not None:
            return None if retry_after > self.max_retry_after else retry_after
        base = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return base * (1 + random.uniform(-self.jitter, self.jitter))

    def fits(self, wait: float, limit: Deadline | None = None) -> bool:
        """Can another attempt start after sleeping ``wait`` and still finish by the deadline?"""
        limit = limit if limit is not None else current_deadline()
        return limit is None or limit.remaining() - wait >= self.min_attempt_time

    def attempt_timeouts(self, default: float, limit: Deadline | None = None) -> tuple[float, float]:
        """(connect, read) timeouts of the next attempt: ``default`` outside any deadline."""
        limit = limit if limit is not None else current_deadline()
        left = default if limit is None else max(0.001, min(default, limit.remaining()))
        return min(self.connect_timeout, left), left


DEFAULT_POLICY = RetryPolicy()


class QuietLogger:
    """A vendor HTTP library's logger, one step down: its warnings (retrying...) become DEBUG,
    its errors (a 5xx, a body it could not decode) INFO. The PAII client logs the one line a
    person should read when a call finally fails; stderr carries nothing else."""

    def __init__(self, name: str) -> None:
        self._log = logging.getLogger(name)

    @property
    def level(self) -> int:
        return self._log.level

    def debug(self, *args: Any, **kwargs: Any) -> None:
        self._log.debug(*args, **kwargs)

    info = warning = warn = debug

    def error(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("exc_info", None)
        self._log.info(*args, **kwargs)

    critical = exception = error

    def __getattr__(self, name: str) -> Any:  # setLevel, addHandler, isEnabledFor...
        return getattr(self._log, name)
