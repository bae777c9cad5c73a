"""Known kinds of structured notes on an entry: what personal skills save and read back as data.

An entry's metadata may hold one of these keys, checked by a schema when it is captured:

* ``spanish``: a Spanish practice session (:class:`SpanishNotes`): level, words learned,
  mistakes with their correction and the rule, grammar points. Category ``learnings``.
* ``writing``: an article (category ``articles``) or a note about how the person likes to write
  (category ``learnings``) (:class:`WritingNotes`): topic, tone, structure, audience, outline.

An entry with one of them is tagged with the key (``tags: [spanish]``), so ``recent`` with
``tag`` finds every one, and :mod:`paii_history.review` turns them into what the next session
needs (words due for review, past mistakes; the person's writing profile). ``search`` and
``recent`` return the notes as a compact ``data`` field; nothing has to parse prose.

Files edited by hand may hold anything: reading is lenient (:func:`read_kind` drops what does not
fit the schema) while writing is strict (:func:`check_metadata` says what is wrong and the shape).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from paii_common.errors import InvalidInput

Short = Annotated[str, Field(min_length=1, max_length=120)]
Line = Annotated[str, Field(min_length=1, max_length=300)]


class _Notes(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Word(_Notes):
    es: Short
    en: Short
    seen: int = Field(default=1, ge=1, le=100, description="Times it came up in the session.")


class Mistake(_Notes):
    said: Line
    correct: Line
    rule: Line | None = None


class SpanishNotes(_Notes):
    level: Annotated[str, Field(min_length=1, max_length=40)]
    theme: Short | None = None
    words: list[Word] = Field(default_factory=list, max_length=60)
    mistakes: list[Mistake] = Field(default_factory=list, max_length=40)
    grammar: list[Line] = Field(default_factory=list, max_length=20)
    sentences: int | None = Field(default=None, ge=0, le=1000)
    minutes: int | None = Field(default=None, ge=0, le=600)


class Section(_Notes):
    title: Short
    words: int | None = Field(default=None, ge=0, le=100_000)


class LengthPref(_Notes):
    min: int = Field(ge=0, le=100_000)
    max: int = Field(ge=0, le=100_000)


class WritingNotes(_Notes):
    topic: Line | None = None
    tone: list[Short] = Field(default_factory=list, max_length=10)
    structure: list[Short] = Field(default_factory=list, max_length=10)
    audience: Short | None = None
    length: LengthPref | None = None
    outline: list[Section] = Field(default_factory=list, max_length=20)
    status: Annotated[str, Field(max_length=20)] | None = None

    @field_validator("tone", "structure")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return [v.lower() for v in values]


KINDS: dict[str, type[_Notes]] = {"spanish": SpanishNotes, "writing": WritingNotes}

SHAPES = {
    "spanish": '{"level": "intermediate", "theme": "restaurant", "words": [{"es": "mientras", "en": "while"}], '
    '"mistakes": [{"said": "una agua", "correct": "un agua", "rule": "stressed a- takes un"}], "grammar": ["..."]}',
    "writing": '{"topic": "...", "tone": ["practical"], "structure": ["real-world example"], '
    '"outline": [{"title": "Introduction", "words": 200}], "length": {"min": 1500, "max": 2500}}',
}


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def check_metadata(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """``meta`` with its known kinds checked and normalised, and tagged with the kind's name.

    InvalidInput names the first wrong field and shows the expected shape."""
    if not meta or not any(k in meta for k in KINDS):
        return meta
    out = dict(meta)
    for kind, schema in KINDS.items():
        if kind not in out:
            continue
        try:
            notes = schema.model_validate(out[kind])
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InvalidInput(
                f"metadata.{kind}{_where(err['loc'])}: {err['msg']}. Give metadata.{kind} like {SHAPES[kind]}"
            ) from None
        out[kind] = notes.model_dump(exclude_none=True, exclude_defaults=True)
        tags = out.get("tags")
        tags = [tags] if isinstance(tags, str) else list(tags or [])
        if kind not in tags:
            out["tags"] = tags + [kind]
    return out


def read_kind(kind: str, value: Any) -> _Notes | None:
    """The notes of ``kind`` in a stored entry, keeping what fits the schema: a hand-edited file may
    hold anything, so a field or list item that does not fit is dropped, not the whole entry."""
    schema = KINDS[kind]
    if not isinstance(value, dict):
        return None
    data = dict(value)
    for _ in range(4):
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            drop_items: dict[str, set[int]] = {}
            for err in exc.errors():
                loc = err["loc"]
                if not loc:
                    return None
                name = str(loc[0])
                if len(loc) > 1 and isinstance(loc[1], int) and isinstance(data.get(name), list):
                    drop_items.setdefault(name, set()).add(loc[1])
                elif err["type"] == "missing" and len(loc) == 1:  # a required text field (a session's level)
                    data[name] = "unknown"
                else:
                    data.pop(name, None)
            for name, idx in drop_items.items():
                data[name] = [v for i, v in enumerate(data[name]) if i not in idx]
    return None


def tags_of(meta: dict[str, Any]) -> list[str]:
    tags = meta.get("tags")
    if isinstance(tags, str):
        return [tags]
    return [str(t) for t in tags] if isinstance(tags, list) else []


# ---------------------------------------------------------------------------------- articles
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def count_words(text: str) -> int:
    """Words of prose in markdown: code blocks, link targets and HTML tags are not counted."""
    text = _TAG.sub(" ", _LINK.sub(r"\1", _FENCE.sub(" ", text)))
    return len(_WORD.findall(text))


def article_stats(body: str) -> tuple[int, list[dict[str, Any]]]:
    """(words, sections): an article's word count and its sections with theirs. Sections are the
    ``##`` headings (``#`` when there is no ``##``); words before the first are the "(opening)"."""
    body = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), body)
    lines = body.splitlines()
    heads = [(i, len(m.group(1)), m.group(2)) for i, line in enumerate(lines) if (m := _HEADING.match(line))]
    levels = {lvl for _, lvl, _ in heads}
    level = 2 if 2 in levels else (1 if 1 in levels else None)
    marks = [(i, title) for i, lvl, title in heads if lvl == level]
    if level == 1 and len(marks) == 1 and marks[0][0] == 0:  # one H1 on top is the title
        marks = []
    sections: list[dict[str, Any]] = []
    start, title = 0, "(opening)"
    for i, head in marks + [(len(lines), None)]:
        words = count_words("\n".join(ln for ln in lines[start:i] if not _HEADING.match(ln)))
        if words or title != "(opening)":
            sections.append({"title": title[:120], "words": words})
        start, title = i + 1, head
    return sum(s["words"] for s in sections), sections


def entry_data(category: str, meta: dict[str, Any], body: str | None = None) -> dict[str, Any] | None:
    """The compact ``data`` of a listed entry: its known kinds (lists cut to their first items),
    and for an article the words the server counted in its text."""
    out: dict[str, Any] = {}
    for kind in KINDS:
        notes = read_kind(kind, meta.get(kind)) if kind in meta else None
        if notes is not None:
            out[kind] = _compact(notes.model_dump(exclude_none=True, exclude_defaults=True))
    if category == "articles" and body is not None:
        words, sections = article_stats(body)
        out.setdefault("writing", {}).update(words=words, sections=sections[:20])
    return out or None


def _compact(value: Any, items: int = 15) -> Any:
    if isinstance(value, list):
        return [_compact(v, items) for v in value[:items]] + ([f"… {len(value) - items} more: get the entry"] if len(value) > items else [])
    if isinstance(value, dict):
        return {k: _compact(v, items) for k, v in value.items()}
    return value


__all__ = ["KINDS", "SpanishNotes", "WritingNotes", "article_stats", "check_metadata", "count_words", "entry_data",
           "read_kind", "tags_of"]
