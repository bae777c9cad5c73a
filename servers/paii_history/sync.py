"""The store's sync: bring the keyword and vector indexes in line with the files.

A part of :class:`~paii_history.store.HistoryStore` (it inherits this class). The markdown files
are the source of truth; the index records which version of each file it holds (mtime, size),
so a sync reads only new and changed files and drops deleted ones. A file that cannot be read
as an entry is skipped with its reason (``stats`` lists it), never fatal.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paii_history.entries import CorruptEntry, Entry, read_entry, timestamp

if TYPE_CHECKING:  # pragma: no cover
    from paii_history.keyword import KeywordIndex

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, phase)

BACKGROUND_VECTORS = 200  # more missing vectors than this are embedded in the background
SNIPPET_CHARS = 240


@dataclass
class SyncReport:
    scanned: int = 0
    indexed: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    vectors: int = 0
    warnings: list[str] = field(default_factory=list)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:SNIPPET_CHARS] + ("…" if len(flat) > SNIPPET_CHARS else "")


class SyncMixin:
    """Scanning the history folder and indexing what changed, for a :class:`~paii_history.store.HistoryStore`."""

    root: Path
    kw: KeywordIndex

    def _scan(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        if not self.root.is_dir():
            return out
        for path in self.root.rglob("*.md"):
            rel = path.relative_to(self.root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            out[rel.as_posix()] = (st.st_mtime_ns, st.st_size)
        return out

    def _row_for(self, entry: Entry, rel: str, st: os.stat_result) -> dict[str, Any]:
        service = entry.meta.get("service")
        return {
            "id": entry.id,
            "category": entry.category,
            "title": entry.title,
            "created": entry.created.timestamp(),
            "updated": timestamp(entry.updated),
            "path": rel,
            "mtime_ns": st.st_mtime_ns,
            "size": st.st_size,
            "sha": entry.content_hash(),
            "service": str(service) if service else None,
            "meta": entry.meta,
            "snippet": _snippet(entry.meta.get("summary") or entry.body),
            "body": entry.text_for_index(),
        }

    def sync(self, progress: Progress | None = None, *, vectors: bool = True, background: bool = False) -> SyncReport:
        """Bring the index in line with the files: index new and changed files, drop deleted ones."""
        report = SyncReport()
        with self._write_lock():
            if not self.kw.text_current():  # an index from before identifier parts: rewrite its text
                self.kw.migrate_text()
            if not self.kw.postings_ready():  # an index from before the postings table
                self.kw.build_postings()
            on_disk = self._scan()
            indexed = self.kw.files()
            report.scanned = len(on_disk)
            changed = [p for p, sig in on_disk.items() if indexed.get(p) != sig]
            deleted = [p for p in indexed if p not in on_disk]
            rows: list[dict[str, Any]] = []
            ids_seen: dict[str, str] = {}
            total = len(changed)
            for n, rel in enumerate(sorted(changed), 1):
                path = self.root / rel
                try:
                    st = path.stat()
                    entry = read_entry(path)
                    if entry.category != Path(rel).parts[0]:
                        raise CorruptEntry(f"category {entry.category!r} does not match its folder {Path(rel).parts[0]!r}")
                    other = self.kw.get(entry.id)
                    if (other and other.path != rel and other.path in on_disk) or entry.id in ids_seen:
                        raise CorruptEntry(f"duplicate id {entry.id!r} (also in {other.path if other else ids_seen[entry.id]})")
                    ids_seen[entry.id] = rel
                    rows.append(self._row_for(entry, rel, st))
                except (CorruptEntry, OSError) as exc:
                    reason = str(exc)
                    log.warning("history: skipping %s: %s", rel, reason)
                    self.kw.mark_skipped(rel, on_disk[rel][0], reason)
                    report.skipped.append((rel, reason))
                if progress and total > 200 and n % 100 == 0:
                    progress(n, total, "files")
            removed_ids = self.kw.delete_paths(deleted) if deleted else []
            for s in range(0, len(rows), 1000):
                self.kw.upsert(rows[s : s + 1000])
            report.indexed = len(rows)
            report.removed = len(removed_ids)
            if vectors:
                if removed_ids and self.embedder() is not None:
                    with contextlib.suppress(Exception):
                        self.vectors().delete(removed_ids)
                        self._bump_generation()
                missing = self.kw.missing_vectors()
                if len(missing) > BACKGROUND_VECTORS and background:
                    # e.g. a model change or a history pulled from git: don't block this call for
                    # minutes; keyword search works meanwhile and vectors arrive chunk by chunk
                    self._start_backfill()
                    missing = []
                if missing:
                    docs = self.kw.get_many(missing)
                    vrows = [
                        {"id": d.id, "title": d.title, "meta": d.meta, "body": self.kw.body(d.id),
                         "category": d.category, "created": d.created, "service": d.service}
                        for d in docs.values()
                    ]
                    report.vectors, report.warnings = self._index_vectors(vrows, progress)
            self._synced = True
        return report

    def reindex(self, progress: Progress | None = None, *, vectors: bool = True) -> SyncReport:
        """Rebuild the whole index from the files."""
        with self._write_lock():
            self.kw.clear()
            if vectors and self.embedder() is not None:
                try:
                    self.vectors().wipe()
                except Exception as exc:
                    log.warning("could not clear the vector collection: %s", exc)
        return self.sync(progress, vectors=vectors)
