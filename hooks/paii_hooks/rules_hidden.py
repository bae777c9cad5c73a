"""Commands hidden in another program's options, which that program runs through a shell:
``trap CMD EXIT``, ``ssh -o ProxyCommand=CMD``, ``git -c alias.x='!CMD' x`` (and core.sshCommand,
core.pager, GIT_SSH_COMMAND ...), ``tar --to-command=CMD`` / ``--checkpoint-action=exec=CMD`` /
``-I CMD``, ``rsync -e CMD``, ``zip -TT CMD``, ``socat EXEC:CMD``, ``gdb -ex '!CMD'``,
``vim -c '!CMD'``, ``sed 'e CMD'``, ``npx -c CMD``, and ``docker run -v /:/host ... CMD``
(a host folder mounted into a container: CMD's paths are read as the host's). Each is checked
like a command line of its own."""

import re

from paii_hooks.argv import quote
from paii_hooks.paths import classify

PATTERNS = {  # compiled on first use: most lines never need them
    "git": r"(?i)^(core\.sshcommand|core\.pager|core\.editor|core\.fsmonitor|core\.askpass|sequence\.editor"
           r"|diff\.external|gpg\.program|credential\.helper|pager\.\w+|uploadpack\.packobjectshook|alias\.[\w.-]+)$",
    "sed-e": r"(?:^|[;\n{}])\s*(?:\d+(?:,\d+)?|\$|/[^/\n]*/)?\s*e(?:\s+([^;\n}]*)|\s*(?=[;\n}]|$))",
    "sed-s-e": r"(?:^|[;\n{}])\s*(?:\d+|\$|/[^/\n]*/)?\s*s(.).*?\1.*?\1[gpiImMw0-9]*e",
    "vim": r"^\s*:?\s*(?:silent!?\s+)?!(.*)$",
}
_COMPILED = {}
GIT_ENV = ("GIT_SSH_COMMAND", "GIT_EDITOR", "GIT_PAGER", "GIT_SEQUENCE_EDITOR", "GIT_ASKPASS", "GIT_EXTERNAL_DIFF")
TAR_COMMANDS = ("--to-command", "--use-compress-program", "--info-script", "--new-volume-script")


def pattern(name):
    if name not in _COMPILED:
        _COMPILED[name] = re.compile(PATTERNS[name])
    return _COMPILED[name]


def _run(ctx, text, depth, via, what):
    if text and text.strip():
        ctx.analyse(text, depth + 1, via + [what])


def trap(inv, cmd, ctx, depth):
    argv = inv.argv()
    ops = argv[1:] if argv[:1] == ["--"] else argv
    if len(ops) >= 2 and ops[0] not in (None, "-", "") and not ops[0].startswith("-"):
        _run(ctx, ops[0], depth, inv.via, "trap")  # runs in this shell when the signal comes


def ssh_options(inv, cmd, ctx, depth):
    argv = inv.argv()
    for k, a in enumerate(argv):
        value = argv[k + 1] if a == "-o" and k + 1 < len(argv) else a[2:] if a and a.startswith("-o") else None
        if not value:
            continue
        m = re.match(r"(?i)\s*(ProxyCommand|LocalCommand|KnownHostsCommand)\s*[= ]\s*(.*)", value, re.S)
        if m:
            _run(ctx, m.group(2), depth, inv.via, "ssh -o " + m.group(1))


def git_options(inv, cmd, ctx, depth):
    argv = inv.argv()
    aliases, i = {}, 0
    for name in GIT_ENV:
        if inv.env.get(name):
            _run(ctx, inv.env[name], depth, inv.via, name)
    while i < len(argv) and argv[i] is not None and argv[i].startswith("-"):
        if argv[i] == "-c" and i + 1 < len(argv) and argv[i + 1] and "=" in argv[i + 1]:
            key, value = argv[i + 1].split("=", 1)
            if key.lower().startswith("alias."):
                aliases[key[6:]] = value
            elif pattern("git").match(key):
                _run(ctx, value.lstrip("!"), depth, inv.via, "git -c " + key)
            i += 2
            continue
        i += 2 if argv[i] in ("-C", "--git-dir", "--work-tree", "--namespace") else 1
    rest = argv[i:]
    if rest and rest[0] in aliases and aliases[rest[0]].startswith("!"):
        _run(ctx, aliases[rest[0]][1:] + "".join(" " + quote_text(a) for a in rest[1:] if a is not None), depth,
             inv.via, "git alias " + rest[0])
    if rest[:1] == ["config"]:  # git config [--global] alias.x '!cmd' / core.sshCommand 'cmd'
        ops = [a for a in rest[1:] if a is None or not a.startswith("-")]
        if len(ops) >= 2 and ops[0] and pattern("git").match(ops[0]) and ops[1]:
            if not ops[0].lower().startswith("alias.") or ops[1].startswith("!"):
                _run(ctx, ops[1].lstrip("!"), depth, inv.via, "git config " + ops[0])
    for a in rest:
        if a and a.startswith(("--upload-pack=", "--receive-pack=", "--exec=")):
            _run(ctx, a.split("=", 1)[1], depth, inv.via, "git " + a.split("=", 1)[0])


