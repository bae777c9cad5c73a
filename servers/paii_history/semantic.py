"""The store's semantic side: the embedding model, the vector index and keeping entries' vectors.

A part of :class:`~paii_history.store.HistoryStore` (it inherits this class). A vector failure
never fails a write: the entry is keyword-searchable at once and gets its vector on the next
sync or in the background backfill. Every vector write bumps ``vec_generation`` in the keyword
index's state, which is how another process knows to read the new rows of the vector table.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from paii_history.vectors import VectorIndex
from paii_history.vectortable import VectorTable

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Future

    from paii_history.config import HistorySettings
    from paii_history.keyword import KeywordIndex
    from paii_history.sync import Progress

log = logging.getLogger(__name__)

EMBED_CHUNK = 256  # entries embedded, then stored in chroma, at a time
# What an entry's vector is of. "-e2": its title and key fields once, then the body, each entry
# embedded alone (before, title and fields came twice and int8 batches mixed: vector-only recall@5
# on dbrd test +3 points). A change here is a new collection: entries re-embed in the background.
VECTOR_TEXT = "-e2"


class SemanticMixin:
    """Model, vectors and backfill of a :class:`~paii_history.store.HistoryStore`."""

    settings: HistorySettings
    kw: KeywordIndex

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
                VectorTable(self.kw).clear()
                self.kw.set_state("vec_model", model_id)
                if self._synced:
                    self._start_backfill()
            # what this process has seen: any later vector write, by any process, is news (see refresh)
            self._vec_generation = self.kw.get_state("vec_generation")
            self._vectors = VectorIndex(
                persist_dir=self.settings.index_dir / "chroma",
                url=self.settings.chroma_url,
                collection=self.settings.chroma_collection,
                model_id=model_id,
                table=VectorTable(self.kw),
            )
        return self._vectors

    def _fill_vector_table(self) -> None:
        """An index from before the vector table (or a team server's from before it kept one): copy
        the vectors chroma holds into it, once; an entry chroma has no vector for is embedded again.
        The caller holds the write lock."""
        if self.kw.get_state("vec_table") == "1":
            return
        have = [r[0] for r in self.kw.db.execute("SELECT id FROM docs WHERE vec=1")]
        if have:
            vi = self.vectors()
            try:
                got = vi.vectors_of(have)
            except Exception as exc:  # chroma unreadable: every entry gets a new vector
                log.warning("history: could not read the stored vectors (%s); entries are embedded again", exc)
                got = {}
            found = [i for i in have if i in got]
            for s in range(0, len(found), 1000):
                vi.table.put(found[s : s + 1000], [got[i] for i in found[s : s + 1000]])
            if len(found) < len(have):
                self.kw.set_vec([i for i in have if i not in got], 0)
            self._bump_generation()
        self.kw.set_state("vec_table", "1")

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
        """Tell every process that the vectors changed (the caller holds the write lock, so this
        process first catches up with the others' writes: it has then seen all of them)."""
        self._maybe_reload_vectors()
        gen = f"{os.getpid()}-{time.time_ns()}"
        self.kw.set_state("vec_generation", gen)
        self._vec_generation = gen

    def _maybe_reload_vectors(self) -> None:
        """Another process (a worker, the CLI) wrote vectors: read what it wrote (see VectorIndex.refresh)."""
        if self._vectors is None:
            return
        gen = self.kw.get_state("vec_generation")
        if gen != self._vec_generation:
            self._vectors.refresh()
            if self.__dict__.get("_ml_vectors") is not None:  # the multilingual vectors share the generation
                self._ml_vectors.refresh()
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
        self._index_ml_after_write([r["id"] for r in rows])  # the multilingual vectors (mlindex.py)
        return done, []
