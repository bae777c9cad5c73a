"""Reading an issue's changelog and fields: blocked signals and since when, scope changes, carry-over.

Pure functions over Jira's JSON (no I/O), so the report's arithmetic is testable on its own.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from paii_common.untrusted import short

BLOCKED_STATUS = re.compile(r"block|imped", re.I)
DONE, IN_PROGRESS, TO_DO = "done", "indeterminate", "new"
CATEGORY_NAMES = {DONE: "Done", IN_PROGRESS: "In Progress", TO_DO: "To Do"}
_SPRINT_STR = re.compile(r"\bid=(\d+).*?\bstate=(\w+).*?\bname=([^,\]]*)", re.S)


def parse_time(value: Any) -> datetime | None:
    """Jira's ``2025-12-16T09:00:00.000+0000`` (and ISO forms) as an aware datetime."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    m = re.match(r"(.*[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)([+-]\d\d)(\d\d)$", text)
    if m:  # +0000 -> +00:00
        text = f"{m.group(1)}{m.group(2)}:{m.group(3)}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def category(issue: dict[str, Any]) -> str:
    status = (issue.get("fields") or {}).get("status") or {}
    key = str((status.get("statusCategory") or {}).get("key") or TO_DO)
    return key if key in CATEGORY_NAMES else IN_PROGRESS  # unknown categories count as open work


def name_of(person: Any) -> str | None:
    if isinstance(person, dict):
        return person.get("displayName") or person.get("name") or person.get("accountId")
    return None


def sprints_of(value: Any) -> list[dict[str, Any]]:
    """The sprint field's value as [{id, name, state}] (Cloud objects or Data Center's strings)."""
    out = []
    for item in value or []:
        if isinstance(item, dict) and "id" in item:
            out.append({"id": int(item["id"]), "name": str(item.get("name") or item["id"]),
                        "state": str(item.get("state") or "").lower()})
        elif isinstance(item, str):
            m = _SPRINT_STR.search(item)
            if m:
                out.append({"id": int(m.group(1)), "state": m.group(2).lower(), "name": m.group(3)})
    return out


def items(histories: list[dict[str, Any]], field: str) -> list[tuple[datetime, dict[str, Any]]]:
    """Changelog items of one field (case-insensitive name or id), oldest first."""
    field = field.lower()
    out = []
    for h in histories:
        when = parse_time(h.get("created"))
        if when is None:
            continue
        for it in h.get("items") or []:
            if str(it.get("field") or "").lower() == field or str(it.get("fieldId") or "").lower() == field:
                out.append((when, it))
    out.sort(key=lambda pair: pair[0])
    return out


def blocking_links(issue: dict[str, Any]) -> list[dict[str, Any]]:
    """Open issues this one "is blocked by" (the inward side of a Blocks-type link)."""
    out = []
    for link in (issue.get("fields") or {}).get("issuelinks") or []:
        kind = link.get("type") or {}
        other = link.get("inwardIssue")
        if not other or "blocked by" not in str(kind.get("inward") or "").lower():
            continue
        status = (other.get("fields") or {}).get("status") or {}
        if ((status.get("statusCategory") or {}).get("key")) == DONE:
            continue
        out.append(other)
    return out


def is_flagged(issue: dict[str, Any], flagged_field: str | None) -> bool:
    fields = issue.get("fields") or {}
    if fields.get("flagged") is True:  # the agile API's own field
        return True
    return bool(flagged_field and fields.get(flagged_field))


def blocked_signals(issue: dict[str, Any], flagged_field: str | None) -> list[str]:
    if category(issue) == DONE:
        return []
    fields = issue.get("fields") or {}
    signals = []
    if is_flagged(issue, flagged_field):
        signals.append("flagged")
    if blocking_links(issue):
        signals.append("blocked_by_link")
    if BLOCKED_STATUS.search(str((fields.get("status") or {}).get("name") or "")):
        signals.append("status")
    if any(str(label).lower() == "blocked" for label in fields.get("labels") or []):
        signals.append("label")
    return signals


def blocked_since(issue: dict[str, Any], histories: list[dict[str, Any]], signals: list[str],
                  flagged_field: str | None) -> datetime | None:
    """When the issue became blocked: the earliest start among its current signals, from the changelog."""
    fields = issue.get("fields") or {}
    created = parse_time(fields.get("created"))
    starts: list[datetime] = []
    if "status" in signals:
        current = str((fields.get("status") or {}).get("name") or "")
        moves = [w for w, it in items(histories, "status") if str(it.get("toString") or "") == current]
        if moves or created:
            starts.append(moves[-1] if moves else created)
    if "flagged" in signals:
        sets = [w for w, it in items(histories, flagged_field or "flagged") + items(histories, "flagged")
                if str(it.get("toString") or "").strip()]
        if sets or created:
            starts.append(max(sets) if sets else created)
    if "label" in signals:
        adds = [w for w, it in items(histories, "labels")
                if "blocked" in str(it.get("toString") or "").lower().split()
                and "blocked" not in str(it.get("fromString") or "").lower().split()]
        if adds or created:
            starts.append(adds[-1] if adds else created)
    if "blocked_by_link" in signals:
        keys = {str(o.get("key")) for o in blocking_links(issue)}
        adds = [w for w, it in items(histories, "link")
                if "blocked by" in str(it.get("toString") or "").lower()
                and any(k in str(it.get("toString") or "") for k in keys)]
        if adds:
            starts.append(min(adds))
    starts = [s for s in starts if s is not None]
    return min(starts) if starts else None


def escalation(histories: list[dict[str, Any]], comments: list[dict[str, Any]], since: datetime | None) -> str | None:
    """The first comment or priority change after ``since``, described; None if there was none."""
    if since is None:
        return None
    events = []
    for when, it in items(histories, "priority"):
        if when > since:
            events.append((when, f"priority {short(it.get('fromString')) or '?'} -> {short(it.get('toString')) or '?'} on {when:%Y-%m-%d}"))
    for c in comments:
        when = parse_time(c.get("created"))
        if when and when > since:
            events.append((when, f"comment by {short(name_of(c.get('author'))) or 'someone'} on {when:%Y-%m-%d}"))
    events.sort(key=lambda e: e[0])
    return events[0][1] if events else None


def added_to_sprint(issue: dict[str, Any], histories: list[dict[str, Any]], sprint_id: int,
                    sprint_field: str | None) -> datetime | None:
    """When the issue joined the sprint: the last Sprint change that added it, else its creation."""
    joined = None
    for when, it in items(histories, sprint_field or "sprint") + items(histories, "sprint"):
        before = {s.strip() for s in str(it.get("from") or "").split(",") if s.strip()}
        after = {s.strip() for s in str(it.get("to") or "").split(",") if s.strip()}
        if str(sprint_id) in after and str(sprint_id) not in before:
            joined = when if joined is None else max(joined, when)
    return joined or parse_time((issue.get("fields") or {}).get("created"))


def points_of(issue: dict[str, Any], field: str | None) -> float | None:
    if not field:
        return None
    value = (issue.get("fields") or {}).get(field)
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
