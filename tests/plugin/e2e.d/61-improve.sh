# Sourced by run_claude_checks.sh: /paii:improve against a seeded usage log, with no permission
# denials. The scripted model first seeds the log (a month of use: history most, Datadog
# mentioned on 12 days) into the plugin data folder, which Claude Code creates for the session
# (e2e.sh starts from an empty HOME, so it cannot be seeded before), then calls usage_report,
# which the command pre-approves. Afterwards the hooks' own records are checked: the /paii:improve
# request and the usage_report call in the usage log, and the session record in history.
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
  "command": "d=$(ls -d ~/.claude/plugins/data/paii*/ | head -1) && mkdir -p \"$d/usage\" && cat %s >> \"$d/usage/usage.jsonl\" && echo seeded" % sys.argv[1]}}))' "$IMPROVE_SEED")
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
data = next((run / "home_e2e" / ".claude" / "plugins" / "data").glob("paii*"), None)
log = (data / "usage" / "usage.jsonl").read_text().splitlines() if data and (data / "usage" / "usage.jsonl").exists() else []
records = [json.loads(l) for l in log]
if not any(r.get("event") == "prompt" and r.get("command") == "improve" for r in records):
    problems.append("the usage log has no /paii:improve request")
if not any(r.get("event") == "tool" and r.get("tool") == "usage_report" and r.get("ok") for r in records):
    problems.append("the usage log has no usage_report call")
if any("30" in json.dumps(r) and r.get("event") == "prompt" and "text" in r for r in records):
    problems.append("prompt text in the log")
sessions = list((data / "history" / "sessions").rglob("*.md")) if data else []
if not any("/paii:improve" in p.read_text() for p in sessions):
    problems.append("no session record in history/sessions (SessionEnd)")
print("improve in Claude Code:", "PASS" if not problems else "FAIL " + "; ".join(problems))
sys.exit(1 if problems else 0)
PY
record "improve: /paii:improve renders a seeded log with no denials; the hooks logged it and wrote the session record" $?
