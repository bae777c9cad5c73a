"""Script files: what a line writes to files, and the text of a script run by its name.

A shell or an interpreter given a file (``bash x.sh``, ``sh ./x.sh``, ``source x.sh``, ``. x.sh``,
``python3 x.py``) runs that file's text, so the guard reads it as it reads ``bash -c`` text (or
inline code, for an interpreter). Files written earlier on the same line are tracked with what
they will hold (``echo ... > x.sh``, ``printf``, a heredoc through ``cat > x.sh``, ``tee``,
``>>``, ``cp``/``mv``): the text when it is known, else where it comes from (``curl -o x.sh``,
``curl ... > x.sh``: the network; ``base64 -d > x.sh``: a decoder; ``./gen.sh > x.sh``: a program
the guard cannot see). Such a file is also followed when it is run directly (``./x.sh``), and so
is a script of the person's own run by a relative path (``./deploy.sh``, ``tools/wipe.sh``; a
compiled program is not read).
A script not written on the line is read from disk (relative to the command's folder), at most
256 KB; a missing file runs nothing. A script on disk is the person's own program, like any
other on their PATH: it is read to catch the concrete commands in it (an ``rm -rf ~``, a
``git reset --hard``, a ``curl | sh``), not questioned for what the guard cannot see in it (an
``eval "$VAR"``, a command computed at run time, a size over the limit), which real scripts are
full of. Those questions stay for files written on the same line, where they are the point.
"""

import os
import re

from paii_hooks.sources import file_key, producer, run_source, stdin_source
from paii_hooks.unwrap import INTERPRETER_RE, SHELLS

MAX_SCRIPT = 256 * 1024
#: findings about what the guard cannot see: kept for a file written on the line, not for one on disk
UNSEEN = frozenset({"computed-command", "computed-script", "hidden-script"})
#: what a file holds, worst last: a file built from several sources keeps the worst one
SEVERITY = {"text": 0, "trusted": 0, "unknown": 1, "decoded": 2, "network": 3}
NOT_FILES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "-"})
SHEBANG = re.compile(r"#!\s*\S*?(?:/env\s+(?:-\S+\s+)*)?(?:\S*/)?(python|pypy|perl|ruby|node|php)")
DOWNLOAD_FLAGS = {"curl": ({"-o", "--output"}, {"-O", "--remote-name"}),
                  "wget": ({"-O", "--output-document"}, set())}
#: short options that take a value, so a cluster such as curl's -fsSLo or wget's -qO ends there
SHORT_VALUE = {"curl": set("AbcCdDeEFHKmoPQrTuUwxXyYz"), "wget": set("aABdDeiIlOoPQRtTUwX")}


# --- what the line writes ----------------------------------------------------------------------


def note_writes(cmd, inv, ctx):
    """Remember what this command writes to files: its ``>``/``>>`` redirections, and for tee,
    cp, mv, curl and wget the files they write."""
    printed = None
    for op, target in cmd.redirs:
        if op in (">", ">|", "&>", ">>", "&>>"):
            path = target.static()
            if path and path not in NOT_FILES:
                printed = printed or producer(cmd, ctx)
                _write(path, printed, op.endswith(">>"), ctx)
    if inv is None or inv.kind != "run":
        return
    argv, line = inv.argv(), inv.line()
    if inv.prog == "tee":
        src = stdin_source(cmd, ctx) or ("unknown", "the terminal")
        append = any(a in ("-a", "--append") for a in argv if a)
        for a in argv:
            if a and not a.startswith("-") and a not in NOT_FILES:
                _write(a, src, append, ctx)
    elif inv.prog in ("cp", "mv") and len(argv) == 2 and None not in argv and not any(a.startswith("-") for a in argv):
        src, dest = argv
        if os.path.isdir(_disk_path(file_key(dest, ctx)) or "\0"):
            dest = dest.rstrip("/") + "/" + src.rstrip("/").rsplit("/", 1)[-1]
        _write(dest, script_source(src, ctx)[:2], False, ctx)
        if inv.prog == "mv":
            ctx.files[file_key(src, ctx)] = ("missing", src)
    elif inv.prog in DOWNLOAD_FLAGS:
        for path in _downloads(inv.prog, argv):
            _write(path, ("network", line), False, ctx)


