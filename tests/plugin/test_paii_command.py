"""bin/paii: the `paii` command of a plugin install. It runs `python -m paii_cli` from the plugin
folder with the servers' venv (the one bin/paii-mcp keeps) and the one data home, and tells the
CLI where it is (PAII_LAUNCHER) so `paii doctor` can say how to get it in one's own terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAII = ROOT / "bin" / "paii"
sys.path.insert(0, str(ROOT / "bin"))
import _paii_install as install  # noqa: E402
import _paii_launch as launch  # noqa: E402

SHOW = "import json, os, sys; print(json.dumps({'argv': sys.argv, 'env': dict(os.environ)}))"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "PAII_"))}
    env.update(PAII_HOME=str(tmp_path / "home"), PAII_CONFIG_DIR=str(tmp_path / "cfg"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.update(extra)
    return env


def fake_python(path: Path) -> Path:
    """An interpreter that prints how it was run instead of running the CLI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    script = path.with_name("show.py")
    script.write_text(SHOW)
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    path.chmod(0o755)
    return path


def test_paii_is_an_executable_stdlib_script_next_to_the_server_launcher():
    assert os.access(PAII, os.X_OK) and PAII.read_text().startswith("#!/usr/bin/env python3\n")
    assert "import _paii_launch" in PAII.read_text() and "import _paii_launch" in (ROOT / "bin" / "paii-mcp").read_text()


def test_paii_runs_the_cli_from_the_plugin_folder_with_the_servers_venv_and_says_where_it_is(tmp_path):
    """The venv the MCP servers use (ready in the plugin data folder) runs the CLI: no second install."""
    data = tmp_path / "plugin-data"
    python, stamp_file, _, stamp = install.venv_paths(ROOT, data)
    fake_python(python)
    stamp_file.write_text(stamp + "\n")
    out = subprocess.run([str(PAII), "history", "import", "--category", "incidents", "x.jsonl"], capture_output=True,
                         text=True, timeout=60, env=clean_env(tmp_path, CLAUDE_PLUGIN_DATA=str(data)))
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["argv"][1:] == ["-m", "paii_cli", "history", "import", "--category", "incidents", "x.jsonl"]
    assert shown["env"]["PAII_LAUNCHER"] == str(PAII.resolve())
    assert shown["env"]["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT / "servers")
    assert shown["env"]["PAII_HOME"] == str(tmp_path / "home")  # the one data home, untouched
    assert not (data / "install.log").exists()  # nothing installed


def test_paii_finds_the_installed_plugins_data_folder_without_claude_codes_environment(tmp_path):
    """In one's own terminal (or Claude Code's Bash) CLAUDE_PLUGIN_DATA is not set: the venv is
    found from where Claude Code installed the plugin."""
    plugins = tmp_path / ".claude" / "plugins"
    copy = plugins / "cache" / "paii-marketplace" / "paii" / "0.1.0"
    (copy / "bin").mkdir(parents=True)
    for path in (ROOT / "bin").iterdir():
        if path.is_file():
            (copy / "bin" / path.name).write_bytes(path.read_bytes())
    (copy / "bin" / "paii").chmod(0o755)
    (copy / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    data = plugins / "data" / "paii-paii-marketplace"
    python, stamp_file, _, stamp = install.venv_paths(copy, data)
    fake_python(python)
    stamp_file.write_text(stamp + "\n")
    out = subprocess.run([str(copy / "bin" / "paii"), "doctor"], capture_output=True, text=True, timeout=60,
                         env=clean_env(tmp_path))
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["argv"][1:] == ["-m", "paii_cli", "doctor"]
    assert shown["env"]["PAII_LAUNCHER"] == str((copy / "bin" / "paii").resolve())


def test_paii_imports_into_the_data_home_the_servers_read(tmp_path):
    """The real CLI through bin/paii (PAII_PYTHON: this interpreter) writes where paii_home() says."""
    out = subprocess.run([str(PAII), "history", "import", "--category", "incidents", str(ROOT / "examples" / "incidents.jsonl")],
                         capture_output=True, text=True, timeout=300,
                         env=clean_env(tmp_path, PAII_PYTHON=sys.executable, PAII_HISTORY_EMBEDDINGS="off"))
    assert out.returncode == 0, out.stderr
    assert "imported 15" in out.stdout + out.stderr
    assert len(list((tmp_path / "home" / "history" / "incidents").rglob("INC-*.md"))) == 15


def test_paii_run_in_place_uses_the_data_folder_the_servers_were_given(tmp_path):
    """A plugin added from a local folder runs in place (Claude Code 2.1): the servers note the
    data folder Claude Code gave them, and paii run from that folder (Bash, a terminal) uses it."""
    data = tmp_path / "plugin-data"
    python, stamp_file, _, stamp = install.venv_paths(ROOT, data)
    fake_python(python)
    stamp_file.write_text(stamp + "\n")
    server = subprocess.run([sys.executable, str(ROOT / "bin" / "paii-mcp"), "history"], input="", capture_output=True,
                            text=True, timeout=60, env=clean_env(tmp_path, CLAUDE_PLUGIN_DATA=str(data)))
    assert server.returncode == 0, server.stderr
    out = subprocess.run([str(PAII), "doctor"], capture_output=True, text=True, timeout=60, env=clean_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert Path(json.loads(out.stdout)["argv"][0]).parent == python.parent  # the servers' venv, no second install
    assert not (tmp_path / "cache" / "paii" / "launcher" / "venvs").exists()
