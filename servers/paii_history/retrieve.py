"""The store's retrieval: keyword and vector lists for a text, fused into one ranking.

A part of :class:`~paii_history.store.HistoryStore` (it inherits this class). Retrieval is
hybrid: BM25 over the keyword index (:mod:`paii_history.keyword`) and cosine similarity over
all-MiniLM-L6-v2 vectors (:mod:`paii_history.vectors`), fused as z-scores (see VECTOR_WEIGHT),
with a pasted report's title line searched on its own as well (see title_line). Without a
model it is keyword-only and says so in the warnings.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from paii_common.errors import InvalidInput
from paii_history.entries import timestamp
from paii_history.evidence import (
    CLOSE_MATCH,
    DOUBT_BELOW,
    DOUBT_WEIGHT,
    _rowids,
    DROP_BELOW,
    Evidence,
    exact_title,
    explain,
    full_counts,
    links_to,
    normal,
    same_text,
    word_shares,
)
from paii_history.keyword import DocRow
from paii_history.signals import service_relation, services_named, shared_signature, signature

if TYPE_CHECKING:  # pragma: no cover
    from paii_history.keyword import KeywordIndex

log = logging.getLogger(__name__)

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


RERANK = 200  # the best fused candidates whose evidence is read (the order and score come from it)
SIGNATURE_TOP = 30  # of them, the best whose error signature is read (their text is scanned)
SIGNATURE_CHARS = 2000  # of each: title, service, summary, root cause and resolution come first


@dataclass
class Hit:
    id: str
    score: float  # evidence that the entry matches, 0-1, comparable across queries (see evidence.py)
    row: DocRow
    keyword_rank: int | None = None
    vector_rank: int | None = None
    cosine: float | None = None
    words: float | None = None  # idf-weighted share of the text's words the entry holds
    evidence: Evidence | None = None
    why: str = ""  # what the entry shares with the text, in a few words (explain)

    @property
    def close(self) -> bool:
        return self.score >= CLOSE_MATCH


def separate(hits: list[Hit]) -> None:
    """Scores as shown, to four decimals: two hits of different evidence never show the same number
    (the lower one is set one ten-thousandth under the one above it; it was under it already, by
    less than the rounding). Hits of the same evidence keep the same score."""
    above = None
    for h in hits:
        shown = round(h.score, 4)
        if above is not None and shown >= round(above.score, 4) and h.evidence != above.evidence:
            lower = max(round(above.score, 4) - 0.0001, 0.0)
            if not lower < CLOSE_MATCH <= h.score:  # never across the close-match threshold
                shown = lower
        h.score = shown
        above = h


def words_mode(mode: str, vec_hits) -> bool:
    return mode != "vector" or not vec_hits


#: Two close hits whose scores are this near match about equally: the result says so, and why.
CLOSE_CALL = 0.05


def close_call(hits: Sequence[Hit]) -> str | None:
    """When the best two hits are both close and within CLOSE_CALL of each other: which, and what each
    shares with the text (the first check should not hang on which of the two came first)."""
    if len(hits) < 2 or not hits[1].close or hits[0].score - hits[1].score >= CLOSE_CALL or hits[0].score >= 1.0:
        return None
    a, b = hits[0], hits[1]
    return (f"{a.id} ({a.score:.2f}) and {b.id} ({b.score:.2f}) match about equally. {a.id}: {a.why or 'no detail'}. "
            f"{b.id}: {b.why or 'no detail'}. Weigh both, or search again with the alert or error text.")


def no_close_match(hits: Sequence[Hit]) -> bool:
    """Nothing found is close to the text: say so rather than show the nearest as if it were."""
    return not any(h.close for h in hits)


def _zscores(values: Sequence[float]) -> list[float]:
    """How many standard deviations each value is above the mean of ``values`` (0 when all equal)."""
    if not values:
        return []
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    return [(v - mean) / sd if sd > 1e-9 else 0.0 for v in values]


class RetrievalMixin:
    """``retrieve`` (and its vector search) of a :class:`~paii_history.store.HistoryStore`."""

    kw: KeywordIndex

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
        vectors.EXACT_MAX). Through chroma, whose metadata filter costs ~35 ms at 10k entries while an
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
        ts = timestamp(since)
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
        order = sorted(fused, key=lambda i: (-fused[i][0], fused[i][1] or 10**6))[:RERANK]
        evidence, brief = self._evidence(text, order, fused, vec_hits, service, words=mode != "vector" or not vec_hits,
                                         vectors=bool(vec_hits) and mode != "keyword")
        scored = sorted(((evidence[i].score(), brief[i][2], i) for i in evidence),
                        key=lambda t: (-t[0], -t[1], t[2]))  # recency only breaks exact ties
        best = [i for score, _, i in scored if score >= DROP_BELOW][: k + 1]  # no evidence at all: not shown
        rows = self.kw.get_many(best)
        hits: list[Hit] = []
        for i in best:
            _, kr, vr, cos = fused[i]
            ev = evidence[i]
            if i in rows:
                hits.append(Hit(id=i, score=ev.score(), row=rows[i], keyword_rank=kr, vector_rank=vr, cosine=cos,
                                words=ev.words if words_mode(mode, vec_hits) else None, evidence=ev))
        separate(hits)
        self._explain(text, hits[:k], service)
        return hits[:k], len(hits) > k, warnings

    def _evidence(self, text: str, order: list[str], fused: dict[str, list], vec_hits, service: str | None, *,
                  words: bool, vectors: bool) -> tuple[dict[str, Evidence], dict[str, tuple]]:
        """Each candidate's evidence (evidence.Evidence), and what the index holds of it (kw.brief)."""
        import json

        brief = self.kw.brief(order)
        order = [i for i in order if i in brief]
        held: dict[str, list[str]] = {}
        shares = word_shares(self.kw, text, order, held) if words else {}
        head = title_line(text)
        title_shares = word_shares(self.kw, head, order) if words and head else {}
        cosines = dict(vec_hits)
        floor = min(cosines.values()) if cosines else None  # not in the vector list: at most its last
        named = services_named(text, self.kw.services())
        if service:
            named.add(service.lower())
        sig = signature(text)
        entry_sigs = self._signatures(order[:SIGNATURE_TOP]) if sig else {}
        folded = text.casefold()
        norm_text, norm_head = normal(text), normal(head or "")
        out: dict[str, Evidence] = {}
        for i in order:
            title, svc, _, meta_json = brief[i]
            meta = None
            deps: list = []
            if named and svc and svc.lower() not in named and "depend" in meta_json:
                meta = json.loads(meta_json)
                deps = meta.get("dependencies") or meta.get("depends_on") or []
            same = ((exact_title(norm_text, title, normalised=True) or exact_title(norm_head, title, normalised=True))
                    and self._same_text(norm_text, i, title))
            if not same and (i.casefold() in folded or ("http" in folded and "links" in meta_json)):
                meta = meta if meta is not None else json.loads(meta_json)
                links = meta.get("links") if isinstance(meta.get("links"), dict) else {}
                same = links_to(text, i, links.values())
            out[i] = Evidence(
                fused=fused[i][0], words=shares.get(i, 0.0), title_words=title_shares.get(i, 0.0),
                cosine=(cosines.get(i, floor) if vectors else None),
                service=service_relation(named, svc, deps if isinstance(deps, list) else ()),
                signature=shared_signature(sig, entry_sigs[i]) if i in entry_sigs else 0.0,
                same=bool(same), held=tuple(held.get(i, ())[:4]),
                kind="hybrid" if words and vectors else "vector" if vectors else "keyword",
            )
        best = max((ev.absolute() for ev in out.values()), default=0.0)
        doubt = DOUBT_WEIGHT * max(0.0, DOUBT_BELOW - best)
        full = words and full_counts(self.kw, text)
        for ev in out.values():
            ev.doubt, ev.full = doubt, full
        return out, brief

    def _same_text(self, norm_text: str, entry_id: str, title: str) -> bool:
        """The text is the entry's title and text: as indexed (title, key fields, body) or as written
        (title, body). Read only for an entry whose title is the text's (rare)."""
        if norm_text == normal(self.kw.body(entry_id)):  # the indexed text starts with the title
            return True
        try:
            entry = self.get(entry_id)
        except Exception:  # noqa: BLE001 - a file gone or unreadable is not the same incident
            return False
        return same_text(norm_text, title, entry.body, normalised=True)

    def _explain(self, text: str, hits: list[Hit], service: str | None) -> None:
        """Each hit's ``why``: the service it shares with the text, the failure, the rarest shared words."""
        if not hits:
            return
        named = services_named(text, self.kw.services()) | ({service.lower()} if service else set())
        sig = signature(text)
        sigs = self._signatures([h.id for h in hits]) if sig else {}
        for h in hits:
            h.why = explain(h.evidence, named if h.evidence and h.evidence.service > 0 else set(),
                            sig & sigs.get(h.id, frozenset()), list(h.evidence.held if h.evidence else ()), h.row.service)

    def _signatures(self, ids: list[str]) -> dict[str, frozenset[str]]:
        """The error signature of each entry (its text as indexed: title, key fields, body), remembered
        per version of the entry (its rowid changes with each write)."""
        cache = self.__dict__.setdefault("_sig_cache", {})
        rowids = _rowids(self.kw, ids)
        out, need = {}, []
        for i in ids:
            key = (i, rowids.get(i))
            if key in cache:
                out[i] = cache[key]
            else:
                need.append((i, key))
        if need:
            if len(cache) > 20_000:
                cache.clear()
            bodies = self.kw.bodies([i for i, _ in need])
            for i, key in need:
                out[i] = cache[key] = signature(bodies.get(i, "")[:SIGNATURE_CHARS])
        return out

    def _vector_failed(self, exc: Exception, warnings: list[str]) -> bool:
        # don't pay for a failing vector store on every query: retry in 30 s
        self._vec_failed_at, self._vec_failure = time.monotonic(), str(exc)
        warnings.append(f"vector search failed ({exc}): keyword results only")
        log.warning("vector search failed: %s", exc)
        return True
