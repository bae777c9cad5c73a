"""Secret redaction for everything that leaves a server: tool results, tool errors, logs, CLI output.

Two layers: the exact secret values the running server knows (registered from its settings
with :func:`register_secret`, and PAII's secret-named environment variables with
:func:`register_environment`) and patterns of well-known token shapes (Slack ``xox?-``, bearer
and token headers, PagerDuty ``Token token=``, ``password=``-style values), so a secret that came
back inside an upstream error body, or that someone pasted into a message or a note, is masked.

One rule for every result: :mod:`paii_common.calls` runs each tool result through :func:`mask`
(every string of it, at any depth), so no tool can forget it.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import Any

MASK = "[redacted]"

_PATTERNS = [
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{6,}"),  # Slack bot/user/app tokens
    re.compile(r"xapp-[A-Za-z0-9-]{6,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(token\s+token=)[A-Za-z0-9._~+/=-]{6,}"),
    # a value ends at a space, a quote, a comma, a brace or any control character (NUL-separated
    # environments: /proc/*/environ), never past it
    re.compile(r"(?i)(\"?(?:api[_-]?key|token|password|secret|authorization)\"?\s*[:=]\s*\"?)[^\s\"',}\x00-\x1f\x7f]{6,}"),
]
#: environment variables whose values are secrets: PAII_*TOKEN*, PAII_*SECRET*, PAII_*PASSWORD*, PAII_*API_KEY*
_SECRET_ENV = re.compile(r"^PAII_\w*(?:TOKEN|SECRET|PASSWORD|API_KEY)\w*$")
_NOT_SECRET_ENV = re.compile(r"_(?:FILE|PATH|DIR|URL|USER|EMAIL|FROM|TTL|TIMEOUT)S?$")

_known: set[str] = set()
_lock = threading.Lock()


def register_secret(*values: str | None) -> None:
    """Remember secret values so :func:`redact` masks them wherever they appear."""
    with _lock:
        for v in values:
            if v and len(v) >= 4:
                _known.add(v)


def register_environment(environ: dict[str, str] | None = None) -> None:
    """Remember the values of PAII's secret-named variables (``PAII_PAGERDUTY_TOKEN``...), so each
    server masks every PAII secret it was given, not only its own (a PagerDuty token pasted in Slack)."""
    import os

    env = os.environ if environ is None else environ
    register_secret(*(v for k, v in env.items() if _SECRET_ENV.match(k) and not _NOT_SECRET_ENV.search(k)
                      and v and "${" not in v and len(v) >= 8))


def mask(value: Any) -> Any:
    """``value`` with :func:`redact` applied to every string in it (dict keys too), at any depth."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {mask(k) if isinstance(k, str) else k: mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value


#: a word every pattern needs: a text without one is checked against the known values only
_CUES = re.compile(r"(?i)xox|xapp|bearer|token|password|secret|api.?key|authorization")


def redact(text: str) -> str:
    if not text:
        return text
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    if not _CUES.search(text):
        return text
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
