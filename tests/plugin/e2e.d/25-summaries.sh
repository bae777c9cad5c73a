# Sourced by run_claude_checks.sh: /paii:handoff and /paii:summarize-channel against the whole
# sandbox world (issue 26), configured as a person would run them: `paii sandbox env --format
# claude` as --settings (see 20-sandbox.sh). The handoff's session first keeps the two incidents'
# records the way the incident-response flow does (record_incident, an allowed write: the session's
# history starts empty), then runs the command's pre-approved reads; each fact the seed's handoff
# shows must be in a tool result. The channel digest must hold the threads and both mentions, in
# under 10 KB.
SM_HOME="$RUN/sandbox-home-sm"; mkdir -p "$SM_HOME"
SM_BASE=$((PB + 30))
SM_PAII="${PAII_PYTHON:+$(dirname "$PAII_PYTHON")/paii}"; SM_PAII="${SM_PAII:-$ROOT/.venv/bin/paii}"
smsbx() { PAII_HOME="$SM_HOME" "$SM_PAII" sandbox "$@"; }
smsbx stop >/dev/null 2>&1
if smsbx start --detach --reset --port-base "$SM_BASE" --now 2026-01-02T02:00:00Z >"$RUN/sandbox-start-sm.out" 2>&1; then
  SM_SETTINGS="$RUN/sandbox-settings-sm.json"; smsbx env --format claude >"$SM_SETTINGS"
  PD="https://acme-sandbox.pagerduty.com/incidents"
  REC789="{\"id\":\"INC-789\",\"title\":\"payments-api-500s: payments-api is returning 500s in production\",\"service\":\"payments-api\",\"status\":\"investigating\",\"started\":\"2026-01-02T01:46:00Z\",\"links\":{\"pagerduty\":\"$PD/Q2PAY5XXPROD\",\"slack\":\"#inc-payments-api-500s\"}}"
  REC788="{\"id\":\"INC-788\",\"title\":\"auth-service-latency: login p99 above 2 s\",\"service\":\"auth-service\",\"status\":\"resolved\",\"started\":\"2026-01-01T09:00:00Z\",\"resolved\":\"2026-01-01T10:20:00Z\",\"root_cause\":\"CPU throttling after the Helm chart lowered the auth pods' CPU limit from 500m to 250m.\",\"resolution\":\"Restarted the auth pods with the previous CPU limit; p99 back to 200 ms.\",\"links\":{\"pagerduty\":\"$PD/Q2AUTHLATENCY\",\"slack\":\"#inc-auth-service-latency\"}}"
  SCRIPT="[$(wait_or 'history__record_incident$' "$REC789")
{\"name_re\":\"history__record_incident\$\",\"input\":$REC788},
{\"name_re\":\"pagerduty__shift_activity\$\",\"input\":{\"since\":\"2026-01-01T02:00:00Z\",\"until\":\"2026-01-02T02:00:00Z\"}},
{\"name_re\":\"history__recent\$\",\"input\":{\"since\":\"2026-01-01T02:00:00Z\",\"count\":20}},
{\"name_re\":\"pagerduty__list_incidents\$\",\"input\":{}},
{\"name_re\":\"pagerduty__list_maintenance_windows\$\",\"input\":{\"state\":\"open\"}}]"
  e2e sandbox-handoff "/paii:handoff past 24 hours" "$SCRIPT" --settings "$SM_SETTINGS" \
    --allowedTools mcp__plugin_paii_history__record_incident -- \
    'history__record_incident$' \
    'pagerduty__shift_activity$~(?=.*Q2AUTHLATENCY)(?=.*False positive, disk expanded)(?=.*Autoscaling handled it)(?=.*Watch for latency spikes)' \
    'history__recent$~(?=.*INC-789)(?=.*#inc-payments-api-500s)(?=.*Q2PAY5XXPROD)(?=.*CPU throttling)(?=.*Restarted the auth pods)' \
    'pagerduty__list_incidents$~Q2PAY5XXPROD' 'pagerduty__list_maintenance_windows$~ledger-db' no-denials

  DIGEST=$(wait_or 'slack__channel_digest$' '{"channel":"platform-engineering","hours":8}')
  e2e sandbox-summarize-channel "/paii:summarize-channel #platform-engineering 8" "[${DIGEST%,}]" --settings "$SM_SETTINGS" -- \
    'slack__channel_digest$~(?=.*cache invalidation)(?=.*race condition)(?=.*RFC-042)(?=.*review the cache fix)(?=.*approval on the infra budget PR)' \
    no-denials
  python3 - "$RUN" <<'PY'
import json, sys
run = sys.argv[1]
sizes = []
try:
    lines = open(f"{run}/e2e-sandbox-summarize-channel/e2e_requests.jsonl").read().splitlines()
except OSError:
    lines = []
for line in lines:
    for msg in (json.loads(line).get("body") or {}).get("messages", []):
        for block in msg["content"] if isinstance(msg.get("content"), list) else []:
            if block.get("type") == "tool_result":
                content = block.get("content")
                text = " ".join(c.get("text", "") for c in content if isinstance(c, dict)) if isinstance(content, list) else str(content)
                if "platform-engineering" in text:
                    sizes.append(len(text.encode()))
ok = bool(sizes) and max(sizes) < 10_000
print("channel digest as the model got it:", sizes, "bytes:", "PASS" if ok else "FAIL (over 10 KB, or never returned)")
sys.exit(0 if ok else 1)
PY
  record "channel digest under 10 KB as the model got it" $?
else
  cat "$RUN/sandbox-start-sm.out"; record "sandbox start (summaries)" 1
fi
smsbx stop >/dev/null 2>&1
