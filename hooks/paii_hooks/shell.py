"""Enough of the POSIX shell (bash) grammar to see every command a line runs, as a tree.

``parse(text)`` returns the line's items in order: a simple command is a :class:`Cmd`, a
compound command a :class:`Node` (``{ }``, ``( )``, ``for``, ``select``, ``while``, ``until``,
``if``, ``case``, function definitions). The commands of a ``$(...)``, backticks or ``<(...)``
come just before the command that holds them, as a ``subst`` Node (and stay in the word they came
from). Quoting is decoded as bash does (single, double, ``$'...'`` ANSI-C, backslashes); ``;``,
``&&``, ``||``, ``|``, ``&``, newlines, redirections and heredocs are understood. Expansions that
only exist at run time (``$VAR``, ``$(cmd)``) stay as parts of a word, so a rule can tell
``rm -rf "$DIR"`` from ``rm -rf "$DIR/build"``. Work is bounded: input size, nesting depth and
item count are capped, and anything beyond them (or malformed) raises :class:`ParseError`.
"""

from paii_hooks.shell_lex import Reader
from paii_hooks.shell_words import Cmd, LimitError, Node, ParseError, Part, Word, ansi_c, lit_word

__all__ = ["parse", "Cmd", "Node", "LimitError", "ParseError", "Part", "Word", "ansi_c", "lit_word"]

MAX_CHARS = 100 * 1024
MAX_DEPTH = 8  # nested $(...), bash -c, eval ...
MAX_NEST = 64  # nested compound commands in one text
MAX_ITEMS = 20000
ENDS = frozenset({"}", "done", "fi", "then", "do", "elif", "else", "esac"})
CASE_END = ";;"


