"""Serving one PAII server over streamable HTTP, for a team: tokens, exposure, Host headers.

What :func:`run_http` (``paii-<name> --transport streamable-http``) does before it listens:

* **Tokens, always.** Every request needs ``Authorization: Bearer <token>`` from the tokens file
  (``PAII_AUTH_TOKENS_FILE``, else ``<config dir>/tokens`` when it exists; format in
  :mod:`paii_common.auth`), checked by the MCP SDK's bearer middleware (``AuthSettings`` plus a
  ``TokenVerifier``) on every request. Without a tokens file the server does not start; on a
  loopback address ``--no-auth`` serves without tokens, for trying it on one's own machine (a
  reverse proxy on the same host would make even that public: never combine them).
* **Exposure.** A non-loopback address without tokens is refused, whatever the flags. Plain HTTP
  beyond loopback starts with a warning: TLS belongs to a reverse proxy (docs/team.md has a
  tested nginx configuration), and the server then listens on 127.0.0.1.
* **Host headers.** The SDK's DNS-rebinding protection stays on for every address (the SDK
  itself turns it off for anything but loopback). Accepted: the loopback names, the address the
  server is bound to, and ``PAII_ALLOWED_HOSTS`` (comma-separated ``name`` or ``name:port``).
  A refused Host gets the SDK's 421 with a message naming the setting instead of its bare
  "Invalid Host header" (and a refused browser Origin, 403, likewise). The token is checked
  first: a request without one gets 401 whatever its Host.
* **Read-only tokens** see only the tools that read, and a writer they call answers with an
  error (:func:`paii_common.auth.read_only_callers`).
* **The actor.** Over HTTP, a write records the token's name and nobody else's
  (:func:`paii_common.auth.set_local_actor` to None), and the server's log (stderr) has a line
  per writer call naming who asked for it (``paii.audit``).
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paii_common.auth import TokenFile, default_tokens_file

log = logging.getLogger("paii.transport")

MCP_PATH = "/mcp"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class TransportSettings(BaseSettings):
    """The HTTP transport's settings, the same for every server (no server prefix)."""

    model_config = SettingsConfigDict(env_prefix="PAII_", extra="ignore", env_file_encoding="utf-8")

    auth_tokens_file: Path | None = None
    allowed_hosts: str = ""

    @field_validator("auth_tokens_file", "allowed_hosts", mode="before")
    @classmethod
    def _unset(cls, value: Any, info: ValidationInfo) -> Any:
        """Empty, or a ``${...}`` Claude Code left unexpanded, is not set (as everywhere in PAII)."""
        from paii_common.config import is_set

        if isinstance(value, str) and not is_set(value):
            return None if info.field_name == "auth_tokens_file" else ""
        return value

    @classmethod
    def load(cls, **overrides: Any) -> TransportSettings:
        from paii_common.config import env_file

        kwargs: dict[str, Any] = dict(overrides)
        path = env_file()
        if path.is_file():
            kwargs["_env_file"] = path
        return cls(**kwargs)

    def tokens_path(self) -> Path:
        """The tokens file the server reads and ``paii auth`` edits."""
        return Path(self.auth_tokens_file).expanduser() if self.auth_tokens_file else default_tokens_file()

    def extra_hosts(self) -> list[str]:
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]


class StartRefused(Exception):
    """The server will not listen: the message says why and what to do (exit 2)."""


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # any other name may resolve anywhere


def _host_patterns(host: str) -> list[str]:
    """Host header values for one name: ``name`` alone accepts any port; ``name:port`` one port."""
    host = host.strip().lower()
    if host.startswith("[") or host.count(":") > 1:  # IPv6, bracketed as in a Host header
        bare = host if host.startswith("[") else f"[{host}]"
        if "]:" in bare:
            return [bare]
        return [bare, f"{bare}:*"]
    if ":" in host:
        return [host]
    return [host, f"{host}:*"]


def _wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


@dataclass
class HttpPlan:
    """What :func:`plan_http` decided: what to check, what to accept, what to warn about."""

    host: str
    port: int
    tokens: TokenFile | None
    allowed_hosts: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def allowed_origins(self) -> list[str]:
        return [f"{scheme}://{h}" for h in self.allowed_hosts for scheme in ("http", "https")]

    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{shown}:{self.port}{MCP_PATH}"


