"""paii_common: settings, retry policy, redaction, tool registration, manifests, doctor."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.server import MCPServer
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from paii_common.config import PaiiSettings
from paii_common.errors import NotConfigured, RateLimited, UpstreamError, hint_for_status
from paii_common.http import RetryPolicy, parse_retry_after
from paii_common.httpx_retry import RetryTransport
from paii_common.manifest import config_status, parse_manifest
from paii_common.redact import RedactingFilter, redact, register_secret
from paii_common.tools import register_tools, tool


class DemoSettings(PaiiSettings):
    model_config = SettingsConfigDict(env_prefix="PAII_DEMO_", extra="ignore")
    token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("PAII_DEMO_TOKEN", "DEMO_API_KEY", "token"))
    url: str = "https://api.example.com"


# ------------------------------------------------------------------------------ settings
def test_settings_read_env_then_dotenv_then_defaults(monkeypatch, isolated_env, tmp_path):
    cfg = Path(__import__("os").environ["PAII_CONFIG_DIR"])
    (cfg / ".env").write_text("PAII_DEMO_TOKEN=from-dotenv\nPAII_DEMO_URL=http://dotenv\n")
    s = DemoSettings.load()
    assert s.token.get_secret_value() == "from-dotenv" and s.url == "http://dotenv"
    monkeypatch.setenv("DEMO_API_KEY", "from-env-alias")
    s = DemoSettings.load()
    assert s.token.get_secret_value() == "from-env-alias"
    assert "from-env-alias" not in repr(s) and "from-env-alias" not in str(s.model_dump())


def test_read_only_and_home_are_shared_unprefixed(monkeypatch, tmp_path):
    monkeypatch.setenv("PAII_READ_ONLY", "1")
    monkeypatch.setenv("PAII_HOME", str(tmp_path))
    s = DemoSettings.load()
    assert s.read_only is True and s.home == tmp_path


def test_unexpanded_placeholder_is_not_a_home(monkeypatch, tmp_path):
    monkeypatch.delenv("PAII_HOME")
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", "${CLAUDE_PLUGIN_DATA}")
    s = DemoSettings.load()
    assert "${" not in str(s.home)


# ------------------------------------------------------------------------------ retry policy
def _client(responses: list[httpx.Response], sleeps: list[float]) -> tuple[httpx.Client, list[str]]:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return responses.pop(0)

    transport = RetryTransport(httpx.MockTransport(handler), RetryPolicy(max_attempts=4, backoff_base=0.01), sleep=sleeps.append)
    return httpx.Client(transport=transport, base_url="http://svc"), calls


def test_429_is_retried_after_retry_after_then_succeeds():
    sleeps: list[float] = []
    client, calls = _client([httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json={"ok": True})], sleeps)
    r = client.post("/x")
    assert r.status_code == 200 and calls == ["POST", "POST"] and sleeps == [2.0]


def test_5xx_is_retried_for_get_but_never_for_post():
    sleeps: list[float] = []
    client, calls = _client([httpx.Response(503), httpx.Response(200)], sleeps)
    assert client.get("/x").status_code == 200 and len(calls) == 2
    client, calls = _client([httpx.Response(500), httpx.Response(200)], sleeps)
    assert client.post("/x").status_code == 500 and calls == ["POST"]


def test_retries_are_bounded_and_long_waits_are_reported_not_slept():
    sleeps: list[float] = []
    client, calls = _client([httpx.Response(503)] * 10, sleeps)
    r = client.get("/x")
    assert r.status_code == 503 and len(calls) == 4 and r.extensions["paii_attempts"] == 4
    client, calls = _client([httpx.Response(429, headers={"Retry-After": "3600"})], [])
    assert client.get("/x").status_code == 429 and len(calls) == 1


def test_parse_retry_after_seconds_and_http_date():
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# ------------------------------------------------------------------------------ errors and redaction
def test_errors_say_what_to_do_and_hide_secrets():
    register_secret("s3cr3t-token-value")
    e = UpstreamError("PagerDuty", "GET /incidents", "bad token s3cr3t-token-value", status=401, hint=hint_for_status(401))
    assert "s3cr3t-token-value" not in str(e) and "[redacted]" in str(e) and "paii doctor" in str(e)
    assert "retry after 30 s" in str(RateLimited("Slack", "chat.postMessage", attempts=3, retry_after=30))
    assert "PAII_SLACK_TOKEN or SLACK_BOT_TOKEN" in str(NotConfigured("Slack", "PAII_SLACK_TOKEN", "SLACK_BOT_TOKEN"))


@pytest.mark.parametrize(
    "text",
    ["xoxb-1234567890-abcdefghij", "Authorization: Bearer abcdefghijklmnop", "Token token=y_NbAkKc66ryYTWUXYEu", '"api_key": "sk-1234567890"'],
)
def test_known_token_shapes_are_redacted(text):
    assert redact(text) != text and "[redacted]" in redact(text)


def test_log_records_are_redacted(caplog):
    register_secret("another-secret-123")
    logger = logging.getLogger("paii.test")
    handler = logging.Handler()
    records: list[str] = []
    handler.emit = lambda r: records.append(r.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.warning("calling with %s", "another-secret-123")
    logger.removeHandler(handler)
    assert records == ["calling with [redacted]"]


# ------------------------------------------------------------------------------ tool registration
async def test_every_tool_is_marked_and_read_only_mode_drops_writers():
    @tool(read_only=True)
    def list_things() -> str:
        """List things."""
        return "x"

    @tool(read_only=False, destructive=True)
    def delete_thing(id: str) -> str:
        """Delete a thing."""
        return id

    for ro, expected in ((False, {"list_things", "delete_thing"}), (True, {"list_things"})):
        server = MCPServer("t")
        register_tools(server, [list_things, delete_thing], read_only_mode=ro)
        async with Client(server) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
        assert set(tools) == expected
    assert tools["list_things"].annotations.read_only_hint is True

    def unmarked() -> None:
        """x"""

    with pytest.raises(TypeError):
        register_tools(MCPServer("t"), [unmarked], read_only_mode=False)

    @tool(read_only=True, name="BadName")
    def bad() -> None:
        """x"""

    with pytest.raises(ValueError):
        register_tools(MCPServer("t"), [bad], read_only_mode=False)


# ------------------------------------------------------------------------------ manifests and doctor
def test_manifest_status_reports_missing_required_and_aliases():
    m = parse_manifest(
        'name = "demo"\nversion = "1"\n[provides]\nintegration = { contract = "IntegrationProvider", service = "demo" }\n'
        '[config]\ntoken = { type = "string", required = true, env = "PAII_DEMO_TOKEN", aliases = ["DEMO_API_KEY"], secret = true, without = "nothing works" }\n'
    )
    [st] = config_status(m, env={}, dotenv={})
    assert not st.ok and st.source is None
    [st] = config_status(m, env={"DEMO_API_KEY": "x"}, dotenv={})
    assert st.ok and st.var == "DEMO_API_KEY"
    [st] = config_status(m, env={"PAII_DEMO_TOKEN": "${user_config.token}"}, dotenv={"PAII_DEMO_TOKEN": "y"})
    assert st.source == ".env"


def test_doctor_json_names_missing_settings_and_never_prints_secrets(isolated_env):
    env = dict(__import__("os").environ)
    env["PAII_SLACK_TOKEN"] = "xoxb-999999999-secretvalue"
    out = subprocess.run([str(Path(sys.executable).with_name("paii")), "doctor", "--json", "--offline"], env=env, capture_output=True, text=True, timeout=120)
    assert "secretvalue" not in out.stdout + out.stderr
    report = json.loads(out.stdout)
    servers = {s["server"]: s for s in report["servers"]}
    assert "history" in servers
    if "pagerduty" in servers:
        token = next(c for c in servers["pagerduty"]["config"] if c["key"] == "token")
        assert token["set"] is False and token["required"] is True and token["without"]
        assert servers["pagerduty"]["status"] == "not set up" and servers["pagerduty"]["setup"]
        assert out.returncode == 0  # an optional integration that is not set up is not broken
    if "slack" in servers:
        token = next(c for c in servers["slack"]["config"] if c["key"] == "token")
        assert token["set"] is True and token["source"] == "environment"
