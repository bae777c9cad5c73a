# Sourced by run_claude_checks.sh: `paii plugin new` scaffolds a Datadog integration and a skill into a
# copy of this checkout, which then passes the project's tests, `paii doctor` and check_plugin.sh
# (tests/cli/test_plugin_new.py, the test marked slow; about a minute).
echo "### paii plugin new: scaffold into a copy, then tests, doctor and check_plugin.sh"
PY=${PAII_PYTHON:-$ROOT/.venv/bin/python}
mkdir -p "$RUN/plugin-new"
(cd "$ROOT" && PAII_CC_RUN="$RUN" SHARED="$(cd "$TOOLS/.." && pwd)" "$PY" -m pytest -q -m slow -p no:cacheprovider \
  tests/cli/test_plugin_new.py) >"$RUN/plugin-new/pytest.out" 2>&1
rc=$?; tail -3 "$RUN/plugin-new/pytest.out" | cut -c1-300
record "paii plugin new (scaffold passes tests, doctor, check_plugin.sh)" $rc
