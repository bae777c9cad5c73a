"""What is known about a word before the line runs: variables, arrays and positional parameters
set earlier on the line (``X=rm; $X -rf /``, ``a=(rm -rf /); "${a[@]}"``, ``set -- /; "$1"``),
the parameter operators bash applies (``${X:-d}``, ``${X%x}``, ``${#a[@]}``, ``${!ref}``...),
plain ``$(...)`` output (``$(echo rm)``, ``$(which rm)``, ``$(pwd)``), word splitting on ``$IFS``
and brace expansion (``{rm,-rf,/}``). What is only known at run time stays an expansion."""

import fnmatch
import re

from paii_hooks.paths import BRACE, expand_braces, normalise
from paii_hooks.shell import Cmd, Part, Word, ansi_c

MAX_VALUE = 64 * 1024  # a variable's value the guard keeps (longer: unknown)
MAX_FIELDS = 256
DEFAULT_IFS = " \t\n"


# --- $(...) whose output is plain ----------------------------------------------------------------


def printf_format(fmt, args):
    """printf's output for the common conversions (the format is reused while arguments remain)."""
    fmt = ansi_c(fmt)
    conv = re.compile(r"%%|%[-+ #0]*\d*(?:\.\d+)?[sdiqcbxXou]")
    if not args or not conv.search(fmt.replace("%%", "")):
        return fmt.replace("%%", "%")
    out, values = [], list(args)
    for _ in range(64):
        def one(m):
            if m.group(0) == "%%":
                return "%"
            value = values.pop(0) if values else ""
            return ansi_c(value) if m.group(0).endswith("b") else value
        out.append(conv.sub(one, fmt))
        if not values:
            break
    return "".join(out)


def static_output(items, ctx):
    """What a $(...) prints when that is plain: echo/printf of literals, which/command -v NAME,
    dirname/basename, realpath, pwd, mktemp."""
    if len(items) != 1 or not isinstance(items[0], Cmd) or items[0].pipe_from or items[0].stdin:
        return None
    words = [resolve_static(w, ctx) for w in items[0].words]
    if not words or None in words:
        return None
    prog, args = words[0].rsplit("/", 1)[-1], words[1:]
    if prog == "echo":
        flags = []
        while args and re.fullmatch(r"-[neE]+", args[0]):
            flags.append(args.pop(0))
        out = " ".join(args)
        return ansi_c(out) if any("e" in f for f in flags) else out
    if prog == "printf" and args and args[0] != "-v":
        return printf_format(args[0], args[1:])
    if prog in ("dirname", "basename") and len(args) == 1 and not args[0].startswith("-"):
        path = args[0].rstrip("/") or "/"
        if prog == "basename":
            return path.rsplit("/", 1)[-1]
        return "/" if path == "/" else (path.rsplit("/", 1)[0] or "/") if "/" in path else "."
    if prog == "pwd" and not args:
        return ctx.cwd
    if prog == "mktemp":
        if "-p" in args or "--tmpdir" in args or any(a.startswith("--tmpdir=") for a in args):
            return None
        return "/tmp/tmp.paii-guard"
    if prog in ("realpath", "readlink") and (prog == "realpath" or "-f" in args or "-e" in args or "-m" in args):
        names = [a for a in args if not a.startswith("-")]
        if len(names) == 1:
            name = ctx.home + names[0][1:] if names[0] == "~" or names[0].startswith("~/") else names[0]
            if name.startswith("/"):
                return normalise(name)
            return normalise(ctx.cwd + "/" + name) if ctx.cwd else None
        return None
    if prog == "which" or (prog in ("command", "type") and args[:1] in (["-v"], ["-P"])):
        names = [a for a in args if not a.startswith("-")]
        return names[0] if names else None
    return None


# --- parameters ----------------------------------------------------------------------------------


def _index(text, size):
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        k = int(text)
        return k + size if k < 0 else k
    return None


def parameter(name, ctx):
    """("one", str) / ("many", [str]) for "$@"-like lists / ("star", [str]) for "$*"-like ones /
    None when only known at run time."""
    s = ctx.scope
    if name.startswith("#") and len(name) > 1:  # ${#x}, ${#a[@]}
        inner = parameter(name[1:], ctx)
        if inner is None:
            return None
        return ("one", str(len(inner[1]))) if inner[0] != "one" else ("one", str(len(inner[1])))
    if name.startswith("!") and len(name) > 1:  # ${!ref}: the variable ref names
        ref = s.vars.get(name[1:])
        return parameter(ref, ctx) if ref and re.fullmatch(r"[A-Za-z_]\w*", ref) else None
    if name in ("@", "*"):
        if s.pos is None or s.pos_open or None in s.pos:
            return None
        return ("many" if name == "@" else "star", list(s.pos))
    if name == "#":
        return None if s.pos is None or s.pos_open else ("one", str(len(s.pos)))
    if name.isdigit():
        if name == "0":
            return ("one", s.vars["0"]) if "0" in s.vars else None
        k = int(name) - 1
        if s.pos is None or (k >= len(s.pos) and s.pos_open):
            return None
        value = s.pos[k] if k < len(s.pos) else ""
        return None if value is None else ("one", value)
    if "[" in name:
        base, sub = name[:-1].split("[", 1)
        values = s.arrays.get(base)
        if values is None:
            values = [s.vars[base]] if base in s.vars else None
        if values is None or None in values:
            return None
        if sub in ("@", "*"):
            return ("many" if sub == "@" else "star", list(values))
        k = _index(sub, len(values))
        if k is None:
            return None
        return ("one", values[k] if 0 <= k < len(values) else "")
    if name in s.vars:
        return ("one", s.vars[name])
    if name in s.arrays and s.arrays[name] and s.arrays[name][0] is not None:
        return ("one", s.arrays[name][0])
    return None


