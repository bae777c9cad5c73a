"""``paii doctor``'s live checks: one cheap read per configured integration, under a short deadline.

Every check runs in its own thread, all at once, so the step takes about one deadline
(``--timeout``, 5 s by default) however many integrations there are. A check has two phases:

* **prepare** (local): import the vendor library and build the server's own client with a single
  attempt per request (no retries). Not counted in the deadline: the kubernetes library alone
  takes seconds to import on a busy machine. Bounded by :data:`PREPARE_LIMIT`.
* **call** (network, under the deadline): a TCP connection to the service's address (skipped when a
  proxy is configured for it), then one read through the client: PagerDuty ``GET /users/me``,
  Slack ``auth.test``, Jira ``GET /myself``, Kubernetes "list one pod" in the context's namespace,
  and ``probe()`` on the client of any other server (``paii plugin new`` generates one).

A thread still running when its time is up is left behind (a daemon thread) and reported as
"no answer": doctor returns on time whatever a library does.

What a failure is called (``problem`` in ``--json``), each with what to do in ``detail``:
``token refused`` (HTTP 401/403, Slack ``invalid_auth`` ...), ``unreachable`` (the host is not in
DNS, the connection was refused, no route), ``no answer`` (nothing within the deadline),
``kubeconfig`` (missing or unusable), ``context unknown``, ``setting missing``, ``error``
(anything else the service answered, e.g. a 404 from a URL that is not the API).
"""

from __future__ import annotations

import importlib
import inspect
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from paii_common.http import RetryPolicy, deadline

DEFAULT_TIMEOUT = 5.0
#: longest the local part of a check (imports, building the client) may take
PREPARE_LIMIT = 60.0
#: a client gets the whole deadline; doctor waits this much longer before it stops waiting
GRACE = 1.0
ONE_ATTEMPT = RetryPolicy(max_attempts=1)
#: Slack error codes that mean the token itself was refused
SLACK_AUTH_CODES = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                              "no_permission", "missing_scope"})


@dataclass
class Probe:
    """A prepared check: ``target()`` says where it will connect (url, the variable that sets it)
    and may raise (a kubeconfig that cannot be used); ``read()`` makes the one call and returns
    what it learned ("token accepted: user Alice")."""

    target: Callable[[], tuple[str | None, str]]
    read: Callable[[], str]
    #: the credential's variable and source, for "token refused" ("PAII_PAGERDUTY_TOKEN (environment)")
    credential: str = "the token"


class NotProbed(Exception):
    """The server has nothing to check live (its client has no ``probe``, or it is not written yet)."""


@dataclass
class _State:
    prepared: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    prepared_at: float = 0.0
    result: dict[str, Any] | None = None


def result(ok: bool | None, detail: str, problem: str | None = None, seconds: float | None = None, *,
           warning: bool = False) -> dict[str, Any]:
    """One live check as doctor reports it; ``ok=None``: not checked (``skipped``)."""
    out: dict[str, Any] = {"check": "live", "ok": ok is not False, "detail": detail}
    if ok is None:
        out["skipped"] = True
    if warning:
        out["warning"] = True
    if problem:
        out["problem"] = problem
    if seconds is not None:
        out["seconds"] = round(seconds, 2)
    return out


# ------------------------------------------------------------------------------- running them
def run_live(makers: dict[str, Callable[[], Probe]], timeout: float = DEFAULT_TIMEOUT) -> dict[str, dict[str, Any]]:
    """name -> the live check's result, every check at once; returns within PREPARE_LIMIT + timeout + GRACE."""
    started = time.monotonic()
    running = []
    for name, make in makers.items():
        state = _State()
        thread = threading.Thread(target=_run_one, args=(make, timeout, state), name=f"paii-doctor-{name}", daemon=True)
        thread.start()
        running.append((name, state))
    out = {}
    for name, state in running:
        if not state.prepared.wait(max(0.0, started + PREPARE_LIMIT - time.monotonic())):
            out[name] = result(False, f"not ready within {PREPARE_LIMIT:.0f} s (loading its library or building its "
                               "client): run `paii doctor` again; if it persists, check the server's own start", "no answer")
            continue
        state.done.wait(max(0.0, state.prepared_at + timeout + GRACE - time.monotonic()))
        out[name] = state.result or result(False, f"no answer within {_secs(timeout)}: the service accepted the "
                                           "connection but did not reply. Retry later (`paii doctor --timeout 15` waits "
                                           "longer), and check the service's status page", "no answer", timeout)
    return out


