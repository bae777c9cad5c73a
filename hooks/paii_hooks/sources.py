"""Where code comes from: what a command reads on stdin (a heredoc, a here-string, a file, the
command before ``|``, or what the group or loop it sits in reads), what a ``$(...)`` prints, and
what happens when a shell or an interpreter runs it: text is checked like any command line; code
from the network, decoded just before, or from a program the guard cannot see is asked about."""

from paii_hooks.expand import resolve, resolve_static, static_output
from paii_hooks.paths import normalise, read_text
from paii_hooks.shell import Cmd
from paii_hooks.unwrap import unwrap

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
STDIN_PATHS = frozenset({"/dev/stdin", "/dev/fd/0", "/proc/self/fd/0", "-"})


def file_key(path, ctx):
    """The file a path names: absolute and normalised, or ``?:rel`` when the folder is not known."""
    if path == "~" or path.startswith("~/"):
        path = ctx.home + path[1:]
    if path.startswith("/"):
        return normalise(path)
    return normalise(ctx.cwd + "/" + path) if ctx.cwd else "?:" + normalise(path)


def stdin_source(cmd, ctx):
    """What a command reads on stdin: ("text", str), ("network"|"decoded"|"unknown"|"trusted", what),
    or None (the terminal: nothing the line provides)."""
    if cmd.stdin:
        kind, word = cmd.stdin
        subs = word.subs()
        if subs:
            return producer_of(subs[0].value, ctx)
        text = resolve_static(word, ctx)
        if kind in ("text", "here"):
            if text is None:
                return ("unknown", word.text())
            return ("text", text + "\n" if kind == "here" else text)
        content = file_text(text, ctx) if text else None
        return content if content is not None else ("unknown", "the file " + word.text())
    if cmd.pipe_from is None:
        return ctx.scope.stdin
    if not isinstance(cmd.pipe_from, Cmd):
        return ("unknown", "a group of commands")
    return producer(cmd.pipe_from, ctx)


def producer_of(items, ctx):
    """What the last command of a substitution's list prints (any network stage wins)."""
    cmds = [c for c in items if isinstance(c, Cmd) and not c.data]
    if not cmds:
        return ("text", "") if not items else ("unknown", "a group of commands")
    for c in cmds:
        inv = unwrap([w for word in c.words for w in resolve(word, ctx)])
        if inv.kind == "run" and inv.prog in NETWORK:
            return ("network", inv.line())
    text = static_output(cmds, ctx) if len(cmds) == len(items) else None
    if text is not None:
        return ("text", text)
    return producer(cmds[-1], ctx)


def producer(cmd, ctx, depth=0):
    words = [w for word in cmd.words for w in resolve(word, ctx)]
    inv = unwrap(words)
    upstream = stdin_source(cmd, ctx) if depth < 8 else None
    if upstream and upstream[0] == "network":
        return upstream
    prog, argv = inv.prog, inv.argv()
    if prog in DECODERS and inv.kind in ("run", "code") and (not DECODERS[prog] or any(a in DECODERS[prog] for a in argv if a)):
        return ("decoded", inv.line())
    if inv.kind != "run":
        return ("unknown", inv.line() if inv.prog else "a command")
    if prog in NETWORK:
        return ("network", inv.line())
    if prog in ("echo", "printf"):
        text = static_output([cmd], ctx)
        return ("text", text + ("\n" if prog == "echo" else "")) if text is not None else ("unknown", inv.line())
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
    if ctx.files and file_key(path, ctx) in ctx.files:
        src = ctx.files[file_key(path, ctx)]
        return None if src[0] == "missing" else src
    text = read_text(path, ctx)
    return None if text is None else ("text", text)


def run_source(src, runner, ctx, depth, lang="", via=(), child=True, pos=None):
    """Code from ``src`` run by ``runner``: a shell (in a new process when ``child``, with ``pos``
    as $0 $1 ...) or, with ``lang``, an interpreter."""
    kind, what = src
    shown = what if len(what) <= 80 else what[:77] + "..."
    if kind == "text":
        if lang:
            from paii_hooks import code_rules  # (its patterns are compiled only when code is seen)

            code_rules.check_code(lang, what, ctx, depth + 1)
        elif child:
            ctx.walker.analyse_child(what, ctx, depth + 1, list(via) + [runner], pos=pos)
        else:
            ctx.analyse(what, depth + 1, list(via) + [runner])
    elif kind == "network":
        ctx.add("remote-script", "%s runs code downloaded by `%s` without showing it first" % (runner, shown))
    elif kind == "decoded":
        ctx.add("decoded-script", "%s runs code decoded or rewritten by `%s`, so the guard cannot see it" % (runner, shown))
    elif kind == "unknown":
        ctx.add("hidden-script", "%s runs code that comes from %s, which the guard cannot see" % (runner, shown))
