#!/usr/bin/env python3
"""PAII's usage log: a hook on PostToolUse / PostToolUseFailure (PAII's MCP tools and the Skill
tool), UserPromptSubmit and SessionEnd.

Appends one line per PAII tool call, PAII skill use and /paii: command to
<PAII data>/usage/usage.jsonl (hooks/paii_hooks/usage_log.py has the format): names, success,
duration and the session id, never arguments, results or prompt text, which can hold secrets.
A request is only scanned for services PAII has no plugin for and a few kinds of request, and
only their counts are kept. At SessionEnd it writes a short record of the session into history
(category sessions; hooks/paii_hooks/session_record.py).

<PAII data> is PAII's data home, shared with the servers and the CLI: $PAII_HOME, else the
per-user data folder. PAII_USAGE_LOG=off (environment or PAII's .env) turns it off.
It never fails the session and prints nothing (UserPromptSubmit output would join the prompt):
errors go to $CLAUDE_PLUGIN_DATA/logs/hooks.log. Standard library only: it runs under the system python3.
"""

import json
import re
import sys

sys.dont_write_bytecode = True  # until bytecode_cache() points it at PAII's data folder
from paii_hooks import bytecode_cache  # noqa: E402 (before the other hook modules are imported)

bytecode_cache()

PAII_TOOL = re.compile(r"^mcp__plugin_paii_(?P<server>[a-z0-9-]+?)__(?P<tool>[a-z0-9_]+)$")
COMMAND = re.compile(r"^\s*/paii:([a-z0-9][a-z0-9-]{0,63})(?:\s|$)")
MAX_STDIN = 1024 * 1024


def record_for(data):
    from paii_hooks.usage_log import MODES, REFUSED

    event, session = data.get("hook_event_name"), str(data.get("session_id") or "")[:128]
    base = {"session": session}
    if event in ("PostToolUse", "PostToolUseFailure"):
        name = data.get("tool_name") or ""
        ok = event == "PostToolUse" and not _is_error(data.get("tool_response"))
        tool_input = data.get("tool_input") if isinstance(data.get("tool_input"), dict) else {}
        m = PAII_TOOL.match(name)
        if m:
            rec = dict(base, event="tool", server=m["server"], tool=m["tool"], ok=ok)
            if isinstance(data.get("duration_ms"), (int, float)):
                rec["ms"] = int(data["duration_ms"])
            modes = {k: tool_input[k] for k in MODES if isinstance(tool_input.get(k), bool)}
            if modes:
                rec["modes"] = modes
            if not ok and REFUSED.search(_error_text(data)):
                rec["refused"] = True
            return rec
        skill = tool_input.get("skill") if name == "Skill" else None
        if isinstance(skill, str) and skill.startswith("paii:"):
            return dict(base, event="skill", skill=skill[5:64].strip(), ok=ok)
        return None
    if event == "UserPromptSubmit":
        from paii_hooks.mentions import count

        prompt = data.get("prompt") if isinstance(data.get("prompt"), str) else ""
        rec = dict(base, event="prompt")
        m = COMMAND.match(prompt)
        if m:
            rec["command"] = m.group(1)
        services, topics = count(prompt)
        if services:
            rec["mentions"] = services
        if topics:
            rec["topics"] = topics
        return rec
    if event == "SessionEnd":
        return dict(base, event="session_end", reason=str(data.get("reason") or "")[:40])
    return None


def _error_text(data):
    """The words of a failed call (read only to tell a refusal from a failure; never kept)."""
    parts = [data.get("error")] if isinstance(data.get("error"), str) else []
    response = data.get("tool_response")
    items = response if isinstance(response, list) else (response.get("content") if isinstance(response, dict) else None)
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            parts.append(item["text"])
    return " ".join(parts)[:4000]


def _is_error(response):
    """A tool result that reports an error (MCP isError) counts as a failed call."""
    if isinstance(response, dict):
        return bool(response.get("isError") or response.get("is_error"))
    if isinstance(response, list):
        return any(isinstance(r, dict) and (r.get("isError") or r.get("is_error")) for r in response)
    return False


def main():
    from paii_hooks import OFF, data_dir, log_error, setting

    try:
        switch = (setting("PAII_USAGE_LOG") or "").strip().lower()
        if switch in OFF:
            return 0
        raw = sys.stdin.buffer.read(MAX_STDIN)
        data = json.loads(raw.decode("utf-8", "replace"))
        if not isinstance(data, dict):
            return 0
        rec = record_for(data)
        if rec is None:
            return 0
        folder = data_dir()
        from paii_hooks.usage_log import append

        append(folder, rec)
        if rec["event"] == "session_end" and rec["session"]:
            from paii_hooks.session_record import write

            write(folder, rec["session"], rec.get("reason", ""))
    except Exception as exc:  # never fail the session over the usage log
        log_error("usage: %s on %s" % (type(exc).__name__, "a hook call"), exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
