"""Secret redaction for everything that leaves a server: tool errors, logs, CLI output.

Two layers: the exact secret values the running server knows (registered from its settings
with :func:`register_secret`) and patterns of well-known token shapes (Slack ``xox?-``,
bearer and token headers, PagerDuty ``Token token=``), so a secret that came back inside an
upstream error body is still masked.
"""

from __future__ import annotations

import logging
import re
import sys
import threading

MASK = "[redacted]"

_PATTERNS = [
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{6,}"),  # Slack bot/user/app tokens
    re.compile(r"xapp-[A-Za-z0-9-]{6,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(token\s+token=)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"(?i)(\"?(?:api[_-]?key|token|password|secret|authorization)\"?\s*[:=]\s*\"?)[^\s\"',}]{6,}"),
]

_known: set[str] = set()
_lock = threading.Lock()


def register_secret(*values: str | None) -> None:
    """Remember secret values so :func:`redact` masks them wherever they appear."""
    with _lock:
        for v in values:
            if v and len(v) >= 4:
                _known.add(v)


def redact(text: str) -> str:
    if not text:
        return text
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pat in _PATTERNS:
        if pat.groups:
            text = pat.sub(lambda m: m.group(1) + MASK, text)
        else:
            text = pat.sub(MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string must not kill logging
            msg = str(record.msg)
        record.msg = redact(msg)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(level: str | int | None = None) -> None:
    """Log to stderr (stdout belongs to the protocol), with every line redacted."""
    import os

    root = logging.getLogger()
    if any(getattr(h, "_paii", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._paii = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level or os.environ.get("PAII_LOG_LEVEL", "WARNING").upper())