def _glob_re(pattern, greedy, anchor):
    body = fnmatch.translate(pattern)[4:-3]  # (?s:...)\Z
    if not greedy:
        body = body.replace(".*", ".*?")
    return re.compile(("^" if anchor == "start" else "") + "(?s:" + body + ")" + ("$" if anchor == "end" else ""))


def apply_operator(value, op, rest, ctx):
    """The value of ``${x<op><rest>}`` given x's (known) value; None when it cannot be told."""
    if op in ("", ":-", "-", ":=", "=", ":?", "?"):
        return value
    if op == ":+":
        return resolve_text(rest, ctx) if value else ""
    if op == "+":
        return resolve_text(rest, ctx)
    pattern = resolve_text(rest, ctx) if op not in ("^^", "^", ",,", ",", ":") else rest
    if pattern is None:
        return None
    if op in ("#", "##"):
        m = None
        for k in (range(len(value) + 1) if op == "#" else range(len(value), -1, -1)):
            if fnmatch.fnmatchcase(value[:k], pattern):
                m = k
                break
        return value[m:] if m is not None else value
    if op in ("%", "%%"):
        for k in (range(len(value), -1, -1) if op == "%" else range(len(value) + 1)):
            if fnmatch.fnmatchcase(value[k:], pattern):
                return value[:k]
        return value
    if op in ("/", "//"):
        pat, _, rep = pattern.partition("/")
        anchor = "start" if pat.startswith("#") else "end" if pat.startswith("%") else None
        pat = pat[1:] if anchor else pat
        if not pat:
            return value
        regex = _glob_re(pat, True, anchor)
        return regex.sub(lambda m: rep, value, count=0 if op == "//" else 1)
    if op in ("^^", ",,", "^", ","):
        if op == "^^":
            return value.upper()
        if op == ",,":
            return value.lower()
        return (value[:1].upper() if op == "^" else value[:1].lower()) + value[1:]
    if op == ":":
        parts = rest.split(":", 1)
        start = _index(parts[0] or "0", len(value))
        length = _index(parts[1], len(value) - (start or 0)) if len(parts) > 1 else None
        if start is None or (len(parts) > 1 and length is None):
            return None
        return value[start:] if length is None else value[start:start + length]
    return None


def resolve_text(text, ctx):
    """A ``${x:-text}`` operand's value, or None when it holds something only known at run time."""
    if "$" not in text and "`" not in text and "\\" not in text and "'" not in text and '"' not in text:
        return text
    m = re.fullmatch(r"\$\{?([A-Za-z_]\w*)\}?", text)
    if m:
        found = parameter(m.group(1), ctx)
        return found[1] if found and found[0] == "one" else None
    return None


def part_value(p, ctx):
    """A var or $(...) part's value as ("one"|"many"|"star", ...), or None."""
    if p.kind == "sub":
        if not p.raw.startswith(("$(", "`")):
            return None
        out = static_output(p.value, ctx)
        return ("one", out.rstrip("\n")) if out is not None else None
    if p.kind != "var":
        return None
    name, op, rest = p.value
    found = parameter(name, ctx)
    if found is None:
        if op in (":-", "-", ":=", "="):
            default = resolve_text(rest, ctx)
            if op in (":=", "=") and re.fullmatch(r"[A-Za-z_]\w*", name):
                ctx.set_var(name, default)  # ${X:=d} assigns X
            return ("one", default) if default is not None else None
        return None
    kind, value = found
    if kind != "one":
        if op in ("", ":-", "-", ":=", "=", ":?", "?"):
            return found
        values = [apply_operator(v, op, rest, ctx) for v in value]
        return None if None in values else (kind, values)
    if op in (":-", ":=") and value == "":
        default = resolve_text(rest, ctx)
        if op == ":=" and re.fullmatch(r"[A-Za-z_]\w*", name):
            ctx.set_var(name, default)
        return ("one", default) if default is not None else None
    value = apply_operator(value, op, rest, ctx)
    return None if value is None else ("one", value)


# --- words ------------------------------------------------------------------------------------------


