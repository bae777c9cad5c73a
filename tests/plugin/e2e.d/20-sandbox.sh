# Sourced by run_claude_checks.sh: /paii:incident against the sandbox world (issue 12).
# The command's pre-approved reads run without a prompt, the writes run once allowed
# (--allowedTools), and the sandbox's state afterwards shows them. The servers get the sandbox
# URLs (and the fixed clock) through CC_EXTRA_ENV, the tokens through the plugin's userConfig
# (`paii sandbox env --format claude`, given to claude as --settings).
SBX_HOME="$RUN/sandbox-home"; mkdir -p "$SBX_HOME"
SBX_BASE=$((PB + 10))
SBX_PAII="${PAII_PYTHON:+$(dirname "$PAII_PYTHON")/paii}"; SBX_PAII="${SBX_PAII:-$ROOT/.venv/bin/paii}"
sbx() { PAII_HOME="$SBX_HOME" "$SBX_PAII" sandbox "$@"; }
sbx stop >/dev/null 2>&1
if sbx start --detach --reset --port-base "$SBX_BASE" --now 2026-01-02T02:00:00Z >"$RUN/sandbox-start.out" 2>&1; then
  SBX_SETTINGS="$RUN/sandbox-settings.json"; sbx env --format claude >"$SBX_SETTINGS"
  SBX_ENV=$(sbx env --format dotenv | tr '\n' ' ')
  INC='"incident_id":"Q2PAY5XXPROD"'
  SCRIPT="[$(wait_or 'pagerduty__list_services$' '{"query":"payments-api"}')
{\"name_re\":\"pagerduty__list_incidents\$\",\"input\":{\"service_ids\":[\"PPAYAPI\"]}},
{\"name_re\":\"pagerduty__get_incident\$\",\"input\":{$INC}},
{\"name_re\":\"history__similar_incidents\$\",\"input\":{\"text\":\"payments-api returning 500s in production\",\"service\":\"payments-api\"}},
{\"name_re\":\"pagerduty__list_oncalls\$\",\"input\":{\"service_id\":\"PPAYAPI\"}},
{\"name_re\":\"slack__find_user\$\",\"input\":{\"query\":\"Priya Raman\"}},
{\"name_re\":\"pagerduty__list_maintenance_windows\$\",\"input\":{\"state\":\"open\"}},
{\"name_re\":\"pagerduty__acknowledge_incident\$\",\"input\":{$INC}},
{\"name_re\":\"slack__create_channel\$\",\"input\":{\"name\":\"inc-payments-api-500s\",\"topic\":\"Incident: payments-api returning 500s\"}},
{\"name_re\":\"slack__invite_to_channel\$\",\"input\":{\"channel\":\"#inc-payments-api-500s\",\"users\":[\"scott@example.com\",\"priya@example.com\"]}},
{\"name_re\":\"slack__post_message\$\",\"input\":{\"channel\":\"#inc-payments-api-500s\",\"text\":\"Incident declared: payments-api returning 500s (PagerDuty #12345)\"}}]"
  WRITES="mcp__plugin_paii_pagerduty__acknowledge_incident,mcp__plugin_paii_slack__create_channel,mcp__plugin_paii_slack__invite_to_channel,mcp__plugin_paii_slack__post_message"
  CC_EXTRA_ENV="${CC_EXTRA_ENV:-} $SBX_ENV" e2e sandbox-incident "/paii:incident payments-api is returning 500s in production" \
    "$SCRIPT" --settings "$SBX_SETTINGS" --allowedTools "$WRITES" -- \
    'pagerduty__list_services$' 'pagerduty__list_incidents$' 'pagerduty__get_incident$' 'history__similar_incidents$' \
    'pagerduty__list_oncalls$' 'slack__find_user$' 'pagerduty__list_maintenance_windows$' \
    'pagerduty__acknowledge_incident$' 'slack__create_channel$' 'slack__invite_to_channel$' 'slack__post_message$'
  # the sandbox's world shows the writes
  { sbx state pagerduty; echo; sbx state slack; } >"$RUN/sandbox-state.json" 2>&1
  python3 - "$RUN/sandbox-state.json" <<'PY'
import json, sys
pd_text, _, slack_text = open(sys.argv[1]).read().partition("\n\n")
pd, slack = json.loads(pd_text), json.loads(slack_text)
inc = next(i for i in pd["incidents"] if i["id"] == "Q2PAY5XXPROD")
channel = [c for c in slack["channels"] if c["name"] == "inc-payments-api-500s"]
problems = []
if inc["status"] != "acknowledged": problems.append(f"incident is {inc['status']}, not acknowledged")
if len(channel) != 1: problems.append(f"{len(channel)} incident channels")
elif not {"U0SCOTT", "U0PRIYA"} <= set(channel[0]["members"]): problems.append(f"members {channel[0]['members']}")
elif not any("Incident declared" in m["text"] for m in channel[0]["latest"]): problems.append("no kickoff message")
print("sandbox state:", "PASS" if not problems else "FAIL " + "; ".join(problems))
sys.exit(1 if problems else 0)
PY
  record "sandbox state after /paii:incident (ack, channel, members, kickoff)" $?
else
  cat "$RUN/sandbox-start.out"; record "sandbox start" 1
fi
sbx stop >/dev/null 2>&1
