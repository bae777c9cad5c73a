"""Rules for files, disks and the machine: rm, find, chmod/chown, dd, mkfs, shred, mv, writes
onto devices and system files, rsync --delete, kill, shutdown, crontab, firewalls."""

import os

from paii_hooks.paths import HARMLESS_DEV, classify, is_device, normalise
from paii_hooks.shell import Part, Word


def split_flags(args):
    """(flags, operands): static words starting with '-' before ``--``; the rest."""
    flags, operands, done = [], [], False
    for a in args:
        t = a.static()
        if not done and t == "--":
            done = True
        elif not done and t is not None and t.startswith("-") and t != "-":
            flags.append(t)
        else:
            operands.append(a)
    return flags, operands


def quote(word):
    """A word as shell text that parses back to the same word (run-time parts kept as they were)."""
    text = word.static()
    if text is None:
        return word.text()
    if text and all(c.isalnum() or c in "-_./=:,+%@{}" for c in text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def short_flag(flags, letters, longs=()):
    return any(f in longs or (f.startswith("-") and not f.startswith("--") and any(c in f[1:] for c in letters))
               for f in flags)


DELETE_RULES = {"root": "rm-root", "system": "rm-system", "home": "rm-home", "system-sub": "rm-system-path",
                "device": "rm-system-path", "home-path": "rm-home-path", "cwd": "rm-cwd", "unset-var": "rm-unset-var"}
WHAT = {"root": "the whole filesystem", "system": "the system folder %s", "home": "the home folder %s",
        "system-sub": "%s, inside a system folder", "device": "the device node %s", "home-path": "%s in the home folder",
        "cwd": "%s (the working folder, one above it, or everything in it)",
        "unset-var": "%s: when the variable is empty or unset that is the root folder"}


def xargs_targets(cmd, ctx):
    """What xargs appends: words of a visible producer, or None when the guard cannot see them."""
    from paii_hooks.analyse import stdin_source  # (import cycle: analyse imports the rules)

    src = stdin_source(cmd, ctx)
    if src and src[0] == "text":
        return [Word([Part("lit", w, True)]) for w in src[1].split()[:200]]
    if cmd.pipe_from not in (None, "group"):
        p = cmd.pipe_from
        from paii_hooks.unwrap import unwrap

        inv = unwrap(p.words)
        if inv.kind == "run" and inv.prog in ("find", "fd", "ls", "grep", "rg", "git"):
            starts = [a for a in inv.args if (a.static() or "x")[0] not in "-(!"][:1] or [Word([Part("lit", ".", True)])]
            return [Word(w.parts + [Part("lit", "/*", False)]) for w in starts]  # anything under them
    return None if src is None or src[0] != "text" else []


def rm(inv, cmd, ctx, depth, analyse):
    flags, targets = split_flags(inv.args)
    recursive = short_flag(flags, "rR", ("--recursive",))
    if inv.xargs:
        more = xargs_targets(cmd, ctx)
        if more is None:
            if recursive:
                ctx.add("rm-unknown-targets", "`%s` deletes, recursively, whatever paths come in on stdin, and the guard "
                        "cannot see them" % inv.line())
            return
        targets = targets + more
    for t in targets:
        kind, shown = classify(t, ctx)
        if kind in ("other", "temp", "dynamic"):
            if recursive and (t.static() or "").rstrip("/").rsplit("/", 1)[-1] == ".git":
                ctx.add("rm-git", "`%s` deletes the repository's history (.git)" % inv.line())
            continue
        if not recursive and kind not in ("system-sub", "device", "system", "root"):
            continue
        rule = DELETE_RULES[kind] if recursive else "rm-system-path"
        what = WHAT[kind] % shown if "%s" in WHAT[kind] else WHAT[kind]
        ctx.add(rule, "`%s` deletes %s" % (inv.line(), what))


def find(inv, cmd, ctx, depth, analyse):
    argv = inv.argv()
    starts, i = [], 0
    while i < len(inv.args) and argv[i] in ("-H", "-L", "-P", "-O", "-D"):
        i += 2 if argv[i] in ("-O", "-D") else 1
    while i < len(inv.args) and (argv[i] is None or argv[i][:1] not in ("-", "(", "!")):
        starts.append(inv.args[i])
        i += 1
    expr = [a for a in argv[i:]]
    deleting = "-delete" in expr
    for k, a in enumerate(expr):
        if a in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((j for j in range(k + 1, len(expr)) if expr[j] in (";", "+")), len(expr))
            words = inv.args[i + k + 1:i + end]
            if words and (words[0].static() or "").rsplit("/", 1)[-1] in ("rm", "shred", "unlink"):
                deleting = True
            if words:
                analyse(" ".join(quote(w) for w in words), ctx, depth + 1, inv.via + ["find -exec"])
    if not deleting:
        return
    filtered = any(a in ("-name", "-iname", "-path", "-ipath", "-regex", "-iregex", "-newer", "-mtime", "-mmin",
                         "-size", "-empty", "-user", "-perm", "-wholename", "-lname", "-inum", "-atime", "-ctime")
                   for a in expr)
    for s in starts or [Word([Part("lit", ".", True)])]:
        kind, shown = classify(s, ctx)
        if kind in ("root", "system", "home") and not filtered:
            ctx.add("find-delete", "`%s` deletes everything under %s" % (inv.line(), shown))
        elif kind in ("root", "system", "home", "system-sub", "home-path") or (kind == "cwd" and not filtered):
            ctx.add("find-delete-path", "`%s` deletes files under %s" % (inv.line(), shown))


WORLD_WRITABLE = ("777", "0777", "666", "0666", "a+w", "o+w", "a+rwx", "o+rwx", "ugo+rwx", "a=rwx", "+w")


def chmod(inv, cmd, ctx, depth, analyse):
    flags, operands = split_flags(inv.args)
    mode = ""
    if not any(f.startswith("--reference") for f in flags):
        if not operands:
            return
        mode, operands = operands[0].static() or "", operands[1:]
    recursive = short_flag(flags, "R", ("--recursive",))
    loose = inv.prog == "chmod" and mode.lstrip("-") in WORLD_WRITABLE
    for t in operands:
        kind, shown = classify(t, ctx)
        if recursive and kind in ("root", "system", "home"):
            ctx.add("chmod-system", "`%s` changes every file under %s (breaks the system: sudo, ssh and services "
                    "check these permissions)" % (inv.line(), shown))
        elif kind in ("root", "system") or (kind in ("system-sub", "home-path", "device") and (recursive or loose)):
            ctx.add("chmod-system-path", "`%s` changes the permissions of %s" % (inv.line(), shown))


def write_target_is_guard_config(path, ctx):
    cfg = ctx.config
    if not cfg or not path:
        return False
    p = normalise(path if path.startswith("/") else os.path.join(ctx.cwd or "/", path))
    return p in cfg.protected_paths


def check_write_target(word, ctx, what):
    text = word.static()
    if text is None:
        return
    if text.startswith("~"):
        text = ctx.home + text[1:]
    if text in HARMLESS_DEV or text.startswith(("/dev/fd/", "/dev/pts/", "/proc/self/fd/")):
        return
    if write_target_is_guard_config(text, ctx):
        ctx.add("guard-config", "`%s` changes the PAII guard's own settings; only the person should" % what)
        return
    if is_device(text):
        ctx.add("disk-overwrite", "`%s` overwrites the disk device %s (its data is lost)" % (what, text))
        return
    kind, shown = classify(word, ctx)
    if kind == "system-sub" and normalise(shown) in ("/tmp", "/var/tmp", "/dev/shm", "/private/tmp"):
        return  # a new file in a temporary folder
    if kind in ("system", "system-sub", "root"):
        ctx.add("write-system-file", "`%s` writes %s, a system path" % (what, shown))


def dd(inv, cmd, ctx, depth, analyse):
    for a in inv.argv():
        if a and a.startswith("of="):
            check_write_target(Word([Part("lit", a[3:], True)]), ctx, inv.line())


def mkfs(inv, cmd, ctx, depth, analyse):
    if inv.prog == "diskutil":
        argv = inv.argv()
        if not argv or argv[0] not in ("eraseDisk", "eraseVolume", "partitionDisk", "zeroDisk", "randomDisk",
                                       "secureErase", "reformat"):
            return
    _, operands = split_flags(inv.args)
    for t in operands:
        text = t.static()
        if text is None:
            ctx.add("disk-format", "`%s` formats %s, which is only known when it runs" % (inv.line(), t.text()))
        elif is_device(text) or (inv.prog == "diskutil" and text.startswith(("disk", "/dev/"))):
            ctx.add("disk-format", "`%s` erases %s (everything on it is lost)" % (inv.line(), text))


def partition(inv, cmd, ctx, depth, analyse):
    flags, operands = split_flags(inv.args)
    if any(f in ("-l", "--list", "-p", "--print", "-s", "--show", "--help", "-V", "--version") for f in flags):
        return
    if inv.prog == "parted" and any((o.static() or "") in ("print", "p", "list") for o in operands):
        return
    for t in operands:
        if is_device(t.static() or ""):
            ctx.add("disk-partition", "`%s` changes the partitions of %s" % (inv.line(), t.static()))
            return


def shred(inv, cmd, ctx, depth, analyse):
    _, operands = split_flags(inv.args)
    for t in operands:
        check_write_target(t, ctx, inv.line())


def mv(inv, cmd, ctx, depth, analyse):
    flags, operands = split_flags(inv.args)
    if len(operands) < 2:
        return
    *sources, dest = operands
    for s in sources:
        kind, shown = classify(s, ctx)
        if kind in ("root", "system", "home"):
            ctx.add("mv-system", "`%s` moves %s away (the system or the home folder stops working)" % (inv.line(), shown))
    if dest.static() == "/dev/null":
        ctx.add("rm-system-path" if any(classify(s, ctx)[0] != "other" for s in sources) else "rm-cwd",
                "`%s` deletes %s" % (inv.line(), " ".join(s.text() for s in sources)))
    check_write_target(dest, ctx, inv.line())


def copy_like(inv, cmd, ctx, depth, analyse):
    flags, operands = split_flags(inv.args)
    if inv.prog == "tee":
        for t in operands:
            check_write_target(t, ctx, inv.line())
        return
    if inv.prog == "sed":
        if short_flag(flags, "i", ("--in-place",)) or any(f.startswith("--in-place") for f in flags):
            for t in operands[1:]:
                check_write_target(t, ctx, inv.line())
        return
    if inv.prog == "truncate":
        for t in operands:
            check_write_target(t, ctx, inv.line())
        return
    if len(operands) >= 2:
        dest = operands[-1]
        check_write_target(dest, ctx, inv.line())
        if inv.prog == "rsync" and any(f.startswith("--delete") for f in flags):
            kind, shown = classify(dest, ctx)
            if kind in ("root", "system", "home"):
                ctx.add("rsync-delete", "`%s` deletes everything in %s that is not in the source" % (inv.line(), shown))


def kill(inv, cmd, ctx, depth, analyse):
    argv = [a for a in inv.argv() if a is not None]
    if inv.prog == "killall5" or (argv and argv[-1] in ("-1", "1") and (len(argv) > 1 or argv[-1] == "1")):
        ctx.add("kill-all", "`%s` kills every process (or init), which stops the machine" % inv.line())


def shutdown(inv, cmd, ctx, depth, analyse):
    argv = inv.argv()
    if inv.prog in ("init", "telinit") and not (argv and argv[0] in ("0", "6")):
        return
    if inv.prog == "systemctl" and not (argv and any(a in ("poweroff", "reboot", "halt", "kexec", "suspend",
                                                           "hibernate", "emergency", "rescue") for a in argv)):
        return
    if any(a in ("--help", "--version") for a in argv if a) or (inv.prog == "shutdown" and "-c" in argv):
        return
    ctx.add("shutdown", "`%s` stops or restarts the machine" % inv.line())


def crontab(inv, cmd, ctx, depth, analyse):
    if any(short_flag([a], "r") for a in inv.argv() if a and a.startswith("-") and not a.startswith("--")):
        ctx.add("crontab-remove", "`%s` deletes every cron job of the user, without a copy" % inv.line())


def firewall(inv, cmd, ctx, depth, analyse):
    argv = [a for a in inv.argv() if a]
    if inv.prog in ("iptables", "ip6tables") and any(a in ("-F", "--flush", "-X", "--delete-chain") for a in argv) \
            or (inv.prog in ("iptables", "ip6tables") and "-P" in argv and "DROP" in argv) \
            or (inv.prog == "nft" and "flush" in argv and "ruleset" in argv) \
            or (inv.prog == "ufw" and ("reset" in argv or "disable" in argv)):
        ctx.add("firewall-flush", "`%s` changes the whole firewall (can cut every connection to this machine)" % inv.line())


CHECKS = {
    "rm grm unlink": rm, "find gfind": find, "chmod chown chgrp": chmod, "dd": dd,
    "mke2fs mkswap wipefs blkdiscard mkntfs mkdosfs newfs diskutil": mkfs,
    "fdisk sfdisk gdisk sgdisk cfdisk parted": partition, "shred": shred, "mv": mv,
    "cp install rsync tee sed truncate": copy_like, "kill killall5": kill,
    "shutdown reboot halt poweroff init telinit systemctl": shutdown, "crontab": crontab,
    "iptables ip6tables nft ufw": firewall,
}
