"""Walk every command a Bash line runs and collect the rules it trips.

``check(command, cwd, home, config)`` parses the line (``shell``), resolves what can be known
before it runs (variables assigned earlier in the line, ``$(echo rm)``, ``cd``), sees through
wrappers (``unwrap``), follows code into shells and interpreters (``bash -c``, ``eval``,
``| bash``, heredocs, ``python -c``) and into script files (``bash x.sh``: ``scripts``), and asks
the rules about each program. Returns a
:class:`Context` whose ``findings`` are (rule id, reason) pairs.
"""

import re
import time

from paii_hooks import rules
from paii_hooks.expand import assign_value, resolve, resolve_static, static_output
from paii_hooks.paths import normalise, read_text
from paii_hooks.shell import LimitError, ParseError, parse
from paii_hooks.unwrap import unwrap

#: words that make an unreadable or computed command worth a question rather than a pass
DANGER = (
    r"(?i)(?<![\w.-])(rm|rmdir|unlink|shred|wipefs|mkfs[\w.]*|mke2fs|mkswap|dd|fdisk|sfdisk|parted|chmod|chown|kill"
    r"|killall|pkill|shutdown|reboot|halt|poweroff|kubectl|helm|terraform|tofu|terragrunt|pulumi|drop|truncate"
    r"|delete|destroy|uninstall|flushall|flushdb|dropdb|mv|find|eval|exec|sudo|doas|base64|xxd|curl|wget|sh|bash"
    r"|zsh|dash|python[\d.]*|perl|ruby|node|paii|approve|git|psql|mysql|mongosh|redis-cli|aws|gcloud|az|docker"
    r"|crontab|iptables|systemctl|format)(?![\w-])|:\s*\(\s*\)|>\s*/dev/|\$'|\\x[0-9a-f]{2}")
_DANGER_RE = []  # compiled on first use: most commands never need it
NETWORK = frozenset({"curl", "wget", "fetch", "http", "https", "xh", "aria2c", "nc", "ncat", "netcat", "socat",
                     "lwp-request", "get", "ftp", "tftp", "iwr", "irm", "invoke-webrequest", "invoke-restmethod"})
DECODERS = {"base64": ("-d", "--decode", "-D"), "base32": ("-d", "--decode"), "basenc": ("-d", "--decode"),
            "xxd": ("-r", "-revert"), "openssl": ("-d", "-base64", "base64", "-a"), "uudecode": (), "gunzip": (),
            "zcat": (), "bzcat": (), "bunzip2": (), "xzcat": (), "unxz": (), "zstdcat": (), "unzstd": (),
            "gzip": ("-d", "--decompress"), "xz": ("-d", "--decompress"), "zstd": ("-d", "--decompress"),
            "bzip2": ("-d",), "brotli": ("-d",), "lz4": ("-d",), "rev": (), "tr": (), "sed": (), "awk": (),
            "gawk": (), "perl": ("-pe", "-ne", "-p", "-n")}
PASS_THROUGH = frozenset({"cat", "tee", "head", "tail", "pv", "dd", "buffer", "mbuffer"})
#: programs whose output ``eval "$(...)"`` is the documented way to use (shell set-up)
INIT_PRINTERS = frozenset({"ssh-agent", "pyenv", "rbenv", "nodenv", "goenv", "jenv", "plenv", "direnv", "brew",
                           "minikube", "docker-machine", "opam", "conda", "mamba", "micromamba", "starship",
                           "zoxide", "fnm", "mise", "rtx", "thefuck", "keychain", "gpg-agent", "dircolors",
                           "lesspipe", "lesspipe.sh", "luarocks", "asdf", "rustup", "navi", "atuin", "pixi",
                           "dvm", "kind", "k3d", "colima", "podman-machine", "nvm", "sdk", "gh", "kubectl",
                           "helm", "poetry", "pip", "uv", "npm", "pnpm", "rg", "fzf", "aws-vault", "vault"})
