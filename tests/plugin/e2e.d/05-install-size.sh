# Sourced by run_claude_checks.sh: installing the plugin from this checkout copies only the plugin.
# Issue 11 item 1: after `make demo`, `claude plugin marketplace add <checkout>` + `claude plugin
# install` copied ./.venv and the demo data into Claude Code's plugin cache (538 MB). Claude Code
# copies the folder as it is (.gitignore does not matter; only .git is left out) but drops
# symlinks that point outside it, so the Makefile keeps the venv, demo and bench data in
# PAII_DEV_DIR and links them. This stage makes sure `make setup` and `make demo` have run here,
# installs the plugin the way the README says, and bounds what landed in the cache.
install_size_check() {
  local home="$RUN/home_install" limit_kb=$((20 * 1024)) rc=0
  echo "### install size: claude plugin install from this checkout after make setup + make demo"
  make -s -C "$ROOT" demo >"$RUN/install-demo.log" 2>&1 || { echo "make demo failed: see $RUN/install-demo.log"; return 1; }
  rm -rf "$home"; mkdir -p "$home"
  (
    export PAII_CC_RUN="$RUN" CCHOME="$home"
    source "$TOOLS/env.sh"
    cd "$RUN" && cc plugin marketplace add "$ROOT" && cc plugin install paii@paii-marketplace
  ) >"$RUN/install.log" 2>&1 || { echo "install failed:"; tail -5 "$RUN/install.log"; return 1; }
  local cache="$home/.claude/plugins/cache"
  local kb; kb=$(du -sk "$cache" | cut -f1)
  echo "checkout: $(du -skL "$ROOT/.venv" 2>/dev/null | cut -f1) KB of venv behind ./.venv; plugin cache after install: $kb KB (limit $limit_kb KB)"
  [ "$kb" -lt "$limit_kb" ] || { echo "FAIL: the install copied $kb KB:"; du -sk "$cache"/*/*/*/* "$cache"/*/*/*/.[!.]* 2>/dev/null | sort -n | tail -5; rc=1; }
  local leaked; leaked=$(find "$cache" -maxdepth 5 \( -name .venv -o -name .paii-demo -o -name pyvenv.cfg -o -path '*/bench/data' \) | head -3)
  [ -z "$leaked" ] || { echo "FAIL: development state in the plugin cache: $leaked"; rc=1; }
  [ -f "$(find "$cache" -path '*/.claude-plugin/plugin.json' | head -1)" ] || { echo "FAIL: no plugin.json in the cache"; rc=1; }
  return $rc
}
install_size_check; record "install size (claude plugin install from a checkout after make demo)" $?
