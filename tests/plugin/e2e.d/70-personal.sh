# Sourced by run_claude_checks.sh: the personal skills' commands, /paii:spanish and /paii:write.
# Each session first seeds its history with approved writes (captures allowed by --allowedTools,
# as a person's yes would), then runs the command's pre-approved reads: the server's review of
# the seeded sessions (words due, past mistakes) and the writing profile (counted word range).
SP1='{"name_re":"history__capture$","input":{"category":"learnings","title":"Spanish practice: market (intermediate)","content":"Bought fruit at a market in Sevilla.","metadata":{"spanish":{"level":"intermediate","theme":"market","words":[{"es":"mientras","en":"while"},{"es":"camarero","en":"waiter"}],"mistakes":[{"said":"una agua con gas","correct":"un agua con gas","rule":"feminine nouns starting with a stressed a take un"}],"grammar":["quisiera: polite conditional"]}}}},'
SP2='{"name_re":"history__capture$","input":{"category":"learnings","title":"Spanish practice: bus station (intermediate)","content":"Asked for tickets and times.","metadata":{"spanish":{"level":"intermediate","theme":"bus station","words":[{"es":"la parada","en":"the stop"}],"mistakes":[{"said":"una agua","correct":"un agua","rule":"stressed a takes un"}]}}}},'
e2e spanish "/paii:spanish intermediate restaurant" \
  "[$(wait_or 'history__recent$' '{"tag":"spanish","count":5}')$SP1$SP2{\"name_re\":\"history__recent\$\",\"input\":{\"tag\":\"spanish\",\"count\":5}}]" \
  --allowedTools mcp__plugin_paii_history__capture -- \
  'history__capture$' 'history__recent$~"due_words": ?\[[^]]*"es": ?"mientras"' 'history__recent$~"sessions": ?2' no-denials

ART='{"name_re":"history__capture$","input":{"category":"articles","title":"SLOs for people who carry the pager","content":"# SLOs for people who carry the pager\n\nAn opening paragraph about error budgets and why they matter to on-call engineers.\n\n## Pick the right indicator\n\nLatency and errors as users see them, measured at the edge, not at the database.\n\n## Burn rates\n\nAlert on how fast the budget burns, over two windows, so a page means something.","metadata":{"writing":{"topic":"SLOs","tone":["practical","hands-on"],"structure":["real-world example"],"status":"published"}}}},'
PREF='{"name_re":"history__capture$","input":{"category":"learnings","title":"Writing preferences: long-form, practical","content":"Prefers 1500-2500 words with one real incident as the example.","metadata":{"writing":{"tone":["practical"],"length":{"min":1500,"max":2500}}}}},'
e2e write "/paii:write chaos engineering" \
  "[$(wait_or 'history__recent$' '{"tag":"writing","count":10}')$ART$PREF{\"name_re\":\"history__recent\$\",\"input\":{\"tag\":\"writing\",\"count\":10}},{\"name_re\":\"history__search\$\",\"input\":{\"text\":\"chaos engineering\"}}]" \
  --allowedTools mcp__plugin_paii_history__capture -- \
  'history__capture$' 'history__recent$~"suggested_range": ?"1500-2500' 'history__recent$~"articles": ?1' 'history__search$' no-denials