WRITERS = frozenset({"tee", "cp", "mv", "curl", "wget"})  # programs that write files scripts.py tracks
MAX_FINDINGS = 40
TIME_BUDGET = 2.0  # seconds; the hook's own timeout is 10 s
TEXT_BUDGET = 2 * 1024 * 1024  # characters parsed in all, nested code included


class TooComplex(Exception):
    """The line needs more work than the guard's budget allows: the guard asks."""


class Context:
    def __init__(self, cwd, home, config):
        self.cwd = normalise(cwd) if cwd and cwd.startswith("/") else None
        self.home = home
        self.config = config
        self.vars = {"HOME": home, "IFS": " \t\n"}
        if self.cwd:
            self.vars["PWD"] = self.cwd
        self.findings = []
        self.files = {}  # files written earlier on the line: path -> (kind, text or where from)
        self.scripts_read = set()  # script files already read from disk
        self.cache = {}  # kube context, git branch ... read once
        self.deadline = time.perf_counter() + TIME_BUDGET
        self.text_left = TEXT_BUDGET

    def spend(self, chars):
        self.text_left -= chars
        if self.text_left < 0 or time.perf_counter() > self.deadline:
            raise TooComplex("the command takes more work to check than the guard allows")

    def add(self, rule, reason):
        if len(self.findings) < MAX_FINDINGS and (rule, reason) not in self.findings:
            self.findings.append((rule, reason))


def check(command, cwd, home, config):
    ctx = Context(cwd, home, config)
    analyse(command, ctx, 0)
    return ctx


def risky_words(text):
    if not _DANGER_RE:
        _DANGER_RE.append(re.compile(DANGER))
    return sorted({m.group(0).strip() for m in _DANGER_RE[0].finditer(text)})


def analyse(text, ctx, depth, via=(), limit=None):
    """Check shell text; ``limit`` raises the size read (a script file may be longer than a line)."""
    ctx.spend(len(text))
    try:
        cmds = parse(text, depth, max_chars=limit) if limit else parse(text, depth)
    except LimitError as exc:
        ctx.add("unreadable", "the guard could not check all of this command (%s)" % exc)
        return
    except ParseError as exc:
        words = risky_words(text)
        if words:
            ctx.add("unreadable", "the guard could not read this command (%s) and it contains %s"
                    % (exc, ", ".join("'%s'" % w for w in words[:4])))
        return
    rules.check_text(text, ctx)
    for cmd in cmds:
        analyse_cmd(cmd, ctx, depth, via)


# --- one command --------------------------------------------------------------------------------


def analyse_cmd(cmd, ctx, depth, via):
    inv = check_cmd(cmd, ctx, depth, via)
    if cmd.redirs or (inv is not None and inv.prog in WRITERS):
        from paii_hooks import scripts

        scripts.note_writes(cmd, inv, ctx)


