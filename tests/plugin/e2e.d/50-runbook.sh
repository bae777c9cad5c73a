# Sourced by run_claude_checks.sh: /paii:runbook (the runbook server, its command and approvals).
# 1. A dry run of the health check: the command's reads run without a prompt; start_run is allowed
#    here as the person would allow it at its prompt (it runs the preflight checks against the target).
GET_HC=$(wait_or 'runbook__get_runbook$' '{"name":"payments-api-health-check"}')
e2e runbook-dry-run "/paii:runbook payments-api-health-check" \
  "[${GET_HC}{\"name_re\":\"runbook__find_runbooks\$\",\"input\":{\"text\":\"payments-api returning 500s\"}},{\"name_re\":\"runbook__list_runbooks\$\",\"input\":{}},{\"name_re\":\"runbook__start_run\$\",\"input\":{\"name\":\"payments-api-health-check\",\"dry_run\":true}}]" \
  --allowedTools mcp__plugin_paii_runbook__start_run -- \
  'runbook__get_runbook$' 'runbook__find_runbooks$' 'runbook__list_runbooks$' 'runbook__start_run$'

# 2. approve_step and run_step are never pre-approved: in -p without --allowedTools they are denied.
GET_FO=$(wait_or 'runbook__get_runbook$' '{"name":"database-failover","parameters":{"target":"primary-postgres"}}')
e2e runbook-approve-denied "/paii:runbook database-failover primary-postgres" \
  "[${GET_FO}{\"name_re\":\"runbook__approve_step\$\",\"input\":{\"run_id\":\"database-failover-20260102-020000-3fa1\",\"step_id\":\"5\"}},{\"name_re\":\"runbook__run_step\$\",\"input\":{\"run_id\":\"database-failover-20260102-020000-3fa1\",\"step_id\":\"5\"}}]" -- \
  'runbook__get_runbook$' 'runbook__approve_step$=denied' 'runbook__run_step$=denied'