def split_ifs(value, ifs):
    """Fields of an unquoted expansion's value, as bash splits them on $IFS."""
    if ifs == "":
        return [value] if value else []
    white = "".join(c for c in ifs if c in " \t\n")
    other = [c for c in ifs if c not in " \t\n"]
    fields, cur, i, n = [], [], 0, len(value)
    value = value.strip(white) if white else value
    n = len(value)
    while i < n:
        c = value[i]
        if c in other or c in white:
            j = i
            while j < n and value[j] in white:
                j += 1
            if j < n and value[j] in other and (c in white):
                j += 1
                while j < n and value[j] in white:
                    j += 1
            elif c in other:
                j = i + 1
                while j < n and value[j] in white:
                    j += 1
            fields.append("".join(cur))
            cur = []
            i = j
            continue
        cur.append(c)
        i += 1
    if cur or (n and value[-1] not in white and value[-1] not in other):
        fields.append("".join(cur))
    return fields


def tilde(text, ctx):
    """``~``, ``~/x``, ``~user/x`` as bash expands them at the start of an unquoted word."""
    user, sep, rest = text[1:].partition("/")
    if not user:
        base = ctx.vars.get("HOME", ctx.home)
    elif re.fullmatch(r"[a-z_][\w.-]*", user):
        base = "/root" if user == "root" else "/home/" + user
    else:
        return None
    return base + sep + rest


def resolve(word, ctx, split=True):
    """The words a word becomes, with what is already known filled in: unquoted expansions are
    split on $IFS, ``"$@"`` and ``"${a[@]}"`` become one word per value, and unquoted {a,b}
    braces are expanded (when ``split``)."""
    ifs = ctx.vars.get("IFS", DEFAULT_IFS)
    fields = [[]]
    changed = False
    parts = word.parts
    if parts and parts[0].kind == "lit" and not parts[0].quoted and parts[0].value.startswith("~"):
        home = tilde(parts[0].value, ctx)
        if home is not None:
            parts = [Part("lit", home, True)] + parts[1:]
            changed = True
    for p in parts:
        value = part_value(p, ctx) if p.kind in ("var", "sub") else None
        if value is None:
            fields[-1].append(p)
            continue
        kind, val = value
        if kind == "star" or (kind == "many" and not split):
            sep = ifs[:1] if kind == "star" else " "
            kind, val = "one", sep.join(val)
        if kind == "one" and len(val) > MAX_VALUE:
            fields[-1].append(p)
            continue
        changed = True
        if kind == "one":
            if p.quoted or not split:
                fields[-1].append(Part("lit", val, True))
            else:
                _add_split(fields, val, ifs)
            continue
        # "many": "$@" / "${a[@]}"
        for k, v in enumerate(val[:MAX_FIELDS]):
            if p.quoted:
                if k:
                    fields.append([])
                fields[-1].append(Part("lit", v, True))
            else:
                if k:
                    fields.append([])
                _add_split(fields, v, ifs)
    if not changed:
        return [word] if not split or not _has_braces(word) else _braces(word)
    out = []
    for f in fields:
        if not f:
            continue
        w = Word(f)
        out.extend(_braces(w) if split else [w])
    return out or ([Word([])] if not split else [])


def _add_split(fields, value, ifs):
    pieces = split_ifs(value, ifs)
    starts_sep = bool(value) and value[0] in ifs
    ends_sep = bool(value) and value[-1] in ifs
    if starts_sep and fields[-1]:
        fields.append([])
    for k, piece in enumerate(pieces):
        if k:
            fields.append([])
        fields[-1].append(Part("lit", piece, True))
    if ends_sep and fields[-1]:
        fields.append([])


def resolve_static(word, ctx):
    """The word's text when all of it is known before the line runs, else None."""
    words = resolve(word, ctx, split=False)
    return words[0].static() if words else ""


def _has_braces(word):
    return any(p.kind == "lit" and not p.quoted and "{" in p.value and "," in p.value for p in word.parts)


def _braces(word):
    """``{rm,-rf,/}`` -> rm -rf / (bash expands unquoted braces before running anything)."""
    if not _has_braces(word):
        return [word]
    text = word.static()
    if text is None or not BRACE.search(text):
        return [word]
    return [Word([Part("lit", t, True)]) for t in expand_braces(text)]


def assign_value(word):
    """The value part of ``NAME=value`` as a Word."""
    first = word.parts[0]
    return Word([Part("lit", first.value.split("=", 1)[1], first.quoted)] + word.parts[1:])


def array_values(word, ctx, current=None):
    """The values of ``NAME=(a b c)`` (``[k]=v`` entries placed at k), or None for an unknown one."""
    out = list(current or [])
    k = len(out)
    for w in word.array:
        first = w.parts[0] if w.parts else None
        m = re.match(r"\[(\d+)\]=", first.value) if first is not None and first.kind == "lit" and not first.quoted else None
        if m:
            k = int(m.group(1))
            w = Word([Part("lit", first.value[m.end():], False)] + w.parts[1:])
        for v in resolve(w, ctx):
            text = v.static()
            if k > 4096:
                return None
            while len(out) <= k:
                out.append("")
            out[k] = text
            k += 1
    return out
