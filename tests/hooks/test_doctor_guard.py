"""``paii doctor`` says whether the security guard is active, whether guard.toml is valid, and
whether the usage log is on; a broken guard setting is a broken install (exit 1)."""

from __future__ import annotations

import json
import shutil

import pytest

from paii_cli import guard_check
from tests.hooks.conftest import HOOKS


def checks(report):
    return {c["check"]: c for c in report["checks"]}


def test_the_guard_is_active_and_blocks_under_python3():
    report = guard_check.guard_report()
    guard = checks(report)["security guard"]
    assert report["ok"] and report["installed"] and guard["ok"]
    assert guard["detail"].startswith("active on Bash, blocks `rm -rf /` under ")
    assert report["rules"]["rm-root"] == "block" and report["rules"]["helm-uninstall"] == "ask"


def test_valid_guard_settings_are_summarised(isolated_env, monkeypatch, tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "guard.toml").write_text('disable = ["git-discard"]\nallow = ["make nuke"]\n')
    monkeypatch.setenv("PAII_CONFIG_DIR", str(cfg))
    detail = checks(guard_check.guard_report())["guard settings"]["detail"]
    assert detail.endswith("guard.toml: 1 rules off, 1 commands allowed, 0 own rules")


def test_invalid_guard_settings_make_doctor_fail_with_the_mistake(isolated_env, monkeypatch, tmp_path, capsys):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "guard.toml").write_text('disable = ["paii-approve"]\n')
    monkeypatch.setenv("PAII_CONFIG_DIR", str(cfg))
    from paii_cli import main

    with pytest.raises(SystemExit) as code:
        main(["doctor"])
    out = capsys.readouterr().out
    assert code.value.code == 1
    assert "✗ guard settings: ignored, the built-in rules apply:" in out and "cannot be turned off" in out


def test_the_usage_log_switch_is_shown(monkeypatch):
    monkeypatch.setenv("PAII_USAGE_LOG", "off")
    assert checks(guard_check.guard_report())["usage log"]["detail"] == "off (PAII_USAGE_LOG=off)"


def test_a_plugin_whose_hooks_json_lost_the_guard_is_reported(monkeypatch, tmp_path):
    root = tmp_path / "plugin"
    shutil.copytree(HOOKS, root / "hooks", ignore=shutil.ignore_patterns("__pycache__"))
    spec = json.loads((root / "hooks" / "hooks.json").read_text())
    spec["hooks"]["PreToolUse"] = [h for h in spec["hooks"]["PreToolUse"] if h["matcher"] != "Bash"]
    (root / "hooks" / "hooks.json").write_text(json.dumps(spec))
    monkeypatch.setenv("CLAUDE_PLUGIN_ROOT", str(root))
    report = guard_check.guard_report()
    assert not report["ok"] and "does not register hooks/guard.py on Bash" in checks(report)["security guard"]["detail"]


def test_an_install_without_the_plugin_says_the_guard_is_not_part_of_it(monkeypatch):
    monkeypatch.setattr(guard_check, "plugin_root", lambda: None)
    report = guard_check.guard_report()
    assert report["ok"] and not report["installed"]
    assert "not part of this install" in checks(report)["security guard"]["detail"]
