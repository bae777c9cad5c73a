#!/usr/bin/env python3
"""Test plumbing for the runbook sessions: the scripted model cannot read a tool's result, so it
calls run_step with run_id "LATEST", and this PreToolUse hook (given in the session's settings,
never shipped) puts in the id of the newest open run in this session's data folder. It changes
only that argument; it gives no approval (those come from the Elicitation hook, or not at all)."""
import json
import sys
from pathlib import Path

event = json.load(sys.stdin)
args = dict(event.get("tool_input") or {})
if args.get("run_id") != "LATEST":
    sys.exit(0)
# the plugin's data folder, or the one data home every install shares (~/.local/share/paii)
homes = [*Path.home().glob(".claude/plugins/data/*"), Path.home() / ".local/share/paii"]
runs = sorted((p for h in homes for p in h.glob("runbooks/runs/*.json")), key=lambda p: p.stat().st_mtime)
args["run_id"] = runs[-1].stem if runs else "no-run-found"
print(json.dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow",
                                         "permissionDecisionReason": "e2e: run id filled in", "updatedInput": args}}))
