"""The lexical half of the shell parser: one word at a time (quoting decoded as bash does,
expansions kept as parts), redirections, heredoc bodies, array values, blanks and comments.
:mod:`paii_hooks.shell` builds the grammar on top of it."""

import re

from paii_hooks.shell_words import LimitError, Node, ParseError, Part, Word, ansi_c, lit_word, split_parameter

OPERATOR_CHARS = " \t\n;&|()<>"
REDIRECTS = ("&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", ">&", ">>", ">|", "<", ">")
RESERVED_RE = re.compile(r"[^\s;&|()<>'\"\\$`]+")


class Reader:
    """Reads at ``self.i`` of ``self.s``; the parser that builds on it provides ``parse_list``,
    ``expect_char``, ``depth``, ``st`` (shared state: item count, pending heredocs) and ``out``
    (the list being filled)."""

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
            name, rest = split_parameter(body)
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
        items = inner.parse_list((")",))
        inner.expect_char(")")
        self.i = inner.i
        self.out.append(Node("subst", items))
        return Part("sub", items, False, kind + self.s[start:self.i])

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
        items = inner.parse_list(())
        self.out.append(Node("subst", items))
        return Part("sub", items, False, raw)

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

    def count(self):
        self.st.items += 1
        if self.st.items > self.st.max_items:
            raise LimitError("the command has more than %d words and commands to check" % self.st.max_items)

    # --- tokens ---------------------------------------------------------------------------

    def peek_reserved(self):
        """The plain word at self.i when it could be a reserved word ('{', 'done', 'fi' ...), else None."""
        m = RESERVED_RE.match(self.s, self.i)
        if not m:
            return None
        end = m.end()
        if end < len(self.s) and self.s[end] not in " \t\n;&|()<>":
            return None
        return m.group(0)

    def skip_blanks(self):
        s = self.s
        while self.i < len(s):
            if s[self.i] in " \t":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            else:
                break

    def skip_separators(self, semicolon=False):
        """Blanks, newlines (reading any pending heredoc), comments, and ';' when asked."""
        s = self.s
        while True:
            self.skip_blanks()
            if self.i >= len(s):
                return
            c = s[self.i]
            if c == "\n":
                self.i += 1
                self.read_heredocs()
            elif c == "#":
                self.skip_comment()
            elif c == ";" and semicolon and not s.startswith(";;", self.i):
                self.i += 1
            else:
                return

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

    # --- lists ----------------------------------------------------------------------------

    def read_array(self):
        """``(a b "c")`` after ``NAME=``: its values (their ``$(...)`` still run), not a subshell."""
        s, values = self.s, []
        self.i += 1
        while self.i < len(s) and s[self.i] != ")":
            if s[self.i] in " \t\n":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            elif s[self.i] == "#":
                self.skip_comment()
            else:
                self.count()
                word = self.read_word()
                if not word.parts:
                    raise ParseError("unexpected character %r in an array" % s[self.i])
                values.append(word)
        if self.i >= len(s):
            raise ParseError("an array's '(' is never closed")
        self.i += 1
        return values

    @staticmethod
    def assignment_name(word):
        first = word.parts[0]
        if first.kind != "lit" or first.quoted:
            return None
        name, sep, _ = first.value.partition("=")
        name = name[:-1] if name.endswith("+") else name
        base = name.split("[", 1)[0] if name.endswith("]") else name
        if sep and base and (base[0].isalpha() or base[0] == "_") and all(ch.isalnum() or ch == "_" for ch in base):
            return name
        return None

    # --- redirections ---------------------------------------------------------------------

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
            cmd.stdin = ("here", target)
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
