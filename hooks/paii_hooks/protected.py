"""Files the assistant must not touch without the person: PAII's run state and approval key (read
or written: a record there is what lets a runbook step run), and Claude Code's settings and plugin
files (written: an Elicitation or PreToolUse hook there would answer every approval itself).

Used by the Bash guard (an argument, a redirection or inline code that names such a path) and by
file_guard.py (Claude Code's Read, Write, Edit, MultiEdit, NotebookEdit and Grep tools).

- run state: any path through a ``runbooks/runs`` folder (``$PAII_HOME/runbooks/runs/``,
  ``~/.local/share/paii/runbooks/runs/``, ``~/.claude/plugins/data/*/runbooks/runs/`` ...);
- the approval key: any file named ``approval.key`` (``$PAII_CONFIG_DIR/approval.key``,
  ``~/.config/paii/approval.key``);
- PAII's own folders as a whole (copied, archived, deleted or searched recursively): its config
  folder and its data folders;
- Claude Code's settings: ``settings*.json`` in any ``.claude`` folder, ``~/.claude.json``,
  managed settings, and the files of installed plugins (``~/.claude/plugins/``, not ``data/``).
"""

import fnmatch
import os
import re

from paii_hooks import config_dir, data_dir, is_set

RUNS_RE = re.compile(r"(^|/)runbooks/runs(/|$)")
KEY_NAME = "approval.key"
MANAGED = ("/etc/claude-code/managed-settings.json", "/Library/Application Support/ClaudeCode/managed-settings.json")
#: words in text that name the run state or the key (inline code, a path only known at run time)
STATE_WORDS = re.compile(r"runbooks/runs|approval\.key")
SETTINGS_WORDS = re.compile(r"\.claude/settings[\w.-]*\.json|\.claude\.json|managed-settings\.json|\.claude/plugins/")


def paii_folders(home):
    """PAII's config folder and data folders (absolute, normalised)."""
    out = {config_dir(), data_dir(), os.path.join(home, ".config", "paii"), os.path.join(home, ".local", "share", "paii")}
    for var in ("PAII_HOME", "CLAUDE_PLUGIN_DATA", "PAII_CONFIG_DIR"):
        value = os.environ.get(var)
        if is_set(value):
            out.add(os.path.expanduser(value))
    return {os.path.normpath(p) for p in out}


def state_kind(path, home):
    """("run-state" | "approval-key", what) when ``path`` (absolute, normalised) is PAII's run state or
    its approval key; None otherwise. A path with glob characters counts when it can match one."""
    if RUNS_RE.search(path):
        return "run-state", "PAII's runbook run state (%s)" % path
    base = path.rsplit("/", 1)[-1]
    if base == KEY_NAME or (("*" in base or "?" in base or "[" in base) and fnmatch.fnmatchcase(KEY_NAME, base)
                            and path.rsplit("/", 1)[0] in paii_folders(home)):
        return "approval-key", "PAII's approval key (%s)" % path
    return None


def folder_kind(path, home):
    """("paii-folder", what) when ``path`` is one of PAII's folders as a whole (or a folder above its
    run state, such as ``runbooks/``)."""
    if path in paii_folders(home) or path.endswith("/runbooks") and path.rsplit("/", 1)[0] in paii_folders(home):
        return "paii-folder", "PAII's folder %s, which holds its run state or approval key" % path
    if re.search(r"/\.claude/plugins/data/[^/]+$", path):
        return "paii-folder", "the plugin data folder %s, which can hold PAII's run state" % path
    return None


def settings_kind(path, home):
    """("claude-settings", what) when writing ``path`` changes Claude Code's settings or a plugin's files."""
    parts = path.rsplit("/", 2)
    base = parts[-1]
    parent = parts[-2] if len(parts) > 1 else ""
    if parent == ".claude" and fnmatch.fnmatchcase(base, "settings*.json"):
        return "claude-settings", "Claude Code's settings (%s)" % path
    if path == os.path.join(home, ".claude.json") or path in MANAGED:
        return "claude-settings", "Claude Code's settings (%s)" % path
    plugins = os.path.join(home, ".claude", "plugins") + "/"
    if path.startswith(plugins) and not path.startswith(plugins + "data/"):
        return "claude-settings", "the files of an installed Claude Code plugin (%s)" % path
    return None
