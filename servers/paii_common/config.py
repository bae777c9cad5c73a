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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_NAME = "paii"


def is_set(value: str | None) -> bool:
    """False for a missing or empty value, a ``${user_config.x}`` Claude Code left unexpanded, and a
    ``<placeholder>`` left in a config snippet (``paii config snippet`` writes ``<your ... token>``)."""
    if not (value and value.strip()) or "${" in value:
        return False
    text = value.strip()
    return not (text.startswith("<") and text.endswith(">"))


#: the one rule for on/off settings (PAII_READ_ONLY and any other switch), case-insensitive,
#: surrounding spaces ignored. ``hooks/read_only_guard.py`` (stdlib only) repeats it and a test
#: checks the two agree. Missing, empty or an unexpanded ``${...}`` placeholder means "not set".
#: Anything else is an error, never "off": ``PAII_READ_ONLY=maybe`` stops the server at start.
SWITCH_ON = frozenset({"1", "true", "t", "yes", "y", "on", "enable", "enabled"})
SWITCH_OFF = frozenset({"0", "false", "f", "no", "n", "off", "disable", "disabled"})
SWITCH_ACCEPTED = "on = 1, true, yes, y, on, enabled; off = 0, false, no, n, off, disabled (empty = not set)"


class SettingError(ValueError):
    """A setting has a value PAII does not accept. The message is one line: variable, source, accepted values."""

    def __init__(self, variable: str, value: str, source: str, accepted: str) -> None:
        shown = value if len(value) <= 40 else value[:40] + "..."
        super().__init__(f"{variable}={shown!r} ({source}) is not accepted: use {accepted}.")
        self.variable = variable
        self.source = source