def quote_text(text):
    from paii_hooks.shell import lit_word

    return quote(lit_word(text))


def tar(inv, cmd, ctx, depth):
    argv = inv.argv()
    for k, a in enumerate(argv):
        if a is None:
            continue
        name, eq, value = a.partition("=")
        if name in TAR_COMMANDS or name in ("-I", "-F"):
            _run(ctx, value if eq else (argv[k + 1] if k + 1 < len(argv) else None), depth, inv.via, "tar " + name)
        elif name == "--checkpoint-action" and value.startswith("exec="):
            _run(ctx, value[5:], depth, inv.via, "tar --checkpoint-action")


def rsync(inv, cmd, ctx, depth):
    argv = inv.argv()
    for k, a in enumerate(argv):
        if a in ("-e", "--rsh") and k + 1 < len(argv):
            _run(ctx, argv[k + 1], depth, inv.via, "rsync -e")
        elif a and a.startswith("--rsh="):
            _run(ctx, a[6:], depth, inv.via, "rsync -e")


def zip_(inv, cmd, ctx, depth):
    argv = inv.argv()
    for k, a in enumerate(argv):
        if a in ("-TT", "--unzip-command") and k + 1 < len(argv):
            _run(ctx, argv[k + 1], depth, inv.via, "zip -TT")


def socat(inv, cmd, ctx, depth):
    for a in inv.argv():
        m = re.match(r"(?i)(exec|system):(.*)", a or "", re.S)
        if m:
            _run(ctx, m.group(2).split(",", 1)[0].strip("'\""), depth, inv.via, "socat " + m.group(1).upper())


def gdb(inv, cmd, ctx, depth):
    argv = inv.argv()
    for k, a in enumerate(argv):
        if a in ("-ex", "--ex", "-eval-command", "--eval-command") and k + 1 < len(argv) and argv[k + 1]:
            m = re.match(r"\s*(?:!|shell\s+)(.*)", argv[k + 1], re.S)
            if m:
                _run(ctx, m.group(1), depth, inv.via, "gdb -ex")


def vim(inv, cmd, ctx, depth):
    argv = inv.argv()
    for k, a in enumerate(argv):
        value = argv[k + 1] if a in ("-c", "--cmd") and k + 1 < len(argv) else a[1:] if a and a.startswith("+") else None
        m = pattern("vim").match(value or "")
        if m:
            _run(ctx, m.group(1), depth, inv.via, inv.prog + " :!")


def sed(inv, cmd, ctx, depth):
    argv = inv.argv()
    scripts, k = [], 0
    while k < len(argv):
        a = argv[k]
        if a in ("-e", "--expression") and k + 1 < len(argv):
            scripts.append(argv[k + 1] or "")
            k += 2
            continue
        if a and a.startswith("--expression="):
            scripts.append(a.split("=", 1)[1])
        k += 1
    if not scripts:
        ops = [a for a in argv if a is None or not a.startswith("-")]
        scripts = [ops[0] or ""] if ops else []
    for text in scripts:
        for m in pattern("sed-e").finditer(text):
            if m.group(1) and m.group(1).strip():
                _run(ctx, m.group(1), depth, inv.via, "sed e")
            else:
                ctx.add("hidden-script", "`%s` runs the lines it edits as commands (sed's e), which the guard cannot see"
                        % inv.line())
        if pattern("sed-s-e").search(text):
            ctx.add("hidden-script", "`%s` runs the text it substitutes as commands (sed's s///e), which the guard "
                    "cannot see" % inv.line())


