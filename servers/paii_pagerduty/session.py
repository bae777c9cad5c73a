"""pdpyras behind the client: its import, its session subclass, what its errors mean.

The only modules that import pdpyras are this one and :mod:`paii_pagerduty.client`.
:class:`PolicySession` (made by :func:`session_class` on first use) is an ``APISession``
whose retry timing and per-attempt timeouts follow a :class:`~paii_common.http.RetryPolicy`
and the running :func:`~paii_common.http.deadline`:

* ``send`` gives each attempt a (connect, read) timeout ending by the deadline;
* pdpyras sleeps ``sleep_timer`` multiplied by ``cooldown_factor()`` before every retry;
  ``cooldown_factor`` makes each sleep the policy's delay (the ``Retry-After`` header on a
  429, else exponential backoff with jitter) and raises :class:`GiveUp` when the policy says
  stop, the service asks for a longer wait than the policy allows, or the deadline leaves no
  room for another attempt.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from paii_common.http import DEFAULT_POLICY, RetryPolicy, parse_retry_after


class GiveUp(Exception):
    """Raised inside pdpyras' retry loop when the policy (or the deadline) says stop."""

    def __init__(
        self,
        response: Any,
        attempts: int,
        retry_after: float | None = None,
        error: BaseException | None = None,
        out_of_time: bool = False,
    ) -> None:
        super().__init__("retry policy gave up")
        self.response = response
        self.attempts = attempts
        self.retry_after = retry_after
        self.error = error
        self.out_of_time = out_of_time


class PageCap(Exception):
    """Raised when a listing would read more pages than allowed."""


def pdpyras_module() -> Any:
    """pdpyras, imported without its deprecation warning (it still works and is what Prism's
    docs name; the newer ``pagerduty`` package refuses the http:// URLs our tests use)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r'The package "pdpyras" is deprecated', category=UserWarning)
        import pdpyras
    # a listing without "more" (one page, as the client caps pages anyway) is not news for stderr
    warnings.filterwarnings("ignore", message=r'Endpoint .* responded with no "more" property', category=UserWarning)
    return pdpyras


_SESSION_CLASS: type | None = None


def session_class() -> type:
    """The pdpyras session subclass, created on first use (pdpyras is imported here)."""
    global _SESSION_CLASS
    if _SESSION_CLASS is not None:
        return _SESSION_CLASS
    pdpyras = pdpyras_module()

    class PolicySession(pdpyras.APISession):
        """An ``APISession`` whose retry timing and timeouts follow a :class:`RetryPolicy`."""

        paii_policy: RetryPolicy = DEFAULT_POLICY

        @property
        def _paii(self) -> threading.local:
            state = self.__dict__.get("_paii_state")
            if state is None:
                state = self.__dict__["_paii_state"] = threading.local()
            return state

        def request(self, method: str, url: str, **kwargs: Any):  # noqa: ANN201
            st = self._paii
            pages = getattr(st, "pages_left", None)
            if pages is not None:
                if pages <= 0:
                    raise PageCap()
                st.pages_left = pages - 1
            st.method = method.upper()
            st.attempt = 1
            st.current = self.sleep_timer
            st.response = None
            st.error = None
            return super().request(method, url, **kwargs)

        def send(self, request: Any, **kwargs: Any):  # noqa: ANN201
            """Each attempt: a (connect, read) timeout ending by the deadline."""
            kwargs["timeout"] = self.paii_policy.attempt_timeouts(self.timeout)
            try:
                return super().send(request, **kwargs)
            except Exception as exc:
                self._paii.error = exc
                raise

        def postprocess(self, response: Any, suffix: Any = None) -> None:
            super().postprocess(response, suffix)
            self._paii.response = response

        def cooldown_factor(self) -> float:
            st = self._paii
            policy = self.paii_policy
            response, st.response = st.response, None
            error, st.error = st.error, None
            status = response.status_code if response is not None else None
            if not policy.should_retry(st.method, status, st.attempt):
                raise GiveUp(response, st.attempt, error=error)
            retry_after = None
            if status == 429 and response is not None:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = policy.delay(st.attempt, retry_after)
            if wait is None:
                raise GiveUp(response, st.attempt, retry_after, error=error)
            if not policy.fits(wait):
                raise GiveUp(response, st.attempt, retry_after, error=error, out_of_time=True)
            wait = max(wait, 0.001)
            factor = wait / max(st.current, 0.001)
            st.current = wait
            st.attempt += 1
            return factor

    _SESSION_CLASS = PolicySession
    return PolicySession


def network_failure(exc: BaseException | None) -> tuple[str, str, bool]:
    """(kind, what happened, whether the request surely never reached PagerDuty).

    kind: ``connect`` (nothing was sent), ``timeout`` (no answer), ``unreadable`` (the body
    ended early), ``dropped`` (the connection closed before an answer).
    """
    import requests
    import urllib3

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect", "could not connect in time", True
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "timeout", "no answer", False
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return "unreadable", "the body ended early", False
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return "connect", type(exc).__name__, True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return "connect", "connection refused or host unknown", True
    return "dropped", f"the connection dropped before an answer ({type(exc).__name__ if exc else 'unknown'})", False
