"""JQL for the sandbox Jira: enough of the language for what PAII and people send.

Clauses ``field op value`` joined by AND / OR / NOT and parentheses, then ``ORDER BY``. Operators
=, !=, IN, NOT IN, ~, !~, IS [NOT] EMPTY, <, <=, >, >=. Values: words, "quoted" or 'quoted'
strings, lists, EMPTY / NULL, and the functions currentUser(), openSprints(), closedSprints(),
futureSprints(), now(), startOfDay(). Dates: "2026-01-02", "2026-01-02 02:00" or relative "-15m",
"-3d", "-2w". Errors read like Jira's (HTTP 400 ``errorMessages``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|!~|>=|<=|=|~|<|>|\(|\)|,)
                     |(?P<word>[^\s=!~<>(),"']+))""", re.X)
FIELDS = {
    "project", "key", "issuekey", "id", "status", "statuscategory", "sprint", "labels", "label", "assignee", "reporter",
    "priority", "type", "issuetype", "summary", "description", "text", "comment", "created", "createddate", "updated",
    "updateddate", "resolved", "resolutiondate", "resolution", "parent", "epic link", "statuscategorychangeddate",
}
ORDERABLE = {"key", "issuekey", "id", "created", "updated", "priority", "rank", "status", "summary", "resolved"}


