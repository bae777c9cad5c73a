# Sourced by run_claude_checks.sh: /paii:sprint against the sandbox Jira (the seed's Team Infra sprint).
# Until the sandbox framework is merged this starts the Jira service app by itself on PB+50 and
# points the server at it through a .env in PAII_CONFIG_DIR (the launcher drops the empty
# ${user_config.jira_*} values, so the .env fills them in).
JIRA_PORT=$((PB + 50)); JIRA_CFG="$RUN/jira-config"; mkdir -p "$JIRA_CFG"
JIRA_PY=${PAII_PYTHON:-$ROOT/.venv/bin/python}
PYTHONPATH="$ROOT/servers" "$JIRA_PY" -m paii_sandbox.services.jira --port "$JIRA_PORT" >"$RUN/jira-sandbox.log" 2>&1 &
JIRA_PID=$!
for i in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$JIRA_PORT) 2>/dev/null && break; sleep 0.1; done
PYTHONPATH="$ROOT/servers" "$JIRA_PY" -c "
import sys; from pathlib import Path
from paii_sandbox.services import jira
env = jira.env('http://127.0.0.1:$JIRA_PORT', Path('$RUN'))
Path('$JIRA_CFG/.env').write_text(''.join(f'{k}={v}\n' for k, v in env.items()))"

REPORT=$(wait_or 'jira__sprint_report$' '{"board":"Team Infra"}')
CC_EXTRA_ENV="${CC_EXTRA_ENV:-} PAII_CONFIG_DIR=$JIRA_CFG" e2e sprint "/paii:sprint Team Infra" "[${REPORT%,}]" -- 'jira__sprint_report$'

kill "$JIRA_PID" 2>/dev/null; wait "$JIRA_PID" 2>/dev/null
