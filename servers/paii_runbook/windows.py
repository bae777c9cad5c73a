"""Maintenance windows: when a runbook that needs one may run. All times are UTC.

A window is written as one of::

    Sat 02:00-04:00            weekly (Mon..Sun; several days: Sat,Sun 02:00-04:00)
    daily 01:00-01:30          every day
    2026-01-03 02:00-04:00     once

A window may cross midnight (Sat 23:00-01:00). A trailing "UTC" is allowed; other zones are not
(write the UTC times). The server knows them from the runbook's ``maintenance_windows`` and the
team's ``PAII_RUNBOOK_MAINTENANCE_WINDOWS``; it never asks PagerDuty or a calendar.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(
    r"^\s*(?P<when>daily|(?:mon|tue|wed|thu|fri|sat|sun)(?:\s*,\s*(?:mon|tue|wed|thu|fri|sat|sun))*|\d{4}-\d{2}-\d{2})"
    r"\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})(?:\s*(?:UTC|Z))?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Window:
    spec: str
    days: tuple[int, ...] | None  # weekdays (0 = Monday); None with a date
    date: dt.date | None
    start: dt.time
    end: dt.time

    def occurrences(self, around: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """The window's occurrences that start from a day before ``around`` to 8 days after."""
        out = []
        first = around.date() - dt.timedelta(days=1)
        dates = [self.date] if self.date else [first + dt.timedelta(days=i) for i in range(9)]
        for day in dates:
            if self.days is not None and day.weekday() not in self.days:
                continue
            start = dt.datetime.combine(day, self.start, dt.UTC)
            end = dt.datetime.combine(day, self.end, dt.UTC)
            if end <= start:
                end += dt.timedelta(days=1)
            out.append((start, end))
        return out


def _time(text: str) -> dt.time:
    hours, minutes = (int(p) for p in text.split(":"))
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text} is not a time of day")
    return dt.time(hours, minutes)


def parse_window(spec: str) -> Window:
    m = _SPEC.match(spec or "")
    if not m:
        raise ValueError(
            f"cannot read the maintenance window {spec!r}: write 'Sat 02:00-04:00', 'daily 01:00-01:30' "
            "or '2026-01-03 02:00-04:00' (UTC)"
        )
    when = m["when"].lower()
    start, end = _time(m["start"]), _time(m["end"])
    if start == end:
        raise ValueError(f"the maintenance window {spec!r} has no length")
    if when == "daily":
        return Window(spec.strip(), tuple(range(7)), None, start, end)
    if when[0].isdigit():
        return Window(spec.strip(), None, dt.date.fromisoformat(when), start, end)
    days = tuple(sorted({DAYS.index(d.strip()) for d in when.split(",")}))
    return Window(spec.strip(), days, None, start, end)


def _fmt(start: dt.datetime, end: dt.datetime) -> str:
    return f"{start:%a %Y-%m-%d %H:%M}-{end:%H:%M} UTC"


def check_windows(specs: list[str], now: dt.datetime) -> tuple[bool | None, str]:
    """(in a window?, a sentence). None when no window is known."""
    windows = [parse_window(s) for s in specs]
    if not windows:
        return None, "no maintenance window is known (set maintenance_windows or PAII_RUNBOOK_MAINTENANCE_WINDOWS)"
    spans = sorted(span for w in windows for span in w.occurrences(now))
    for start, end in spans:
        if start <= now < end:
            return True, f"in the maintenance window {_fmt(start, end)}"
    upcoming = [s for s in spans if s[0] > now]
    nxt = f" (next: {_fmt(*upcoming[0])})" if upcoming else " (no upcoming window)"
    return False, "not currently in a maintenance window" + nxt
