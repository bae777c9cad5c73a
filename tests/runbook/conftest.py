from __future__ import annotations

import datetime as dt
import sys
import textwrap
from pathlib import Path

import pytest

from paii_runbook.config import RunbookSettings
from paii_runbook.engine import Engine
from tests.runbook.fakes import FakeKubernetes, FastExecutor, PostgresSandbox

PY = sys.executable

COUNTER = """\
import pathlib, sys
p = pathlib.Path(sys.argv[1])
n = int(p.read_text()) + 1 if p.exists() else 1
p.write_text(str(n))
print(n)
"""

PRINT_ARGS = "import json, sys; print(json.dumps(sys.argv[1:]))"


@pytest.fixture(autouse=True)
def keyword_history(monkeypatch):
    """Runs are recorded in a keyword-only history (the embedding model is not needed to test records)."""
    monkeypatch.setenv("PAII_HISTORY_EMBEDDINGS", "off")


class Harness:
    def __init__(self, home: Path, books: Path, tmp: Path, **settings) -> None:
        self.home, self.books, self.tmp = home, books, tmp
        self.k8s = FakeKubernetes()
        self.settings = RunbookSettings.load(home=home, path=str(books), shipped=False, operator="alice", **settings)
        self.engine = self.new_engine()

    def new_engine(self, now=None) -> Engine:
        """A new engine on the same PAII_HOME (what a restarted server builds)."""
        return Engine(self.settings, FastExecutor(self.settings, self.k8s), now=now)

    def book(self, name: str, text: str) -> Path:
        path = self.books / f"{name}.md"
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def record(self, run_id: str):
        """The run's history entry (it must exist)."""
        return self.engine.history.store().get(run_id)


@pytest.fixture
def h(isolated_env, tmp_path) -> Harness:
    books = tmp_path / "books"
    books.mkdir()
    return Harness(isolated_env, books, tmp_path)


@pytest.fixture
def postgres(tmp_path):
    sandbox = PostgresSandbox(tmp_path / "sandbox")
    yield sandbox
    sandbox.stop()


def later(minutes: float):
    """A clock that many minutes from now (an approval's expiry without waiting for it)."""
    return lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)


__all__ = ["COUNTER", "PRINT_ARGS", "PY", "FakeKubernetes", "Harness", "later"]