def plan_http(host: str, port: int, settings: TransportSettings | None = None, *, no_auth: bool = False) -> HttpPlan:
    """Decide how to serve, or raise :class:`StartRefused` with what to do."""
    settings = settings or TransportSettings.load()
    loopback = is_loopback(host)
    path = settings.tokens_path()
    explicit = settings.auth_tokens_file is not None
    where = f"{host}:{port}"
    warnings: list[str] = []
    tokens: TokenFile | None = None
    if no_auth:
        if not loopback:
            raise StartRefused(
                f"--no-auth is for a loopback address only, and {host} is not one: anyone who can reach {where} "
                f"could call every tool. Create a token with `paii auth add alice` (it prints alice's token once) "
                f"and start without --no-auth, or serve on --host 127.0.0.1."
            )
        warnings.append(f"serving {where} WITHOUT authentication (--no-auth): every process on this machine can "
                        "call every tool, writes included, and writes record no author. Never put a proxy in front of it.")
    elif not path.is_file():
        made = (f"PAII_AUTH_TOKENS_FILE={path} does not exist" if explicit
                else f"no tokens file ({path}, or set PAII_AUTH_TOKENS_FILE)")
        if not loopback:
            raise StartRefused(
                f"refusing to serve on {where} without authentication: {made}. Create a token for each person with "
                f"`paii auth add alice` (prints alice's token once; --read-only for someone who may only search), "
                f"then start again; clients send it as 'Authorization: Bearer <token>'."
            )
        raise StartRefused(
            f"{made}: the HTTP transport needs a token on every request. Create one with `paii auth add alice` "
            f"(prints the token once), or, to try it on this machine only, add --no-auth."
        )
    else:
        tokens = TokenFile(path)
        if not tokens.entries():
            warnings.append(f"the tokens file {path} has no valid token: every request is refused until "
                            "`paii auth add NAME` adds one")
    allowed = [p for h in LOOPBACK_HOSTS for p in _host_patterns(h)]
    if not loopback and not _wildcard(host):
        allowed += _host_patterns(host)
    for extra in settings.extra_hosts():
        if extra == "*" or "/" in extra:
            raise StartRefused(f"PAII_ALLOWED_HOSTS: {extra!r} is not a host name: list the names clients use, "
                               "e.g. PAII_ALLOWED_HOSTS=paii.example.com,10.0.0.5:8765 (the protection cannot be switched off)")
        allowed += [p for p in _host_patterns(extra) if p not in allowed]
    if not loopback:
        warnings.append(
            f"serving plain HTTP on {where}: tokens and answers cross the network unencrypted. Put a TLS reverse "
            "proxy in front (docs/team.md: nginx) and serve on --host 127.0.0.1 behind it."
        )
        if _wildcard(host) and not settings.extra_hosts():
            warnings.append(f"bound to {host} but PAII_ALLOWED_HOSTS is empty: only requests addressed to a loopback "
                            "name are answered (421 otherwise); list the names clients use in PAII_ALLOWED_HOSTS")
    return HttpPlan(host=host, port=port, tokens=tokens, allowed_hosts=allowed, warnings=warnings)


class ExplainRefusals:
    """An ASGI wrapper that replaces the SDK's bare "Invalid Host header" (421) and "Invalid
    Origin header" (403) bodies with what happened and what to do. It changes no decision."""

    BARE = {421: b"Invalid Host header", 403: b"Invalid Origin header"}

    def __init__(self, app: Any, plan: HttpPlan) -> None:
        self.app = app
        self.plan = plan

    def explain(self, status: int, headers: dict[str, str]) -> str:
        shown = ", ".join(self.plan.allowed_hosts)
        if status == 421:
            return (f"421 Misdirected Request: this PAII server does not answer to Host {headers.get('host', '')!r} "
                    f"(DNS-rebinding protection). It answers to: {shown}. Reached through a reverse proxy or by another "
                    "name? Add that name to PAII_ALLOWED_HOSTS on the server (comma-separated, e.g. "
                    "PAII_ALLOWED_HOSTS=paii.example.com) and restart it, or have the proxy send one of these hosts.\n")
        return (f"403 Forbidden: this PAII server refuses requests from a web page at Origin {headers.get('origin', '')!r} "
                f"(DNS-rebinding protection). Allowed origins are http(s):// followed by: {shown} "
                "(PAII_ALLOWED_HOSTS adds names).\n")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] = {}

        async def relay(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] in self.BARE:
                held["start"], held["body"] = message, b""
                return
            if "start" in held and message["type"] == "http.response.body":
                held["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                start, body = held.pop("start"), held.pop("body")
                if body.strip() == self.BARE[start["status"]]:
                    request = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
                    body = self.explain(start["status"], request).encode()
                    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
                    start = {**start, "headers": [*headers, (b"content-type", b"text/plain; charset=utf-8"),
                                                  (b"content-length", str(len(body)).encode())]}
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, relay)


