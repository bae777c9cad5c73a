"""The store's sync: bring the keyword and vector indexes in line with the files.

A part of :class:`~paii_history.store.HistoryStore` (it inherits this class). The markdown files
are the source of truth; the index records which version of each file it holds (mtime, size),
so a sync reads only new and changed files and drops deleted ones. A file that cannot be read
as an entry is skipped with its reason (``stats`` lists it, the log says it once per version of
the file), never fatal.

What is an entry: ``<category>/**/<name>.md`` under the history folder. Everything else is not
an entry by design and is passed over without a word: files at the top (a shared repository's
README.md, LICENSE...), ``README*`` anywhere, dotfiles and dot-folders (``.git``), other file
types, top folders whose name cannot be a category, and ``<id>.conflict-<author>.md`` (the other
side's version of an entry changed on both sides, see :mod:`paii_history.gitsync`). A symlink whose real path leaves the history
folder is never followed: it is listed in ``stats`` with the reason.

A running server notices files added, edited or deleted by hand or by ``git pull`` (see
:meth:`SyncMixin.watch`): on a call, at most every ``PAII_HISTORY_WATCH_INTERVAL`` seconds, it
compares the folders' modification times (a few hundred ``stat`` calls) and syncs when one
changed; an edit in place, which changes no folder, is found by a full comparison of the files'
versions that runs in the background at the same pace. Processes that share an index (a team
server's workers, a server and the CLI) share what they saw (:data:`SEEN_STATE`): a folder that
changed only by another one's write, which that one indexed, is not scanned again, and one full
comparison per interval serves them all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paii_history.entries import CATEGORY_RE, CorruptEntry, Entry, read_entry, timestamp
from paii_history.gitsync import is_conflict_file

if TYPE_CHECKING:  # pragma: no cover
    from paii_history.config import HistorySettings
    from paii_history.keyword import KeywordIndex

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, phase)

BACKGROUND_VECTORS = 200  # more missing vectors than this are embedded in the background
SNIPPET_CHARS = 240

Sig = tuple[int, int]  # a file's version: (mtime_ns, size)

#: In the index's state, shared by every process that uses it: each folder's mtime as the index
#: last accounted for it (a sync's scan, or a write that indexed its own file), as JSON.
SEEN_STATE = "seen_dirs"
#: Beside the index, a file whose mtime says when a process last compared every file with it
#: (touched, not written: a call never waits on the index's write lock for it).
LOOKED_FILE = ".full-look"


@dataclass
class Scan:
    """What a walk of the history folder found."""

    files: dict[str, Sig] = field(default_factory=dict)  # entry files: relative path -> version
    refused: dict[str, tuple[Sig, str]] = field(default_factory=dict)  # symlinks leaving the folder, with why
    dirs: dict[str, int] = field(default_factory=dict)  # every folder walked -> its mtime_ns


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
    settings: HistorySettings
    _seen_dirs: dict[str, int]  # folder -> mtime_ns at the last sync (see watch)
    _watched_at: float
    _watch_lock: threading.Lock
    _full_look: threading.Thread | None

    # ------------------------------------------------------------------ what is on disk
    def _scan(self) -> Scan:
        scan = Scan()
        try:
            scan.dirs[""] = os.stat(self.root).st_mtime_ns
        except OSError:
            return scan
        real_root = self.root.resolve()
        stack = [("", str(self.root))]
        while stack:
            rel_dir, folder = stack.pop()
            try:
                it = os.scandir(folder)
            except OSError:
                continue
            with it:
                for e in it:
                    name = e.name
                    if name.startswith(".") or name.lower().startswith("readme"):
                        continue
                    rel = f"{rel_dir}/{name}" if rel_dir else name
                    try:
                        is_dir = e.is_dir()  # follows a symlink: a linked folder is a folder
                        if is_dir and not rel_dir and not CATEGORY_RE.match(name):
                            continue  # not a category: not part of the history
                        if not is_dir and (not rel_dir or not name.endswith(".md") or is_conflict_file(name)):
                            continue  # a file at the top, not markdown, or the other side's version (gitsync)
                        if e.is_symlink():
                            target = Path(e.path).resolve()
                            if not target.is_relative_to(real_root):
                                st = e.stat(follow_symlinks=False)
                                scan.refused[rel] = ((st.st_mtime_ns, st.st_size), (
                                    f"a symlink to {target}, outside the history folder: not read "
                                    f"(PAII reads and writes only inside {self.root}); replace it with a real "
                                    f"{'folder' if is_dir else 'file'}"))
                                continue
                            if is_dir:
                                continue  # a link to a folder inside: that folder is walked where it is
                        st = e.stat()
                    except OSError:  # gone meanwhile, or a dangling link
                        continue
                    if is_dir:
                        scan.dirs[rel] = st.st_mtime_ns
                        stack.append((rel, e.path))
                    else:
                        scan.files[rel] = (st.st_mtime_ns, st.st_size)
        return scan

    def _inside(self, path: Path) -> bool:
        """Whether ``path``'s real location (every symlink resolved) is inside the history folder."""
        return path.resolve().is_relative_to(self.root.resolve())

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
            "notes": entry.notes,
        }

    def sync(self, progress: Progress | None = None, *, vectors: bool = True, background: bool = False,
             wait: bool = True) -> SyncReport | None:
        """Bring the index in line with the files: index new and changed files, drop deleted ones.
        ``wait=False``: return None at once if another process holds the write lock (it is writing)."""
        report = SyncReport()
        with self._write_lock(wait=wait) as held:
            if not held:
                return None
            if not self.kw.text_current():  # an index from before identifier parts: rewrite its text
                self.kw.migrate_text()
            if not self.kw.postings_ready():  # an index from before the postings table
                self.kw.build_postings()
            scan = self._scan()
            on_disk = scan.files
            indexed = self.kw.files()
            was_skipped = self.kw.skipped_files()
            report.scanned = len(on_disk)
            changed = {p for p, sig in on_disk.items() if indexed.get(p) != sig}
            # gone, or now a symlink leaving the folder (one already listed as refused stays listed)
            deleted = [p for p in indexed if p not in on_disk and (p not in scan.refused or p not in was_skipped)]
            if changed or deleted:  # why a file was skipped may have gone with another file (a duplicate id)
                changed |= {p for p in was_skipped if p in on_disk}
            rows: list[dict[str, Any]] = []
            ids_seen: dict[str, str] = {}
            skipped: list[tuple[str, Sig, str]] = [(p, sig, why) for p, (sig, why) in scan.refused.items()]
            total = len(changed)
            for n, rel in enumerate(sorted(changed), 1):
                path = self.root / rel
                try:
                    st = path.stat()
                    entry = read_entry(path, max_bytes=self._max_file_bytes())
                    if entry.category != Path(rel).parts[0]:
                        raise CorruptEntry(f"category {entry.category!r} does not match its folder {Path(rel).parts[0]!r}")
                    other = self.kw.get(entry.id)
                    if (other and other.path != rel and other.path in on_disk) or entry.id in ids_seen:
                        raise CorruptEntry(f"duplicate id {entry.id!r} (also in {other.path if other else ids_seen[entry.id]})")
                    ids_seen[entry.id] = rel
                    rows.append(self._row_for(entry, rel, st))
                    for note in entry.notes if indexed.get(rel) != on_disk[rel] else ():
                        log.warning("history: %s: %s", rel, note)  # once per version of the file
                except (CorruptEntry, OSError) as exc:
                    skipped.append((rel, on_disk[rel], str(exc)))
                if progress and total > 200 and n % 100 == 0:
                    progress(n, total, "files")
            removed_ids = self.kw.delete_paths(deleted) if deleted else []
            for s in range(0, len(rows), 1000):
                self.kw.upsert(rows[s : s + 1000])
            for rel, sig, reason in skipped:
                if was_skipped.get(rel) != (sig, reason):  # said once per version of the file
                    log.warning("history: skipping %s: %s", rel, reason)
                self.kw.mark_skipped(rel, sig, reason)
                report.skipped.append((rel, reason))
            report.indexed = len(rows)
            report.removed = len(removed_ids)
            if vectors:
                if self.embedder() is not None:
                    self._fill_vector_table()
                if removed_ids and self.embedder() is not None:
                    with contextlib.suppress(Exception):
                        self.vectors().delete(removed_ids)
                        self._ml_delete(removed_ids)
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
            self._seen_dirs = scan.dirs
            self._share_seen(scan.dirs, replace=True)
        if vectors and self.ml_wanted() and self.ml_embedder() is not None and self.ml_missing(1):  # e.g. after an upgrade
            self._start_ml_backfill()
        return report

    def _max_file_bytes(self) -> int:
        """The biggest file read as an entry: its content limit and room for a hand-written frontmatter."""
        return self.settings.max_content_bytes + 64 * 1024

    # ------------------------------------------------------------------ noticing changes
    def watch(self) -> None:
        """On a call: notice files added, edited or deleted since the last look (see the module's
        docstring), at most every ``watch_interval`` seconds; 0 syncs on every call."""
        interval = self.settings.watch_interval
        with self._watch_lock:
            now = time.monotonic()
            if interval and now - self._watched_at < interval:
                return
            self._watched_at = now
        if not interval:
            self.sync(background=True)
            return
        if self._dirs_changed():
            if self.sync(background=True, wait=False) is None:
                self._watched_at = -1e9  # a writer holds the lock: look again on the next call
            return
        if (self._full_look is None or not self._full_look.is_alive()) and self._claim_full_look(interval):
            self._full_look = threading.Thread(target=self._look_for_edits, name="paii-history-watch", daemon=True)
            self._full_look.start()

    def _dirs_changed(self) -> bool:
        seen = self._seen_dirs
        changed: dict[str, int] = {}
        for rel, mtime in seen.items():
            try:
                now = os.stat(self.root / rel if rel else self.root).st_mtime_ns
            except OSError:
                return True
            if now != mtime:
                changed[rel] = now
        if not changed:
            return not seen and self.root.is_dir()
        shared = self._shared_seen()
        if any(shared.get(rel) != now for rel, now in changed.items()):
            return True
        # changed by the writes of another process that shares this index, which indexed them
        seen.update(changed)
        for rel, mtime in shared.items():
            seen.setdefault(rel, mtime)  # a folder such a write made
        return False

    def _saw_own_write(self, path: Path) -> None:
        """A write of this process changed these folders: not a change to look for, here or in
        another process sharing the index (the caller holds the write lock)."""
        folder = path.parent
        mine: dict[str, int] = {}
        while folder.is_relative_to(self.root):
            rel = "" if folder == self.root else folder.relative_to(self.root).as_posix()
            with contextlib.suppress(OSError):
                self._seen_dirs[rel] = mine[rel] = os.stat(folder).st_mtime_ns
            if not rel:
                break
            folder = folder.parent
        self._share_seen(mine)

    def _shared_seen(self) -> dict[str, int]:
        import json

        try:
            return json.loads(self.kw.get_state(SEEN_STATE) or "{}")
        except ValueError:
            return {}

    def _share_seen(self, dirs: dict[str, int], *, replace: bool = False) -> None:
        """Record folders' mtimes as accounted for by the index (the caller holds the write lock)."""
        import json

        try:
            self.kw.set_state(SEEN_STATE, json.dumps(dirs if replace else {**self._shared_seen(), **dirs}))
        except Exception as exc:  # never fails a write: other processes scan instead
            log.warning("history: could not record the folders seen: %s", exc)

    def _claim_full_look(self, interval: float) -> bool:
        """False when a process sharing this index compared every file with it within ``interval``;
        else True, having told the others that this one does it now."""
        marker = self.settings.index_dir / LOOKED_FILE
        try:
            if 0 <= time.time() - marker.stat().st_mtime < interval:
                return False
            os.utime(marker)
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                marker.touch()
        except OSError:
            pass  # look anyway
        return True

    def _look_for_edits(self) -> None:
        """Compare every file's version with the index's; sync when one differs (an edit in place).
        Runs in its own thread (see _claim_full_look)."""
        try:
            scan = self._scan()
            indexed = self.kw.files()
            on_disk = scan.files.keys() | scan.refused.keys()
            if any(indexed.get(p) != sig for p, sig in scan.files.items()) or any(p not in on_disk for p in indexed):
                self.sync(background=True, wait=False)
        except Exception as exc:  # never fatal: the next call looks again
            log.warning("history: looking for changed files failed: %s", exc)

    def reindex(self, progress: Progress | None = None, *, vectors: bool = True) -> SyncReport:
        """Rebuild the whole index from the files."""
        with self._write_lock():
            self.kw.clear()
            if vectors and self.embedder() is not None:
                try:
                    self.vectors().wipe()
                except Exception as exc:
                    log.warning("could not clear the vector collection: %s", exc)
                self._ml_wipe()
        return self.sync(progress, vectors=vectors)
