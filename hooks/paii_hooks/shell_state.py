"""Builtins that change what later commands on the line see: ``cd``/``pushd``/``popd``, ``set --``
and ``shift`` (positional parameters), ``read`` and ``mapfile`` (from a here-string, a heredoc or
a pipe), ``declare``/``typeset``/``local``/``export``/``readonly`` (values, arrays, exports),
``unset``, ``alias``/``unalias``, ``printf -v``, and ``git checkout``/``git switch`` (the branch a
later push pushes)."""

from paii_hooks.expand import DEFAULT_IFS, array_values, assign_value, printf_format, resolve_static, split_ifs
from paii_hooks.paths import normalise
from paii_hooks.rules_git import track_checkout

DECLARES = frozenset({"declare", "typeset", "local", "export", "readonly"})


def track(inv, cmd, ctx):
    prog = inv.prog
    if prog in ("cd", "pushd", "popd"):
        _cd(inv, ctx)
    elif prog == "set":
        _set(inv, ctx)
    elif prog == "shift":
        argv = inv.argv()
        n = int(argv[0]) if argv and argv[0] and argv[0].isdigit() else 1
        if argv[:1] == [None]:
            ctx.scope.pos = None  # shift $((OPTIND - 1)): by how much is only known when it runs
        elif ctx.scope.pos is not None:
            ctx.scope.pos = ctx.scope.pos[n:]
    elif prog == "read":
        _read(inv, cmd, ctx)
    elif prog in ("mapfile", "readarray"):
        _mapfile(inv, cmd, ctx)
    elif prog in DECLARES:
        _declare(inv, ctx)
    elif prog == "unset":
        funcs = "-f" in inv.argv()
        for name in inv.argv():
            if name and not name.startswith("-"):
                if funcs:
                    ctx.scope.funcs.pop(name, None)
                else:
                    ctx.set_var(name, "")
    elif prog == "alias":
        for a in inv.argv():
            if a and "=" in a and not a.startswith("-"):
                name, value = a.split("=", 1)
                ctx.scope.aliases[name] = value
    elif prog == "unalias":
        argv = inv.argv()
        if "-a" in argv:
            ctx.scope.aliases.clear()
        for name in argv:
            ctx.scope.aliases.pop(name, None)
    elif prog == "printf":
        argv = inv.argv()
        if len(argv) >= 3 and argv[0] == "-v" and argv[1]:
            ctx.set_var(argv[1], printf_format(argv[2], argv[3:]) if None not in argv[2:] else None)
    elif prog == "git":
        track_checkout(inv, ctx)


def _cd(inv, ctx):
    argv = inv.argv()
    if inv.prog == "popd":
        ctx.cwd = None
        return
    target = next((a for a in argv if a is None or not a.startswith("-")), "~") if argv else "~"
    if target is None or target == "-":
        ctx.cwd = None
        return
    target = ctx.home + target[1:] if target.startswith("~") else target
    ctx.cwd = normalise(target) if target.startswith("/") else (normalise(ctx.cwd + "/" + target) if ctx.cwd else None)


def _set(inv, ctx):
    argv, i = inv.argv(), 0
    while i < len(argv):
        a = argv[i]
        if a in ("--", "-"):
            ctx.scope.pos, ctx.scope.pos_open = argv[i + 1:], False
            return
        if a in ("-o", "+o"):
            if i + 1 < len(argv) and argv[i + 1] == "allexport":
                ctx.scope.allexport = a == "-o"
            i += 2
            continue
        if a and a[0] in "-+" and len(a) > 1:
            if "a" in a[1:]:
                ctx.scope.allexport = a[0] == "-"
            i += 1
            continue
        ctx.scope.pos, ctx.scope.pos_open = argv[i:], False
        return


def _options(argv, with_value):
    """(short options with their values, the names after them) for read and mapfile."""
    opts, i = {}, 0
    while i < len(argv):
        a = argv[i]
        if a is None or not a.startswith("-") or a == "-":
            break
        if a == "--":
            i += 1
            break
        for j, ch in enumerate(a[1:], 1):
            if ch in with_value:
                value = a[j + 1:] or (argv[i + 1] if i + 1 < len(argv) else None)
                opts[ch] = value
                if not a[j + 1:]:
                    i += 1
                break
            opts[ch] = True
        i += 1
    return opts, argv[i:]


def _input(cmd, ctx, delim):
    src = ctx.stdin_of(cmd)
    if not src or src[0] != "text":
        return None
    return src[1]


def _read(inv, cmd, ctx):
    opts, names = _options(inv.argv(), "adinNptu")
    delim = opts.get("d", "\n")
    delim = "\0" if delim in ("", True) else delim[:1] if isinstance(delim, str) else "\n"
    text = _input(cmd, ctx, delim)
    array = opts.get("a") if isinstance(opts.get("a"), str) else None
    names = [n for n in names if n] or ([] if array else ["REPLY"])
    if text is None:
        if array:
            ctx.set_array(array, None)
        for n in names:
            ctx.set_var(n, None)
        return
    line = text.split(delim, 1)[0]
    if "r" not in opts:
        line = line.replace("\\\n", "").replace("\\", "")
    ifs = inv.env.get("IFS", ctx.vars.get("IFS", DEFAULT_IFS))
    fields = split_ifs(line, ifs)
    if array:
        ctx.set_array(array, fields)
        return
    for k, name in enumerate(names):
        if k == len(names) - 1:
            ctx.set_var(name, (ifs[:1] or " ").join(fields[k:]))
        else:
            ctx.set_var(name, fields[k] if k < len(fields) else "")


def _mapfile(inv, cmd, ctx):
    opts, names = _options(inv.argv(), "dnOsuCc")
    delim = opts.get("d", "\n")
    delim = "\0" if delim in ("", True) else delim[:1] if isinstance(delim, str) else "\n"
    name = next((n for n in names if n), "MAPFILE")
    text = _input(cmd, ctx, delim)
    if text is None:
        ctx.set_array(name, None)
        return
    pieces = text.split(delim)
    if pieces and pieces[-1] == "":
        pieces.pop()
    ctx.set_array(name, [p if "t" in opts else p + delim for p in pieces[:4096]])


def _declare(inv, ctx):
    flags = set()
    export = inv.prog == "export"
    for word in inv.args:
        text = word.static()
        if text is not None and text[:1] in "-+" and len(text) > 1 and "=" not in text:
            if text[0] == "-":
                flags.update(text[1:])
            elif "x" in text:
                export = False
            continue
        first = word.parts[0] if word.parts else None
        if first is None or first.kind != "lit" or "=" not in first.value:
            name = text
            if name and name.isidentifier() and (export or "x" in flags):
                ctx.scope.exported.add(name)
            elif name and name.isidentifier() and ("a" in flags or "A" in flags) and name not in ctx.scope.arrays:
                ctx.set_array(name, [])
            continue
        name = first.value.split("=", 1)[0].rstrip("+")
        if not name.isidentifier():
            continue
        if word.array is not None:
            ctx.set_array(name, array_values(word, ctx))
        else:
            value = resolve_static(assign_value(word), ctx)
            if value is not None and "l" in flags:
                value = value.lower()
            elif value is not None and "u" in flags:
                value = value.upper()
            ctx.set_var(name, value)
        if export or "x" in flags:
            ctx.scope.exported.add(name)
