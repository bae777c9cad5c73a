"""The keyword rankings of a generated history hash to the value in bench/ranking_fingerprint.json:
a change to how the history ranks (text, tokens, BM25, evidence, the score) shows up here, and the
expected value is updated on purpose (``python bench/ranking_fingerprint.py --entries 600 --queries
80 --modes keyword --update``), with the reason in the commit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_the_keyword_rankings_match_the_recorded_fingerprint(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("PAII_HOME", str(tmp_path))
    sys.modules.pop("ranking_fingerprint", None)
    import ranking_fingerprint

    total, _, _, _ = ranking_fingerprint.fingerprint(tmp_path, 600, 80, ("keyword",))
    expected = json.loads((BENCH / "ranking_fingerprint.json").read_text())["keyword 600x80"]
    assert total == expected, "the ranking changed: if on purpose, update bench/ranking_fingerprint.json (see above)"
