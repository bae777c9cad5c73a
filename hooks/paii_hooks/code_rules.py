"""Inline interpreter code (``python -c``, ``perl -e``, ``ruby -e``, ``node -e``, ``php -r``, an
awk program, an ``expect`` script, a heredoc or pipe into python): the shell commands it starts
(``os.system("rm -rf /")``, ``subprocess.run([...])``, backticks, awk's ``system()`` and
``| "sh"``, expect's ``spawn``), the folders it deletes (``shutil.rmtree``, ``fs.rmSync``,
``FileUtils.rm_rf``, ``rmtree``), code it decodes or downloads and then runs, fork bombs, PAII's
approval path and run state. A heuristic on purpose: code that only mentions these words in a
string it prints is left alone."""

import re

from paii_hooks import protected
from paii_hooks.paths import classify
from paii_hooks.rules_fs import DELETE_RULES, WHAT
from paii_hooks.shell import Part, Word

STRING = r"""(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
STRING_RE = re.compile(STRING)
RUNS_SHELL = re.compile(r"\b(?:os\.system|os\.popen|os\.exec\w*|os\.spawn\w*|os\.posix_spawnp?|pty\.spawn"
                        r"|subprocess\.\w+|popen|system|exec|execSync|spawnSync|spawn"
                        r"|execFileSync|execFile|shell_exec|passthru|check_output|check_call|call|run|Popen|getoutput"
                        r"|getstatusoutput|qx)\s*\(\s*(\[[^\]]{0,2000}\]|" + STRING + r"(?:\s*,\s*" + STRING + r")*"
                        r"(?:\s*,\s*\[[^\]]{0,2000}\])?)")
APPLESCRIPT = re.compile(r"do\s+shell\s+script\s+(" + STRING + ")")
RUNS_BARE = re.compile(r"\b(?:system|exec)\s+(" + STRING + r"(?:\s*,\s*" + STRING + r")*)")  # perl, ruby
BACKTICK = re.compile(r"`([^`\n]{1,2000})`|%x[({]([^)}\n]{1,2000})[)}]")
HOME_EXPR = (r"(?:os\.path\.)?expanduser\(\s*" + STRING + r"\s*\)|(?:pathlib\.)?Path\.home\(\)"
             r"|os\.environ\[\s*['\"]HOME['\"]\s*\]|os\.getenv\(\s*['\"]HOME['\"]\s*\)|process\.env\.HOME"
             r"|ENV\[\s*['\"]HOME['\"]\s*\]|\$ENV\{\s*['\"]?HOME['\"]?\s*\}|(?:os\.)?homedir\(\)|Dir\.home"
             r"|File\.expand_path\(\s*['\"]~['\"]\s*\)")
DELETE_FNS = (r"\b((?:FileUtils\.)?(?:rm_rf|rm_r|remove_dir|remove_entry_secure)|FileUtils\.rm|shutil\.rmtree|rmtree"
              r"|remove_tree|rmSync|rmdirSync|rimraf|rmdir|os\.remove|os\.unlink|unlink|fs\.rm|removedirs)")
DELETE_ARG = r"(?:glob\s*\(\s*)?(" + STRING + "|" + HOME_EXPR + ")"
DELETES = re.compile(DELETE_FNS + r"\s*\(\s*" + DELETE_ARG)
DELETES_BARE = re.compile(DELETE_FNS + r"\s+" + DELETE_ARG)  # ruby and perl call without parentheses
RECURSIVE_DELETES = frozenset({"shutil.rmtree", "rmtree", "remove_tree", "rm_rf", "rm_r", "remove_dir", "rmSync",
                               "rimraf", "removedirs", "fs.rm", "FileUtils.rm_rf", "FileUtils.rm_r",
                               "FileUtils.remove_dir", "FileUtils.remove_entry_secure", "remove_entry_secure"})
FORK_BOMB = re.compile(r"fork\s+while\s+fork|while\s*\(?\s*(1|true|True)\s*\)?\s*:?\s*\{?[^\n]{0,40}\bfork\s*\(")
DECODE_EXEC = re.compile(r"\b(exec|eval|system|popen|compile)\s*\(.{0,300}(b64decode|base64|fromhex|codecs\.decode"
                         r"|zlib\.decompress|unhexlify|Buffer\.from|decode_base64|unpack)", re.S)
REMOTE_EXEC = re.compile(r"\b(exec|eval)\s*\(.{0,300}(urlopen|requests\.get|http\.get|fetch\(|urllib|LWP|open-uri"
                         r"|Net::HTTP|httpx\.get)", re.S)
PAII_WORD = re.compile(r"(?i)paii")
APPROVE_WORD = re.compile(r"(?i)approve")
PAII_CODE = re.compile(r"\b(import\s+paii_\w+|from\s+paii_\w+|run_module\(\s*['\"]paii_|import_module\(\s*['\"]paii_"
                       r"|__import__\(\s*['\"]paii_)")
# awk: system("..." x), "cmd" | getline, print ... | "cmd"
AWK_STRING = r'"(?:[^"\\\n]|\\.)*"'
AWK_SYSTEM = re.compile(r"\bsystem\s*\(((?:[^()]|\([^()]*\))*)\)")
AWK_TOKEN = re.compile(AWK_STRING + r"|\$?\w+|[ \t]+")
GETLINE = re.compile(r"\|\s*getline\b")
AWK_PIPE_TO = re.compile(r"\b(print|printf)\b([^|;\n}]*)\|\s*(" + AWK_STRING + r")")
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash"})
EXPECT_SPAWN = re.compile(r"\b(?:spawn|exec)\s+(?:-\w+\s+)*([^\n;\]\}]+)")
EXPECT_SEND = re.compile(r"\bsend\s+(?:--\s+)?(" + AWK_STRING + r"|\{[^}\n]*\})")


def literal(text):
    """The value of a quoted string literal (the common escapes)."""
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\n"}.get(m.group(1), m.group(1)), body)


def shell_text(arg):
    """A list literal ['rm', '-rf', '/'] or several strings "rm", "-rf", "/" as the command line they
    run; one string as itself."""
    items = [literal(s) for s in STRING_RE.findall(arg)]
    if arg.startswith("[") or len(items) > 1:
        return " ".join("'" + i.replace("'", "'\\''") + "'" for i in items)
    return items[0] if items else ""


def near(first, second, text, distance):
    """Do matches of ``first`` and ``second`` occur within ``distance`` characters of each other?"""
    a = [m.start() for m in first.finditer(text)][:1000]
    b = [m.start() for m in second.finditer(text)][:1000]
    if not a or not b:
        return False
    j = 0
    for x in a:  # both lists are sorted: walk them together
        while j < len(b) and b[j] < x - distance:
            j += 1
        if j < len(b) and b[j] <= x + distance:
            return True
    return False


def getline_commands(text):
    """The command expression before each ``| getline`` (``"cmd" x | getline``), read backwards
    token by token (strings, names, $fields, blanks) without backtracking."""
    out = []
    for m in GETLINE.finditer(text):
        tokens = [t for t in AWK_TOKEN.finditer(text[max(0, m.start() - 2000):m.start()])]
        expr, end = [], None
        for t in reversed(tokens):
            if end is not None and t.end() != end:
                break  # something else (an operator, a parenthesis) comes before
            expr.append(t.group(0))
            end = t.start()
        while expr and re.fullmatch(r"\w+", expr[-1].strip() or "x") and expr[-1].strip() in ("while", "if", ""):
            expr.pop()
        if expr:
            out.append("".join(reversed(expr)))
    return out


def awk_command(expr):
    """An awk string expression ("rm -rf " $1) as shell text; unknown pieces become $AWK_VALUE."""
    out, pos = [], 0
    for m in re.finditer(AWK_STRING, expr):
        if expr[pos:m.start()].strip():
            out.append("$AWK_VALUE")
        out.append(literal(m.group(0)))
        pos = m.end()
    if expr[pos:].strip():
        out.append("$AWK_VALUE")
    return "".join(out)


def check_code(lang, text, ctx, depth, limit=64 * 1024):
    text = text[:limit]
    where = {"python": "python", "node": "node", "perl": "perl", "ruby": "ruby", "php": "php"}.get(lang, lang)
    via = [where + " code"]
    if FORK_BOMB.search(text):
        ctx.add("fork-bomb", "the %s code forks in an endless loop (a fork bomb): it freezes the machine" % where)
    if near(PAII_WORD, APPROVE_WORD, text, 600) or PAII_CODE.search(text):
        ctx.add("paii-approve-indirect", "the %s code runs PAII's own code or mentions paii and approve: it may "
                "reach the runbook approval path; approvals are the person's" % where)
    if protected.STATE_WORDS.search(text):
        ctx.add("paii-run-state", "the %s code touches PAII's run state or approval key" % where)
    if protected.SETTINGS_WORDS.search(text):
        ctx.add("claude-settings", "the %s code names Claude Code's settings or a plugin's files" % where)
    if lang == "awk":
        _awk(text, ctx, depth, via)
        return
    if lang == "osascript":
        for m in APPLESCRIPT.finditer(text):
            ctx.analyse(literal(m.group(1)), depth + 1, ["osascript do shell script"])
    if lang == "expect":
        for m in EXPECT_SPAWN.finditer(text):
            ctx.analyse(m.group(1), depth + 1, ["expect spawn"])
        for m in EXPECT_SEND.finditer(text):
            ctx.analyse(literal(m.group(1)), depth + 1, ["expect send"])
        return
    for m in RUNS_SHELL.finditer(text):
        ctx.analyse(shell_text(m.group(1)), depth + 1, via)
    if lang in ("perl", "ruby"):
        for m in RUNS_BARE.finditer(text):
            ctx.analyse(shell_text(m.group(1)), depth + 1, via)
    if lang in ("perl", "ruby", "php"):
        for m in BACKTICK.finditer(text):
            ctx.analyse(m.group(1) or m.group(2), depth + 1, via)
    deletes = list(DELETES.finditer(text))
    if lang in ("ruby", "perl"):
        deletes += DELETES_BARE.finditer(text)
    for m in deletes:
        fn, arg = m.group(1), m.group(2)
        path = "~" if arg[0] not in "'\"" and "expanduser" not in arg and "expand_path" not in arg else None
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


def _awk(text, ctx, depth, via):
    strings = [m.span() for m in re.finditer(AWK_STRING, text)]

    def code(m):  # a match that starts outside awk's string literals
        return not any(a < m.start() < b for a, b in strings)

    for m in AWK_SYSTEM.finditer(text):
        if code(m):
            ctx.analyse(awk_command(m.group(1)), depth + 1, via)
    for expr in getline_commands(text):
        ctx.analyse(awk_command(expr), depth + 1, via)
    for m in AWK_PIPE_TO.finditer(text):
        if not code(m):
            continue
        target = literal(m.group(3)).strip()
        if target in SHELLS or target.split(" ")[0] in SHELLS:
            printed = m.group(2).strip()
            if re.fullmatch(AWK_STRING, printed):
                ctx.analyse(literal(printed), depth + 1, via + ["awk | " + target])
            else:
                ctx.add("hidden-script", "the awk program prints text into %s, which runs it, and the guard "
                        "cannot see what it prints" % target)
        else:
            ctx.analyse(target, depth + 1, via)
