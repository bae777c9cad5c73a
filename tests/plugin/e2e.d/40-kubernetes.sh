# Sourced by run_claude_checks.sh: /paii:troubleshoot against the sandbox's Kubernetes service.
# The pre-approved reads (pods, events, deployment, pod, logs, the allowlisted dbstats through
# exec) run without a prompt; the restart it then proposes is a write: denied in -p mode, and the
# sandbox's state afterwards shows nothing changed. The kubeconfig reaches the server through the
# plugin's userConfig, the fixed clock through `env`: both from `paii sandbox env --format claude`.
K8S_HOME="$RUN/k8s-sandbox-home"; mkdir -p "$K8S_HOME"
K8S_BASE=$((PB + 60))
K8S_PAII="${PAII_PYTHON:+$(dirname "$PAII_PYTHON")/paii}"; K8S_PAII="${K8S_PAII:-$ROOT/.venv/bin/paii}"
ksbx() { PAII_HOME="$K8S_HOME" "$K8S_PAII" sandbox "$@"; }
ksbx stop >/dev/null 2>&1
if ksbx start --detach --reset --port-base "$K8S_BASE" --now 2026-01-02T02:00:00Z >"$RUN/k8s-sandbox-start.out" 2>&1; then
  K8S_SETTINGS="$RUN/k8s-sandbox-settings.json"; ksbx env --format claude >"$K8S_SETTINGS"
  K8S_SCRIPT="[$(wait_or 'kubernetes__list_pods$' '{"selector":"app=payments-api"}')
{\"name_re\":\"kubernetes__list_events\$\",\"input\":{\"warnings_only\":true}},
{\"name_re\":\"kubernetes__get_deployment\$\",\"input\":{\"name\":\"payments-api\"}},
{\"name_re\":\"history__similar_incidents\$\",\"input\":{\"text\":\"payments-api returning 500s\",\"service\":\"payments-api\"}},
{\"name_re\":\"kubernetes__describe_pod\$\",\"input\":{\"name\":\"payments-api-7d9f8b6c5-x2k9p\"}},
{\"name_re\":\"kubernetes__get_logs\$\",\"input\":{\"pod\":\"payments-api-7d9f8b6c5-x2k9p\",\"grep\":\"error\"}},
{\"name_re\":\"kubernetes__exec_in_pod\$\",\"input\":{\"pod\":\"payments-api-7d9f8b6c5-m4n7q\",\"argv\":[\"python\",\"manage.py\",\"dbstats\"]}},
{\"name_re\":\"kubernetes__restart_deployment\$\",\"input\":{\"name\":\"payments-api\"}}]"
  e2e troubleshoot "/paii:troubleshoot payments-api" \
    "$K8S_SCRIPT" --settings "$K8S_SETTINGS" -- 'kubernetes__list_pods$' 'kubernetes__list_events$' \
    'kubernetes__get_deployment$' 'history__similar_incidents$=allowed' 'kubernetes__describe_pod$' \
    'kubernetes__get_logs$' 'kubernetes__exec_in_pod$' 'kubernetes__restart_deployment$=denied'
  ksbx state kubernetes >"$RUN/k8s-sandbox-state.json" 2>&1
  python3 - "$RUN/k8s-sandbox-state.json" "$RUN/e2e-troubleshoot/e2e_requests.jsonl" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
requests = open(sys.argv[2]).read()
problems = []
dep = state["payments"]["deployments"]["payments-api"]
if dep["revision"] != 3: problems.append(f"payments-api is at revision {dep['revision']}: the denied restart ran")
if "Active connections: 98/100" not in requests: problems.append("the dbstats answer never reached the model")
print("kubernetes sandbox state:", "PASS" if not problems else "FAIL " + "; ".join(problems))
sys.exit(1 if problems else 0)
PY
  record "kubernetes sandbox: reads ran, the denied restart changed nothing" $?
else
  cat "$RUN/k8s-sandbox-start.out"; record "kubernetes sandbox start" 1
fi
ksbx stop >/dev/null 2>&1