def parse_switch(value: Any, *, variable: str = "value", source: str = "") -> bool | None:
    """``True``/``False`` for a clear on/off value, ``None`` when not set; :class:`SettingError` otherwise."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value)
    if not is_set(text):
        return None
    word = text.strip().lower()
    if word in SWITCH_ON:
        return True
    if word in SWITCH_OFF:
        return False
    raise SettingError(variable, text, source or "value", SWITCH_ACCEPTED)


def paii_config_dir() -> Path:
    """Where the user's ``.env`` lives: ``$PAII_CONFIG_DIR`` or the platform config folder."""
    explicit = os.environ.get("PAII_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def paii_home() -> Path:
    """The data home, the one folder every PAII process uses for history, runbooks and runs:
    ``$PAII_HOME``, else the per-user data folder (``~/.local/share/paii`` on Linux,
    ``~/Library/Application Support/paii`` on macOS). The same for the CLI, the plugin's servers
    and other editors' servers; Claude Code's plugin data folder holds only the plugin's own
    files (its venvs), never this. This function is the rule: everything else asks it."""
    value = os.environ.get("PAII_HOME")
    if is_set(value):  # an empty value or an unexpanded placeholder is not a path
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def env_file() -> Path:
    return paii_config_dir() / ".env"


def read_dotenv(path: Path | None = None) -> dict[str, str]:
    """The user's ``.env`` as a dict (empty when there is none). Reading it is the only I/O here."""
    path = env_file() if path is None else path
    if not path.is_file():
        return {}
    from dotenv import dotenv_values  # python-dotenv comes with pydantic-settings

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


#: what Claude Code's ``userConfig.read_only`` becomes in each server's environment (.mcp.json).
#: Not ``PAII_READ_ONLY`` itself: Claude Code substitutes an unset option with "", and that would
#: replace a ``PAII_READ_ONLY=1`` the person exported in the shell that started Claude Code.
USER_CONFIG_READ_ONLY = "PAII_USER_CONFIG_READ_ONLY"


@dataclass(frozen=True)
class SwitchSource:
    """One place that sets a switch: the variable, where it was found, and what it says."""

    variable: str
    source: str  # "environment", "Claude Code userConfig read_only", ".env file /path/.env"
    on: bool

    def describe(self) -> str:
        return f"{self.variable}={'on' if self.on else 'off'} ({self.source})"


def read_only_variables(prefix: str = "") -> tuple[str, ...]:
    """The variables that can switch read-only on: shared, Claude Code's, and the server's own."""
    names = ["PAII_READ_ONLY", USER_CONFIG_READ_ONLY]
    if prefix and prefix != "PAII_":
        names.append(f"{prefix}READ_ONLY")
    return tuple(names)


def read_only_sources(
    prefix: str = "", env: Mapping[str, str] | None = None, dotenv: Mapping[str, str] | None = None
) -> list[SwitchSource]:
    """Every source that sets read-only (on or off), checked with :func:`parse_switch`.

    The rule: read-only is ON when any source says on (environment, the ``.env`` file, Claude
    Code's ``userConfig``, the server's prefixed variable); a later "off" never cancels an earlier
    "on", so a ``false`` from one place cannot silently undo a ``1`` in another. A value that is
    neither on nor off raises :class:`SettingError`.
    """
    env = os.environ if env is None else env
    dotenv = read_dotenv() if dotenv is None else dotenv
    found = []
    for var in read_only_variables(prefix):
        where = "Claude Code userConfig read_only" if var == USER_CONFIG_READ_ONLY else "environment"
        for source, values in ((where, env), (f".env file {env_file()}", dotenv)):
            value = parse_switch(values.get(var), variable=var, source=source)
            if value is not None:
                found.append(SwitchSource(var, source, value))
    return found


def read_only_on(prefix: str = "", env: Mapping[str, str] | None = None, dotenv: Mapping[str, str] | None = None) -> bool:
    return any(s.on for s in read_only_sources(prefix, env, dotenv))


class PaiiSettings(BaseSettings):
    """Base settings: subclasses set ``env_prefix`` (``PAII_<SERVER>_``) and add their fields.

    Fields common to every server (``read_only``, ``home``) are read without the server prefix,
    so ``PAII_READ_ONLY=1`` switches every server to read-only at once. Read-only is on when any
    of ``PAII_READ_ONLY``, ``PAII_USER_CONFIG_READ_ONLY`` (Claude Code's userConfig) or the
    server's ``PAII_<SERVER>_READ_ONLY`` says on, in the environment or in the ``.env`` file
    (:func:`read_only_sources`); a value that is neither on nor off stops :meth:`load`.
    """

    model_config = SettingsConfigDict(extra="ignore", env_file_encoding="utf-8")

    #: server name, e.g. "history"; also the logger name and the plugin.toml folder
    server_name: ClassVar[str] = "paii"

    read_only: bool = Field(default=False, description="Drop every tool that writes (PAII_READ_ONLY=1; see read_only_sources).")
    home: Path = Field(default_factory=paii_home, description="Data folder (PAII_HOME).")
    #: deadlines (seconds) for one tool call that only reads / that writes: every upstream request
    #: and the whole call end within them (PAII_READ_TIMEOUT, PAII_WRITE_TIMEOUT; read without prefix)
    read_timeout: float = Field(default=15.0, gt=0, le=600, description="Deadline of a reading tool call, seconds.")
    write_timeout: float = Field(default=30.0, gt=0, le=600, description="Deadline of a writing tool call, seconds.")

    @field_validator("read_only", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> bool:
        """The one on/off rule (:func:`parse_switch`), also when a settings object is built directly."""
        return bool(parse_switch(value, variable="read_only", source="setting"))

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
        if "read_only" not in overrides:  # any source that says on wins; a bad value raises SettingError
            base["read_only"] = read_only_on(cls.model_config.get("env_prefix", ""), env)
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


def describe_settings_error(exc: Exception, settings_class: type[PaiiSettings] | None = None) -> str:
    """One line for a setting that stops a server or the CLI: which variable, what is wrong."""
    if isinstance(exc, SettingError):
        return str(exc)
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if settings_class is None:  # the CLI: find the model by the name pydantic gives
        title, todo = getattr(exc, "title", None), [PaiiSettings]
        while todo and settings_class is None:
            cls = todo.pop()
            settings_class = cls if cls.__name__ == title else None
            todo.extend(cls.__subclasses__())
    prefix = settings_class.model_config.get("env_prefix", "") if settings_class else "PAII_"
    shared = set(PaiiSettings.model_fields)
    parts = []
    for err in errors():
        field = str(err.get("loc", ("?",))[0])
        if field.isupper():  # an alias such as PAII_CHROMA_URL is already the variable
            var = field
        else:
            var = f"PAII_{field.upper()}" if field in shared else f"{prefix}{field.upper()}"
        value = err.get("input")
        shown = f"={value!r}" if isinstance(value, (str, int, float)) and len(str(value)) <= 40 else ""
        parts.append(f"{var}{shown}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) + " (environment or .env file " + str(env_file()) + ")."