def check_cmd(cmd, ctx, depth, via):
    """The rules for one simple command; returns what it runs (an Inv), if anything."""
    ctx.spend(1)
    rules.check_redirects(cmd, ctx)
    if cmd.data:
        return None
    env = {}
    for name, w in cmd.assigns:
        value = resolve_static(assign_value(w), ctx)
        if cmd.words:
            env[name] = value
        elif value is None:
            ctx.vars.pop(name, None)
        else:
            ctx.vars[name] = value
    words = []
    for w in cmd.words:
        words.extend(resolve(w, ctx))
    words = [w for w in words if w.parts]
    if not words:
        return None
    inv = unwrap(words, env)
    inv.via = list(via) + inv.via
    kind = inv.kind
    if kind == "none":
        return inv
    if kind == "dynamic":
        found = ["'%s'" % w for w in risky_words(" ".join(w.text() for w in words))[:3]]
        if not found and _would_delete(inv, cmd, ctx, depth):
            found = ["arguments that would delete a protected folder if the program were rm"]
        if found:
            ctx.add("computed-command", "the program this runs (%s) is only known when it runs, and the line contains %s"
                    % (inv.prog, ", ".join(found)))
        return inv
    if kind == "shell-string":
        analyse_code_word(inv, ctx, depth)
    elif kind in ("shell-stdin", "code-stdin"):
        src = stdin_source(cmd, ctx)
        if src is not None:
            follow_source(src, inv, ctx, depth)
    elif kind == "shell-script":
        subs = [p for p in inv.code.subs() if p.raw.startswith("<(")]  # the script is <(cmd)'s output
        if subs:
            follow_source(producer_of(subs[0].value, ctx), inv, ctx, depth)
        else:
            from paii_hooks import scripts

            scripts.run_file(inv, ctx, depth)
        rules.check_program(inv, cmd, ctx, depth, analyse)
    elif kind == "code":
        text = resolve_static(inv.code, ctx)
        if text is None:
            src = next((producer_of(s.value, ctx) for s in inv.code.subs()), ("unknown", inv.code.text()))
            follow_source(src, inv, ctx, depth)
        else:
            from paii_hooks import code_rules

            code_rules.check_code(inv.lang, text, ctx, depth, analyse)
    else:
        track_state(inv, ctx)
        rules.check_program(inv, cmd, ctx, depth, analyse)
        if inv.path and "/" in inv.path:
            from paii_hooks import scripts

            if scripts.runs_script_by_path(inv, ctx):
                scripts.run_file(inv, ctx, depth, inv.path)
    return inv


def _would_delete(inv, cmd, ctx, depth):
    """Would these arguments trip the rm rules (``$(get_cmd) -rf /``)?"""
    from paii_hooks.rules_fs import rm
    from paii_hooks.unwrap import Inv

    saved, ctx.findings = ctx.findings, []
    try:
        rm(Inv("run", "rm", inv.args), cmd, ctx, depth, analyse)
        return bool(ctx.findings)
    finally:
        ctx.findings = saved


def track_state(inv, ctx):
    prog, argv = inv.prog, inv.argv()
    if prog in ("cd", "pushd"):
        target = next((a for a in argv if a is None or not a.startswith("-")), "~") if argv else "~"
        if target is None or target == "-":
            ctx.cwd = None
        else:
            target = ctx.home + target[1:] if target.startswith("~") else target
            ctx.cwd = normalise(target) if target.startswith("/") else (
                normalise(ctx.cwd + "/" + target) if ctx.cwd else None)
    elif prog in ("export", "declare", "typeset", "local", "readonly"):
        for a in inv.args:
            first = a.parts[0] if a.parts else None
            if first is not None and first.kind == "lit" and "=" in first.value:
                name = first.value.split("=", 1)[0]
                value = resolve_static(assign_value(a), ctx)
                if value is None:
                    ctx.vars.pop(name, None)
                else:
                    ctx.vars[name] = value


def analyse_code_word(inv, ctx, depth):
    """The shell text given to bash -c, eval, ssh, su -c, env -S, watch."""
    code = inv.code
    text = resolve_static(code, ctx)
    if text is not None:
        analyse(text, ctx, depth + 1, inv.via)
        return
    subs = code.subs()
    for sub in subs:
        follow_source(producer_of(sub.value, ctx), inv, ctx, depth)
    if not subs and all(p.kind != "lit" or not p.value.strip() for p in code.parts):
        ctx.add("computed-script", "%s runs the text of %s, which is only known when it runs"
                % (inv.via[-1] if inv.via else inv.prog, code.text()))
        return
    if not subs:
        analyse(code.text(), ctx, depth + 1, inv.via)


# --- where code comes from ------------------------------------------------------------------------


