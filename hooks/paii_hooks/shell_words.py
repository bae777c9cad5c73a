"""Words of the shell grammar: quoting (single, double, ``$'...'`` ANSI-C, backslashes) decoded
as bash does, and expansions (``$VAR``, ``${...}``, ``$(...)``, backticks, ``<(...)``,
``$((...))``) kept as parts, so a rule can tell ``rm -rf "$DIR"`` from ``rm -rf "$DIR/build"``.
:class:`WordReader` is the half of the parser that reads one word (shell.py has the other half).
"""

OPERATOR_CHARS = " \t\n;&|()<>"
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
    __slots__ = ("parts",)

    def __init__(self, parts):
        self.parts = parts

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
                out.append("$" + p.value[0] if not (p.value[1] or p.value[2]) else "${%s%s%s}" % p.value)
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

    __slots__ = ("words", "assigns", "redirs", "stdin", "pipe_from", "data", "origin")

    def __init__(self, origin):
        self.words, self.assigns, self.redirs = [], [], []
        self.stdin = None  # ("text", str) heredoc/here-string, ("file", Word) for "< file"
        self.pipe_from = None  # the Cmd before "|", or "group" for a subshell/brace group
        self.data = False  # for/case/[[ headers: words that are not run as a command
        self.origin = origin

    def __repr__(self):
        return "Cmd(%s)" % " ".join(w.text() for w in self.words)


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


class WordReader:
    """Reads words at ``self.i`` of ``self.s``; the parser that mixes it in provides
    ``parse_list``, ``skip_arith``, ``depth``, ``st`` (shared state) and ``out`` (commands found)."""

    def read_word(self):
        parts, s, n = [], self.s, len(self.s)
        while self.i < n:
            c = s[self.i]
            if c in "<>" and not parts and s.startswith("(", self.i + 1):
                self.i += 2
                parts.append(self.read_sub(c + "("))
                continue
            if c in OPERATOR_CHARS:
                break
            if c == "\\":
                if self.i + 1 < n:
                    if s[self.i + 1] != "\n":
                        parts.append(Part("lit", s[self.i + 1], True))
                    self.i += 2
                else:
                    parts.append(Part("lit", "\\", True))
                    self.i += 1
            elif c == "'":
                j = s.find("'", self.i + 1)
                if j < 0:
                    raise ParseError("a single quote is never closed")
                parts.append(Part("lit", s[self.i + 1:j], True))
                self.i = j + 1
            elif c == '"':
                self.i += 1
                parts.extend(self.read_dquote())
            elif c == "$":
                parts.extend(self.read_dollar(False))
            elif c == "`":
                parts.append(self.read_backtick())
            else:
                j = self.i
                while j < n and s[j] not in OPERATOR_CHARS and s[j] not in "\\'\"$`":
                    j += 1
                parts.append(Part("lit", s[self.i:j], False))
                self.i = j
        return Word(parts)

    def read_dquote(self):
        parts, s, n = [], self.s, len(self.s)
        buf = []
        while True:
            if self.i >= n:
                raise ParseError("a double quote is never closed")
            c = s[self.i]
            if c == '"':
                self.i += 1
                break
            if c == "\\" and self.i + 1 < n and s[self.i + 1] in '$`"\\\n':
                if s[self.i + 1] != "\n":
                    buf.append(s[self.i + 1])
                self.i += 2
            elif c == "$" or c == "`":
                if buf:
                    parts.append(Part("lit", "".join(buf), True))
                    buf = []
                parts.extend(self.read_dollar(True) if c == "$" else [self.read_backtick()])
            else:
                buf.append(c)
                self.i += 1
        if buf or not parts:
            parts.append(Part("lit", "".join(buf), True))
        return parts

    def read_dollar(self, in_dquote):
        s, n, i = self.s, len(self.s), self.i
        nxt = s[i + 1] if i + 1 < n else ""
        if nxt == "'" and not in_dquote:
            j = i + 2
            while j < n and s[j] != "'":
                j += 2 if s[j] == "\\" else 1
            if j >= n:
                raise ParseError("a $'...' quote is never closed")
            self.i = j + 1
            return [Part("lit", ansi_c(s[i + 2:j]), True)]
        if nxt == '"' and not in_dquote:
            self.i = i + 2
            return self.read_dquote()
        if s.startswith("$((", i):
            start = i
            text = self.skip_arith(i + 3)
            return [Part("arith", text, in_dquote, s[start:self.i])]
        if nxt == "(":
            self.i = i + 2
            return [self.read_sub("$(")]
        if nxt == "{":
            j, depth = i + 2, 1
            while j < n and depth:
                if s[j] == "{":
                    depth += 1
                elif s[j] == "}":
                    depth -= 1
                elif s[j] == "\\":
                    j += 1
                j += 1
            if depth:
                raise ParseError("a '${' is never closed")
            body = s[i + 2:j - 1]
            self.i = j
            k = 0
            while k < len(body) and (body[k].isalnum() or body[k] == "_" or (k == 0 and body[k] in "#!@*?$-")):
                k += 1
            name, rest = body[:k], body[k:]
            op = ""
            for cand in (":?", ":-", ":=", ":+", "?", "-", "=", "+", "##", "#", "%%", "%", "//", "/", "^^", "^", ",,", ",", ":"):
                if rest.startswith(cand):
                    op, rest = cand, rest[len(cand):]
                    break
            if rest:
                self.scan_expansions(rest)
            return [Part("var", (name, op, rest), in_dquote, s[i:j])]
        if nxt and (nxt.isalpha() or nxt == "_"):
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] == "_"):
                j += 1
            self.i = j
            return [Part("var", (s[i + 1:j], "", ""), in_dquote, s[i:j])]
        if nxt and (nxt.isdigit() or nxt in "@*#?$!-"):
            self.i = i + 2
            return [Part("var", (nxt, "", ""), in_dquote, s[i:i + 2])]
        self.i = i + 1
        return [Part("lit", "$", in_dquote)]

    def read_sub(self, kind):
        """The commands of $( ... ), <( ... ) or >( ... ); self.i is just after the '('."""
        start = self.i
        inner = type(self)(self.s, self.depth + 1, self.st, origin="substitution")
        inner.i = self.i
        inner.parse_list(end=")")
        self.i = inner.i
        self.out.extend(inner.out)
        return Part("sub", inner.out, False, kind + self.s[start:self.i])

    def read_backtick(self):
        s, n = self.s, len(self.s)
        j, buf = self.i + 1, []
        while j < n and s[j] != "`":
            if s[j] == "\\" and j + 1 < n and s[j + 1] in "\\`$":
                buf.append(s[j + 1])
                j += 2
            else:
                buf.append(s[j])
                j += 1
        if j >= n:
            raise ParseError("a backquote is never closed")
        raw = s[self.i:j + 1]
        self.i = j + 1
        inner = type(self)("".join(buf), self.depth + 1, self.st, origin="substitution")
        inner.parse_list()
        cmds = inner.out
        self.out.extend(cmds)
        return Part("sub", cmds, False, raw)

    def scan_expansions(self, text):
        """Commands run by $(...) and backticks inside text that is otherwise data (an unquoted
        heredoc body, ${VAR:-...}, arithmetic)."""
        if "$(" not in text and "`" not in text:
            return
        sub = type(self)(text, self.depth + 1, self.st, origin="substitution")
        while sub.i < len(text):
            c = text[sub.i]
            if c == "\\":
                sub.i += 2
            elif c == "$":
                sub.read_dollar(True)
            elif c == "`":
                sub.read_backtick()
            else:
                sub.i += 1
        self.out.extend(sub.out)


