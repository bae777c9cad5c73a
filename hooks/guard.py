#!/usr/bin/env python3
"""PreToolUse hook on Bash: PAII's security guard.

Claude Code sends the call as JSON on stdin (tool_name, tool_input.command, cwd, session_id,
hook_event_name). The guard parses the command the way bash will run it (hooks/paii_hooks:
quoting, wrappers, ``bash -c``, ``eval``, pipes into shells, heredocs, substitutions) and:

- blocks what is clearly destructive (``rm -rf /``, ``mkfs`` on a disk, a force push to main,
  ``paii runbook approve`` run by the assistant): exit 2, the reason on stderr, which Claude
  Code gives the assistant instead of running the command;
- asks where the answer depends on context (``kubectl delete`` in production, ``terraform
  destroy``, ``DROP TABLE``, ``curl ... | sh``): permission decision ``ask`` in JSON on stdout;
- allows everything else: exit 0, no output (Claude Code's own permission rules still apply).

The work is in hooks/paii_hooks: parse (shell*.py) -> rules (rules*.py, walked by analyse.py) ->
decision (decision.py). The person's ``guard.toml`` (hooks/paii_hooks/guard_config.py) adds rules, disables built-in
ones by id and allow-lists exact commands. The guard never crashes the session: an internal
error is logged to <PAII data>/logs/hooks.log and the command is asked about when it contains a
dangerous word, allowed otherwise. Standard library only: it runs under the system python3.
"""

import json
import os
import re
import sys

sys.dont_write_bytecode = True  # until bytecode_cache() points it at PAII's data folder
from paii_hooks import bytecode_cache  # noqa: E402 (before the other hook modules are imported)

bytecode_cache()

MAX_STDIN = 4 * 1024 * 1024
FALLBACK_DANGER = (r"(?i)(?<![\w-])(rm|dd|mkfs\S*|shred|wipefs|chmod|chown|kill|kubectl|helm|terraform|tofu|"
                             r"drop|truncate|delete|destroy|sudo|eval|curl|wget|bash|sh|python\S*|git|paii|psql|mysql|"
                             r"mv|find|base64)(?![\w-])|:\s*\(\s*\)|\$'|`|\$\(")


def ask(reason):
    print(json.dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "ask",
                                             "permissionDecisionReason": reason}}))
    return 0


def block(reason):
    sys.stderr.write(reason + "\n")
    return 2


def fallback(command, exc):
    """An internal error: ask when the command has a dangerous word, allow otherwise; log it."""
    try:
        from paii_hooks import log_error

        logged = log_error("guard: internal error on a %d-character command" % len(command), exc)
    except Exception:
        logged = None
    match = re.search(FALLBACK_DANGER, command)
    if not match:
        return 0
    return ask("The PAII guard could not check this command (internal error: %s%s) and it contains '%s': check it "
               "before allowing." % (type(exc).__name__, ", logged to " + logged if logged else "", match.group(0)))


def main():
    raw = sys.stdin.buffer.read(MAX_STDIN + 1)
    if len(raw) > MAX_STDIN:
        return ask("The PAII guard could not check this command: the hook input is over %d MB. Check it before "
                   "allowing." % (MAX_STDIN // (1024 * 1024)))
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
        tool_input = data.get("tool_input") or {}
        command = tool_input.get("command") if isinstance(tool_input, dict) else None
    except (ValueError, AttributeError):
        return 0  # not a hook call
    if data.get("tool_name") != "Bash" or not isinstance(command, str) or not command.strip():
        return 0
    try:
        from paii_hooks.decision import decide, explain
        from paii_hooks.guard_config import GuardConfig

        config = GuardConfig()
        cwd = data.get("cwd") if isinstance(data.get("cwd"), str) else None
        decision, reasons = decide(command, cwd, os.path.expanduser("~"), config)
        if decision == "allow":
            return 0
        message = explain(decision, reasons, config)
    except Exception as exc:  # never fail the session over the guard itself
        if type(exc).__name__ == "TooComplex":
            return ask("PAII guard: %s (a line this long or this nested is not checked), so it is not run without "
                       "you. Check it before allowing." % exc)
        return fallback(command, exc)
    return block(message) if decision == "block" else ask(message)


if __name__ == "__main__":
    sys.exit(main())
