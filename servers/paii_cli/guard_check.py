"""``paii doctor``'s part about the plugin's hooks: whether the security guard is active (hooks.json
registers hooks/guard.py on Bash and it answers under the python3 Claude Code runs), whether the
person's guard.toml is valid, and whether the usage log is on.

The hooks live in the plugin folder (``$CLAUDE_PLUGIN_ROOT``, or this checkout); a PAII installed
only as MCP servers has none, and says so without counting it as broken.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from paii_common.config import SWITCH_OFF, is_set, paii_config_dir, read_dotenv


def plugin_root() -> Path | None:
    for candidate in (os.environ.get("CLAUDE_PLUGIN_ROOT"), str(Path(__file__).resolve().parents[2])):
        if is_set(candidate) and (Path(candidate) / "hooks" / "hooks.json").is_file():
            return Path(candidate)
    return None


def _guard_config(hooks: Path):
    """The hooks' own GuardConfig (standard-library code in hooks/paii_hooks)."""
    sys.path.insert(0, str(hooks))
    try:
        from paii_hooks.guard_config import GuardConfig
        from paii_hooks.rules import CATALOGUE

        return GuardConfig(), CATALOGUE
    finally:
        sys.path.remove(str(hooks))


def _self_test(hooks: Path) -> tuple[bool, str]:
    """Run the guard as Claude Code does on `rm -rf /`: it must block (exit 2)."""
    python = shutil.which("python3")
    if not python:
        return False, "python3 is not on PATH, and Claude Code runs the hooks with python3"
    payload = json.dumps({"tool_name": "Bash", "hook_event_name": "PreToolUse", "cwd": "/tmp",
                          "tool_input": {"command": "rm -rf /"}})
    try:
        proc = subprocess.run([python, "-S", str(hooks / "guard.py")], input=payload, capture_output=True,
                              text=True, timeout=30)
        version = subprocess.run([python, "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"the guard did not run under {python}: {exc}"
    if proc.returncode == 2 and "rm-root" in proc.stderr:
        return True, f"blocks `rm -rf /` under {python} (Python {version})"
    return False, f"under {python} (Python {version}) the guard answered exit {proc.returncode}: {proc.stderr.strip()[-200:]}"


def guard_report() -> dict[str, Any]:
    root = plugin_root()
    if root is None:
        return {"ok": True, "installed": False, "checks": [{
            "check": "security guard", "ok": True, "warning": True,
            "detail": "not part of this install: it is a hook of the Claude Code plugin (hooks/guard.py)"}], "rules": {}}
    hooks = root / "hooks"
    checks = []
    try:
        registered = json.loads((hooks / "hooks.json").read_text()).get("hooks", {}).get("PreToolUse", [])
        on_bash = any(h.get("matcher") == "Bash" and any("hooks/guard.py" in x.get("command", "") for x in h.get("hooks", []))
                      for h in registered)
    except (OSError, ValueError, AttributeError) as exc:
        on_bash, registered = False, exc
    if on_bash:
        ok, detail = _self_test(hooks)
        checks.append({"check": "security guard", "ok": ok, "detail": ("active on Bash, " + detail) if ok else detail})
    else:
        checks.append({"check": "security guard", "ok": False,
                       "detail": f"{hooks / 'hooks.json'} does not register hooks/guard.py on Bash ({registered if isinstance(registered, Exception) else 'no such entry'})"})
    config, catalogue = _guard_config(hooks)
    if config.error:
        checks.append({"check": "guard settings", "ok": False,
                       "detail": f"ignored, the built-in rules apply: {config.error}"})
    elif config.path:
        checks.append({"check": "guard settings", "ok": True, "detail": (
            f"{config.path}: {len(config.disabled)} rules off, {len(config.allow)} commands allowed, {len(config.rules)} own rules")})
    else:
        checks.append({"check": "guard settings", "ok": True,
                       "detail": f"built-in rules (add rules or turn some off in {paii_config_dir() / 'guard.toml'})"})
    usage = os.environ.get("PAII_USAGE_LOG")
    usage = (usage if is_set(usage) else read_dotenv().get("PAII_USAGE_LOG") or "").strip().lower()
    checks.append({"check": "usage log", "ok": True,
                   "detail": "off (PAII_USAGE_LOG=off)" if usage in SWITCH_OFF
                   else "on: counts of PAII tools, skills and commands used, for /paii:improve (PAII_USAGE_LOG=off turns it off)"})
    return {"ok": all(c["ok"] for c in checks), "installed": True, "checks": checks,
            "rules": {rid: level for rid, (level, _) in catalogue.items()}}


def render_guard(report: dict[str, Any]) -> list[str]:
    lines = ["Claude Code hooks:"]
    for c in report["checks"]:
        sign = "✗" if not c["ok"] else ("!" if c.get("warning") else "✓")
        lines.append(f"    {sign} {c['check']}: {c['detail']}")
    return lines
