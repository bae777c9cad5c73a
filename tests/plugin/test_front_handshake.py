"""The answers the front gives from servers/paii_<name>/handshake.json are the real server's, for
every setting that changes them: read-only mode from each of its sources (environment, the .env
file, Claude Code's userConfig, the server's own variable), a configured or unconfigured server,
and Slack's stakeholder channel (which the instructions name). After a change to a tool,
`python -m paii_common.handshake` rewrites the files (the snapshot diff shows the same change).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from paii_common import handshake

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bin"))
import _paii_front  # noqa: E402

VERSION = "2025-11-25"  # what Claude Code 2.1 asks for
CONFIGURED = {
    "PAII_PAGERDUTY_URL": "http://127.0.0.1:9", "PAII_PAGERDUTY_TOKEN": "pd-token", "PAII_PAGERDUTY_FROM": "a@example.com",
    "PAII_SLACK_URL": "http://127.0.0.1:9/api/", "PAII_SLACK_TOKEN": "xoxb-1", "PAII_SLACK_USER_TOKEN": "xoxp-1",
    "PAII_SLACK_STAKEHOLDER_CHANNEL": "#incidents",
    "PAII_JIRA_URL": "http://127.0.0.1:9", "PAII_JIRA_EMAIL": "a@example.com", "PAII_JIRA_TOKEN": "t",
    "PAII_JIRA_PROJECT": "INC", "PAII_JIRA_TEAMS": "Team Infra=84", "PAII_JIRA_BOARD": "84",
    "PAII_KUBERNETES_KUBECONFIG": "/nonexistent/kubeconfig", "PAII_KUBERNETES_CONTEXT": "prod",
    "PAII_RUNBOOK_PATH": "/nonexistent/books", "PAII_RUNBOOK_OPERATOR": "alice", "PAII_CHROMA_URL": "http://127.0.0.1:9",
}
CASES = {
    "nothing set": ({}, ""),
    "configured": (CONFIGURED, ""),
    "read-only in the environment": ({"PAII_READ_ONLY": "1"}, ""),
    "read-only off": ({"PAII_READ_ONLY": "off"}, ""),
    "read-only from Claude Code's userConfig": ({"PAII_USER_CONFIG_READ_ONLY": "true"}, ""),
    "userConfig read-only left unexpanded": ({"PAII_USER_CONFIG_READ_ONLY": "${user_config.read_only}"}, ""),
    "read-only in the .env file": ({}, "PAII_READ_ONLY=yes\n"),
    "configured and read-only": ({**CONFIGURED, "PAII_READ_ONLY": "on"}, ""),
    "stakeholder channel in the .env file": ({}, "PAII_SLACK_STAKEHOLDER_CHANNEL='#war-room'\n"),
    "stakeholder channel left unexpanded": ({"PAII_SLACK_STAKEHOLDER_CHANNEL": "${user_config.slack_stakeholder_channel}"}, ""),
}


def front_answers(name: str) -> dict:
    """What the front answers for a server under the current environment (and .env file)."""
    doc = _paii_front.load_handshake(ROOT, name)
    front = _paii_front.Handshake(doc, ROOT)
    out = {"initialize": front.initialize(VERSION)}
    out.update({m: front.answer(m, VERSION) for m in handshake.LISTS})
    return out


@pytest.mark.parametrize("name", handshake.SERVERS)
def test_the_packaged_answers_are_the_servers_own_for_every_protocol_version(name):
    """`python -m paii_common.handshake --check` for one server: the file is up to date.
    UPDATE_SNAPSHOTS=1 rewrites it, with the tools/list snapshots."""
    text, path = handshake.dump(handshake.generate(name)), handshake.path_for(name)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert path.read_text() == text, (
        f"servers/paii_{name}/handshake.json is out of date: run python -m paii_common.handshake "
        "(or UPDATE_SNAPSHOTS=1 make test)")


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", handshake.SERVERS)
def test_the_front_answers_as_the_real_server_does_for_each_setting(name, case):
    env, dotenv = CASES[case]
    with handshake.clean_environment(**env):
        if dotenv:
            Path(os.environ["PAII_CONFIG_DIR"], ".env").write_text(dotenv)
        real = handshake.answers_now(name, VERSION)
        assert front_answers(name) == real


@pytest.mark.parametrize("name", handshake.SERVERS)
def test_the_server_specific_read_only_switch_counts(name):
    prefix = handshake.settings_class(name).model_config["env_prefix"]
    with handshake.clean_environment(**{f"{prefix}READ_ONLY": "1"}):
        real = handshake.answers_now(name, VERSION)
        assert front_answers(name)["tools/list"] == real["tools/list"]
        assert all(t["annotations"]["readOnlyHint"] for t in real["tools/list"]["tools"])


def test_a_read_only_value_the_server_refuses_offers_no_writer_until_a_call_shows_the_error():
    """PAII_READ_ONLY=maybe stops the real server at start (the call says why); until then the
    front never offers more than a read-only server would."""
    with handshake.clean_environment(PAII_READ_ONLY="maybe"):
        tools = front_answers("pagerduty")["tools/list"]["tools"]
    assert tools and all(t["annotations"]["readOnlyHint"] for t in tools)
