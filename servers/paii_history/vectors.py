"""The vector index: chromadb behind one small interface, and an exact in-memory snapshot of it.

:class:`VectorIndex` is chromadb, embedded (``PersistentClient`` under ``$PAII_HOME/index``) or a
Chroma server (``PAII_CHROMA_URL``); vectors are computed by PAII and passed in. An embedded
collection of up to EXACT_MAX entries is also held as one matrix (:class:`_Exact`) and searched
exactly, and that matrix is cached beside it as a snapshot file (``vectors-*.npz``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger(__name__)

#: chromadb keeps one client system per path for the whole process (SharedSystemClient), and
#: creating a client while another thread clears that cache fails ('RustBindingsAPI' object has
#: no attribute 'bindings', or a KeyError on the path): every VectorIndex creates, drops and
#: reaches its client under this one process-wide lock.
_CHROMA_LOCK = threading.RLock()


#: Embedded histories up to this size are searched exactly, in memory (384 floats an entry: 15 MB
#: at 10k), instead of through chroma's approximate HNSW query: on histories of near-identical
#: entries HNSW can miss the one distinct entry outright (an entry with cosine 0.65 to the query,
#: all others under 0.16, was not in chroma's top 400 of 600), a known chromadb behaviour.
#: Scoring every vector costs about a millisecond at 10k. Bigger histories and team servers use chroma's query.
EXACT_MAX = 50_000


class VectorIndex:
    """chromadb behind one small interface; the client is created on first use."""

    def __init__(
        self, *, persist_dir: Path, url: str | None, collection: str, model_id: str,
        fields: Callable[[], dict[str, dict[str, Any]]] | None = None,
        stamp: Callable[[], str | None] | None = None,
    ) -> None:
        self.persist_dir = persist_dir
        self._fields = fields  # the filter fields of every entry, read faster than chroma's metadata
        self._stamp = stamp  # changes with every vector write, in any process: says when a snapshot is stale
        self.url = url
        # embedded: one collection per model, so a model change never mixes vectors; a team's
        # server keeps the configured name and refuses vectors of another model
        self.collection_name = collection if url else f"paii-history-{model_id}"
        self.model_id = model_id
        self._client = None
        self._col = None
        self._lock = _CHROMA_LOCK
        self._exact: _Exact | None = None  # the embedded collection's vectors, for exact search
        self._too_big = False

    @property
    def location(self) -> str:
        return self.url or str(self.persist_dir)

    def _collection(self):
        with self._lock:
            if self._col is None:
                import chromadb
                from chromadb.config import Settings

                settings = Settings(anonymized_telemetry=False, allow_reset=False)
                if self.url:
                    u = urlparse(self.url)
                    self._client = chromadb.HttpClient(
                        host=u.hostname or "localhost",
                        port=u.port or (443 if u.scheme == "https" else 8000),
                        ssl=u.scheme == "https",
                        settings=settings,
                    )
                else:
                    if not (self.persist_dir / "chroma.sqlite3").exists():
                        # chromadb caches one system per path in a process; a folder deleted under
                        # it (the index was wiped) must not be served from that stale cache
                        from chromadb.api.client import SharedSystemClient

                        SharedSystemClient.clear_system_cache()
                    self.persist_dir.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(path=str(self.persist_dir), settings=settings)
                col = self._client.get_or_create_collection(
                    self.collection_name,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"model": self.model_id, "paii": "history"},
                    embedding_function=None,
                )
                stored = (col.metadata or {}).get("model")
                if stored and stored != self.model_id:
                    raise RuntimeError(
                        f"the vector collection {self.collection_name!r} holds {stored} vectors but this machine "
                        f"embeds with {self.model_id}; set PAII_HISTORY_CHROMA_COLLECTION to a new name or run `paii history reindex` to rebuild it"
                    )
                self._col = col
            return self._col

    def reload(self) -> None:
        """Forget the cached client so the next call reads what another process wrote."""
        with self._lock:
            self._col = None
            self._client = None
            self._exact, self._too_big = None, False
            if not self.url:
                try:
                    from chromadb.api.client import SharedSystemClient

                    SharedSystemClient.clear_system_cache()
                except Exception:  # pragma: no cover - best effort
                    pass

    def upsert(self, ids: Sequence[str], vectors, metadatas: Sequence[dict[str, Any]]) -> None:
        col = self._collection()
        step = 4000
        for s in range(0, len(ids), step):
            col.upsert(ids=list(ids[s : s + step]), embeddings=vectors[s : s + step], metadatas=list(metadatas[s : s + step]))
        with self._lock:
            if self._exact is not None:
                self._exact.upsert(ids, vectors, metadatas)
                self._too_big = len(self._exact.ids) > EXACT_MAX
                if self._too_big:
                    self._exact = None

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._collection().delete(ids=list(ids))
            with self._lock:
                if self._exact is not None:
                    self._exact.delete(ids)

    def count(self) -> int:
        return self._collection().count()

    def wipe(self) -> None:
        self._collection()
        with self._lock:
            self._client.delete_collection(self.collection_name)
            self._col = None
            self._exact, self._too_big = None, False

    def prepare(self) -> None:
        """Open the collection and, for exact search, read its vectors (the warm-up calls this)."""
        self._exact_index()

    def _exact_index(self) -> _Exact | None:
        if self.url:
            return None
        with self._lock:
            if self._exact is None and not self._too_big:
                stamp = self._stamp() if self._stamp and self._fields else None
                if stamp and (exact := self._read_snapshot(stamp)) is not None:
                    self._exact = exact
                    return exact
                col = self._collection()
                total = col.count()
                if total > EXACT_MAX:
                    self._too_big = True
                    return None
                exact = _Exact()
                fields = self._fields() if self._fields else None
                page = 5000
                for offset in range(0, total, page):
                    got = col.get(include=["embeddings"] if fields is not None else ["embeddings", "metadatas"],
                                  limit=page, offset=offset)
                    metas = [fields.get(i) for i in got["ids"]] if fields is not None else got["metadatas"]
                    exact.upsert(got["ids"], got["embeddings"], metas)
                self._exact = exact
                if stamp:
                    self._write_snapshot(exact, stamp)
            return self._exact

    # A snapshot of the embedded collection's vectors (one .npy-in-.npz file beside it), valid while
    # no vector has been written since: a new process reads it in milliseconds, without importing
    # chromadb or paging 10k vectors out of it (~2 s), which is most of a one-shot `paii history similar`.
    @property
    def _snapshot_path(self) -> Path:
        return self.persist_dir.parent / f"vectors-{self.collection_name}.npz"

    def _read_snapshot(self, stamp: str) -> _Exact | None:
        import numpy as np

        try:
            with np.load(self._snapshot_path, allow_pickle=False) as z:
                if str(z["stamp"]) != stamp:
                    return None
                mat, ids = z["mat"], [str(i) for i in z["ids"]]
        except (OSError, KeyError, ValueError):  # none yet, or unreadable: chroma is the source
            return None
        fields = self._fields() if self._fields else {}
        exact = _Exact()
        exact.upsert(ids, mat, [fields.get(i) for i in ids])
        return exact

    def _write_snapshot(self, exact: _Exact, stamp: str) -> None:
        import io

        import numpy as np

        from paii_history.entries import atomic_write

        buf = io.BytesIO()
        np.savez(buf, mat=exact.mat, ids=np.array(exact.ids, dtype=str), stamp=np.array(stamp))
        try:
            atomic_write(self._snapshot_path, buf.getvalue())
        except OSError as exc:  # a cache: searching works without it
            log.warning("history: could not write the vector snapshot: %s", exc)

    def search(
        self, vector, n: int, categories: Sequence[str] | None = None, since: float | None = None, service: str | None = None
    ) -> list[tuple[str, float]] | None:
        """Exact nearest neighbours within the filters, (id, cosine) best first; None when this
        index is searched through chroma instead (a team server, or more than EXACT_MAX entries)."""
        exact = self._exact_index()
        if exact is None:
            return None
        with self._lock:  # the arrays of this moment (an upsert replaces them, never edits them)
            mat, ids, cats, created, services = exact.mat, exact.ids, exact.cats, exact.created, exact.services
        if not ids:
            return []
        import numpy as np

        scores = mat @ np.asarray(vector, dtype=np.float32)
        keep = np.ones(len(ids), dtype=bool)
        if categories:  # object arrays: == per value is much cheaper than np.isin's sort
            in_cats = np.zeros(len(ids), dtype=bool)
            for c in set(categories):
                in_cats |= cats == c
            keep &= in_cats
        if since is not None:
            keep &= created >= since
        if service:
            keep &= services == service.lower()
        idx = np.flatnonzero(keep)
        if len(idx) > n:
            idx = idx[np.argpartition(-scores[idx], n - 1)[:n]]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [(ids[i], float(scores[i])) for i in idx]

    def query(self, vector, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """(id, cosine similarity) best first."""
        col = self._collection()
        total = col.count()
        if total == 0:
            return []
        res = col.query(query_embeddings=[vector], n_results=min(n, total), where=where or None, include=["distances"])
        ids = res["ids"][0]
        dists = res["distances"][0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=True)]


class _Exact:
    """The vectors of an embedded collection as one matrix, with the metadata filters need."""

    def __init__(self) -> None:
        import numpy as np

        self.mat = np.zeros((0, 0), dtype=np.float32)
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.cats = np.array([], dtype=object)
        self.created = np.array([], dtype=np.float64)
        self.services = np.array([], dtype=object)

    def upsert(self, ids: Sequence[str], vectors, metadatas: Sequence[dict[str, Any] | None]) -> None:
        import numpy as np

        if not len(ids):
            return
        vecs = np.asarray(vectors, dtype=np.float32)
        # (category, created, service) of each: what the filters compare
        fields = [((m or {}).get("category"), float((m or {}).get("created") or 0.0), (m or {}).get("service")) for m in metadatas]
        mat = self.mat if self.mat.size else np.zeros((0, vecs.shape[1]), dtype=np.float32)
        mat, cats, created, services = mat.copy(), self.cats.copy(), self.created.copy(), self.services.copy()
        ids_out, pos = list(self.ids), dict(self.pos)
        new = [j for j, i in enumerate(ids) if i not in pos]
        for j, i in enumerate(ids):
            if i in pos:
                p = pos[i]
                mat[p] = vecs[j]
                cats[p], created[p], services[p] = fields[j]
        if new:
            mat = np.vstack([mat, vecs[new]])
            cats = np.concatenate([cats, np.array([fields[j][0] for j in new], dtype=object)])
            created = np.concatenate([created, np.array([fields[j][1] for j in new])])
            services = np.concatenate([services, np.array([fields[j][2] for j in new], dtype=object)])
            for j in new:
                pos[ids[j]] = len(ids_out)
                ids_out.append(ids[j])
        self.mat, self.ids, self.pos, self.cats, self.created, self.services = mat, ids_out, pos, cats, created, services

    def delete(self, ids: Sequence[str]) -> None:
        import numpy as np

        gone = {self.pos[i] for i in ids if i in self.pos}
        if not gone:
            return
        keep = np.array([p not in gone for p in range(len(self.ids))], dtype=bool)
        self.ids = [i for p, i in enumerate(self.ids) if p not in gone]
        self.pos = {i: p for p, i in enumerate(self.ids)}
        self.mat, self.cats, self.created, self.services = self.mat[keep], self.cats[keep], self.created[keep], self.services[keep]
