"""Words of the shell grammar: quoting (single, double, ``$'...'`` ANSI-C, backslashes) decoded
as bash does, and expansions (``$VAR``, ``${...}``, ``$(...)``, backticks, ``<(...)``,
``$((...))``) kept as parts, so a rule can tell ``rm -rf "$DIR"`` from ``rm -rf "$DIR/build"``.
:class:`WordReader` is the half of the parser that reads one word (shell.py has the other half).
"""

SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
                  "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}




class ParseError(ValueError):
    pass


class LimitError(ParseError):
    """Beyond what the guard reads (size, nesting, item count): never a reason to allow."""


class Part:
    """A piece of a word: ``lit`` (text; ``quoted`` says whether globs and ~ are literal),
    ``var`` (value = (name, operator, rest)), ``sub`` (value = list of Cmd; ``raw`` = its text),
    ``arith``."""

    __slots__ = ("kind", "value", "quoted", "raw")

    def __init__(self, kind, value, quoted=False, raw=""):
        self.kind, self.value, self.quoted, self.raw = kind, value, quoted, raw


class Word:
    """A shell word: its parts in order; ``array`` holds the values of ``NAME=(a b c)``."""

    __slots__ = ("parts", "array")

    def __init__(self, parts, array=None):
        self.parts = parts
        self.array = array

    def static(self):
        """The word's text when it has no run-time expansion, else None."""
        out = []
        for p in self.parts:
            if p.kind != "lit":
                return None
            out.append(p.value)
        return "".join(out)

    def text(self):
        """The word as a person would read it: literals decoded, expansions as $NAME / $(...)."""
        out = []
        for p in self.parts:
            if p.kind == "lit":
                out.append(p.value)
            elif p.kind == "var":
                simple = not (p.value[1] or p.value[2]) and (p.value[0].isidentifier() or len(p.value[0]) == 1)
                out.append("$" + p.value[0] if simple else "${%s%s%s}" % p.value)
            else:
                out.append(p.raw)
        return "".join(out)

    def subs(self):
        return [p for p in self.parts if p.kind == "sub"]

    def __repr__(self):
        return "Word(%r)" % self.text()


def lit_word(text):
    return Word([Part("lit", text, True)])


class Cmd:
    """A simple command: assignments, words, redirections, where its stdin comes from."""

    __slots__ = ("words", "assigns", "redirs", "stdin", "pipe_from", "data", "origin", "background")

    def __init__(self, origin):
        self.words, self.assigns, self.redirs = [], [], []
        self.stdin = None  # ("text", Word) heredoc/here-string, ("file", Word) for "< file"
        self.pipe_from = None  # the Cmd or Node before "|"
        self.data = False  # [[ ... ]]: words that are tested, not run
        self.origin = origin
        self.background = False  # followed by "&"

    def __repr__(self):
        return "Cmd(%s)" % " ".join(w.text() for w in self.words)


class Node:
    """A compound command. ``kind``: group ``{ }``, subshell ``( )``, subst (the commands of a
    ``$(...)``), for / select (``var`` over ``words``; None: the positional parameters),
    arith-for, while / until (``cond`` then ``body``), if and case (every branch in ``body``,
    in order), func (``name``; ``body`` is the function's compound command)."""

    __slots__ = ("kind", "body", "cond", "var", "words", "name", "redirs", "stdin", "pipe_from", "background")

    def __init__(self, kind, body=(), cond=(), var=None, words=None, name=None):
        self.kind, self.body, self.cond = kind, list(body), list(cond)
        self.var, self.words, self.name = var, words, name
        self.redirs, self.stdin, self.pipe_from, self.background = [], None, None, False

    def __repr__(self):
        return "Node(%s%s)" % (self.kind, " " + self.name if self.name else "")


def split_parameter(body):
    """``${...}``'s inside -> (name, rest): ``#x`` and ``!x`` keep their prefix, ``a[@]`` its subscript."""
    n, k = len(body), 0
    if n > 1 and body[0] in "#!" and (body[1].isalnum() or body[1] in "_@*"):
        k = 1
    if k < n and (body[k].isalpha() or body[k] == "_"):
        while k < n and (body[k].isalnum() or body[k] == "_"):
            k += 1
    elif k < n and body[k].isdigit():
        while k < n and body[k].isdigit():
            k += 1
    elif k < n and body[k] in "#!@*?$-":
        k += 1
    if k < n and body[k] == "[":
        end = body.find("]", k)
        if end > 0:
            k = end + 1
    return body[:k], body[k:]


def ansi_c(body):
    """Decode the inside of $'...' as bash does."""
    out, i, n = [], 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        i += 2
        if e in SIMPLE_ESCAPES:
            out.append(SIMPLE_ESCAPES[e])
        elif e in "01234567":
            j = i - 1
            while j < n and j < i + 2 and body[j] in "01234567":
                j += 1
            out.append(chr(int(body[i - 1:j], 8) & 0xFF))
            i = j
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            j = i
            while j < n and j < i + size and body[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i:
                out.append("\\" + e)
            else:
                try:
                    out.append(chr(int(body[i:j], 16)))
                except (ValueError, OverflowError):
                    pass
                i = j
        elif e == "c" and i < n:
            out.append(chr(ord(body[i]) & 0x1F))
            i += 1
        else:
            out.append("\\" + e)
    return "".join(out)
