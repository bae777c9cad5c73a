"""Text as the keyword index sees it: query words, code identifiers and their parts.

The FTS table holds each entry's text followed by the parts of its camelCase identifiers
(:func:`index_text`); a query is its distinct meaningful words, then the parts of its own
identifiers (:func:`query_terms`). Nothing here touches the disk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

STOPWORDS = frozenset(
    """a an and are as at be but by for from has have in is it its of on or that the this to was were will with
    we our you your they their i me my he she him her them not no yes do does did done so if then than there here
    what when where which who why how all any can could should would may might just also into out up down over
    after before about again more most some such only own same too very s t don now via per""".split()
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")

#: Code identifiers are single FTS tokens (DFSClient, getBlockLocations, FSNamesystem), so a report
#: saying "block locations" never matched one saying getBlockLocations. The keyword index also holds
#: the parts of every camelCase or PascalCase word of an entry (index_text), and a query adds the
#: parts of its own such words after its words, at half a word's weight (a word counts twice). Dev
#: splits of the three dbrd sets, keyword-only, pooled: recall@1 0.316 -> 0.352, recall@5 0.540 ->
#: 0.560, MRR@10 0.406 -> 0.438 (parts at a word's weight: recall@5 0.548; bench/RETRIEVAL.md).
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ALNUM = re.compile(r"[A-Za-z0-9]+")  # the words the FTS tokenizer sees ("_" separates)
#: Between an entry's text and its identifier parts in the FTS body column (body() strips it).
IDENT_MARK = "\n\x1f"
#: The form of the text the FTS table holds; an index of another form is rewritten in its next sync.
TEXT_VERSION = "ident-1"


def identifier_parts(word: str) -> list[str]:
    """The parts of a camelCase or PascalCase word, lower case, two characters or more
    (DFSClient -> dfs, client; getBlockLocations -> get, block, locations); [] for any other word."""
    parts = _CAMEL.split(word)
    return [p.lower() for p in parts if len(p) >= 2] if len(parts) > 1 else []


def index_text(text: str) -> str:
    """``text`` as the FTS table holds it: then IDENT_MARK and the parts of its identifiers, each identifier once."""
    parts: list[str] = []
    for w in dict.fromkeys(_ALNUM.findall(text)):
        parts += identifier_parts(w)
    return f"{text}{IDENT_MARK}{' '.join(parts)}"


def plain_text(indexed: str) -> str:
    """The text an FTS column holds without its identifier parts (the inverse of index_text)."""
    return indexed.rpartition(IDENT_MARK)[0] if IDENT_MARK in indexed else indexed


def query_terms(text: str, max_terms: int = 128, *, parts: bool = True) -> list[str]:
    """The distinct meaningful words of ``text``, in order, then (``parts``) the parts of its
    identifiers that are not among them; at most ``max_terms`` in all."""
    seen: list[str] = []
    extra: list[str] = []
    for w in _WORD.findall(text):
        for piece in w.split("_"):
            word = piece.lower()
            if len(word) >= 2 and word not in STOPWORDS and word not in seen:
                seen.append(word)
            if parts:
                extra += identifier_parts(piece)
    seen += [p for p in dict.fromkeys(extra) if p not in STOPWORDS and p not in seen]
    return seen[:max_terms]


def fts_query(text: str, max_terms: int = 128, terms: Sequence[str] | None = None) -> str | None:
    """An OR query of the distinct meaningful words of ``text`` (quoted, so FTS syntax in it is inert)."""
    words = list(terms) if terms is not None else query_terms(text, max_terms)
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in words)
