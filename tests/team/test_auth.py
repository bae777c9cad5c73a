"""The HTTP transport's auth boundary, over the real streamable HTTP transport on 127.0.0.1."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys

import httpx2
import pytest
import yaml
from mcp.shared.exceptions import MCPError

from paii_common import auth
from paii_common.manifest import server_names
from paii_common.transport import StartRefused, TransportSettings, is_loopback, plan_http
from paii_history.config import HistorySettings
from paii_history.server import build_server

from .conftest import HEADERS, INIT, connect, serving


@pytest.fixture
def history(isolated_env):
    return build_server(HistorySettings.load(home=isolated_env, warmup=False, embeddings="off"))


@pytest.fixture
def alice(tokens_file) -> str:
    return auth.add_token(tokens_file, "alice")


def _frontmatter(path) -> dict:
    return yaml.safe_load(path.read_text().split("---")[1])


# ------------------------------------------------------------------------------ 401
@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic YWxpY2U6c2VjcmV0", "Bearer"])
async def test_a_missing_or_wrong_token_gets_401_with_www_authenticate_and_nothing_else(history, tokens_file, alice, header):
    with serving(history, tokens_file) as url:
        async with httpx2.AsyncClient() as http:
            r = await http.post(url, json=INIT, headers={**HEADERS, **({"Authorization": header} if header else {})})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert "mcp-session-id" not in r.headers and "capture" not in r.text and "paii" not in r.text.lower()


async def test_a_good_token_opens_a_session_and_calls_tools(history, tokens_file, alice):
    with serving(history, tokens_file) as url:
        async with connect(url, alice) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            r = await c.call_tool("recent", {})
    assert {"capture", "record_incident", "search", "similar_incidents"} <= names
    assert not r.is_error


async def test_a_hashed_token_is_accepted_and_the_file_does_not_hold_it(history, tokens_file):
    token = auth.add_token(tokens_file, "bob", hashed=True)
    assert token not in tokens_file.read_text()
    with serving(history, tokens_file) as url:
        async with connect(url, token) as c:
            assert not (await c.call_tool("recent", {})).is_error


async def test_a_token_removed_from_the_file_while_the_server_runs_is_refused_from_the_next_request(history, tokens_file, alice):
    with serving(history, tokens_file) as url:
        async with connect(url, alice) as c:
            assert not (await c.call_tool("recent", {})).is_error
            assert auth.remove_token(tokens_file, "alice") == 1
            with pytest.raises(MCPError):  # the open session too: every request is checked
                await c.call_tool("recent", {})
        async with httpx2.AsyncClient() as http:
            r = await http.post(url, json=INIT, headers={**HEADERS, "Authorization": f"Bearer {alice}"})
        assert r.status_code == 401
        newcomer = auth.add_token(tokens_file, "carol")  # added while it runs: accepted without a restart
        async with connect(url, newcomer) as c:
            assert not (await c.call_tool("recent", {})).is_error


async def test_a_token_swapped_in_place_keeping_size_and_mtime_is_refused_from_the_next_request(history, tokens_file, alice):
    # issue 24 item 6: a cache keyed on (inode, mtime_ns, size) kept accepting the removed token
    with serving(history, tokens_file) as url:
        async with connect(url, alice) as c:
            assert not (await c.call_tool("recent", {})).is_error
        swapped = "S" * len(alice)
        before = os.stat(tokens_file)
        with open(tokens_file, "r+") as fh:
            text = fh.read()
            fh.seek(0)
            fh.write(text.replace(alice, swapped))
        os.utime(tokens_file, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert os.stat(tokens_file).st_size == before.st_size
        async with httpx2.AsyncClient() as http:
            r = await http.post(url, json=INIT, headers={**HEADERS, "Authorization": f"Bearer {alice}"})
        assert r.status_code == 401
        async with connect(url, swapped) as c:
            assert not (await c.call_tool("recent", {})).is_error


async def test_a_session_opened_with_one_token_cannot_be_used_with_another(history, tokens_file, alice):
    bob = auth.add_token(tokens_file, "bob")
    with serving(history, tokens_file) as url:
        async with httpx2.AsyncClient() as http:
            opened = await http.post(url, json=INIT, headers={**HEADERS, "Authorization": f"Bearer {alice}"})
            session = opened.headers["mcp-session-id"]
            listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
            as_bob = await http.post(url, json=listing, headers={**HEADERS, "Authorization": f"Bearer {bob}",
                                                                 "mcp-session-id": session, "mcp-protocol-version": "2025-06-18"})
    assert opened.status_code == 200
    assert as_bob.status_code == 404 and "capture" not in as_bob.text, "the SDK binds a session to its token's name"


# ------------------------------------------------------------------------------ read-only tokens and the actor
async def test_a_read_only_token_sees_only_readers_and_a_writer_call_says_why(history, tokens_file, isolated_env):
    viewer = auth.add_token(tokens_file, "stakeholder", read_only=True)
    readers = {t.name for t in (await history.list_tools()) if t.annotations and t.annotations.read_only_hint}
    with serving(history, tokens_file) as url:
        async with connect(url, viewer) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            refused = await c.call_tool("capture", {"category": "notes", "title": "t", "content": "x"})
            found = await c.call_tool("search", {"text": "anything"})
    assert {"search", "similar_incidents", "recent", "get"} <= readers and "capture" not in readers
    assert names == readers
    assert refused.is_error
    text = refused.content[0].text
    assert "read-only" in text and "stakeholder" in text and "paii auth add" in text
    assert not found.is_error
    assert not list((isolated_env / "history").rglob("*.md")), "nothing was written"


async def test_every_write_records_the_token_name_and_no_caller_can_claim_another(history, tokens_file, alice):
    carol = auth.add_token(tokens_file, "carol")
    with serving(history, tokens_file) as url:
        async with connect(url, alice) as c:
            r = await c.call_tool("capture", {"category": "learnings", "title": "pool sizing", "content": "size pools",
                                              "metadata": {"author": "mallory", "updated_by": "mallory", "tags": ["db"]}})
            await c.call_tool("record_incident", {"id": "INC-9", "title": "payments down", "status": "investigating"})
        async with connect(url, carol) as c:
            await c.call_tool("record_incident", {"id": "INC-9", "status": "resolved"})
    store = history.store
    learning = _frontmatter(store.get(r.structured_content["id"]).path)
    incident = _frontmatter(store.get("INC-9").path)
    assert learning["author"] == "alice" and "updated_by" not in learning and learning["tags"] == ["db"]
    assert incident["author"] == "alice" and incident["updated_by"] == "carol" and incident["status"] == "resolved"


async def test_http_without_auth_records_no_author_never_the_servers_user(history, isolated_env):
    with serving(history, None, no_auth=True) as url:
        async with connect(url, None) as c:
            r = await c.call_tool("capture", {"category": "notes", "title": "nobody", "content": "x"})
    assert "author" not in _frontmatter(history.store.get(r.structured_content["id"]).path)
    assert auth.actor() == auth.local_user(), "outside HTTP (stdio, the CLI) the actor is the local user again"


# ------------------------------------------------------------------------------ Host headers
async def test_a_forged_host_header_gets_421_naming_the_setting_and_no_token_still_gets_401(history, tokens_file, alice):
    with serving(history, tokens_file) as url:
        async with httpx2.AsyncClient() as http:
            forged = await http.post(url, json=INIT, headers={**HEADERS, "Host": "evil.example",
                                                              "Authorization": f"Bearer {alice}"})
            anonymous = await http.post(url, json=INIT, headers={**HEADERS, "Host": "evil.example"})
    assert forged.status_code == 421
    assert "evil.example" in forged.text and "PAII_ALLOWED_HOSTS" in forged.text and "127.0.0.1:*" in forged.text
    assert anonymous.status_code == 401, "the token is checked first: nothing is said to a caller without one"


async def test_PAII_ALLOWED_HOSTS_admits_the_name_a_proxy_sends(history, tokens_file, alice):
    with serving(history, tokens_file, allowed_hosts="paii.example.com, 10.1.2.3:8443") as url:
        async with httpx2.AsyncClient() as http:
            by_name = await http.post(url, json=INIT, headers={**HEADERS, "Host": "paii.example.com",
                                                               "Authorization": f"Bearer {alice}"})
            other_port = await http.post(url, json=INIT, headers={**HEADERS, "Host": "10.1.2.3:9999",
                                                                  "Authorization": f"Bearer {alice}"})
            evil_origin = await http.post(url, json=INIT, headers={**HEADERS, "Origin": "http://evil.example",
                                                                   "Authorization": f"Bearer {alice}"})
    assert by_name.status_code == 200
    assert other_port.status_code == 421
    assert evil_origin.status_code == 403 and "Origin" in evil_origin.text and "PAII_ALLOWED_HOSTS" in evil_origin.text


# ------------------------------------------------------------------------------ starting
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_non_loopback_start_without_a_tokens_file_is_refused_saying_how_to_make_one(isolated_env):
    env = {**os.environ, "PAII_HOME": str(isolated_env)}
    env.pop("PAII_AUTH_TOKENS_FILE", None)
    done = subprocess.run([sys.executable, "-m", "paii_history", "--transport", "streamable-http", "--host", "0.0.0.0",
                           "--port", str(_free_port())], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0" in done.stderr and "paii auth add alice" in done.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "::", "paii.example.com"])
def test_no_auth_beyond_loopback_is_refused_whatever_the_flags(tmp_path, host):
    with pytest.raises(StartRefused, match="loopback address only"):
        plan_http(host, 8765, TransportSettings(auth_tokens_file=tmp_path / "none"), no_auth=True)
    with pytest.raises(StartRefused, match="does not exist"):
        plan_http(host, 8765, TransportSettings(auth_tokens_file=tmp_path / "none"))


def test_loopback_without_tokens_needs_no_auth_on_purpose(tmp_path):
    with pytest.raises(StartRefused, match="--no-auth"):
        plan_http("127.0.0.1", 8765, TransportSettings(auth_tokens_file=tmp_path / "none"))
    plan = plan_http("127.0.0.1", 8765, TransportSettings(auth_tokens_file=tmp_path / "none"), no_auth=True)
    assert plan.tokens is None and "WITHOUT authentication" in plan.warnings[0]


def test_plain_http_beyond_loopback_starts_with_warnings(tokens_file, alice):
    plan = plan_http("0.0.0.0", 8765, TransportSettings(auth_tokens_file=tokens_file))
    text = " ".join(plan.warnings)
    assert plan.tokens is not None and "plain HTTP" in text and "reverse proxy" in text and "PAII_ALLOWED_HOSTS" in text
    assert "0.0.0.0:*" not in plan.allowed_hosts, "a wildcard address is not a name clients use"
    assert "10.0.0.5:*" in plan_http("10.0.0.5", 8765, TransportSettings(auth_tokens_file=tokens_file)).allowed_hosts
    assert not plan_http("127.0.0.1", 8765, TransportSettings(auth_tokens_file=tokens_file)).warnings


def test_PAII_ALLOWED_HOSTS_cannot_switch_the_protection_off(tokens_file, alice):
    with pytest.raises(StartRefused, match="cannot be switched off"):
        plan_http("127.0.0.1", 8765, TransportSettings(auth_tokens_file=tokens_file, allowed_hosts="*"))


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
                                           ("[::1]", True), ("0.0.0.0", False), ("::", False), ("10.0.0.1", False),
                                           ("myhost", False)])
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


# ------------------------------------------------------------------------------ every server
@pytest.mark.parametrize("name", [n for n in server_names() if n != "history"])
async def test_every_server_gets_the_same_boundary(name, tokens_file, alice):
    server = importlib.import_module(f"paii_{name}.server").build_server()
    with serving(server, tokens_file) as url:
        async with httpx2.AsyncClient() as http:
            r = await http.post(url, json=INIT, headers=HEADERS)
        async with connect(url, alice) as c:
            tools = (await c.list_tools()).tools
    assert r.status_code == 401 and tools


async def test_the_log_names_who_asked_for_each_write_and_never_the_arguments(history, tokens_file, alice, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="paii.audit"), serving(history, tokens_file) as url:
        async with connect(url, alice) as c:
            await c.call_tool("capture", {"category": "notes", "title": "t", "content": "secret-ish text"})
            await c.call_tool("recent", {})
    lines = [r.getMessage() for r in caplog.records if r.name == "paii.audit"]
    assert lines == ["alice asks history to capture"]
