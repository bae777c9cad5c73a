"""Programs that run a command handed to them as text, keys or a template: ``script -c``,
``tmux new-session CMD`` / ``send-keys``, ``screen -dm CMD`` / ``-X stuff``, ``at``/``batch``
(commands on stdin), ``sg -c``, ``entr -s``, ``systemd-run``, ``parallel CMD ::: ARGS``,
``xargs -I{} CMD``. Each returns what :func:`paii_hooks.unwrap.unwrap` returns: an Inv, or the
words of the command to keep unwrapping."""

from paii_hooks.shell import Part, Word


def lit(text):
    return Word([Part("lit", text, True)])


def join_words(words, sep=" "):
    """Words joined by ``sep`` into one Word (what eval, ssh and watch hand to a shell)."""
    parts = []
    for k, w in enumerate(words):
        if k and sep:
            parts.append(Part("lit", sep, True))
        parts.extend(w.parts)
    return Word(parts)


def _cluster_value(rest, i, letters):
    """For a short-option cluster at rest[i] (``-qc``), the value of the first of ``letters`` in it
    (attached, or the next word) and the index after it; (None, i + 1) when none is there."""
    t = rest[i].static()
    for j, ch in enumerate(t[1:], 1):
        if ch in letters:
            if j + 1 < len(t):
                return lit(t[j + 1:]), i + 1, ch
            return (rest[i + 1] if i + 1 < len(rest) else None), i + 2, ch
    return None, i + 1, None


SCRIPT_LONG_VALUE = {"--log-in", "--log-out", "--log-io", "--log-timing", "--logging-format", "--echo",
                     "--output-limit", "--timing"}


def script(Inv, rest, via, env):
    """``script [-q] [-c CMD] [file]``: CMD runs in a new shell; without -c an interactive one starts."""
    code, i = None, 0
    while i < len(rest):
        t = rest[i].static()
        if t is None or not t.startswith("-") or t == "-":
            i += 1
        elif t in ("-c", "--command"):
            code, i = (rest[i + 1] if i + 1 < len(rest) else None), i + 2
        elif t.startswith("--command="):
            code, i = lit(t.split("=", 1)[1]), i + 1
        elif t.startswith("--"):
            i += 2 if t in SCRIPT_LONG_VALUE else 1
        else:
            value, i, letter = _cluster_value(rest, i, "cTIOBmEo")
            if letter == "c":
                code = value
    if code is None:
        return Inv("none", via=via + ["script"], env=env)
    return Inv("shell-string", "script", rest, via + ["script -c"], env, code=code, child=True)


TMUX_SPAWN = frozenset({"new-session", "new", "new-window", "neww", "split-window", "splitw", "respawn-pane",
                        "respawnp", "respawn-window", "respawnw", "run-shell", "run", "display-popup", "popup"})
TMUX_KEYS = frozenset({"send-keys", "send"})
TMUX_VALUE = {"-s", "-n", "-c", "-t", "-x", "-y", "-e", "-F", "-f", "-l", "-p", "-w", "-T", "-N"}
ENTER_KEYS = frozenset({"Enter", "C-m", "C-M", "KPEnter", "C-j", "^M", "^J"})


def tmux(Inv, rest, via, env):
    """``tmux new-session 'CMD'``, ``tmux send-keys 'CMD' Enter`` (typed into a shell), ``tmux -c CMD``."""
    i = 0
    while i < len(rest):
        t = rest[i].static()
        if t == "-c" and i + 1 < len(rest):
            return Inv("shell-string", "tmux", rest, via + ["tmux -c"], env, code=rest[i + 1], child=True)
        if t is None or not t.startswith("-"):
            break
        i += 2 if t in ("-L", "-S", "-f", "-T") else 1
    texts, segment = [], []
    for w in rest[i:] + [lit(";")]:
        if w.static() in (";", "\\;"):
            texts.extend(_tmux_command(segment))
            segment = []
        else:
            segment.append(w)
    if not texts:
        return Inv("none", via=via + ["tmux"], env=env)
    return Inv("shell-string", "tmux", rest, via + ["tmux"], env, code=join_words(texts, "\n"), child=True)


