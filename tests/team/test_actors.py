"""The authenticated name is the actor: writes of servers other than history record the caller."""

from __future__ import annotations

from paii_common import auth
from paii_runbook.server import build_server
from tests.runbook.conftest import Harness
from tests.runbook.fakes import FastExecutor
from tests.runbook.test_engine import FRONT, step

from .conftest import connect, serving


def _harness(isolated_env, tmp_path, monkeypatch) -> Harness:
    monkeypatch.setenv("PAII_HISTORY_EMBEDDINGS", "off")
    books = tmp_path / "books"
    books.mkdir()
    h = Harness(isolated_env, books, tmp_path)  # its settings say operator="alice"
    h.book("order", FRONT + step(1, "run: [echo, one]\ntimeout: 5"))
    return h


async def test_a_runbook_run_over_http_records_the_callers_token_name(isolated_env, tmp_path, monkeypatch, tokens_file):
    h = _harness(isolated_env, tmp_path, monkeypatch)
    carol = auth.add_token(tokens_file, "carol")
    with serving(build_server(h.settings, FastExecutor(h.settings, h.k8s)), tokens_file) as url:
        async with connect(url, carol) as c:
            r = await c.call_tool("start_run", {"name": "order", "dry_run": True})
    assert not r.is_error, r.content[0].text
    assert h.record(r.structured_content["run_id"]).meta["operator"] == "carol", "not PAII_RUNBOOK_OPERATOR, not $USER"


async def test_a_runbook_run_over_http_without_tokens_records_nobody(isolated_env, tmp_path, monkeypatch):
    h = _harness(isolated_env, tmp_path, monkeypatch)
    with serving(build_server(h.settings, FastExecutor(h.settings, h.k8s)), None, no_auth=True) as url:
        async with connect(url, None) as c:
            r = await c.call_tool("start_run", {"name": "order", "dry_run": True})
    assert h.record(r.structured_content["run_id"]).meta["operator"] == "unknown"
    assert h.settings.operator_name() == "alice", "over stdio (outside HTTP) the configured operator again"
