"""The time PAII's servers take as "now".

The real clock, unless ``PAII_NOW`` holds an ISO 8601 time: then that fixed time. The sandbox
and ``make demo`` set it (``paii sandbox start --now 2026-01-02T02:00:00Z``) so that relative
windows such as "the last 24 hours" or "8 hours of a channel" mean the same thing to the
servers as to the sandbox world they talk to. Nothing is read at import.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from paii_common.config import is_set


def fixed() -> datetime | None:
    """The fixed time from ``PAII_NOW``, or None (the real clock)."""
    value = os.environ.get("PAII_NOW")
    if not is_set(value):
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"PAII_NOW={value!r} is not an ISO 8601 time such as 2026-01-02T02:00:00Z") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def now() -> datetime:
    """Now, in UTC: ``PAII_NOW`` when set, else the real clock."""
    return fixed() or datetime.now(UTC)


def timestamp() -> float:
    """Now as a Unix timestamp."""
    return now().timestamp()
