# Sourced by run_claude_checks.sh: the security guard (hooks/guard.py) in the real CLI. Bash is
# allowed on the command line, so whatever stops a command here is the guard:
# 1. a blocked command (exit 2): the assistant gets the guard's reason instead of a run. The
#    command is `rm -rf --paii-e2e-never-runs /`: blocked as rm -rf /, and harmless even if it
#    ran (rm stops at the unknown option, and refuses / anyway);
# 2. a safe command runs and its output comes back;
# 3. an `ask` command is not run in -p mode (no one to ask): a permission denial, and the marker
#    it would have created is absent.
GUARD_DIR="$RUN/e2e-guard"; mkdir -p "$GUARD_DIR"; rm -f "$GUARD_DIR/ask-ran"
GUARD_SCRIPT="[{\"name_re\":\"^Bash\$\",\"input\":{\"command\":\"rm -rf --paii-e2e-never-runs /\",\"description\":\"e2e: blocked\"}},
{\"name_re\":\"^Bash\$\",\"input\":{\"command\":\"echo paii-guard-e2e-ok\",\"description\":\"e2e: safe\"}},
{\"name_re\":\"^Bash\$\",\"input\":{\"command\":\"touch $GUARD_DIR/ask-ran && terraform destroy -auto-approve\",\"description\":\"e2e: ask\"}}]"
e2e guard "run the three checks" "$GUARD_SCRIPT" --allowedTools Bash -- '^Bash$=denied'
python3 - "$RUN/e2e-guard" "$GUARD_DIR/ask-ran" <<'PY'
import json, sys
from pathlib import Path
run, marker = Path(sys.argv[1]), Path(sys.argv[2])
calls, results = {}, {}
for line in (run / "e2e_requests.jsonl").read_text().splitlines():
    for msg in (json.loads(line).get("body") or {}).get("messages", []):
        for b in msg.get("content") if isinstance(msg.get("content"), list) else []:
            if b.get("type") == "tool_use":
                calls[b["id"]] = b["input"].get("command", "")
            elif b.get("type") == "tool_result" and b.get("tool_use_id") in calls:
                results[calls[b["tool_use_id"]]] = (bool(b.get("is_error")), json.dumps(b.get("content")))
denied = [d["tool_input"].get("command", "") for d in json.loads((run / "e2e_result.json").read_text()).get("permission_denials") or []]
problems = []
blocked = next((v for k, v in results.items() if k.startswith("rm -rf")), None)
if not blocked or "PAII guard blocked this command" not in blocked[1] or "[rule rm-root]" not in blocked[1]:
    problems.append("rm -rf / was not blocked with the guard's reason: %s" % (blocked,))
safe = results.get("echo paii-guard-e2e-ok")
if not safe or safe[0] or "paii-guard-e2e-ok" not in safe[1]:
    problems.append("the safe command did not run: %s" % (safe,))
if not any("terraform destroy" in d for d in denied):
    problems.append("the ask command was not denied in -p mode: denials %s" % denied)
if marker.exists():
    problems.append("the ask command ran (%s exists)" % marker)
print("guard in Claude Code:", "PASS" if not problems else "FAIL " + "; ".join(problems))
sys.exit(1 if problems else 0)
PY
record "guard: rm -rf / blocked with the reason, a safe command runs, an ask is not run in -p mode" $?
