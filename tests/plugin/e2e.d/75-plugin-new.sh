# Sourced by run_claude_checks.sh: `paii plugin new` in both installs (issue 21 item 6).
# 1. In a checkout: a Datadog integration and a skill scaffolded into a copy of this checkout pass
#    the project's tests (the generated ones and tests/cli/test_plugin_new.py among them), `paii
#    doctor` and check_plugin.sh (tests/cli/test_plugin_new.py, the test marked slow; a few minutes).
# 2. In a plugin install: a fresh HOME installs PAII the README's way; the installed plugin's `paii`
#    (its bin/paii, or the installed servers/ with this checkout's Python until bin/paii exists),
#    run in that person's terminal outside any checkout, writes ~/.config/paii/plugins/datadog; the
#    commands it prints are run as printed; Claude Code validates the plugin and its marketplace,
#    its server connects in `claude mcp list`, and in a session its tool is listed and answers.
echo "### paii plugin new: scaffold into a copy, then tests, doctor and check_plugin.sh"
PY=${PAII_PYTHON:-$ROOT/.venv/bin/python}
mkdir -p "$RUN/plugin-new"
(cd "$ROOT" && PAII_CC_RUN="$RUN" SHARED="$(cd "$TOOLS/.." && pwd)" "$PY" -m pytest -q -m slow -p no:cacheprovider \
  tests/cli/test_plugin_new.py) >"$RUN/plugin-new/pytest.out" 2>&1
rc=$?; tail -3 "$RUN/plugin-new/pytest.out" | cut -c1-300
record "paii plugin new in a checkout (the suite, doctor and check_plugin.sh pass after it)" $rc

user_plugin_check() {
  local dir="$RUN/user-plugin" home="$RUN/user-plugin/home" port=$((PB + 60))
  echo "### paii plugin new in a plugin install: a plugin of one's own, installed in Claude Code"
  rm -rf "$dir"; mkdir -p "$home" "$dir/terminal"
  (
    export PAII_CC_RUN="$dir" CCHOME="$home"
    source "$TOOLS/env.sh"
    cd "$dir" && cc plugin marketplace add "$ROOT" && cc plugin install paii@paii-marketplace
  ) >"$dir/install.log" 2>&1 || { echo "PAII install failed:"; tail -5 "$dir/install.log"; return 1; }
  local inst; inst=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(d["plugins"]["paii@paii-marketplace"][0]["installPath"])' "$home/.claude/plugins/installed_plugins.json")
  local paii=(env PYTHONPATH="$inst/servers" "$PY" -m paii_cli)
  [ -f "$inst/bin/paii" ] && paii=("$inst/bin/paii")
  echo "the installed plugin's paii: ${paii[*]}"
  (cd "$dir/terminal" && env -i HOME="$home" PATH="/usr/local/bin:/usr/bin:/bin" PAII_PYTHON="$PY" LANG=C.UTF-8 \
    "${paii[@]}" plugin new datadog --json) >"$dir/new.json" 2>"$dir/new.err" \
    || { echo "paii plugin new failed:"; tail -5 "$dir/new.err" "$dir/new.json"; return 1; }
  python3 - "$dir/new.json" "$home" >"$dir/next.sh" <<'PY' || return 1
import json, sys
new, home = json.load(open(sys.argv[1])), sys.argv[2]
want = f"{home}/.config/paii/plugins"
problems = [p for p in [new.get("mode") != "user" and f"mode {new.get('mode')}",
                        new.get("root") != want and f"root {new.get('root')}, not {want}",
                        new.get("plugin") != "paii-datadog" and f"plugin {new.get('plugin')}",
                        new.get("next") != [f"claude plugin marketplace add {want}", "claude plugin install paii-datadog@paii-local"]
                        and f"next {new.get('next')}"] if p]
if problems:
    print("paii plugin new said:", "; ".join(problems), file=sys.stderr)
    sys.exit(1)
print("\n".join(new["next"]))  # exactly what the person is told to run next
PY
  (
    export PAII_CC_RUN="$dir" CCHOME="$home" CC_EXTRA_ENV="PAII_PYTHON=$PY"
    source "$TOOLS/env.sh"
    cd "$dir/terminal" || exit 1
    claude() { cc "$@"; }
    set -e
    source "$dir/next.sh"
    cc plugin validate --strict "$home/.config/paii/plugins/datadog/.claude-plugin/plugin.json"
    cc plugin validate --strict "$home/.config/paii/plugins/.claude-plugin/marketplace.json"
    cc mcp list
  ) >"$dir/claude.log" 2>&1 || { echo "installing the user plugin failed:"; tail -8 "$dir/claude.log"; return 1; }
  grep -q 'plugin:paii-datadog:datadog: .*Connected' "$dir/claude.log" \
    || { echo "the user plugin's server did not connect:"; grep -i 'datadog' "$dir/claude.log"; return 1; }
  grep 'plugin:paii-datadog:datadog' "$dir/claude.log"
  # a session: the model (scripted) finds the tool among the session's tools and calls it
  local script; script="[$(wait_or 'datadog__list_monitors$' '{}')]"; script=${script%,]}]
  MOCK_SCRIPT="$script" MOCK_LOG="$dir/requests.jsonl" python3 "$TOOLS/mock_anthropic.py" "$port" >"$dir/mock.log" 2>&1 &
  local mock=$!
  for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  (
    export PAII_CC_RUN="$dir" CCHOME="$home"
    export CC_EXTRA_ENV="PAII_PYTHON=$PY ANTHROPIC_BASE_URL=http://127.0.0.1:$port ANTHROPIC_API_KEY=sk-ant-dummy-offline"
    source "$TOOLS/env.sh"
    cd "$dir/terminal" && timeout 180 bash -c "source '$TOOLS/env.sh'; cc -p 'Which Datadog monitors are alerting?' \
      --output-format json --allowedTools mcp__plugin_paii-datadog_datadog__list_monitors" </dev/null
  ) >"$dir/result.json" 2>"$dir/session.err"
  kill $mock 2>/dev/null
  python3 - "$dir" <<'PY'
import json, sys
run = sys.argv[1]
tools, result = set(), None
for line in open(f"{run}/requests.jsonl"):
    body = json.loads(line).get("body") or {}
    tools |= {t.get("name") for t in body.get("tools", [])}
    for msg in body.get("messages", []):
        for b in msg.get("content") if isinstance(msg.get("content"), list) else []:
            if b.get("type") == "tool_result" and "datadog" in json.dumps(b.get("content")).lower():
                result = json.dumps(b.get("content"))
problems = []
listed = sorted(t for t in tools if "paii-datadog" in t)
if "mcp__plugin_paii-datadog_datadog__list_monitors" not in tools:
    problems.append(f"the session's tools lack list_monitors (user plugin tools: {listed})")
if not result or "PAII_DATADOG_API_KEY" not in result:
    problems.append(f"list_monitors did not answer that Datadog is not configured: {result}")
denials = json.load(open(f"{run}/result.json")).get("permission_denials")
if denials:
    problems.append(f"permission denials: {denials}")
print("user plugin in a session:", "PASS " + ", ".join(listed) if not problems else "FAIL " + "; ".join(problems))
sys.exit(1 if problems else 0)
PY
}
user_plugin_check; record "paii plugin new in a plugin install (a plugin of one's own: installed, connected, its tool listed)" $?
