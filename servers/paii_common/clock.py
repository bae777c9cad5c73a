"""The time PAII's servers take as "now".

The real clock, unless ``PAII_NOW`` holds an ISO 8601 time: then that time, standing still, or,
when ``PAII_NOW_SINCE`` holds the Unix time at which the clock read ``PAII_NOW``, moving forward
from it with real time. The sandbox and ``make demo`` set both (``paii sandbox start --now
2026-01-02T02:00:00Z``) so that relative windows such as "the last 24 hours" mean the same thing
to the servers as to the sandbox world they talk to, and a runbook run takes as long as it took.
Nothing is read at import.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

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
    """Now, in UTC: ``PAII_NOW`` (moved on since ``PAII_NOW_SINCE`` when set), else the real clock."""
    start = fixed()
    if start is None:
        return datetime.now(UTC)
    since = os.environ.get("PAII_NOW_SINCE")
    if not is_set(since):
        return start
    try:
        return start + timedelta(seconds=max(0.0, time.time() - float(since)))
    except ValueError:
        raise ValueError(f"PAII_NOW_SINCE={since!r} is not a Unix time such as 1767319200.5") from None


def timestamp() -> float:
    """Now as a Unix timestamp."""
    return now().timestamp()
