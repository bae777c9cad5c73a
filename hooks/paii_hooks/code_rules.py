"""Inline interpreter code (``python -c``, ``perl -e``, ``node -e``, a heredoc or pipe into
python): the shell commands it starts (``os.system("rm -rf /")``, ``subprocess.run([...])``,
backticks), the folders it deletes (``shutil.rmtree``, ``fs.rmSync``, ``FileUtils.rm_rf``),
code it decodes or downloads and then runs, and fork bombs. A heuristic on purpose: code that
only mentions these words in a string it prints is left alone."""

import re

from paii_hooks.paths import classify
from paii_hooks.rules_fs import DELETE_RULES, WHAT
from paii_hooks.shell import Part, Word

STRING = r"""(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
STRING_RE = re.compile(STRING)
RUNS_SHELL = re.compile(r"\b(?:os\.system|os\.popen|subprocess\.\w+|popen|system|exec|execSync|spawnSync|spawn"
                        r"|execFileSync|execFile|shell_exec|passthru|check_output|check_call|call|run|Popen|getoutput"
                        r"|getstatusoutput|qx)\s*\(\s*(\[[^\]]{0,2000}\]|" + STRING + ")")
BACKTICK = re.compile(r"`([^`\n]{1,2000})`|%x[({]([^)}\n]{1,2000})[)}]")
HOME_EXPR = (r"os\.path\.expanduser\(\s*" + STRING + r"\s*\)|Path\.home\(\)|os\.environ\[\s*['\"]HOME['\"]\s*\]"
             r"|os\.getenv\(\s*['\"]HOME['\"]\s*\)|process\.env\.HOME|ENV\[\s*['\"]HOME['\"]\s*\]|\$ENV\{HOME\}|os\.homedir\(\)")
DELETES = re.compile(r"\b(shutil\.rmtree|rmtree|remove_tree|rm_rf|rm_r|remove_dir|rmSync|rmdirSync|rimraf|rmdir"
                     r"|os\.remove|os\.unlink|unlink|fs\.rm|removedirs)\s*\(\s*(" + STRING + "|" + HOME_EXPR + ")")
RECURSIVE_DELETES = frozenset({"shutil.rmtree", "rmtree", "remove_tree", "rm_rf", "rm_r", "remove_dir", "rmSync",
                               "rimraf", "removedirs", "fs.rm"})
FORK_BOMB = re.compile(r"fork\s+while\s+fork|while\s*\(?\s*(1|true|True)\s*\)?\s*:?\s*\{?[^\n]{0,40}\bfork\s*\(")
DECODE_EXEC = re.compile(r"\b(exec|eval|system|popen|compile)\s*\(.{0,300}(b64decode|base64|fromhex|codecs\.decode"
                         r"|zlib\.decompress|unhexlify|Buffer\.from|decode_base64|unpack)", re.S)
REMOTE_EXEC = re.compile(r"\b(exec|eval)\s*\(.{0,300}(urlopen|requests\.get|http\.get|fetch\(|urllib|LWP|open-uri"
                         r"|Net::HTTP|httpx\.get)", re.S)
PAII_APPROVE = re.compile(r"paii_(cli|runbook)[\s\S]{0,400}\bapprove\b|\bapprove\w*\s*\([\s\S]{0,200}paii", re.S)


def literal(text):
    """The value of a quoted string literal (the common escapes)."""
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def shell_text(arg):
    """A list literal ['rm', '-rf', '/'] as the command line it runs; a string as itself."""
    if arg.startswith("["):
        items = [literal(s) for s in STRING_RE.findall(arg)]
        return " ".join("'" + i.replace("'", "'\\''") + "'" for i in items)
    return literal(arg)


def check_code(lang, text, ctx, depth, analyse, limit=64 * 1024):
    text = text[:limit]
    where = {"python": "python", "node": "node", "perl": "perl", "ruby": "ruby", "php": "php"}.get(lang, lang)
    if FORK_BOMB.search(text):
        ctx.add("fork-bomb", "the %s code forks in an endless loop (a fork bomb): it freezes the machine" % where)
    if PAII_APPROVE.search(text):
        ctx.add("paii-approve", "the %s code approves a runbook step through PAII's own code; approvals are the "
                "person's: ask them to run `paii runbook approve` themselves" % where)
    for m in RUNS_SHELL.finditer(text):
        analyse(shell_text(m.group(1)), ctx, depth + 1, [where + " code"])
    if lang in ("perl", "ruby", "php"):
        for m in BACKTICK.finditer(text):
            analyse(m.group(1) or m.group(2), ctx, depth + 1, [where + " code"])
    for m in DELETES.finditer(text):
        fn, arg = m.group(1), m.group(2)
        path = "~" if not arg[0] in "'\"" and "expanduser" not in arg else None
        if path is None:
            path = literal(STRING_RE.search(arg).group(0))
        kind, shown = classify(Word([Part("lit", path, False)]), ctx)
        recursive = fn in RECURSIVE_DELETES
        if kind in ("other", "temp", "dynamic") or (not recursive and kind not in ("system", "system-sub", "root")):
            continue
        rule = DELETE_RULES[kind] if recursive else "rm-system-path"
        what = WHAT[kind] % shown if "%s" in WHAT[kind] else WHAT[kind]
        ctx.add(rule, "the %s code (%s) deletes %s" % (where, fn, what))
    if DECODE_EXEC.search(text):
        ctx.add("decoded-script", "the %s code decodes text and then runs it, so the guard cannot see what runs" % where)
    if REMOTE_EXEC.search(text):
        ctx.add("remote-script", "the %s code downloads code and runs it at once" % where)
