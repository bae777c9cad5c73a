"""The vectors of an embedded history, in the keyword index's SQLite file: what exact search reads.

chromadb's embedded mode is not safe across processes: a process that opens the collection
while another writes to it reads a half-written HNSW index ("Error executing plan: Internal
error: Error finding id"; issue 10: 75% of a reader's answers fell back to keywords while a
second session captured). SQLite in WAL mode is: every vector written to chroma is also kept
here, one row per entry with a sequence number that grows with every write, so a process
that learns another one wrote (``vec_generation`` in the index's state) reads only the rows
after the last one it saw. Deletions change ``vec_epoch``, after which a reader reads all again.

Chroma keeps the vectors too: its HNSW query serves histories over EXACT_MAX and team servers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from paii_history.keyword import KeywordIndex

#: what the rows of one read are: ids, a float32 matrix, each row's filter fields, the last sequence number, the epoch
Read = tuple[list[str], Any, list[dict[str, Any] | None], int, str]


class VectorTable:
    #: the table and the state key of its epoch: a second model's vectors have their own (multilingual.py)
    name = "vectors"
    epoch_key = "vec_epoch"

    def __init__(self, kw: KeywordIndex) -> None:
        self.kw = kw

    def put(self, ids: Sequence[str], vectors) -> None:
        import numpy as np

        vecs = np.asarray(vectors, dtype=np.float32)
        db = self.kw.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(f"INSERT OR REPLACE INTO {self.name}(id, vec) VALUES (?, ?)",
                           ((i, vecs[j].tobytes()) for j, i in enumerate(ids)))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def delete(self, ids: Sequence[str]) -> None:
        self._drop(f"DELETE FROM {self.name} WHERE id=?", [(i,) for i in ids])

    def clear(self) -> None:
        self._drop(f"DELETE FROM {self.name}", None)

    def _drop(self, sql: str, args: list | None) -> None:
        db = self.kw.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if args is None:
                db.execute(sql)
            else:
                db.executemany(sql, args)
            db.execute("INSERT OR REPLACE INTO state(key, value) VALUES (?, ?)", (self.epoch_key, f"{os.getpid()}-{time.time_ns()}"))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def count(self) -> int:
        return int(self.kw.db.execute(f"SELECT count(*) FROM {self.name}").fetchone()[0])

    def read(self, after: int = 0) -> Read:
        """The rows written after sequence number ``after`` (0: all) of entries that exist, with
        their filter fields (None for a row whose entry is gone), in one read transaction."""
        import numpy as np

        db = self.kw.db
        db.execute("BEGIN")
        try:
            rows = db.execute(
                f"SELECT v.seq, v.id, v.vec, d.category, d.created, d.service FROM {self.name} v"
                f" {'LEFT ' if after else ''}JOIN docs d ON d.id = v.id WHERE v.seq > ? ORDER BY v.seq", (after,)
            ).fetchall()
            epoch = db.execute("SELECT value FROM state WHERE key=?", (self.epoch_key,)).fetchone()
            last = db.execute(f"SELECT max(seq) FROM {self.name}").fetchone()[0] or 0
        finally:
            db.execute("COMMIT")
        ids = [r[1] for r in rows]
        mat = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1) if rows else None
        fields = [
            None if r[3] is None else {"category": r[3], "created": r[4]} | ({"service": str(r[5]).lower()} if r[5] else {})
            for r in rows
        ]
        return ids, mat, fields, max(last, after), epoch[0] if epoch else ""
