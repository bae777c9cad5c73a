"""Rules for git: force pushes and deletions of protected branches (the branch pushed is read from
the repository, or from a ``git checkout`` earlier on the line), and commands that lose work or
rewrite history."""

import fnmatch
import os
import re

from paii_hooks.argv import operands_after, short_flag
from paii_hooks.paths import normalise, read_text

DEFAULT_PROTECTED = ("main", "master")


def repository(ctx, folder):
    """(the repository's folder, its HEAD file) for ``folder`` (walks up to .git; follows worktree
    gitdir files), or (None, None)."""
    key = ("repo", folder)
    if key in ctx.cache:
        return ctx.cache[key]
    found = (None, None)
    path = folder
    for _ in range(40):
        if not path:
            break
        dot = os.path.join(path, ".git")
        if os.path.isdir(dot):
            found = (path, os.path.join(dot, "HEAD"))
            break
        if os.path.isfile(dot):
            text = read_text(dot, ctx, 4096) or ""
            if text.startswith("gitdir:"):
                gitdir = text[7:].strip()
                found = (path, os.path.join(gitdir if gitdir.startswith("/") else os.path.join(path, gitdir), "HEAD"))
            break
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    ctx.cache[key] = found
    return found


def current_branch(ctx, folder):
    """The branch checked out in ``folder``: the one a ``git checkout``/``git switch`` earlier on the
    line switched to, else the repository's HEAD; None when it cannot be told."""
    root, head = repository(ctx, folder)
    where = root or folder
    if where in ctx.branches:
        return ctx.branches[where]
    text = read_text(head, ctx, 4096) or "" if head else ""
    return text[16:].strip() if text.startswith("ref: refs/heads/") else None


def track_checkout(inv, ctx):
    """``git checkout BRANCH`` / ``git switch [-c] BRANCH`` earlier on the line: the branch a later
    ``git push`` pushes is that one (``git checkout main && git push -f``)."""
    argv = inv.argv()
    folder, i = git_folder(argv, ctx)
    if i >= len(argv) or argv[i] not in ("checkout", "switch", "co", "sw"):
        return
    rest = argv[i + 1:]
    if "--" in rest:
        if rest[rest.index("--") + 1:]:
            return  # git checkout [BRANCH] -- FILE: files, no branch change
        rest = rest[:rest.index("--")]
    name, k = None, 0
    while k < len(rest):
        a = rest[k]
        if a in ("-b", "-B", "-c", "-C", "--create", "--force-create", "--orphan") and k + 1 < len(rest):
            name = rest[k + 1] or ""
            break
        if a is None or not a.startswith("-"):
            operands = [o for o in rest[k:] if o is None or not o.startswith("-")]
            if len(operands) > 1:
                return  # git checkout BRANCH FILE: files from a branch, no branch change
            name = a or ""
            break
        if a == "--detach":
            name = ""
            break
        k += 1
    if name is None:
        return
    root, _ = repository(ctx, folder)
    known = name and not re.search(r"[~^:]|^-$|^[0-9a-f]{7,40}$|^HEAD", name)
    ctx.branches[root or folder] = name if known else None


WHOLE_TREE = (".", "*", ":/", "./", ":(top)")


def _discards_tree(sub, rest):
    """git checkout -- . / git checkout -f / git restore . (not --staged alone): uncommitted work is lost."""
    flags = [a for a in rest if a and a.startswith("-")]
    paths = rest[rest.index("--") + 1:] if "--" in rest else [a for a in rest if a is None or not a.startswith("-")]
    if sub == "restore":
        if "--staged" in flags or "-S" in flags:
            if not ("--worktree" in flags or "-W" in flags):
                return False
        return any(p in WHOLE_TREE for p in paths)
    if "-f" in flags or "--force" in flags:
        return True
    return "--" in rest and any(p in WHOLE_TREE for p in paths) or rest[:1] == ["."]


def git_folder(argv, ctx):
    """(the folder git works in, the index of its subcommand), reading -C and skipping global options."""
    folder, i = ctx.cwd, 0
    while i < len(argv) and argv[i] is not None and argv[i].startswith("-"):
        if argv[i] == "-C" and i + 1 < len(argv) and argv[i + 1]:
            target = argv[i + 1]
            folder = normalise(target if target.startswith("/") else os.path.join(folder or "/", target))
            i += 2
        else:
            i += 2 if argv[i] in ("-c", "--git-dir", "--work-tree", "--namespace") else 1
    return folder, i


