"""Markdown to Atlassian Document Format (Cloud descriptions and comments) and back to text.

``marklas`` does the conversion (headings, paragraphs, lists, code, links, emphasis, tables); it
is imported on first use. Server / Data Center takes the text as it is.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("paii.jira")


def _plain_doc(text: str) -> dict[str, Any]:
    paras = [p for p in text.split("\n\n") if p.strip()] or [text]
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paras if p]}


def to_adf(markdown: str) -> dict[str, Any]:
    """An ADF document for ``markdown`` (plain paragraphs if the converter fails on it)."""
    try:
        from marklas import to_adf as convert

        doc = convert(markdown)
        if isinstance(doc, dict) and doc.get("type") == "doc":
            doc.setdefault("version", 1)
            return doc
    except Exception as exc:  # a converter bug must not lose the ticket
        log.warning("markdown -> ADF failed (%s); sending plain paragraphs", type(exc).__name__)
    return _plain_doc(markdown)


def _walk(node: Any, out: list[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "text":
            out.append(str(node.get("text") or ""))
        elif node.get("type") in {"hardBreak"}:
            out.append("\n")
        elif node.get("type") == "mention":
            out.append(str((node.get("attrs") or {}).get("text") or "@someone"))
        for child in node.get("content") or []:
            _walk(child, out)
        if node.get("type") in {"paragraph", "heading", "listItem", "codeBlock", "blockquote"}:
            out.append("\n")
    elif isinstance(node, list):
        for child in node:
            _walk(child, out)


def to_text(value: Any, limit: int = 2000) -> str:
    """Text of an ADF document (as Markdown) or of a plain string, cut at ``limit`` characters."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    else:
        try:
            from marklas import to_md

            text = to_md(value, plain=True)
        except Exception:
            parts: list[str] = []
            _walk(value, parts)
            text = "".join(parts)
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