def protect(server: Any, plan: HttpPlan, *, stateless: bool = False) -> Any:
    """The server's streamable HTTP app with ``plan``'s checks: the SDK's bearer auth with the
    tokens file, its Host/Origin protection with ``plan``'s hosts, read-only tokens kept to readers.
    ``stateless``: the SDK's stateless mode with JSON answers (no session kept between requests, so
    any worker process can answer any request; see :func:`run_http`)."""
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.transport_security import TransportSecuritySettings

    from paii_common.auth import FileTokenVerifier, read_only_callers, set_local_actor

    set_local_actor(None)  # over HTTP a call is the token's name, or no one (never the server's user)
    logging.getLogger("paii.audit").setLevel(logging.INFO)  # the log says who asked for each write
    if plan.tokens is not None:
        # MCPServer takes these in its constructor, which each server's build_server owns: set them
        # where MCPServer keeps them (mcp<3 is pinned); streamable_http_app reads them from there.
        # No resource_server_url: there is no OAuth authorization server to advertise.
        server.settings.auth = AuthSettings(issuer_url=plan.url().removesuffix(MCP_PATH), resource_server_url=None)
        server._token_verifier = FileTokenVerifier(plan.tokens)
        server.middleware.append(read_only_callers(server))
    security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=plan.allowed_hosts,
                                         allowed_origins=plan.allowed_origins)
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, transport_security=security, host=plan.host,
                                     stateless_http=stateless, json_response=stateless)
    return ExplainRefusals(app, plan)


#: How a worker process learns what to serve (set by :func:`run_http` for uvicorn's workers).
WORKER_ENV = "PAII_HTTP_WORKER"


def run_http(server: Any, *, name: str, host: str, port: int, no_auth: bool = False, workers: int = 1,
             settings_class: str | None = None) -> None:
    """Serve ``server`` on ``host:port`` (see the module's docstring); exit 2 when refused.

    ``workers`` > 1: that many processes answer on the one port (uvicorn's workers share its
    socket and restart one that dies), each building the server from ``paii_<name>.config.
    <settings_class>`` as this process did (:func:`worker_app`), with the same tokens, hosts and
    audit log. They keep no MCP session (the SDK's stateless mode, JSON answers): any worker
    answers any request of a client, and a tool cannot ask the person a question mid-call
    (elicitation) or report progress. What they share is on disk (a history's files and index
    are safe across processes)."""
    try:
        plan = plan_http(host, port, no_auth=no_auth)
    except StartRefused as exc:
        print(f"paii-{name}: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    for warning in plan.warnings:
        print(f"paii-{name}: warning: {warning}", file=sys.stderr)
    auth = (f"tokens from {plan.tokens.path} ({len(plan.tokens.entries())})" if plan.tokens else "no authentication")
    import uvicorn

    if workers > 1:
        import json
        import os

        os.environ[WORKER_ENV] = json.dumps({"name": name, "settings_class": settings_class, "host": host,
                                             "port": port, "no_auth": no_auth})
        print(f"paii-{name}: serving {plan.url()} ({auth}) with {workers} worker processes", file=sys.stderr, flush=True)
        uvicorn.run("paii_common.transport:worker_app", factory=True, workers=workers, host=host.strip("[]"),
                    port=port, log_level="warning", access_log=False)
        return
    app = protect(server, plan)
    print(f"paii-{name}: serving {plan.url()} ({auth})", file=sys.stderr, flush=True)
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning", access_log=False)


def worker_app() -> Any:
    """What one worker process of ``--workers N`` serves (uvicorn calls it in each): the server
    built from its settings as :func:`paii_common.serve.serve` builds it, behind :func:`protect`
    in stateless mode. Its log lines name the worker's process id."""
    import importlib
    import json
    import os

    from paii_common.redact import register_secret, setup_logging

    spec = json.loads(os.environ[WORKER_ENV])
    name = spec["name"]
    setup_logging()
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_paii", False) and handler.formatter is not None:
            fmt = f"%(asctime)s %(levelname)s %(name)s [worker {os.getpid()}]: %(message)s"
            handler.setFormatter(type(handler.formatter)(fmt))  # still the redacting formatter
    settings = getattr(importlib.import_module(f"paii_{name}.config"), spec["settings_class"]).load()
    register_secret(*settings.secret_values())
    server = importlib.import_module(f"paii_{name}.server").build_server(settings)
    plan = plan_http(spec["host"], spec["port"], no_auth=spec["no_auth"])
    return protect(server, plan, stateless=True)
