"""The Kubernetes API behind one class (also the API the runbook engine codes against).

:class:`KubernetesClient` wraps the official ``kubernetes`` client, imported lazily on the first
call, and only the parts a call needs (:mod:`paii_kubernetes.reads`: the reads skip the generated
API modules, seconds of imports), so the server answers ``initialize`` and ``tools/list`` without it.

* Configuration: the kubeconfig (``PAII_KUBERNETES_KUBECONFIG``, else ``KUBECONFIG``, else
  ``~/.kube/config``; any auth the library supports, exec plugins included) or, with none, the
  in-cluster service account. One API client per context, built on first use.
* Calls go through the generated typed methods with ``_preload_content=False``: the JSON comes back
  as plain dicts (no 10 KB model per pod, and a field the model classes do not know is no error).
* Retries follow :class:`~paii_common.http.RetryPolicy`: 429 for every call (``Retry-After``), 5xx and
  connection errors only for reads: a write (a DELETE too: a StatefulSet pod comes back under the
  same name) is never sent twice; its outcome is read back by the tool. urllib3's own retries are
  off. Every request has connect and read timeouts within ``read_timeout`` / ``write_timeout``.
* Every answer is checked against the shape the tools read (:mod:`paii_kubernetes.answers`): one
  that does not fit is "Kubernetes answered with something unexpected" (for a write: its outcome is
  unknown), never success.
* Errors become the ``paii_common.errors`` family with the next step (refresh credentials, RBAC,
  list the names first ...). Tokens from the kubeconfig are registered for redaction.
* :meth:`exec_in_pod` runs an argv list over the API's WebSocket stream (``kubernetes.stream``): no
  kubectl, no shell. :mod:`paii_kubernetes.execstream` reads the channels with a deadline and a cap.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from paii_common.answers import UnexpectedAnswer, UnexpectedWrite, expect
from paii_common.errors import (
    Conflict,
    InvalidInput,
    NotConfigured,
    NotFound,
    OutcomeUnknown,
    PaiiError,
    RateLimited,
    UpstreamError,
    hint_for_status,
)
from paii_common.http import DEFAULT_POLICY, RetryPolicy, parse_retry_after
from paii_common.redact import redact, register_secret

from paii_kubernetes.answers import shape_of
from paii_kubernetes.config import KubernetesSettings
from paii_kubernetes.models import ExecResult
from paii_kubernetes.policy import check_argv, refuse_secret_access, validate_name, validate_selector
from paii_kubernetes.reads import Api, load_library

log = logging.getLogger("paii.kubernetes")

SERVICE = "Kubernetes"
_HANDSHAKE = re.compile(r"Handshake status (\d{3})")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_PEM = re.compile(r"-----BEGIN ([A-Z ]*)-----.*?(-----END \1-----|$)", re.S)


def mask_secrets(text: str) -> str:
    """Mask tokens and keys that output may contain: registered secrets, bearer/JWT tokens, PEM blocks."""
    if not text:
        return text
    text = _PEM.sub(lambda m: f"[redacted {m.group(1).strip().lower() or 'pem'} block]", text)
    return redact(_JWT.sub("[redacted token]", text))


@dataclass(frozen=True)
class Cluster:
    """One context's API client and what the tools report about it."""

    context: str
    namespace: str
    host: str
    api: Any  # kubernetes.client.ApiClient


