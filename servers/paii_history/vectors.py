"""The vector index: chromadb behind one small interface, and an exact in-memory search.

:class:`VectorIndex` is chromadb, embedded (``PersistentClient`` under ``$PAII_HOME/index``) or a
Chroma server (``PAII_CHROMA_URL``); vectors are computed by PAII and passed in. An embedded
history of up to EXACT_MAX entries, embedded or on a team's Chroma server, is also held as one
matrix (:class:`_Exact`) and searched exactly; the matrix is read from the vector table
(:mod:`paii_history.vectortable`), never from chroma, and follows other processes' writes row by
row (:meth:`VectorIndex.refresh`). Bigger histories are searched through chroma's HNSW query (a
Chroma server's through its REST API, :mod:`paii_history.chromarest`).

Processes that share an embedded collection reach it under a file lock (shared to read,
exclusive to write, :meth:`VectorIndex._guard`): a process that opened the collection while
another wrote to it read a half-written HNSW index ("Error finding id").
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:  # pragma: no cover
    from paii_history.vectortable import VectorTable

log = logging.getLogger(__name__)

#: chromadb keeps one client system per path for the whole process (SharedSystemClient), and
#: creating a client while another thread clears that cache fails ('RustBindingsAPI' object has
#: no attribute 'bindings', or a KeyError on the path): every VectorIndex creates, drops and
#: reaches its client under this one process-wide lock.
_CHROMA_LOCK = threading.RLock()


#: Histories up to this size are searched exactly, in memory (384 floats an entry: 15 MB at 10k),
#: instead of through chroma's approximate HNSW query: on histories of near-identical entries HNSW
#: can miss the one distinct entry outright (an entry with cosine 0.65 to the query, all others
#: under 0.16, was not in chroma's top 400 of 600), a known chromadb behaviour. Scoring every
#: vector costs about a millisecond at 10k; a team server's query to its Chroma server cost ~3 ms
#: of Chroma's CPU and ~1.5 ms of its own (20 clients queue for that CPU). Bigger histories use chroma's query.
EXACT_MAX = 50_000

_BLAS_LIMITED = False


def _one_blas_thread() -> None:
    """numpy's OpenBLAS splits even one matrix-vector product over every core, and its threads spin
    while they wait: scoring 2,000 vectors cost ~11 ms of CPU (and ~15 ms of wall time on a busy
    2-core machine) instead of ~0.4 ms on one thread. A server answers many searches at once, so
    each one product runs on the thread that asked (threadpoolctl; once per process, for BLAS only:
    onnxruntime and chromadb keep their own threads). The same products, the same cosines."""
    global _BLAS_LIMITED
    if not _BLAS_LIMITED:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        _BLAS_LIMITED = True


class VectorIndex:
    """chromadb behind one small interface; the client is created on first use."""

    def __init__(
        self, *, persist_dir: Path, url: str | None, collection: str, model_id: str, table: VectorTable | None = None,
    ) -> None:
        self.persist_dir = persist_dir
        self.table = table  # the vectors exact search reads
        self.url = url
        # embedded: one collection per model, so a model change never mixes vectors; a team's
        # server keeps the configured name and refuses vectors of another model
        self.collection_name = collection if url else f"paii-history-{model_id}"
        self.model_id = model_id
        self._client = None
        self._col = None
        self._rest = None  # a Chroma server's queries (chromarest.ChromaRest), for the collection _col
        self._lock = _CHROMA_LOCK
        # the exact matrix has a lock of its own: a search never waits for chroma's I/O (a write
        # holds _CHROMA_LOCK for its whole upsert: 20 clients' searches stalled behind each capture)
        self._exact_lock = threading.RLock()
        self._exact: _Exact | None = None  # the embedded collection's vectors, for exact search
        self._seen: tuple[int, str] = (0, "")  # the table's last row and epoch that _exact holds
        self._too_big = False
        self._guard_depth = 0

    @contextlib.contextmanager
    def _guard(self, *, write: bool) -> Iterator[None]:
        """Reach an embedded collection under the process-wide lock and a file lock shared by every
        process (shared to read, exclusive to write). A Chroma server needs neither: its HTTP client
        is opened under the lock (:meth:`_collection`) and then serves threads in parallel, so a
        team server's searches do not queue behind each other or behind a capture's upsert."""
        if self.url:
            yield
            return
        with self._lock:
            if self._guard_depth:
                self._guard_depth += 1
                try:
                    yield
                finally:
                    self._guard_depth -= 1
                return
            self.persist_dir.parent.mkdir(parents=True, exist_ok=True)
            with open(self.persist_dir.parent / ".chroma.lock", "a+") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
                self._guard_depth = 1
                try:
                    yield
                finally:
                    self._guard_depth = 0
                    fcntl.flock(fh, fcntl.LOCK_UN)

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

    def refresh(self) -> None:
        """Another process wrote vectors: the exact matrix reads the rows written since it was
        read (all of them after a delete), chroma's client is opened anew for its own queries."""
        if self.table is None or self._too_big:  # searched through chroma: a new client sees the writes
            self.reload()
            return
        with self._exact_lock:
            if self._exact is None:  # not read yet: the first search reads everything
                return
            after, epoch = self._seen
            ids, mat, fields, last, now_epoch = self.table.read(after)
            if now_epoch != epoch:  # something was deleted: read everything again
                self._exact = None
                return
            gone = [i for i, f in zip(ids, fields) if f is None]
            keep = [j for j, f in enumerate(fields) if f is not None]
            if keep:
                self._exact.upsert([ids[j] for j in keep], mat[keep], [fields[j] for j in keep])
            if gone:
                self._exact.delete(gone)
            self._seen = (last, epoch)
            if len(self._exact.ids) > EXACT_MAX:
                self._exact, self._too_big = None, True

    def reload(self) -> None:
        """Forget the cached client and matrix so the next call reads what another process wrote."""
        with self._lock:
            self._col = None
            self._client = None
            self._rest = None
            with self._exact_lock:
                self._exact, self._too_big = None, False
            if not self.url:
                try:
                    from chromadb.api.client import SharedSystemClient

                    SharedSystemClient.clear_system_cache()
                except Exception:  # pragma: no cover - best effort
                    pass

    def upsert(self, ids: Sequence[str], vectors, metadatas: Sequence[dict[str, Any]]) -> None:
        with self._guard(write=True):
            col = self._collection()
            step = 4000
            for s in range(0, len(ids), step):
                col.upsert(ids=list(ids[s : s + step]), embeddings=vectors[s : s + step], metadatas=list(metadatas[s : s + step]))
        if self.table is not None:
            self.table.put(ids, vectors)
        with self._exact_lock:
            if self._exact is not None:
                self._exact.upsert(ids, vectors, metadatas)
                self._too_big = len(self._exact.ids) > EXACT_MAX
                if self._too_big:
                    self._exact = None

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            with self._guard(write=True):
                self._collection().delete(ids=list(ids))
            if self.table is not None:
                self.table.delete(ids)
            with self._exact_lock:
                if self._exact is not None:
                    self._exact.delete(ids)

    def count(self) -> int:
        with self._guard(write=False):
            return self._collection().count()

    def wipe(self) -> None:
        with self._guard(write=True):
            self._collection()
            self._client.delete_collection(self.collection_name)
            self._col = self._rest = None
            with self._exact_lock:
                self._exact, self._too_big = None, False
        if self.table is not None:
            self.table.clear()

    def vectors_of(self, ids: Sequence[str]) -> dict[str, Any]:
        """The stored vectors of these entries, from chroma (how an index from before the vector table fills it)."""
        out: dict[str, Any] = {}
        with self._guard(write=False):
            col = self._collection()
            for s in range(0, len(ids), 1000):
                got = col.get(ids=list(ids[s : s + 1000]), include=["embeddings"])
                out.update(zip(got["ids"], got["embeddings"]))
        return out

    def prepare(self) -> None:
        """Open the collection and, for exact search, read its vectors (the warm-up calls this)."""
        self._exact_index()

    def _exact_index(self) -> _Exact | None:
        if self.table is None:
            return None
        with self._exact_lock:
            if self._exact is None and not self._too_big:
                if self.table.count() > EXACT_MAX:
                    self._too_big = True
                    return None
                ids, mat, fields, last, epoch = self.table.read()
                exact = _Exact()
                if ids:
                    exact.upsert(ids, mat, fields)
                self._exact, self._seen = exact, (last, epoch)
                # the snapshot file of PAII versions before the vector table: not read any more
                with contextlib.suppress(OSError):
                    (self.persist_dir.parent / f"vectors-{self.collection_name}.npz").unlink()
            return self._exact

    def search(
        self, vector, n: int, categories: Sequence[str] | None = None, since: float | None = None, service: str | None = None
    ) -> list[tuple[str, float]] | None:
        """Exact nearest neighbours within the filters, (id, cosine) best first; None when this
        index is searched through chroma instead (a team server, or more than EXACT_MAX entries)."""
        exact = self._exact_index()
        if exact is None:
            return None
        with self._exact_lock:  # the arrays of this moment (an upsert replaces them, never edits them)
            mat, ids, cats, created, services = exact.mat, exact.ids, exact.cats, exact.created, exact.services
        if not ids:
            return []
        import numpy as np

        _one_blas_thread()
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
        if self.url:
            return self.query_many([vector], n, where)[0]
        with self._guard(write=False):
            col = self._collection()
            if not self.url:  # a Chroma server answers n_results above its count with what it has: no count() round trip
                total = col.count()
                if total == 0:
                    return []
                n = min(n, total)
            res = col.query(query_embeddings=[vector], n_results=n, where=where or None, include=["distances"])
        ids = res["ids"][0]
        dists = res["distances"][0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=True)]


    def query_many(self, vectors, n: int, where: dict[str, Any] | None = None) -> list[list[tuple[str, float]]]:
        """A Chroma server's neighbours of each vector, in one request to its REST API (see
        :mod:`paii_history.chromarest`); a collection deleted meanwhile is opened anew, once."""
        from paii_history.chromarest import CollectionGone

        for attempt in (0, 1):
            rest = self._rest
            if rest is None:
                from paii_history.chromarest import ChromaRest

                with self._lock:
                    col = self._collection()
                    rest = self._rest = ChromaRest(self.url, self._client.tenant, self._client.database, str(col.id))
            try:
                return rest.query(vectors, n, where)
            except CollectionGone:
                if attempt:
                    raise
                self.reload()  # another server re-created it (`paii history reindex`): its new id
        raise AssertionError("unreachable")  # pragma: no cover


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
