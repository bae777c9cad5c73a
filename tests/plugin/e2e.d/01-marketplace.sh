# Sourced by run_claude_checks.sh: a new user's first hour, the README's way (issue 21).
# From a fresh HOME and a fresh plugin data folder (no venv; package caches as warm as a person's
# ~/.cache may be): `claude plugin marketplace add <checkout>` + `claude plugin install`, then
#  1. `claude mcp list`: all six servers connect at once though nothing is installed yet (the
#     front answers from handshake.json; the packages install in the background);
#  2. in a terminal (a plain process, not Claude): the installed plugin's `paii history import`;
#  3. a real `claude -p "/paii:incident ..."` session with the scripted model: its first request
#     already offers the tools of all six servers, similar_incidents finds INC-456 from the
#     import, and Claude Code's Bash finds the plugin's `paii`.
# Unlike the other sessions this one never sets PAII_PYTHON: the installed plugin builds its own venv.
marketplace_session() {
  local home="$RUN/home_marketplace" port=$((PB + 40)) rc=0 dir="$RUN/e2e-marketplace"
  local cache="XDG_CACHE_HOME=$RUN/pkg-cache"
  rm -rf "$home" "$dir"; mkdir -p "$home" "$dir" "$RUN/work"
  echo "### marketplace: install from a fresh HOME, connect, import in a terminal, first session"
  (
    export PAII_CC_RUN="$RUN" CCHOME="$home"; source "$TOOLS/env.sh"
    cd "$RUN/work" && cc plugin marketplace add "$ROOT" && cc plugin install paii@paii-marketplace
  ) >"$dir/install.log" 2>&1 || { echo "install failed:"; tail -5 "$dir/install.log"; return 1; }
  local installed; installed=$(dirname "$(dirname "$(find "$home/.claude/plugins/cache" -path '*/.claude-plugin/plugin.json' | head -1)")")
  local data="$home/.claude/plugins/data/paii-paii-marketplace"
  echo "installed: $installed"

  # 1. all six connect from an empty plugin data folder, within Claude Code's default 30 s
  local start=$SECONDS
  (
    export PAII_CC_RUN="$RUN" CCHOME="$home" CC_EXTRA_ENV="$cache"; source "$TOOLS/env.sh"
    cd "$RUN/work" && cc mcp list
  ) >"$dir/mcp-list-1.out" 2>&1
  cat "$dir/mcp-list-1.out"
  local connected; connected=$(grep -c 'plugin:paii:.*Connected' "$dir/mcp-list-1.out")
  echo "first claude mcp list: $connected of 6 connected in $((SECONDS - start)) s, venv ready: $(ls "$data/venvs" 2>/dev/null | grep -v tmp || echo none)"
  [ "$connected" = 6 ] || { echo "FAIL: not every server connected on a fresh plugin data folder"; rc=1; }
  record "marketplace: six servers connect on a fresh plugin data folder (no venv)" $rc; rc=0

  # 2. a terminal: the plugin's own paii (it waits for the install the servers started)
  start=$SECONDS
  env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "$cache" \
    "$installed/bin/paii" history import --category incidents "$ROOT/examples/incidents.jsonl" >"$dir/import.out" 2>&1
  local irc=$?; tail -3 "$dir/import.out"
  echo "terminal import: rc=$irc in $((SECONDS - start)) s"
  grep -q "imported 15" "$dir/import.out" || { echo "FAIL: paii history import"; rc=1; }
  [ -f "$home/.local/share/paii/history/incidents/2025-12/INC-456.md" ] || { echo "FAIL: INC-456 is not in the data home"; rc=1; }
  [ -d "$data/history" ] && { echo "FAIL: history written into the plugin data folder"; rc=1; }
  record "marketplace: terminal paii history import into the data home" $rc; rc=0

  # the README's other commands, with the installed plugin's paii in a terminal
  tpaii() { env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "$cache" "$installed/bin/paii" "$@"; }
  local sbx=$((PB + 42)) step
  for step in "doctor --json" "runbook list" "sandbox start --detach --port-base $sbx" "sandbox status" "sandbox stop" \
              "plugin new demo --type integration --dry-run" "runbook approve no-such-run 1"; do
    # shellcheck disable=SC2086
    tpaii $step </dev/null >"$dir/cmd.out" 2>&1; local crc=$?
    if grep -q "Traceback\|command not found\|No module named" "$dir/cmd.out" || { [ $crc != 0 ] && [ "${step%% *}" != runbook ] && [ "${step%% *}" != doctor ]; }; then
      echo "FAIL: paii $step (rc=$crc):"; tail -5 "$dir/cmd.out"; rc=1
    else
      echo "ok: paii $step (rc=$crc)"
    fi
  done
  tpaii sandbox stop >/dev/null 2>&1
  record "marketplace: README commands with the installed plugin's paii" $rc; rc=0

  # 3. the first real session, with the scripted model
  local script
  # claude -p asks the model at once; servers still connecting then ("pending") are waited for
  # with WaitForMcpServers, as in the other sessions (wait_or)
  script="[$(wait_or 'history__similar_incidents$' '{"text":"payments-api returning 500s in production","service":"payments-api"}')
{\"name_re\":\"pagerduty__list_incidents\$\",\"input\":{}},
{\"name_re\":\"^Bash\$\",\"input\":{\"command\":\"command -v paii && paii --version\",\"description\":\"paii on the Bash PATH\"}}]"
  MOCK_LOG="$dir/e2e_requests.jsonl" MOCK_SCRIPT="$script" python3 "$TOOLS/mock_anthropic.py" "$port" >"$dir/mock.log" 2>&1 &
  local mock=$!
  for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  (
    export PAII_CC_RUN="$RUN" CCHOME="$home"
    export CC_EXTRA_ENV="$cache ANTHROPIC_BASE_URL=http://127.0.0.1:$port ANTHROPIC_API_KEY=sk-ant-dummy-offline"
    source "$TOOLS/env.sh"; cd "$RUN/work"
    timeout 300 bash -c "source '$TOOLS/env.sh'; cc -p \"\$0\" --output-format stream-json --verbose --allowedTools 'Bash(command -v paii && paii --version)'" \
      "/paii:incident payments-api is returning 500s in production" </dev/null >"$dir/e2e_stream.jsonl" 2>"$dir/claude.err"
  )
  echo "claude rc=$?"
  kill "$mock" 2>/dev/null; wait "$mock" 2>/dev/null
  grep '"type":"result"' "$dir/e2e_stream.jsonl" | tail -1 >"$dir/e2e_result.json"
  python3 "$HERE/e2e_check.py" "$dir" 'history__similar_incidents$~INC-456' 'pagerduty__list_incidents$=allowed' \
    '^Bash$~paii 0' || rc=1
  python3 - "$dir" <<'PY' || rc=1
import json, re, sys
run = sys.argv[1]
init = next((json.loads(l) for l in open(f"{run}/e2e_stream.jsonl") if '"subtype":"init"' in l), {})
status = {s.get("name"): s.get("status") for s in init.get("mcp_servers", [])}
print("init mcp_servers:", status)
bodies = [json.loads(l).get("body", {}) for l in open(f"{run}/e2e_requests.jsonl")]
bodies = [b for b in bodies if b.get("tools")]
def offered(body):
    return sorted({m.group(1) for t in body["tools"] if (m := re.match(r"mcp__plugin_paii_([a-z]+)__", t["name"]))})
waits = sum(1 for m in bodies[-1].get("messages", []) if isinstance(m.get("content"), list)
            for c in m["content"] if c.get("type") == "tool_use" and c.get("name") == "WaitForMcpServers")
print(f"model requests: {len(bodies)}; WaitForMcpServers calls: {waits}; first request offers {offered(bodies[0])}")
want = ["history", "jira", "kubernetes", "pagerduty", "runbook", "slack"]
last = offered(bodies[-1])
ok = last == want and not [n for n, s in status.items() if s not in ("connected", "pending")]
print("all six servers connected in the first session:", "PASS" if ok else f"FAIL ({last}, want {want})")
bash = [l for l in open(f"{run}/e2e_stream.jsonl") if "paii on the Bash PATH" in l or "command -v paii" in l]
results = [json.loads(l) for l in open(f"{run}/e2e_stream.jsonl") if '"tool_result"' in l]
texts = [str(b.get("content")) for m in results for b in m["message"]["content"] if b.get("type") == "tool_result"]
if any("installing PAII's Python packages" in t for t in texts):
    print("FAIL: paii in Claude Code's Bash installed a second venv"); ok = False
sys.exit(0 if ok else 1)
PY
  return $rc
}
marketplace_session; record "marketplace: first session: six servers connected, similar_incidents finds INC-456, Bash finds paii" $?
