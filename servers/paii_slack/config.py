"""Settings of the Slack server (env prefix ``PAII_SLACK_``; also the usual ``SLACK_BOT_TOKEN``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from paii_common.config import PaiiSettings, secret_or_none

DEFAULT_URL = "https://slack.com/api/"


class SlackSettings(PaiiSettings):
    model_config = SettingsConfigDict(env_prefix="PAII_SLACK_", extra="ignore", populate_by_name=True)
    server_name: ClassVar[str] = "slack"

    token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PAII_SLACK_TOKEN", "SLACK_BOT_TOKEN"),
        description="Bot token (xoxb-...).",
    )
    user_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PAII_SLACK_USER_TOKEN", "SLACK_USER_TOKEN"),
        description="User token (xoxp-...), needed for search and to find mentions of you.",
    )
    url: str | None = Field(default=DEFAULT_URL, description="Web API base URL (tests point it at a mock).")
    stakeholder_channel: str | None = Field(
        default=None, description="Where stakeholder status updates go, e.g. #incidents (post_message channel='stakeholders').")
    # (request timeouts: PAII_READ_TIMEOUT / PAII_WRITE_TIMEOUT, shared by every server)

    @field_validator("url", mode="after")
    @classmethod
    def _trailing_slash(cls, value: str | None) -> str:
        value = (value or "").strip() or DEFAULT_URL
        return value if value.endswith("/") else value + "/"

    @field_validator("stakeholder_channel", mode="after")
    @classmethod
    def _blank_channel(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        return value if value and "${" not in value else None

    @property
    def bot_token(self) -> str | None:
        return secret_or_none(self.token)

    @property
    def user_token_value(self) -> str | None:
        return secret_or_none(self.user_token)
