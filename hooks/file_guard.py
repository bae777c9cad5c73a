#!/usr/bin/env python3
"""PreToolUse hook on Claude Code's file tools (Read, Write, Edit, MultiEdit, NotebookEdit, Grep):
Claude Code asks the person before the assistant reads or changes PAII's runbook run state or its
approval key, changes Claude Code's settings or an installed plugin's files (an Elicitation or
PreToolUse hook there would answer every approval), or changes the PAII guard's own settings.

Claude Code sends the call as JSON on stdin (tool_name, tool_input.file_path / notebook_path /
path, cwd). The path is resolved as the tool will open it (relative to cwd, ``~``, symbolic
links followed) and checked with hooks/paii_hooks/protected.py, the same rules the Bash guard
uses. A question is ``permissionDecision: "ask"`` with the reason (in ``claude -p`` there is no
one to ask: the call is not made). Anything else passes silently. These rules are locked: the
person's guard.toml cannot turn them off. Standard library only, under the system python3.
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # until bytecode_cache() points it at PAII's data folder
from paii_hooks import bytecode_cache  # noqa: E402 (before the other hook modules are imported)

bytecode_cache()

MAX_STDIN = 4 * 1024 * 1024
WRITES = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
READS = frozenset({"Read", "Grep"})
GUARD_SETTINGS = ("guard.toml", "guard.json")


def ask(reason):
    print(json.dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "ask",
                                             "permissionDecisionReason": reason}}))
    return 0


def target(tool, tool_input, cwd):
    """The path the tool opens, absolute; None when there is none."""
    path = tool_input.get("notebook_path") if tool == "NotebookEdit" else tool_input.get("file_path")
    if tool == "Grep":
        path = tool_input.get("path") or cwd
    if not isinstance(path, str) or not path.strip():
        return None
    path = os.path.expanduser(path.strip())
    if not os.path.isabs(path):
        if not isinstance(cwd, str) or not os.path.isabs(cwd):
            return None
        path = os.path.join(cwd, path)
    return os.path.normpath(path)


def reason_for(tool, path, home):
    """Why the person should be asked about ``tool`` on ``path``, or None."""
    from paii_hooks import config_dir, protected

    seen = [path]
    real = os.path.realpath(path)
    if real != path:
        seen.append(real)
    for p in seen:
        found = protected.state_kind(p, home) or (protected.folder_kind(p, home) if tool == "Grep" else None)
        if found:
            what = "would read" if tool in READS else "would change"
            return ("%s %s %s; run records and the approval key are the person's: approvals are given with "
                    "`paii runbook approve` in their terminal or the approval prompt [rule paii-run-state]"
                    % (tool, what, found[1]))
        if tool in WRITES:
            found = protected.settings_kind(p, home)
            if found:
                return ("%s would change %s, where a hook could answer every approval and permission prompt itself "
                        "[rule claude-settings]" % (tool, found[1]))
            if p in {os.path.normpath(os.path.join(config_dir(), n)) for n in GUARD_SETTINGS}:
                return "%s would change the PAII guard's own settings (%s); only the person should [rule guard-config]" % (tool, p)
    return None


def main():
    raw = sys.stdin.buffer.read(MAX_STDIN + 1)
    try:
        data = json.loads(raw[:MAX_STDIN].decode("utf-8", "replace"))
        tool = data.get("tool_name")
        tool_input = data.get("tool_input")
    except (ValueError, AttributeError):
        return 0  # not a hook call
    if tool not in WRITES and tool not in READS or not isinstance(tool_input, dict):
        return 0
    try:
        path = target(tool, tool_input, data.get("cwd"))
        if path is None:
            return 0
        reason = reason_for(tool, path, os.path.expanduser("~"))
    except Exception as exc:  # never fail the session over the guard itself
        try:
            from paii_hooks import log_error

            log_error("file_guard: internal error on a %s call" % tool, exc)
        except Exception:
            pass
        text = json.dumps(tool_input)
        if any(w in text for w in ("runbooks/runs", "approval.key", ".claude")):
            return ask("PAII guard: could not check this %s call (internal error: %s) and its path looks like PAII's "
                       "run state or Claude Code's settings. Check it before allowing." % (tool, type(exc).__name__))
        return 0
    if reason:
        return ask("PAII guard: %s. Check it before allowing." % reason)
    return 0


if __name__ == "__main__":
    sys.exit(main())
