"""One description of each workflow: the scenario file the demo and the e2e tests run, and the
skill a person's Claude follows, must name the same tools in the same order."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from paii_sandbox import scenario

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {t["name"] for p in (ROOT / "tests" / "snapshots").glob("*.json") for t in json.loads(p.read_text())}
SCENARIOS = sorted(p.stem for p in scenario.scenario_dir().glob("*.yaml"))


def skill_steps(skill: str) -> dict[int, str]:
    """The numbered steps (``1. ...`` and their indented lines) under the skill's "## The flow" / "## Steps"."""
    text = (ROOT / "skills" / skill / "SKILL.md").read_text()
    heading = re.search(r"^## .*\b(flow|steps)\b.*$", text, re.M | re.I)
    assert heading, f"skills/{skill}/SKILL.md has no '## The flow' or '## Steps' section"
    text = text[heading.end():]
    steps: dict[int, str] = {}
    current = None
    for line in text.splitlines():
        item = re.match(r"^(\d+)\. (.*)", line)
        if item:
            current = int(item.group(1))
            if current in steps:  # a second numbered list: the flow is over
                break
            steps[current] = item.group(2)
        elif current is not None and (line.startswith("   ") or not line.strip()):
            steps[current] += "\n" + line
        elif current is not None:
            break
    return steps


def tools_named(text: str) -> list[str]:
    return list(dict.fromkeys(t for t in re.findall(r"`([a-z_]+)`", text) if t in TOOLS))


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_skill_names_the_scenarios_tools_in_the_same_order(name):
    sc = scenario.load(name)
    steps = skill_steps(sc.skill)
    assert sc.covers and all(n in steps for n in sc.covers), f"{sc.skill} has no steps {sc.covers}"
    named = tools_named("\n".join(steps[n] for n in sc.covers))
    assert named == list(dict.fromkeys(sc.tools)), (
        f"skills/{sc.skill}/SKILL.md steps {sc.covers} name {named}; scenarios/{name}.yaml runs {sc.tools}"
    )


def test_the_incident_scenario_is_the_skills_flow_from_the_page_to_the_first_check():
    assert scenario.load("incident").tools == [
        "list_services", "list_incidents", "get_incident", "similar_incidents", "list_oncalls", "find_user",
        "list_maintenance_windows", "acknowledge_incident", "create_channel", "invite_to_channel", "create_issue",
        "post_message", "record_incident", "find_runbooks", "list_pods", "exec_in_pod", "get_deployment",
    ]


def test_the_incident_scenario_never_restarts_or_scales():
    """The demo shows the proposed action; acting on it is the person's yes, not the scenario's."""
    writes = {"restart_deployment", "scale_deployment", "delete_pod", "run_in_pod"}
    assert not writes & set(scenario.load("incident").tools)


def test_each_first_check_is_an_allowlisted_diagnostic_and_in_the_skills_table():
    from paii_kubernetes.config import DEFAULT_EXEC_ALLOWLIST

    table = (ROOT / "skills/incident-response/references/troubleshooting.md").read_text()
    for check in scenario.load("incident").vars["checks"]:
        command = " ".join(check["argv"])
        assert command in DEFAULT_EXEC_ALLOWLIST, command
        assert f"`{command}`" in table, f"references/troubleshooting.md does not list {command}"


def test_the_first_check_is_picked_from_the_most_similar_root_cause():
    step = next(s for s in scenario.load("incident").steps if s.id == "check")
    scope = {"vars": scenario.load("incident").vars}
    pool = {**scope, "similar": {"hits": [{"root_cause": "Database connection pool exhaustion: a slow query"}]}}
    assert scenario.pick_item(step, pool)["argv"] == ["python", "manage.py", "dbstats"]
    disk = {**scope, "similar": {"hits": [{"root_cause": "The log volume ran out of disk"}]}}
    assert scenario.pick_item(step, disk)["argv"] == ["df", "-h"]
    nothing = {**scope, "similar": {"hits": []}}
    assert scenario.pick_item(step, nothing) is scenario._MISSING


