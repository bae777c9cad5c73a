"""Settings of the Jira server (``PAII_JIRA_*``; the token also as ``JIRA_API_TOKEN``).

Jira Cloud: ``PAII_JIRA_URL`` + ``PAII_JIRA_EMAIL`` + ``PAII_JIRA_TOKEN`` (an Atlassian API token),
REST v3. Jira Server / Data Center: ``PAII_JIRA_URL`` + ``PAII_JIRA_PAT`` (a personal access
token), REST v2. Nothing else is ever used as a credential.

``PAII_JIRA_TEAMS`` maps team names to boards and, after ``#``, the Slack channel the team's
status goes to: ``Team Infra=84#team-infra-status,Team Core=12`` or JSON (``{"Team Infra": 84}``,
``{"Team Infra": {"board": 84, "channel": "#team-infra-status"}}``).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator

from pydantic_settings import NoDecode, SettingsConfigDict

from paii_common.config import PaiiSettings, secret_or_none

FIELD_ID = re.compile(r"^(customfield_\d+|[a-z][A-Za-z]*)$")


def team_board(entry: str) -> str:
    """The board of a team entry (``84#team-infra-status`` -> ``84``)."""
    return entry.split("#", 1)[0].strip()


def team_channel(entry: str) -> str | None:
    """The status channel of a team entry (``84#team-infra-status`` -> ``#team-infra-status``), if any."""
    name = entry.partition("#")[2].strip()
    return f"#{name}" if name else None


def _entry(value: object) -> object:
    """A JSON team value: a board, or {"board": ..., "channel": ...} -> ``board#channel``."""
    if isinstance(value, dict):
        board, channel = str(value.get("board") or "").strip(), str(value.get("channel") or "").strip().lstrip("#")
        return f"{board}#{channel}" if channel else board
    return value


def parse_teams(value: object) -> dict[str, str]:
    """``"Team Infra=84#team-infra-status, Team Core=Core board"`` or JSON -> {"team infra":
    "84#team-infra-status", ...} (keys lowercased; :func:`team_board` and :func:`team_channel` read a value)."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        pairs = [(k, _entry(v)) for k, v in value.items()]
    else:
        text = str(value).strip()
        if text.startswith("{"):
            try:
                pairs = [(k, _entry(v)) for k, v in json.loads(text).items()]
            except (ValueError, AttributeError) as exc:
                raise ValueError(f"PAII_JIRA_TEAMS is not valid JSON: {exc}") from None
        else:
            pairs = []
            for part in re.split(r"[,;\n]", text):
                if not part.strip():
                    continue
                name, sep, board = part.partition("=")
                if not sep or not name.strip() or not board.strip():
                    raise ValueError(f"PAII_JIRA_TEAMS entry {part.strip()!r} is not 'Team name=board id or name', "
                                     "optionally followed by #status-channel")
                pairs.append((name, board))
    return {str(k).strip().lower(): str(v).strip() for k, v in pairs if str(k).strip() and str(v).strip()}


class JiraSettings(PaiiSettings):
    model_config = SettingsConfigDict(env_prefix="PAII_JIRA_", extra="ignore", populate_by_name=True)
    server_name: ClassVar[str] = "jira"

    url: str | None = Field(default=None, description="Site URL, e.g. https://your-team.atlassian.net.")
    email: str | None = Field(default=None, description="Atlassian account email (Cloud).")
    token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PAII_JIRA_TOKEN", "JIRA_API_TOKEN"),
        description="Atlassian API token of that account (Cloud).",
    )
    pat: SecretStr | None = Field(default=None, description="Personal access token (Server / Data Center).")
    project: str | None = Field(default=None, description="Default project key for create_issue (e.g. INC).")
    incident_type: str = Field(default="Incident", description="Issue type create_issue uses by default.")
    board: str | None = Field(default=None, description="Default board id or name for sprint_report.")
    teams: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict,
                                                        description="Team name -> board id or name[#status channel].")
    story_points_field: str | None = Field(default=None, description="Override: field id of story points.")
    epic_field: str | None = Field(default=None, description="Override: field id of the epic link (Data Center).")
    sprint_field: str | None = Field(default=None, description="Override: field id of the sprint field.")

    @field_validator("url", mode="after")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("PAII_JIRA_URL must start with https:// (e.g. https://your-team.atlassian.net)")
        return value

    @field_validator("email", "project", "board", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        return value or None

    @field_validator("project", mode="after")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else None

    @field_validator("teams", mode="before")
    @classmethod
    def _teams(cls, value: object) -> dict[str, str]:
        return parse_teams(value)

    @field_validator("story_points_field", "epic_field", "sprint_field", mode="after")
    @classmethod
    def _field_id(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if value and not FIELD_ID.match(value):
            raise ValueError(f"{value!r} is not a Jira field id (like customfield_10016)")
        return value or None

    @property
    def token_value(self) -> str | None:
        return secret_or_none(self.token)

    @property
    def pat_value(self) -> str | None:
        return secret_or_none(self.pat)

    @property
    def cloud(self) -> bool:
        """A personal access token means Server / Data Center (REST v2); otherwise Cloud (REST v3)."""
        return not (self.pat_value and not self.token_value)
