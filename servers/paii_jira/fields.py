"""Custom fields differ per site: find story points, sprint, epic link and flagged in the field list.

Found by schema first (the Jira Software field types), then by name; a setting overrides each
(``PAII_JIRA_STORY_POINTS_FIELD``, ``PAII_JIRA_SPRINT_FIELD``, ``PAII_JIRA_EPIC_FIELD``), and a board's
own estimation field (its configuration) wins for that board's report. The field list is read
once per session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paii_jira.config import JiraSettings

GH = "com.pyxis.greenhopper.jira:"
STORY_POINT_TYPES = (GH + "jsw-story-points",)
STORY_POINT_NAMES = ("story point estimate", "story points", "story points estimate", "story point", "points")
NUMBER_TYPES = ("com.atlassian.jira.plugin.system.customfieldtypes:float",)


@dataclass(frozen=True)
class FieldMap:
    story_points: str | None = None
    story_points_name: str | None = None
    sprint: str | None = None
    epic_link: str | None = None
    flagged: str | None = None

    def extra(self) -> list[str]:
        return [f for f in (self.story_points, self.sprint, self.epic_link, self.flagged) if f]

    def with_points(self, field_id: str | None, name: str | None) -> FieldMap:
        if not field_id or field_id == self.story_points:
            return self
        return FieldMap(field_id, name or field_id, self.sprint, self.epic_link, self.flagged)


def _custom(f: dict[str, Any]) -> str:
    return str((f.get("schema") or {}).get("custom") or "")


def _name(f: dict[str, Any]) -> str:
    return str(f.get("name") or "").strip().lower()


def discover(fields: list[dict[str, Any]], settings: JiraSettings) -> FieldMap:
    by_id = {str(f.get("id")): f for f in fields if f.get("id")}

    def pick(override: str | None, types: tuple[str, ...], names: tuple[str, ...], numeric: bool = False) -> str | None:
        if override:
            return override
        for t in types:
            hit = next((i for i, f in by_id.items() if _custom(f) == t), None)
            if hit:
                return hit
        for n in names:
            hit = next((i for i, f in by_id.items() if _name(f) == n
                        and (not numeric or _custom(f) in NUMBER_TYPES + STORY_POINT_TYPES
                             or (f.get("schema") or {}).get("type") == "number")), None)
            if hit:
                return hit
        return None

    points = pick(settings.story_points_field, STORY_POINT_TYPES, STORY_POINT_NAMES, numeric=True)
    if points is None:  # any number field whose name says story points ("SP (story points)")
        points = next((i for i, f in by_id.items() if "story point" in _name(f)), None)
    return FieldMap(
        story_points=points,
        story_points_name=(by_id.get(points) or {}).get("name") or points,
        sprint=pick(settings.sprint_field, (GH + "gh-sprint",), ("sprint",)),
        epic_link=pick(settings.epic_field, (GH + "gh-epic-link",), ("epic link",)),
        flagged=pick(None, (), ("flagged",)),
    )
