# Sourced by run_claude_checks.sh: /paii:improve against a seeded usage log, with no permission
# denials. The scripted model first seeds the log (a month of use: history most, Datadog
# mentioned on 12 days) into the data home (~/.local/share/paii of the session's empty HOME,
# which e2e.sh creates, so it cannot be seeded before), then calls usage_report,
# which the command pre-approves. Afterwards the hooks' own records are checked: the /paii:improve
# request and the usage_report call in the usage log, and the session record in history.
mkdir -p "$RUN"
IMPROVE_SEED="$RUN/improve-seed.jsonl"
python3 - "$IMPROVE_SEED" <<'PY'
import datetime as dt, json, sys
now = dt.datetime.now(dt.timezone.utc)
def t(days): return (now - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
rows = []
for k in range(12):
    rows.append({"v": 1, "t": t(k + 0.5), "session": "seed-%d" % k, "event": "prompt", "mentions": {"datadog": 1}})
    rows.append({"v": 1, "t": t(k + 0.5), "session": "seed-%d" % k, "event": "tool", "server": "history", "tool": "similar_incidents", "ok": True, "ms": 90})
rows += [{"v": 1, "t": t(2), "session": "seed-1", "event": "tool", "server": "pagerduty", "tool": "list_incidents", "ok": True, "ms": 300}] * 5
rows += [{"v": 1, "t": t(1), "session": "seed-0", "event": "prompt", "command": "incident"}] * 3
open(sys.argv[1], "w").write("".join(json.dumps(r) + "\n" for r in rows))
PY
SEED_STEP=$(python3 -c 'import json, sys; print(json.dumps({"name_re": "^Bash$", "input": {"description": "e2e: seed the usage log",
  "command": "d=${PAII_HOME:-$HOME/.local/share/paii} && mkdir -p \"$d/usage\" && cat %s >> \"$d/usage/usage.jsonl\" && echo seeded" % sys.argv[1]}}))' "$IMPROVE_SEED")
IMPROVE_STEPS=$(wait_or 'history__usage_report$' '{"days":30}')
IMPROVE_SCRIPT="[$SEED_STEP,${IMPROVE_STEPS%,}]"
e2e improve "/paii:improve 30" "$IMPROVE_SCRIPT" --allowedTools Bash -- '^Bash$' 'history__usage_report$'
python3 - "$RUN/e2e-improve" <<'PY'
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
result = json.loads((run / "e2e_result.json").read_text())
problems = []
if result.get("permission_denials"):
    problems.append("permission denials: %s" % result["permission_denials"])
report = None
for line in (run / "e2e_requests.jsonl").read_text().splitlines():
    for msg in (json.loads(line).get("body") or {}).get("messages", []):
        for b in msg.get("content") if isinstance(msg.get("content"), list) else []:
            if b.get("type") == "tool_result" and "missing_integrations" in json.dumps(b.get("content")):
                report = json.dumps(b.get("content"))
if not report:
    problems.append("usage_report's answer was not seen")
else:
    for want in ("Datadog", "12 mentions of Datadog", "HIGH", "paii plugin new datadog --type integration --language python"):
        if want not in report:
            problems.append("the report lacks %r" % want)
data = run / "home_e2e" / ".local" / "share" / "paii"  # the data home the CLI, the hooks and the servers share
log = (data / "usage" / "usage.jsonl").read_text().splitlines() if (data / "usage" / "usage.jsonl").exists() else []
records = [json.loads(l) for l in log]
if not any(r.get("event") == "prompt" and r.get("command") == "improve" for r in records):
    problems.append("the usage log has no /paii:improve request")
if not any(r.get("event") == "tool" and r.get("tool") == "usage_report" and r.get("ok") for r in records):
    problems.append("the usage log has no usage_report call")
if any("30" in json.dumps(r) and r.get("event") == "prompt" and "text" in r for r in records):
    problems.append("prompt text in the log")
sessions = list((data / "history" / "sessions").rglob("*.md"))
if not any("/paii:improve" in p.read_text() for p in sessions):
    problems.append("no session record in history/sessions (SessionEnd)")
print("improve in Claude Code:", "PASS" if not problems else "FAIL " + "; ".join(problems))
sys.exit(1 if problems else 0)
PY
record "improve: /paii:improve renders a seeded log with no denials; the hooks logged it and wrote the session record" $?

