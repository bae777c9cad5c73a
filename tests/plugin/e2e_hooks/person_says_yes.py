#!/usr/bin/env python3
"""Plays the person in a real `claude -p` session: an Elicitation hook (given in the session's
settings, never shipped with the plugin) that accepts every prompt a PAII server shows and logs
what the person was asked to $E2E_ELICIT_LOG. Claude Code answers the server with
{"action": "accept", "content": {"approve": true}}; without this hook, `claude -p` answers "cancel"."""
import json
import os
import sys

event = json.load(sys.stdin)
with open(os.environ.get("E2E_ELICIT_LOG", "/dev/null"), "a") as log:
    log.write(json.dumps({k: event.get(k) for k in ("hook_event_name", "mcp_server_name", "message",
                                                     "requested_schema")}) + "\n")
print(json.dumps({"hookSpecificOutput": {"hookEventName": "Elicitation", "action": "accept",
                                         "content": {"approve": True}}}))
