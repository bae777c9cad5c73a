"""Any language (issue 23 item 3): Chinese, Japanese and Korean found by their character bigrams,
Spanish with or without its accents, emoji written to the files as themselves; and the same entry
not saved twice (item 4)."""

from __future__ import annotations

import json
import subprocess

import pytest

from paii_history.config import HistorySettings
from paii_history.store import HistoryStore
from paii_history.text import fold, query_terms
from tests.mcp_calls import call, ok

ENTRIES = [
    {"id": "UNI-1", "title": "支付服务故障", "body": "凌晨数据库连接池耗尽，支付接口500错误持续二十分钟。"},
    {"id": "UNI-2", "title": "Caída de la API de pagos", "body": "La conexión a la base de datos falló: agotamiento del pool de conexiones."},
    {"id": "UNI-3", "title": "決済APIの障害", "body": "データベースの接続プールが枯渇し、タイムアウトが発生した。"},
    {"id": "UNI-4", "title": "결제 API 장애", "body": "데이터베이스 커넥션 풀이 고갈되어 타임아웃이 발생했다."},
    {"id": "UNI-5", "title": "💥 checkout exploded", "body": "The 🔥 alert fired at 02:00; cache stampede on the product pages."},
    {"id": "UNI-6", "title": "orders-api disk full", "body": "The orders database volume filled up overnight."},
]


@pytest.fixture(params=["hybrid", "keyword"])
def lang_store(request, tmp_path):
    extra = {} if request.param == "hybrid" else {"embeddings": "off"}
    store = HistoryStore(HistorySettings.load(home=tmp_path, warmup=False, **extra))
    src = tmp_path / "uni.jsonl"
    src.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in ENTRIES), encoding="utf-8")
    assert store.import_file(src, "incidents").imported == len(ENTRIES)
    yield store
    store.close()


def test_a_cjk_query_is_searched_by_its_character_bigrams():
    assert query_terms("数据库连接池") == ["数据", "据库", "库连", "连接", "接池"]
    assert query_terms("支付接口500错误") == ["支付", "付接", "接口", "500", "错误"]


@pytest.mark.parametrize("text, expected", [
    ("数据库连接池", "UNI-1"),  # a part of 数据库连接池耗尽, which has no spaces around it
    ("接続プール", "UNI-3"),
    ("커넥션", "UNI-4"),  # (a one-syllable word glued to its particle, 풀이, is not found by 풀: bigrams only)
    ("conexión base de datos", "UNI-2"),
    ("conexion agotamiento", "UNI-2"),  # typed without accents
    ("CONEXIÓN", "UNI-2"),
])
def test_chinese_japanese_korean_and_spanish_queries_find_their_entry(lang_store, text, expected):
    hits, _, _ = lang_store.retrieve(text, k=3)
    assert hits and hits[0].id == expected, [(h.id, h.score) for h in hits]
    assert hits[0].close


def test_accents_fold_like_the_index_does():
    assert fold("Conexión ÉXITO ñandú") == "conexion exito nandu"


def test_emoji_are_written_to_the_file_as_themselves_and_read_back(lang_store):
    entry, _ = lang_store.capture("notes", "💥 deploy went boom 🚀", "Body with 🔥 and 数据.", {"tags": ["🔥"]})
    text = entry.path.read_text(encoding="utf-8")
    assert "title: 💥 deploy went boom 🚀" in text and "\\U0001F" not in text and "- 🔥" in text
    found = subprocess.run(["grep", "-rl", "💥", str(lang_store.root)], capture_output=True, text=True).stdout
    assert str(entry.path) in found and "UNI-5" in found  # the imported one too
    again = lang_store.get(entry.id)
    assert again.title == "💥 deploy went boom 🚀" and again.meta["tags"] == ["🔥"]


def test_a_file_written_with_escapes_still_reads(lang_store):
    folder = lang_store.root / "notes" / "2026-01"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "OLD-1.md").write_text('---\nid: OLD-1\ncategory: notes\ntitle: "\\U0001F4A5 old escape"\n'
                                     "created: '2026-01-01T00:00:00Z'\n---\n\nold body\n", encoding="utf-8")
    lang_store.sync()
    assert lang_store.get("OLD-1").title == "💥 old escape"


def test_capture_of_the_same_title_and_text_says_so_and_saves_nothing(lang_store):
    first, _ = lang_store.capture("learnings", "pgbouncer breaks prepared statements", "Disable them in the driver.", {})
    files = sorted(lang_store.root.rglob("*.md"))
    again, warnings = lang_store.capture("learnings", "pgbouncer  breaks prepared statements", "Disable them in the driver.\n", {})
    assert again.id == first.id and any(first.id in w and "same title and text" in w for w in warnings)
    assert sorted(lang_store.root.rglob("*.md")) == files
    third, warnings = lang_store.capture("learnings", "pgbouncer breaks prepared statements", "Disable them in the driver.",
                                         {}, allow_duplicate=True)
    assert third.id != first.id and not [w for w in warnings if "same title" in w]
    other, _ = lang_store.capture("learnings", "pgbouncer breaks prepared statements", "Another text.", {})
    assert other.id not in (first.id, third.id)


def test_import_skips_records_that_repeat_an_entry_unless_asked(lang_store, tmp_path):
    src = tmp_path / "again.jsonl"
    rows = [dict(ENTRIES[5], id="COPY-6"), {"id": "NEW-1", "title": "new one", "body": "x"},
            {"id": "NEW-2", "title": "new one", "body": "x"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = lang_store.import_file(src, "incidents")
    assert (report.imported, report.duplicates) == (1, 2)
    assert any("COPY-6" in w and "UNI-6" in w for w in report.warnings)
    assert lang_store.kw.get("COPY-6") is None and lang_store.kw.get("NEW-2") is None
    report = lang_store.import_file(src, "incidents", allow_duplicates=True)
    assert report.imported == 2 and lang_store.kw.get("COPY-6") is not None


async def test_the_capture_tool_reports_a_duplicate(lang_store):
    from paii_history.server import build_server

    server = build_server(lang_store.settings, lang_store)
    args = {"category": "notes", "title": "same note", "content": "same words"}
    first = ok(await call(server, "capture", args))
    second = ok(await call(server, "capture", args))
    third = ok(await call(server, "capture", args | {"allow_duplicate": True}))
    assert first["created"] is True and second["created"] is False and second["id"] == first["id"]
    assert "same title and text" in second["warnings"][0] and third["id"] != first["id"]


def test_paii_history_add_twice_warns_and_adds_once(lang_store, capsys, monkeypatch):
    from tests.history.cli import run

    monkeypatch.setenv("PAII_HOME", str(lang_store.settings.home))
    args = ("history", "add", "--category", "learnings", "--title", "retry storms", "back off with jitter")
    assert run(capsys, *args).code == 0
    r = run(capsys, *args)
    assert r.code == 0 and "not added" in r.err and "--allow-duplicate" in r.err
    r = run(capsys, *args, "--json")
    assert json.loads(r.out)["added"] is False
    assert json.loads(run(capsys, *args, "--allow-duplicate", "--json").out)["added"] is True
    assert lang_store.kw.db.execute("SELECT count(*) FROM docs WHERE title='retry storms'").fetchone()[0] == 2
