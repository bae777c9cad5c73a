"""``record_incident``: create or update an incident entry by its id (a mixin of
:class:`paii_history.store.HistoryStore`, which holds the write lock, the index and the files)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from paii_common.errors import Conflict, InvalidInput
from paii_history import limits
from paii_history.entries import Entry, check_id, iso, parse_time, read_entry, utcnow


class IncidentMixin:
    INCIDENT_FIELDS = ("service", "severity", "status", "summary", "root_cause", "resolution", "started", "resolved", "links", "tags")

    def record_incident(
        self, incident_id: str, fields: dict[str, Any], *, notes: str | None = None, author: str | None = None
    ) -> tuple[Entry, bool, list[str]]:
        """Create or update (by id) an incident. Fields given replace stored ones; others are kept.
        ``author`` is recorded as the incident's ``author`` when it is new, as ``updated_by`` after."""
        pulled = self.ensure_ready()
        check_id(incident_id)
        limits.check_incident_fields(fields)
        for key in ("started", "resolved"):
            if fields.get(key):
                fields[key] = iso(parse_time(fields[key], key))
        if notes is not None:
            self._check_content(notes, "notes")
        for key in ("summary", "root_cause", "resolution"):
            if fields.get(key) is not None:
                self._check_content(str(fields[key]), key)
        now = utcnow()
        with self._write_lock():
            self._ensure_category_dir("incidents")
            prev = self.kw.get(incident_id)
            if prev and prev.category != "incidents":
                raise Conflict(f"id {incident_id!r} belongs to a {prev.category} entry, not an incident: choose another id")
            if prev:
                entry = read_entry(self._safe_path(prev.path), max_bytes=self._max_file_bytes())
                title = fields.pop("title", None) or entry.title
                _status_change(entry.meta, entry.meta.get("status"), fields.get("status"), now)
                for k, v in fields.items():
                    if v is not None:
                        entry.meta[k] = v
                entry.title = " ".join(str(title).split())
                if notes:
                    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
                    entry.body = entry.body.rstrip() + f"\n\n## Update {stamp}\n\n{notes.strip()}\n"
                entry.updated = now
                entry.meta["updated_by"] = author  # None (no known actor) drops an older name
                created = False
            else:
                title = fields.pop("title", None)
                if not title:
                    raise InvalidInput("title is required when recording a new incident")
                started = fields.get("started")
                entry = Entry(
                    id=incident_id,
                    category="incidents",
                    title=" ".join(str(title).split()),
                    body=(notes or fields.get("summary") or "").strip() + "\n",
                    created=parse_time(started) if started else now,
                    meta={k: v for k, v in fields.items() if v is not None} | ({"author": author} if author else {}),
                )
                _status_change(entry.meta, None, fields.get("status"), now)
                created = True
            entry, warnings = self._write_entry(entry, previous=prev)
            pulled += self._git_commit([self._rel(entry)], author,
                                       f"{'record' if created else 'update'} {incident_id}: {entry.title[:72]}")
        return entry, created, warnings + pulled + self._git_publish()


def _status_change(meta: dict[str, Any], old: str | None, status: str | None, now: dt.datetime) -> None:
    """Keep when an incident's status changed (``status_history``): the timeline's mitigated and
    resolved moments as the person recorded them."""
    if status and status != old:
        meta["status_history"] = [*(meta.get("status_history") or [])[-49:], {"at": iso(now), "status": status}]
