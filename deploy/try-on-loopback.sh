#!/usr/bin/env bash
# docs/team.md's plain commands, run on this machine's loopback: a Chroma server, a team history
# repository, tokens, the history and PagerDuty servers over streamable HTTP, and nginx with a
# self-signed certificate in front (deploy/nginx.conf with only ports and paths changed).
# Then it checks what docs/team.md says: 401 without a token, a session with one, 421 for an
# unknown Host. Everything lives in one folder and stops when the script ends.
#
#   bash deploy/try-on-loopback.sh [FOLDER] [FIRST_PORT]     (default: a new temp folder, port 10310)
#
# Needs: paii on PATH (make setup; PATH=.venv/bin:$PATH), git, openssl, curl; nginx for the TLS part
# (apt-get install nginx; skipped when missing). Keeps running until Enter when KEEP=1.
set -euo pipefail
D="${1:-$(mktemp -d /tmp/paii-team.XXXXXX)}"
P="${2:-10310}"
CHROMA=$P HISTORY=$((P + 1)) PAGERDUTY=$((P + 2)) TLS=$((P + 33))
REPO="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$D"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.2; done; echo "port $1 did not open" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }

say "1. the vector store: chroma run on 127.0.0.1:$CHROMA"
chroma run --path "$D/chroma" --host 127.0.0.1 --port "$CHROMA" >"$D/chroma.log" 2>&1 & PIDS+=($!)

say "2. the shared files: a bare repository (any git host will do) and this server's clone"
git init -q --bare -b main "$D/paii-history.git"
git clone -q "$D/paii-history.git" "$D/home/history" 2>/dev/null

say "3. one token per person"
export PAII_CONFIG_DIR="$D/config" PAII_AUTH_TOKENS_FILE="$D/tokens"
ALICE=$(paii auth add alice 2>/dev/null)
SAM=$(paii auth add sam --read-only 2>/dev/null)
paii auth list

say "4. the servers, on loopback, behind the proxy"
export PAII_HOME="$D/home" PAII_CHROMA_URL="http://127.0.0.1:$CHROMA" PAII_HISTORY_GIT=1 PAII_ALLOWED_HOSTS=paii.example.test
wait_port "$CHROMA"
paii-history --transport streamable-http --host 127.0.0.1 --port "$HISTORY" >"$D/history.log" 2>&1 & PIDS+=($!)
PAII_PAGERDUTY_URL="${PAII_PAGERDUTY_URL:-http://127.0.0.1:4010}" PAII_PAGERDUTY_TOKEN="${PAII_PAGERDUTY_TOKEN:-demo}" \
  PAII_PAGERDUTY_FROM=alice@example.com paii-pagerduty --transport streamable-http --host 127.0.0.1 --port "$PAGERDUTY" \
  >"$D/pagerduty.log" 2>&1 & PIDS+=($!)
wait_port "$HISTORY"; wait_port "$PAGERDUTY"
cat "$D/history.log" "$D/pagerduty.log"

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'
post() { curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$INIT" "$@"; }
check() { if [ "$2" = "$3" ]; then echo "ok   $1: $2"; else echo "FAIL $1: $2 (expected $3)"; FAILED=1; fi; }
FAILED=0

say "5. checks, straight to the server"
check "no token" "$(post "http://127.0.0.1:$HISTORY/mcp")" 401
check "wrong token" "$(post -H 'Authorization: Bearer nope' "http://127.0.0.1:$HISTORY/mcp")" 401
check "alice" "$(post -H "Authorization: Bearer $ALICE" "http://127.0.0.1:$HISTORY/mcp")" 200
check "sam (read-only) opens a session" "$(post -H "Authorization: Bearer $SAM" "http://127.0.0.1:$HISTORY/mcp")" 200
check "a Host not in PAII_ALLOWED_HOSTS" "$(post -H 'Host: evil.example' -H "Authorization: Bearer $ALICE" "http://127.0.0.1:$HISTORY/mcp")" 421

if command -v nginx >/dev/null; then
  say "6. TLS: nginx on 127.0.0.1:$TLS with a self-signed certificate for paii.example.test"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=paii.example.test" \
    -addext "subjectAltName=DNS:paii.example.test" -keyout "$D/privkey.pem" -out "$D/fullchain.pem" 2>/dev/null
  sed -e "s/listen 443 ssl;/listen 127.0.0.1:$TLS ssl;/" -e 's/paii.example.com/paii.example.test/' -e "s#/etc/ssl/paii#$D#" \
      -e "s/127.0.0.1:8765/127.0.0.1:$HISTORY/" -e "s/127.0.0.1:8000/127.0.0.1:$PAGERDUTY/" "$REPO/deploy/nginx.conf" >"$D/paii.conf"
  mkdir -p "$D/nginx/logs"
  printf 'daemon off;\npid %s/nginx/nginx.pid;\nerror_log %s/nginx/logs/error.log;\nevents {}\nhttp { access_log %s/nginx/logs/access.log; include %s/paii.conf; }\n' \
    "$D" "$D" "$D" "$D" >"$D/nginx-main.conf"
  nginx -p "$D/nginx" -c "$D/nginx-main.conf" & PIDS+=($!)
  wait_port "$TLS"
  R=(--resolve "paii.example.test:$TLS:127.0.0.1" --cacert "$D/fullchain.pem")
  check "https, no token" "$(post "${R[@]}" "https://paii.example.test:$TLS/history/mcp")" 401
  check "https, alice, history" "$(post "${R[@]}" -H "Authorization: Bearer $ALICE" "https://paii.example.test:$TLS/history/mcp")" 200
  check "https, alice, pagerduty" "$(post "${R[@]}" -H "Authorization: Bearer $ALICE" "https://paii.example.test:$TLS/pagerduty/mcp")" 200
  echo "clients: https://paii.example.test:$TLS/history/mcp with 'Authorization: Bearer <token>' (trust $D/fullchain.pem)"
else
  say "6. TLS: skipped (nginx is not installed)"
fi

echo; echo "alice's token: $ALICE"; echo "sam's token (read-only): $SAM"; echo "folder: $D"
if [ "${KEEP:-0}" = 1 ]; then read -r -p "running; press Enter to stop " _; fi
exit "$FAILED"
