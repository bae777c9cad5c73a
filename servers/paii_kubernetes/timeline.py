"""``list_events(since=...)``: a workload's events in a window, also as timeline events.

``name`` then covers the workload and what it owns by name (a Deployment ``payments-api``, its
ReplicaSets ``payments-api-7d9f8b6c5`` and pods ``payments-api-7d9f8b6c5-x2k9p``). Repeats of one
event (type, reason, object, message) are one timeline event at its first time in the window,
with the count and the last time. A Warning is a ``signal``; a rollout or scale
(ScalingReplicaSet, SuccessfulRescale, DeploymentRollback) a ``change``; other events ``other``.
The event's message is fenced: programs write it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paii_common import timeline as tl
from paii_common.untrusted import fence, short

CHANGES = {"ScalingReplicaSet", "SuccessfulRescale", "DeploymentRollback"}
LABEL = "kubernetes event"


def window(since: str) -> tuple[datetime, datetime]:
    """``2h``, an ISO start, or ``START/END`` (ISO 8601 interval)."""
    start, _, end = since.partition("/")
    if "/" in end:  # a path, not an interval: one error naming the whole value
        tl.parse(since, "since")
    return tl.window(start, end or None)


def owned(name: str, obj: str) -> bool:
    return not name or obj == name or obj.startswith(name + "-")


def build(items: list[dict[str, Any]], ns: str, name: str, begin: datetime, end: datetime) -> tl.Timeline:
    groups: dict[tuple, dict[str, Any]] = {}
    for ev in items:
        obj = ev.get("involvedObject") or ev.get("regarding") or {}
        if not owned(name, str(obj.get("name") or "")):
            continue
        first = tl.event_time(ev.get("firstTimestamp") or ev.get("eventTime") or (ev.get("metadata") or {}).get("creationTimestamp"))
        last = tl.event_time(ev.get("lastTimestamp") or (ev.get("series") or {}).get("lastObservedTime")) or first
        if first is None or last < begin or first > end:
            continue
        key = (ev.get("type") or "Normal", ev.get("reason") or "?", str(obj.get("kind") or "?"), str(obj.get("name") or "?"),
               str(ev.get("message") or ev.get("note") or "")[:500])
        g = groups.setdefault(key, {"count": 0, "first": first, "last": last})
        g["count"] += int(ev.get("count") or (ev.get("series") or {}).get("count") or 1)
        g["first"], g["last"] = min(g["first"], first), max(g["last"], last)
    events = []
    for (kind, reason, obj_kind, obj, message), g in groups.items():
        at = max(g["first"], begin)
        what = "signal" if kind == "Warning" else "change" if reason in CHANGES else "other"
        span = f", last {tl.iso(g['last'])[11:16]}" if g["count"] > 1 else ""
        events.append(tl.TimelineEvent(
            time=tl.iso(at), source="kubernetes", kind=what, actor=None,
            event=f"Kubernetes {short(ns)} {short(obj_kind.lower(), 40)} {short(obj, 120)}: {kind} {short(reason, 60)} "
                  f"x{g['count']}{span}",
            text=fence(message, LABEL) if message else None, ref=f"{ns}/{obj_kind}/{obj}/{reason}/{tl.iso(g['first'])}"))
    events, reason = tl.cap(events)
    return tl.Timeline(source="kubernetes", since=tl.iso(begin), until=tl.iso(end), events=events,
                       truncated=bool(reason), truncated_reason=reason)