class _State:
    __slots__ = ("items", "heredocs", "max_chars", "max_items", "nest")

    def __init__(self, max_chars=MAX_CHARS):
        self.items = 0
        self.heredocs = []  # pending (cmd, delimiter, strip_tabs, quoted) until the next newline
        self.max_chars = max_chars  # a script file may be longer than a command line
        self.max_items = max(MAX_ITEMS, MAX_ITEMS * max_chars // MAX_CHARS)
        self.nest = 0


class Parser(Reader):
    def __init__(self, text, depth=0, state=None, origin="command"):
        self.st = state or _State()
        if len(text) > self.st.max_chars:
            raise LimitError("the command is %d characters long; the guard reads up to %d" % (len(text), self.st.max_chars))
        if depth > MAX_DEPTH:
            raise LimitError("commands are nested more than %d levels deep" % MAX_DEPTH)
        self.s, self.i, self.depth = text, 0, depth
        self.origin = origin
        self.out = []  # the list being filled (substitutions are added to it as they are read)

    def expect(self, word):
        self.skip_separators()
        if self.peek_reserved() != word:
            found = self.peek_reserved() or self.s[self.i:self.i + 10] or "the end"
            raise ParseError("expected '%s', found '%s'" % (word, found))
        self.i += len(word)

    def expect_char(self, char):
        if not self.s.startswith(char, self.i):
            raise ParseError("a '(' is never closed" if char == ")" else "expected %r" % char)
        self.i += 1

    def parse_list(self, stop):
        """Items up to one of ``stop`` (reserved words, ')' or ';;'), which is left unread."""
        items = []
        saved, self.out = self.out, items
        s = self.s
        prev, pipe = None, False
        try:
            while True:
                self.skip_blanks()
                if self.i >= len(s):
                    if stop:
                        raise ParseError("a '%s' is missing" % ("' or '".join(stop)))
                    self.read_heredocs()
                    return items
                c = s[self.i]
                if c == "#":
                    self.skip_comment()
                    continue
                if c == "\n":
                    self.i += 1
                    self.read_heredocs()
                    if not pipe:
                        prev = None
                    continue
                if c == ";":
                    if s.startswith(";;", self.i) or s.startswith(";&", self.i):
                        if CASE_END in stop:
                            return items
                        raise ParseError("';;' outside a case")
                    self.i += 1
                    prev, pipe = None, False
                    continue
                if c == "&" and not s.startswith("&>", self.i):
                    if s.startswith("&&", self.i):
                        self.i += 2
                    else:
                        self.i += 1
                        if prev is not None:
                            prev.background = True
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
                    if ")" in stop:
                        return items
                    raise ParseError("a ')' has no matching '('")
                if self.peek_reserved() in stop:
                    return items
                item = self.parse_command()
                if item is None:
                    continue
                if pipe:
                    item.pipe_from = prev
                items.append(item)
                prev, pipe = item, False
        finally:
            self.out = saved

    # --- commands -------------------------------------------------------------------------

    def parse_command(self):
        self.skip_blanks()
        s = self.s
        if s.startswith("((", self.i):
            self.skip_arith(self.i + 2)
            return None
        if s.startswith("(", self.i):
            self.i += 1
            return self.compound(lambda: Node("subshell", self.parse_list((")",))), close=")")
        word = self.peek_reserved()
        if word == "{":
            self.i += 1
            return self.compound(lambda: Node("group", self.parse_list(("}",))), close="}")
        if word in ("for", "select"):
            return self.compound(lambda: self.parse_for(word))
        if word in ("while", "until"):
            self.i += len(word)
            return self.compound(lambda: self.parse_loop(word))
        if word == "if":
            self.i += 2
            return self.compound(self.parse_if)
        if word == "case":
            self.i += 4
            return self.compound(self.parse_case)
        if word == "function":
            self.i += 8
            self.skip_blanks()
            name = self.read_word().static() or "?"
            self.skip_blanks()
            if self.s.startswith("()", self.i):
                self.i += 2
            return self.function(name)
        if word == "[[":
            return self.parse_test()
        if word in ("!", "time", "coproc"):
            self.i += len(word)
            self.skip_blanks()
            while word == "time" and self.peek_reserved() in ("-p", "--"):
                self.i += len(self.peek_reserved())
                self.skip_blanks()
            return self.parse_command()
        if word in ENDS or word == "esac":
            raise ParseError("unexpected '%s'" % word)
        return self.parse_simple()

    def compound(self, build, close=None):
        self.st.nest += 1
        if self.st.nest > MAX_NEST:
            raise LimitError("compound commands are nested more than %d levels deep" % MAX_NEST)
        try:
            node = build()
        finally:
            self.st.nest -= 1
        if close == ")":
            self.expect_char(")")
        elif close:
            self.expect(close)
        while True:  # redirections of the whole compound: done < file, } > log
            self.skip_blanks()
            if not self.at_redirect():
                return node
            self.read_redirect(node)

    def function(self, name):
        self.skip_separators()
        body = self.parse_command()
        if not isinstance(body, Node):
            raise ParseError("the body of the function %s is not a compound command" % name)
        return Node("func", [body], name=name)

    def parse_for(self, word):
        self.i += len(word)
        self.skip_blanks()
        if self.s.startswith("((", self.i):
            self.skip_arith(self.i + 2)
            self.skip_separators(semicolon=True)
            self.expect("do")
            body = self.parse_list(("done",))
            self.expect("done")
            return Node("arith-for", body)
        var = self.read_word().static()
        if not var:
            raise ParseError("%s without a variable name" % word)
        self.skip_separators()
        words = None
        if self.peek_reserved() == "in":
            self.i += 2
            words = []
            while True:
                self.skip_blanks()
                if self.i >= len(self.s) or self.s[self.i] in ";\n":
                    break
                self.count()
                w = self.read_word()
                if not w.parts:
                    raise ParseError("unexpected character %r in a %s list" % (self.s[self.i], word))
                words.append(w)
        self.skip_separators(semicolon=True)
        self.expect("do")
        body = self.parse_list(("done",))
        self.expect("done")
        return Node(word, body, var=var, words=words)

    def parse_loop(self, word):
        cond = self.parse_list(("do",))
        self.expect("do")
        body = self.parse_list(("done",))
        self.expect("done")
        return Node(word, body, cond=cond)

    def parse_if(self):
        body = self.parse_list(("then",))
        self.expect("then")
        body += self.parse_list(("elif", "else", "fi"))
        while self.peek_reserved() == "elif":
            self.i += 4
            body += self.parse_list(("then",))
            self.expect("then")
            body += self.parse_list(("elif", "else", "fi"))
        if self.peek_reserved() == "else":
            self.i += 4
            body += self.parse_list(("fi",))
        self.expect("fi")
        return Node("if", body)

    def parse_case(self):
        self.skip_blanks()
        self.count()
        self.read_word()  # the word matched (its substitutions are already kept)
        self.skip_separators()
        self.expect("in")
        body = []
        while True:
            self.skip_separators()
            if self.peek_reserved() == "esac":
                self.i += 4
                return Node("case", body)
            if self.s.startswith("(", self.i):
                self.i += 1
            while True:  # pattern | pattern )
                self.skip_blanks()
                if self.i >= len(self.s):
                    raise ParseError("a case pattern is not closed with ')'")
                c = self.s[self.i]
                if c == ")":
                    self.i += 1
                    break
                if c == "|":
                    self.i += 1
                    continue
                self.count()
                if not self.read_word().parts:
                    raise ParseError("a case pattern is not closed with ')'")
            body += self.parse_list(("esac", CASE_END))
            for end in (";;&", ";;", ";&"):
                if self.s.startswith(end, self.i):
                    self.i += len(end)
                    break

    def parse_test(self):
        """``[[ ... ]]``: words that are tested, not run (their substitutions do run)."""
        cmd = Cmd(self.origin)
        cmd.data = True
        self.i += 2
        s = self.s
        while True:
            self.skip_blanks()
            if self.i >= len(s):
                raise ParseError("a '[[' is never closed")
            if self.peek_reserved() == "]]":
                self.i += 2
                break
            c = s[self.i]
            if c == "(":
                self.skip_test_group()
            elif s.startswith(("&&", "||"), self.i):
                self.i += 2
            elif c in "<>!\n":
                self.i += 1
            else:
                self.count()
                word = self.read_word()
                if not word.parts:
                    raise ParseError("unexpected character %r inside [[ ]]" % c)
                cmd.words.append(word)
        return self.compound(lambda: cmd)

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

    def parse_simple(self):
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
            if c == "(" and cmd.words and s[self.i - 1] == "=":  # declare -A MAP=([k]=v ...)
                cmd.words[-1].array = self.read_array()
                continue
            if c == "(":
                rest = s[self.i + 1:].lstrip(" \t")
                if len(cmd.words) == 1 and not cmd.assigns and rest.startswith(")"):  # name() { body; }
                    self.i = s.index(")", self.i) + 1
                    return self.function(cmd.words[0].static() or "?")
                raise ParseError("unexpected '(' inside a command")
            if self.at_redirect():
                self.read_redirect(cmd)
                continue
            self.count()
            word = self.read_word()
            if not word.parts:
                raise ParseError("unexpected character %r" % s[self.i])
            if not cmd.words:
                name = self.assignment_name(word)
                if name is not None:
                    if s.startswith("(", self.i):  # NAME=(array values)
                        word.array = self.read_array()
                    cmd.assigns.append((name, word))
                    continue
            cmd.words.append(word)
        if cmd.words or cmd.assigns or cmd.redirs:
            self.count()
            return cmd
        return None


def parse(text, depth=0, state=None, origin="command", max_chars=MAX_CHARS):
    """The items ``text`` runs, in order; ParseError when it cannot be read. ``max_chars`` is the
    longest text read (a command line: 100 KB; a script file may be given more)."""
    p = Parser(text, depth, state or _State(max_chars), origin)
    return p.parse_list(())


def walk_cmds(items):
    """Every simple command in a tree of items, in order (for callers that only need those)."""
    for item in items:
        if isinstance(item, Cmd):
            yield item
        else:
            yield from walk_cmds(item.cond)
            yield from walk_cmds(item.body)
