# Sourced by run_claude_checks.sh: /paii:incident against the whole sandbox world (issues 12-14).
# The command's pre-approved reads run without a prompt (exec_in_pod among them: it runs only
# allowlisted diagnostics), the writes run once allowed (--allowedTools: acknowledge, channel,
# invite, the Jira ticket, the kickoff), and the sandbox's state afterwards shows them, with the
# deployment untouched. Everything the servers need comes from `paii sandbox env --format claude`
# alone, given to claude as --settings (the plugin's userConfig options, and `env` for the service
# URLs, the runbook stand-ins and the fixed clock), as a person would run it.
SBX_HOME="$RUN/sandbox-home"; mkdir -p "$SBX_HOME"
SBX_BASE=$((PB + 10))
SBX_PAII="${PAII_PYTHON:+$(dirname "$PAII_PYTHON")/paii}"; SBX_PAII="${SBX_PAII:-$ROOT/.venv/bin/paii}"
sbx() { PAII_HOME="$SBX_HOME" "$SBX_PAII" sandbox "$@"; }
sbx stop >/dev/null 2>&1
if sbx start --detach --reset --port-base "$SBX_BASE" --now 2026-01-02T02:00:00Z >"$RUN/sandbox-start.out" 2>&1; then
  SBX_SETTINGS="$RUN/sandbox-settings.json"; sbx env --format claude >"$SBX_SETTINGS"
  INC='"incident_id":"Q2PAY5XXPROD"'
  PD_URL="https://acme-sandbox.pagerduty.com/incidents/Q2PAY5XXPROD"
  CH_URL="https://acme-sandbox.slack.com/archives/C0NEW00001"  # the first channel a reset sandbox creates
  TICKET="{\"summary\":\"payments-api-500s: payments-api is returning 500s in production\",\"project\":\"INC\",\"issue_type\":\"Incident\",\"labels\":[\"incident\",\"payments-api\"],\"dedupe_key\":\"Q2PAY5XXPROD\",\"description\":\"PagerDuty #12345, Slack #inc-payments-api-500s\",\"links\":[{\"title\":\"PagerDuty #12345\",\"url\":\"$PD_URL\"},{\"title\":\"Slack #inc-payments-api-500s\",\"url\":\"$CH_URL\"}]}"
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
{\"name_re\":\"jira__create_issue\$\",\"input\":$TICKET},
{\"name_re\":\"slack__post_message\$\",\"input\":{\"channel\":\"#inc-payments-api-500s\",\"text\":\"Incident declared: payments-api returning 500s (PagerDuty #12345, Jira INC-789)\"}},
{\"name_re\":\"runbook__find_runbooks\$\",\"input\":{\"service\":\"payments-api\",\"text\":\"payments-api is returning 500s in production\"}},
{\"name_re\":\"kubernetes__list_pods\$\",\"input\":{\"namespace\":\"payments\",\"selector\":\"app=payments-api\"}},
{\"name_re\":\"kubernetes__exec_in_pod\$\",\"input\":{\"namespace\":\"payments\",\"pod\":\"payments-api-7d9f8b6c5-r8t2w\",\"argv\":[\"python\",\"manage.py\",\"dbstats\"]}},
{\"name_re\":\"kubernetes__get_deployment\$\",\"input\":{\"namespace\":\"payments\",\"name\":\"payments-api\"}}]"
  WRITES="mcp__plugin_paii_pagerduty__acknowledge_incident,mcp__plugin_paii_slack__create_channel,mcp__plugin_paii_slack__invite_to_channel,mcp__plugin_paii_jira__create_issue,mcp__plugin_paii_slack__post_message"
  e2e sandbox-incident "/paii:incident payments-api is returning 500s in production" \
    "$SCRIPT" --settings "$SBX_SETTINGS" --allowedTools "$WRITES" -- \
    'pagerduty__list_services$' 'pagerduty__list_incidents$' 'pagerduty__get_incident$' \
    'history__similar_incidents$' 'pagerduty__list_oncalls$' 'slack__find_user$' \
    'pagerduty__list_maintenance_windows$' 'pagerduty__acknowledge_incident$' 'slack__create_channel$' \
    'slack__invite_to_channel$' 'jira__create_issue$' 'slack__post_message$' 'runbook__find_runbooks$' \
    'kubernetes__list_pods$' 'kubernetes__exec_in_pod$' 'kubernetes__get_deployment$'
  # the sandbox's world shows the writes, and nothing else changed
  for svc in pagerduty slack jira kubernetes; do sbx state "$svc" >"$RUN/sandbox-state-$svc.json" 2>&1; done
  python3 - "$RUN" <<'PY'
import json, sys
run = sys.argv[1]
state = {s: json.load(open(f"{run}/sandbox-state-{s}.json")) for s in ("pagerduty", "slack", "jira", "kubernetes")}
requests = open(f"{run}/e2e-sandbox-incident/e2e_requests.jsonl").read()
pd, slack, jira, k8s = (state[s] for s in ("pagerduty", "slack", "jira", "kubernetes"))
inc = next(i for i in pd["incidents"] if i["id"] == "Q2PAY5XXPROD")
channel = [c for c in slack["channels"] if c["name"] == "inc-payments-api-500s"]
tickets = [i for i in jira["issues"].values() if "paii-Q2PAY5XXPROD" in i["labels"]]
problems = []
if inc["status"] != "acknowledged": problems.append(f"incident is {inc['status']}, not acknowledged")
if len(channel) != 1: problems.append(f"{len(channel)} incident channels")
elif not {"U0SCOTT", "U0PRIYA"} <= set(channel[0]["members"]): problems.append(f"members {channel[0]['members']}")
elif not any("Incident declared" in m["text"] for m in channel[0]["latest"]): problems.append("no kickoff message")
if [t["key"] for t in tickets] != ["INC-789"]: problems.append(f"tickets {[t['key'] for t in tickets]}, not INC-789 once")
elif {lk["object"]["title"] for lk in tickets[0]["remotelinks"]} != {"PagerDuty #12345", "Slack #inc-payments-api-500s"}:
    problems.append(f"remote links {tickets[0]['remotelinks']}")
dep = k8s["payments"]["deployments"]["payments-api"]
if dep["revision"] != 3 or dep["replicas"] != 3: problems.append(f"payments-api changed: {dep}")
if "Active connections: 98/100" not in requests: problems.append("the dbstats answer never reached the model")
if "payments-api-health-check" not in requests: problems.append("find_runbooks did not suggest the health check")
print("sandbox state:", "PASS" if not problems else "FAIL " + "; ".join(problems))
sys.exit(1 if problems else 0)
PY
  record "sandbox state after /paii:incident (ack, channel, members, kickoff, one Jira ticket with both links, dbstats, nothing restarted)" $?
else
  cat "$RUN/sandbox-start.out"; record "sandbox start" 1
fi
sbx stop >/dev/null 2>&1
