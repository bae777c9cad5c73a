"""Text as the keyword index sees it: query words, code identifiers and their parts, CJK bigrams.

The FTS table holds each entry's text followed by the parts of its camelCase identifiers and the
character bigrams of its Chinese, Japanese and Korean runs (:func:`index_text`); a query is its
distinct meaningful words (a CJK run as its bigrams), then the parts of its own identifiers
(:func:`query_terms`). Words are Unicode words: accents are folded by the FTS tokenizer
(``remove_diacritics 2``) on both sides, and by :func:`fold` where Python compares text.
Nothing here touches the disk.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence

STOPWORDS = frozenset(
    """a an and are as at be but by for from has have in is it its of on or that the this to was were will with
    we our you your they their i me my he she him her them not no yes do does did done so if then than there here
    what when where which who why how all any can could should would may might just also into out up down over
    after before about again more most some such only own same too very s t don now via per""".split()
    # Spanish function words (incident notes are written in the team's language): without them a
    # small history ranks "de la en el" like content words
    + """de del la las el los en un una unos unas y o que por para con sin se al lo le les su sus es son
    fue muy mas más como pero ya desde hasta sobre entre""".split()
)
_WORD = re.compile(r"[^\W_][\w]*")  # Unicode words (conexión, 数据库连接池, 💥 is none)
#: Chinese, Japanese (kana, kanji) and Korean characters: written without spaces between words (or,
#: in Korean, with particles glued on), so a run of them is one FTS token. Such a run is also indexed
#: and searched as its overlapping character bigrams (数据库连接池 -> 数据 据库 库连 连接 接池): the usual
#: dictionary-free CJK retrieval unit. A one-character run is itself.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\u31f0-\u31ff]+")

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
TEXT_VERSION = "ident-cjk-2"


def fold(text: str) -> str:
    """Case and accents folded (Conexión -> conexion), as the FTS tokenizer compares words."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _pieces(word: str) -> Iterator[str]:
    """A word as the index searches it: its CJK runs as bigrams, the rest (digits, Latin) as it is."""
    if not _CJK.search(word):
        yield word
        return
    at = 0
    for m in _CJK.finditer(word):
        if m.start() > at:
            yield word[at : m.start()]
        run = m.group()
        if len(run) == 1:
            yield run
        else:
            yield from (run[i : i + 2] for i in range(len(run) - 1))
        at = m.end()
    if at < len(word):
        yield word[at:]


def cjk_terms(text: str) -> list[str]:
    """What a text's CJK runs add to the index: each run's bigrams and the Latin or digit pieces
    glued to it (支付接口500错误 -> 支付 付接 接口 500 错误), each once."""
    out: dict[str, None] = {}
    for w in _WORD.findall(text):
        if _CJK.search(w):
            out.update(dict.fromkeys(_pieces(w)))
    return list(out)


def identifier_parts(word: str) -> list[str]:
    """The parts of a camelCase or PascalCase word, lower case, two characters or more
    (DFSClient -> dfs, client; getBlockLocations -> get, block, locations); [] for any other word."""
    parts = _CAMEL.split(word)
    return [p.lower() for p in parts if len(p) >= 2] if len(parts) > 1 else []


def index_text(text: str) -> str:
    """``text`` as the FTS table holds it: then IDENT_MARK, the parts of its identifiers (each
    identifier once) and the bigrams of its CJK runs (cjk_terms)."""
    parts: list[str] = []
    for w in dict.fromkeys(_ALNUM.findall(text)):
        parts += identifier_parts(w)
    parts += cjk_terms(text)
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
        for piece in (p for part in w.split("_") for p in _pieces(part)):
            word = piece.lower()
            if (len(word) >= 2 or _CJK.match(word)) and word not in STOPWORDS and word not in seen:
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
