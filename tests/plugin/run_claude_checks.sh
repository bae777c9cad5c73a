#!/usr/bin/env bash
# Runs the plugin through the real Claude Code CLI (offline): check_plugin.sh, then e2e sessions
# of the slash commands with a scripted model. Exit non-zero if anything fails. CI calls this.
# usage: tests/plugin/run_claude_checks.sh [PLUGIN_DIR]
#   CLAUDE_CODE_TOOLS  folder with check_plugin.sh/e2e.sh (default $SHARED/claude-code, SHARED=../shared)
#   PAII_PYTHON        interpreter with the dependencies for the e2e sessions (default: the
#                      repo's .venv if present; empty = let bin/paii-mcp build its venv)
set -u
ROOT=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
TOOLS=${CLAUDE_CODE_TOOLS:-${SHARED:-$ROOT/../shared}/claude-code}
RUN=${PAII_CC_RUN:-/tmp/paii-claude-code}
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${PAII_PYTHON+x}" ] && [ -x "$ROOT/.venv/bin/python" ]; then PAII_PYTHON="$ROOT/.venv/bin/python"; fi
E2E_ENV=${PAII_PYTHON:+PAII_PYTHON=$PAII_PYTHON}
fail=0; summary=()
record() { if [ "$2" = 0 ]; then summary+=("PASS  $1"); else summary+=("FAIL  $1"); fail=1; fi; }

# check_plugin.sh starts from an empty HOME, so bin/paii-mcp always builds its venv from scratch.
# Package caches live outside that HOME (like a person's ~/.cache, which survives reinstalls):
# pass 1 may have to download everything, so it gets a longer MCP_TIMEOUT; pass 2 rebuilds the
# venv from warm caches and must connect within Claude Code's default 30 s.
CACHE_ENV="XDG_CACHE_HOME=$RUN/pkg-cache"
echo "### check_plugin.sh pass 1: cold venv, cold package caches (MCP_TIMEOUT=180000)"
start=$SECONDS
CC_EXTRA_ENV="${CC_EXTRA_ENV:-} $CACHE_ENV MCP_TIMEOUT=180000" bash "$TOOLS/check_plugin.sh" "$ROOT"; rc=$?
record "check_plugin.sh pass 1, cold caches ($((SECONDS - start))s)" $rc
echo "### check_plugin.sh pass 2: cold venv, warm package caches, default 30 s timeout"
start=$SECONDS
CC_EXTRA_ENV="${CC_EXTRA_ENV:-} $CACHE_ENV" bash "$TOOLS/check_plugin.sh" "$ROOT"; rc=$?
record "check_plugin.sh pass 2, warm caches ($((SECONDS - start))s)" $rc

# Servers connect after the session starts: the scripted model first calls WaitForMcpServers,
# whose name only exists until they connect. WAIT_OR(step) repeats a step that also matches it,
# so the script stays aligned however many waits are needed; the repeated step must be a read
# or an idempotent write.
wait_or() { local re=$1 input=$2 out="" i; for i in 1 2 3 4 5 6; do out+="{\"name_re\":\"^WaitForMcpServers\$|$re\",\"input\":$input},"; done; printf '%s' "$out"; }

e2e() {  # name port prompt script [claude args...] -- expectations...
  local name=$1 port=$2 prompt=$3 script=$4; shift 4
  local args=() exp=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
  [ $# -gt 0 ] && shift; exp=("$@")
  local dir="$RUN/e2e-$name"; mkdir -p "$dir"
  echo "### e2e $name: $prompt"
  PORT=$port PAII_CC_RUN=$dir CC_EXTRA_ENV="${CC_EXTRA_ENV:-} $E2E_ENV" \
    bash "$TOOLS/e2e.sh" "$ROOT" "$prompt" "$script" "${args[@]}" >"$dir/e2e.out" 2>&1
  local rc=$?; tail -3 "$dir/e2e.out" | cut -c1-300
  [ $rc = 0 ] && { python3 "$HERE/e2e_check.py" "$dir" "${exp[@]}"; rc=$?; }
  record "e2e $name" $rc
}

CAPTURE='{"name_re":"history__capture$","input":{"category":"learnings","title":"payments-api: db pool 100 -> 150 for batch load","content":"Pool exhausted under batch jobs (98/100 active, 47 waiting). Raised to 150.","metadata":{"service":"payments-api","tags":["db","pool"]}}}'
SEARCH=$(wait_or 'history__search$' '{"text":"db pool fix"}')

# 1. /paii:remember: search is pre-approved; capture needs the permission prompt (denied in -p) ...
e2e remember-denied 8781 "/paii:remember the db pool fix" "[$SEARCH$CAPTURE]" -- 'history__search$' 'history__capture$=denied'
# ... and runs once the person allows it.
e2e remember 8782 "/paii:remember the db pool fix" "[$SEARCH$CAPTURE]" --allowedTools mcp__plugin_paii_history__capture -- 'history__search$' 'history__capture$'

# 2. /paii:incident: seed one past incident (approved write), then the pre-approved reads.
SEED=$(wait_or 'history__record_incident$' '{"id":"INC-456","title":"payments-api-timeout","service":"payments-api","severity":"SEV2","status":"resolved","summary":"payments-api timeouts and 500s","root_cause":"Database connection pool exhaustion","resolution":"Increased pool size from 50 to 100","started":"2026-01-10T02:00:00Z","resolved":"2026-01-10T03:10:00Z","tags":["db","pool"]}')
e2e incident 8783 "/paii:incident payments-api is returning 500s in production" \
  "[$SEED{\"name_re\":\"history__similar_incidents\$\",\"input\":{\"text\":\"payments-api returning 500s in production\",\"service\":\"payments-api\"}},{\"name_re\":\"pagerduty__list_incidents\$\",\"input\":{}},{\"name_re\":\"pagerduty__list_oncalls\$\",\"input\":{}}]" \
  --allowedTools mcp__plugin_paii_history__record_incident -- \
  'history__record_incident$' 'history__similar_incidents$' 'pagerduty__list_incidents$=allowed' 'pagerduty__list_oncalls$=allowed'

# 3. /paii:handoff and /paii:summarize-channel: their reads run without a prompt (no credentials
#    here, so PagerDuty and Slack answer with a "not configured" tool error, which is fine).
e2e handoff 8784 "/paii:handoff past 12 hours" \
  "[$(wait_or 'history__recent$' '{"count":5}'){\"name_re\":\"pagerduty__shift_activity\$\",\"input\":{\"since\":\"12h\"}}]" -- \
  'history__recent$' 'pagerduty__shift_activity$=allowed'
DIGEST=$(wait_or 'slack__channel_digest$' '{"channel":"platform-engineering","hours":8}')
e2e summarize-channel 8785 "/paii:summarize-channel #platform-engineering 8" \
  "[${DIGEST%,}]" -- 'slack__channel_digest$=allowed'

# 4. PAII_READ_ONLY=1: the servers drop their writers and the PreToolUse guard lets reads through.
CC_EXTRA_ENV="${CC_EXTRA_ENV:-} PAII_READ_ONLY=1" e2e read-only 8786 "/paii:remember the db pool fix" "[$SEARCH$CAPTURE]" -- 'history__search$'

echo "### summary"; printf '%s\n' "${summary[@]}"
exit $fail
