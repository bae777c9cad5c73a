"""The store's import of an export file: one entry per record, idempotent by id and content.

What a file may be (JSON Lines, a JSON array, Jira's or PagerDuty's JSON or CSV, any CSV with a
header) is :mod:`paii_history.import_formats`'s business; this part checks each record, and
writes them all, or (``partial``) the good ones. Every error names the line of its record.

A part of :class:`~paii_history.store.HistoryStore` (it inherits this class).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paii_common.errors import InvalidInput
from paii_history.entries import CorruptEntry, Entry, check_id, parse_time, read_entry, utcnow
from paii_history.import_formats import read_records
from paii_history.semantic import EMBED_CHUNK

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Future

    from paii_history.keyword import KeywordIndex
    from paii_history.sync import Progress

# where a record's title and body may be, first found first (an export's own names)
TITLE_KEYS = ("title", "summary", "subject", "short_description", "name")
BODY_KEYS = ("body", "content", "description", "text")


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)  # "line N: what is wrong", in file order
    vectors: int = 0
    warnings: list[str] = field(default_factory=list)
    format: str = ""  # what the file was read as (JSON Lines, CSV, Jira REST search...)
    records: int = 0  # records found in the file
    written: bool = True  # False: some records failed and nothing was imported (partial=False)
    duplicates: int = 0  # records not imported: an entry with another id has the same title and text


class ImportMixin:
    """``import_jsonl`` of a :class:`~paii_history.store.HistoryStore`."""

    root: Path
    kw: KeywordIndex

    def import_file(
        self, path: Path, category: str, progress: Progress | None = None, *, create_category: bool = True,
        partial: bool = True, allow_duplicates: bool = False,
    ) -> ImportReport:
        """Import the records of an export file; idempotent by id and content. Each needs an id and
        a title: ``title``, or ``summary`` (Jira), ``subject`` (mail), ``short_description``
        (ServiceNow); the body is ``body``, ``content``, ``description`` or ``text`` (null: empty),
        so an export is searchable by its own text; the other fields are metadata. With
        ``partial=False`` a file with any bad record imports nothing (``report.written`` False). A new
        record with the same title and text as an entry of another id (or an earlier record) is not
        imported unless ``allow_duplicates``: the report counts and names them."""
        self.ensure_ready()
        category = self.check_known_category(category, create=create_category, writing=True)
        report = ImportReport()
        report.format, records = read_records(Path(path))
        report.records = len(records)
        now = utcnow()
        entries: list[Entry] = []
        line_of: dict[str, int] = {}
        undated: set[str] = set()  # no "created" given: an existing entry keeps its own
        for rec in records:
            try:
                if rec.error:
                    raise ValueError(rec.error)
                obj = rec.data
                eid = check_id(str(obj.get("id", "")).strip())
                if eid in line_of:
                    raise ValueError(f"id {eid!r} is also on line {line_of[eid]}: ids must be unique in a file")
                title_key = next((k for k in TITLE_KEYS if obj.get(k) not in (None, "")), None)
                title = " ".join(str(obj.get(title_key) or "").split())
                if not title:
                    raise ValueError(f"missing title (one of {', '.join(TITLE_KEYS)})")
                body_key = next((k for k in BODY_KEYS if obj.get(k) is not None), None)
                body = obj.get(body_key, "") if body_key else ""
                if not isinstance(body, str):
                    raise ValueError(f"{body_key} must be a string")
                body = self._check_content(body, "body")
                created = parse_time(obj["created"], "created") if obj.get("created") else now
                if not obj.get("created"):
                    undated.add(eid)
                used = {"id", "created", "category", title_key, body_key}
                meta = {k: v for k, v in obj.items() if k not in used}
                line_of[eid] = rec.line
                entries.append(Entry(id=eid, category=category, title=title[:300], body=body, created=created, meta=meta))
            except (ValueError, InvalidInput) as exc:
                report.errors.append(f"line {rec.line}: {exc}")
        rows: list[dict[str, Any]] = []
        # Vectors are computed while the files are written (the writes wait on fsync; onnxruntime
        # runs without the GIL): each full chunk of written rows goes to one embedding thread.
        from concurrent.futures import ThreadPoolExecutor

        emb = self.embedder() if len(entries) > EMBED_CHUNK else None
        embedding = ThreadPoolExecutor(1, thread_name_prefix="paii-import-embed") if emb else None
        prefetched: list[Future] = []

        def prefetch(upto: int) -> None:
            while embedding and (len(prefetched) + 1) * EMBED_CHUNK <= upto:
                chunk = rows[len(prefetched) * EMBED_CHUNK : (len(prefetched) + 1) * EMBED_CHUNK]
                texts = [self._embed_text(r) for r in chunk]
                prefetched.append(embedding.submit(emb.embed, texts))

        with self._write_lock(), (embedding or contextlib.nullcontext()):
            existing = self.kw.get_many([e.id for e in entries])
            clash = {e.id for e in entries if e.id in existing and existing[e.id].category != category}
            for e in entries:
                if e.id in clash:
                    other = existing[e.id].category
                    report.errors.append(
                        f"line {line_of[e.id]}: id {e.id!r} is already used by an entry in {other!r}; not imported "
                        f"(give it another id, or import it into {other})"
                    )
            report.errors.sort(key=lambda m: int(m.split(":", 1)[0].removeprefix("line ")))
            if report.errors and not partial:
                report.written = False
                return report
            entries = [e for e in entries if e.id not in clash]
            if not allow_duplicates:
                entries = self._drop_duplicates(entries, existing, line_of, report)
            if entries:
                self._ensure_category_dir(category)
            total = len(entries)
            for n, entry in enumerate(entries, 1):
                prev = existing.get(entry.id)
                if prev and entry.id in undated:
                    try:
                        entry.created = read_entry(self.root / prev.path).created
                    except (OSError, CorruptEntry):
                        pass  # the file is gone or broken: this import rewrites it
                if prev:
                    sha = self.kw.db.execute("SELECT sha FROM docs WHERE id=?", (entry.id,)).fetchone()[0]
                    if sha == entry.content_hash():
                        report.unchanged += 1
                        continue
                    entry.updated = now
                rel = (prev.path if prev else entry.relpath().as_posix())
                file = self._write_file(rel, entry.to_markdown())  # only inside the history folder
                rows.append(self._row_for(entry, rel, file.stat()))
                prefetch(len(rows))
                if prev:
                    report.updated += 1
                else:
                    report.imported += 1
                if progress and total > 200 and n % 50 == 0:
                    progress(n, total, "files")
            for s in range(0, len(rows), 1000):
                self.kw.upsert(rows[s : s + 1000])
            report.vectors, vector_warnings = self._index_vectors(rows, progress, prefetched)
            report.warnings += vector_warnings
            if rows and self.git is not None:  # team mode: one commit for the whole import
                from paii_common.auth import actor

                report.warnings += self._git_commit([r["path"] for r in rows], actor(),
                                                    f"import {len(rows)} {category} entries from {Path(path).name}")
        if rows and self.git is not None:
            report.warnings += self._git_publish()
        return report

    def _drop_duplicates(self, entries: list[Entry], existing: dict, line_of: dict[str, int],
                         report: ImportReport) -> list[Entry]:
        """The entries to write: without new ones whose title and text an entry of another id (in
        the history or earlier in the file) already has; the report says which."""
        titles: dict[str, list[str]] = {}
        for i, t in self.kw.db.execute("SELECT id, title FROM docs"):
            titles.setdefault(t, []).append(i)
        seen: dict[tuple[str, str], str] = {}
        keep, said = [], []
        for e in entries:
            key = (e.title, " ".join(e.text_for_index().split()))
            twin = seen.get(key) or (None if e.id in existing else self.duplicate_of(e, titles))
            if twin is None or e.id in existing:
                seen.setdefault(key, e.id)
                keep.append(e)
                continue
            report.duplicates += 1
            if len(said) < 20:
                said.append(f"line {line_of[e.id]}: {e.id} not imported: {twin} has the same title and text")
        if report.duplicates:
            more = f" (first 20 of {report.duplicates})" if report.duplicates > 20 else ""
            report.warnings += said + [f"{report.duplicates} duplicate record(s) not imported{more}; "
                                       "import with --allow-duplicates to keep them"]
        return keep

    def import_jsonl(self, path: Path, category: str, progress: Progress | None = None, **kwargs: Any) -> ImportReport:
        """:meth:`import_file` under its first name (JSON Lines was the only format then)."""
        return self.import_file(path, category, progress, **kwargs)
