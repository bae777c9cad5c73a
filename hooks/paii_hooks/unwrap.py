"""The program a simple command really runs, seen through wrappers and interpreters.

``unwrap(words)`` strips what only changes *how* a command runs (sudo, doas, env and its
NAME=VALUE pairs, nohup, nice, ionice, timeout, stdbuf, time, command, exec, builtin, setsid,
flock, chroot, strace, busybox, chronic, pkexec, systemd-run, uv/poetry/pipx run, python -m
paii_cli ...) and says what a shell or an interpreter is asked to run: a ``-c`` string,
``eval``'s words, a script on stdin, inline ``python -c`` / ``perl -e`` / ``awk`` code, a
``parallel``/``xargs`` template (``launchers``). The result is an :class:`Inv`.
"""

import re

from paii_hooks import launchers
from paii_hooks.launchers import join_words
from paii_hooks.shell import Part, Word

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "rbash", "fish"})
INTERPRETER_RE = re.compile(r"^(python(\d+(\.\d+)?)?|pypy3?|perl|ruby|node|nodejs|php|lua(\d(\.\d)?)?|expect|rscript|r"
                            r"|osascript)$")
CODE_FLAGS = {"python": ("-c",), "perl": ("-e", "-E"), "ruby": ("-e",), "node": ("-e", "--eval", "-p", "--print"),
              "php": ("-r",), "lua": ("-e",), "expect": ("-c",), "rscript": ("-e",), "r": ("-e",), "osascript": ("-e",)}
VALUE_FLAGS = {"python": ("-W", "-X", "--check-hash-based-pycs"), "perl": (), "ruby": ("-r", "-I", "-C", "-E"),
               "node": ("-r", "--require", "--input-type", "--import", "--loader"), "php": ("-d", "-c", "-z"), "lua": ("-l",),
               "expect": (), "rscript": (), "r": (), "osascript": ("-l",)}
AWKS = frozenset({"awk", "gawk", "mawk", "nawk"})
AWK_VALUE = {"-F", "-v", "--field-separator", "--assign", "-i", "--include", "-l", "--load", "-W"}

