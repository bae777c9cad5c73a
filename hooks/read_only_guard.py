#!/usr/bin/env python3
"""PreToolUse hook: when PAII_READ_ONLY=1, deny PAII MCP tools that write.

A tool reads when the first word of its name is a reading verb (list_incidents, get,
search, similar_incidents, recent, shift_activity, channel_digest, find_user, describe_pod,
exec_in_pod (allowlisted read-only diagnostics) ...);
everything else (capture, record_incident, acknowledge_incident, post_message ...) writes.
tests/plugin checks this rule against every server's read_only annotations.
Reads are never blocked; without PAII_READ_ONLY this hook does nothing. Standard library only.
"""

import json
import os
import re
import sys

READ_VERBS = {"get", "list", "search", "find", "similar", "recent", "shift", "channel", "describe", "exec"}
PAII_TOOL = re.compile(r"^mcp__plugin_paii_[a-z0-9_-]+?__(?P<tool>[a-z0-9_]+)$")


def is_write(tool_name: str) -> bool:
    m = PAII_TOOL.match(tool_name)
    return bool(m) and m["tool"].split("_")[0] not in READ_VERBS


def read_only() -> bool:
    return os.environ.get("PAII_READ_ONLY", "").strip().lower() in {"1", "true", "yes", "on"}


def main() -> int:
    if not read_only():
        return 0
    try:
        tool_name = json.load(sys.stdin).get("tool_name", "")
    except (ValueError, AttributeError):
        return 0
    if is_write(tool_name):
        print(json.dumps({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": (
                f"PAII is in read-only mode (PAII_READ_ONLY=1), so {tool_name} was not run. "
                "Tell the person what you would have done; they can do it by hand or unset "
                "PAII_READ_ONLY and restart Claude Code."),
        }}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
