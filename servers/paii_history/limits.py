"""What each field may hold when it is written, and how long a field may be in an answer.

Writes: the tools declare these limits in their schemas (``maxLength``, ``maxItems``) and the
store checks them again for every writer (the CLI, an import), so nothing bigger is stored by
PAII. Answers: a file edited by hand may still hold anything, so every field a tool returns is
cut to a bound with a marker that says how much is left and how to read it all (:func:`cut`).
"""

from __future__ import annotations

import json
from typing import Any

from paii_common.errors import InvalidInput
from paii_common.redact import redact

TITLE = 300  # every entry's title (capture, record_incident, an import)
SERVICE = 100
SHORT = 64  # severity, status, started, resolved
FIELD = 4000  # summary, root_cause, resolution of an incident
TAGS, TAG = 30, 64
LINKS, LINK_KEY, LINK = 20, 40, 2000
METADATA_JSON = 16 * 1024  # capture's metadata, as JSON
#: content and notes, as the tools' descriptions say: the default PAII_HISTORY_MAX_CONTENT_BYTES
#: (a size in bytes, which a schema cannot state; the store checks the configured one for every writer)
CONTENT = 256 * 1024

#: in answers: a text field of a listed hit (similar_incidents, search, recent), a short one
#: (service, severity, status), a link, and the items of a list or mapping (get's metadata)
ANSWER_FIELD = 1000
ANSWER_SHORT = 100
ANSWER_LINK = 300
ANSWER_ITEMS = 50


def cut(text: str, limit: int, entry_id: str | None = None) -> str:
    """``text`` if it is at most ``limit`` characters, else its start and a marker saying what is left
    (secrets masked first: a cut never leaves half a token)."""
    if len(text) <= limit:
        return text
    text = redact(text)
    if len(text) <= limit:
        return text
    where = f"get {entry_id} for all" if entry_id else "open the file for all"
    return f"{text[:limit]}… [cut: {len(text) - limit:,} more chars; {where}]"


def bounded(value: Any, entry_id: str | None = None, limit: int = ANSWER_FIELD, items: int = ANSWER_ITEMS,
            depth: int = 0) -> Any:
    """``value`` (metadata from a file) with long strings cut and long lists and mappings shortened."""
    if isinstance(value, str):
        return cut(value, limit, entry_id)
    if depth >= 4 and isinstance(value, list | dict):
        return cut(json.dumps(value, default=str), limit, entry_id)
    if isinstance(value, list):
        out = [bounded(v, entry_id, limit, items, depth + 1) for v in value[:items]]
        return out + ([f"… [cut: {len(value) - items:,} more items]"] if len(value) > items else [])
    if isinstance(value, dict):
        pairs = list(value.items())
        out = {cut(str(k), ANSWER_SHORT): bounded(v, entry_id, limit, items, depth + 1) for k, v in pairs[:items]}
        if len(pairs) > items:
            out["…"] = f"[cut: {len(pairs) - items:,} more keys]"
        return out
    return value


def check_text(value: Any, name: str, limit: int) -> str:
    """``value`` as text of at most ``limit`` characters, or InvalidInput saying what to do."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise InvalidInput(f"{name} is {len(text):,} characters; the limit is {limit:,}: shorten it (put detail in notes or content)")
    return text


def check_incident_fields(fields: dict[str, Any]) -> None:
    """The limits of record_incident's fields (None = not given), for every writer."""
    for name, limit in (("title", TITLE), ("service", SERVICE), ("severity", SHORT), ("status", SHORT),
                        ("summary", FIELD), ("root_cause", FIELD), ("resolution", FIELD),
                        ("started", SHORT), ("resolved", SHORT)):
        if fields.get(name) is not None:
            check_text(fields[name], name, limit)
    tags = fields.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or len(tags) > TAGS:
            raise InvalidInput(f"tags: give a list of at most {TAGS} short tags")
        for t in tags:
            check_text(t, "a tag", TAG)
    links = fields.get("links")
    if links is not None:
        if not isinstance(links, dict) or len(links) > LINKS:
            raise InvalidInput(f"links: give a mapping of at most {LINKS} names to URLs, e.g. {{\"jira\": \"https://...\"}}")
        for k, v in links.items():
            check_text(k, "a link name", LINK_KEY)
            check_text(v, f"link {str(k)[:40]!r}", LINK)


def check_metadata(meta: dict[str, Any]) -> None:
    if len(json.dumps(meta, default=str)) > METADATA_JSON:
        raise InvalidInput(f"metadata is larger than {METADATA_JSON // 1024} KB: keep it to short fields")