class JQLError(ValueError):
    """Bad JQL: the message is what Jira would say."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise JQLError(f"Error in the JQL Query: The character '{text[pos]}' is a reserved JQL character. (line 1, character {pos + 1})")
        pos = m.end()
        if m.group("str"):
            out.append(("str", re.sub(r"\\(.)", r"\1", m.group("str")[1:-1])))
        elif m.group("op"):
            out.append(("op", m.group("op")))
        elif m.group("word"):
            out.append(("word", m.group("word")))
    return out


class Query:
    """A parsed query: ``match(issue_view)`` and ``sort(list)``; the view is a dict from the service."""

    def __init__(self, text: str, *, resolve: Callable[[str, Any, str], Any], now: datetime) -> None:
        self.text = text
        # (field, raw value, "eq" | "range") -> a set of lowercased comparables ("eq") or one value ("range")
        self._resolve = resolve
        self._now = now
        self._toks = _tokens(text)
        self._i = 0
        self.bounded = False
        self.where: Callable[[dict[str, Any]], bool] = lambda _v: True
        if self._peek_word() != "order":
            if self._toks:
                self.where = self._or()
                self.bounded = True
        self.order: list[tuple[str, bool]] = []
        if self._peek_word() == "order":
            self._i += 1
            if self._peek_word() != "by":
                raise JQLError("Error in the JQL Query: Expecting 'BY' after 'ORDER'.")
            self._i += 1
            while True:
                tok = self._next("a field to order by")
                field = tok[1].lower()
                if field not in ORDERABLE:
                    raise JQLError(f"Field '{tok[1]}' does not exist or you do not have permission to view it.")
                desc = False
                if self._peek_word() in ("asc", "desc"):
                    desc = self._next("")[1].lower() == "desc"
                self.order.append((field, desc))
                if self._peek() != ("op", ","):
                    break
                self._i += 1
        if self._i < len(self._toks):
            raise JQLError(f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{self._toks[self._i][1]}'.")

    # ---------------------------------------------------------------- tokens
    def _peek(self) -> tuple[str, str] | None:
        return self._toks[self._i] if self._i < len(self._toks) else None

    def _peek_word(self) -> str | None:
        tok = self._peek()
        return tok[1].lower() if tok and tok[0] == "word" else None

    def _next(self, what: str) -> tuple[str, str]:
        tok = self._peek()
        if tok is None:
            raise JQLError(f"Error in the JQL Query: Expecting {what} but reached the end of the query.")
        self._i += 1
        return tok

    # ---------------------------------------------------------------- grammar
    def _or(self) -> Callable[[dict[str, Any]], bool]:
        parts = [self._and()]
        while self._peek_word() == "or":
            self._i += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda v: any(p(v) for p in parts))

    def _and(self) -> Callable[[dict[str, Any]], bool]:
        parts = [self._not()]
        while self._peek_word() == "and":
            self._i += 1
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda v: all(p(v) for p in parts))

    def _not(self) -> Callable[[dict[str, Any]], bool]:
        if self._peek_word() == "not":
            self._i += 1
            inner = self._not()
            return lambda v: not inner(v)
        if self._peek() == ("op", "("):
            self._i += 1
            inner = self._or()
            if self._next("')'") != ("op", ")"):
                raise JQLError("Error in the JQL Query: Expecting ')' before the end of the query.")
            return inner
        return self._clause()

    def _value(self) -> Any:
        tok = self._next("a value")
        if tok[0] == "op" and tok[1] == "(":
            values = []
            while True:
                values.append(self._value())
                sep = self._next("',' or ')'")
                if sep == ("op", ")"):
                    return values
                if sep != ("op", ","):
                    raise JQLError(f"Error in the JQL Query: Expecting ',' or ')' but got '{sep[1]}'.")
        if tok[0] == "op":
            raise JQLError(f"Error in the JQL Query: Expecting a value but got '{tok[1]}'.")
        if tok[0] == "word" and self._peek() == ("op", "("):
            self._i += 1
            if self._next("')'") != ("op", ")"):
                raise JQLError(f"Error in the JQL Query: the function {tok[1]} takes no arguments here.")
            return ("fn", tok[1].lower())
        if tok[0] == "word" and tok[1].lower() in ("empty", "null"):
            return None
        return tok[1]

    def _clause(self) -> Callable[[dict[str, Any]], bool]:
        tok = self._next("a field name")
        if tok[0] == "op":
            raise JQLError(f"Error in the JQL Query: Expecting a field name but got '{tok[1]}'.")
        field = tok[1].lower()
        if field.startswith("cf[") or field.startswith("customfield_"):
            field = "cf:" + re.sub(r"\D", "", field)
        elif field not in FIELDS:
            raise JQLError(f"Field '{tok[1]}' does not exist or you do not have permission to view it.")
        op_tok = self._next("an operator")
        op = op_tok[1].lower()
        if op == "not" and self._peek_word() == "in":
            self._i += 1
            op = "not in"
        elif op == "is":
            op = "is"
            if self._peek_word() == "not":
                self._i += 1
                op = "is not"
        elif op not in ("=", "!=", "~", "!~", "<", "<=", ">", ">=", "in"):
            raise JQLError(f"Error in the JQL Query: Expecting operator but got '{op_tok[1]}'.")
        raw = self._value()
        if op in ("=", "!=", "in", "not in"):
            items = raw if isinstance(raw, list) else [raw]
            want: Any = None if items == [None] else set().union(*(self._resolve(field, x, "eq") for x in items if x is not None))
        elif op in ("<", "<=", ">", ">="):
            want = self._resolve(field, raw, "range")
        else:
            want = raw
        return _compare(field, op, want)


def relative_time(value: Any, now: datetime) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, tuple) and value[0] == "fn":
        return now.replace(hour=0, minute=0, second=0, microsecond=0) if value[1] == "startofday" else now
    text = str(value).strip()
    m = re.fullmatch(r"([+-]?\d+)([mhdw])", text)
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return now + timedelta(**{unit: int(m.group(1))})
    for fmt in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=now.tzinfo)
        except ValueError:
            continue
    raise JQLError(f"Date value '{text}' for a date field is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
                   "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")


def _compare(field: str, op: str, want: Any) -> Callable[[dict[str, Any]], bool]:
    def values(view: dict[str, Any]) -> list[Any]:
        got = view.get(field)
        return [x for x in (got if isinstance(got, (list, tuple, set)) else [got]) if x is not None]

    def norm(x: Any) -> Any:
        return x.lower() if isinstance(x, str) else x

    if op in ("is", "is not"):
        if want is not None:
            raise JQLError("Error in the JQL Query: IS and IS NOT take EMPTY or NULL.")
        return (lambda v: not values(v)) if op == "is" else (lambda v: bool(values(v)))
    if op in ("~", "!~"):
        words = [w for w in re.findall(r"\w+", str(want).lower()) if w]
        hit = lambda v: all(any(w in str(x).lower() for x in values(v)) for w in words)  # noqa: E731
        return hit if op == "~" else (lambda v: not hit(v))
    if op in ("<", "<=", ">", ">="):
        cmp = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]
        return lambda v: any(cmp(x, want) for x in values(v))
    if want is None:  # = EMPTY / != EMPTY
        return (lambda v: not values(v)) if op in ("=", "in") else (lambda v: bool(values(v)))
    if op in ("=", "in"):
        return lambda v: any(norm(x) in want for x in values(v))
    return lambda v: bool(values(v)) and not any(norm(x) in want for x in values(v))  # Jira: != skips EMPTY
