"""The only module that knows the HTTP client library (``pdpyras``).

:class:`PagerDutyClient` is built without I/O and imports ``pdpyras`` (and ``requests``) on
the first call, so the server answers ``initialize`` and ``tools/list`` without them. It
returns PagerDuty's JSON as plain dicts and turns every failure into a ``paii_common``
error that names the call, quotes what PagerDuty said and says what to do.

Deadlines: every call (with its retries) ends within ``read_timeout`` (GET) or
``write_timeout`` (PUT, POST), and within the tool call's deadline when one is open
(:func:`paii_common.http.deadline`). Each attempt gets a (connect, read) timeout from what is
left, and no retry starts that could not finish in time.

Retries follow :class:`paii_common.http.RetryPolicy`, expressed in pdpyras' own settings:

* two sessions: GET, whose ``retry`` table retries 429 and 5xx and which retries network
  errors; and the writes (PUT, POST), retried only after a 429 (PagerDuty refused them before
  acting). A write is never re-sent after a 5xx or a lost answer, PUT included: its outcome
  is unknown, :class:`WriteLost` says so, and the server reads the state back;
* ``max_http_attempts`` / ``max_network_attempts`` bound the attempts;
* the session's timing (each sleep the policy's delay, no retry the deadline cannot fit):
  :mod:`paii_pagerduty.session`.

Logging: pdpyras' deprecation warning is silenced where it is imported, its retry lines go
to DEBUG and its error lines to INFO (logger ``paii.pagerduty.pdpyras``); a call that
finally fails logs one WARNING line (``paii.pagerduty``).

Answers: pdpyras refuses an answer without its wrapper (``{"incident": ...}``); what is inside is
checked against the shape the tools read, by call (:mod:`paii_pagerduty.answers`). Either way an
answer of the wrong shape is "PagerDuty answered with something unexpected": a read fails saying
so, a write is a :class:`WriteLost` (read back like any lost answer).

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
from dataclasses import replace
from typing import Any

from paii_common.answers import UnexpectedAnswer, expect, unexpected
from paii_common.errors import NotConfigured, OutcomeUnknown, RateLimited, UpstreamError, hint_for_status
from paii_common.http import (
    DEFAULT_POLICY,
    READS,
    QuietLogger,
    RetryPolicy,
    attempts_text,
    current_deadline,
    deadline,
    parse_retry_after,
    seconds_text,
)
from paii_common.redact import redact
from paii_pagerduty import answers as A
from paii_pagerduty.config import DEFAULT_URL
from paii_pagerduty.session import GiveUp, PageCap, network_failure, pdpyras_module, session_class

SERVICE = "PagerDuty"
MAX_PAGES = 5
PAGE_SIZE = 100  # PagerDuty's maximum `limit`

log = logging.getLogger("paii.pagerduty")


class WriteLost(OutcomeUnknown):
    """A PUT or POST that may have taken effect: PagerDuty's answer was a 5xx, unreadable or lost.

    ``detail`` says what happened ("fake failure 500", "did not answer within 22 s") and
    ``reason`` the same with the status ("HTTP 500: ..."); ``answered`` is True when PagerDuty
    did answer (a 5xx, an unreadable body): the request is finished and reading the state back
    shows its final effect.
    """

    def __init__(self, call: str, detail: str, *, answered: bool, status: int | None = None) -> None:
        super().__init__(SERVICE, call, detail, status=status, check="read the incident back with get_incident.")
        self.detail = detail
        self.reason = f"HTTP {status}: {detail}" if status else detail
        self.answered = answered


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
        read_timeout: float = 15.0,
        write_timeout: float = 30.0,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self._token = token or None
        self.from_email = from_email or None
        self.url = url.rstrip("/")
        self.policy = replace(policy, resend_writes=False)  # writes are read back, never re-sent
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.max_pages = max_pages
        self._sessions: dict[bool, Any] = {}
        self._lock = threading.Lock()
        self._me: dict[str, Any] | None = None
        #: writes whose outcome was unknown (paii_pagerduty.writes.escalate): (when, what was there before)
        self.pending: dict[tuple[str, str], tuple[float, set[str]]] = {}

    # ------------------------------------------------------------------ sessions
    @property
    def configured(self) -> bool:
        return self._token is not None

    def _session(self, method: str) -> Any:
        if self._token is None:
            raise NotConfigured(SERVICE, "PAII_PAGERDUTY_TOKEN", "PAGERDUTY_API_KEY")
        reads = method.upper() in READS
        with self._lock:
            session = self._sessions.get(reads)
            if session is None:
                session = self._sessions[reads] = self._new_session(reads)
        return session

    def _new_session(self, reads: bool) -> Any:
        cls = session_class()
        session = cls(self._token, default_from=self.from_email)
        session.log = QuietLogger("paii.pagerduty.pdpyras")
        session.url = self.url
        session.timeout = self.read_timeout if reads else self.write_timeout
        session.paii_policy = self.policy
        # (at least 1: pdpyras reads 0 as "default", i.e. retry 429 forever; with
        # max_attempts=1 cooldown_factor gives up before the first retry)
        retries = max(self.policy.max_attempts - 1, 1)
        statuses = {429}
        if reads:
            statuses |= set(self.policy.retry_statuses)
        session.retry = dict.fromkeys(statuses, retries)
        # pdpyras stops when the retries so far exceed max_http_attempts: mixed statuses
        # (a 429 then a 503) then share one budget of max_attempts requests.
        session.max_http_attempts = max(self.policy.max_attempts - 2, 0)
        session.max_network_attempts = retries if reads else 0
        session.sleep_timer = 1.0
        session.sleep_timer_base = 1
        return session

    # ------------------------------------------------------------------ errors
    @contextmanager
    def _bounded(self, method: str, call: str, *, reserve: float = 0.0) -> Iterator[Any]:
        """The call's deadline, and every failure inside it turned into a ``paii_common`` error."""
        session = self._session(method)
        pdpyras = pdpyras_module()
        budget = self.read_timeout if method in READS else self.write_timeout
        outer = current_deadline()
        with deadline(budget, reserve=reserve) as limit:
            if limit.remaining() < self.policy.min_attempt_time:
                raise UpstreamError(
                    SERVICE,
                    call,
                    f"not sent: the tool call's {seconds_text((outer or limit).seconds)} ran out before it",
                    hint="Retry, with a narrower request if it has several parts (a shorter window, a smaller limit); "
                    "nothing was changed.",
                )
            try:
                yield session
            except GiveUp as exc:
                if exc.response is not None:
                    raise self._from_response(method, call, exc.response, exc.attempts, exc.retry_after, exc.out_of_time) from None
                raise self._from_network(method, call, exc.error, exc.attempts, limit, exc.out_of_time) from None
            except pdpyras.PDClientError as exc:
                attempts = getattr(session._paii, "attempt", 1)
                if exc.response is not None:
                    raise self._from_response(method, call, exc.response, attempts, None) from None
                raise self._from_network(method, call, exc.__cause__, attempts, limit) from None
            except pdpyras.URLError as exc:
                raise UpstreamError(SERVICE, call, str(exc)) from None

    @staticmethod
    def _tries(attempts: int, out_of_time: bool) -> str:
        if out_of_time:
            return f"; gave up {attempts_text(attempts)}: another would not finish within the deadline"
        return f"; gave up {attempts_text(attempts)}" if attempts > 1 else ""

    def _from_network(
        self, method: str, call: str, exc: BaseException | None, attempts: int, limit: Any, out_of_time: bool = False
    ) -> UpstreamError:
        kind, what, not_sent = network_failure(exc)
        # (a timeout that used up the deadline needs no "no time for another" after it)
        tries = self._tries(attempts, out_of_time and not (kind == "timeout" and attempts == 1))
        setting = "PAII_READ_TIMEOUT" if method in READS else "PAII_WRITE_TIMEOUT"
        if kind == "timeout":
            detail = f"did not answer within {seconds_text(limit.elapsed())}{tries}"
        elif kind == "unreadable":
            detail = f"PagerDuty returned an unreadable response ({what}){tries}"
        else:
            detail = f"could not reach {self.url} ({what}){tries}"
        log.warning("%s %s: %s", SERVICE, call, detail)
        if method not in READS and not not_sent:
            return WriteLost(call, detail, answered=kind == "unreadable")
        if kind == "timeout":
            hint = f"PagerDuty is slow or unreachable: retry in a minute (the limit is {setting}); this read changed nothing."
        elif kind == "unreadable":
            hint = "PagerDuty may be having trouble: retry in a minute; this read changed nothing."
        else:
            hint = "Check PAII_PAGERDUTY_URL and the network, then retry; nothing was sent, so nothing changed."
        return UpstreamError(SERVICE, call, detail, hint=hint)

    def _from_response(
        self, method: str, call: str, response: Any, attempts: int, retry_after: float | None, out_of_time: bool = False
    ) -> UpstreamError:
        status = response.status_code
        if status == 429:
            if retry_after is None:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            log.warning("%s %s: rate limited %s", SERVICE, call, attempts_text(attempts))
            return RateLimited(SERVICE, call, attempts=attempts, retry_after=retry_after)
        tries = self._tries(attempts, out_of_time)
        if status < 300:  # a 2xx that pdpyras could not decode or unwrap
            try:
                response.json()
                detail = unexpected(SERVICE, f"HTTP {status}, not the shape of PagerDuty's API") + tries
            except ValueError:
                detail = f"PagerDuty returned an unreadable response (HTTP {status}, not JSON){tries}"
            log.warning("%s %s: %s", SERVICE, call, detail)
            if method not in READS:
                return WriteLost(call, detail, answered=True)
            return UpstreamError(
                SERVICE, call, detail, hint="This read changed nothing: retry in a minute. If it keeps happening, check "
                "that PAII_PAGERDUTY_URL points at PagerDuty's API itself (not a proxy or a login page): `paii doctor`."
            )
        detail = _error_detail(response) + tries
        (log.warning if status >= 500 else log.info)("%s %s failed: HTTP %s %s", SERVICE, call, status, redact(detail))
        if status >= 500 and method not in READS:
            return WriteLost(call, detail, answered=True, status=status)
        return UpstreamError(SERVICE, call, detail, status=status, hint=hint_for_status(status, method=method))

    # ------------------------------------------------------------------ calls
    @staticmethod
    def _checked(method: str, call: str, data: Any, shape: Any) -> Any:
        """``data`` if it has ``shape`` (None: not checked); else an UnexpectedAnswer, or WriteLost for a write."""
        if shape is None:
            return data
        try:
            expect(shape, data, service=SERVICE, call=call)
        except UnexpectedAnswer as exc:
            log.warning("%s %s: %s", SERVICE, call, exc.detail)
            if method not in READS:
                raise WriteLost(call, exc.detail, answered=True) from None
            raise
        return data

    def get(self, path: str, params: dict[str, Any] | None = None, *, call: str | None = None) -> Any:
        """GET a single resource and return its unwrapped entity."""
        call = call or f"GET {path}"
        with self._bounded("GET", call) as session:
            data = session.rget(path, params=params or None)
        return self._checked("GET", call, data, A.ENTITY.get(call))

    def put(self, path: str, body: dict[str, Any], *, call: str | None = None, reserve: float = 0.0) -> Any:
        """PUT (PagerDuty's update) and return the unwrapped entity; :class:`WriteLost` when the
        answer is lost. ``reserve`` seconds of the tool's deadline stay free for a read back."""
        self.require_from()
        call = call or f"PUT {path}"
        with self._bounded("PUT", call, reserve=reserve) as session:
            data = session.rput(path, json=body)
        return self._checked("PUT", call, data, A.ENTITY.get(call))

    def post(self, path: str, body: dict[str, Any], *, call: str | None = None, reserve: float = 0.0) -> Any:
        """POST (create) and return the unwrapped entity; :class:`WriteLost` when the answer is lost."""
        self.require_from()
        call = call or f"POST {path}"
        with self._bounded("POST", call, reserve=reserve) as session:
            data = session.rpost(path, json=body)
        return self._checked("POST", call, data, A.ENTITY.get(call))

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
        query = dict(params or {})
        if offset:
            query["offset"] = offset
        page_size = min(PAGE_SIZE, limit + 1)
        pages = max_pages or self.max_pages
        items: list[dict[str, Any]] = []
        truncated = False
        call = call or f"GET {path}"
        with self._bounded("GET", call) as session:
            st = session._paii
            st.pages_left = pages
            try:
                for item in itertools.islice(session.iter_all(path, params=query, page_size=page_size), limit + 1):
                    items.append(item)
            except PageCap:
                truncated = True
            finally:
                st.pages_left = None
        if len(items) > limit:
            items = items[:limit]
            truncated = True
        item = A.ITEM.get(call)
        return self._checked("GET", call, items, list[item] if item else None), truncated

    # ------------------------------------------------------------------ helpers
    def time_left(self) -> float | None:
        """Seconds left of the running tool call's deadline (None outside one)."""
        limit = current_deadline()
        return limit.remaining() if limit is not None else None

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
