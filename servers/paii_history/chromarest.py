"""A team's nearest-neighbour queries, straight to the Chroma server's REST API.

A team server asks its Chroma server for the neighbours of one or two vectors on every
``similar_incidents`` call. chromadb's ``HttpClient`` spends ~1.6 ms of CPU a query around the
request (its validation, tracing and httpx layers); this sends the same request that client
sends (``POST /api/v2/tenants/{tenant}/databases/{database}/collections/{id}/query``, the body
it builds) on a kept-alive connection per thread, ~0.35 ms (bench/README.md, "team load").
Everything else (opening the collection, checking its model, writes, counts) stays with
chromadb's client (:mod:`paii_history.vectors`), which also says which collection id to query.

The connection goes to the host and port of ``PAII_CHROMA_URL`` itself (no HTTP proxy; https
verifies the server's certificate against the system's CAs). A connection the server closed is
opened again once; any other failure raises :class:`ChromaQueryError` (the caller falls back to
keyword search and says so), :class:`CollectionGone` when the collection no longer exists.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlparse

API = "/api/v2"
TIMEOUT_S = 60.0  # chromadb's own query timeout (chroma_query_request_timeout_seconds)


class ChromaQueryError(RuntimeError):
    """The Chroma server did not answer a query (the message says what it said, never a secret)."""


class CollectionGone(ChromaQueryError):
    """The collection was deleted (or re-created with a new id) since it was opened."""


class ChromaRest:
    """Queries of one collection on one Chroma server; safe to use from many threads."""

    def __init__(self, url: str, tenant: str, database: str, collection_id: str) -> None:
        u = urlparse(url)
        self.https = u.scheme == "https"
        self.host = u.hostname or "localhost"
        self.port = u.port or (443 if self.https else 8000)
        self.path = (f"{API}/tenants/{quote(tenant, safe='')}/databases/{quote(database, safe='')}"
                     f"/collections/{quote(str(collection_id), safe='')}/query")
        self._local = threading.local()

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            if self.https:
                import ssl

                conn = http.client.HTTPSConnection(self.host, self.port, timeout=TIMEOUT_S,
                                                   context=ssl.create_default_context())
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
            self._local.conn = conn
        return conn

    def _post(self, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        for attempt in (0, 1):
            conn = self._connection(fresh=attempt == 1)
            try:
                conn.request("POST", self.path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                conn.close()  # a kept-alive connection the server had closed: once more on a new one
                if attempt:
                    raise ChromaQueryError(f"the Chroma server at {self.host}:{self.port} closed the connection") from None
            except OSError as exc:
                conn.close()
                raise ChromaQueryError(f"the Chroma server at {self.host}:{self.port} is unreachable "
                                       f"({type(exc).__name__}: {exc})") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def query(self, vectors: Sequence[Any], n: int, where: dict[str, Any] | None = None) -> list[list[tuple[str, float]]]:
        """For each vector, (id, cosine similarity) best first: one request for all of them."""
        body = json.dumps({
            "query_embeddings": [[float(x) for x in v] for v in vectors],
            "n_results": int(n),
            "where": where or None,
            "include": ["distances"],
        }).encode()
        status, raw = self._post(body)
        if status != 200:
            raise _error(status, raw)
        got = json.loads(raw)
        return [[(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=True)]
                for ids, dists in zip(got["ids"], got["distances"], strict=True)]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _error(status: int, raw: bytes) -> ChromaQueryError:
    """What the server said: Chroma answers errors as {"error": "NotFoundError", "message": "..."}."""
    try:
        said = json.loads(raw)
        kind, message = str(said.get("error", "")), str(said.get("message", ""))[:300]
    except (ValueError, AttributeError):
        kind, message = "", raw[:300].decode("utf-8", "replace")
    if status == 404 or kind == "NotFoundError":
        return CollectionGone(f"the Chroma collection is gone ({status} {kind}: {message})")
    return ChromaQueryError(f"the Chroma server answered {status} {kind}: {message}".rstrip(": "))
