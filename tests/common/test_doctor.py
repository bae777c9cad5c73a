"""``paii doctor`` exits non-zero only for what is broken (issue 11 item 5) and shows read-only's source."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from paii_cli.doctor import doctor, render
from paii_common.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[2]


def run_doctor(capsys, *extra: str) -> tuple[int, str]:
    """``paii doctor --offline``: these tests are about what doctor finds locally (a kubeconfig on the
    machine running them must not make them call a cluster); tests/cli/test_doctor_live.py has the live checks."""
    from paii_cli import main

    with pytest.raises(SystemExit) as code:
        main(["doctor", "--offline", *extra])
    return code.value.code, capsys.readouterr().out


def servers(report) -> dict:
    return {s["server"]: s for s in report["servers"]}


def test_a_history_only_user_gets_exit_0_and_optional_integrations_with_how_to(capsys):
    code, out = run_doctor(capsys)
    assert code == 0, out
    assert "pagerduty 0.1.0: not set up (optional)" in out and "slack 0.1.0: not set up (optional)" in out
    assert "Create API User Token" in out and "chat:write" in out and "MISSING" not in out
    assert "Nothing is broken" in out


def test_every_server_is_started_the_way_it_starts(capsys):
    report = doctor(offline=True)
    for name, s in servers(report).items():
        start = s["checks"][0]
        assert start["check"] == "starts" and start["ok"], (name, start)
        assert re.match(r"\d+ tools \(\d+ write\)", start["detail"])


def test_an_unclear_read_only_value_is_broken_with_exit_1(capsys, monkeypatch):
    monkeypatch.setenv("PAII_READ_ONLY", "perhaps")
    code, out = run_doctor(capsys)
    assert code == 1
    assert "✗ read-only: PAII_READ_ONLY='perhaps' (environment) is not accepted" in out
    assert "refuses to start" in out and "BROKEN" in out


def test_read_only_shows_which_variable_and_source_turned_it_on(capsys):
    env = Path(os.environ["PAII_CONFIG_DIR"]) / ".env"
    env.write_text("PAII_READ_ONLY=yes\n")
    report = doctor(offline=True)
    assert report["ok"] and report["read_only"]["on"]
    assert {"variable": "PAII_READ_ONLY", "source": f".env file {env}", "on": True} in report["read_only"]["sources"]
    assert all(s["read_only"] for s in report["servers"])
    text = render(report)
    assert f"read-only: ON for every server: PAII_READ_ONLY (.env file {env})" in text
    assert "read-only: writers dropped" in text


def test_read_only_off_says_how_to_turn_it_on():
    text = render(doctor(offline=True))
    assert "read-only: off (set PAII_READ_ONLY=1" in text


def test_a_missing_model_while_embeddings_are_on_is_broken(monkeypatch):
    import paii_history.embed as embed

    monkeypatch.setattr(embed, "find_model", lambda *a, **k: None)
    report = doctor(offline=True)
    history = servers(report)["history"]
    assert not report["ok"] and history["status"] == "broken"
    assert any(c["check"] == "semantic search" and not c["ok"] for c in history["checks"])


def test_a_missing_model_with_embeddings_off_is_fine(monkeypatch):
    import paii_history.embed as embed

    monkeypatch.setattr(embed, "find_model", lambda *a, **k: None)
    monkeypatch.setenv("PAII_HISTORY_EMBEDDINGS", "off")
    assert servers(doctor(offline=True))["history"]["status"] == "ok"


def test_a_server_that_cannot_import_is_broken(tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "paii_zzbroken"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.toml").write_text('name = "zzbroken"\nversion = "0.0.1"\ndescription = "a broken server"\n')
    (pkg / "config.py").write_text("import no_such_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out = run_doctor(capsys)
    assert code == 1
    assert "zzbroken 0.0.1: BROKEN" in out and "does not import" in out and "no_such_module_anywhere" in out
    sys.modules.pop("paii_zzbroken", None)


def test_a_setting_the_server_refuses_is_broken(monkeypatch):
    monkeypatch.setenv("PAII_PAGERDUTY_URL", "ftp://example")
    pd = servers(doctor(offline=True))["pagerduty"]
    assert pd["status"] == "broken" and "PAII_PAGERDUTY_URL" in pd["checks"][0]["detail"]


def test_doctor_json_keeps_its_shape_and_exit_code(capsys):
    import json

    code, out = run_doctor(capsys, "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True and data["version"]
    assert {"server", "version", "ok", "status", "config", "checks", "setup"} <= set(data["servers"][0])


# ------------------------------------------------------------------------------ setup text
def test_each_integration_says_how_to_set_it_up():
    assert "API User Token" in load_manifest("pagerduty").setup and "From" in load_manifest("pagerduty").setup
    assert "xoxb-" in load_manifest("slack").setup and "search:read" in load_manifest("slack").setup


#: the bot scope(s) each Slack Web API method needs (https://api.slack.com/methods)
SLACK_SCOPES = {
    "auth.test": set(),
    "chat.postMessage": {"chat:write"},
    "conversations.create": {"channels:manage"},
    "conversations.history": {"channels:history", "groups:history"},
    "conversations.info": {"channels:read", "groups:read"},
    "conversations.invite": {"channels:manage", "groups:write"},
    "conversations.join": {"channels:join"},
    "conversations.list": {"channels:read", "groups:read"},
    "conversations.members": {"channels:read", "groups:read"},  # an invite whose answer was lost, read back
    "conversations.replies": {"channels:history", "groups:history"},
    "conversations.setTopic": {"channels:manage", "groups:write"},
    "search.messages": {"search:read"},  # the user token
    "users.info": {"users:read"},
    "users.list": {"users:read"},
    "users.lookupByEmail": {"users:read.email"},
}


def test_the_slack_setup_lists_the_scope_of_every_method_the_code_calls():
    source = "\n".join(p.read_text() for p in (ROOT / "servers" / "paii_slack").glob("*.py"))
    called = set(re.findall(r'"((?:auth|chat|conversations|users|search|reactions|pins|files|bookmarks)\.[a-zA-Z]+)"', source))
    unknown = called - set(SLACK_SCOPES)
    assert not unknown, f"add the scopes of {unknown} to SLACK_SCOPES and to slack/plugin.toml setup"
    setup = load_manifest("slack").setup
    needed = set().union(*(SLACK_SCOPES[m] for m in called))
    assert {s for s in needed if not re.search(rf"(?<![\w:.]){re.escape(s)}(?![\w:.])", setup)} == set()
