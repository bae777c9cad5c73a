# Sourced by run_claude_checks.sh: /paii:status-update and /paii:postmortem against the sandbox
# (issue 15). Their reads are pre-approved (allowed-tools) and run without a prompt; the posts
# (PagerDuty post_status_update, Slack post_message to the stakeholder channel) and the saves are
# never pre-approved: in -p nobody answers the permission prompt, so they come back as denials,
# and the sandbox's state shows nothing was posted.
PM_HOME="$RUN/sandbox-home-pm"; mkdir -p "$PM_HOME"
PM_BASE=$((PB + 20))
PM_PAII="${PAII_PYTHON:+$(dirname "$PAII_PYTHON")/paii}"; PM_PAII="${PM_PAII:-$ROOT/.venv/bin/paii}"
pmsbx() { PAII_HOME="$PM_HOME" "$PM_PAII" sandbox "$@"; }
pmsbx stop >/dev/null 2>&1
if pmsbx start --detach --reset --port-base "$PM_BASE" --now 2026-01-02T02:00:00Z >"$RUN/sandbox-start-pm.out" 2>&1; then
  PM_SETTINGS="$RUN/sandbox-settings-pm.json"; pmsbx env --format claude >"$PM_SETTINGS"

  # 1. /paii:status-update: drafted from the pre-approved reads; both posts are denied (no yes).
  INC='"incident_id":"Q2PAY5XXPROD"'
  UPDATE='Impact: payments-api is returning 500s to part of checkout. Known: the database pool is exhausted. Doing: the on-call is on it. Next update: 02:30 UTC.'
  SCRIPT="[$(wait_or 'pagerduty__list_incidents$' '{"statuses":["triggered","acknowledged"]}')
{\"name_re\":\"pagerduty__get_incident\$\",\"input\":{$INC}},
{\"name_re\":\"pagerduty__get_timeline\$\",\"input\":{$INC}},
{\"name_re\":\"slack__channel_digest\$\",\"input\":{\"channel\":\"#incidents\",\"hours\":1}},
{\"name_re\":\"kubernetes__list_pods\$\",\"input\":{\"namespace\":\"payments\",\"selector\":\"app=payments-api\"}},
{\"name_re\":\"history__similar_incidents\$\",\"input\":{\"text\":\"payments-api returning 500s\",\"service\":\"payments-api\"}},
{\"name_re\":\"pagerduty__post_status_update\$\",\"input\":{$INC,\"message\":\"$UPDATE\"}},
{\"name_re\":\"slack__post_message\$\",\"input\":{\"channel\":\"stakeholders\",\"text\":\"$UPDATE\"}}]"
  e2e status-update "/paii:status-update payments-api" "$SCRIPT" --settings "$PM_SETTINGS" -- \
    'pagerduty__list_incidents$' 'pagerduty__get_incident$' 'pagerduty__get_timeline$~minutes_since_update' \
    'slack__channel_digest$' 'kubernetes__list_pods$' 'history__similar_incidents$' \
    'pagerduty__post_status_update$=denied' 'slack__post_message$=denied'

  # 2. /paii:postmortem for the seed's auth-service incident of the night before: every source's
  #    timeline and the history's merge run without a prompt, with no denial at all.
  W_SINCE="2026-01-01T08:45:00Z"; W_UNTIL="2026-01-01T10:30:00Z"
  PD_SRC="{\"source\":\"pagerduty\",\"since\":\"$W_SINCE\",\"until\":\"$W_UNTIL\",\"events\":[{\"time\":\"2026-01-01T09:00:00Z\",\"source\":\"pagerduty\",\"kind\":\"triggered\",\"event\":\"PagerDuty: triggered\"},{\"time\":\"2026-01-01T09:08:00Z\",\"source\":\"pagerduty\",\"kind\":\"acknowledged\",\"actor\":\"Scott Idler\",\"event\":\"PagerDuty: acknowledged by Scott Idler\"},{\"time\":\"2026-01-01T10:20:00Z\",\"source\":\"pagerduty\",\"kind\":\"resolved\",\"event\":\"PagerDuty: resolved\"}]}"
  SCRIPT="[$(wait_or 'pagerduty__get_timeline$' '{"incident_id":"Q2AUTHLATENCY"}')
{\"name_re\":\"slack__get_timeline\$\",\"input\":{\"channel\":\"#inc-auth-service-latency\",\"since\":\"$W_SINCE\",\"until\":\"$W_UNTIL\"}},
{\"name_re\":\"jira__get_timeline\$\",\"input\":{\"key\":\"INC-788\",\"since\":\"$W_SINCE\",\"until\":\"$W_UNTIL\"}},
{\"name_re\":\"kubernetes__list_events\$\",\"input\":{\"namespace\":\"auth\",\"name\":\"auth-service\",\"since\":\"$W_SINCE/$W_UNTIL\"}},
{\"name_re\":\"runbook__get_timeline\$\",\"input\":{\"since\":\"$W_SINCE\",\"until\":\"$W_UNTIL\"}},
{\"name_re\":\"history__get_timeline\$\",\"input\":{\"incident_id\":\"INC-788\",\"sources\":[$PD_SRC,{\"source\":\"slack\",\"gap\":\"not read in this check\"}]}},
{\"name_re\":\"history__similar_incidents\$\",\"input\":{\"text\":\"auth-service latency CPU throttling\",\"service\":\"auth-service\"}},
{\"name_re\":\"jira__search_issues\$\",\"input\":{\"jql\":\"key in (INC-788)\"}}]"
  e2e postmortem "/paii:postmortem INC-788" "$SCRIPT" --settings "$PM_SETTINGS" -- \
    'pagerduty__get_timeline$~acknowledged' 'slack__get_timeline$~mitigated' 'jira__get_timeline$~INC-788' \
    'kubernetes__list_events$~ScalingReplicaSet' 'runbook__get_timeline$' \
    'history__get_timeline$~time to acknowledge' 'history__similar_incidents$' 'jira__search_issues$' no-denials

  # nothing was posted: no PagerDuty status update on the incident, nothing in #incidents
  for svc in pagerduty slack; do pmsbx state "$svc" >"$RUN/sandbox-state-pm-$svc.json" 2>&1; done
  python3 - "$RUN" <<'PY'
import sys
run = sys.argv[1]
problems = [f"the update text is in the sandbox's {svc} state: it was posted"
            for svc in ("pagerduty", "slack") if "Next update: 02:30" in open(f"{run}/sandbox-state-pm-{svc}.json").read()]
print("sandbox state:", "PASS" if not problems else "FAIL " + "; ".join(problems))
sys.exit(1 if problems else 0)
PY
  record "sandbox state after /paii:status-update (nothing posted without a yes)" $?
else
  cat "$RUN/sandbox-start-pm.out"; record "sandbox start (postmortem)" 1
fi
pmsbx stop >/dev/null 2>&1