def _downloads(prog, argv):
    """The files ``curl -o F`` / ``curl -O URL`` / ``wget URL`` / ``wget -O F`` write."""
    to_file, remote_name = DOWNLOAD_FLAGS[prog]
    urls = [a for a in argv if a and "://" in a and not a.startswith("-")]
    out, named = [], False
    for k, a in enumerate(argv):
        if a is None:
            continue
        value = None
        if a in to_file and k + 1 < len(argv):
            value = argv[k + 1]
        elif a.startswith("--") and a.split("=", 1)[0] in to_file and "=" in a:
            value = a.split("=", 1)[1]
        elif re.fullmatch(r"-[A-Za-z]{2,}", a):  # a cluster of short options: -fsSLO, -fsSLo FILE, -qO-
            for j, c in enumerate(a[1:], 1):
                if "-" + c in remote_name:
                    named = True
                    out.extend(_url_name(u) for u in urls[:1])
                if c in SHORT_VALUE[prog]:
                    if "-" + c in to_file:
                        value = a[j + 1:] or (argv[k + 1] if k + 1 < len(argv) else None)
                    break
        elif len(a) > 2 and a[:2] in to_file and not a.startswith("--"):
            value = a[2:]
        if value is not None:
            named = True
            if value not in NOT_FILES:
                out.append(value)
        elif a in remote_name:
            named = True
            out.extend(_url_name(u) for u in urls[:1])
    if prog == "wget" and not named:  # wget saves under the URL's name by default
        out.extend(_url_name(u) for u in urls)
    return [p for p in out if p]


def _url_name(url):
    path = url.split("://", 1)[1].split("?", 1)[0].split("#", 1)[0]
    return path.rsplit("/", 1)[-1] if "/" in path else "index.html"


def _write(path, src, append, ctx):
    key = file_key(path, ctx)
    if append:
        before = ctx.files.get(key) or script_source(path, ctx)[:2]
        src = _join(("text", "") if before[0] == "missing" else before, src)
    if src[0] in ("missing", "unreadable", "too-big"):
        src = ("unknown", src[1])
    ctx.files[key] = src


def _join(a, b):
    if a[0] == b[0] == "text":
        text = a[1] + b[1]
        return ("text", text) if len(text) <= MAX_SCRIPT else ("unknown", "more text than the guard reads")
    return a if SEVERITY.get(a[0], 1) >= SEVERITY.get(b[0], 1) else b


# --- what a script file holds -------------------------------------------------------------------


def _disk_path(key):
    return None if key.startswith("?:") else key


def script_source(path, ctx):
    """(kind, text or what, from_disk): ``text`` (the file's text), ``network``/``decoded``/``unknown``
    (written on this line from a source the guard cannot read), ``missing``, ``unreadable``,
    ``too-big``."""
    key = file_key(path, ctx)
    if key in ctx.files:
        kind, what = ctx.files[key]
        return kind, what, False
    disk = _disk_path(key)
    if disk is None:
        return "unreadable", "the folder it is in is only known when the command runs", True
    try:
        with open(disk, "rb") as fh:
            data = fh.read(MAX_SCRIPT + 1)
    except (FileNotFoundError, NotADirectoryError):
        return "missing", path, True
    except OSError as exc:
        return "unreadable", exc.strerror or type(exc).__name__, True
    if len(data) > MAX_SCRIPT:
        return "too-big", path, True
    if b"\0" in data[:4096]:
        return "binary", path, True  # a compiled program: nothing to read
    return "text", data.decode("utf-8", "replace"), True


# --- running one ------------------------------------------------------------------------------


