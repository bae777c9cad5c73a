#!/usr/bin/env bash
# Contract suite: every integration tool makes its real HTTP calls, through the real client
# library, against Prism serving the vendor's published OpenAPI spec (../shared/api-mocks).
set -u
cd "$(dirname "$0")/../.."
SHARED="${SHARED:-$(cd .. && pwd)/shared}"
MOCKS="$SHARED/api-mocks/start.sh"
[ -x "$MOCKS" ] || [ -f "$MOCKS" ] || { echo "contract: $MOCKS not found (set SHARED=...)" >&2; exit 2; }
started=()
# every mock the contract tests use; one that is already answering (another run's) is reused
for spec in pagerduty:4010 slack:4011 jira:4016 kubernetes:4015 kubernetes-full:4014 k8s-exec:4030; do
  name=${spec%%:*}; port=${spec#*:}
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
    echo "contract: $name mock already answering on $port"
  else
    PYTHON="${PYTHON:-$PWD/.venv/bin/python}" bash "$MOCKS" "$name:$port" || { echo "contract: could not start the $name mock" >&2; exit 1; }
    started+=("$name")
  fi
done
.venv/bin/pytest -q -m contract tests/contract
rc=$?
[ ${#started[@]} -gt 0 ] && bash "$MOCKS" stop >/dev/null
exit $rc
