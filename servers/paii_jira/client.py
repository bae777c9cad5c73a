"""The only module that knows the HTTP client library (``atlassian-python-api``, over ``requests``).

:class:`JiraClient` is built without I/O; ``atlassian`` (and ``requests``) are imported on the first
call, so the server answers ``initialize`` and ``tools/list`` without them. Every call

* runs inside a deadline (``reading()`` / ``writing()``: ``PAII_READ_TIMEOUT`` / ``PAII_WRITE_TIMEOUT``):
  each request's connect and read timeouts are what is left of it, and no retry starts past it;
* retries by :class:`paii_common.http.RetryPolicy`, expressed as a ``urllib3`` ``Retry`` mounted on
  the session the library uses: 429 for any method (waiting ``Retry-After`` up to the policy's cap),
  5xx and connection errors only for idempotent methods (a create is never sent twice);
* turns failures into ``paii_common`` errors that say which setting to check or what to do next.
  A write whose answer never came raises :class:`~paii_common.errors.OutcomeUnknown`; the tools
  read the state back before they let it reach the model;
* checks an answer against the shape the tool reads (``expect=``, :mod:`paii_jira.answers`): one
  that does not fit is "Jira answered with something unexpected" (for a write: its outcome is
  unknown), never a success with empty fields nor a crash.

Cloud speaks REST v3 (descriptions and comments in ADF) and ``/rest/api/3/search/jql`` with
``nextPageToken``; Server / Data Center speaks REST v2 with ``startAt`` paging. The old
``/rest/api/3/search`` is never called.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from dataclasses import replace

from paii_common import clock as _clock
from paii_common.answers import UnexpectedAnswer, UnexpectedWrite
from paii_common.answers import expect as _expect
from paii_common.errors import NotConfigured, OutcomeUnknown, RateLimited, UpstreamError, hint_for_status
from paii_common.http import DEFAULT_POLICY, READS, RetryPolicy, parse_retry_after
from paii_common.redact import redact, register_secret

from paii_jira import answers as A
from paii_jira.config import JiraSettings
from paii_jira.errors import SERVICE, DeadlineExceeded, JiraError, _messages, _never_sent, _retry_class

__all__ = ["CONNECT_TIMEOUT", "MAX_PAGES", "PAGE", "SERVICE", "DeadlineExceeded", "JiraClient", "JiraError"]

log = logging.getLogger("paii.jira")
_NOT_JSON = object()
PAGE = 100
MAX_PAGES = 50  # 5,000 issues: the report says so when a sprint is bigger
CONNECT_TIMEOUT = 10.0


class JiraClient:
    """Jira REST calls for the tools. Construction does no I/O and imports nothing heavy."""

    def __init__(
        self,
        settings: JiraSettings,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
        on_request: Callable[[str, str, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.policy = replace(policy, resend_writes=False)  # a write is read back, never re-sent
        self._sleep = sleep
        self._clock = clock or _clock.now  # PAII_NOW (the sandbox's fixed clock) or real time
        self._on_request = on_request  # (method, path, status): tests watch every request
        self._session: Any = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self.cache: dict[str, Any] = {}  # per-session discoveries (fields, boards, myself)

    # ------------------------------------------------------------------ identity
    @property
    def cloud(self) -> bool:
        return self.settings.cloud

    @property
    def api(self) -> str:
        return "rest/api/3" if self.cloud else "rest/api/2"

    @property
    def base_url(self) -> str:
        if not self.settings.url:
            raise NotConfigured(SERVICE, "PAII_JIRA_URL", doc="The site URL, e.g. https://your-team.atlassian.net.")
        return self.settings.url

    def now(self) -> datetime:
        return self._clock()

    def browse_url(self, key: str) -> str:
        return f"{self.base_url}/browse/{key}"

    def auth_hint(self) -> str:
        if self.cloud:
            return ("Jira rejected the credentials: check PAII_JIRA_EMAIL and PAII_JIRA_TOKEN (an Atlassian API token "
                    "created by that account at id.atlassian.com/manage-profile/security/api-tokens); `paii doctor`.")
        return "Jira rejected the token: check PAII_JIRA_PAT (a personal access token, not expired); `paii doctor`."

    # ------------------------------------------------------------------ deadlines
    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._deadline(self.settings.read_timeout):
            yield

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._deadline(self.settings.write_timeout):
            yield

    @contextmanager
    def _deadline(self, seconds: float) -> Iterator[None]:
        outer = getattr(self._local, "deadline", None)
        if outer is not None:  # nested: the outer deadline rules
            yield
            return
        self._local.deadline = (time.monotonic() + seconds, seconds)
        try:
            yield
        finally:
            self._local.deadline = None

    def pause(self, seconds: float) -> None:
        self._sleep(seconds)

    def remaining(self) -> float:
        """Seconds left of the current call's deadline (inf outside one)."""
        return self._remaining()

    def _remaining(self) -> float:
        dl = getattr(self._local, "deadline", None)
        return float("inf") if dl is None else dl[0] - time.monotonic()

    # ------------------------------------------------------------------ plumbing
    def _credentials(self) -> dict[str, Any]:
        s = self.settings
        if s.token_value:
            if not s.email:
                raise NotConfigured(SERVICE, "PAII_JIRA_EMAIL", doc="Jira Cloud needs the account email with the API token.")
            return {"username": s.email, "password": s.token_value, "cloud": True}
        if s.pat_value:
            return {"token": s.pat_value, "cloud": False}
        raise NotConfigured(
            SERVICE, "PAII_JIRA_EMAIL + PAII_JIRA_TOKEN (Cloud)", "PAII_JIRA_PAT (Data Center)",
            doc="`paii doctor` says how to get them.",
        )

    def _http_session(self) -> Any:
        with self._lock:
            if self._session is None:
                import requests
                from requests.adapters import HTTPAdapter

                base = _retry_class()
                client = self
                retry_cls = type("ClientRetry", (base,), {
                    "paii_policy": self.policy,
                    "paii_sleep": staticmethod(self._sleep),
                    "paii_remaining": staticmethod(lambda: client._remaining()),
                    "paii_on_retry": staticmethod(lambda: client._count_retry()),
                })
                retry = retry_cls(total=None, connect=self.policy.max_attempts, read=self.policy.max_attempts,
                                  status=self.policy.max_attempts, other=0, allowed_methods=None,
                                  status_forcelist=set(self.policy.retry_statuses) | {429},
                                  respect_retry_after_header=True, raise_on_status=False, backoff_factor=0)
                session = requests.Session()
                session.trust_env = False  # never pick up credentials from ~/.netrc or proxies' env
                adapter = HTTPAdapter(max_retries=retry)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._session = session
            return self._session

    def _count_retry(self) -> None:
        self._local.retries = getattr(self._local, "retries", 0) + 1

    def _library(self) -> Any:
        """One ``atlassian.Jira`` per call (cheap), sharing the pooled session; its timeout is per call."""
        creds = self._credentials()
        if "username" in creds:  # the Basic header's value, should a library ever log it
            register_secret(base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode())
        logging.getLogger("atlassian").setLevel(max(logging.INFO, logging.getLogger("atlassian").getEffectiveLevel()))
        from atlassian import Jira

        return Jira(url=self.base_url, session=self._http_session(), retry_with_header=False,
                    api_version="3" if self.cloud else "2", **creds)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                call: str | None = None, expect: Any = None, reads: bool = False, check: str | None = None) -> Any:
        """One REST call (``path`` relative to the site, e.g. ``rest/api/3/myself``); JSON or None.

        ``expect``: the shape the answer must have (:mod:`paii_jira.answers`; the validated value is
        returned). ``reads``: a POST that only reads (a JQL search). ``check``: for a write, how to
        find out whether it happened when its answer is lost or unexpected."""
        import requests

        method = method.upper()
        call = call or f"{method} /{path.split('?')[0]}"
        check = check or "read the issue back (get_issue / search_issues) before retrying."
        lib = self._library()
        remaining = self._remaining()
        dl = getattr(self._local, "deadline", None)
        if remaining <= 0:
            raise DeadlineExceeded(call, dl[1] if dl else 0)
        write = method not in READS and not reads
        budget = remaining
        if write and dl:  # keep a reserve of the deadline to read the state back if the answer is lost
            reserve = min(5.0, dl[1] * 0.4)
            budget = remaining - reserve if remaining > 2 * reserve else remaining / 2
        lib.timeout = (min(CONNECT_TIMEOUT, budget), budget)
        self._local.retries = 0
        try:
            response = lib.request(method, path, params=params, data=json, advanced_mode=True)
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            reason = ("timed out" if isinstance(exc, requests.Timeout) else
                      "connection failed" if isinstance(exc, requests.ConnectionError) else "the answer was cut short")
            log.info("%s: %s", call, redact(str(exc)))
            if write and not _never_sent(exc):
                raise OutcomeUnknown(SERVICE, call, f"{reason} before Jira answered", check=check) from None
            if remaining != float("inf") and self._remaining() <= 0.05:
                raise DeadlineExceeded(call, dl[1] if dl else 0) from None
            if reason == "the answer was cut short":
                raise UpstreamError(SERVICE, call, "Jira's answer was cut short (the connection dropped)",
                                    hint="Retry in a minute; this read changed nothing.") from None
            raise UpstreamError(SERVICE, call, f"could not reach {self.base_url} ({reason})",
                                hint="Check PAII_JIRA_URL and the network, then retry; nothing was changed.") from None
        finally:
            lib.timeout = None
        status = response.status_code
        if self._on_request is not None:
            self._on_request(method, "/" + path.split("?")[0], status)
        if status < 400:
            if status == 204 or not response.content:
                data = None
            else:
                try:
                    data = response.json()
                except ValueError:
                    data = _NOT_JSON
            if data is _NOT_JSON:
                if write:
                    raise UnexpectedWrite(SERVICE, call, "not JSON", check=check)
                self._not_json(call)
            if expect is None:
                return data
            return _expect(expect, data, service=SERVICE, call=call, write=write, check=check)
        retries = getattr(self._local, "retries", 0)
        if status == 429:
            raise RateLimited(SERVICE, call, attempts=retries + 1, retry_after=parse_retry_after(response.headers.get("Retry-After")))
        messages = _messages(response)
        if status >= 500 and write:
            raise OutcomeUnknown(SERVICE, call, f"Jira answered HTTP {status}", status=status, check=check)
        hint = self.auth_hint() if status == 401 else hint_for_status(status, write=write)
        if status >= 500 and retries:
            messages = messages + [f"retried {retries} times"]
        raise JiraError(call, status, messages, hint=hint)

    @staticmethod
    def _not_json(call: str) -> Any:
        raise UnexpectedAnswer(SERVICE, call, "not JSON",
                               hint="This read changed nothing. Check PAII_JIRA_URL points at the Jira site itself "
                                    "(not a login page or proxy): `paii doctor`.")

    def get(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("GET", path, params=params, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        return self.request("POST", path, json=body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Any:
        return self.request("PUT", path, json=body, **kw)

    # ------------------------------------------------------------------ paging
    def search_page(self, jql: str, fields: list[str], *, cursor: str | None = None, limit: int = PAGE,
                    expand: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a JQL search: (issues, cursor of the next page or None)."""
        if self.cloud:
            body: dict[str, Any] = {"jql": jql, "maxResults": limit, "fields": fields}
            if cursor:
                body["nextPageToken"] = cursor
            if expand:
                body["expand"] = expand
            page = self.post(f"{self.api}/search/jql", body, call="POST /rest/api/3/search/jql", expect=A.SearchJql,
                             reads=True)
            issues = [i.model_dump() for i in page.issues]
            token = page.nextPageToken
            last = page.isLast if page.isLast is not None else not token
            return issues, (None if last or not token else str(token))
        start = int(cursor or 0)
        params = {"jql": jql, "startAt": start, "maxResults": limit, "fields": ",".join(fields)}
        if expand:
            params["expand"] = expand
        found = self.get(f"{self.api}/search", params, call="GET /rest/api/2/search", expect=A.SearchV2)
        issues = [i.model_dump() for i in found.issues]
        total = int(found.total or 0)
        following = start + len(issues)
        return issues, (str(following) if issues and following < total else None)

    def search_all(self, jql: str, fields: list[str], *, expand: str | None = None,
                   max_pages: int = MAX_PAGES) -> tuple[list[dict[str, Any]], int, bool]:
        """Every issue a JQL finds: (issues, pages read, complete). ``complete`` False only at the page cap."""
        issues: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        for page in range(1, max_pages + 1):
            batch, cursor = self.search_page(jql, fields, cursor=cursor, expand=expand)
            for issue in batch:
                if issue.get("key") not in seen:  # a page boundary moved under an update: no double count
                    seen.add(issue.get("key"))
                    issues.append(issue)
            if not cursor:
                return issues, page, True
        return issues, max_pages, False

    def agile_values(self, path: str, params: dict[str, Any] | None = None, *, max_pages: int = 20,
                     page_size: int = 50) -> tuple[list[dict[str, Any]], bool]:
        """Every value of an agile list (``startAt`` / ``isLast``): (values, complete)."""
        out: list[dict[str, Any]] = []
        start = 0
        for _ in range(max_pages):
            page = self.get(path, {**(params or {}), "startAt": start, "maxResults": page_size}, expect=A.Page)
            values = page.values
            out += values
            start += len(values)
            total = page.total
            if not values or page.isLast in (True, None) or (isinstance(total, int) and start >= total):
                return out, True
        return out, False

    def changelog(self, key: str, *, max_pages: int = 10) -> list[dict[str, Any]]:
        """An issue's whole changelog, oldest first."""
        if not self.cloud:
            data = self.get(f"{self.api}/issue/{key}", {"fields": "created", "expand": "changelog"}, expect=A.IssueRef)
            changelog = data.model_extra.get("changelog") if data.model_extra else None
            histories = changelog.get("histories") if isinstance(changelog, dict) else None
            return sorted([h for h in histories or [] if isinstance(h, dict)], key=lambda h: str(h.get("created", "")))
        values, _ = self.agile_values(f"{self.api}/issue/{key}/changelog", max_pages=max_pages, page_size=100)
        return sorted(values, key=lambda h: str(h.get("created", "")))

    # ------------------------------------------------------------------ site facts (cached)
    def fields(self) -> list[dict[str, Any]]:
        if "fields" not in self.cache:
            self.cache["fields"] = self.get(f"{self.api}/field", expect=A.Objects)
        return self.cache["fields"]

    def projects(self, limit: int = 50) -> list[dict[str, Any]]:
        """Projects the credentials can see (for error messages): [{key, name}]."""
        if self.cloud:
            values = self.get(f"{self.api}/project/search", {"maxResults": limit}, expect=A.Page).values
        else:
            values = self.get(f"{self.api}/project", expect=A.Objects)
        return [{"key": p.get("key"), "name": p.get("name")} for p in values[:limit]]

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
