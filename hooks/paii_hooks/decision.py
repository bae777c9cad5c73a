"""The guard's answer for one Bash command: ``block``, ``ask`` or ``allow``, with the reasons, after
the person's settings (guard.toml: rules turned off, exact commands allowed; locked rules stay)."""

import os

from paii_hooks import config_dir
from paii_hooks.analyse import check
from paii_hooks.rules import LOCKED


def decide(command, cwd, home, config):
    """("block" | "ask" | "allow", [(rule id, reason), ...]) for one Bash command, with the
    person's settings (a GuardConfig) applied: disabled rules dropped, an allowed command only
    held to the locked rules."""
    allowed = command.strip() in config.allow
    found = []
    for rule, reason in check(command, cwd, home, config).findings:
        level = config.level(rule)
        if level and not (allowed and rule not in LOCKED):
            found.append((level, rule, reason))
    if not found:
        return "allow", []
    decision = "block" if any(level == "block" for level, _, _ in found) else "ask"
    return decision, [(rule, reason) for level, rule, reason in found if level == decision]


def explain(decision, reasons, config):
    """The message: for a block, what to do instead; for a question, what to check."""
    text = "; ".join("%s [rule %s]" % (reason, rule) for rule, reason in reasons[:3])
    if len(reasons) > 3:
        text += "; and %d more" % (len(reasons) - 3)
    where = config.path or os.path.join(config_dir(), "guard.toml")
    note = (" (Your guard settings were ignored: %s.)" % config.error) if config.error else ""
    if decision == "block":
        locked = all(rule in LOCKED for rule, _ in reasons)
        advice = ("Do not run it another way. Tell the person what you wanted to do and why; they can run it "
                  "themselves in a terminal")
        if not locked:
            advice += (", or allow this exact command in %s (allow = [...]) or turn the rule off there "
                       "(disable = [\"%s\"])" % (where, reasons[0][0]))
        return "PAII guard blocked this command: %s. %s.%s" % (text, advice, note)
    return "PAII guard: %s. Check it before allowing.%s" % (text, note)
