"""Enough of the POSIX shell (bash) grammar to see every command a line runs.

``parse(text)`` returns the simple commands in the order they appear, the commands of
``$(...)``, backticks and ``<(...)`` included (each is also kept in the word it came from).
Quoting is decoded as bash does (single, double, ``$'...'`` ANSI-C, backslashes); ``;``,
``&&``, ``||``, ``|``, ``&``, newlines, subshells, brace groups, ``if/while/for/case``,
function bodies, redirections and heredocs are understood. Expansions that only exist at run
time (``$VAR``, ``$(cmd)``) stay as parts of a word, so a rule can tell ``rm -rf "$DIR"`` from
``rm -rf "$DIR/build"``. Work is bounded: input size, nesting depth and item count are capped,
and anything beyond them (or malformed) raises :class:`ParseError`.
"""

MAX_CHARS = 64 * 1024
MAX_DEPTH = 8
MAX_ITEMS = 5000

OPERATOR_CHARS = " \t\n;&|()<>"
KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}"})
REDIRECTS = ("&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", ">&", ">>", ">|", "<", ">")
SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
                  "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


class ParseError(ValueError):
    pass


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


class _State:
    __slots__ = ("items", "heredocs")

    def __init__(self):
        self.items = 0
        self.heredocs = []  # pending (cmd, delimiter, strip_tabs, quoted) until the next newline


