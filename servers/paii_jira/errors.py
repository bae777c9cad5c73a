"""Jira's failures as ``paii_common`` errors, and the ``urllib3`` retry that follows the PAII retry policy.

:class:`JiraError` carries Jira's own error texts (:func:`_messages` reads them from a response);
:class:`DeadlineExceeded` is a call that ran out of its tool deadline; :func:`_never_sent` tells a write
that cannot have happened from one whose outcome is unknown; :func:`_retry_class` builds, on first use,
the ``Retry`` subclass :class:`paii_jira.client.JiraClient` mounts on its session. ``requests`` and
``urllib3`` are imported inside the functions, never at import.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from paii_common.errors import UpstreamError
from paii_common.http import DEFAULT_POLICY, RetryPolicy, parse_retry_after
from paii_common.redact import redact

SERVICE = "Jira"


class JiraError(UpstreamError):
    """A Jira call failed with an HTTP status; ``messages`` are Jira's own error texts."""

    def __init__(self, call: str, status: int, messages: list[str], *, hint: str | None = None) -> None:
        detail = "; ".join(messages)[:600] or f"HTTP {status}"
        super().__init__(SERVICE, call, detail, status=status, hint=hint)
        self.messages = messages


class DeadlineExceeded(UpstreamError):
    def __init__(self, call: str, seconds: float) -> None:
        super().__init__(
            SERVICE, call, f"the tool's {seconds:.0f} s deadline passed",
            hint="Jira is slow or the request is large: narrow it (a smaller limit, a tighter JQL) or retry later; "
                 "PAII_READ_TIMEOUT / PAII_WRITE_TIMEOUT raise the deadline.",
        )


def _messages(response: Any) -> list[str]:
    """Jira's ``{"errorMessages": [...], "errors": {field: msg}}``, or the start of a non-JSON body."""
    try:
        body = response.json()
    except ValueError:
        text = (response.text or "").strip()
        return [text[:300]] if text else []
    out: list[str] = []
    if isinstance(body, dict):
        out += [str(m) for m in body.get("errorMessages") or []]
        errors = body.get("errors")
        if isinstance(errors, dict):
            out += [f"{k}: {v}" for k, v in errors.items()]
        if not out and body.get("message"):
            out.append(str(body["message"]))
    return [redact(m) for m in out]


def _never_sent(exc: Exception) -> bool:
    """True when the connection was never made, so a write cannot have happened."""
    import requests

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return type(reason).__name__ in {"NewConnectionError", "NameResolutionError", "ConnectTimeoutError"}


_RETRY_CLASS: type | None = None


def _retry_class() -> type:
    """A urllib3 ``Retry`` that follows the PAII retry policy and the call's deadline (built lazily)."""
    global _RETRY_CLASS
    if _RETRY_CLASS is not None:
        return _RETRY_CLASS
    from urllib3.exceptions import MaxRetryError, ResponseError
    from urllib3.util.retry import Retry

    class PolicyRetry(Retry):
        paii_policy: RetryPolicy = DEFAULT_POLICY
        paii_sleep: Callable[[float], None] = staticmethod(time.sleep)
        paii_remaining: Callable[[], float] = staticmethod(lambda: float("inf"))
        paii_on_retry: Callable[[], None] = staticmethod(lambda: None)
        _paii_wait = 0.0

        def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
            return self.paii_policy.should_retry(method, status_code, len(self.history) + 1)

        def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # type: ignore[no-untyped-def,override]
            attempt = len(self.history) + 1
            status = response.status if response is not None else None
            give_up = not self.paii_policy.should_retry(method or "GET", status, attempt)
            retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
            wait = None if give_up else self.paii_policy.delay(attempt, retry_after if status == 429 else None)
            if wait is None or wait >= self.paii_remaining():
                if error is not None:
                    if self._is_read_error(error):
                        raise error  # requests reports it as ReadTimeout / ConnectionError
                    raise MaxRetryError(_pool, url, error) from error
                raise MaxRetryError(_pool, url, ResponseError(f"HTTP {status}: not retried"))
            new = super().increment(method, url, response, error, _pool, _stacktrace)
            new._paii_wait = wait
            self.paii_on_retry()
            return new

        def sleep(self, response=None) -> None:  # type: ignore[no-untyped-def,override]
            self.paii_sleep(self._paii_wait)

    _RETRY_CLASS = PolicyRetry
    return PolicyRetry
