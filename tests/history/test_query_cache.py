"""The embedder's vector cache: a repeated text is not embedded again, and a cached vector is
always the one the model gives that text now (never another text's, model's or budget's)."""

from __future__ import annotations

import numpy as np
import pytest

from paii_history.config import HistorySettings
from paii_history.embed import Embedder, VectorCache, find_model
from paii_history.store import HistoryStore


@pytest.fixture
def files(tmp_path, monkeypatch):
    """The model every install has offline (the packaged int8 graph with the bundled tokenizer)."""
    import paii_history.embed as embed

    monkeypatch.setenv("PAII_MODELS_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(embed, "CHROMA_CACHE", tmp_path / "no-chroma")
    found = find_model(None, tmp_path / "home-models")
    assert found is not None
    return found


def _runs(emb: Embedder, monkeypatch) -> list[int]:
    """Counts the model runs of ``emb``."""
    runs = [0]
    real = emb._run

    def counted(session, texts):
        runs[0] += len(texts)
        return real(session, texts)

    monkeypatch.setattr(emb, "_run", counted)
    return runs


def test_a_repeated_text_is_served_from_the_cache_with_the_models_own_vector(files, monkeypatch):
    emb = Embedder(files)
    runs = _runs(emb, monkeypatch)
    text = "payments-api returning 500s in production"
    first = emb.embed([text])
    again = emb.embed([text])
    assert runs[0] == 1 and emb.cache.hits == 1
    fresh = Embedder(files, cache_size=0).embed([text])
    assert np.array_equal(first, fresh) and np.array_equal(again, fresh)


def test_a_changed_text_gets_its_new_vector(files):
    emb, fresh = Embedder(files), Embedder(files, cache_size=0)
    before, after = "redis cache keys expired together", "redis cache keys expired together on checkout"
    emb.embed([before])
    assert np.array_equal(emb.embed([after]), fresh.embed([after]))
    assert not np.array_equal(emb.embed([after]), fresh.embed([before]))


def test_an_edited_entry_is_stored_with_the_vector_of_its_new_text(isolated_env):
    """An incident updated with new notes is embedded again from its new text, not served the
    vector of its earlier text from the cache."""
    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False))
    emb = store.embedder()
    if emb is None:
        pytest.skip("no embedding model")
    store.record_incident("INC-9", {"title": "checkout timeouts", "service": "payments-api"}, notes="pool exhausted")
    table = store.vectors().table
    vec_before = table.read()[1][0].copy()
    store.record_incident("INC-9", {}, notes="then redis evicted the session keys")
    ids, mat, *_ = table.read()
    body = store.kw.body("INC-9")
    expected = Embedder(emb.files, max_tokens=emb.max_tokens, cache_size=0).embed([body])[0]
    assert ids == ["INC-9"] and np.array_equal(mat[0], expected) and not np.array_equal(mat[0], vec_before)
    store.close()


def test_another_token_budget_or_model_never_reads_the_cache_of_another(files):
    text = " ".join(f"word{n}" for n in range(200))  # longer than either budget
    short, long_ = Embedder(files, max_tokens=16), Embedder(files, max_tokens=96)
    a, b = short.embed([text]), long_.embed([text])
    assert not np.array_equal(a, b)
    assert np.array_equal(a, Embedder(files, max_tokens=16, cache_size=0).embed([text]))
    assert np.array_equal(b, Embedder(files, max_tokens=96, cache_size=0).embed([text]))
    assert short.cache is not long_.cache


def test_a_returned_vector_changed_by_its_caller_leaves_the_cache_intact(files):
    emb = Embedder(files)
    text = "disk full on logs-storage-03"
    v = emb.embed([text])
    v *= 0
    assert abs(float(emb.embed([text])[0] @ emb.embed([text])[0]) - 1) < 1e-3


def test_the_cache_is_bounded_and_forgets_the_least_recently_used():
    cache = VectorCache(size=3)
    keys = [cache.key(f"text {n}") for n in range(4)]
    for n, k in enumerate(keys[:3]):
        cache.put(k, np.full(4, n, dtype=np.float32))
    assert cache.get(keys[0]) is not None  # used again: now the most recent
    cache.put(keys[3], np.full(4, 3, dtype=np.float32))
    assert len(cache) == 3 and cache.get(keys[1]) is None
    assert cache.get(keys[0])[0] == 0 and cache.get(keys[3])[0] == 3
    with pytest.raises(ValueError):
        cache.get(keys[0])[0] = 9  # read-only: a caller cannot change what the next one gets


def test_an_embedder_keeps_at_most_its_cache_size_whatever_the_texts(files):
    emb = Embedder(files, cache_size=2)
    for n in range(5):
        emb.embed([f"incident {n}: " + "x" * 10_000])
    assert len(emb.cache) == 2
    emb.embed(["a", "b", "c"])  # a batch (an import) is not kept
    assert len(emb.cache) == 2