class KubernetesClient:
    """Kubernetes API calls for the tools and the runbook engine. The constructor does no I/O."""

    def __init__(
        self,
        settings: KubernetesSettings,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self._sleep = sleep
        self._clusters: dict[str, Cluster] = {}
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Import what the first read needs ahead of it (paii_kubernetes.reads); no network."""
        try:
            load_library()
            import kubernetes.client.api_client  # noqa: F401
            import kubernetes.config  # noqa: F401
        except Exception:  # noqa: BLE001 - the first real call reports the problem
            log.debug("kubernetes warm-up failed", exc_info=True)

    # ------------------------------------------------------------------ configuration
    def cluster(self, context: str | None = None) -> Cluster:
        """The API client for ``context`` (default: PAII_KUBERNETES_CONTEXT, else the current one)."""
        wanted = context or self.settings.context or ""
        with self._lock:
            found = self._clusters.get(wanted)
            if found is None:
                found = self._load(wanted or None)
                self._clusters[wanted] = found
            return found

    def _load(self, context: str | None) -> Cluster:
        load_library()
        from kubernetes import client as k8s
        from kubernetes import config as kconfig
        from kubernetes.config.config_exception import ConfigException

        cfg = k8s.Configuration()
        path = self.settings.kubeconfig_path()
        try:
            if path:
                contexts, active = kconfig.list_kube_config_contexts(config_file=path)
                names = [c["name"] for c in contexts or []]
                if context and context not in names:
                    raise InvalidInput(f"no context {context!r} in the kubeconfig: use one of {', '.join(names) or 'none'}.")
                chosen = next((c for c in contexts if c["name"] == context), None) if context else active
                if not chosen:
                    raise NotConfigured("Kubernetes", "a current-context in the kubeconfig", "PAII_KUBERNETES_CONTEXT")
                kconfig.load_kube_config(config_file=path, context=chosen["name"], client_configuration=cfg,
                                         persist_config=False)
                name = chosen["name"]
                namespace = (chosen.get("context") or {}).get("namespace") or "default"
            elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                if context:
                    raise InvalidInput("running in-cluster there is no kubeconfig, so no context: leave context empty.")
                kconfig.load_incluster_config(client_configuration=cfg)
                name, namespace = "in-cluster", _incluster_namespace()
            else:
                raise NotConfigured("Kubernetes", "PAII_KUBERNETES_KUBECONFIG", "KUBECONFIG",
                                    doc="(a kubeconfig file; default ~/.kube/config) or run the server in a cluster.")
        except ConfigException as exc:
            raise NotConfigured("Kubernetes", "PAII_KUBERNETES_KUBECONFIG",
                                doc=f"The kubeconfig could not be used: {redact(str(exc))[:300]}.") from None
        except OSError as exc:
            raise NotConfigured("Kubernetes", "PAII_KUBERNETES_KUBECONFIG",
                                doc=f"The kubeconfig could not be read: {exc.strerror or exc}.") from None
        cfg.retries = False  # the RetryPolicy below decides; urllib3 must not resend a write
        self._register(cfg)
        api = k8s.ApiClient(cfg)
        api.paii_context = name  # named in error messages
        return Cluster(context=name, namespace=namespace, host=cfg.host, api=api)

    @staticmethod
    def _register(cfg: Any) -> None:
        for value in (cfg.api_key or {}).values():
            register_secret(value, value.split(" ", 1)[-1] if isinstance(value, str) else None)
        register_secret(getattr(cfg, "password", None))

    def core(self, context: str | None = None) -> Any:
        """CoreV1Api's methods (its reads without importing it: paii_kubernetes.reads)."""
        return Api(self.cluster(context).api, "core")

    def apps(self, context: str | None = None) -> Any:
        """AppsV1Api's methods (its reads without importing it: paii_kubernetes.reads)."""
        return Api(self.cluster(context).api, "apps")

    def namespace(self, namespace: str | None, context: str | None = None) -> str:
        """A validated namespace: the one given, else the context's."""
        return validate_name(namespace or self.cluster(context).namespace, "namespace")

    # ------------------------------------------------------------------ calls
    def call(self, what: str, fn: Callable[..., Any], *args: Any, write: bool = False, raw: bool = False,
             check: str | None = None, **kwargs: Any) -> Any:
        """Call a generated API method; return the parsed JSON (or text when ``raw``).

        ``what`` names the call in errors ("list pods in payments"); ``check`` is the read that
        shows the truth when a write's outcome is unknown.
        """
        load_library()
        from kubernetes.client.exceptions import ApiException

        where = _where(fn)
        method = getattr(fn, "__name__", "")
        shape = None if raw else shape_of(method)
        # a little under the tool call's deadline (PAII_READ_TIMEOUT / PAII_WRITE_TIMEOUT), so that a slow
        # API server is reported as such, with its address, rather than as a bare deadline
        budget = 0.85 * (self.settings.write_timeout if write else self.settings.read_timeout)
        deadline = time.monotonic() + budget
        idempotent = not write  # a write is never re-sent (see the module doc)
        attempt = 0
        while True:
            attempt += 1
            left = max(0.5, deadline - time.monotonic())
            try:
                resp = fn(*args, _preload_content=False, _request_timeout=(min(5.0, left), left), **kwargs)
                body = resp.data
                self._register(fn.__self__.api_client.configuration)
                text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
                if raw:
                    return text
                return self._answer(text, shape, what, write=write, check=check)
            except ApiException as exc:
                status = exc.status or None
                retry_after = parse_retry_after((exc.headers or {}).get("Retry-After")) if exc.headers else None
                if status == 429 or (idempotent and status in self.policy.retry_statuses):
                    wait = self.policy.delay(attempt, retry_after)
                    if self.policy.should_retry("GET" if idempotent else "POST", status, attempt) and wait is not None \
                            and time.monotonic() + wait < deadline:
                        self._sleep(wait)
                        continue
                raise self.translate(exc, what, where, write=write, check=check, attempts=attempt,
                                     retry_after=retry_after) from None
            except Exception as exc:  # urllib3 timeouts and refused connections, ssl errors
                if isinstance(exc, PaiiError) or not _is_transport_error(exc):
                    raise
                if idempotent and self.policy.should_retry("GET", None, attempt) and time.monotonic() + 1 < deadline:
                    self._sleep(self.policy.delay(attempt) or 0)
                    continue
                raise self.unreachable(exc, what, where, write=write, check=check) from None

    @staticmethod
    def _answer(text: str, shape: Any, what: str, *, write: bool, check: str | None) -> Any:
        """The JSON of an answer, checked against ``shape``."""
        check = check or "read the object again before retrying."
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            if write:
                raise UnexpectedWrite(SERVICE, what, "not JSON", check=check) from None
            raise UnexpectedAnswer(SERVICE, what, "not JSON") from None
        if shape is None:
            return data if data is not None else {}
        expect(shape, data, service=SERVICE, call=what, write=write, check=check)
        return data

    def unreachable(self, exc: Exception, what: str, where: tuple[str, str], *, write: bool = False,
                    check: str | None = None) -> UpstreamError:
        detail = f"could not reach the API server {where[1]} (context {where[0]}): {type(exc).__name__}: {redact(str(exc))[:200]}"
        if write and not _never_sent(exc):
            return OutcomeUnknown(SERVICE, what, detail, check=check or "read the object again before retrying.")
        if write:
            return UpstreamError(SERVICE, what, detail, hint="Check the network or VPN and that the cluster is up "
                                 "(`paii doctor`), then retry; the request was not sent, so nothing changed.")
        return UpstreamError(SERVICE, what, detail, hint="Check the network or VPN and that the cluster is up "
                             "(`paii doctor`), then retry; this read changed nothing.")

    def translate(self, exc: Any, what: str, where: tuple[str, str], *, write: bool = False, check: str | None = None, attempts: int = 1,
                  retry_after: float | None = None) -> PaiiError:
        """An ApiException as a PAII error that says what to do next."""
        status = exc.status or None
        body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else (exc.body or "")
        if not status:  # the WebSocket client reports a refused upgrade as status 0 with the HTTP status inside
            m = _HANDSHAKE.search(str(exc.reason or ""))
            if not m:
                return self.unreachable(Exception(str(exc.reason or "connection failed")), what, where, write=write,
                                        check=check)
            status = int(m.group(1))
            body = str(exc.reason).rsplit("-+-+-", 1)[-1].strip().removeprefix("b'").removesuffix("'")
        message = _status_message(body) or (exc.reason or "")
        message = redact(str(message))[:300]
        context = where[0]
        if status == 401:
            return UpstreamError(SERVICE, what, f"the API server rejected the credentials ({message})", status=401,
                                 hint=f"Refresh the credentials of context {context} (log in again, or renew the token "
                                 "in the kubeconfig); check PAII_KUBERNETES_KUBECONFIG with `paii doctor`.")
        if status == 403:
            return UpstreamError(SERVICE, what, f"forbidden: {message}", status=403,
                                 hint=f"The user of context {context} lacks RBAC permission for this: ask a cluster admin "
                                 "(`kubectl auth can-i` shows what you may do), or use another context.")
        if status == 404:
            return NotFound(f"{what}: not found ({message}).", hint="List first (list_pods, list_events) to get valid "
                            "names, and check the namespace and context.")
        if status == 409:
            return Conflict(f"{what}: conflict ({message}).", hint="The object changed meanwhile: read it again and retry.")
        if status in (400, 422):
            return InvalidInput(f"{what}: the API server refused the request ({message}).",
                                hint="Check the arguments against the tool description.")
        if status == 429:
            return RateLimited(SERVICE, what, attempts=attempts, retry_after=retry_after)
        if write and status and status >= 500:
            return OutcomeUnknown(SERVICE, what, f"the API server failed ({message})", status=status,
                                  check=check or "read the object again before retrying.")
        return UpstreamError(SERVICE, what, message or "request failed", status=status,
                             hint=hint_for_status(status, write=write))

    # ------------------------------------------------------------------ the runbook engine's API
    def exec_in_pod(self, namespace: str, pod: str, argv: list[str], *, container: str | None = None,
                    context: str | None = None, timeout: float = 30.0, max_bytes: int | None = None,
                    write: bool = False) -> ExecResult:
        """Run ``argv`` (a list, never a shell string) in a container through the exec WebSocket.

        Output is capped at ``max_bytes`` per stream (default PAII_KUBERNETES_OUTPUT_MAX_BYTES) and
        masked for tokens; after ``timeout`` seconds the stream is closed and ``timed_out`` is set.
        Commands that would read Secret values (env dumps, /var/run/secrets) are refused; beyond
        that, callers decide what may run (the allowlist, approvals). ``write``: the command may change
        something, so a failure after the request was sent is an unknown outcome, not "nothing changed".
        """
        from paii_kubernetes.execstream import run_exec

        validate_name(namespace, "namespace")
        validate_name(pod, "pod")
        if container:
            validate_name(container, "container")
        args = check_argv(argv)
        refuse_secret_access(args)
        return run_exec(self, namespace, pod, args, container=container, context=context,
                        timeout=max(0.1, float(timeout)), max_bytes=max_bytes or self.settings.output_max_bytes,
                        write=write)

    def find_pods(self, namespace: str, selector: str, *, context: str | None = None) -> list[str]:
        """Names of the running pods matching ``selector``, ready ones first."""
        validate_name(namespace, "namespace")
        sel = validate_selector(selector)
        data = self.call(f"list pods in {namespace}", self.core(context).list_namespaced_pod, namespace,
                         label_selector=sel, limit=500)
        pods = [p for p in data.get("items") or [] if (p.get("status") or {}).get("phase") == "Running"
                and not (p.get("metadata") or {}).get("deletionTimestamp")]
        pods.sort(key=lambda p: (not pod_is_ready(p), p["metadata"]["name"]))
        return [p["metadata"]["name"] for p in pods]


def pod_is_ready(pod: dict[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def _status_message(body: str) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return body.strip()[:300] or None
    return data.get("message") if isinstance(data, dict) else None


def _where(fn: Any) -> tuple[str, str]:
    """(context, API server URL) of a bound generated method, for error messages."""
    api = getattr(getattr(fn, "__self__", None), "api_client", None)
    host = getattr(getattr(api, "configuration", None), "host", None) or "?"
    return str(getattr(api, "paii_context", "the current context")), host


def _never_sent(exc: BaseException) -> bool:
    """True when the connection was never made (refused, no route, no name), so a write cannot have happened."""
    import urllib3

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError,
                            ConnectionRefusedError, urllib3.exceptions.NameResolutionError)):
            return True
        exc = getattr(exc, "reason", None) or exc.__cause__ or exc.__context__
    return False


def _is_transport_error(exc: Exception) -> bool:
    import urllib3

    return isinstance(exc, (OSError, urllib3.exceptions.HTTPError, TimeoutError))


def _incluster_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding="utf-8") as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"
