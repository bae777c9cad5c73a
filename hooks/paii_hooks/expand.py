"""What is known about a word before the line runs: variables assigned earlier on the line
(``X=rm; $X -rf /``), plain ``$(...)`` output (``$(echo rm)``, ``$(which rm)``, ``$(mktemp)``),
word splitting of unquoted expansions and brace expansion (``{rm,-rf,/}``)."""

import re

from paii_hooks.paths import BRACE
from paii_hooks.shell import Part, Word, ansi_c

MAX_VALUE = 64 * 1024  # a variable's value the guard keeps (longer: unknown)


def static_output(cmds, ctx):
    """What a $(...) prints when that is plain: echo/printf of literals, which/command -v NAME,
    dirname/basename, mktemp."""
    if len(cmds) != 1 or cmds[0].pipe_from or cmds[0].stdin:
        return None
    words = [resolve_static(w, ctx) for w in cmds[0].words]
    if not words or None in words:
        return None
    prog, args = words[0].rsplit("/", 1)[-1], words[1:]
    if prog == "echo":
        flags = []
        while args and re.fullmatch(r"-[neE]+", args[0]):
            flags.append(args.pop(0))
        out = " ".join(args)
        return ansi_c(out) if any("e" in f for f in flags) else out
    if prog == "printf" and args:
        fmt = ansi_c(args[0])
        values = iter(args[1:])
        return re.sub(r"%[-+ #0]*\d*(\.\d+)?[sdbqc]", lambda m: next(values, ""), fmt).replace("%%", "%")
    if prog in ("dirname", "basename") and len(args) == 1 and not args[0].startswith("-"):
        path = args[0].rstrip("/") or "/"
        if prog == "basename":
            return path.rsplit("/", 1)[-1]
        return "/" if path == "/" else (path.rsplit("/", 1)[0] or "/") if "/" in path else "."
    if prog == "mktemp":
        return "/tmp/tmp.paii-guard" if "-p" not in args and "--tmpdir" not in args else None
    if prog in ("which", "realpath", "readlink") or (prog in ("command", "type") and args[:1] in (["-v"], ["-P"])):
        names = [a for a in args if not a.startswith("-")]
        return names[0] if names else None
    return None


def resolve_static(word, ctx):
    return resolve(word, ctx, split=False)[0].static()


def resolve(word, ctx, split=True):
    """The word with what is already known filled in. Unquoted expansions are split into words
    (as bash splits on IFS) and unquoted {a,b} braces expanded, when ``split``."""
    parts, changed = [], False
    for p in word.parts:
        value = None
        if p.kind == "var":
            name, op, rest = p.value
            value = ctx.vars.get(name)
            if value is None and op in (":-", "-") and "$" not in rest and "`" not in rest:
                value = rest
            if op not in ("", ":-", "-", ":?", "?", ":=", "="):
                value = None
        elif p.kind == "sub" and p.raw.startswith(("$(", "`")):
            value = static_output(p.value, ctx)
        if value is None or len(value) > MAX_VALUE:
            parts.append(p)
        else:
            parts.append(Part("lit", value, True, "split" if not p.quoted else ""))
            changed = True
    if not split:
        return [Word(parts)] if changed else [word]
    words, current = [], []
    for p in parts:
        if p.kind == "lit" and p.raw == "split":
            pieces = re.split(r"[ \t\n]+", p.value)
            for k, piece in enumerate(pieces):
                if k:
                    words.append(current)
                    current = []
                if piece:
                    current.append(Part("lit", piece, True))
        else:
            current.append(p)
    words.append(current)
    out = []
    for w in words:
        if not w:
            continue
        out.extend(_braces(Word(w)))
    return out or [Word([])]


def _braces(word):
    """``{rm,-rf,/}`` -> rm -rf / (bash expands unquoted braces before running anything)."""
    if not any(p.kind == "lit" and not p.quoted and "{" in p.value and "," in p.value for p in word.parts):
        return [word]
    text = word.static()
    if text is None or not BRACE.search(text):
        return [word]
    from paii_hooks.paths import expand_braces

    return [Word([Part("lit", t, True)]) for t in expand_braces(text)]


def assign_value(word):
    first = word.parts[0]
    return Word([Part("lit", first.value.split("=", 1)[1], first.quoted)] + word.parts[1:])
