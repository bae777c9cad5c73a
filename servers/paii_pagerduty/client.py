"""The only module that knows the HTTP client library (``pdpyras``).

:class:`PagerDutyClient` is built without I/O and imports ``pdpyras`` (and ``requests``) on
the first call, so the server answers ``initialize`` and ``tools/list`` without them. It
returns PagerDuty's JSON as plain dicts and turns every failure into a ``paii_common``
error that names the call, quotes what PagerDuty said and says what to do.

Retries follow :class:`paii_common.http.RetryPolicy`, expressed in pdpyras' own settings:

* two sessions: one for idempotent methods (GET, PUT) whose ``retry`` table retries 429 and
  5xx, one for POST whose table retries only 429 and which never re-sends after a network
  error (a note must not be added twice);
* ``max_http_attempts`` / ``max_network_attempts`` bound the attempts;
* pdpyras sleeps ``sleep_timer`` multiplied by ``cooldown_factor()`` before every retry;
  the session overrides ``cooldown_factor`` so each sleep is the policy's delay (the
  ``Retry-After`` header on a 429, else exponential backoff with jitter), and gives up
  at once when the service asks for a longer wait than the policy allows.

Pagination uses pdpyras' ``iter_all`` with two caps: the number of items the caller asked
for (one more is read to know whether the list was truncated) and a number of pages, so an
API that always says ``more: true`` cannot keep the iterator going.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from paii_common.errors import NotConfigured, RateLimited, UpstreamError, hint_for_status
from paii_common.http import DEFAULT_POLICY, IDEMPOTENT, RetryPolicy, parse_retry_after
from paii_common.redact import redact
from paii_pagerduty.config import DEFAULT_URL

SERVICE = "PagerDuty"
MAX_PAGES = 5
PAGE_SIZE = 100  # PagerDuty's maximum `limit`

log = logging.getLogger("paii.pagerduty")


class _GiveUp(Exception):
    """Raised inside pdpyras' retry loop when the policy says stop."""

    def __init__(self, response: Any, attempts: int, retry_after: float | None = None) -> None:
        super().__init__("retry policy gave up")
        self.response = response
        self.attempts = attempts
        self.retry_after = retry_after


class _PageCap(Exception):
    """Raised when a listing would read more pages than allowed."""


_SESSION_CLASS: type | None = None


def _session_class() -> type:
    """The pdpyras session subclass, created on first use (pdpyras is imported here)."""
    global _SESSION_CLASS
    if _SESSION_CLASS is not None:
        return _SESSION_CLASS
    import pdpyras

    class PolicySession(pdpyras.APISession):
        """An ``APISession`` whose retry timing follows a :class:`RetryPolicy`."""

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
                    raise _PageCap()
                st.pages_left = pages - 1
            st.method = method.upper()
            st.attempt = 1
            st.current = self.sleep_timer
            st.response = None
            return super().request(method, url, **kwargs)

        def postprocess(self, response: Any, suffix: Any = None) -> None:
            super().postprocess(response, suffix)
            self._paii.response = response

        def cooldown_factor(self) -> float:
            st = self._paii
            policy = self.paii_policy
            response, st.response = st.response, None
            status = response.status_code if response is not None else None
            if not policy.should_retry(st.method, status, st.attempt):
                raise _GiveUp(response, st.attempt)
            retry_after = None
            if status == 429 and response is not None:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = policy.delay(st.attempt, retry_after)
            if wait is None:
                raise _GiveUp(response, st.attempt, retry_after)
            wait = max(wait, 0.001)
            factor = wait / max(st.current, 0.001)
            st.current = wait
            st.attempt += 1
            return factor

    _SESSION_CLASS = PolicySession
    return PolicySession


