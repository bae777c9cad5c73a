"""Rules for files: rm, find -delete / -exec, chmod/chown, mv, cp/install/rsync/ln/tee/sed -i/
truncate, and writes onto devices, system files, keys of the home folder, PAII's run state and
Claude Code's settings (a redirection, tee, cp, mv, ln, sed -i ... all end in check_write_target)."""

import os
import re

from paii_hooks import protected
from paii_hooks.argv import quote, short_flag, split_flags
from paii_hooks.paths import HARMLESS_DEV, SENSITIVE_HOME, SYSTEM, classify, home_key, is_device, literal_paths, normalise
from paii_hooks.shell import Cmd, Part, Word
from paii_hooks.unwrap import unwrap

DELETE_RULES = {"root": "rm-root", "system": "rm-system", "home": "rm-home", "system-sub": "rm-system-path",
                "device": "rm-system-path", "home-path": "rm-home-path", "cwd": "rm-cwd", "unset-var": "rm-unset-var"}
WHAT = {"root": "the whole filesystem", "system": "the system folder %s", "home": "the home folder %s",
        "system-sub": "%s, inside a system folder", "device": "the device node %s", "home-path": "%s in the home folder",
        "cwd": "%s (the working folder, one above it, or everything in it)",
        "unset-var": "%s: when the variable is empty or unset that is the root folder"}


def xargs_targets(cmd, ctx):
    """What xargs appends: words of a visible producer, or None when the guard cannot see them."""
    src = ctx.stdin_of(cmd)
    if src and src[0] == "text":
        return [Word([Part("lit", w, True)]) for w in src[1].split()[:200]]
    if isinstance(cmd.pipe_from, Cmd):
        inv = unwrap(cmd.pipe_from.words)
        if inv.kind == "run" and inv.prog in ("find", "fd", "ls", "grep", "rg", "git"):
            starts = [a for a in inv.args if (a.static() or "x")[0] not in "-(!"][:1] or [Word([Part("lit", ".", True)])]
            return [Word(w.parts + [Part("lit", "/*", False)]) for w in starts]  # anything under them
    return None if src is None or src[0] != "text" else []


def rm(inv, cmd, ctx, depth):
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
            if kind == "home-path" and _home_key(t, ctx):
                ctx.add("home-keys", "`%s` deletes %s, which holds keys or logins" % (inv.line(), shown))
            continue
        rule = DELETE_RULES[kind] if recursive else "rm-system-path"
        what = WHAT[kind] % shown if "%s" in WHAT[kind] else WHAT[kind]
        ctx.add(rule, "`%s` deletes %s" % (inv.line(), what))


def find(inv, cmd, ctx, depth):
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
            if words and ((words[0].static() or "").rsplit("/", 1)[-1] in ("rm", "shred", "unlink")
                          or any(re.search(r"(^|[\s;&|(])(rm|shred|unlink)\s", w.text()) for w in words[1:])):
                deleting = True  # -exec rm, or -exec sh -c '... rm "$1"' _ {}
            if words:
                ctx.analyse(" ".join(quote(w) for w in words), depth + 1, inv.via + ["find -exec"])
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


def chmod(inv, cmd, ctx, depth):
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