# wrapper -> (options that take a value, positional operands before the command)
WRAPPERS = {
    "sudo": ({"-u", "-g", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "-R", "--user", "--group", "--prompt",
              "--close-from", "--chdir", "--role", "--type", "--other-user", "--command-timeout", "--chroot"}, 0),
    "doas": ({"-u", "-C"}, 0),
    "run0": ({"-u", "--user", "-g", "--group", "-D", "--chdir"}, 0),
    "nohup": (set(), 0),
    "nice": ({"-n", "--adjustment"}, 0),
    "ionice": ({"-c", "-n", "--class", "--classdata"}, 0),
    "timeout": ({"-s", "-k", "--signal", "--kill-after"}, 1),
    "stdbuf": ({"-i", "-o", "-e", "--input", "--output", "--error"}, 0),
    "time": ({"-f", "-o", "--format", "--output"}, 0),
    "exec": ({"-a"}, 0),
    "builtin": (set(), 0), "noglob": (set(), 0), "nocorrect": (set(), 0),
    "setsid": (set(), 0), "unbuffer": (set(), 0), "caffeinate": ({"-t", "-w"}, 0),
    "chrt": (set(), 1), "taskset": (set(), 1),
    "chroot": ({"--userspec", "--groups"}, 1),
    "strace": ({"-o", "-e", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-S", "-P", "-X"}, 0),
    "ltrace": ({"-o", "-e", "-p", "-s", "-u", "-a", "-n"}, 0),
    "busybox": (set(), 0), "toybox": (set(), 0),
    "firejail": (set(), 0), "proxychains": ({"-f"}, 0), "proxychains4": ({"-f"}, 0), "torsocks": (set(), 0),
    "nsenter": ({"-t", "--target", "-S", "--setuid", "-G", "--setgid", "-w", "--wd", "-r", "--root"}, 0),
    "catchsegv": (set(), 0), "valgrind": (set(), 0), "dbus-launch": (set(), 0),
    "chronic": (set(), 0), "pkexec": ({"--user", "-u"}, 0), "coproc": (set(), 0), "unshare": (set(), 0),
    "setpriv": ({"--reuid", "--regid", "--groups", "--inh-caps", "--ambient-caps", "--bounding-set", "--securebits",
                 "--selinux-label", "--apparmor-profile"}, 0),
    "prlimit": ({"-p", "--pid"}, 0), "numactl": (set(), 0), "cgexec": ({"-g"}, 0), "eatmydata": (set(), 0),
    "fakeroot": (set(), 0), "nocache": (set(), 0), "tsp": (set(), 0), "dbus-run-session": (set(), 0),
    "doppler": (set(), 0), "op": (set(), 0), "aws-vault": (set(), 0),
}
RUNNERS = {  # tool -> (subcommand, options that take a value)
    "uv": ("run", {"--with", "--python", "-p", "--project", "--directory", "--extra", "--group", "--package",
                   "--env-file", "--with-requirements", "--index", "--index-url"}),
    "uvx": (None, {"--from", "--with", "--python", "-p", "--index-url", "--with-requirements"}),
    "pipx": ("run", {"--spec", "--python", "--pip-args"}),
    "poetry": ("run", {"-C", "--directory", "-P", "--project"}),
    "pipenv": ("run", set()), "pdm": ("run", {"-p", "--project"}), "hatch": ("run", set()), "rye": ("run", set()),
    "conda": ("run", {"-n", "--name", "-p", "--prefix", "--cwd"}), "mamba": ("run", {"-n", "--name", "-p", "--prefix"}),
    "micromamba": ("run", {"-n", "--name", "-p", "--prefix"}),
}
LAUNCHERS = {"script": launchers.script, "tmux": launchers.tmux, "screen": launchers.screen, "sg": launchers.sg,
             "entr": launchers.entr, "systemd-run": launchers.systemd_run, "parallel": launchers.parallel,
             "xargs": launchers.xargs}
LOOKUPS = frozenset({"which", "type", "hash", "whereis", "man", "help", "apropos", "tldr", "info"})


class Inv:
    """What one simple command runs. ``kind``:
    run (``prog`` with ``args``), shell-string (``code`` is a Word of shell text; ``child``: a new
    shell runs it, with ``pos`` as $0 $1 ...), shell-stdin (a shell reads its script from stdin),
    shell-script (``code`` is the script's Word: a file, or ``<(...)``; with ``lang`` when an
    interpreter runs it: ``python3 x.py``), code (inline ``lang`` code in ``code``), code-stdin,
    template (``parallel``/``xargs``: ``args`` is the command, filled in from ``items`` or stdin),
    dynamic (the program name is only known at run time), none (nothing runs: a lookup)."""

    __slots__ = ("kind", "prog", "args", "via", "env", "code", "lang", "xargs", "path", "child", "pos", "items",
                 "replace", "shell", "split", "argfile")

    def __init__(self, kind, prog="", args=(), via=(), env=None, code=None, lang="", child=False, pos=None):
        self.kind, self.prog, self.args, self.via = kind, prog, list(args), list(via)
        self.env = env if env is not None else {}
        self.code, self.lang, self.xargs = code, lang, False
        self.path = None  # for a run: the program as typed (./x.sh), when static
        self.child, self.pos = child, pos
        self.items, self.replace, self.shell, self.split, self.argfile = None, None, False, "words", None

    def argv(self):
        """The static text of each argument (None where it is only known at run time)."""
        return [a.static() for a in self.args]

    def line(self):
        return " ".join([self.prog] + [a.text() for a in self.args])

    def __repr__(self):
        return "Inv(%s %s%s)" % (self.kind, self.line(), " via " + ",".join(self.via) if self.via else "")


def program_name(word):
    text = word.static()
    if text is None:
        return None
    base = text.rstrip("/").rsplit("/", 1)[-1]
    return base.lower() if base else None


def first_operand(args, with_value, start=0):
    """Index of the first argument that is not an option of the wrapper (after ``--`` if given)."""
    i = start
    while i < len(args):
        t = args[i].static()
        if t is None:
            return i
        if t == "--":
            return i + 1
        if not t.startswith("-") or t == "-":
            return i
        i += 2 if t in with_value else 1
    return i


def unwrap(words, env=None, depth=0):
    """The :class:`Inv` of a command's words (assignment prefixes already split off into ``env``)."""
    env = dict(env or {})
    via = []
    args = list(words)
    for _ in range(24):  # each turn strips one wrapper; 24 is far more than any real command
        if not args:
            return Inv("none", via=via, env=env)
        prog = program_name(args[0])
        if prog is None:
            return Inv("dynamic", args[0].text(), args[1:], via, env)
        rest = args[1:]
        if prog in WRAPPERS:
            with_value, positional = WRAPPERS[prog]
            if prog == "sudo" and any(a.static() in ("-e", "--edit", "-l", "--list", "-v", "-k", "-K") for a in rest[:1]):
                return Inv("none", via=via + [prog], env=env)
            i = first_operand(rest, with_value) + positional
            via.append(prog)
            args = rest[i:]
            continue
        if prog == "env":
            inv = _env(rest, env, via)
            if isinstance(inv, Inv):
                return inv
            args = inv
            continue
        if prog == "command":
            if any(a.static() in ("-v", "-V") for a in rest[:2]):
                return Inv("none", via=via, env=env)
            via.append(prog)
            args = rest[first_operand(rest, set()):]
            continue
        if prog in LAUNCHERS:
            out = LAUNCHERS[prog](Inv, rest, via, env)
            if isinstance(out, Inv):
                return out
            args = out
            continue
        if prog in ("at", "batch", "atq", "atrm"):
            return launchers.at(Inv, prog, rest, via, env)
        if prog in AWKS:
            return _awk(prog, rest, via, env)
        if prog in RUNNERS:
            sub, with_value = RUNNERS[prog]
            i = 0
            if sub is not None:
                i = first_operand(rest, with_value)
                if i >= len(rest) or rest[i].static() != sub:
                    return Inv("run", prog, rest, via, env)
                i += 1
            via.append(prog + (" " + sub if sub else ""))
            args = rest[first_operand(rest, with_value, i):]
            continue
        if prog == "flock":
            i = first_operand(rest, {"-w", "--timeout", "-E", "--conflict-exit-code"})
            cmd_at = i + 1
            if cmd_at < len(rest) and rest[cmd_at].static() in ("-c", "--command") and cmd_at + 1 < len(rest):
                return Inv("shell-string", prog, rest, via + [prog], env, code=rest[cmd_at + 1], child=True)
            via.append(prog)
            args = rest[cmd_at:]
            continue
        if prog in ("su", "runuser"):
            for k, a in enumerate(rest):
                if a.static() in ("-c", "--command") and k + 1 < len(rest):
                    return Inv("shell-string", prog, rest, via + [prog], env, code=rest[k + 1], child=True)
                if a.static() == "--" and prog == "runuser":
                    via.append(prog)
                    args = rest[k + 1:]
                    break
            else:
                return Inv("none", via=via + [prog], env=env)
            continue
        if prog == "watch":
            i = first_operand(rest, {"-n", "--interval", "-q", "--equexit"})
            if any(a.static() in ("-x", "--exec") for a in rest[:i]):
                via.append(prog)
                args = rest[i:]
                continue
            return Inv("shell-string", prog, rest, via + [prog], env, code=join_words(rest[i:]), child=True)
        if prog == "ssh":
            i = first_operand(rest, {"-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O",
                                     "-o", "-p", "-Q", "-R", "-S", "-W", "-w", "-B"})
            if i + 1 < len(rest):
                return Inv("shell-string", prog, rest, via + ["ssh " + rest[i].text()], env,
                           code=join_words(rest[i + 1:]), child=True)
            return Inv("run", prog, rest, via, env)
        if prog == "eval":
            if not rest:
                return Inv("none", via=via, env=env)
            return Inv("shell-string", prog, rest, via + [prog], env, code=join_words(rest))
        if prog in ("source", "."):
            if rest:
                return Inv("shell-script", prog, rest, via, env, code=rest[0])
            return Inv("none", via=via, env=env)
        if prog in SHELLS:
            return _shell(prog, rest, via, env)
        if INTERPRETER_RE.match(prog):
            inv = _interpreter(prog, rest, via, env)
            if isinstance(inv, Inv):
                return inv
            args = inv
            continue
        if prog.endswith(".py") and "paii_cli" in (args[0].static() or ""):
            prog = "paii"
        if prog in LOOKUPS:
            return Inv("none", prog, rest, via, env)
        inv = Inv("run", prog, rest, via, env)
        inv.path = args[0].static()
        return inv
    return Inv("dynamic", "(wrappers nested too deep)", [], via, env)


def _env(rest, env, via):
    i = 0
    while i < len(rest):
        t = rest[i].static()
        if t is None:
            break
        if t in ("-S", "--split-string") and i + 1 < len(rest):
            return Inv("shell-string", "env", rest, via + ["env -S"], env, code=join_words(rest[i + 1:]))
        if t.startswith("--split-string=") or (t.startswith("-S") and len(t) > 2):
            first = t.split("=", 1)[1] if t.startswith("--") else t[2:]
            code = join_words([Word([Part("lit", first, True)])] + rest[i + 1:])
            return Inv("shell-string", "env", rest, via + ["env -S"], env, code=code)
        if t in ("-u", "--unset", "-C", "--chdir"):
            i += 2
        elif t == "--":
            i += 1
            break
        elif t.startswith("-") and t != "-" or t == "-":
            i += 1
        elif "=" in t and not t.startswith("="):
            name, _, value = t.partition("=")
            env[name] = value
            i += 1
        else:
            break
    via.append("env")
    return rest[i:]


def _shell(prog, rest, via, env):
    i, has_c, stdin, noexec = 0, False, False, False
    while i < len(rest):
        t = rest[i].static()
        if t is None:
            break
        if t == "--":
            i += 1
            break
        if t in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            noexec = noexec or (t == "-o" and i + 1 < len(rest) and rest[i + 1].static() == "noexec")
            i += 2
            continue
        if t.startswith("-") and len(t) > 1 and not t.startswith("--") and "c" in t[1:]:
            has_c = True
            i += 1
            continue
        if t == "-" or not (t.startswith("-") or t.startswith("+")):
            break
        stdin = stdin or (t.startswith("-") and not t.startswith("--") and "s" in t[1:])
        noexec = noexec or (t.startswith("-") and not t.startswith("--") and "n" in t[1:])
        i += 1
    operands = rest[i:]
    if noexec and not has_c:  # bash -n x.sh reads the script for syntax errors and runs nothing
        return Inv("none", prog, rest, via, env)
    if has_c:
        if not operands:
            return Inv("none", via=via, env=env)
        return Inv("shell-string", prog, rest, via + [prog + " -c"], env, code=operands[0], child=True,
                   pos=operands[1:])
    if stdin or not operands or operands[0].static() == "-":
        return Inv("shell-stdin", prog, rest, via, env, child=True, pos=[Word([Part("lit", prog, True)])] + operands)
    return Inv("shell-script", prog, rest, via, env, code=operands[0], child=True)


def _interpreter(prog, rest, via, env):
    lang = "python" if prog.startswith(("python", "pypy")) else "node" if prog.startswith("node") else re.sub(r"[\d.]+$", "", prog)
    code_flags, value_flags = CODE_FLAGS.get(lang, ()), VALUE_FLAGS.get(lang, ())
    i, code = 0, []
    while i < len(rest):
        t = rest[i].static()
        if t is None:
            break
        if t in code_flags and i + 1 < len(rest):
            code.append(rest[i + 1])
            i += 2
            if lang == "python":
                break
            continue
        if lang == "python" and t == "-m" and i + 1 < len(rest):
            module = rest[i + 1].static() or ""
            if module.split(".")[0] == "paii_cli":
                via.append(prog + " -m " + module)
                return [Word([Part("lit", "paii", True)])] + rest[i + 2:]
            if module.startswith("paii_"):  # PAII's own code run by module path
                return Inv("run", "paii-module", rest[i + 2:], via + [prog + " -m " + module], env)
            return Inv("run", prog, rest, via, env)
        if t in value_flags:
            i += 2
            continue
        if t == "--" or t == "-" or not t.startswith("-"):
            break
        i += 1
    if code:
        return Inv("code", prog, rest, via, env, code=join_words(code), lang=lang)
    operands = rest[i:]
    if operands and operands[0].static() == "--":
        operands = operands[1:]
    if not operands or operands[0].static() == "-":
        return Inv("code-stdin", prog, rest, via, env, lang=lang)
    script = (operands[0].static() or "").replace("\\", "/")
    if script.endswith(("paii_cli/__main__.py", "bin/paii")):
        via.append(prog + " " + script)
        return [Word([Part("lit", "paii", True)])] + operands[1:]
    if re.search(r"(^|/)paii_\w+/", script) and script.endswith(".py"):
        return Inv("run", "paii-module", operands[1:], via + [prog + " " + script], env)
    # python3 x.py, or python3 <(curl ...): the script is a file or another command's output
    return Inv("shell-script", prog, rest, via, env, code=operands[0], lang=lang)


def _awk(prog, rest, via, env):
    """awk's program (the first operand, or ``-e``/``--source`` text, or ``-f FILE``) as code."""
    i, code = 0, []
    while i < len(rest):
        t = rest[i].static()
        if t is None or t == "--" or not t.startswith("-") or t == "-":
            break
        if t in ("-f", "--file") and i + 1 < len(rest):
            return Inv("shell-script", prog, rest, via, env, code=rest[i + 1], lang="awk")
        if t in ("-e", "--source") and i + 1 < len(rest):
            code.append(rest[i + 1])
            i += 2
            continue
        i += 2 if t in AWK_VALUE else 1
    if i < len(rest) and rest[i].static() == "--":
        i += 1
    if not code and i < len(rest):
        code.append(rest[i])
    if not code:
        return Inv("run", prog, rest, via, env)
    return Inv("code", prog, rest, via, env, code=join_words(code, "\n"), lang="awk")
