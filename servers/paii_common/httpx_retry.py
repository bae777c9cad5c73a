"""An httpx transport applying :class:`paii_common.http.RetryPolicy` (for servers built on httpx)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from paii_common.http import DEFAULT_POLICY, RetryPolicy, current_deadline, parse_retry_after


class RetryTransport(httpx.BaseTransport):
    """An httpx transport that applies a :class:`RetryPolicy` around another transport.

    After the last attempt the final response is returned as is (the caller turns it into
    an :class:`~paii_common.errors.UpstreamError`); ``response.extensions["paii_attempts"]``
    says how many attempts were made. Inside a :func:`paii_common.http.deadline` each attempt's
    connect and read timeouts end by the deadline, and no attempt starts that could not finish.
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

    def _bound(self, request: httpx.Request) -> None:
        limit = current_deadline()
        if limit is None:
            return
        given = request.extensions.get("timeout") or {}
        default = max((v for v in given.values() if v), default=limit.remaining() or 0.001)
        connect, read = self.policy.attempt_timeouts(default, limit)
        request.extensions["timeout"] = {"connect": connect, "read": read, "write": read, "pool": connect}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            self._bound(request)
            try:
                response = self._wrapped.handle_request(request)
            except httpx.TransportError:
                wait = self.policy.delay(attempt) or 0
                if not self.policy.should_retry(request.method, None, attempt) or not self.policy.fits(wait):
                    raise
                self._sleep(wait)
                continue
            if response.status_code < 400 or not self.policy.should_retry(
                request.method, response.status_code, attempt
            ):
                response.extensions["paii_attempts"] = attempt
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = self.policy.delay(attempt, retry_after)
            if wait is None or not self.policy.fits(wait):
                response.extensions["paii_attempts"] = attempt
                return response
            response.close()
            self._sleep(wait)

    def close(self) -> None:
        self._wrapped.close()
