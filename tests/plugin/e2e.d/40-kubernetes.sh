# Sourced by run_claude_checks.sh: /paii:troubleshoot against the sandbox Kubernetes service.
# Until the sandbox framework serves it, the service runs here on its own (port E2E_PORT_BASE+60)
# and is stopped at the end; its kubeconfig reaches the server through KUBECONFIG (.mcp.json
# sets PAII_KUBERNETES_KUBECONFIG from userConfig, empty here).
K8S_PORT=$((PB + 60)); K8S_DIR="$RUN/k8s-sandbox"; mkdir -p "$K8S_DIR"
K8S_PY=${PAII_PYTHON:-$ROOT/.venv/bin/python}
PYTHONPATH="$ROOT/servers" "$K8S_PY" -m paii_sandbox.services.kubernetes "$K8S_PORT" "$K8S_DIR" >"$K8S_DIR/service.log" 2>&1 &
K8S_PID=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$K8S_PORT) 2>/dev/null && break; sleep 0.1; done

K8S_SCRIPT="[$(wait_or 'kubernetes__list_pods$' '{"selector":"app=payments-api"}')\
{\"name_re\":\"kubernetes__list_events\$\",\"input\":{\"warnings_only\":true}},\
{\"name_re\":\"kubernetes__get_deployment\$\",\"input\":{\"name\":\"payments-api\"}},\
{\"name_re\":\"history__similar_incidents\$\",\"input\":{\"text\":\"payments-api returning 500s\",\"service\":\"payments-api\"}},\
{\"name_re\":\"kubernetes__describe_pod\$\",\"input\":{\"name\":\"payments-api-7d9f8b6c5-x2k9p\"}},\
{\"name_re\":\"kubernetes__get_logs\$\",\"input\":{\"pod\":\"payments-api-7d9f8b6c5-x2k9p\",\"grep\":\"error\"}},\
{\"name_re\":\"kubernetes__exec_in_pod\$\",\"input\":{\"pod\":\"payments-api-7d9f8b6c5-m4n7q\",\"argv\":[\"python\",\"manage.py\",\"dbstats\"]}},\
{\"name_re\":\"kubernetes__restart_deployment\$\",\"input\":{\"name\":\"payments-api\"}}]"
# the reads run without a prompt; the restart (a write) is denied in -p mode: it needs the person
CC_EXTRA_ENV="${CC_EXTRA_ENV:-} KUBECONFIG=$K8S_DIR/kubeconfig" e2e troubleshoot "/paii:troubleshoot payments-api" \
  "$K8S_SCRIPT" -- 'kubernetes__list_pods$' 'kubernetes__list_events$' 'kubernetes__get_deployment$' \
  'history__similar_incidents$=allowed' 'kubernetes__describe_pod$' 'kubernetes__get_logs$' 'kubernetes__exec_in_pod$' \
  'kubernetes__restart_deployment$=denied'

kill "$K8S_PID" 2>/dev/null; wait "$K8S_PID" 2>/dev/null