def _run_one(make: Callable[[], Probe], timeout: float, state: _State) -> None:
    try:
        probe = make()
    except NotProbed as exc:
        state.result = result(None, str(exc))
    except Exception as exc:  # noqa: BLE001 - reported, never raised: doctor must not crash on what it diagnoses
        state.result = classify(exc, 0.0, timeout, "the token")
    finally:
        state.prepared_at = time.monotonic()
        state.prepared.set()
    if state.result is not None:
        state.done.set()
        return
    began = time.monotonic()
    try:
        with deadline(timeout):
            url, setting = probe.target()
            if url:
                _connect(url, setting, timeout)
            detail = probe.read()
        state.result = result(True, detail, seconds=time.monotonic() - began)
    except _Failed as exc:
        state.result = result(False, exc.detail, exc.problem, time.monotonic() - began)
    except NotProbed as exc:
        state.result = result(None, str(exc))
    except Exception as exc:  # noqa: BLE001
        state.result = classify(exc, time.monotonic() - began, timeout, probe.credential)
    finally:
        state.done.set()


class _Failed(Exception):
    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(detail)
        self.problem, self.detail = problem, detail


def _secs(seconds: float) -> str:
    return f"{seconds:g} s"


def shown_url(url: str) -> str:
    """A URL without any user:password part (never printed)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def _connect(url: str, setting: str, timeout: float) -> None:
    """A TCP connection to the URL's host and port, so that DNS, a refused connection and a silent
    firewall are told apart before any HTTP library wraps them. Skipped behind a proxy."""
    import urllib.request

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxies = urllib.request.getproxies()
    if proxies.get(parts.scheme) and not urllib.request.proxy_bypass(host):
        return  # the client goes through the proxy: only its own call tells
    where = f"{setting}={shown_url(url)}"
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _Failed("unreachable", f"URL unreachable: {host} is not known to DNS ({exc.strerror}). Check {where} "
                      "(a typo, or a name only your VPN resolves)") from None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except TimeoutError:
        raise _Failed("no answer", f"no answer within {_secs(timeout)}: {host}:{port} did not accept a connection (a "
                      f"firewall or VPN dropping it, or the wrong port). Check {where} and your network") from None
    except ConnectionRefusedError:
        raise _Failed("unreachable", f"URL unreachable: nothing accepts connections at {host}:{port} (connection "
                      f"refused). Check {where}, and that the service (or VPN, or `paii sandbox`) is up") from None
    except OSError as exc:
        raise _Failed("unreachable", f"URL unreachable: {host}:{port}: {exc.strerror or exc}. Check {where} and "
                      "your network") from None


def classify(exc: BaseException, elapsed: float, timeout: float, credential: str) -> dict[str, Any]:
    """A failed call as a live-check result: what went wrong and what to do."""
    from paii_common.errors import DeadlineExceeded, InvalidInput, NotConfigured, RateLimited, UpstreamError
    from paii_common.redact import redact

    text = redact(str(exc)).strip()
    hint = getattr(exc, "hint", None)
    if hint and not isinstance(exc, NotConfigured) and text.endswith(redact(hint)):  # doctor says what to do itself
        text = text[: -len(redact(hint))].strip()
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    if isinstance(exc, NotConfigured):
        problem = "kubeconfig" if "kubeconfig" in text.lower() else "setting missing"
        return result(False, text, problem, elapsed)
    if isinstance(exc, InvalidInput) and "context" in text:
        return result(False, f"context unknown: {text}", "context unknown", elapsed)
    if isinstance(exc, RateLimited):
        return result(True, f"answered, but rate limited, so the token was not checked: {text}", seconds=elapsed,
                      warning=True)
    if status in (401, 403) or code in SLACK_AUTH_CODES:
        what = f"HTTP {status}" if status else code
        return result(False, f"token refused ({what}): {credential} not accepted. Create a new token "
                      "(see 'How to set it up') and set it again. Detail: " + text, "token refused", elapsed)
    if isinstance(exc, DeadlineExceeded) or (isinstance(exc, UpstreamError) and not status and elapsed >= 0.8 * timeout):
        return result(False, f"no answer within {_secs(timeout)}: the service accepted the connection but did not "
                      "reply. Retry later (`paii doctor --timeout 15` waits longer). Detail: " + text, "no answer", elapsed)
    if isinstance(exc, UpstreamError):
        return result(False, text, "error", elapsed)
    return result(False, f"{type(exc).__name__}: {text[:300]}", "error", elapsed)


# ------------------------------------------------------------------------------- the checks
def _pagerduty(settings: Any, timeout: float, credential: str) -> Probe:
    from paii_pagerduty.client import PagerDutyClient
    from paii_pagerduty.session import pdpyras_module
    from paii_common.errors import UpstreamError

    pdpyras_module()
    pd = PagerDutyClient(settings.token_value, from_email=settings.from_email, url=settings.url, policy=ONE_ATTEMPT,
                         read_timeout=timeout, write_timeout=timeout)

    def read() -> str:
        try:
            me = pd.get("/users/me", call="GET /users/me")
        except UpstreamError as exc:
            if exc.status == 400:  # an account-level token has no "me", and PagerDuty accepted it
                return "token accepted (an account-level token)"
            raise
        return f"token accepted: user {me.get('name') or me.get('email') or me.get('id')}"

    return Probe(lambda: (settings.url, "PAII_PAGERDUTY_URL"), read, credential)


def _slack(settings: Any, timeout: float, credential: str) -> Probe:
    from paii_slack.client import SlackClient
    from paii_slack.sdk import web_client_class

    web_client_class()
    slack = SlackClient(settings.model_copy(update={"read_timeout": timeout}), policy=ONE_ATTEMPT)

    def read() -> str:
        bot = slack.auth("bot")
        said = f"bot token accepted: {bot.get('user') or bot.get('user_id')} in {bot.get('team') or 'the workspace'}"
        if slack.has_user_token:
            user = slack.auth("user")
            said += f"; user token accepted: {user.get('user') or user.get('user_id')}"
        return said

    return Probe(lambda: (settings.url, "PAII_SLACK_URL"), read, credential)


def _jira(settings: Any, timeout: float, credential: str) -> Probe:
    from paii_jira.client import JiraClient

    importlib.import_module("atlassian")
    jira = JiraClient(settings.model_copy(update={"read_timeout": timeout}), policy=ONE_ATTEMPT)

    def read() -> str:
        with jira.reading():
            me = jira.get(f"{jira.api}/myself", call="GET /myself") or {}
        return f"credentials accepted: {me.get('displayName') or me.get('emailAddress') or me.get('name') or 'signed in'}"

    return Probe(lambda: (settings.url, "PAII_JIRA_URL"), read, credential)


def _kubernetes(settings: Any, timeout: float, credential: str) -> Probe:
    from paii_kubernetes.client import KubernetesClient

    k8s = KubernetesClient(settings.model_copy(update={"read_timeout": timeout / 0.85}), policy=ONE_ATTEMPT)
    k8s.warm()
    import kubernetes.config  # noqa: F401 - warm() swallows an import error; this one reports it

    where = "the kubeconfig's server"

    def target() -> tuple[str | None, str]:
        cluster = k8s.cluster()  # reads the kubeconfig (and runs its credential plugin, if any)
        return cluster.host, f"{where} (context {cluster.context})"

    def read() -> str:
        cluster = k8s.cluster()
        k8s.call(f"list pods in {cluster.namespace}", k8s.core().list_namespaced_pod, cluster.namespace, limit=1)
        return f"the API server answered: context {cluster.context}, pods in {cluster.namespace} readable"

    return Probe(target, read, "the kubeconfig user's credentials")


def _generic(name: str, settings: Any, timeout: float, credential: str) -> Probe:
    """A server of one's own: its client class (built from the settings) with a ``probe()`` method."""
    try:
        module = importlib.import_module(f"paii_{name}.client")
    except ModuleNotFoundError as exc:
        if exc.name != f"paii_{name}.client":
            raise
        raise NotProbed(f"not checked: paii_{name} has no client module with a probe() (one cheap read doctor can call)") from None
    found = [c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == module.__name__
             and callable(getattr(c, "probe", None))]
    if not found:
        raise NotProbed(f"not checked: paii_{name}.client has no probe() (one cheap read doctor can call)")
    client = found[0](settings.model_copy(update={"read_timeout": timeout}))

    def read() -> str:
        try:
            return str(client.probe() or "answered")
        except Exception as exc:
            if type(exc).__name__ == "NotImplementedYet":
                raise NotProbed(f"not checked yet: write probe() in paii_{name}/client.py (one cheap read)") from None
            raise

    url = getattr(settings, "url", None)
    return Probe(lambda: (url if isinstance(url, str) and url.startswith("http") else None, f"PAII_{name.upper()}_URL"),
                 read, credential)


CHECKS: dict[str, Callable[[Any, float, str], Probe]] = {
    "pagerduty": _pagerduty, "slack": _slack, "jira": _jira, "kubernetes": _kubernetes,
}
#: servers with nothing remote to check
LOCAL_ONLY = frozenset({"history", "runbook"})


def maker(name: str, settings: Any, timeout: float, credential: str) -> Callable[[], Probe] | None:
    """The check of server ``name`` (None when it has nothing remote to check)."""
    if name in LOCAL_ONLY:
        return None
    if name in CHECKS:
        return lambda: CHECKS[name](settings, timeout, credential)
    return lambda: _generic(name, settings, timeout, credential)
