# Sourced by run_claude_checks.sh: /paii:runbook (the runbook server, its command and approvals).
# 1. A dry run of the health check: the command's reads run without a prompt; start_run is allowed
#    here as the person would allow it at its prompt (it runs the preflight checks against the target).
GET_HC=$(wait_or 'runbook__get_runbook$' '{"name":"payments-api-health-check"}')
e2e runbook-dry-run "/paii:runbook payments-api-health-check" \
  "[${GET_HC}{\"name_re\":\"runbook__find_runbooks\$\",\"input\":{\"text\":\"payments-api returning 500s\"}},{\"name_re\":\"runbook__list_runbooks\$\",\"input\":{}},{\"name_re\":\"runbook__start_run\$\",\"input\":{\"name\":\"payments-api-health-check\",\"dry_run\":true}}]" \
  --allowedTools mcp__plugin_paii_runbook__start_run -- \
  'runbook__get_runbook$' 'runbook__find_runbooks$' 'runbook__list_runbooks$' 'runbook__start_run$'

# 2. run_step is never pre-approved: in -p without --allowedTools it is denied. There is no
#    approval tool at all: tools/list has none for the model to call.
GET_FO=$(wait_or 'runbook__get_runbook$' '{"name":"database-failover","parameters":{"target":"primary-postgres"}}')
e2e runbook-run-step-denied "/paii:runbook database-failover primary-postgres" \
  "[${GET_FO}{\"name_re\":\"runbook__run_step\$\",\"input\":{\"run_id\":\"database-failover-20260102-020000-3fa1\",\"step_id\":\"5\"}}]" -- \
  'runbook__get_runbook$' 'runbook__run_step$=denied'

# 3. A step that needs approval, in a runbook of the session's own (userConfig runbook_path), with
#    the person: an Elicitation hook in the session's settings plays them (tests/plugin/e2e_hooks;
#    never shipped). run_step asks them itself; they accept; the step runs. start_run, run_step and
#    finish_run are allowed as the person would allow them at Claude Code's permission prompt.
# 4. The same without the person: `claude -p` answers every prompt "cancel", so run_step refuses,
#    says how the person approves, and the step's command never ran.
# The scripted model cannot read start_run's answer, so it passes run_id "LATEST"; a PreToolUse
# hook of the session (e2e_hooks/latest_run.py) puts in the newest run's id. It approves nothing.
RB_DIR="$RUN/e2e-runbook-books"; rm -rf "$RB_DIR"; mkdir -p "$RB_DIR"
cat >"$RB_DIR/gate-e2e.md" <<EOF
---
title: E2E gate
description: One step that needs the person's approval.
---
## Step 1: Touch the marker
\`\`\`yaml
run: [touch, '$RB_DIR/gated-step-ran']
timeout: 10
approval: required
\`\`\`
EOF
rb_settings() {  # $1: 1 = with the person (the Elicitation hook), 0 = without
  python3 - "$RB_DIR" "$HERE/e2e_hooks" "$1" <<'PY'
import json, sys
books, hooks, person = sys.argv[1:]
run_id = {"matcher": "mcp__plugin_paii_runbook__(run_step|get_run|finish_run)",
          "hooks": [{"type": "command", "command": f"python3 {hooks}/latest_run.py"}]}
settings = {"pluginConfigs": {"paii@inline": {"options": {"runbook_path": books, "runbook_operator": "e2e-person"}}},
            "hooks": {"PreToolUse": [run_id]}}
if person == "1":
    settings["hooks"]["Elicitation"] = [{"hooks": [{"type": "command", "command": f"python3 {hooks}/person_says_yes.py"}]}]
print(json.dumps(settings))
PY
}
GET_GATE=$(wait_or 'runbook__get_runbook$' '{"name":"gate-e2e"}')
GATE_SCRIPT="[${GET_GATE}{\"name_re\":\"runbook__start_run\$\",\"input\":{\"name\":\"gate-e2e\",\"dry_run\":false}},
{\"name_re\":\"runbook__run_step\$\",\"input\":{\"run_id\":\"LATEST\",\"step_id\":\"1\"}},
{\"name_re\":\"runbook__get_run\$\",\"input\":{\"run_id\":\"LATEST\"}},
{\"name_re\":\"runbook__finish_run\$\",\"input\":{\"run_id\":\"LATEST\",\"outcome\":\"aborted\"}}]"
RB_WRITES="mcp__plugin_paii_runbook__start_run,mcp__plugin_paii_runbook__run_step,mcp__plugin_paii_runbook__finish_run"
rb_settings 1 >"$RB_DIR/with-person.json"; rb_settings 0 >"$RB_DIR/without-person.json"
CC_EXTRA_ENV="${CC_EXTRA_ENV:-} E2E_ELICIT_LOG=$RB_DIR/asked.jsonl" \
e2e runbook-approved-by-the-person "/paii:runbook gate-e2e" "$GATE_SCRIPT" \
  --settings "$RB_DIR/with-person.json" --allowedTools "$RB_WRITES" -- \
  'runbook__start_run$' 'runbook__run_step$~"status": ?"passed"' 'runbook__get_run$~"status": ?"done"' \
  'runbook__finish_run$' 'no-denials'
test -f "$RB_DIR/gated-step-ran" && grep -q '"message": "Approve step 1 of runbook gate-e2e' "$RB_DIR/asked.jsonl"
record "runbook: the person's yes at the elicitation prompt ran the step (marker made, prompt logged)" $?
rm -f "$RB_DIR/gated-step-ran"
e2e runbook-without-the-person "/paii:runbook gate-e2e" "$GATE_SCRIPT" \
  --settings "$RB_DIR/without-person.json" --allowedTools "$RB_WRITES" -- \
  'runbook__start_run$' 'runbook__run_step$=allowed' 'runbook__get_run$~"status": ?"running"' \
  'runbook__finish_run$' 'no-denials'
test ! -e "$RB_DIR/gated-step-ran" && grep -q 'this session cannot show prompts (claude -p answers every one with cancel): the step did not run' \
  "$RUN/e2e-runbook-without-the-person/e2e_requests.jsonl"
record "runbook: without the person (claude -p answers cancel) run_step refused and the step did not run" $?