def check_write_target(word, ctx, what, keys=True):
    text = word.static()
    if text is None:
        if protected.STATE_WORDS.search(word.text()):
            ctx.add("paii-run-state", "`%s` writes PAII's run state or approval key (%s)" % (what, word.text()))
        elif protected.SETTINGS_WORDS.search(word.text()):
            ctx.add("claude-settings", "`%s` writes Claude Code's settings (%s)" % (what, word.text()))
        return
    if text.startswith("~"):
        text = ctx.home + text[1:]
    if text in HARMLESS_DEV or text.startswith(("/dev/fd/", "/dev/pts/", "/proc/self/fd/", "/dev/tcp/", "/dev/udp/")):
        return
    if write_target_is_guard_config(text, ctx):
        ctx.add("guard-config", "`%s` changes the PAII guard's own settings; only the person should" % what)
        return
    if is_device(text):
        ctx.add("disk-overwrite", "`%s` overwrites the disk device %s (its data is lost)" % (what, text))
        return
    for path in literal_paths(word, ctx) or ():
        if path.startswith("/"):
            path = normalise(path)
            found = protected.state_kind(path, ctx.home) or protected.settings_kind(path, ctx.home)
            if found:
                rule = "claude-settings" if found[0] == "claude-settings" else "paii-run-state"
                ctx.add(rule, "`%s` writes %s; only the person should" % (what, found[1]))
                return
            if keys and home_key(path, ctx):
                ctx.add("home-keys", "`%s` overwrites %s, which holds keys or logins" % (what, path))
                return
    kind, shown = classify(word, ctx)
    if kind == "system-sub" and normalise(shown) in ("/tmp", "/var/tmp", "/dev/shm", "/private/tmp"):
        return  # a new file in a temporary folder
    if kind in ("system", "system-sub", "root"):
        ctx.add("write-system-file", "`%s` writes %s, a system path" % (what, shown))


def _home_key(word, ctx):
    return any(p.startswith("/") and home_key(normalise(p), ctx) for p in literal_paths(word, ctx) or ())


def _moved_away(sources, dest, inv, ctx):
    """mv / rsync --remove-source-files of /, a system or home folder (blocked), or of a system file,
    a data folder (/var/lib/postgresql) or a key folder of the home (~/.ssh) (asked). A file renamed
    inside its own folder is not moved away. True when every source is such a rename."""
    home = normalise(ctx.home)
    to = [normalise(p) for p in literal_paths(dest, ctx) or () if p.startswith("/")]
    in_place = bool(sources)
    for s in sources:
        kind, shown = classify(s, ctx)
        if kind in ("root", "system", "home"):
            in_place = False
            ctx.add("mv-system", "`%s` moves %s away (the system or the home folder stops working)" % (inv.line(), shown))
            continue
        key = _home_key(s, ctx) or (kind == "home-path" and _sensitive(shown, home))
        if kind != "system-sub" and not key and kind != "home-path":
            in_place = False
            continue
        src = normalise(shown) if shown.startswith("/") else shown
        parent = os.path.dirname(src)
        top = parent in SYSTEM or parent == home or parent == "/"
        if to and not top and all(os.path.dirname(p) == parent for p in to):
            continue  # a file renamed in its own folder (hashfile.tmp -> hashfile, known_hosts -> .old)
        in_place = False
        if kind == "home-path" and not key and to and all(p.startswith(home + "/") for p in to):
            continue  # a folder of the home renamed or moved inside the home
        ctx.add("mv-away", "`%s` moves %s away (what reads it there stops working)" % (inv.line(), shown))
    return in_place


def _sensitive(path, home):
    return path.startswith(home + "/") and path[len(home) + 1:].split("/", 1)[0] in SENSITIVE_HOME


def mv(inv, cmd, ctx, depth):
    flags, operands = split_flags(inv.args)
    if len(operands) < 2:
        return
    *sources, dest = operands
    renamed = _moved_away(sources, dest, inv, ctx)
    if dest.static() == "/dev/null":
        ctx.add("rm-system-path" if any(classify(s, ctx)[0] != "other" for s in sources) else "rm-cwd",
                "`%s` deletes %s" % (inv.line(), " ".join(s.text() for s in sources)))
    check_write_target(dest, ctx, inv.line(), keys=not renamed)


def copy_like(inv, cmd, ctx, depth):
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
        if inv.prog == "rsync" and "--remove-source-files" in flags:
            _moved_away(operands[:-1], dest, inv, ctx)
        if inv.prog == "rsync" and any(f.startswith("--delete") for f in flags):
            kind, shown = classify(dest, ctx)
            if kind in ("root", "system", "home"):
                ctx.add("rsync-delete", "`%s` deletes everything in %s that is not in the source" % (inv.line(), shown))


CHECKS = {
    "rm grm unlink": rm, "find gfind": find, "chmod chown chgrp": chmod, "mv": mv,
    "cp install rsync tee sed truncate ln": copy_like,
}
