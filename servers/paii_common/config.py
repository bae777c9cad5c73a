"""Settings shared by every PAII server.

One settings model per server serves all three ways of configuring it:

1. Claude Code: plugin.json ``userConfig`` values are mapped into each server's
   environment by ``.mcp.json`` (sensitive ones live in Claude Code's credential store).
2. Any other MCP client: plain environment variables.
3. A ``.env`` file in the user's config folder (``paii_config_dir()/.env``).

Precedence is the usual pydantic-settings one: explicit arguments, then the
environment, then the ``.env`` file, then defaults. Nothing here touches the
network; reading the ``.env`` file is the only I/O, and it happens when a
settings object is built (inside ``main()``/``build_server``), never at import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_NAME = "paii"


def is_set(value: str | None) -> bool:
    """False for a missing or empty value, and for a ``${user_config.x}`` Claude Code left unexpanded."""
    return bool(value and value.strip()) and "${" not in value


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def paii_config_dir() -> Path:
    """Where the user's ``.env`` lives: ``$PAII_CONFIG_DIR`` or the platform config folder."""
    explicit = os.environ.get("PAII_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def paii_home() -> Path:
    """The data folder: ``$PAII_HOME``, else ``$CLAUDE_PLUGIN_DATA``, else the user data folder."""
    for var in ("PAII_HOME", "CLAUDE_PLUGIN_DATA"):
        value = os.environ.get(var)
        if is_set(value):  # an unexpanded placeholder is not a path
            return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def env_file() -> Path:
    return paii_config_dir() / ".env"


class PaiiSettings(BaseSettings):
    """Base settings: subclasses set ``env_prefix`` (``PAII_<SERVER>_``) and add their fields.

    Fields common to every server (``read_only``, ``home``) are read without the server prefix,
    so ``PAII_READ_ONLY=1`` switches every server to read-only at once.
    """

    model_config = SettingsConfigDict(extra="ignore", env_file_encoding="utf-8")

    #: server name, e.g. "history"; also the logger name and the plugin.toml folder
    server_name: ClassVar[str] = "paii"

    read_only: bool = Field(default=False, description="Drop every tool that writes (PAII_READ_ONLY=1).")
    home: Path = Field(default_factory=paii_home, description="Data folder (PAII_HOME).")
    #: deadlines (seconds) for one tool call that only reads / that writes: every upstream request
    #: and the whole call end within them (PAII_READ_TIMEOUT, PAII_WRITE_TIMEOUT; read without prefix)
    read_timeout: float = Field(default=15.0, gt=0, le=600, description="Deadline of a reading tool call, seconds.")
    write_timeout: float = Field(default=30.0, gt=0, le=600, description="Deadline of a writing tool call, seconds.")

    @model_validator(mode="before")
    @classmethod
    def _drop_unset_placeholders(cls, data: Any) -> Any:
        """An empty value, or a ``${user_config.x}`` Claude Code left unexpanded, means "not set"."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not is_set(v))}
        return data

    @classmethod
    def load(cls, **overrides: Any) -> PaiiSettings:
        """Build settings from overrides, the environment and the user's ``.env`` file."""
        env = os.environ
        base: dict[str, Any] = {}
        if "read_only" not in overrides and "PAII_READ_ONLY" in env:
            base["read_only"] = _truthy(env["PAII_READ_ONLY"])
        if "home" not in overrides:
            base["home"] = paii_home()
        for name, var in (("read_timeout", "PAII_READ_TIMEOUT"), ("write_timeout", "PAII_WRITE_TIMEOUT")):
            if name not in overrides and is_set(env.get(var)):
                base[name] = env[var]
        # an alias list (PAII_SLACK_TOKEN, SLACK_BOT_TOKEN): the first name that is really set wins,
        # so an empty placeholder in the preferred name does not hide a real value in the other
        for name, field in cls.model_fields.items():
            choices = getattr(field.validation_alias, "choices", None)
            if name in overrides or not choices:
                continue
            names = [c for c in choices if isinstance(c, str) and c.isupper()]
            first = next((n for n in names if is_set(env.get(n))), None)
            if first and first != names[0]:
                base[name] = env[first]
        path = env_file()
        kwargs: dict[str, Any] = {**base, **overrides}
        if path.is_file():
            kwargs["_env_file"] = path
        return cls(**kwargs)

    def secret_values(self) -> list[str]:
        """Every secret this settings object holds, for log and error redaction."""
        out = []
        for name in type(self).model_fields:
            value = getattr(self, name, None)
            if isinstance(value, SecretStr):
                raw = value.get_secret_value()
                if raw:
                    out.append(raw)
        return out


def secret_or_none(value: SecretStr | None) -> str | None:
    if value is None:
        return None
    raw = value.get_secret_value().strip()
    return raw or None
