"""``paii config snippet``: each client's format, absolute commands, and servers that really start."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from paii_cli import main
from paii_common.manifest import server_names

CLIENTS = ("claude-desktop", "cursor", "vscode")


def snippet(capsys, *args: str) -> tuple[dict, str]:
    with pytest.raises(SystemExit) as code:
        main(["config", "snippet", *args])
    out = capsys.readouterr()
    assert code.value.code == 0, out.err
    return json.loads(out.out), out.err


def entries(client: str, data: dict) -> dict:
    return data["servers"] if client == "vscode" else data["mcpServers"]


@pytest.mark.parametrize("client", CLIENTS)
def test_each_snippet_has_its_clients_shape_and_absolute_commands(capsys, client):
    data, where = snippet(capsys, "--client", client)
    key = "servers" if client == "vscode" else "mcpServers"
    assert set(data) <= {key, "inputs"} and key in data  # VS Code: top-level "servers", never "mcpServers"
    assert set(entries(client, data)) == {f"paii-{n}" for n in server_names()}
    for name, spec in entries(client, data).items():
        assert Path(spec["command"]).is_absolute() and os.access(spec["command"], os.X_OK), name
        assert isinstance(spec["args"], list) and all(isinstance(a, str) for a in spec["args"])
        assert all(isinstance(v, str) for v in spec.get("env", {}).values())
        if client == "vscode":
            assert spec["type"] == "stdio"
    assert where.strip() and ("mcp.json" in where or "claude_desktop_config.json" in where)


def test_tokens_are_placeholders_in_each_clients_own_syntax(capsys):
    desktop, _ = snippet(capsys, "--client", "claude-desktop", "--server", "slack")
    cursor, _ = snippet(capsys, "--client", "cursor", "--server", "slack")
    vscode, _ = snippet(capsys, "--client", "vscode", "--server", "slack")
    assert desktop["mcpServers"]["paii-slack"]["env"]["PAII_SLACK_TOKEN"] == "<Bot token (xoxb-): replace, or delete this line>"
    assert cursor["mcpServers"]["paii-slack"]["env"]["PAII_SLACK_TOKEN"] == "${env:PAII_SLACK_TOKEN}"
    ref = vscode["servers"]["paii-slack"]["env"]["PAII_SLACK_TOKEN"]
    (input_id,) = re.fullmatch(r"\$\{input:([a-z0-9-]+)\}", ref).groups()
    declared = {i["id"]: i for i in vscode["inputs"]}
    assert declared[input_id]["type"] == "promptString" and declared[input_id]["password"] is True
    used = set(re.findall(r"\$\{input:([a-z0-9-]+)\}", json.dumps(vscode)))
    assert used == set(declared)


def test_an_unknown_server_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as code:
        main(["config", "snippet", "--client", "cursor", "--server", "nosuch"])
    assert code.value.code == 2 and "unknown server nosuch: choose from history" in capsys.readouterr().err


async def test_the_commands_a_snippet_names_start_servers_that_answer_initialize(capsys, isolated_env):
    import anyio

    data, _ = snippet(capsys, "--client", "claude-desktop")
    answered: dict[str, int] = {}

    async def start(name: str, spec: dict) -> None:
        # the env as written, placeholders and all: a placeholder nobody replaced counts as not set
        env = {**os.environ, **spec.get("env", {}), "PAII_HISTORY_WARMUP": "0"}
        params = StdioServerParameters(command=spec["command"], args=spec["args"], env=env)
        async with Client(params) as client:
            assert name.removeprefix("paii-") in client.server_info.name
            answered[name] = len((await client.list_tools()).tools)

    async with anyio.create_task_group() as tg:  # all at once, as an editor starts them
        for name, spec in entries("claude-desktop", data).items():
            tg.start_soon(start, name, spec)
    assert set(answered) == set(entries("claude-desktop", data)) and all(answered.values()), answered