def _error_detail(response: Any) -> str:
    """What PagerDuty said, from its ``{"error": {"message", "errors"}}`` body."""
    try:
        body = response.json()
    except Exception:  # not JSON
        text = (getattr(response, "text", "") or "").strip()
        return text[:300] or (getattr(response, "reason", "") or "no details")
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        parts = [str(err.get("message") or "").strip()]
        extra = err.get("errors") or []
        if isinstance(extra, list):
            parts += [str(e) for e in extra[:3]]
        msg = "; ".join(p for p in parts if p)
        if msg:
            return msg[:500]
    if isinstance(err, str):
        return err[:500]
    if isinstance(body, dict) and (body.get("detail") or body.get("title")):  # RFC 7807 problem
        parts = [str(body.get("title") or ""), str(body.get("detail") or "")]
        for v in (body.get("validation") or [])[:3]:
            if isinstance(v, dict):
                parts.append(f"{'.'.join(map(str, v.get('location') or []))}: {v.get('message', '')}")
        return "; ".join(p for p in parts if p)[:500]
    return str(body)[:300]


class PagerDutyClient:
    """PagerDuty REST API v2 calls used by the tools. Construction does no I/O."""

    def __init__(
        self,
        token: str | None,
        *,
        from_email: str | None = None,
        url: str = DEFAULT_URL,
        policy: RetryPolicy = DEFAULT_POLICY,
        timeout: float = 30.0,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self._token = token or None
        self.from_email = from_email or None
        self.url = url.rstrip("/")
        self.policy = policy
        self.timeout = timeout
        self.max_pages = max_pages
        self._sessions: dict[bool, Any] = {}
        self._lock = threading.Lock()
        self._me: dict[str, Any] | None = None

    # ------------------------------------------------------------------ sessions
    @property
    def configured(self) -> bool:
        return self._token is not None

    def _session(self, method: str) -> Any:
        if self._token is None:
            raise NotConfigured(SERVICE, "PAII_PAGERDUTY_TOKEN", "PAGERDUTY_API_KEY")
        idempotent = method.upper() in IDEMPOTENT
        with self._lock:
            session = self._sessions.get(idempotent)
            if session is None:
                session = self._sessions[idempotent] = self._new_session(idempotent)
        return session

    def _new_session(self, idempotent: bool) -> Any:
        cls = _session_class()
        session = cls(self._token, default_from=self.from_email)
        session.url = self.url
        session.timeout = self.timeout
        session.paii_policy = self.policy
        # (at least 1: pdpyras reads 0 as "default", i.e. retry 429 forever; with
        # max_attempts=1 cooldown_factor gives up before the first retry)
        retries = max(self.policy.max_attempts - 1, 1)
        statuses = {429}
        if idempotent:
            statuses |= set(self.policy.retry_statuses)
        session.retry = dict.fromkeys(statuses, retries)
        # pdpyras stops when the retries so far exceed max_http_attempts: mixed statuses
        # (a 429 then a 503) then share one budget of max_attempts requests.
        session.max_http_attempts = max(self.policy.max_attempts - 2, 0)
        session.max_network_attempts = retries if idempotent else 0
        session.sleep_timer = 1.0
        session.sleep_timer_base = 1
        return session

    # ------------------------------------------------------------------ errors
    @contextmanager
    def _translate(self, call: str) -> Iterator[None]:
        import pdpyras

        try:
            yield
        except _GiveUp as exc:
            raise self._from_response(call, exc.response, exc.attempts, exc.retry_after) from None
        except pdpyras.PDClientError as exc:
            if exc.response is not None:
                raise self._from_response(call, exc.response, None, None) from None
            log.warning("%s: %s", call, redact(str(exc)))
            cause = type(exc.__cause__).__name__ if exc.__cause__ else "network error"
            raise UpstreamError(
                SERVICE,
                call,
                f"could not reach {self.url} ({cause})",
                hint="Check PAII_PAGERDUTY_URL and the network, then retry; nothing was changed.",
            ) from None
        except pdpyras.URLError as exc:
            raise UpstreamError(SERVICE, call, str(exc)) from None

    def _from_response(self, call: str, response: Any, attempts: int | None, retry_after: float | None) -> UpstreamError:
        if response is None:
            return UpstreamError(
                SERVICE,
                call,
                f"could not reach {self.url}",
                hint="Check PAII_PAGERDUTY_URL and the network, then retry.",
            )
        status = response.status_code
        if status == 429:
            if retry_after is None:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return RateLimited(SERVICE, call, attempts=attempts or self.policy.max_attempts, retry_after=retry_after)
        detail = _error_detail(response)
        log.info("%s failed: HTTP %s %s", call, status, redact(detail))
        hint = hint_for_status(status)
        if status >= 500 and response.request is not None and response.request.method.upper() not in IDEMPOTENT:
            hint = "PagerDuty failed; the write may or may not have happened: check the incident before retrying."
        return UpstreamError(SERVICE, call, detail, status=status, hint=hint)

    # ------------------------------------------------------------------ calls
    def get(self, path: str, params: dict[str, Any] | None = None, *, call: str | None = None) -> Any:
        """GET a single resource and return its unwrapped entity."""
        with self._translate(call or f"GET {path}"):
            return self._session("GET").rget(path, params=params or None)

    def put(self, path: str, body: dict[str, Any], *, call: str | None = None) -> Any:
        """PUT (PagerDuty's update) and return the unwrapped entity."""
        self.require_from()
        with self._translate(call or f"PUT {path}"):
            return self._session("PUT").rput(path, json=body)

    def post(self, path: str, body: dict[str, Any], *, call: str | None = None) -> Any:
        """POST (create) and return the unwrapped entity. Never re-sent after a 5xx."""
        self.require_from()
        with self._translate(call or f"POST {path}"):
            return self._session("POST").rpost(path, json=body)

    def list(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        limit: int = 25,
        offset: int = 0,
        call: str | None = None,
        max_pages: int | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` items from ``offset`` on; returns ``(items, truncated)``.

        ``truncated`` is True when more items exist (or the page cap stopped the listing).
        """
        session = self._session("GET")
        query = dict(params or {})
        if offset:
            query["offset"] = offset
        page_size = min(PAGE_SIZE, limit + 1)
        pages = max_pages or self.max_pages
        st = session._paii
        items: list[dict[str, Any]] = []
        truncated = False
        with self._translate(call or f"GET {path}"):
            st.pages_left = pages
            try:
                for item in itertools.islice(session.iter_all(path, params=query, page_size=page_size), limit + 1):
                    items.append(item)
            except _PageCap:
                truncated = True
            finally:
                st.pages_left = None
        if len(items) > limit:
            items = items[:limit]
            truncated = True
        return items, truncated

    # ------------------------------------------------------------------ helpers
    def require_from(self) -> str:
        if self._token is None:
            raise NotConfigured(SERVICE, "PAII_PAGERDUTY_TOKEN", "PAGERDUTY_API_KEY")
        if not self.from_email:
            raise NotConfigured(
                SERVICE,
                "PAII_PAGERDUTY_FROM",
                doc="PagerDuty requires the email of a PagerDuty user on every write.",
            )
        return self.from_email

    def me(self) -> dict[str, Any]:
        """The current user: ``/users/me`` for a user token, else the user with the FROM email."""
        if self._me is not None:
            return self._me
        try:
            user = self.get("/users/me")
        except UpstreamError as exc:
            # an account-level token has no "me" (HTTP 400): fall back to the FROM email
            if exc.status != 400 or not self.from_email:
                raise
            users, _ = self.list("/users", {"query": self.from_email}, limit=5, call="GET /users")
            match = [u for u in users if str(u.get("email", "")).lower() == self.from_email.lower()]
            if not match:
                raise UpstreamError(
                    SERVICE,
                    "GET /users",
                    f"no user has the email {self.from_email}",
                    hint="Set PAII_PAGERDUTY_FROM to your PagerDuty email, or pass user ids explicitly.",
                ) from None
            user = match[0]
        self._me = user
        return user

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()

