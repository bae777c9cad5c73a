# Sourced by run_claude_checks.sh: the first commands (remember, incident, read-only).
CAPTURE='{"name_re":"history__capture$","input":{"category":"learnings","title":"payments-api: db pool 100 -> 150 for batch load","content":"Pool exhausted under batch jobs (98/100 active, 47 waiting). Raised to 150.","metadata":{"service":"payments-api","tags":["db","pool"]}}}'
SEARCH=$(wait_or 'history__search$' '{"text":"db pool fix"}')

# 1. /paii:remember: search is pre-approved; capture needs the permission prompt (denied in -p) ...
e2e remember-denied "/paii:remember the db pool fix" "[$SEARCH$CAPTURE]" -- 'history__search$' 'history__capture$=denied'
# ... and runs once the person allows it.
e2e remember "/paii:remember the db pool fix" "[$SEARCH$CAPTURE]" --allowedTools mcp__plugin_paii_history__capture -- 'history__search$' 'history__capture$'

# 2. /paii:incident: seed one past incident (approved write), then the pre-approved reads.
SEED=$(wait_or 'history__record_incident$' '{"id":"INC-456","title":"payments-api-timeout","service":"payments-api","severity":"SEV2","status":"resolved","summary":"payments-api timeouts and 500s","root_cause":"Database connection pool exhaustion","resolution":"Increased pool size from 50 to 100","started":"2026-01-10T02:00:00Z","resolved":"2026-01-10T03:10:00Z","tags":["db","pool"]}')
e2e incident "/paii:incident payments-api is returning 500s in production" \
  "[$SEED{\"name_re\":\"history__similar_incidents\$\",\"input\":{\"text\":\"payments-api returning 500s in production\",\"service\":\"payments-api\"}},{\"name_re\":\"pagerduty__list_incidents\$\",\"input\":{}},{\"name_re\":\"pagerduty__list_oncalls\$\",\"input\":{}}]" \
  --allowedTools mcp__plugin_paii_history__record_incident -- \
  'history__record_incident$' 'history__similar_incidents$' 'pagerduty__list_incidents$=allowed' 'pagerduty__list_oncalls$=allowed'

# 3. /paii:handoff and /paii:summarize-channel run against the sandbox world: 25-summaries.sh.

# 4. PAII_READ_ONLY=1: the servers drop their writers and the PreToolUse guard lets reads through.
CC_EXTRA_ENV="${CC_EXTRA_ENV:-} PAII_READ_ONLY=1" e2e read-only "/paii:remember the db pool fix" "[$SEARCH$CAPTURE]" -- 'history__search$'

