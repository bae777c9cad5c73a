"""Shared fixtures. Every test gets an isolated PAII_HOME and config dir: nothing touches the user's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("paii_home")
    cfg = tmp_path_factory.mktemp("paii_config")
    monkeypatch.setenv("PAII_HOME", str(home))
    monkeypatch.setenv("PAII_CONFIG_DIR", str(cfg))
    for var in list(os.environ):
        if var.startswith(("PAII_PAGERDUTY", "PAII_SLACK", "PAGERDUTY_", "SLACK_", "PAII_CHROMA", "PAII_READ_ONLY", "CLAUDE_PLUGIN_DATA", "PAII_JIRA", "JIRA_")):
            monkeypatch.delenv(var, raising=False)
    yield home


def model_view(tools) -> list[dict]:
    """What the model sees of tools/list: name, description, input schema (+ annotations for the snapshot)."""
    return [
        {"name": t.name, "description": t.description, "inputSchema": t.input_schema}
        for t in sorted(tools, key=lambda t: t.name)
    ]


def check_snapshot(name: str, tools) -> None:
    """Compare tools/list to tests/snapshots/NAME.json; UPDATE_SNAPSHOTS=1 rewrites it."""
    data = []
    for t in sorted(tools, key=lambda t: t.name):
        ann = t.annotations.model_dump(exclude_none=True) if t.annotations else {}
        data.append({"name": t.name, "description": t.description, "inputSchema": t.input_schema, "annotations": ann})
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(text)
        return
    old = path.read_text()
    if old != text:
        import difflib

        diff = "".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True), f"{name}.json (snapshot)", "tools/list now"))
        raise AssertionError(f"tools/list of {name} changed; review, then UPDATE_SNAPSHOTS=1 make test\n{diff}")