def protected(name, ctx):
    patterns = ctx.config.protected_branches if ctx.config else DEFAULT_PROTECTED
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def git(inv, cmd, ctx, depth):
    argv = inv.argv()
    folder, i = git_folder(argv, ctx)
    if i >= len(argv):
        return
    sub, rest = argv[i], argv[i + 1:]
    line = inv.line()
    if sub == "push":
        push(inv, rest, folder, ctx)
    elif sub == "reset" and "--hard" in rest:
        ctx.add("git-discard", "`%s` throws away every uncommitted change in the working tree" % line)
    elif sub == "clean":
        flags = [a for a in rest if a and a.startswith("-")]
        if (short_flag(flags, "f", ("--force",)) and not short_flag(flags, "n", ("--dry-run",))
                and short_flag(flags, "dxX")):
            ctx.add("git-discard", "`%s` deletes every untracked file and folder (never committed, so no copy)" % line)
    elif sub == "stash" and rest[:1] in (["clear"], ["drop"]):
        ctx.add("git-discard", "`%s` deletes %s" % (line, "every stash" if rest[0] == "clear" else "a stash"))
    elif sub in ("checkout", "co", "restore") and _discards_tree(sub, rest):
        ctx.add("git-discard", "`%s` throws away the uncommitted changes of the whole working tree" % line)
    elif sub == "branch" and (short_flag([a for a in rest if a and a.startswith("-") and not a.startswith("--")], "D")
                              or ("--force" in rest and ("-d" in rest or "--delete" in rest))):
        names = [a for a in rest if a and not a.startswith("-")]
        if any(protected(n, ctx) for n in names):
            ctx.add("git-discard", "`%s` deletes the branch %s, even with unmerged commits" % (line, ", ".join(names)))
    elif sub in ("filter-branch", "filter-repo"):
        ctx.add("git-rewrite", "`%s` rewrites the repository's whole history" % line)
    elif (sub == "reflog" and "expire" in rest and any(a and a.startswith("--expire") and a.endswith(("=now", "=all"))
                                                        for a in rest)) \
            or (sub == "gc" and any(a and a.startswith("--prune=now") for a in rest)):
        ctx.add("git-rewrite", "`%s` deletes unreachable commits for good (no way back with the reflog)" % line)


def push(inv, rest, folder, ctx):
    line = inv.line()
    flags = [a for a in rest if a and a.startswith("-")]
    ops = operands_after(rest, 0, ("--repo", "-o", "--push-option", "--receive-pack", "--exec"))
    force = short_flag([f for f in flags if not f.startswith("--")], "f") or "--force" in flags
    lease = any(f.startswith(("--force-with-lease", "--force-if-includes")) for f in flags)
    deleting = "-d" in flags or "--delete" in flags
    if "--mirror" in flags:
        ctx.add("git-force-push-main", "`%s` makes the remote an exact mirror: every branch on it, main included, "
                "is overwritten or deleted" % line)
        return
    targets = []
    for ref in ops[1:]:
        if ref is None:
            targets.append((None, False, False))
            continue
        plus = ref.startswith("+")
        src, colon, dst = ref.lstrip("+").partition(":")
        name = dst if colon else src
        if name == "HEAD" or (not colon and src == "HEAD"):
            name = current_branch(ctx, folder)
        if name:
            name = name.replace("refs/heads/", "", 1)
        targets.append((name, plus, deleting or (colon and not src)))
    if not ops[1:]:
        names = ["(every branch)"] if ("--all" in flags or "--branches" in flags) else [current_branch(ctx, folder)]
        targets = [(n, False, deleting) for n in names]
    for name, plus, removes in targets:
        shown = name or "the current branch"
        is_main = name == "(every branch)" or (name is not None and protected(name, ctx))
        if removes and is_main:
            ctx.add("git-delete-main", "`%s` deletes %s on the remote" % (line, shown))
        elif (force or plus) and is_main:
            ctx.add("git-force-push-main", "`%s` force-pushes %s: commits others pushed there are lost; push a branch "
                    "and open a pull request instead" % (line, shown))
        elif (force or plus) and name is None:
            ctx.add("git-force-push", "`%s` force-pushes a branch the guard cannot tell (it may be main)" % line)
        elif lease and is_main:
            ctx.add("git-force-push", "`%s` rewrites the history of %s on the remote" % (line, shown))


CHECKS = {"git": git}