def run_file(inv, ctx, depth, path=None, args=None):
    """A shell or an interpreter (``inv``) runs the script file ``path`` (default: ``inv.code``) with
    ``args`` as its positional parameters."""
    path = path or inv.code.static()
    if not path:
        return  # only known when it runs, as any other argument
    kind, what, from_disk = script_source(path, ctx)
    runner = inv.prog if inv.kind != "run" else path
    if kind in ("missing", "binary"):
        return  # nothing runs, or nothing the guard can read
    before = len(ctx.findings)
    if from_disk and kind == "too-big":
        return  # the person's own large script (./configure): what is in it cannot be seen, as for a binary
    _run(inv, ctx, depth, path, kind, what, from_disk, runner, args or [])
    if from_disk:  # keep what the script does, not what the guard cannot see in it
        ctx.findings[before:] = [f for f in ctx.findings[before:] if f[0] not in UNSEEN]
    for k in range(before, len(ctx.findings)):  # say where the command is: the person sees `bash x.sh`
        rule, reason = ctx.findings[k]
        ctx.findings[k] = (rule, "%s (in the script %s)" % (reason, path))


def _run(inv, ctx, depth, path, kind, what, from_disk, runner, args):
    if kind == "too-big":
        ctx.add("hidden-script", "%s runs the script %s, which is larger than the %d KB the guard reads, so it "
                "cannot be checked" % (runner, path, MAX_SCRIPT // 1024))
    elif kind == "unreadable":
        _unreadable(inv, path, what, ctx)
    elif kind == "text":
        key = file_key(path, ctx)
        if from_disk:
            if key in ctx.scripts_read:
                return  # the same file again (sourced twice, or by itself): read once
            ctx.scripts_read.add(key)
        lang = inv.lang if inv.kind != "run" else shebang_lang(what)
        where = runner + " " + path if inv.kind != "run" else path
        if lang:
            from paii_hooks import code_rules

            code_rules.check_code(lang, what, ctx, depth + 1, limit=MAX_SCRIPT)
            return
        pos = [a.static() for a in args]
        if inv.kind != "run" and inv.prog in ("source", "."):  # the same shell: its cd and variables stay
            saved = ctx.scope.pos, ctx.scope.pos_open
            if args:
                ctx.scope.pos, ctx.scope.pos_open = pos, from_disk
            try:
                ctx.walker.analyse(what, ctx, depth + 1, [where], limit=MAX_SCRIPT)
            finally:
                if args:
                    ctx.scope.pos, ctx.scope.pos_open = saved
        else:  # a new shell: $0 is the script, its cd and variables stay inside it
            ctx.walker.analyse_child(what, ctx, depth + 1, [where], env=inv.env, pos=pos, zero=path,
                                     pos_open=from_disk, limit=MAX_SCRIPT)
    else:
        run_source((kind, what), runner, ctx, depth, inv.lang, inv.via)


def _unreadable(inv, path, why, ctx):
    """Like a command that does not parse: a question only when the command holds a dangerous
    word (``sudo bash x.sh``); shells and interpreters, which only run the script, do not count."""

    text = " ".join(inv.via + [a.text() for a in inv.args])
    words = [w for w in ctx.walker.risky_words(text) if w.lower() not in SHELLS and not INTERPRETER_RE.match(w.lower())]
    if words:
        ctx.add("unreadable", "the guard could not read the script %s (%s) and the command contains %s"
                % (path, why, ", ".join("'%s'" % w for w in words[:4])))


def shebang_lang(text):
    """The interpreter a file run directly starts, from its ``#!`` line ("" for a shell)."""
    if not text.startswith("#!"):
        return ""
    m = SHEBANG.match(text.split("\n", 1)[0])
    return m.group(1).replace("pypy", "python") if m else ""


def runs_script_by_path(inv, ctx):
    """Is this a program started by its path that the line wrote (``./x.sh``, ``/tmp/a``), or one of
    the person's own scripts by a relative path (``./deploy.sh``, ``tools/wipe.sh``)? Absolute
    paths not written on the line are installed programs, not read."""
    path = inv.path
    if not path or "/" not in path:
        return False
    return file_key(path, ctx) in ctx.files or not path.startswith(("/", "~"))
