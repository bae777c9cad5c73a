# PAII: the two commands a newcomer runs are `make demo` and `make test`.
# Everything is installed into ./.venv from PyPI; nothing needs to be installed by hand but Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.paii-installed
DEMO_HOME := $(CURDIR)/.paii-demo
SHARED ?= $(CURDIR)/../shared

.PHONY: setup demo test contract claude-check bench bench-retrieval ci clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv 2>/dev/null || true
	@if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install -q --python $(BIN)/python -e ".[test]"; \
	 else $(BIN)/python -m pip install -q --disable-pip-version-check -e ".[test]"; fi
	@$(BIN)/paii models install >/dev/null
	@touch $@

## make demo: the seed's 2 AM incident end to end in a sandbox world (no accounts): declare it
## (PagerDuty ack, Slack channel + on-call), similar incidents, the handoff, a channel digest
demo: setup
	@PAII_HOME=$(DEMO_HOME) $(BIN)/paii sandbox demo --examples examples

## make test: the default suite (fast; no network, no external services)
test: setup
	@$(BIN)/pytest -q

## make contract: every integration tool against the vendors' published API specs (Prism mocks)
contract: setup
	@bash tests/contract/run.sh

## make claude-check: the real Claude Code CLI validates the plugin and starts every server
claude-check: setup
	@bash $(SHARED)/claude-code/check_plugin.sh .

## make bench: speed, size and retrieval-quality figures quoted in README.md (slow)
bench: setup
	@$(BIN)/python bench/run_all.py

ci: test contract claude-check

clean:
	rm -rf $(VENV) $(DEMO_HOME) build *.egg-info