def npm_exec(inv, cmd, ctx, depth):
    argv = inv.argv()
    if inv.prog != "npx" and argv[:1] not in (["exec"], ["x"]):
        return
    for k, a in enumerate(argv):
        if a in ("-c", "--call") and k + 1 < len(argv):
            _run(ctx, argv[k + 1], depth, inv.via, inv.prog + " -c")
        elif a and a.startswith("--call="):
            _run(ctx, a[7:], depth, inv.via, inv.prog + " -c")


RUN_VALUE = {"-v", "--volume", "--mount", "-e", "--env", "--name", "-w", "--workdir", "-p", "--publish", "--network",
             "--net", "--entrypoint", "-u", "--user", "-h", "--hostname", "--env-file", "-l", "--label", "--platform",
             "--pull", "--restart", "--cpus", "-m", "--memory", "--device", "--cap-add", "--cap-drop", "--security-opt",
             "--add-host", "--dns", "--ulimit", "--log-driver", "--log-opt", "--shm-size", "--tmpfs", "--ipc", "--pid",
             "--gpus", "--runtime", "--stop-signal", "-a", "--attach", "--volumes-from", "--cidfile", "--group-add",
             "--uts", "--userns", "--expose", "--link", "--health-cmd", "--mac-address", "--ip", "--cgroupns"}


def container_mounts(inv, cmd, ctx, depth):
    """docker/podman run with a host folder mounted read-write: the command's paths are the host's."""
    args = inv.args
    argv = inv.argv()
    if argv[:1] not in (["run"], ["create"]) and argv[:2] != ["container", "run"]:
        return
    i = 2 if argv[:1] == ["container"] else 1
    mounts, entry = [], None
    while i < len(argv):
        a = argv[i]
        if a is None or not a.startswith("-"):
            break
        name, eq, value = a.partition("=")
        if name in RUN_VALUE:
            value = value if eq else (argv[i + 1] if i + 1 < len(argv) else None)
            if name in ("-v", "--volume") and value:
                parts = value.split(":")
                if len(parts) >= 2 and parts[0].startswith(("/", "~")) and "ro" not in parts[2:3]:
                    mounts.append((parts[0], parts[1]))
            elif name == "--mount" and value and "type=bind" in value and "readonly" not in value:
                fields = dict(f.split("=", 1) for f in value.split(",") if "=" in f)
                src, dst = fields.get("source") or fields.get("src"), fields.get("target") or fields.get("dst")
                if src and dst:
                    mounts.append((src, dst))
            elif name == "--entrypoint":
                entry = value
            i += 1 if eq else 2
            continue
        i += 1
    risky = [(s, t) for s, t in mounts if classify(_word(s), ctx)[0] in ("root", "system", "home", "system-sub",
                                                                          "home-path", "cwd")]
    words = args[i + 1:]  # after the image
    if not risky or not (words or entry):
        return
    texts = ([entry] if entry else []) + [_host_path(w.static(), risky) if w.static() is not None else w.text()
                                          for w in words]
    _run(ctx, " ".join(quote_text(t) if t and not t.startswith("$") else t for t in texts), depth, inv.via,
         "%s run -v %s" % (inv.prog, ",".join("%s:%s" % m for m in risky)))


def _word(text):
    from paii_hooks.shell import Part, Word

    return Word([Part("lit", text, False)])


def _host_path(text, mounts):
    """``text`` with the container paths of ``mounts`` written as the host paths they are (also
    inside a ``sh -c`` string)."""
    for src, dst in sorted(mounts, key=lambda m: -len(m[1])):
        dst = dst.rstrip("/")
        if not dst:
            continue
        host = src.rstrip("/")
        text = re.sub(r"(?<![\w./-])" + re.escape(dst) + r"(/?)(?=$|[\w.*\s'\";&|)-])",
                      lambda m: (host + m.group(1)) or "/", text)
    return text


CHECKS = {
    "trap": trap, "ssh scp sftp": ssh_options, "git": git_options, "tar gtar bsdtar": tar, "rsync": rsync,
    "zip": zip_, "socat": socat, "gdb": gdb, "vim vi nvim ex view gvim": vim, "sed gsed": sed,
    "npx npm pnpm": npm_exec, "docker podman nerdctl": container_mounts,
}