def test_a_step_that_needs_a_later_step_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nskill: x\nsteps:\n  - {id: a, server: s, tool: t, needs: [b]}\n  - {id: b, server: s, tool: t}\n")
    with pytest.raises(ValueError, match="needs"):
        scenario.load(bad)


def test_expressions_keep_types_spread_lists_and_fall_back():
    scope = {"input": "500s", "people": [{"users": [{"id": "U1"}]}, {"users": [{"id": "U2"}]}], "inc": {"n": 7}}
    assert scenario.resolve("{people[*].users[0].id}", scope) == ["U1", "U2"]
    assert scenario.resolve("{people[-1].users[0].id}", scope) == "U2"
    assert scenario.resolve("On call: {people[*].users[0].id}.", scope) == "On call: U1, U2."
    assert scenario.resolve("- a\n{people[*].users[0].id}\n- b", scope) == "- a\nU1\nU2\n- b"
    assert scenario.resolve("{inc.n}", scope) == 7
    assert scenario.resolve("#{inc.n}: {missing.title ?? input}", scope) == "#7: 500s"
    assert scenario.resolve("{missing ?? 'none'}", scope) == "none"
    with pytest.raises(KeyError):
        scenario.resolve("{missing.x}", scope)


def test_a_list_entry_without_a_value_is_left_out_but_a_missing_argument_still_skips():
    scope = {"inc": {"url": "https://pd.example/1"}}
    links = [{"title": "PagerDuty", "url": "{inc.url}"}, {"title": "Slack", "url": "{channel.url}"}]
    assert scenario.resolve(links, scope) == [{"title": "PagerDuty", "url": "https://pd.example/1"}]
    with pytest.raises(KeyError):
        scenario.resolve(["{channel.id}"], scope)
    # a mapping that is an argument's value drops a key without a value; the argument itself stays required
    args = {"links": {"pagerduty": "{inc.url}", "slack": "#{channel.name}"}}
    assert scenario.resolve(args, scope) == {"links": {"pagerduty": "https://pd.example/1"}}
    with pytest.raises(KeyError):
        scenario.resolve({"channel": "{channel.id}"}, scope)


def test_expressions_pick_the_first_item_with_a_field_and_pass_marked_text_plain():
    scope = {"hits": [{"id": "INC-789"}, {"id": "INC-456", "root_cause": "pool"}],
             "inc": {"title": "‹untrusted: payments-api returning 500s›"}}
    assert scenario.resolve("{hits[?root_cause][0].id}", scope) == "INC-456"
    assert scenario.resolve("{inc.title}", scope) == "payments-api returning 500s"
    assert scenario.resolve("{inc.title}\nmore", scope) == "payments-api returning 500s\nmore"


class _Answer:
    def __init__(self, text: str = "", data=None, error: bool = False) -> None:
        from types import SimpleNamespace

        self.is_error, self.structured_content = error, data
        self.content = [SimpleNamespace(text=text)]


class _Server:
    """An MCP client stand-in answering each tool from a table (the runner's contract is call_tool)."""

    def __init__(self, answers: dict) -> None:
        self.answers, self.calls = answers, []

    async def call_tool(self, name, arguments=None):
        self.calls.append((name, arguments))
        return self.answers[name]


async def test_a_server_without_settings_is_skipped_for_the_rest_of_the_run(tmp_path):
    sc = tmp_path / "sc.yaml"
    sc.write_text("name: x\nskill: x\nsteps:\n  - {id: a, server: jira, tool: create_issue, args: {summary: s}}\n"
                  "  - {id: b, server: jira, tool: get_issue, args: {key: INC-1}}\n  - {id: c, server: other, tool: t}\n")
    jira = _Server({"create_issue": _Answer("Jira is not configured: set PAII_JIRA_URL (Claude Code: ...)", error=True)})
    other = _Server({"t": _Answer(data={"ok": True})})
    run = await scenario.run(scenario.load(sc), {"jira": jira, "other": other})
    assert run.outcomes["a"].status == "skipped" and run.outcomes["a"].reason == "Jira: not configured, skipped"
    assert run.outcomes["b"].status == "skipped" and len(jira.calls) == 1
    assert run.outcomes["c"].ok and not run.failed
