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

from paii_hooks.shell_words import Cmd, LimitError, ParseError, Part, Word, WordReader, ansi_c, lit_word

__all__ = ["parse", "Cmd", "LimitError", "ParseError", "Part", "Word", "ansi_c", "lit_word"]

MAX_CHARS = 100 * 1024
MAX_DEPTH = 8
MAX_ITEMS = 20000
KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}"})
REDIRECTS = ("&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", ">&", ">>", ">|", "<", ">")


class _State:
    __slots__ = ("items", "heredocs", "max_chars", "max_items")

    def __init__(self, max_chars=MAX_CHARS):
        self.items = 0
        self.heredocs = []  # pending (cmd, delimiter, strip_tabs, quoted) until the next newline
        self.max_chars = max_chars  # a script file may be longer than a command line
        self.max_items = max(MAX_ITEMS, MAX_ITEMS * max_chars // MAX_CHARS)


class Parser(WordReader):
    def __init__(self, text, depth=0, state=None, origin="command"):
        self.st = state or _State()
        if len(text) > self.st.max_chars:
            raise LimitError("the command is %d characters long; the guard reads up to %d" % (len(text), self.st.max_chars))
        if depth > MAX_DEPTH:
            raise LimitError("commands are nested more than %d levels deep" % MAX_DEPTH)
        self.s, self.i, self.depth = text, 0, depth
        self.origin = origin
        self.out = []
        self.case = []  # a stack of "pattern" / "body" for case ... esac

    def count(self):
        self.st.items += 1
        if self.st.items > self.st.max_items:
            raise LimitError("the command has more than %d words and commands to check" % self.st.max_items)

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
            if c == "(" and cmd.data and cmd.words and cmd.words[0].static() == "[[":
                self.skip_test_group()  # [[ $x =~ ^(a|b)$ ]], [[ ( -f a ) ]]: a pattern, not a subshell
                continue
            if c == "(" and cmd.words and s[self.i - 1] == "=":  # declare -A MAP=([k]=v ...)
                self.read_array()
                continue
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
                        self.read_array()
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
                    while self.i < len(s) and s[self.i] in " \t\n":  # `in` may be on the next line
                        self.i += 1
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

    def read_array(self):
        """``(a b "c")`` after ``NAME=``: values (their ``$(...)`` still run), not a subshell."""
        s = self.s
        self.i += 1
        while self.i < len(s) and s[self.i] != ")":
            if s[self.i] in " \t\n":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            else:
                self.read_word()
        self.i += 1

    def skip_test_group(self):
        """A parenthesised part of ``[[ ... ]]`` (to its matching ``)``): read as data."""
        s, depth, j = self.s, 0, self.i
        while j < len(s):
            if s[j] == "\\":
                j += 1
            elif s[j] == "(":
                depth += 1
            elif s[j] == ")":
                depth -= 1
                if not depth:
                    break
            elif s[j] == "\n":
                break
            j += 1
        if depth:
            raise ParseError("a '(' inside [[ ]] is never closed")
        self.scan_expansions(s[self.i:j + 1])
        self.i = j + 1

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

def parse(text, depth=0, state=None, origin="command", max_chars=MAX_CHARS):
    """The simple commands ``text`` runs, in order; ParseError when it cannot be read. ``max_chars``
    is the longest text read (a command line: 100 KB; a script file may be given more)."""
    p = Parser(text, depth, state or _State(max_chars), origin)
    p.parse_list()
    if p.case:
        raise ParseError("a case has no esac")
    return p.out
