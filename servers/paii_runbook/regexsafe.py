"""Is a regular expression from a runbook file safe to run? (catastrophic backtracking)

Python's ``re`` has no timeout and holds the interpreter while it matches: a parameter ``pattern``
or an ``expect: {regex: ...}`` such as ``(a+)+$`` takes exponential time on a short text and
would stop the whole server. :func:`problem` refuses the two shapes behind nearly every such
case, read from the compiled pattern (not the text):

* a repetition inside a repetition with nothing required in between that tells them apart:
  ``(a+)+``, ``(\\w+\\s?)*``, ``(.*a){20}``; while ``([a-z0-9]+-)*`` and ``(\\d+\\.)+`` are fine,
  because a ``-`` or ``.`` that the inner part cannot match separates the rounds;
* alternatives inside a repetition that can start with the same character: ``(a|ab)*``,
  ``(\\w|\\d)+``; while ``(foo|bar)+`` is fine.

Characters are compared over ASCII (anything wider counts as "may overlap"), so the check
errs on the side of refusing. A refused pattern comes back with how to write it instead.
"""

from __future__ import annotations

try:  # Python 3.11+
    from re import _constants as C  # noqa: N812
    from re import _parser as sre
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as C  # type: ignore[no-redef]  # noqa: N812
    import sre_parse as sre  # type: ignore[no-redef]

ALL = (1 << 128) - 1
WIDE = 1 << 128  # a character beyond ASCII may be matched
_DIGIT = sum(1 << c for c in range(48, 58))
_SPACE = sum(1 << c for c in (9, 10, 11, 12, 13, 32))
_WORD = _DIGIT | sum(1 << c for c in [*range(65, 91), *range(97, 123), 95])
_CATEGORY = {
    C.CATEGORY_DIGIT: _DIGIT, C.CATEGORY_NOT_DIGIT: (ALL & ~_DIGIT) | WIDE,
    C.CATEGORY_SPACE: _SPACE | WIDE, C.CATEGORY_NOT_SPACE: (ALL & ~_SPACE) | WIDE,
    C.CATEGORY_WORD: _WORD | WIDE, C.CATEGORY_NOT_WORD: (ALL & ~_WORD) | WIDE,
}
_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT, *([C.POSSESSIVE_REPEAT] if hasattr(C, "POSSESSIVE_REPEAT") else [])}
ADVICE = ("rewrite it without a repetition inside a repetition (e.g. ^[a-z0-9-]+$ instead of ^([a-z0-9]+-?)+$), "
          "or separate the rounds with a character the inner part cannot match")


def _char(c: int, fold: bool) -> int:
    if c > 127:
        return WIDE
    bits = 1 << c
    if fold and chr(c).isalpha():
        bits |= 1 << ord(chr(c).swapcase()) if ord(chr(c).swapcase()) < 128 else WIDE
    return bits


def _in_set(items: list, fold: bool) -> int:
    bits, negate = 0, False
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            bits |= _char(av, fold)
        elif op is C.RANGE:
            lo, hi = av
            for c in range(lo, min(hi, 127) + 1):
                bits |= _char(c, fold)
            if hi > 127:
                bits |= WIDE
        elif op is C.CATEGORY:
            bits |= _CATEGORY.get(av, ALL | WIDE)
        else:
            bits |= ALL | WIDE
    return ((ALL & ~bits) | WIDE) if negate else bits


def _chars(seq, fold: bool) -> int:
    """Every character the sequence may consume anywhere."""
    bits = 0
    for op, av in seq:
        if op is C.LITERAL:
            bits |= _char(av, fold)
        elif op is C.NOT_LITERAL or op is C.ANY:
            bits |= ALL | WIDE
        elif op is C.IN:
            bits |= _in_set(av, fold)
        elif op in _REPEATS:
            bits |= _chars(av[2], fold)
        elif op is C.SUBPATTERN:
            bits |= _chars(av[3], fold)
        elif op is C.BRANCH:
            for alt in av[1]:
                bits |= _chars(alt, fold)
        elif op is getattr(C, "ATOMIC_GROUP", None):
            bits |= _chars(av, fold)
        elif op in (C.GROUPREF, C.GROUPREF_EXISTS):
            bits |= ALL | WIDE
    return bits


