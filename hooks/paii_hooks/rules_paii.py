"""Rules that protect the person's approvals: ``paii runbook approve`` run by the assistant, any
other way to reach PAII's approval path (a command that mentions paii and approve, PAII's own
modules run by path, ``paii`` with words only known at run time), and any command that reads or
changes PAII's run state or approval key, or copies or deletes PAII's folders wholesale."""

import re

from paii_hooks import protected
from paii_hooks.argv import operands_after
from paii_hooks.paths import literal_paths, normalise
from paii_hooks.shell import lit_word

PAII_WORD = re.compile(r"(?i)paii")
APPROVE_WORD = re.compile(r"(?i)approve")
#: programs whose arguments are data they print, search or record, not commands they run
DATA_PROGS = frozenset({"echo", "printf", "grep", "egrep", "fgrep", "zgrep", "rg", "ag", "ack", "git", "cat", "less",
                        "more", "head", "tail", "wc", "diff", "sort", "uniq", "man", "ls", "test", "[", "true", "false",
                        ":", "which", "type", "jq", "yq", "sed", "find", "tee", "touch", "mkdir", "cd", "pushd", "alias",
                        "export", "declare", "local", "set", "read"})
#: programs that read, copy, archive or delete a whole folder
WHOLE_FOLDER = frozenset({"cp", "rsync", "tar", "zip", "7z", "scp", "rclone", "rm", "mv", "chmod", "chown", "ln", "find",
                          "grep", "rg", "ag", "egrep", "fgrep", "zgrep", "du", "cat"})
NOT_READ = frozenset({"echo", "printf", "which", "type", "mkdir", "man"})


def paii(inv, cmd, ctx, depth):
    argv = inv.argv()
    ops = operands_after(argv, 0, ())
    if "runbook" in ops and "approve" in ops[ops.index("runbook") + 1:][:1]:
        ctx.add("paii-approve", "`%s` would approve a runbook step on the person's behalf. Approvals are the "
                "person's: show them the step and ask them to run `paii runbook approve` in their own terminal "
                "(or answer the approval prompt)" % inv.line())
    elif any(a and a.startswith("-") and APPROVE_WORD.search(a) for a in argv):
        ctx.add("paii-approve-indirect", "`%s` passes paii an option about approving; approvals are the "
                "person's" % inv.line())
    elif ops[:1] == [None] or (ops[:1] == ["runbook"] and ops[1:2] == [None]):
        ctx.add("paii-approve-indirect", "`%s` runs paii with words only known when it runs (it could be "
                "`paii runbook approve`)" % inv.line())


def paii_module(inv, cmd, ctx, depth):
    ctx.add("paii-approve-indirect", "`%s` runs PAII's own code by its module path, which can reach the runbook "
            "approval path; approvals are the person's" % " ".join(inv.via[-1:] + [inv.line().split(" ", 1)[-1]]))


def check_generic(inv, cmd, ctx):
    """Every program the line runs: does it mention paii and approve, or touch PAII's state?"""
    if inv.prog not in DATA_PROGS and inv.prog != "paii" and inv.kind in ("run", "template", "shell-script"):
        text = " ".join(inv.via + [inv.line()])
        if PAII_WORD.search(text) and APPROVE_WORD.search(text):
            ctx.add("paii-approve-indirect", "`%s` mentions paii and approve: it may reach PAII's approval path; "
                    "approvals are the person's" % inv.line())
    if inv.prog in NOT_READ:
        return
    for word in inv.args:
        check_path_word(word, inv, ctx, whole=inv.prog in WHOLE_FOLDER)


def check_path_word(word, inv, ctx, whole=False, shown=None):
    """One argument (or redirection target): PAII's run state, its key, or one of its folders."""
    text = word.static()
    if text is None:
        if protected.STATE_WORDS.search(word.text()):
            ctx.add("paii-run-state", "`%s` touches PAII's run state or approval key (%s)" % (shown or inv.line(), word.text()))
        return
    if text.startswith("-") and "=" in text:
        text = text.split("=", 1)[1]
        word = lit_word(text)
    if "/" not in text and "approval" not in text and "runbooks" not in text and text not in ("~", ".", ".."):
        return
    for path in literal_paths(word, ctx) or ():
        if not path.startswith("/"):
            continue
        path = normalise(path)
        found = protected.state_kind(path, ctx.home) or (protected.folder_kind(path, ctx.home) if whole else None)
        if found:
            ctx.add("paii-run-state", "`%s` touches %s; run records and the approval key are the person's to change"
                    % (shown or inv.line(), found[1]))
            return


CHECKS = {"paii": paii, "paii-module": paii_module}
