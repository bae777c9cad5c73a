"""The team load run, short (bench/team_load.py runs the real one in `make bench`): 5 clients with
their own tokens over streamable HTTP for 5 s against a server holding 500 entries. No error, and
every capture answered with an id is in the history exactly once. (Keyword search only, to keep the
suite fast; the bench runs with vectors and a Chroma server. No timing is asserted here.)"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from pathlib import Path

from paii_history.config import HistorySettings
from paii_history.server import build_server
from paii_history.store import HistoryStore

from .conftest import serving

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_bench():
    sys.path.insert(0, str(BENCH))  # team_load imports history_scale beside it
    spec = importlib.util.spec_from_file_location("bench_team_load", BENCH / "team_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_five_clients_for_five_seconds_lose_and_duplicate_nothing(tmp_path):
    bench = load_bench()
    home = tmp_path / "home"
    rnd = random.Random(42)
    src = tmp_path / "incidents.jsonl"
    src.write_text("".join(json.dumps(bench.make_entry(i, rnd)) + "\n" for i in range(500)))
    settings = HistorySettings.load(home=home, warmup=False, embeddings="off")
    store = HistoryStore(settings)
    assert store.import_jsonl(src, "incidents").imported == 500
    store.close()
    tokens = bench.make_tokens(tmp_path / "tokens", 5)
    args = argparse.Namespace(clients=5, seconds=5, think_ms=0, capture_every=4, warmup_s=0.5)
    with serving(build_server(settings), tmp_path / "tokens") as url:
        raw = await bench.run_load(url, tokens, args)
    check = bench.count_entries(home, raw["captured"])
    result = bench.summarise(raw, check, args, 500)
    assert result["errors"] == 0, result["first_errors"]
    assert result["similar_incidents_ms"]["calls"] > 0 and result["capture_ms"]["calls"] > 0
    assert not result["lost"] and not result["duplicated"]
    assert result["count_ok"] and check["entries"] == 500 + len(raw["captured"]) == check["files"]
    assert len(set(raw["captured"])) == len(raw["captured"])
