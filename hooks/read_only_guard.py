#!/usr/bin/env python3
"""PreToolUse hook: in read-only mode, deny PAII MCP tools that write.

A tool reads when the first word of its name is a reading verb (list_incidents, get,
search, similar_incidents, recent, shift_activity, channel_digest, find_user, sprint_report, describe_pod,
exec_in_pod (allowlisted read-only diagnostics), usage_report ...);
everything else (capture, record_incident, acknowledge_incident, post_message ...) writes.
tests/plugin checks this rule against every server's read_only annotations.

Read-only is on when any of these says on (the servers' rule, paii_common.config):
  PAII_READ_ONLY, PAII_<SERVER>_READ_ONLY (the tool's server), in the environment or in the
  user's .env ($PAII_CONFIG_DIR/.env, else the platform config folder, ~/.config/paii/.env);
  Claude Code's plugin option read_only (CLAUDE_PLUGIN_OPTION_READ_ONLY for hooks).
On/off values, case-insensitive: on = 1 true t yes y on enable enabled; off = 0 false f no n
off disable disabled; empty or an unexpanded ${...} = not set. Anything else is not "off": the
hook denies writes and says which variable to fix (tests/plugin checks both parsers agree).
Reads are never blocked. Standard library only: it runs under the system python3.
"""

import json
import os
import re
import sys
from pathlib import Path

READ_VERBS = {"get", "list", "search", "find", "similar", "recent", "shift", "channel", "sprint", "describe", "exec", "query", "usage"}
PAII_TOOL = re.compile(r"^mcp__plugin_paii_(?P<server>[a-z0-9-]+?)__(?P<tool>[a-z0-9_]+)$")
ON = {"1", "true", "t", "yes", "y", "on", "enable", "enabled"}
OFF = {"0", "false", "f", "no", "n", "off", "disable", "disabled"}


class BadSwitch(ValueError):
    pass


def parse_switch(value):
    """True / False for a clear value, None when not set; BadSwitch otherwise."""
    if value is None:
        return None
    text = str(value)
    stripped = text.strip()
    if not stripped or "${" in text or (stripped.startswith("<") and stripped.endswith(">")):
        return None
    word = stripped.lower()
    if word in ON:
        return True
    if word in OFF:
        return False
    raise BadSwitch(text)


def is_write(tool_name: str) -> bool:
    m = PAII_TOOL.match(tool_name)
    return bool(m) and m["tool"].split("_")[0] not in READ_VERBS


def config_dir() -> Path:
    explicit = os.environ.get("PAII_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "paii"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home()) / "paii" / "paii"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "paii"


def read_dotenv(path: Path) -> dict:
    """KEY=VALUE lines (``export`` and quotes allowed, # comments); enough for PAII's switches."""
    out = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return out
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        out[key] = value
    return out


def read_only(server: str = ""):
    """(on, reason): reason names the variable and source that turned it on, or the bad value."""
    names = ["PAII_READ_ONLY", "PAII_USER_CONFIG_READ_ONLY"]
    if server:
        names.append(f"PAII_{server.upper().replace('-', '_')}_READ_ONLY")
    env_path = config_dir() / ".env"
    sources = [("the environment", os.environ), (str(env_path), read_dotenv(env_path))]
    sources.append(("Claude Code's plugin option read_only",
                    {"PAII_READ_ONLY": os.environ.get("CLAUDE_PLUGIN_OPTION_READ_ONLY")}))
    for where, values in sources:
        for name in names:
            try:
                if parse_switch(values.get(name)):
                    return True, f"{name} is on in {where}"
            except BadSwitch as exc:
                shown = "read_only" if where.startswith("Claude Code") else name
                return True, (f"{shown}={str(exc)[:40]!r} in {where} is neither on nor off (on: 1/true/yes/on, "
                              "off: 0/false/no/off), so PAII treats writes as blocked until it is fixed")
    return False, ""


def main() -> int:
    try:
        tool_name = json.load(sys.stdin).get("tool_name", "")
    except (ValueError, AttributeError):
        return 0
    if not is_write(tool_name):
        return 0
    on, reason = read_only(PAII_TOOL.match(tool_name)["server"])
    if on:
        print(json.dumps({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": (
                f"PAII is in read-only mode ({reason}), so {tool_name} was not run. "
                "Tell the person what you would have done; they can do it by hand, or turn "
                "read-only off there and restart Claude Code (`paii doctor` shows every source)."),
        }}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
