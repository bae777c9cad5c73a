"""The Makefile: `make help`, development targets that say what they need, nothing built in the plugin folder."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})


def test_make_help_lists_the_targets_and_marks_the_development_ones():
    out = make("help")
    assert out.returncode == 0
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:] if line.strip()}
    for target in ("setup", "demo", "test", "contract", "claude-check", "claude-checks", "bench", "ci", "clean"):
        assert target in lines, target
    for target in ("contract", "claude-check", "claude-checks", "ci"):
        assert "[dev]" in lines[target], target
    assert "[dev]" not in lines["demo"] and "[dev]" not in lines["test"]


@pytest.mark.parametrize("target, missing", [("contract", "api-mocks/start.sh"), ("claude-check", "claude-code/check_plugin.sh"),
                                             ("claude-checks", "claude-code/check_plugin.sh")])
def test_a_development_target_without_the_shared_harness_fails_with_one_clear_line(tmp_path, target, missing):
    out = make(target, f"SHARED={tmp_path}/nope")
    assert out.returncode != 0 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"make {target} is a development target" in lines[0]
    assert f"{tmp_path}/nope/{missing} is missing" in lines[0] and "No such file" not in lines[0]


def test_the_dev_venv_and_demo_data_live_outside_the_plugin_folder():
    out = make("-n", "demo")
    dev = make("-s", "--eval=print-dev-dir:\n\t@echo $(PAII_DEV_DIR)", "print-dev-dir").stdout.strip()
    assert dev and not Path(dev).resolve().is_relative_to(ROOT.resolve())
    assert f"PAII_HOME=\"{dev}/demo\"" in out.stdout
    venv = ROOT / ".venv"
    if venv.exists():  # after `make setup`: a link out of the checkout (Claude Code does not copy it)
        assert venv.is_symlink() and not venv.resolve().is_relative_to(ROOT.resolve())
