"""Times in the seed: absolute ISO 8601, or relative to the world's clock.

Relative forms (``now`` is the clock when the world is seeded)::

    now          -3d          +1d02:00      -7h30m      -45m      +2h
    ISO 8601     2026-01-02T02:00:00Z

``+1d02:00`` is one day, two hours and no minutes after now. A seed written in relative times
is coherent under any clock: the fixed one of tests and the demo, or the real one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_REL = re.compile(
    r"^(?P<sign>[+-])\s*(?:(?P<d>\d+)d)?\s*(?:(?P<hh>\d{1,2}):(?P<mm>\d{2})|(?:(?P<h>\d+)h)?\s*(?:(?P<m>\d+)m)?\s*(?:(?P<s>\d+)s)?)$"
)


def parse_when(value: object, now: datetime) -> datetime:
    """A seed time (relative or ISO 8601) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.lower() == "now":
        return now
    match = _REL.match(text.lower())
    if match and any(match.group(k) for k in ("d", "hh", "h", "m", "s")):
        g = {k: int(v) for k, v in match.groupdict().items() if v and k != "sign"}
        delta = timedelta(
            days=g.get("d", 0),
            hours=g.get("hh", g.get("h", 0)),
            minutes=g.get("mm", g.get("m", 0)),
            seconds=g.get("s", 0),
        )
        return now + delta if match.group("sign") == "+" else now - delta
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a seed time: use ISO 8601 or a relative time like -3d, +1d02:00, -45m") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def iso(when: datetime) -> str:
    """``2026-01-02T02:00:00Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str) -> float:
    """``5s``, ``500ms``, ``2m`` or a bare number of seconds."""
    value = text.strip().lower()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m)?", value)
    if not match:
        raise ValueError(f"{text!r} is not a duration: use 5s, 500ms or 2m")
    amount, unit = float(match.group(1)), match.group(2) or "s"
    return amount / 1000 if unit == "ms" else amount * 60 if unit == "m" else amount
