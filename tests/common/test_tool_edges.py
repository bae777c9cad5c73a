"""Every tool of every server, fed edge values generated from its own input schema, says what was wrong.

Issue 10 item 9: ``since=99999y`` answered only "Error executing tool search" (an OverflowError).
For each server in ``server_names()`` (so a server added later is covered without touching this
file) and each tool it lists, each argument gets values from its schema's type: empty and
100k-character strings, lone surrogates, huge and negative numbers, deep nesting, wrong types,
and the call without its required arguments. Every error must name the problem (no bare
"Error executing tool X", no pydantic URL, no traceback), and none may be a PAII bug (an
exception that is not a PaiiError). Integrations point at a local HTTP fake that refuses every
request quickly (PagerDuty-style 400, Slack-style ``ok: false``), so nothing leaves the machine.
"""

from __future__ import annotations

import importlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from mcp import Client

from paii_common.manifest import load_manifest, server_names

SERVERS = server_names()
HUGE = 10**20
LONG = "x" * 100_000


def deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


class _Refuse(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/slack/"):
            status, body = 200, {"ok": False, "error": "invalid_arguments"}
        else:
            status, body = 400, {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": ["refused by the test fake"]}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def refusing_upstream():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def configure(name: str, base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every URL setting with an http default at the fake, and give required secrets a value."""
    for entry in load_manifest(name).config:
        if not entry.env:
            continue
        if isinstance(entry.default, str) and entry.default.startswith("http"):
            monkeypatch.setenv(entry.env, f"{base}/{name}/")
        elif entry.required and entry.secret:
            monkeypatch.setenv(entry.env, "xoxb-edge-test-token" if name == "slack" else "edge-test-token")
    monkeypatch.setenv("PAII_HISTORY_EMBEDDINGS", "off")  # keyword search: no model load per server
    monkeypatch.setenv("PAII_HISTORY_WARMUP", "0")
    monkeypatch.setenv("PAII_READ_TIMEOUT", "10")
    monkeypatch.setenv("PAII_WRITE_TIMEOUT", "10")


def edge_values(schema: dict[str, Any]) -> list[Any]:
    kinds = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
    values: list[Any] = [None, {"unexpected": "object"}, deep(200)]
    if "string" in kinds:
        values += ["", "   ", LONG, "\ud800", "a\udfffb", "99999y", "100000000000d", "-1", "\x00", "🔥" * 50,
                   "../../../etc/passwd", "${user_config.x}"]
    if kinds & {"integer", "number"}:
        values += [0, -1, -HUGE, HUGE, 2**63, 1.5, "abc", float("1e308")]
    if "boolean" in kinds:
        values += ["maybe", 2]
    if "array" in kinds:
        values += [[], [""], [LONG], ["\ud800"], "not-a-list", [None] * 1000]
    if "object" in kinds or "$ref" in schema or "additionalProperties" in schema:
        values += [{}, {"k" * 1000: "v"}, {"nested": deep(200)}, "not-an-object"]
    if not kinds - {None}:  # no type: try everything once
        values += ["", LONG, HUGE, -1, []]
    return values


def baseline(schema: dict[str, Any]) -> Any:
    """A plausible value for an argument the case does not vary (so the call reaches the tool body)."""
    for source in [schema, *schema.get("anyOf", [])]:
        if source.get("examples"):
            return source["examples"][0]
        if "enum" in source:
            return source["enum"][0]
    kinds = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
    if "string" in kinds:
        return "payments-api"
    if "integer" in kinds:
        return max(1, int(schema.get("minimum", 1)))
    if "number" in kinds:
        return 1
    if "array" in kinds:
        return ["payments-api"]
    if "boolean" in kinds:
        return False
    return {}


def check_error(tool: str, args_desc: str, text: str, problems: list[str]) -> None:
    body = text.removeprefix(f"Error executing tool {tool}").strip(" :")
    if len(body) < 15:
        problems.append(f"{tool}({args_desc}): no detail: {text!r}")
    if "errors.pydantic.dev" in text or "validation error for" in text:
        problems.append(f"{tool}({args_desc}): raw pydantic text: {text[:200]!r}")
    if "Traceback" in text or 'File "' in text:
        problems.append(f"{tool}({args_desc}): traceback: {text[:200]!r}")
    if "internal error" in text and "PAII bug" in text:
        problems.append(f"{tool}({args_desc}): a PAII bug: {text[:300]!r}")


def describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)} chars)"


@pytest.mark.parametrize("name", SERVERS)
@pytest.mark.filterwarnings("ignore:Stopping iter_all")  # pdpyras, for offset=10**20 (PagerDuty caps at 10000)
async def test_every_tool_names_the_problem_for_edge_values_from_its_schema(name, refusing_upstream, monkeypatch, isolated_env):
    configure(name, refusing_upstream, monkeypatch)
    server = importlib.import_module(f"paii_{name}.server").build_server()
    problems: list[str] = []
    calls = 0
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
        assert tools, f"{name} lists no tools"
        for t in tools:
            props: dict[str, Any] = t.input_schema.get("properties") or {}
            required = t.input_schema.get("required") or []
            base = {arg: baseline(props[arg]) for arg in required}
            cases: list[tuple[str, dict[str, Any]]] = []
            if required:
                cases.append(("no arguments", {}))
            cases.append(("unknown argument", {**base, "no_such_argument": 1}))
            for arg, schema in props.items():
                for value in edge_values(schema):
                    cases.append((f"{arg}={describe(value)}", {**base, arg: value}))
            for desc, args in cases:
                calls += 1
                try:
                    result = await client.call_tool(t.name, args)
                except Exception as exc:  # the transport itself failed: the call got no answer
                    problems.append(f"{t.name}({desc}): no answer: {type(exc).__name__}: {str(exc)[:200]}")
                    continue
                if result.is_error:
                    text = " ".join(getattr(c, "text", "") for c in result.content)
                    check_error(t.name, desc, text, problems)
    assert calls > 10 * len(tools)
    assert not problems, f"{len(problems)} of {calls} calls to {name} did not name the problem:\n" + "\n".join(problems[:40])
