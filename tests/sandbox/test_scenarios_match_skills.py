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


def test_the_incident_scenario_is_the_skills_declaration_flow():
    assert scenario.load("incident").tools == [
        "list_services", "list_incidents", "get_incident", "similar_incidents", "list_oncalls", "find_user",
        "list_maintenance_windows", "acknowledge_incident", "create_channel", "invite_to_channel", "post_message",
    ]


def test_a_step_that_needs_a_later_step_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nskill: x\nsteps:\n  - {id: a, server: s, tool: t, needs: [b]}\n  - {id: b, server: s, tool: t}\n")
    with pytest.raises(ValueError, match="needs"):
        scenario.load(bad)


def test_expressions_keep_types_spread_lists_and_fall_back():
    scope = {"input": "500s", "people": [{"users": [{"id": "U1"}]}, {"users": [{"id": "U2"}]}], "inc": {"n": 7}}
    assert scenario.resolve("{people[*].users[0].id}", scope) == ["U1", "U2"]
    assert scenario.resolve("{inc.n}", scope) == 7
    assert scenario.resolve("#{inc.n}: {missing.title ?? input}", scope) == "#7: 500s"
    assert scenario.resolve("{missing ?? 'none'}", scope) == "none"
    with pytest.raises(KeyError):
        scenario.resolve("{missing.x}", scope)
