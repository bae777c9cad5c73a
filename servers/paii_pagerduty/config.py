"""Settings for the PagerDuty server (``PAII_PAGERDUTY_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from paii_common.config import PaiiSettings, secret_or_none

DEFAULT_URL = "https://api.pagerduty.com"


class PagerDutySettings(PaiiSettings):
    """``PAII_PAGERDUTY_TOKEN`` (or ``PAGERDUTY_API_KEY``), ``PAII_PAGERDUTY_FROM``, ``PAII_PAGERDUTY_URL``."""

    model_config = SettingsConfigDict(
        env_prefix="PAII_PAGERDUTY_",
        extra="ignore",
        env_file_encoding="utf-8",
        populate_by_name=True,
    )

    server_name: ClassVar[str] = "pagerduty"

    token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PAII_PAGERDUTY_TOKEN", "PAGERDUTY_API_KEY"),
        description="REST API token (user or account level).",
    )
    from_email: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PAII_PAGERDUTY_FROM"),
        description="Email of a PagerDuty user; PagerDuty requires it on every write.",
    )
    url: str = Field(default=DEFAULT_URL, description="REST API base URL (tests point it at a local server).")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("PAII_PAGERDUTY_URL must start with https:// or http://")
        return value

    @field_validator("from_email")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        return value or None

    @property
    def token_value(self) -> str | None:
        return secret_or_none(self.token)
