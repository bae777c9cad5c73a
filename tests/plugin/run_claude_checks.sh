#!/usr/bin/env bash
# Runs the plugin through the real Claude Code CLI (offline): check_plugin.sh, then e2e sessions
# of the slash commands with a scripted model. Exit non-zero if anything fails. CI calls this.
# usage: tests/plugin/run_claude_checks.sh [PLUGIN_DIR]
#   CLAUDE_CODE_TOOLS  folder with check_plugin.sh/e2e.sh (default $SHARED/claude-code, SHARED=../shared)
#   PAII_PYTHON        interpreter with the dependencies for the e2e sessions (default: the
#                      repo's .venv if present; empty = let bin/paii-mcp build its venv)
set -u
# E2E_PORT_BASE: the scripted model of the n-th session listens on E2E_PORT_BASE+n (default 8780),
# so two checkouts can run these checks at once with different bases (and different PAII_CC_RUN).
PB=${E2E_PORT_BASE:-8780}
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
if [ "${SKIP_CHECK_PLUGIN:-0}" = 1 ]; then echo "### check_plugin.sh skipped (SKIP_CHECK_PLUGIN=1)"; else
echo "### check_plugin.sh pass 1: cold venv, cold package caches (MCP_TIMEOUT=180000)"
start=$SECONDS
CC_EXTRA_ENV="${CC_EXTRA_ENV:-} $CACHE_ENV MCP_TIMEOUT=180000" bash "$TOOLS/check_plugin.sh" "$ROOT"; rc=$?
record "check_plugin.sh pass 1, cold caches ($((SECONDS - start))s)" $rc
echo "### check_plugin.sh pass 2: cold venv, warm package caches, default 30 s timeout"
start=$SECONDS
CC_EXTRA_ENV="${CC_EXTRA_ENV:-} $CACHE_ENV" bash "$TOOLS/check_plugin.sh" "$ROOT"; rc=$?
record "check_plugin.sh pass 2, warm caches ($((SECONDS - start))s)" $rc
fi

# Servers connect after the session starts: the scripted model first calls WaitForMcpServers,
# whose name only exists until they connect. WAIT_OR(step) repeats a step that also matches it,
# so the script stays aligned however many waits are needed; the repeated step must be a read
# or an idempotent write.
wait_or() { local re=$1 input=$2 out="" i; for i in $(seq 12); do out+="{\"name_re\":\"^WaitForMcpServers\$|$re\",\"input\":$input},"; done; printf '%s' "$out"; }

N_E2E=0
e2e() {  # name prompt script [claude args...] -- expectations...
  local name=$1 prompt=$2 script=$3; shift 3
  N_E2E=$((N_E2E + 1)); local port=$((PB + 100 + N_E2E))  # apart from the sandboxes at PB+10..PB+69
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

# The sessions: each file in tests/plugin/e2e.d/ (in name order) calls e2e for its scenarios.
# If E2E_ONLY is set (a regex), only the files whose name matches it run.
for f in "$HERE"/e2e.d/*.sh; do
  [ -n "${E2E_ONLY:-}" ] && ! [[ "$(basename "$f")" =~ $E2E_ONLY ]] && continue
  source "$f"
done

echo "### summary"; printf '%s\n' "${summary[@]}"
exit $fail
