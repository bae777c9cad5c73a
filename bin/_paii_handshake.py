"""A server's packaged answers (servers/paii_<name>/handshake.json, made by `python -m
paii_common.handshake`), adjusted to this process's settings the way the server adjusts them:
read-only mode drops every tool whose readOnlyHint is not true, and a setting the instructions
name (Slack's stakeholder channel) is filled in. Standard library only; the settings rules come
from hooks/paii_hooks (is_set, the .env file), which the hooks share.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def _hooks(root: Path):
    """paii_hooks (hooks/, standard library): the settings rules the hooks share (is_set, .env)."""
    hooks = str(root / "hooks")
    if hooks not in sys.path:
        sys.path.insert(0, hooks)
    import paii_hooks

    return paii_hooks


class Handshake:
    """A server's packaged answers, adjusted to the settings of this process."""

    def __init__(self, doc: dict[str, Any], root: Path, env: dict[str, str] | None = None) -> None:
        self.doc = doc
        self.env = os.environ if env is None else env
        self.hooks = _hooks(root)

    def _setting(self, name: str) -> str | None:
        """A value from the environment, else the user's .env; None when not set."""
        value = self.env.get(name)
        if self.hooks.is_set(value):
            return value
        value = self.hooks.read_dotenv_value(name)
        return value if self.hooks.is_set(value) else None

    def read_only(self) -> bool:
        """paii_common.config.read_only_sources' rule: on when any source says on. A value that is
        neither on nor off stops the real server; until a call shows that, the front offers only
        the readers (never more tools than the server would)."""
        names = ["PAII_READ_ONLY", "PAII_USER_CONFIG_READ_ONLY"]
        prefix = self.doc.get("env_prefix") or ""
        if prefix and prefix != "PAII_":
            names.append(f"{prefix}READ_ONLY")
        for name in names:
            for value in (self.env.get(name), self.hooks.read_dotenv_value(name)):
                if not self.hooks.is_set(value):
                    continue
                word = str(value).strip().lower()
                if word not in self.hooks.OFF:
                    return True
        return False

    def negotiate(self, requested: Any) -> str:
        versions = self.doc["protocol_versions"]
        return requested if requested in versions else versions[-1]

    def initialize(self, requested: Any) -> dict[str, Any]:
        result = json.loads(json.dumps(self.doc["initialize"]))
        result["protocolVersion"] = self.negotiate(requested)
        for rule in self.doc.get("instructions_settings", ()):
            value = next((v for v in map(self._setting, rule["env"]) if v), None)
            if value and value.strip():
                result["instructions"] = (result.get("instructions") or "") + rule["append"].replace("{value}", value.strip())
        return result

    def answer(self, method: str, version: str) -> dict[str, Any] | None:
        results = {**self.doc["results"], **self.doc.get("by_version", {}).get(version, {})}
        if method == "ping":
            return {}
        if method not in results:
            return None
        result = json.loads(json.dumps(results[method]))
        if method == "tools/list" and self.read_only():
            result["tools"] = [t for t in result["tools"] if (t.get("annotations") or {}).get("readOnlyHint") is True]
        return result


def load_handshake(root: Path, server: str) -> dict[str, Any] | None:
    """servers/paii_<server>/handshake.json, or None (then the launcher runs the server itself)."""
    try:
        doc = json.loads((root / "servers" / f"paii_{server}" / "handshake.json").read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == 1 else None
