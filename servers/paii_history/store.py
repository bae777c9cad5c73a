"""HistoryStore: the files, the index and the search logic, shared by the MCP server and the CLI.

Write path (``capture``, ``record_incident``, ``import_jsonl``): under a cross-process lock,
write the markdown file atomically, then update the keyword index, then the vectors. The file
is the commit point: if the process dies after it, the next :meth:`sync` (run on first use,
and by ``paii history reindex``) indexes what is missing. A vector failure never fails a write;
the entry is keyword-searchable at once and gets its vector on the next sync.

Retrieval is hybrid: BM25 over SQLite FTS5 and cosine similarity over all-MiniLM-L6-v2
vectors in chromadb, fused as z-scores (see VECTOR_WEIGHT). Without a model it is keyword-only and says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paii_common.errors import Conflict, InvalidInput, NotFound
from paii_history.config import BUILTIN_CATEGORIES, HistorySettings
from paii_history.entries import (
    CorruptEntry,
    Entry,
    atomic_write,
    check_category,
    check_id,
    iso,
    new_id,
    parse_time,
    read_entry,
    utcnow,
)
from paii_history.index import DocRow, KeywordIndex, VectorIndex

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Future

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, phase)

VECTOR_WEIGHT = 0.5  # hybrid = 0.5 * z(cosine) + 0.5 * z(BM25), each z-scored within its own list
# A text shaped "title line, then a description" (a pasted bug report or incident) also searches
# with its title line alone, which keeps the summary's words from drowning in a long description:
# + 0.3 x z(BM25 of the title) + 0.1 x z(cosine of the title). On the dev splits of the duplicate
# bug-report sets recall@5 0.556 -> 0.584 (bench/RETRIEVAL.md); one-line texts are unaffected.
TITLE_KEYWORD_WEIGHT = 0.3
TITLE_VECTOR_WEIGHT = 0.1


# A report pasted as one line (its title and description joined by a space, as a script or a form
# may send it) has no title line; its first words stand in. Dbrd test splits with every query
# joined into one line: recall@5 0.605 -> 0.632 pooled (0.642 with the real line breaks).
LEAD_WORDS = 10
LEAD_MIN_WORDS = 30  # shorter one-line texts (an alert, a symptom) are searched as they are


def title_line(text: str) -> str | None:
    """The first line of a text that has a description under it; for a long text on one line, its
    first LEAD_WORDS words; else None."""
    head, sep, rest = text.strip().partition("\n")
    head = head.strip()
    if not sep:
        words = head.split()
        return " ".join(words[:LEAD_WORDS]) if len(words) >= LEAD_MIN_WORDS else None
    if len(rest.strip()) < 40 or len(head.split()) < 2 or len(head) > 300:
        return None
    return head


# import_jsonl: where a line's title and body may be, first found first (an export's own names)
TITLE_KEYS = ("title", "summary", "subject", "short_description", "name")
BODY_KEYS = ("body", "content", "description", "text")

BACKGROUND_VECTORS = 200  # more missing vectors than this are embedded in the background
EMBED_CHUNK = 256  # entries embedded, then stored in chroma, at a time
# What an entry's vector is of. "-e2": its title and key fields once, then the body, each entry
# embedded alone (before, title and fields came twice and int8 batches mixed: vector-only recall@5
# on dbrd test +3 points). A change here is a new collection: entries re-embed in the background.
VECTOR_TEXT = "-e2"
SNIPPET_CHARS = 240


@dataclass
class Hit:
    id: str
    score: float
    row: DocRow
    keyword_rank: int | None = None
    vector_rank: int | None = None
    cosine: float | None = None


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    vectors: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class SyncReport:
    scanned: int = 0
    indexed: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    vectors: int = 0
    warnings: list[str] = field(default_factory=list)


def _ts(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value else None


def _zscores(values: Sequence[float]) -> list[float]:
    """How many standard deviations each value is above the mean of ``values`` (0 when all equal)."""
    if not values:
        return []
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    return [(v - mean) / sd if sd > 1e-9 else 0.0 for v in values]


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:SNIPPET_CHARS] + ("…" if len(flat) > SNIPPET_CHARS else "")


class HistoryStore:
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

    # ------------------------------------------------------------------ locking / lifecycle
    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Exclusive across threads and processes (two servers, or a server and the CLI)."""
        with self._tlock:
            self.settings.index_dir.mkdir(parents=True, exist_ok=True)
            with open(self.settings.index_dir / ".write.lock", "a+") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def ensure_ready(self) -> None:
        if not self._synced:
            self.sync(background=True)

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

    # ------------------------------------------------------------------ vectors
    def embedder(self):
        """The embedder, or None (the reason is in :attr:`vector_problem`)."""
        if self._embedder is not None:
            return self._embedder
        if self.settings.embeddings == "off":
            self._vector_problem = "semantic search is off (PAII_HISTORY_EMBEDDINGS=off): keyword results only"
            return None
        now = time.monotonic()
        if self._vector_problem and now - self._vector_checked < 30:
            return None
        self._vector_checked = now
        from paii_history.embed import Embedder, find_model, missing_model_reason

        files = find_model(self.settings.embed_model_dir, self.settings.models_dir, self.settings.embed_precision)
        if files is None:
            self._vector_problem = (
                "semantic search unavailable (" + missing_model_reason(self.settings.embed_model_dir, self.settings.models_dir)
                + "): keyword results only"
            )
            log.info(self._vector_problem)
            return None
        self._embedder = Embedder(files, max_tokens=self.settings.embed_tokens)
        if self._vector_problem and self._synced:
            # the model arrived while this process ran (e.g. fetched in the background on first
            # start): give the entries written meanwhile their vectors
            self._start_backfill()
        self._vector_problem = None
        return self._embedder

    def _start_backfill(self) -> None:
        if not self._backfilling:
            self._backfilling = True
            threading.Thread(target=self._backfill, name="paii-backfill", daemon=True).start()

    def _backfill(self) -> None:
        """Embed entries that have no vector, a chunk at a time, holding the write lock per chunk only."""
        try:
            while True:
                with self._write_lock():
                    missing = self.kw.missing_vectors()[:256]
                    if not missing:
                        return
                    docs = self.kw.get_many(missing)
                    rows = [
                        {"id": d.id, "title": d.title, "meta": d.meta, "body": self.kw.body(d.id),
                         "category": d.category, "created": d.created, "service": d.service}
                        for d in docs.values()
                    ]
                    done, warnings = self._index_vectors(rows)
                if warnings or not done:
                    return
        except Exception as exc:  # pragma: no cover - logged, retried on the next sync
            log.warning("history: vector backfill failed: %s", exc)
        finally:
            self._backfilling = False

    def vectors(self) -> VectorIndex:
        if self._vectors is not None:
            return self._vectors
        with self._vectors_lock:
            if self._vectors is not None:
                return self._vectors
            emb = self.embedder()
            model_id = self._vector_id(emb)
            if emb is not None and self.kw.get_state("vec_model") != model_id:
                # vectors of another model (or none yet): every entry needs a new one
                self.kw.db.execute("UPDATE docs SET vec=0")
                self.kw.set_state("vec_model", model_id)
                if self._synced:
                    self._start_backfill()
            self._vectors = VectorIndex(
                persist_dir=self.settings.index_dir / "chroma",
                url=self.settings.chroma_url,
                collection=self.settings.chroma_collection,
                model_id=model_id,
                fields=self.kw.filter_fields,
                stamp=lambda: self.kw.get_state("vec_generation"),
            )
        return self._vectors

    @staticmethod
    def _vector_id(emb) -> str:
        """What the stored vectors are: the model and token budget, and how entry texts are made."""
        return f"{emb.model_id}{VECTOR_TEXT}" if emb else "none"

    @property
    def vector_problem(self) -> str | None:
        return self._vector_problem

    @staticmethod
    def _embed_text(row: dict[str, Any]) -> str:
        # Entry.text_for_index: title, service, summary, root cause, resolution, then the body;
        # the embedder keeps its first tokens (PAII_HISTORY_EMBED_TOKENS)
        return row["body"]

    def _vector_meta(self, row: dict[str, Any]) -> dict[str, Any]:
        meta = {"category": row["category"], "created": float(row["created"])}
        if row.get("service"):
            meta["service"] = str(row["service"]).lower()
        return meta

    def _bump_generation(self) -> None:
        gen = f"{os.getpid()}-{time.time_ns()}"
        self.kw.set_state("vec_generation", gen)
        self._vec_generation = gen

    def _maybe_reload_vectors(self) -> None:
        """Another process changed the embedded collection: re-open it to see its writes."""
        if self.settings.chroma_url or self._vectors is None:
            return
        gen = self.kw.get_state("vec_generation")
        if gen != self._vec_generation:
            if self._vec_generation is not None:
                self._vectors.reload()
            self._vec_generation = gen

    def _index_vectors(
        self, rows: Sequence[dict[str, Any]], progress: Progress | None = None, prefetched: Sequence[Future] = ()
    ) -> tuple[int, list[str]]:
        """Embed and store vectors for rows (dicts as given to KeywordIndex.upsert). Returns (count, warnings).

        ``prefetched``: vectors of the first chunks of rows, already being computed (see import_jsonl)."""
        if not rows:
            return 0, []
        emb = self.embedder()
        if emb is None:
            return 0, [self._vector_problem or "semantic search unavailable"]
        done = 0
        try:
            vi = self.vectors()
            for n, s in enumerate(range(0, len(rows), EMBED_CHUNK)):
                chunk = rows[s : s + EMBED_CHUNK]
                if n < len(prefetched):
                    vecs = prefetched[n].result()
                else:
                    vecs = emb.embed([self._embed_text(r) for r in chunk])
                vi.upsert([r["id"] for r in chunk], vecs, [self._vector_meta(r) for r in chunk])
                self.kw.set_vec([r["id"] for r in chunk])
                done += len(chunk)
                if progress:
                    progress(done, len(rows), "vectors")
        except Exception as exc:
            msg = f"vector index update failed ({exc}); entries are saved and keyword-searchable, run `paii history reindex` later"
            log.warning(msg)
            return done, [msg]
        finally:  # even a failed write may have changed the collection: other readers reload
            self._bump_generation()
        return done, []

    # ------------------------------------------------------------------ sync / reindex
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
            "updated": _ts(entry.updated),
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

    # ------------------------------------------------------------------ writes
    def _write_entry(self, entry: Entry, *, previous: DocRow | None) -> tuple[Entry, list[str]]:
        """Write file + index; returns the entry and warnings. Caller holds the write lock."""
        rel = entry.relpath().as_posix()
        if previous and previous.path != rel:
            rel = previous.path  # an entry keeps its file even if its dates change
        path = self.root / rel
        text = entry.to_markdown()
        if len(text.encode()) > self.settings.max_content_bytes + 16384:
            raise InvalidInput("entry too large")
        atomic_write(path, text)
        entry.path = path
        row = self._row_for(entry, rel, path.stat())
        self.kw.upsert([row])
        _, warnings = self._index_vectors([row])
        return entry, warnings

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
    ) -> tuple[Entry, list[str]]:
        self.ensure_ready()
        category = self.check_known_category(category, create=create_category, writing=True)
        title = " ".join((title or "").split())
        if not title:
            raise InvalidInput("title is empty: give a one-line title")
        if len(title) > 300:
            raise InvalidInput("title is longer than 300 characters: put the detail in content")
        content = self._check_content(content)
        meta = dict(metadata or {})
        for k in list(meta):
            if not isinstance(k, str) or not k or k.startswith("_"):
                raise InvalidInput(f"metadata key {k!r} is not allowed")
        for k in ("id", "category", "title", "created", "updated"):
            meta.pop(k, None)
        if len(json.dumps(meta, default=str)) > 16384:
            raise InvalidInput("metadata is larger than 16 KB: keep it to short fields")
        now = utcnow()
        with self._write_lock():
            eid = check_id(entry_id) if entry_id else new_id(category, now)
            if entry_id and self.kw.get(eid):
                raise Conflict(f"an entry with id {eid!r} already exists: use get to read it, or another id")
            entry = Entry(id=eid, category=category, title=title, body=content, created=now, meta=meta)
            return self._write_entry(entry, previous=None)

    INCIDENT_FIELDS = ("service", "severity", "status", "summary", "root_cause", "resolution", "started", "resolved", "links", "tags")

    def record_incident(
        self, incident_id: str, fields: dict[str, Any], *, notes: str | None = None
    ) -> tuple[Entry, bool, list[str]]:
        """Create or update (by id) an incident. Fields given replace stored ones; others are kept."""
        self.ensure_ready()
        check_id(incident_id)
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
                entry = read_entry(self.root / prev.path)
                title = fields.pop("title", None) or entry.title
                for k, v in fields.items():
                    if v is not None:
                        entry.meta[k] = v
                entry.title = " ".join(str(title).split())
                if notes:
                    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
                    entry.body = entry.body.rstrip() + f"\n\n## Update {stamp}\n\n{notes.strip()}\n"
                entry.updated = now
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
                    meta={k: v for k, v in fields.items() if v is not None},
                )
                created = True
            entry, warnings = self._write_entry(entry, previous=prev)
            return entry, created, warnings

    def _ensure_category_dir(self, category: str) -> None:
        (self.root / category).mkdir(parents=True, exist_ok=True)

    def import_jsonl(
        self, path: Path, category: str, progress: Progress | None = None, *, create_category: bool = True
    ) -> ImportReport:
        """Import ``{"id", "title", "body", "created"?, ...metadata}`` lines; idempotent by id and content.
        The title may come as ``summary`` (Jira), ``subject`` (mail) or ``short_description``
        (ServiceNow), the body as ``content``, ``description`` or ``text`` (null: empty), so an
        export from another tool is searchable by its own text; the other fields are metadata."""
        self.ensure_ready()
        category = self.check_known_category(category, create=create_category, writing=True)
        report = ImportReport()
        try:
            # JSON Lines ends records at "\n" only: str.splitlines would also split at U+2028,
            # U+0085, form feeds... which JSON allows raw inside strings (and real data has).
            # utf-8-sig: a byte-order mark (Windows exports) is not part of the first record.
            lines = Path(path).read_text(encoding="utf-8-sig").split("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {path}: {exc}") from None
        now = utcnow()
        entries: list[Entry] = []
        seen: set[str] = set()
        undated: set[str] = set()  # no "created" given: an existing entry keeps its own
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                eid = check_id(str(obj.get("id", "")).strip())
                if eid in seen:
                    raise ValueError(f"duplicate id {eid!r} in this file")
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
                seen.add(eid)
                entries.append(Entry(id=eid, category=category, title=title[:300], body=body, created=created, meta=meta))
            except (ValueError, InvalidInput) as exc:
                report.errors.append(f"line {lineno}: {exc}")
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
            self._ensure_category_dir(category)
            existing = self.kw.get_many([e.id for e in entries])
            total = len(entries)
            for n, entry in enumerate(entries, 1):
                prev = existing.get(entry.id)
                if prev and prev.category != category:
                    report.errors.append(f"id {entry.id!r}: already used by a {prev.category} entry; not imported")
                    continue
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
                file = self.root / rel
                atomic_write(file, entry.to_markdown())
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
            report.vectors, report.warnings = self._index_vectors(rows, progress, prefetched)
        return report

    # ------------------------------------------------------------------ reads
    def get(self, entry_id: str) -> Entry:
        self.ensure_ready()
        check_id(entry_id)
        row = self.kw.get(entry_id)
        if row is None:
            raise NotFound(f"no history entry with id {entry_id!r}: use search or recent to find ids")
        try:
            return read_entry(self.root / row.path)
        except FileNotFoundError:
            self._synced = False
            raise NotFound(f"entry {entry_id!r} was deleted from disk; search again") from None
        except CorruptEntry as exc:
            raise Conflict(f"entry {entry_id!r} at {row.path} cannot be read ({exc}); fix or restore the file") from None

    def recent(self, category: str | None, count: int, since: dt.datetime | None = None) -> tuple[list[DocRow], int]:
        self.ensure_ready()
        if category:
            category = self.check_known_category(category)
        ts = _ts(since)
        return self.kw.recent(category, count, ts), self.kw.count(category, ts)

    def _where(self, categories: Sequence[str] | None, since: float | None, service: str | None) -> dict[str, Any] | None:
        conds: list[dict[str, Any]] = []
        if categories:
            conds.append({"category": {"$in": list(categories)}} if len(categories) > 1 else {"category": categories[0]})
        if since is not None:
            conds.append({"created": {"$gte": since}})
        if service:
            conds.append({"service": service.lower()})
        if not conds:
            return None
        return conds[0] if len(conds) == 1 else {"$and": conds}

    def _pool(self):
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="paii-search")
        return self._executor

    def _vector_search(self, vec, pool: int, categories, since: float | None, service: str | None) -> list[tuple[str, float]]:
        """Nearest neighbours within the filters: exact, in memory, for an embedded history (see
        index.EXACT_MAX). Through chroma, whose metadata filter costs ~35 ms at 10k entries while an
        unfiltered query costs ~2 ms: when the filters keep a good share of the history, over-fetch
        unfiltered and filter here; use chroma's filter when they are selective."""
        vi = self.vectors()
        exact = vi.search(vec, pool, categories, since, service)
        if exact is not None:
            return exact
        where = self._where(categories, since, service)
        if where is None:
            return vi.query(vec, pool)
        total = self.kw.count()
        matching = self.kw.count_matching(categories, since, service)
        if matching == 0:
            return []
        share = matching / max(total, 1)
        if share < 0.25:
            return vi.query(vec, pool, where)
        raw = vi.query(vec, min(total, int(pool / share * 1.5) + 10))
        rows = self.kw.get_many([i for i, _ in raw])
        cats = set(categories or ())
        out = []
        for i, cos in raw:
            r = rows.get(i)
            if r is None or (cats and r.category not in cats) or (since is not None and r.created < since):
                continue
            if service and (r.service or "").lower() != service.lower():
                continue
            out.append((i, cos))
        return out[:pool]

    def retrieve(
        self,
        text: str,
        *,
        k: int,
        categories: Sequence[str] | None = None,
        since: dt.datetime | None = None,
        service: str | None = None,
        mode: str = "hybrid",
    ) -> tuple[list[Hit], bool, list[str]]:
        """Ranked hits, whether more matched than ``k``, and warnings."""
        self.ensure_ready()
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is empty: describe what to look for (e.g. 'payments-api 500s after deploy')")
        if mode not in ("hybrid", "keyword", "vector"):
            raise InvalidInput("mode must be hybrid, keyword or vector")
        text = text[:4000]
        warnings: list[str] = []
        ts = _ts(since)
        pool = max(50, 4 * k)
        kw_hits: list[tuple[str, float]] = []
        vec_hits: list[tuple[str, float]] = []
        title_kw: list[tuple[str, float]] = []
        title_vec: list[tuple[str, float]] = []
        title = title_line(text)
        use_keyword = mode in ("hybrid", "keyword")
        emb = None
        if mode in ("hybrid", "vector"):
            emb = self.embedder()
            if emb is None:
                warnings.append(self._vector_problem or "semantic search unavailable: keyword results only")
            elif time.monotonic() - self._vec_failed_at < 30:
                warnings.append(f"vector search unavailable ({self._vec_failure}): keyword results only")
                emb = None
            if emb is None and mode == "vector":
                use_keyword, title = True, None  # the whole text's keyword list stands in

        # Two threads, about equal work (SQLite and onnxruntime release the GIL): this one embeds
        # the text and searches its vector; the other runs the keyword searches and embeds the
        # title line. A hybrid query costs the slower of the two.
        def side_lists():
            found = tfound = []
            if use_keyword:
                found = self.kw.keyword(text, categories=categories, since=ts, service=service, limit=pool)
                if title:
                    tfound = self.kw.keyword(title, categories=categories, since=ts, service=service, limit=pool)
            tvec = None
            if emb is not None and title:
                try:
                    tvec = emb.embed([title])[0]
                except Exception as exc:  # reported with the text's own vector search below
                    tvec = exc
            return found, tfound, tvec

        side = self._pool().submit(side_lists)
        failed = False
        if emb is not None:
            try:
                self._maybe_reload_vectors()
                vec_hits = self._vector_search(emb.embed([text])[0], pool, categories, ts, service)
            except Exception as exc:
                failed = self._vector_failed(exc, warnings)
        kw_hits, title_kw, tvec = side.result()
        if isinstance(tvec, Exception):
            failed = failed or self._vector_failed(tvec, warnings)
        elif tvec is not None and vec_hits and not failed:
            try:
                title_vec = self._vector_search(tvec, pool, categories, ts, service)
            except Exception as exc:
                failed = self._vector_failed(exc, warnings)
        if failed:
            vec_hits, title_vec = [], []
            if mode == "vector":  # the whole text's keyword list stands in
                kw_hits = self.kw.keyword(text, categories=categories, since=ts, service=service, limit=pool)
        # Score fusion: each list's scores as z-scores (how far above that list's mean), weighted
        # and averaged. Chosen on the dev splits of the benchmarks over BM25/best-BM25 + cosine,
        # min-max and reciprocal-rank fusion (bench/RETRIEVAL.md).
        lists = [  # (hits, weight, BM25 or cosine, ranks reported)
            (kw_hits, 1.0 - VECTOR_WEIGHT, True, True),
            (vec_hits, VECTOR_WEIGHT, False, True),
            (title_kw, TITLE_KEYWORD_WEIGHT, True, False),
            (title_vec, TITLE_VECTOR_WEIGHT, False, False),
        ]
        total = sum(w for found, w, _, _ in lists if found) or 1.0
        fused: dict[str, list] = {}  # id -> [score, keyword rank, vector rank, cosine]
        for found, weight, bm25, main in lists:
            scores = [max(s, 0.0) if bm25 else s for _, s in found]
            for rank, ((i, raw), z) in enumerate(zip(found, _zscores(scores)), 1):
                f = fused.setdefault(i, [0.0, None, None, None])
                f[0] += weight / total * z
                if main and bm25:
                    f[1] = rank
                elif main:
                    f[2], f[3] = rank, raw
        order = sorted(fused, key=lambda i: (-fused[i][0], fused[i][1] or 10**6))
        # rows only for the best few (a vector whose file is gone is skipped): reading ~150 rows
        # and their metadata cost a few ms of every query
        hits: list[Hit] = []
        start = 0
        while len(hits) <= k and start < len(order):
            batch = order[start : start + k + 10]
            start += len(batch)
            rows = self.kw.get_many(batch)
            for i in batch:
                if i in rows:
                    sc, kr, vr, cos = fused[i]
                    hits.append(Hit(id=i, score=sc, row=rows[i], keyword_rank=kr, vector_rank=vr, cosine=cos))
        for h in hits:  # reported as a 0-1 relevance, in the same order
            h.score = round(1.0 / (1.0 + math.exp(-h.score)), 4)
        return hits[:k], len(hits) > k, warnings

    def _vector_failed(self, exc: Exception, warnings: list[str]) -> bool:
        # don't pay for a failing vector store on every query: retry in 30 s
        self._vec_failed_at, self._vec_failure = time.monotonic(), str(exc)
        warnings.append(f"vector search failed ({exc}): keyword results only")
        log.warning("vector search failed: %s", exc)
        return True

    def stats(self) -> dict[str, Any]:
        self.ensure_ready()
        emb = self.embedder()
        out: dict[str, Any] = {
            "home": str(self.settings.home),
            "entries": self.kw.count(),
            "by_category": self.kw.categories(),
            "skipped_files": [{"path": p, "reason": r} for p, r in self.kw.skipped()],
            "missing_vectors": len(self.kw.missing_vectors()),
            "semantic": emb is not None,
            "model": (emb.files.source if emb else None),
            "model_id": (self._vector_id(emb) if emb else None),
            "vector_store": self.vectors().location if emb else None,
            "problem": self._vector_problem,
        }
        if emb is not None:
            try:
                out["vectors"] = self.vectors().count()
            except Exception as exc:
                out["vectors"] = None
                out["problem"] = f"vector store unavailable: {exc}"
        return out