def stdin_source(cmd, ctx):
    """What a command reads on stdin: ("text", str), ("network"|"decoded"|"unknown", what), or None."""
    if cmd.stdin:
        kind, word = cmd.stdin
        subs = word.subs()
        if subs:
            return producer_of(subs[0].value, ctx)
        text = resolve_static(word, ctx)
        if kind == "text":
            return ("text", text) if text is not None else ("unknown", word.text())
        content = file_text(text, ctx) if text else None
        return content if content is not None else ("unknown", "the file " + word.text())
    if cmd.pipe_from is None:
        return None
    if cmd.pipe_from == "group":
        return ("unknown", "a group of commands")
    return producer(cmd.pipe_from, ctx)


def producer_of(cmds, ctx):
    """What the last command of a substitution's list prints (any network stage wins)."""
    cmds = [c for c in cmds if not c.data]
    if not cmds:
        return ("text", "")
    for c in cmds:
        inv = unwrap([w for word in c.words for w in resolve(word, ctx)])
        if inv.kind == "run" and inv.prog in NETWORK:
            return ("network", inv.line())
    text = static_output(cmds, ctx)
    if text is not None:
        return ("text", text)
    return producer(cmds[-1], ctx)


def producer(cmd, ctx, depth=0):
    words = [w for word in cmd.words for w in resolve(word, ctx)]
    inv = unwrap(words)
    upstream = stdin_source(cmd, ctx) if depth < 8 else None
    if upstream and upstream[0] == "network":
        return upstream
    if inv.kind != "run":
        return ("unknown", inv.line() if inv.prog else "a command")
    prog, argv = inv.prog, inv.argv()
    if prog in NETWORK:
        return ("network", inv.line())
    if prog in DECODERS and (not DECODERS[prog] or any(a in DECODERS[prog] for a in argv if a)):
        return ("decoded", inv.line())
    if prog in ("echo", "printf"):
        text = static_output([cmd], ctx)
        return ("text", text + "\n") if text is not None else ("unknown", inv.line())
    if prog in PASS_THROUGH:
        files = [a for a in argv if a is None or not a.startswith("-")] if prog == "cat" else []
        if not files:
            return upstream or ("unknown", inv.line())
        texts = [file_text(f, ctx) if f else None for f in files]
        if None in texts or any(t[0] != "text" for t in texts):
            return next((t for t in texts if t and t[0] != "text"), None) or ("unknown", inv.line())
        return ("text", "".join(t[1] for t in texts))
    if prog in INIT_PRINTERS or any(a in ("completion", "completions", "shellenv", "init", "hook", "activate",
                                          "env", "docker-env") for a in argv[:3]):
        return ("trusted", inv.line())
    return ("unknown", inv.line())


def file_text(path, ctx):
    """("text", a local file's text), or what a file written earlier on the line holds; None if unreadable."""
    if ctx.files:
        from paii_hooks.scripts import file_key

        if file_key(path, ctx) in ctx.files:
            src = ctx.files[file_key(path, ctx)]
            return None if src[0] == "missing" else src
    text = read_text(path, ctx)
    return None if text is None else ("text", text)


def follow_source(src, inv, ctx, depth):
    """Code from ``src`` run by a shell or an interpreter (``inv``)."""
    kind, what = src
    runner = inv.via[-1] if inv.kind == "shell-string" and inv.via else inv.prog
    shown = what if len(what) <= 80 else what[:77] + "..."
    if kind == "text":
        if inv.lang:
            from paii_hooks import code_rules

            code_rules.check_code(inv.lang, what, ctx, depth + 1, analyse)
        else:
            analyse(what, ctx, depth + 1, inv.via + [runner])
    elif kind == "network":
        ctx.add("remote-script", "%s runs code downloaded by `%s` without showing it first" % (runner, shown))
    elif kind == "decoded":
        ctx.add("decoded-script", "%s runs code decoded or rewritten by `%s`, so the guard cannot see it" % (runner, shown))
    elif kind == "unknown":
        ctx.add("hidden-script", "%s runs code that comes from %s, which the guard cannot see" % (runner, shown))