class Parser:
    def __init__(self, text, depth=0, state=None, origin="command"):
        if len(text) > MAX_CHARS:
            raise ParseError("the command is %d characters long; the guard reads up to %d" % (len(text), MAX_CHARS))
        if depth > MAX_DEPTH:
            raise ParseError("commands are nested more than %d levels deep" % MAX_DEPTH)
        self.s, self.i, self.depth = text, 0, depth
        self.st = state or _State()
        self.origin = origin
        self.out = []
        self.case = []  # a stack of "pattern" / "body" for case ... esac

    def count(self):
        self.st.items += 1
        if self.st.items > MAX_ITEMS:
            raise ParseError("the command has more than %d words and commands to check" % MAX_ITEMS)

    # --- lists ----------------------------------------------------------------------------

    def parse_list(self, end=None):
        s = self.s
        prev, pipe = None, False
        while True:
            self.skip_blanks()
            if self.i >= len(s):
                if end:
                    raise ParseError("a '(' is never closed")
                self.read_heredocs()
                return
            c = s[self.i]
            if c == "#":
                self.skip_comment()
                continue
            if c == "\n":
                self.i += 1
                self.read_heredocs()
                prev, pipe = None, False
                continue
            if c == ";":
                if s.startswith(";;", self.i) and self.case:
                    self.i += 3 if s.startswith(";;&", self.i) else 2
                    self.case[-1] = "pattern"
                elif s.startswith(";&", self.i) and self.case:
                    self.i += 2
                    self.case[-1] = "pattern"
                else:
                    self.i += 1
                prev, pipe = None, False
                continue
            if c == "&" and not s.startswith("&>", self.i):
                self.i += 2 if s.startswith("&&", self.i) else 1
                prev, pipe = None, False
                continue
            if c == "|":
                if s.startswith("||", self.i):
                    self.i += 2
                    prev, pipe = None, False
                else:
                    self.i += 2 if s.startswith("|&", self.i) else 1
                    pipe = True
                continue
            if c == ")":
                if end == ")":
                    self.i += 1
                    return
                raise ParseError("a ')' has no matching '('")
            if self.case and self.case[-1] == "pattern":
                self.read_case_pattern()
                continue
            if c == "(":
                if s.startswith("((", self.i):
                    self.skip_arith(self.i + 2)
                    prev, pipe = None, False
                    continue
                self.i += 1
                self.parse_list(end=")")
                prev, pipe = "group", False
                continue
            cmd = self.parse_command()
            if cmd is None:
                continue
            if pipe:
                cmd.pipe_from = prev or "group"
            prev, pipe = cmd, False

    def read_case_pattern(self):
        """``pattern)`` of a case item (or ``esac``): words that are matched, never run."""
        start = self.i
        word = self.read_word()
        if word.static() == "esac":
            self.case.pop()
            return
        self.i = start
        s = self.s
        while self.i < len(s) and s[self.i] != ")":
            if s[self.i] in " \t\n|(":
                self.i += 1
            else:
                self.read_word()
                if self.i < len(s) and s[self.i] not in " \t\n|)":
                    raise ParseError("a case pattern is not closed with ')'")
        if self.i >= len(s):
            raise ParseError("a case pattern is not closed with ')'")
        self.i += 1
        self.case[-1] = "body"

    def skip_blanks(self):
        s = self.s
        while self.i < len(s):
            if s[self.i] in " \t":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            else:
                break

    def skip_comment(self):
        j = self.s.find("\n", self.i)
        self.i = len(self.s) if j < 0 else j

    def skip_arith(self, j):
        """Skip ``(( ... ))`` from j (after the opening parentheses), keeping what it runs."""
        s, depth, start = self.s, 2, j
        while j < len(s) and depth:
            if s[j] == "(":
                depth += 1
            elif s[j] == ")":
                depth -= 1
            j += 1
        if depth:
            raise ParseError("a '((' is never closed")
        self.scan_expansions(s[start:j - 2])
        self.i = j
        return s[start:j - 2]

    # --- commands -------------------------------------------------------------------------

    def parse_command(self):
        cmd = Cmd(self.origin)
        s = self.s
        while True:
            self.skip_blanks()
            if self.i >= len(s):
                break
            c = s[self.i]
            if c in "\n;|)" or (c == "&" and not s.startswith("&>", self.i)):
                break
            if c == "#" and (self.i == 0 or s[self.i - 1] in " \t\n;&|()"):
                self.skip_comment()
                break
            if c == "(":
                rest = s[self.i + 1:].lstrip(" \t")
                if cmd.words and rest.startswith(")"):  # name() { body; }: the body follows
                    self.i = s.index(")", self.i) + 1
                    cmd.words, cmd.data = [], True
                    break
                if not cmd.words and not cmd.assigns:
                    break  # a subshell: parse_list handles it
                raise ParseError("unexpected '(' inside a command")
            if self.at_redirect():
                self.read_redirect(cmd)
                continue
            self.count()
            word = self.read_word()
            if not word.parts:
                raise ParseError("unexpected character %r" % s[self.i])
            if not cmd.words and not cmd.data:
                name = self.assignment_name(word)
                if name is not None:
                    cmd.assigns.append((name, word))
                    if s.startswith("(", self.i):  # NAME=(array values)
                        self.i += 1
                        inner = Cmd(self.origin)
                        while self.i < len(s) and s[self.i] != ")":
                            if s[self.i] in " \t\n":
                                self.i += 1
                            else:
                                inner.words.append(self.read_word())
                        self.i += 1
                    continue
                kw = word.static()
                if kw in KEYWORDS and word.parts[0].quoted is False:
                    continue
                if kw in ("for", "select"):
                    cmd.data = True
                    self.skip_blanks()
                    if s.startswith("((", self.i):
                        self.skip_arith(self.i + 2)
                        break
                elif kw == "case":
                    cmd.data = True
                    cmd.words.append(word)
                    self.skip_blanks()
                    cmd.words.append(self.read_word())
                    self.skip_blanks()
                    if self.read_word().static() != "in":
                        raise ParseError("case without 'in'")
                    self.case.append("pattern")
                    break
                elif kw == "esac" and self.case:
                    self.case.pop()
                    continue
                elif kw == "function":
                    self.skip_blanks()
                    self.read_word()
                    self.skip_blanks()
                    if s.startswith("()", self.i):
                        self.i += 2
                    cmd.data = True
                    break
                elif kw == "[[":
                    cmd.data = True
            cmd.words.append(word)
        if cmd.words or cmd.assigns or cmd.redirs:
            self.count()
            self.out.append(cmd)
            return cmd
        return None

    @staticmethod
    def assignment_name(word):
        first = word.parts[0]
        if first.kind != "lit" or first.quoted:
            return None
        name, sep, _ = first.value.partition("=")
        name = name[:-1] if name.endswith("+") else name
        if sep and name and (name[0].isalpha() or name[0] == "_") and all(ch.isalnum() or ch == "_" for ch in name):
            return name
        return None

    def at_redirect(self):
        s, j = self.s, self.i
        while j < len(s) and s[j].isdigit():
            j += 1
        if j < len(s) and s[j] in "<>" and not s.startswith("<(", j) and not s.startswith(">(", j):
            return True
        return j == self.i and s.startswith("&>", j)

    def read_redirect(self, cmd):
        s = self.s
        while s[self.i].isdigit():
            self.i += 1
        op = next(o for o in REDIRECTS if s.startswith(o, self.i))
        self.i += len(op)
        self.skip_blanks()
        if op in (">&", "<&") and self.i < len(s) and (s[self.i].isdigit() or s[self.i] == "-"):
            while self.i < len(s) and (s[self.i].isdigit() or s[self.i] == "-"):
                self.i += 1
            return
        self.count()
        target = self.read_word()
        if not target.parts:
            raise ParseError("a redirection (%s) has no target" % op)
        if op in ("<<", "<<-"):
            quoted = any(p.quoted for p in target.parts)
            self.st.heredocs.append((cmd, target.static() or target.text(), op == "<<-", quoted))
        elif op == "<<<":
            cmd.stdin = ("text", target)
        elif op == "<":
            cmd.stdin = ("file", target)
        cmd.redirs.append((op, target))

    def read_heredocs(self):
        """Bodies of the heredocs opened on the line just ended, in order."""
        s = self.s
        while self.st.heredocs:
            cmd, delim, strip_tabs, quoted = self.st.heredocs.pop(0)
            lines = []
            while self.i < len(s):
                j = s.find("\n", self.i)
                line = s[self.i:] if j < 0 else s[self.i:j]
                self.i = len(s) if j < 0 else j + 1
                if strip_tabs:
                    line = line.lstrip("\t")
                if line == delim:
                    break
                lines.append(line)
            body = "\n".join(lines) + ("\n" if lines else "")
            if not quoted:
                self.scan_expansions(body)
            cmd.stdin = ("text", lit_word(body))

    # --- words ----------------------------------------------------------------------------

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
        inner = Parser(self.s, self.depth + 1, self.st, origin="substitution")
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
        cmds = parse("".join(buf), self.depth + 1, self.st, origin="substitution")
        self.out.extend(cmds)
        return Part("sub", cmds, False, raw)

    def scan_expansions(self, text):
        """Commands run by $(...) and backticks inside text that is otherwise data (an unquoted
        heredoc body, ${VAR:-...}, arithmetic)."""
        if "$(" not in text and "`" not in text:
            return
        sub = Parser(text, self.depth + 1, self.st, origin="substitution")
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


def parse(text, depth=0, state=None, origin="command"):
    """The simple commands ``text`` runs, in order; ParseError when it cannot be read."""
    p = Parser(text, depth, state, origin)
    p.parse_list()
    if p.case:
        raise ParseError("a case has no esac")
    return p.out
