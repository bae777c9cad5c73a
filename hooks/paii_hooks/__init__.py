"""Code shared by PAII's Claude Code hooks (standard library only: hooks run under the system
python3, with no venv and no installs, and must start in well under 100 ms).

The Bash guard goes one way (tests/hooks/test_hook_layers.py keeps it so):

- parse: ``shell_words`` (words, commands, compound nodes), ``shell_lex`` (words,
  redirections, heredocs), ``shell`` (the grammar: a line as a tree); ``paths``, ``argv``,
  ``protected`` (PAII's run state, approval key, Claude Code's settings), ``sql``;
- resolve: ``expand`` (what a word is before the line runs), ``unwrap`` and ``launchers`` (the
  program behind sudo/env/timeout/script -c/parallel/tmux/bash -c/eval...), ``context`` (the
  state the walk keeps);
- rules: ``rules_fs``, ``rules_machine``, ``rules_git``, ``rules_infra``, ``rules_data``,
  ``rules_paii``, ``rules_hidden``, ``code_rules``, and ``rules`` (the catalogue, the dispatch);
- walk: ``sources``, ``scripts``, ``shell_state``, ``follow``, ``analyse``;
- decision: ``decision``, ``guard_config`` (the person's guard.toml).

``usage_log``, ``mentions`` and ``session_record`` are the usage log's (counts and names only;
never arguments or prompts).
"""

import os
import sys
import time

#: the switch values PAII accepts everywhere (paii_common.config repeats them; a test checks)
ON = frozenset({"1", "true", "t", "yes", "y", "on", "enable", "enabled"})
OFF = frozenset({"0", "false", "f", "no", "n", "off", "disable", "disabled"})


def is_set(value):
    """False for None, empty, an unexpanded ``${...}`` and a ``<placeholder>``."""
    if not value or not str(value).strip() or "${" in str(value):
        return False
    text = str(value).strip()
    return not (text.startswith("<") and text.endswith(">"))


def config_dir():
    """``$PAII_CONFIG_DIR``, else the platform config folder (as paii_common.config)."""
    explicit = os.environ.get("PAII_CONFIG_DIR")
    if is_set(explicit):
        return os.path.expanduser(explicit)
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "paii")
    if os.name == "nt":
        return os.path.join(os.environ.get("LOCALAPPDATA") or home, "paii", "paii")
    return os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "paii")


def data_dir():
    """PAII's data home, where the usage log and the session records (history) go: ``$PAII_HOME``,
    else the per-user data folder (paii_common.config.paii_home's rule; the servers and the CLI
    use the same folder, under Claude Code too)."""
    value = os.environ.get("PAII_HOME")
    if is_set(value):
        return os.path.expanduser(value)
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "paii")
    return os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share"), "paii")


def plugin_dir():
    """The hooks' own files (compiled bytecode, their error log): Claude Code's plugin data folder
    (``$CLAUDE_PLUGIN_DATA``), else the data home."""
    value = os.environ.get("CLAUDE_PLUGIN_DATA")
    return os.path.expanduser(value) if is_set(value) else data_dir()


def bytecode_cache():
    """Keep the hook modules' compiled bytecode in <plugin data>/pycache: importing them from source
    costs more than the hook's whole time budget, the plugin folder may be read-only, and
    PYTHONDONTWRITEBYTECODE (often set) would otherwise recompile them on every call."""
    sys.pycache_prefix = os.path.join(plugin_dir(), "pycache")
    sys.dont_write_bytecode = False


def read_dotenv_value(name):
    """``name`` from the user's .env ($PAII_CONFIG_DIR/.env), or None. Enough for PAII's switches."""
    try:
        with open(os.path.join(config_dir(), ".env"), encoding="utf-8") as fh:
            lines = fh.read(256 * 1024).splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    found = None
    for line in lines:
        line = line.strip()
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, sep, value = line.partition("=")
        if not sep or key.strip() != name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        found = value
    return found


def setting(name):
    """A PAII setting for hooks: the environment first, then the user's .env."""
    value = os.environ.get(name)
    return value if is_set(value) else read_dotenv_value(name)


def log_error(what, exc=None):
    """Append one line (and the traceback) to <data>/logs/hooks.log; never raises."""
    try:
        folder = os.path.join(plugin_dir(), "logs")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "hooks.log")
        if os.path.exists(path) and os.path.getsize(path) > 1024 * 1024:
            os.replace(path, path + ".1")
        text = time.strftime("%Y-%m-%dT%H:%M:%S") + " " + what + "\n"
        if exc is not None:
            import traceback

            text += "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
        return path
    except Exception:  # a hook never fails the session over its log
        return None
