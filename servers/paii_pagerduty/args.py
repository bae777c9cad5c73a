"""Arguments of the PagerDuty tools: times (ISO 8601 or an age), ids, time windows."""

from __future__ import annotations

import re
from datetime import datetime

from paii_common import clock
from paii_common import timeline as tl
from paii_common.errors import InvalidInput
from paii_pagerduty.shift import iso

def parse_time(value: str | None, arg: str, *, now: datetime | None = None) -> datetime | None:
    """An ISO 8601 time (naive means UTC) or an age like ``24h``; None when empty (every server's parser:
    :func:`paii_common.timeline.parse`)."""
    return tl.parse(value, arg, now=now)


_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")


def check_id(value: str, arg: str) -> str:
    """PagerDuty ids are short alphanumerics; anything else (a slash, a name) is refused here."""
    if not _ID.match(value or ""):
        raise InvalidInput(f"{arg}={value!r} is not a PagerDuty id (letters and digits, e.g. PT4KHLK): list items first.")
    return value




def window(since: str | None, until: str | None, *, required: bool = False) -> tuple[str | None, str | None]:
    start = parse_time(since, "since")
    end = parse_time(until, "until")
    if start is None and (required or end is not None):
        raise InvalidInput("since is required with until: give both, e.g. since=24h.")
    if start is not None and end is None:
        end = clock.now()
    if start is not None and end is not None and start >= end:
        raise InvalidInput(f"since ({iso(start)}) must be before until ({iso(end)}).")
    return (iso(start) if start else None, iso(end) if end else None)
