"""What the plugin's front answers before a server runs: ``servers/paii_<name>/handshake.json``.

``bin/paii-mcp`` is a small standard-library process that answers ``initialize``, ``tools/list``
and the other list requests at once, from this file, and starts the real server only when a tool
is called (``bin/_paii_front.py``). The file holds the real server's own answers, on the wire, for
every protocol version the SDK negotiates, made by running the server in this process:

    python -m paii_common.handshake            rewrite every server's handshake.json
    python -m paii_common.handshake --check    exit 1 when one is out of date (tests do this too)

What a setting changes is recorded with the answers, and the front applies it the way the server
does: read-only mode (``PAII_READ_ONLY`` and its other sources, :func:`paii_common.config.read_only_sources`)
drops every tool whose ``readOnlyHint`` is not true, and a setting the instructions mention
(Slack's stakeholder channel) is filled in. ``tests/plugin/test_front_handshake.py`` compares the
front's answers with the real server's for each of those settings.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SERVERS = ("history", "pagerduty", "slack", "jira", "kubernetes", "runbook")
#: requests the front answers from the file (besides initialize and ping)
LISTS = ("tools/list", "prompts/list", "resources/list", "resources/templates/list")
#: settings whose value the server puts into its instructions: server -> settings fields
INSTRUCTION_SETTINGS = {"slack": ("stakeholder_channel",)}
SENTINEL = "PAII-HANDSHAKE-VALUE"
FORMAT = 1
CLIENT = {"name": "paii-handshake", "version": "1"}


def path_for(name: str) -> Path:
    return Path(__file__).resolve().parent.parent / f"paii_{name}" / "handshake.json"


def settings_class(name: str) -> type:
    """The server's settings model (the PaiiSettings subclass defined in paii_<name>.config)."""
    from paii_common.config import PaiiSettings

    module = importlib.import_module(f"paii_{name}.config")
    found = [c for _, c in inspect.getmembers(module, inspect.isclass)
             if issubclass(c, PaiiSettings) and c is not PaiiSettings and c.__module__ == module.__name__]
    if len(found) != 1:
        raise LookupError(f"paii_{name}.config defines {len(found)} settings models, expected one")
    return found[0]


def env_names(cls: type, field: str) -> list[str]:
    """The variables a settings field is read from, in the order pydantic-settings tries them."""
    info = cls.model_fields[field]
    choices = getattr(info.validation_alias, "choices", None)
    names = [c for c in choices if isinstance(c, str)] if choices else []
    if isinstance(info.validation_alias, str):
        names = [info.validation_alias]
    return [n.upper() for n in names] or [f"{cls.model_config.get('env_prefix', '')}{field}".upper()]


@contextlib.contextmanager
def clean_environment(**values: str) -> Iterator[None]:
    """os.environ without any PAII or vendor setting (and an empty config folder), plus values."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="paii-handshake-") as tmp:
        for key in list(os.environ):
            if key.startswith(("PAII_", "PAGERDUTY_", "SLACK_", "JIRA_", "KUBECONFIG", "CLAUDE_PLUGIN")):
                del os.environ[key]
        os.environ.update(PAII_CONFIG_DIR=tmp, PAII_HOME=str(Path(tmp) / "home"), PAII_HISTORY_WARMUP="0",
                          PAII_KUBERNETES_WARMUP="0", **values)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


class _Lines:
    """A text stream for stdio_server: yields the given lines, then waits until answered."""

    def __init__(self, lines: list[str], done: Any) -> None:
        self._lines, self._done = lines, done

    def __aiter__(self):
        return self._gen()

    async def _gen(self):
        for line in self._lines:
            yield line
        await self._done.wait()


class _Capture:
    """stdio_server's stdout: keeps every line, sets done once every expected id has an answer."""

    def __init__(self, expected: set[int], done: Any) -> None:
        self.answers: dict[int, dict] = {}
        self._expected, self._done = expected, done

    async def write(self, text: str) -> None:
        for line in text.splitlines():
            message = json.loads(line)
            if message.get("id") in self._expected:
                self.answers[message["id"]] = message
        if set(self.answers) >= self._expected:
            self._done.set()

    async def flush(self) -> None:
        pass


