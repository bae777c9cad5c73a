"""HistoryStore: the files, the index and the search logic, shared by the MCP server and the CLI.

Write path (``capture``, ``record_incident``, ``import_file``): under a cross-process lock,
write the markdown file atomically, then update the keyword index, then the vectors. The file
is the commit point: if the process dies after it, the next :meth:`sync` (run on first use,
and by ``paii history reindex``) indexes what is missing. A vector failure never fails a write;
the entry is keyword-searchable at once and gets its vector on the next sync.

One object, its parts in one file each (a change goes where its job is):

* this file: categories, writes (``capture``; ``record_incident`` in :mod:`paii_history.incident_record`), reads (``get``, ``recent``,
  ``similar``, ``stats``) and the write lock;
* :mod:`paii_history.sync`: scanning the folder and indexing what changed (``sync``, ``reindex``);
* :mod:`paii_history.semantic`: the embedding model, the vector index, backfill;
* :mod:`paii_history.retrieve`: ``retrieve``, the hybrid ranking and its fusion;
* :mod:`paii_history.imports`: ``import_file``;
* :mod:`paii_history.gitsync`: team mode (``PAII_HISTORY_GIT=1``): commit and push each write, pull before reads.

Below them: :mod:`paii_history.keyword` (SQLite FTS5, the ``docs`` table) with
:mod:`paii_history.bm25` (its postings and BM25), :mod:`paii_history.text` (query words,
identifier parts), :mod:`paii_history.schema` (the index database's tables),
:mod:`paii_history.vectors` (chromadb and the exact in-memory search) with
:mod:`paii_history.vectortable` (the vectors it reads, in SQLite), :mod:`paii_history.entries`
(the markdown files), :mod:`paii_history.limits` (what a field may hold, in writes and in
answers) and :mod:`paii_history.embed` (the model).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paii_common.errors import Conflict, InvalidInput, NotFound
from paii_history import limits
from paii_history.config import BUILTIN_CATEGORIES, HistorySettings
from paii_history.entries import (
    CorruptEntry,
    Entry,
    atomic_write,
    check_category,
    check_id,
    iso,
    new_id,
    read_entry,
    timestamp,
    utcnow,
)
from paii_history.gitsync import GitMixin, GitSync
from paii_history.imports import ImportMixin, ImportReport
from paii_history.incident_record import IncidentMixin
from paii_history.keyword import DocRow, KeywordIndex
from paii_history.retrieve import Hit, RetrievalMixin, title_line
from paii_history.semantic import SemanticMixin
from paii_history.sync import SyncMixin, SyncReport
from paii_history.vectors import VectorIndex

log = logging.getLogger(__name__)

#: frontmatter keys that say who wrote an entry: set from the actor, never taken from a caller's metadata
WHO_KEYS = ("author", "updated_by")


class HistoryStore(SyncMixin, SemanticMixin, RetrievalMixin, ImportMixin, GitMixin, IncidentMixin):
    """Nothing here touches the disk until the first call that needs it."""

    def __init__(self, settings: HistorySettings) -> None:
        self.settings = settings
        self.root = settings.history_dir
        self.kw = KeywordIndex(settings.index_dir / "keyword.sqlite3")
        self._vectors: VectorIndex | None = None
        self._vectors_lock = threading.Lock()  # the warm-up and a tool call may ask at once
        self._embedder = None
        self._vector_problem: str | None = None
        self._vector_checked = 0.0
        self._synced = False
        self._tlock = threading.RLock()
        self._vec_generation: str | None = None
        self._vec_failed_at = -1e9
        self._vec_failure = ""
        self._backfilling = False
        self._executor = None
        self._held = threading.local()  # how deep this thread is in _write_lock
        self._seen_dirs: dict[str, int] = {}  # see SyncMixin.watch
        self._watched_at = time.monotonic()
        self._watch_lock = threading.Lock()
        self._full_look: threading.Thread | None = None
        self.git = (GitSync(self.root, remote=settings.git_remote, pull_every=settings.git_pull_s,
                            timeout=settings.git_timeout) if settings.git else None)

    # ------------------------------------------------------------------ locking / lifecycle
    @contextlib.contextmanager
    def _write_lock(self, *, wait: bool = True) -> Iterator[bool]:
        """Exclusive across threads and processes (two servers, or a server and the CLI); re-entrant
        in a thread. Yields whether it is held: ``wait=False`` gives up at once when another has it."""
        if getattr(self._held, "depth", 0):
            self._held.depth += 1
            try:
                yield True
            finally:
                self._held.depth -= 1
            return
        if not self._tlock.acquire(blocking=wait):
            yield False
            return
        try:
            self.settings.index_dir.mkdir(parents=True, exist_ok=True)
            with open(self.settings.index_dir / ".write.lock", "a+") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                self._held.depth = 1
                try:
                    yield True
                finally:
                    self._held.depth = 0
                    fcntl.flock(fh, fcntl.LOCK_UN)
        finally:
            self._tlock.release()

    def ensure_ready(self) -> list[str]:
        """Index what is on disk on first use; later, notice what changed on disk (see watch). In
        team mode, pull first when it is time (returns what a write's result should say of it)."""
        notes = self._git_refresh() if self.git is not None else []
        if not self._synced:
            self.sync(background=True)
        else:
            self.watch()
        return notes

    def close(self) -> None:
        self.kw.close()

    def warm(self) -> None:
        """Background warm-up after startup: sync the index, load the model and chroma."""
        try:
            self.ensure_ready()
            emb = self.embedder()
            if emb is not None:
                emb.embed(["warm up"])
                self.vectors().prepare()
        except Exception as exc:  # never fatal: the first real call reports the problem
            log.warning("history warm-up: %s", exc)

    # ------------------------------------------------------------------ categories
    def known_categories(self) -> list[str]:
        cats = set(BUILTIN_CATEGORIES) | set(self.settings.extra_categories())
        if self.root.is_dir():
            cats |= {p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")}
        return sorted(cats)

    def check_known_category(self, category: str, *, create: bool = False, writing: bool = False) -> str:
        """The category, normalised; an unknown one is an error unless ``create`` (a write that may
        start it). Only a write's error offers to start it: nothing can be read from a new one."""
        category = check_category(category.strip().lower() if isinstance(category, str) else category)
        known = self.known_categories()
        if category in known or create:
            return category
        import difflib

        close = difflib.get_close_matches(category, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        then = ("To start a new category, call again with create_category=true." if writing
                else "Search all categories by leaving category out.")
        raise InvalidInput(f"unknown category {category!r}.{hint} Known: {', '.join(known)}. {then}")

    def similar(
        self, text: str, *, k: int = 5, category: str | None = None, since: dt.datetime | None = None,
        service: str | None = None, mode: str = "hybrid",
    ) -> tuple[list[Hit], bool, list[str]]:
        """Past entries like ``text`` in ``category``; by default ``incidents``, or every category,
        with a warning that says so, while the history has entries but no incident (a team that
        imported its bugs as ``bugs``). What `paii history similar` and ``similar_incidents`` run."""
        categories, note = [category or "incidents"], None
        if category is None:
            self.ensure_ready()
            counts = self.kw.categories()
            if counts and not counts.get("incidents"):
                others = ", ".join(f"{c} ({n})" for c, n in sorted(counts.items()))
                categories, note = None, f"no incidents recorded yet: searched every category instead: {others}"
        hits, truncated, warnings = self.retrieve(text, k=k, categories=categories, since=since, service=service, mode=mode)
        return hits, truncated, ([note] if note else []) + warnings

    # ------------------------------------------------------------------ writes
    def _write_entry(self, entry: Entry, *, previous: DocRow | None) -> tuple[Entry, list[str]]:
        """Write file + index; returns the entry and warnings. Caller holds the write lock."""
        rel = entry.relpath().as_posix()
        if previous and previous.path != rel:
            rel = previous.path  # an entry keeps its file even if its dates change
        text = entry.to_markdown()
        if len(text.encode()) > self.settings.max_content_bytes + 16384:
            raise InvalidInput(
                f"the entry would be {len(text.encode()) // 1024} KB; the limit is "
                f"{(self.settings.max_content_bytes + 16384) // 1024} KB: record a new incident or entry for the rest"
            )
        path = self._write_file(rel, text)
        entry.path = path
        row = self._row_for(entry, rel, path.stat())
        self.kw.upsert([row])
        _, warnings = self._index_vectors([row])
        return entry, warnings

    def _write_file(self, rel: str, text: str) -> Path:
        """Write an entry's file (atomically) at ``rel``, only inside the history folder. Caller holds the write lock."""
        path = self._safe_path(rel)
        atomic_write(path, text)
        self._saw_own_write(path)
        return path

    def _safe_path(self, rel: str) -> Path:
        """``root / rel``, or Conflict when a symlink on the way leads outside the history folder."""
        path = self.root / rel
        if not self._inside(path):
            raise Conflict(
                f"{path} leads outside the history folder ({path.resolve()}): a symlink on the way points elsewhere. "
                f"PAII reads and writes only inside {self.root}: replace the link with a real folder, then try again"
            )
        return path

    def _check_content(self, content: str, field_name: str = "content") -> str:
        if not isinstance(content, str):
            raise InvalidInput(f"{field_name} must be text")
        size = len(content.encode("utf-8"))
        if size > self.settings.max_content_bytes:
            raise InvalidInput(
                f"{field_name} is {size // 1024} KB; the limit is {self.settings.max_content_bytes // 1024} KB. "
                "Store a summary and link to the full text (logs, documents) instead."
            )
        # the markdown file is read back with universal newlines: store what will be read
        return content.replace("\r\n", "\n").replace("\r", "\n")

    def capture(
        self,
        category: str,
        title: str,
        content: str,
        metadata: dict[str, Any] | None = None,
        *,
        create_category: bool = False,
        entry_id: str | None = None,
        author: str | None = None,
        replace: bool = False,
        allow_duplicate: bool = False,
    ) -> tuple[Entry, list[str]]:
        """Save a new entry; ``author`` (the actor: :func:`paii_common.auth.actor`) goes into its frontmatter.
        An entry with the same title and text already in the history is not saved again (the existing
        one comes back, ``entry.notes`` says so) unless ``allow_duplicate``. ``replace`` with ``entry_id``:
        an existing entry of that id and category is rewritten in place (the runbook server's record of
        a run, written again when a finish cut short is completed)."""
        notes = self.ensure_ready()
        category = self.check_known_category(category, create=create_category, writing=True)
        title = " ".join((title or "").split())
        if not title:
            raise InvalidInput("title is empty: give a one-line title")
        if len(title) > limits.TITLE:
            raise InvalidInput(f"title is longer than {limits.TITLE} characters: put the detail in content")
        content = self._check_content(content)
        meta = dict(metadata or {})
        for k in list(meta):
            if not isinstance(k, str) or not k or k.startswith("_"):
                raise InvalidInput(f"metadata key {k!r} is not allowed")
        for k in ("id", "category", "title", "created", "updated", *WHO_KEYS):  # who wrote it is not the caller's to say
            meta.pop(k, None)
        limits.check_metadata(meta)
        if author:
            meta["author"] = author
        now = utcnow()
        with self._write_lock():
            eid = check_id(entry_id) if entry_id else new_id(category, now)
            prev = self.kw.get(eid) if entry_id else None
            if prev and (not replace or prev.category != category):
                raise Conflict(f"an entry with id {eid!r} already exists: use get to read it, or another id")
            entry = Entry(id=eid, category=category, title=title, body=content, created=now, meta=meta)
            twin = None if (allow_duplicate or prev) else self.duplicate_of(entry)
            if twin is not None:
                existing = self.get(twin)
                note = (f"not saved: {twin} ({existing.category}, {iso(existing.created)}) has the same title and text; "
                        "pass allow_duplicate to save a second copy")
                existing.notes = [note]
                return existing, notes + [note]
            entry, warnings = self._write_entry(entry, previous=prev)
            notes += self._git_commit([self._rel(entry)], author, f"capture {eid}: {title[:72]}")
        return entry, warnings + notes + self._git_publish()

    def duplicate_of(self, entry: Entry, titles: dict[str, list[str]] | None = None) -> str | None:
        """The id of an entry other than ``entry`` with the same title and text (title, key fields
        and body, whitespace aside), else None. ``titles`` (title -> ids, for many checks in a row)
        saves a scan of the index each time."""
        ids = (titles.get(entry.title, []) if titles is not None else
               [r[0] for r in self.kw.db.execute("SELECT id FROM docs WHERE title = ?", (entry.title,))])
        ids = [i for i in ids if i != entry.id]
        if not ids:
            return None
        mine = " ".join(entry.text_for_index().split())
        for i, body in self.kw.bodies(ids).items():
            if " ".join(body.split()) == mine:
                return i
        return None

    def _rel(self, entry: Entry) -> str:
        return entry.path.relative_to(self.root).as_posix()

    def _ensure_category_dir(self, category: str) -> None:
        self._safe_path(category).mkdir(parents=True, exist_ok=True)
    # ------------------------------------------------------------------ reads
    def get(self, entry_id: str) -> Entry:
        self.ensure_ready()
        check_id(entry_id)
        row = self.kw.get(entry_id)
        if row is None:
            raise NotFound(f"no history entry with id {entry_id!r}: use search or recent to find ids")
        path = self.root / row.path
        if not self._inside(path):
            raise Conflict(f"entry {entry_id!r} at {row.path} is a symlink to {path.resolve()}, outside the history folder: "
                           "PAII does not read it; replace the link with the file itself")
        try:
            return read_entry(path, max_bytes=self._max_file_bytes())
        except FileNotFoundError:
            self._synced = False
            raise NotFound(f"entry {entry_id!r} was deleted from disk; search again") from None
        except CorruptEntry as exc:
            raise Conflict(f"entry {entry_id!r} at {row.path} cannot be read ({exc}); fix or restore the file") from None

    def recent(self, category: str | None, count: int, since: dt.datetime | None = None) -> tuple[list[DocRow], int]:
        self.ensure_ready()
        if category:
            category = self.check_known_category(category)
        ts = timestamp(since)
        return self.kw.recent(category, count, ts), self.kw.count(category, ts)


    def stats(self) -> dict[str, Any]:
        self.ensure_ready()
        emb = self.embedder()
        out: dict[str, Any] = {
            "home": str(self.settings.home),
            "entries": self.kw.count(),
            "by_category": self.kw.categories(),
            "skipped_files": [{"path": p, "reason": r} for p, r in self.kw.skipped()],
            "notices": [{"path": p, "note": n} for p, n in self.kw.notices()],
            "missing_vectors": len(self.kw.missing_vectors()),
            "semantic": emb is not None,
            "model": (emb.files.source if emb else None),
            "model_id": (self._vector_id(emb) if emb else None),
            "vector_store": self.vectors().location if emb else None,
            "problem": self._vector_problem,
        }
        if self.git is not None:
            out["git"] = self.git_stats()
        if emb is not None:
            try:
                out["vectors"] = self.vectors().count()
            except Exception as exc:
                out["vectors"] = None
                out["problem"] = f"vector store unavailable: {exc}"
        return out


__all__ = ["DocRow", "HistoryStore", "Hit", "ImportReport", "SyncReport", "title_line"]
