"""Who a sprint's blockers wait on: the team (or the person) behind each issue they are blocked by.

A blocking issue in another project waits on that project's team (its component when it has one:
"Security team"); one in the team's own project waits on its assignee. Read with one search for
all the blocking issues of a report. Names are other people's text: they pass through ``short``.
"""

from __future__ import annotations

from typing import Any

from paii_common.untrusted import short

from paii_jira import history as h
from paii_jira.client import JiraClient, JiraError

FIELDS = ["project", "assignee", "components"]


def _team(name: str) -> str:
    return name if name.lower().endswith("team") else f"{name} team"


def who(issue: dict[str, Any], own_project: str | None) -> str | None:
    """``Security team (SEC-45, assigned to Priya Shah)`` for one blocking issue (its fields read)."""
    f = issue.get("fields") or {}
    project = f.get("project") or {}
    person = h.name_of(f.get("assignee"))
    components = [c.get("name") for c in f.get("components") or [] if c.get("name")]
    key = issue.get("key") or "?"
    if project.get("key") and project.get("key") != own_project:
        team = _team(str(components[0] if components else project.get("name") or project["key"]))
        return short(team, 60) + f" ({key}" + (f", assigned to {short(person, 60)})" if person else ", unassigned)")
    if person:
        return short(person, 60) + f" ({key})"
    return f"whoever picks up {key} (unassigned)"


def waiting_on(client: JiraClient, blocked: list[dict[str, Any]]) -> dict[str, list[str]]:
    """{blocked issue key: [who each of its open blocking issues waits on]}; empty when Jira says no."""
    links = {i["key"]: [o.get("key") for o in h.blocking_links(i) if o.get("key")] for i in blocked}
    keys = sorted({k for ks in links.values() for k in ks})
    if not keys:
        return {}
    try:
        found, _, _ = client.search_all(f"key in ({', '.join(keys)})", FIELDS, max_pages=1)
    except JiraError:
        return {}
    by_key = {i.get("key"): i for i in found}
    out = {}
    for key, blockers in links.items():
        own = key.split("-", 1)[0]
        names = [w for k in blockers if k in by_key and (w := who(by_key[k], own))]
        if names:
            out[key] = names
    return out