def _tmux_command(words):
    if not words:
        return []
    sub, args = words[0].static(), words[1:]
    if sub not in TMUX_SPAWN and sub not in TMUX_KEYS:
        return []
    k = 0
    while k < len(args):
        t = args[k].static()
        if t is None or not t.startswith("-") or t == "-":
            break
        if t == "--":
            k += 1
            break
        k += 2 if t in TMUX_VALUE and not (sub in TMUX_KEYS and t == "-l") else 1
    args = args[k:]
    if sub in TMUX_SPAWN:
        return [join_words(args)] if args else []
    parts = []  # send-keys: keys typed one after another; Enter runs the line
    for a in args:
        t = a.static()
        if t in ENTER_KEYS:
            parts.append(Part("lit", "\n", True))
        elif t == "Space":
            parts.append(Part("lit", " ", True))
        else:
            parts.extend(a.parts)
    return [Word(parts)] if parts else []


SCREEN_VALUE = {"-S", "-c", "-e", "-h", "-p", "-T", "-s", "-t", "-Logfile"}


def screen(Inv, rest, via, env):
    """``screen -dm CMD`` runs CMD; ``screen -X stuff 'text^M'`` types text into a running shell."""
    i = 0
    while i < len(rest):
        t = rest[i].static()
        if t == "-X":
            cmd = rest[i + 1:]
            if cmd and cmd[0].static() == "stuff" and len(cmd) > 1:
                text = cmd[1].static()
                code = lit(_unescape_typed(text)) if text is not None else cmd[1]
                return Inv("shell-string", "screen", rest, via + ["screen -X stuff"], env, code=code, child=True)
            if cmd and cmd[0].static() in ("exec", "screen"):
                return cmd[1:]
            return Inv("none", via=via + ["screen"], env=env)
        if t is None or not t.startswith("-"):
            break
        takes_value = t in SCREEN_VALUE or (len(t) > 2 and not t.startswith("--") and "-" + t[-1] in SCREEN_VALUE
                                            and t not in ("-ls", "-ln", "-list"))
        i += 2 if takes_value else 1
    if i >= len(rest):
        return Inv("none", via=via + ["screen"], env=env)
    via.append("screen")
    return rest[i:]


def _unescape_typed(text):
    for key in ("^M", "^J", "\\r", "\\n", "\\015", "\\012", "\r"):
        text = text.replace(key, "\n")
    return text


def at(Inv, prog, rest, via, env):
    """``at TIME`` / ``batch``: the commands they schedule come on stdin (or from ``-f FILE``)."""
    i = 0
    while i < len(rest):
        t = rest[i].static()
        if t in ("-l", "-r", "-d", "-c", "-V") or prog in ("atq", "atrm"):
            return Inv("none", via=via + [prog], env=env)
        if t == "-f" and i + 1 < len(rest):
            return Inv("shell-script", prog, rest, via + [prog], env, code=rest[i + 1], child=True)
        i += 2 if t in ("-q", "-t") else 1
    return Inv("shell-stdin", prog, rest, via + [prog], env, child=True)


def sg(Inv, rest, via, env):
    """``sg GROUP -c CMD`` (or ``sg GROUP CMD``): CMD runs in a shell."""
    i = 1 if rest and rest[0].static() == "-" else 0
    i += 1  # the group
    if i < len(rest) and rest[i].static() == "-c":
        i += 1
    if i >= len(rest):
        return Inv("none", via=via + ["sg"], env=env)
    return Inv("shell-string", "sg", rest, via + ["sg -c"], env, code=join_words(rest[i:]), child=True)


def entr(Inv, rest, via, env):
    """``entr [-s] CMD``: with -s, CMD is shell text."""
    i, shell = 0, False
    while i < len(rest) and (rest[i].static() or "x").startswith("-"):
        shell = shell or "s" in rest[i].static()[1:]
        i += 1
    if i >= len(rest):
        return Inv("none", via=via + ["entr"], env=env)
    if shell:
        return Inv("shell-string", "entr", rest, via + ["entr -s"], env, code=rest[i], child=True)
    via.append("entr")
    return rest[i:]


SYSTEMD_RUN_VALUE = {"-u", "--unit", "-p", "--property", "--description", "--slice", "-H", "--host", "-M",
                     "--machine", "--uid", "--gid", "--nice", "--working-directory", "-E", "--setenv",
                     "--on-active", "--on-boot", "--on-startup", "--on-unit-active", "--on-unit-inactive",
                     "--on-calendar", "--timer-property", "--path-property", "--socket-property", "--service-type"}


