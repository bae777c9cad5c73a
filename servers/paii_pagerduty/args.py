"""Arguments of the PagerDuty tools: times (ISO 8601 or an age), ids, time windows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from paii_common import clock
from paii_common.errors import InvalidInput
from paii_pagerduty.shift import iso

_AGE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str | None, arg: str, *, now: datetime | None = None) -> datetime | None:
    """An ISO 8601 time (naive means UTC) or an age like ``24h``; None when empty."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    now = now or clock.now()
    if text.lower() == "now":
        return now
    age = _AGE.match(text.lower())
    if age:
        digits, unit = age.group(1), age.group(2)
        limit = now - datetime(1970, 1, 1, tzinfo=UTC)
        try:
            delta = timedelta(**{_UNITS[unit]: int(digits)}) if len(digits) <= 12 else None
        except OverflowError:
            delta = None
        if delta is None or delta > limit:
            most = int(limit / timedelta(**{_UNITS[unit]: 1}))
            raise InvalidInput(f"{arg}={value[:40]!r} reaches back before 1970: use an age up to {most}{unit}, "
                               "or an ISO 8601 time (2026-01-02T09:00:00Z).")
        return now - delta
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{arg}={value[:40]!r} is not a time: use ISO 8601 (2026-01-02T09:00:00Z) or an age like 24h, 90m, 7d."
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


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
