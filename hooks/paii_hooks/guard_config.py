"""The person's guard settings: ``guard.toml`` (or ``guard.json``) in PAII's config folder
(``$PAII_CONFIG_DIR``, else ``~/.config/paii/``)::

    disable = ["git-discard"]                 # built-in rules to turn off, by id
    allow = ["rm -rf /var/lib/myapp/cache"]   # exact commands that always run
    production = ["prod", "live"]             # words in a kube context or namespace that mean production
    protected_branches = ["main", "master", "release/*"]

    [[rules]]                                 # your own rules
    id = "prod-db"
    decision = "ask"                          # or "block"
    command = "psql"                          # optional: only this program
    pattern = "prod-db\\\\.internal"            # regex searched in the program and its arguments
    reason = "psql against the production database"

A file that cannot be read or has a mistake is ignored as a whole (the built-in rules apply,
and each question says so); ``paii doctor`` shows the mistake. Rules in ``rules.LOCKED``
cannot be disabled or allowed: they protect the person's own decisions.
"""

import json
import os
import re

from paii_hooks import config_dir
from paii_hooks.rules import CATALOGUE, LOCKED
from paii_hooks.rules_git import DEFAULT_PROTECTED
from paii_hooks.rules_infra import DEFAULT_PRODUCTION

NAMES = ("guard.toml", "guard.json")
KEYS = {"disable", "allow", "production", "protected_branches", "rules"}
RULE_KEYS = {"id", "decision", "command", "pattern", "reason"}


class GuardConfig:
    def __init__(self, folder=None):
        folder = folder or config_dir()
        self.protected_paths = {os.path.normpath(os.path.join(folder, n)) for n in NAMES}
        self.path = None
        self.error = None
        self.disabled, self.allow, self.rules, self.custom = set(), set(), [], {}
        self.production = re.compile(DEFAULT_PRODUCTION)
        self.protected_branches = DEFAULT_PROTECTED
        for name in NAMES:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                self.path = path
                break
        if self.path:
            try:
                self._apply(self._read(self.path))
            except (ValueError, OSError, re.error, TypeError) as exc:
                self.error = "%s: %s" % (self.path, exc)
                self.disabled, self.allow, self.rules, self.custom = set(), set(), [], {}
                self.production = re.compile(DEFAULT_PRODUCTION)
                self.protected_branches = DEFAULT_PROTECTED

    @staticmethod
    def _read(path):
        with open(path, "rb") as fh:
            raw = fh.read(256 * 1024)
        if path.endswith(".json"):
            return json.loads(raw.decode("utf-8"))
        try:
            import tomllib
        except ImportError:
            raise ValueError("reading guard.toml needs Python 3.11 or newer for python3; write guard.json instead") from None
        try:
            return tomllib.loads(raw.decode("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError("not valid TOML (%s)" % exc) from None

    def _apply(self, data):
        if not isinstance(data, dict):
            raise ValueError("expected a table of settings")
        unknown = set(data) - KEYS
        if unknown:
            raise ValueError("unknown setting %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(sorted(KEYS))))
        disable = _strings(data, "disable")
        bad = [r for r in disable if r not in CATALOGUE]
        if bad:
            raise ValueError("disable: no built-in rule %s (ids are listed by `paii doctor --json` and in hooks/README.md)"
                             % ", ".join(bad))
        locked = [r for r in disable if r in LOCKED]
        if locked:
            raise ValueError("disable: %s cannot be turned off (it protects your own approvals and settings)" % ", ".join(locked))
        self.disabled = set(disable)
        self.allow = {c.strip() for c in _strings(data, "allow") if c.strip()}
        words = _strings(data, "production")
        if words:
            self.production = re.compile(r"(?i)(^|[-_./:@])(%s)($|[-_./:@\d])" % "|".join(re.escape(w) for w in words))
        branches = _strings(data, "protected_branches")
        if branches:
            self.protected_branches = tuple(branches)
        rules = data.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError("rules: expected a list of tables ([[rules]])")
        for k, rule in enumerate(rules):
            self._add_rule(k, rule)

    def _add_rule(self, k, rule):
        where = "rules[%d]" % k
        if not isinstance(rule, dict):
            raise ValueError("%s: expected a table" % where)
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise ValueError("%s: unknown key %s" % (where, ", ".join(sorted(unknown))))
        rid = rule.get("id")
        if not isinstance(rid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,47}", rid):
            raise ValueError("%s: id must be lowercase letters, digits and '-' (e.g. prod-db)" % where)
        if rid in CATALOGUE or rid in self.custom:
            raise ValueError("%s: id %s is already used" % (where, rid))
        if rule.get("decision") not in ("ask", "block"):
            raise ValueError("%s (%s): decision must be \"ask\" or \"block\"" % (where, rid))
        for key in ("pattern", "reason"):
            if not isinstance(rule.get(key), str) or not rule[key].strip():
                raise ValueError("%s (%s): %s is required (a non-empty string)" % (where, rid, key))
        command = rule.get("command", "")
        if not isinstance(command, str):
            raise ValueError("%s (%s): command must be a program name" % (where, rid))
        try:
            regex = re.compile(rule["pattern"])
        except re.error as exc:
            raise ValueError("%s (%s): pattern is not a valid regular expression (%s)" % (where, rid, exc)) from None
        entry = {"id": rid, "decision": rule["decision"], "command": command.strip(), "regex": regex,
                 "reason": rule["reason"].strip()}
        self.rules.append(entry)
        self.custom[rid] = entry

    def level(self, rule):
        if rule in self.custom:
            return self.custom[rule]["decision"]
        if rule in self.disabled:
            return None
        return CATALOGUE[rule][0] if rule in CATALOGUE else "ask"


def _strings(data, key):
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("%s: expected a list of strings" % key)
    return value