def systemd_run(Inv, rest, via, env):
    i = 0
    while i < len(rest):
        t = rest[i].static()
        if t in ("-S", "--shell"):
            return Inv("none", via=via + ["systemd-run"], env=env)
        if t == "--":
            i += 1
            break
        if t is None or not t.startswith("-"):
            break
        i += 2 if t in SYSTEMD_RUN_VALUE else 1
    via.append("systemd-run")
    return rest[i:]


PARALLEL_VALUE = {"-j", "--jobs", "-P", "--max-procs", "-S", "--sshlogin", "--joblog", "-a", "--arg-file", "-d",
                  "--delimiter", "-I", "--colsep", "-C", "--tmpdir", "--results", "--res", "-n", "--max-args", "-N",
                  "-L", "--max-lines", "--delay", "--timeout", "--retries", "--halt", "--memfree", "--load", "--env",
                  "--workdir", "--wd", "--basefile", "--bf", "--sshloginfile", "--slf", "--tag-string", "--tagstring",
                  "-E", "--eof", "-s", "--max-chars", "--block", "--blocksize", "--profile", "-J", "--xapply"}
SOURCES = (":::", "::::", ":::+", "::::+")


def parallel(Inv, rest, via, env):
    """``parallel CMD ::: ARGS`` (each ARG fills ``{}`` or is appended) and ``parallel ::: CMDS``;
    without ``:::`` the arguments come on stdin. GNU parallel runs each command through a shell."""
    i, replace = 0, "{}"
    while i < len(rest):
        t = rest[i].static()
        if t is None or t in SOURCES or not t.startswith("-") or t == "-":
            break
        if t in ("--dry-run", "--dryrun"):
            return Inv("none", via=via + ["parallel --dry-run"], env=env)
        if t in ("-I", "--replace") and i + 1 < len(rest):
            replace = rest[i + 1].static() or "{}"
        i += 2 if t in PARALLEL_VALUE else 1
    template = []
    while i < len(rest) and rest[i].static() not in SOURCES:
        template.append(rest[i])
        i += 1
    items = None
    if i < len(rest):
        items = []
        for w in rest[i:]:
            t = w.static()
            if t in ("::::", "::::+"):
                items = None  # arguments from files the guard does not read
                break
            if t not in (":::", ":::+"):
                items.append(w)
    inv = Inv("template", "parallel", template, via + ["parallel"], env)
    inv.items, inv.replace, inv.shell = items, replace, True
    return inv


XARGS_VALUE = {"-a", "-d", "-E", "-e", "-I", "-L", "-l", "-n", "-P", "-s", "--arg-file", "--delimiter", "--eof",
               "--max-lines", "--max-args", "--max-procs", "--max-chars", "--replace", "--process-slot-var"}


def xargs(Inv, rest, via, env):
    """``xargs [-I R] CMD``: CMD with the words (or, with -I, each line) of stdin filled in."""
    i, replace, split, argfile = 0, None, "words", None
    while i < len(rest):
        t = rest[i].static()
        if t is None or not t.startswith("-") or t == "-":
            break
        if t == "--":
            i += 1
            break
        value = rest[i + 1] if i + 1 < len(rest) and t in XARGS_VALUE else None
        if t in ("-I", "--replace") and value is not None:
            replace, split = value.static() or "{}", "lines"
        elif t.startswith("--replace="):
            replace, split = t.split("=", 1)[1] or "{}", "lines"
        elif t.startswith("-i"):
            replace, split = t[2:] or "{}", "lines"
        elif t.startswith("-I") and len(t) > 2:
            replace, split = t[2:], "lines"
        elif t in ("-0", "--null"):
            split = "nul"
        elif t in ("-d", "--delimiter") and value is not None and value.static() in ("\n", "\\n"):
            split = "lines"
        elif t in ("-a", "--arg-file"):
            argfile = value
        elif t.startswith("--arg-file="):
            argfile = lit(t.split("=", 1)[1])
        i += 2 if value is not None else 1
    if replace is not None and any(w.static() in ("-0", "--null") for w in rest[:i]):
        split = "nul"  # -0 with -I: items end at NUL whatever the order of the options
    template = rest[i:] or [lit("echo")]
    inv = Inv("template", "xargs", template, via + ["xargs"], env)
    inv.replace, inv.shell, inv.split, inv.argfile = replace, False, split, argfile
    return inv