# "Yes, create it" in a plugin install (issue 21 item 6): the plugin as `claude plugin install`
# copies it (this checkout's files, no .git), the same seeded log, the report, then the scripted
# model runs in Bash exactly the command the report recommends, allowed as the person's yes would.
# In a plugin install `paii plugin new` makes a plugin of the person's own in
# ~/.config/paii/plugins/datadog and prints how to install it; the installed plugin is untouched.
IMPROVE_PLUGIN="$RUN/improve-plugin"; rm -rf "$IMPROVE_PLUGIN"; mkdir -p "$IMPROVE_PLUGIN"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents -P {} "$IMPROVE_PLUGIN/" 2>/dev/null)
if [ ! -f "$IMPROVE_PLUGIN/bin/paii" ]; then
  # stand-in until the plugin ships its own bin/paii (the plugin-front change): the plugin's code, this checkout's Python
  printf '#!/bin/sh\nPYTHONPATH="$(dirname "$0")/../servers" exec "${PAII_PYTHON:-python3}" -m paii_cli "$@"\n' >"$IMPROVE_PLUGIN/bin/paii"
  chmod +x "$IMPROVE_PLUGIN/bin/paii"
fi
(cd "$IMPROVE_PLUGIN" && find . -type f ! -path './bin/paii' ! -path '*/__pycache__/*' -exec sha1sum {} + | sort) >"$RUN/improve-plugin.before"
SCAFFOLD_STEP='{"name_re": "^Bash$", "input": {"description": "scaffold the Datadog plugin", "command": "paii plugin new datadog --type integration --language python"}}'
IMPROVE_SCAFFOLD_SCRIPT="[$SEED_STEP,${IMPROVE_STEPS%,},$SCAFFOLD_STEP]"
SAVED_ROOT=$ROOT; ROOT=$IMPROVE_PLUGIN
# (this session is about the scaffold, not start-up time: a loaded machine gets 120 s to start the servers)
CC_EXTRA_ENV="${CC_EXTRA_ENV:-} MCP_TIMEOUT=120000" e2e improve-scaffold "/paii:improve 30" "$IMPROVE_SCAFFOLD_SCRIPT" --allowedTools Bash -- \
  'history__usage_report$~paii plugin new datadog --type integration --language python' \
  '^Bash$~CREATED: integration datadog.*claude plugin marketplace add .*/\.config/paii/plugins.*claude plugin install paii-datadog@paii-local' \
  no-denials
ROOT=$SAVED_ROOT
python3 - "$RUN" <<'PY'
import json, subprocess, sys
from pathlib import Path
run = Path(sys.argv[1])
home = run / "e2e-improve-scaffold" / "home_e2e"
plugin = home / ".config" / "paii" / "plugins" / "datadog"
problems = []
for rel in (".claude-plugin/plugin.json", ".mcp.json", "bin/paii-server", "servers/paii_datadog/server.py",
            "tests/snapshots/datadog.json"):
    if not (plugin / rel).is_file():
        problems.append(f"{plugin / rel} was not written")
market = home / ".config" / "paii" / "plugins" / ".claude-plugin" / "marketplace.json"
if not market.is_file() or "paii-datadog" not in market.read_text():
    problems.append("the marketplace does not list paii-datadog")
after = subprocess.run("find . -type f ! -path './bin/paii' ! -path '*/__pycache__/*' -exec sha1sum {} + | sort", shell=True, capture_output=True,
                       text=True, cwd=run / "improve-plugin").stdout
if after != (run / "improve-plugin.before").read_text():
    problems.append("the installed plugin's files changed")
# the command's fallback for a `paii` that is not on PATH: Claude Code expands ${CLAUDE_PLUGIN_ROOT} in it
if f'{run / "improve-plugin" / "bin" / "paii"}\\" plugin new' not in (run / "e2e-improve-scaffold" / "e2e_requests.jsonl").read_text():
    problems.append("the command's ${CLAUDE_PLUGIN_ROOT}/bin/paii was not expanded to the plugin's folder")
print("improve scaffold in a plugin install:", "PASS" if not problems else "FAIL " + "; ".join(problems))
sys.exit(1 if problems else 0)
PY
record "improve: \"yes, create it\" runs paii plugin new in Claude Code's Bash in a plugin install (a plugin of one's own)" $?
