"""Reading a program's arguments: options and operands, option values, and a word as shell text."""


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


def short_flag(flags, letters, longs=()):
    """Whether any of ``letters`` is among the short options (``-rf``) or any of ``longs`` is given."""
    return any(f in longs or (f.startswith("-") and not f.startswith("--") and any(c in f[1:] for c in letters))
               for f in flags)


def operands_after(argv, start, with_value):
    """Positional arguments from ``start``, skipping options (and the values of ``with_value``)."""
    out, i = [], start
    while i < len(argv):
        a = argv[i]
        if a is not None and a.startswith("-") and a != "-":
            i += 2 if a in with_value else 1
            continue
        out.append(a)
        i += 1
    return out


def option_value(argv, names):
    """The value of ``--name VALUE`` / ``--name=VALUE`` / ``-nVALUE`` (the last one wins)."""
    found = None
    for k, a in enumerate(argv):
        if a is None:
            continue
        for n in names:
            if a == n and k + 1 < len(argv):
                found = argv[k + 1]
            elif n.startswith("--") and a.startswith(n + "="):
                found = a[len(n) + 1:]
            elif len(n) == 2 and not n.startswith("--") and a.startswith(n) and len(a) > 2 and not a.startswith("--"):
                found = a[2:]
    return found


def quote(word):
    """A word as shell text that parses back to the same word (run-time parts kept as they were)."""
    text = word.static()
    if text is None:
        return word.text()
    if text and all(c.isalnum() or c in "-_./=:,+%@{}" for c in text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"
