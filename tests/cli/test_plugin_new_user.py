"""``paii plugin new`` in a plugin install: a Claude Code plugin of the person's own (issue 21 item 6).

The installed plugin is a copy of this checkout's files without ``.git``, in a Claude Code plugin
cache under a throwaway HOME, as ``claude plugin install`` makes it; ``paii`` runs "from" it
(``paii_cli.scaffold.own_root``). The real Claude Code CLI installs such a plugin in
``tests/plugin/e2e.d/75-plugin-new.sh``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from paii_cli import scaffold
from tests.cli.test_plugin_new import ROOT, _copy_checkout, free_name, run, snapshot

DATADOG_TOOLS = ["create_monitor", "get_dashboard", "list_monitors", "query_metrics"]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    person = tmp_path / "person"
    (person / "terminal").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(person))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.chdir(person / "terminal")  # not a checkout
    return person


@pytest.fixture(scope="module")
def installed_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cache") / "paii-marketplace" / "paii" / "0.1.0"
    _copy_checkout(folder)
    return folder


@pytest.fixture
def installed(installed_template, home, monkeypatch) -> Path:
    """PAII as `claude plugin install` leaves it (no .git), and the `paii` that runs from it."""
    folder = home / ".claude" / "plugins" / "cache" / "paii-marketplace" / "paii" / "0.1.0"
    shutil.copytree(installed_template, folder, symlinks=True)
    monkeypatch.setattr(scaffold, "own_root", lambda: folder)
    return folder


@pytest.fixture
def dd(installed) -> str:
    """A Datadog integration's name PAII has no server for ("datadog", unless a contributor scaffolded it)."""
    return free_name("datadog", installed)


def plugins() -> Path:
    return Path(os.environ["PAII_CONFIG_DIR"]) / "plugins"


