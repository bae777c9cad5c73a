# Sourced by run_claude_checks.sh: the security guard (hooks/guard.py) and the file guard
# (hooks/file_guard.py) in the real CLI. Bash and Write are allowed on the command line, so
# whatever stops a call here is one of the guards:
# 1. a blocked command (exit 2): the assistant gets the guard's reason instead of a run. The
#    command is `rm -rf --paii-e2e-never-runs /`: blocked as rm -rf /, and harmless even if it
#    ran (rm stops at the unknown option, and refuses / anyway);
# 2. a safe command runs and its output comes back;
# 3. an `ask` command is not run in -p mode (no one to ask): a permission denial, and the marker
#    it would have created is absent;
# 4. approvals are the person's: `script -qc "paii runbook approve ..."` is blocked with the
#    paii-approve rule; a Write of a run record and a Read of the approval key are asked about by
#    the file guard (denied in -p mode, its reason reaches the model) and nothing is written or
#    read; a Write of Claude Code's settings is denied too (in this version Claude Code's own
#    protection of .claude/ answers first; tests/hooks/test_file_guard.py covers the hook's
#    part); a Write of an ordinary file goes through.
GUARD_DIR="$RUN/e2e-guard"; mkdir -p "$GUARD_DIR/cfg" "$GUARD_DIR/proj"
rm -rf "$GUARD_DIR/ask-ran" "$GUARD_DIR/approve-ran" "$GUARD_DIR/paii-home" "$GUARD_DIR/proj/.claude" "$GUARD_DIR/notes.txt"
printf 'e2e-key-never-read' > "$GUARD_DIR/cfg/approval.key"
RUN_RECORD="$GUARD_DIR/paii-home/runbooks/runs/R1.json"
GUARD_SCRIPT="[{\"name_re\":\"^Bash\$\",\"input\":{\"command\":\"rm -rf --paii-e2e-never-runs /\",\"description\":\"e2e: blocked\"}},
{\"name_re\":\"^Bash\$\",\"input\":{\"command\":\"echo paii-guard-e2e-ok\",\"description\":\"e2e: safe\"}},
{\"name_re\":\"^Bash\$\",\"input\":{\"command\":\"touch $GUARD_DIR/ask-ran && terraform destroy -auto-approve\",\"description\":\"e2e: ask\"}},
{\"name_re\":\"^Bash\$\",\"input\":{\"command\":\"script -qc \\\"paii runbook approve R1 2\\\" /dev/null; touch $GUARD_DIR/approve-ran\",\"description\":\"e2e: approve\"}},
{\"name_re\":\"^Write\$\",\"input\":{\"file_path\":\"$RUN_RECORD\",\"content\":\"{\\\"approvals\\\": [{\\\"step\\\": 2}]}\"}},
{\"name_re\":\"^Read\$\",\"input\":{\"file_path\":\"$GUARD_DIR/cfg/approval.key\"}},
{\"name_re\":\"^Write\$\",\"input\":{\"file_path\":\"$GUARD_DIR/proj/.claude/settings.local.json\",\"content\":\"{}\"}},
{\"name_re\":\"^Write\$\",\"input\":{\"file_path\":\"$GUARD_DIR/notes.txt\",\"content\":\"paii-guard-e2e-notes\"}}]"
e2e guard "run the guard checks" "$GUARD_SCRIPT" --allowedTools Bash Write Read -- '^Bash$=denied' '^Write$=denied'
python3 - "$RUN/e2e-guard" "$GUARD_DIR" <<'PY'
import json, sys
from pathlib import Path
run, folder = Path(sys.argv[1]), Path(sys.argv[2])
calls, results = {}, {}
for line in (run / "e2e_requests.jsonl").read_text().splitlines():
    for msg in (json.loads(line).get("body") or {}).get("messages", []):
        for b in msg.get("content") if isinstance(msg.get("content"), list) else []:
            if b.get("type") == "tool_use":
                calls[b["id"]] = b["input"].get("command") or b["name"] + " " + b["input"].get("file_path", "")
            elif b.get("type") == "tool_result" and b.get("tool_use_id") in calls:
                results[calls[b["tool_use_id"]]] = (bool(b.get("is_error")), json.dumps(b.get("content")))
denials = json.loads((run / "e2e_result.json").read_text()).get("permission_denials") or []
denied = [d["tool_input"].get("command") or d["tool_name"] + " " + d["tool_input"].get("file_path", "") for d in denials]
problems = []
blocked = next((v for k, v in results.items() if k.startswith("rm -rf")), None)
if not blocked or "PAII guard blocked this command" not in blocked[1] or "[rule rm-root]" not in blocked[1]:
    problems.append("rm -rf / was not blocked with the guard's reason: %s" % (blocked,))
safe = results.get("echo paii-guard-e2e-ok")
if not safe or safe[0] or "paii-guard-e2e-ok" not in safe[1]:
    problems.append("the safe command did not run: %s" % (safe,))
if not any("terraform destroy" in d for d in denied):
    problems.append("the ask command was not denied in -p mode: denials %s" % denied)
approve = next((v for k, v in results.items() if k.startswith("script -qc")), None)
if not approve or "[rule paii-approve]" not in approve[1]:
    problems.append("script -qc \"paii runbook approve\" was not blocked with the paii-approve rule: %s" % (approve,))
for what, marker in (("run record", "R1.json"), ("approval key", "approval.key"), ("settings", "settings.local.json")):
    if not any(marker in d for d in denied):
        problems.append("the %s call was not denied (denials %s)" % (what, denied))
for tool, marker in (("Write", "R1.json"), ("Read", "approval.key")):
    said = next((v for k, v in results.items() if k.startswith(tool + " ") and k.endswith(marker)), None)
    if not said or "PAII guard: %s would" % tool not in said[1] or "[rule paii-run-state]" not in said[1]:
        problems.append("the file guard's reason did not reach the model for %s %s: %s" % (tool, marker, said))
key_read = next((v for k, v in results.items() if k.startswith("Read ")), None)
if key_read and "e2e-key-never-read" in key_read[1]:
    problems.append("the approval key reached the model")
for marker in ("ask-ran", "approve-ran", "paii-home/runbooks/runs/R1.json", "proj/.claude/settings.local.json"):
    if (folder / marker).exists():
        problems.append("%s exists: the call ran" % marker)
notes = (folder / "notes.txt").read_text() if (folder / "notes.txt").exists() else ""
if notes != "paii-guard-e2e-notes":
    problems.append("the ordinary Write did not go through: %s" % (results.get("Write " + str(folder / "notes.txt")),))
print("guard in Claude Code:", "PASS" if not problems else "FAIL " + "; ".join(problems))
sys.exit(1 if problems else 0)
PY
record "guard: rm -rf / blocked, a safe command runs, asks are not run in -p mode; script -qc paii approve blocked; run record and approval key asked about by the file guard, settings denied; an ordinary Write runs" $?