def wire_answers(server: Any, version: str, methods: tuple[str, ...] = LISTS) -> dict[str, Any]:
    """The server's JSON-RPC results on the stdio wire for initialize (at version) and methods."""
    import anyio
    from mcp.server.stdio import stdio_server

    messages = [{"jsonrpc": "2.0", "id": 0, "method": "initialize",
                 "params": {"protocolVersion": version, "capabilities": {"elicitation": {}, "roots": {}},
                            "clientInfo": CLIENT}},
                {"jsonrpc": "2.0", "method": "notifications/initialized"}]
    messages += [{"jsonrpc": "2.0", "id": n, "method": m} for n, m in enumerate(methods, 1)]

    async def main() -> dict[int, dict]:
        done = anyio.Event()
        out = _Capture(set(range(len(methods) + 1)), done)
        source = _Lines([json.dumps(m) + "\n" for m in messages], done)
        async with stdio_server(stdin=source, stdout=out) as (read, write):  # type: ignore[arg-type]
            low = server._lowlevel_server
            with anyio.fail_after(60):
                await low.run(read, write, low.create_initialization_options())
        return out.answers

    answers = anyio.run(main)
    found = {"initialize": answers[0]}
    found.update({m: answers[n] for n, m in enumerate(methods, 1)})
    bad = {m: a["error"] for m, a in found.items() if "result" not in a}
    if bad:
        raise RuntimeError(f"{server.name}: {bad}")
    return {m: a["result"] for m, a in found.items()}


def answers_now(name: str, version: str) -> dict[str, Any]:
    """Build the server with its settings loaded as it would now (environment, .env), then answer."""
    settings = settings_class(name).load()
    server = importlib.import_module(f"paii_{name}.server").build_server(settings)
    return wire_answers(server, version)


def real_answers(name: str, version: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """answers_now in a clean environment plus env."""
    with clean_environment(**(env or {})):
        return answers_now(name, version)


def generate(name: str) -> dict[str, Any]:
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

    cls = settings_class(name)
    versions = list(HANDSHAKE_PROTOCOL_VERSIONS)
    latest = versions[-1]
    base = real_answers(name, latest)
    init = dict(base.pop("initialize"))
    init.pop("protocolVersion")
    by_version: dict[str, dict[str, Any]] = {}
    for version in versions[:-1]:
        other = real_answers(name, version)
        other_init = dict(other.pop("initialize"))
        if other_init.pop("protocolVersion") != version or other_init != init:
            raise RuntimeError(f"{name}: initialize differs at {version}; teach the front about it")
        changed = {m: r for m, r in other.items() if r != base[m]}
        if changed:
            by_version[version] = changed
    settings_text = []
    for field in INSTRUCTION_SETTINGS.get(name, ()):
        names = env_names(cls, field)
        with_value = real_answers(name, latest, {names[0]: SENTINEL})["initialize"]["instructions"]
        plain = init.get("instructions") or ""
        if not with_value.startswith(plain) or SENTINEL not in with_value:
            raise RuntimeError(f"{name}: {field} does not append to the instructions; teach the front about it")
        settings_text.append({"env": names, "append": with_value[len(plain):].replace(SENTINEL, "{value}")})
    return {
        "format": FORMAT,
        "note": "made by `python -m paii_common.handshake`: the real server's answers, for bin/paii-mcp",
        "server": name,
        "env_prefix": cls.model_config.get("env_prefix", ""),
        "protocol_versions": versions,
        "initialize": init,
        "instructions_settings": settings_text,
        "results": base,
        "by_version": by_version,
    }


def dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paii_common.handshake", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when a file is out of date")
    parser.add_argument("servers", nargs="*", default=list(SERVERS))
    args = parser.parse_args(argv)
    stale = []
    for name in args.servers:
        text, path = dump(generate(name)), path_for(name)
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
            print(f"wrote {path}", file=sys.stderr)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run python -m paii_common.handshake", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