def new(capsys, *args: str) -> dict:
    code, out, err = run(["plugin", "new", *args, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


# ------------------------------------------------------------------------------- where it goes
def test_in_a_plugin_install_new_makes_a_plugin_of_ones_own_and_says_what_to_run(installed, dd, capsys):
    before = snapshot(installed)
    summary = new(capsys, dd, "--service", "datadog")
    root = plugins()
    assert summary["mode"] == "user" and summary["root"] == str(root) and summary["plugin"] == f"paii-{dd}"
    assert summary["next"] == [f"claude plugin marketplace add {root}", f"claude plugin install paii-{dd}@paii-local"]
    assert snapshot(installed) == before  # nothing written into the installed plugin, which an update replaces
    market = json.loads((root / ".claude-plugin/marketplace.json").read_text())
    assert market["name"] == "paii-local" and market["plugins"] == [
        {"name": f"paii-{dd}", "source": f"./{dd}", "description": "Datadog for on-call work: metrics, dashboards and monitors",
         "version": "0.1.0"}]
    plugin = root / dd
    manifest = json.loads((plugin / ".claude-plugin/plugin.json").read_text())
    assert manifest["name"] == f"paii-{dd}" and manifest["userConfig"][f"{dd}_api_key"]["sensitive"] is True
    assert "read_only" in manifest["userConfig"]
    server = json.loads((plugin / ".mcp.json").read_text())["mcpServers"][dd]
    assert server["args"] == ["${CLAUDE_PLUGIN_ROOT}/bin/paii-server", dd] and "PAII_HOME" not in server["env"]
    assert server["env"]["PAII_USER_CONFIG_READ_ONLY"] == "${user_config.read_only}"
    assert os.access(plugin / "bin/paii-server", os.X_OK)
    tools = json.loads((plugin / f"tests/snapshots/{dd}.json").read_text())
    assert [t["name"] for t in tools] == DATADOG_TOOLS
    readme = (plugin / "README.md").read_text()
    assert all(step in readme for step in summary["next"])


def test_the_printed_next_steps_name_the_folder_and_the_commands(installed, dd, capsys):
    code, out, _ = run(["plugin", "new", dd, "--service", "datadog"], capsys)
    assert code == 0
    assert f"a Claude Code plugin of your own, paii-{dd}, in your plugins folder (this paii runs from an installed PAII" in out
    assert f"       claude plugin marketplace add {plugins()}\n       claude plugin install paii-{dd}@paii-local" in out
    assert f"Write the calls in {plugins()}/{dd}/servers/paii_{dd}/client.py" in out


def test_once_claude_code_knows_the_folder_the_next_step_updates_it_instead_of_adding_it(installed, home, capsys):
    known = home / ".claude" / "plugins" / "known_marketplaces.json"
    known.write_text(json.dumps({"paii-local": {"source": {"source": "directory", "path": str(plugins())},
                                                "installLocation": str(plugins())}}))
    name = free_name("grafana", installed)
    assert new(capsys, name, "--service", "grafana")["next"] == ["claude plugin marketplace update paii-local",
                                                             f"claude plugin install paii-{name}@paii-local"]


def test_a_checkout_stays_the_default_where_there_is_one_and_claude_codes_clones_never_are(home, tmp_path, monkeypatch):
    monkeypatch.setattr(scaffold, "own_root", lambda: ROOT)
    assert scaffold.where() == ("checkout", ROOT)  # this checkout (a git work tree)
    assert scaffold.where(user=True) == ("user", plugins())
    clone = home / ".claude" / "plugins" / "marketplaces" / "paii-marketplace"
    _copy_checkout(clone)
    (clone / ".git").mkdir()  # a marketplace Claude Code cloned from GitHub: an update replaces it too
    monkeypatch.setattr(scaffold, "own_root", lambda: clone)
    assert scaffold.where() == ("user", plugins())


def test_a_second_plugin_and_a_skill_join_the_same_marketplace(installed, dd, capsys):
    new(capsys, dd, "--service", "datadog")
    sk = free_name("standup-notes", installed)
    skill = new(capsys, sk, "--type", "skill")
    assert skill["plugin"] == f"paii-{sk}" and any(f"/paii-{sk}:run-{sk}" in n for n in skill["notes"])
    folder = plugins() / sk
    assert (folder / f"skills/{sk}/SKILL.md").is_file() and (folder / f"commands/run-{sk}.md").is_file()
    assert "userConfig" not in json.loads((folder / ".claude-plugin/plugin.json").read_text())
    market = json.loads((plugins() / ".claude-plugin/marketplace.json").read_text())
    assert [p["name"] for p in market["plugins"]] == [f"paii-{dd}", f"paii-{sk}"]


@pytest.mark.parametrize("name, message", [("history", "PAII already has a server named 'history'"),
                                           ("mine", "already exists")])
def test_a_name_paii_or_an_existing_plugin_has_is_refused_and_nothing_changes(installed, dd, capsys, name, message):
    if name == "mine":
        name = dd
        new(capsys, dd, "--service", "datadog")
    before = snapshot(plugins()) if plugins().exists() else {}
    code, out, err = run(["plugin", "new", name], capsys)
    assert code == 2 and message in err
    assert (snapshot(plugins()) if plugins().exists() else {}) == before


def test_a_plugin_that_does_not_start_is_undone_and_leaves_no_folder(installed, dd, capsys):
    (installed / "servers" / "paii_common" / "tools.py").write_text("raise ImportError('broken for the test')\n")
    code, _, err = run(["plugin", "new", dd, "--service", "datadog"], capsys)
    assert code == 1 and "broken for the test" in err and not plugins().exists()


# ------------------------------------------------------------------------------- it runs
def _server(installed: Path, plugin: Path, name: str, **extra: str) -> StdioServerParameters:
    env = {"HOME": os.environ["HOME"], "PATH": os.environ["PATH"], "PAII_CONFIG_DIR": os.environ["PAII_CONFIG_DIR"],
           "PAII_HOME": os.environ["PAII_HOME"], **extra}
    return StdioServerParameters(command=sys.executable, args=[str(plugin / "bin" / "paii-server"), name], env=env)


async def _tools_and_first_call(params: StdioServerParameters) -> tuple[list[str], str]:
    async with Client(params) as c:
        tools = sorted(t.name for t in (await c.list_tools()).tools)
        r = await c.call_tool("list_monitors", {})
    assert r.is_error
    return tools, r.content[0].text


async def test_its_server_runs_through_its_launcher_with_paiis_code_over_stdio(installed, dd, capsys):
    new(capsys, dd, "--service", "datadog")
    tools, said = await _tools_and_first_call(_server(installed, plugins() / dd, dd))
    assert tools == DATADOG_TOOLS and f"PAII_{dd.upper()}_API_KEY" in said and "not configured" in said


async def test_after_a_paii_update_the_launcher_finds_the_installed_paii(installed, dd, home, capsys):
    """Claude Code installs the new version in another folder and removes the old one: the launcher
    reads installed_plugins.json. Claude Code's copy of the plugin runs the person's folder's code."""
    new(capsys, dd, "--service", "datadog")
    updated = installed.parent / "0.2.0"
    installed.rename(updated)
    (home / ".claude/plugins/installed_plugins.json").write_text(json.dumps(
        {"version": 2, "plugins": {"paii@paii-marketplace": [{"scope": "user", "installPath": str(updated)}]}}))
    claude_copy = home / f".claude/plugins/cache/paii-local/paii-{dd}/0.1.0"
    shutil.copytree(plugins() / dd, claude_copy)
    tools, said = await _tools_and_first_call(_server(updated, claude_copy, dd))
    assert tools == DATADOG_TOOLS and f"PAII_{dd.upper()}_API_KEY" in said


async def test_without_paii_the_launcher_says_what_to_install(installed, dd, home, capsys):
    new(capsys, dd, "--service", "datadog")
    shutil.rmtree(installed)
    out = subprocess.run([sys.executable, str(plugins() / dd / "bin/paii-server"), dd], capture_output=True,
                         text=True, env={"HOME": str(home), "PATH": os.environ["PATH"]}, stdin=subprocess.DEVNULL, timeout=60)
    assert out.returncode == 1 and out.stdout == ""
    assert "cannot find PAII: install the PAII plugin (claude plugin install paii@paii-marketplace)" in out.stderr


def test_serve_names_a_server_that_is_not_there(installed, capsys):
    code, _, err = run(["plugin", "serve", "nosuch"], capsys)
    assert code == 2 and "no server paii_nosuch in" in err and "paii plugin new nosuch" in err


def test_its_own_tests_pass(installed, dd, capsys):
    new(capsys, dd, "--service", "datadog")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=plugins() / dd, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": ""}, timeout=300)
    assert out.returncode == 0 and "4 passed" in out.stdout, out.stdout[-2000:]


def test_doctor_and_plugin_list_show_ones_own_server_with_paiis(installed, dd, capsys, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # server_names() adds the plugins' servers folders
    new(capsys, dd, "--service", "datadog")
    code, out, _ = run(["doctor", "--offline", "--json"], capsys)
    datadog = {s["server"]: s for s in json.loads(out)["servers"]}[dd]
    assert datadog["status"] == "not set up" and datadog["checks"][0]["detail"] == "4 tools (1 write)"
    monkeypatch.setenv(f"PAII_{dd.upper()}_API_KEY", "doctor-test-dd-api-key")
    monkeypatch.setenv(f"PAII_{dd.upper()}_APP_KEY", "doctor-test-dd-app-key")
    code, out, _ = run(["doctor", "--json"], capsys)
    live = next(c for c in {s["server"]: s for s in json.loads(out)["servers"]}[dd]["checks"] if c["check"] == "live")
    assert live["skipped"] and f"write probe() in paii_{dd}/client.py" in live["detail"]
    code, out, _ = run(["plugin", "list", "--json"], capsys)
    listed = {s["name"]: s for s in json.loads(out)["servers"]}
    assert listed[dd]["yours"] == str(plugins() / dd) and listed["history"]["yours"] is None


def test_the_editor_snippet_runs_ones_own_server_through_paii(installed, dd, capsys, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    new(capsys, dd, "--service", "datadog")
    code, out, _ = run(["config", "snippet", "--client", "cursor", "--server", dd], capsys)
    entry = json.loads(out)["mcpServers"][f"paii-{dd}"]
    assert code == 0 and entry["args"][-3:] == ["plugin", "serve", dd]
    assert entry["env"][f"PAII_{dd.upper()}_API_KEY"] == f"${{env:PAII_{dd.upper()}_API_KEY}}"
