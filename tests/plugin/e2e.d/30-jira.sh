# Sourced by run_claude_checks.sh: /paii:sprint against the sandbox Jira (the seed's Team Infra sprint).
# The sandbox runs as a person runs it (`paii sandbox start --detach`); the Jira server gets the
# site, token and team map through the plugin's userConfig from `paii sandbox env --format claude`.
JIRA_HOME="$RUN/jira-sandbox-home"; mkdir -p "$JIRA_HOME"
JIRA_BASE=$((PB + 50))
JIRA_PAII="${PAII_PYTHON:+$(dirname "$PAII_PYTHON")/paii}"; JIRA_PAII="${JIRA_PAII:-$ROOT/.venv/bin/paii}"
jsbx() { PAII_HOME="$JIRA_HOME" "$JIRA_PAII" sandbox "$@"; }
jsbx stop >/dev/null 2>&1
if jsbx start --detach --reset --port-base "$JIRA_BASE" --now 2026-01-02T02:00:00Z >"$RUN/jira-sandbox-start.out" 2>&1; then
  JIRA_SETTINGS="$RUN/jira-sandbox-settings.json"; jsbx env --format claude >"$JIRA_SETTINGS"
  REPORT=$(wait_or 'jira__sprint_report$' '{"board":"Team Infra"}')
  e2e sprint "/paii:sprint Team Infra" "[${REPORT%,}]" --settings "$JIRA_SETTINGS" -- 'jira__sprint_report$'
  python3 - "$RUN/e2e-sprint/e2e_requests.jsonl" <<'PY'
import sys
requests = open(sys.argv[1]).read()
problems = [want for want in ("SPRINT SUMMARY: Team Infra - Sprint 23", "75% complete (30/40 points)", "INFRA-234")
            if want not in requests]
print("sprint report:", "PASS" if not problems else f"FAIL: the model never saw {problems}")
sys.exit(1 if problems else 0)
PY
  record "sprint report from the sandbox Jira reached the model" $?
else
  cat "$RUN/jira-sandbox-start.out"; record "jira sandbox start" 1
fi
jsbx stop >/dev/null 2>&1