def _single(item, fold: bool) -> int | None:
    """The characters of a required one-character item (a separator candidate), else None."""
    op, av = item
    if op is C.LITERAL:
        return _char(av, fold)
    if op is C.IN:
        return _in_set(av, fold)
    if op in _REPEATS and av[0] >= 1 and len(av[2]) == 1:
        return _single(av[2][0], fold)
    if op is C.SUBPATTERN and len(av[3]) == 1:
        return _single(av[3][0], fold)
    return None


def _first(seq, fold: bool) -> tuple[int, bool]:
    """(characters a sequence may start with, whether it may match nothing)."""
    bits = 0
    for item in seq:
        first, empty = _first_item(item, fold)
        bits |= first
        if not empty:
            return bits, False
    return bits, True


def _first_item(item, fold: bool) -> tuple[int, bool]:
    op, av = item
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return 0, True
    if op in _REPEATS:
        first, empty = _first(av[2], fold)
        return first, empty or av[0] == 0
    if op is C.SUBPATTERN:
        return _first(av[3], fold)
    if op is getattr(C, "ATOMIC_GROUP", None):
        return _first(av, fold)
    if op is C.BRANCH:
        bits, empty = 0, False
        for alt in av[1]:
            first, e = _first(alt, fold)
            bits, empty = bits | first, empty or e
        return bits, empty
    if op in (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN):
        return _chars([item], fold), False
    return ALL | WIDE, True


def _repeats_in(seq) -> list:
    out = []
    for op, av in seq:
        if op in _REPEATS:
            if av[1] > 1:
                out.append(av[2])
            out += _repeats_in(av[2])
        elif op is C.SUBPATTERN:
            out += _repeats_in(av[3])
        elif op is C.BRANCH:
            for alt in av[1]:
                out += _repeats_in(alt)
    return out


def _branches_in(seq) -> list:
    out = []
    for op, av in seq:
        if op is C.BRANCH:
            out.append(av[1])
        elif op is C.SUBPATTERN:
            out += _branches_in(av[3])
    return out


def _body_problem(body, fold: bool) -> str | None:
    inner = _repeats_in(body)
    if inner:
        used = 0
        for rep in inner:
            used |= _chars(rep, fold)
        separators = [s for s in (_single(item, fold) for item in _flatten(body)) if s is not None]
        if not any(s & used == 0 for s in separators):
            return "has a repetition inside a repetition that can match the same text in many ways"
    for alts in _branches_in(body):
        # an alternative that may match nothing overlaps whatever comes next: count it as overlapping all
        firsts = [f if not empty else ALL | WIDE for f, empty in (_first(a, fold) for a in alts)]
        for i, a in enumerate(firsts):
            if any(a & b for b in firsts[i + 1:]):
                return "repeats alternatives that can start with the same character"
    return None


def _flatten(seq) -> list:
    """The items of a sequence, with plain groups opened (their items are required too)."""
    out = []
    for op, av in seq:
        if op is C.SUBPATTERN:
            out += _flatten(av[3])
        else:
            out.append((op, av))
    return out


def _walk(seq, fold: bool) -> str | None:
    for op, av in seq:
        if op in _REPEATS and av[1] > 1 and op is not getattr(C, "POSSESSIVE_REPEAT", None):
            found = _body_problem(av[2], fold)
            if found:
                return found
        children = []
        if op in _REPEATS:
            children = [av[2]]
        elif op is C.SUBPATTERN:
            children = [av[3]]
        elif op is C.BRANCH:
            children = list(av[1])
        elif op in (C.ASSERT, C.ASSERT_NOT):
            children = [av[1]]
        for child in children:
            found = _walk(child, fold)
            if found:
                return found
    return None


def problem(pattern: str) -> str | None:
    """Why ``pattern`` may take exponential time to match, with what to write instead; None when safe.
    A pattern that does not compile is not this module's business (None)."""
    try:
        parsed = sre.parse(pattern)
    except Exception:  # re.error, RecursionError on absurd nesting...
        return None if len(pattern) < 1000 else "is too long or too deeply nested to check"
    fold = bool(parsed.state.flags & C.SRE_FLAG_IGNORECASE)
    try:
        found = _walk(list(parsed), fold)
    except RecursionError:
        return "is too deeply nested to check"
    return f"{found}, which can take exponential time on a short text: {ADVICE}" if found else None
