"""The history server through the real MCP client, in memory."""

from __future__ import annotations

import asyncio
import json

from mcp import Client

from tests.conftest import check_snapshot, model_view
from tests.history.conftest import INCIDENTS
from tests.mcp_calls import plain


async def _record_all(c):
    for inc in INCIDENTS:
        r = await c.call_tool("record_incident", inc)
        assert not r.is_error, r.content[0].text


async def test_tools_list_is_small_and_snapshotted(server):
    async with Client(server) as c:
        tools = (await c.list_tools()).tools
    names = {t.name for t in tools}
    assert names == {"capture", "record_incident", "search", "similar_incidents", "recent", "get", "usage_report",
                     "get_timeline"}
    size = len(json.dumps(model_view(tools), separators=(",", ":")))
    assert size < 6000, f"model view of tools/list is {size} bytes"
    for t in tools:
        assert t.annotations is not None and t.annotations.read_only_hint is not None
    assert {t.name for t in tools if t.annotations.read_only_hint} == {"search", "similar_incidents", "recent", "get", "usage_report", "get_timeline"}
    check_snapshot("history", tools)


async def test_similar_incidents_returns_root_cause_resolution_and_links(server):
    async with Client(server) as c:
        await _record_all(c)
        await c.call_tool("record_incident", {"id": "INC-456", "links": {"jira": "https://jira/INC-456"}})
        r = await c.call_tool("similar_incidents", {"text": "payments-api is returning 500s in production", "k": 2})
    assert not r.is_error
    hits = r.structured_content["hits"]
    assert [h["id"] for h in hits][:2] == ["INC-456", "INC-234"] or {h["id"] for h in hits} == {"INC-456", "INC-234"}
    top = plain({h["id"]: h for h in hits}["INC-456"])  # other people's text comes marked: read as a person would
    assert top["root_cause"] == "Database connection pool exhaustion"
    assert top["resolution"] == "Increased pool size from 50 to 100"
    assert top["links"] == {"jira": "https://jira/INC-456"}
    assert top["when"].startswith("2026-11-12") and top["ago"].endswith("ago")
    # the third incident (a disk full on logging) has nothing in common with the text: not a result
    assert r.structured_content["truncated"] is False
    assert r.structured_content["warnings"] == []


async def test_similar_incidents_filters_by_service_and_window(server):
    async with Client(server) as c:
        await _record_all(c)
        r = await c.call_tool("similar_incidents", {"text": "disk full", "service": "payments-api"})
        assert {h["service"] for h in r.structured_content["hits"]} <= {"payments-api"}
        r = await c.call_tool("similar_incidents", {"text": "payments-api errors", "since": "2026-11-01"})
        assert [h["id"] for h in r.structured_content["hits"]] == ["INC-456"]


async def test_record_incident_upserts_by_id_and_keeps_omitted_fields(server, settings):
    async with Client(server) as c:
        r = await c.call_tool("record_incident", {"id": "INC-789", "title": "payments-api-500s", "service": "payments-api", "status": "investigating"})
        assert r.structured_content["created"] is True
        r = await c.call_tool("record_incident", {"id": "INC-789", "status": "resolved", "root_cause": "pool exhaustion", "notes": "Raised the pool to 150."})
        assert r.structured_content["created"] is False
        g = await c.call_tool("get", {"id": "INC-789"})
    data = g.structured_content
    assert data["metadata"]["status"] == "resolved"
    assert data["metadata"]["service"] == "payments-api"
    assert data["metadata"]["root_cause"] == "pool exhaustion"
    assert "Raised the pool to 150." in data["content"]
    files = list((settings.history_dir / "incidents").rglob("INC-789.md"))
    assert len(files) == 1, "an upsert must not create a second file"
    assert files[0].read_text().startswith("---\nid: INC-789\n")


async def test_capture_search_recent_get_round_trip(server):
    async with Client(server) as c:
        r = await c.call_tool("capture", {"category": "learnings", "title": "Spanish: un agua",
                                          "content": "Agua takes 'un' because it starts with a stressed a.",
                                          "metadata": {"tags": ["spanish"]}})
        assert not r.is_error
        eid = r.structured_content["id"]
        assert r.structured_content["path"].startswith("history/learnings/")
        s = await c.call_tool("search", {"text": "stressed a agua", "category": "learnings"})
        assert s.structured_content["hits"][0]["id"] == eid
        rec = await c.call_tool("recent", {"category": "learnings"})
        assert rec.structured_content["entries"][0]["id"] == eid
        assert rec.structured_content["total"] == 1 and rec.structured_content["truncated"] is False
        g = await c.call_tool("get", {"id": eid})
        assert g.structured_content["metadata"]["tags"] == ["spanish"]


async def test_recent_is_bounded_and_says_truncated(server):
    async with Client(server) as c:
        for n in range(5):
            await c.call_tool("capture", {"category": "notes", "title": f"note {n}", "content": "x"})
        r = await c.call_tool("recent", {"category": "notes", "count": 2})
    assert len(r.structured_content["entries"]) == 2
    assert r.structured_content["total"] == 5 and r.structured_content["truncated"] is True


# ------------------------------------------------------------------------------ bad input
async def test_unknown_category_suggests_and_new_category_needs_consent(server):
    async with Client(server) as c:
        r = await c.call_tool("capture", {"category": "incidnets", "title": "t", "content": "c"})
        assert r.is_error and "Did you mean 'incidents'" in r.content[0].text
        assert "create_category=true" in r.content[0].text
        # a read of an unknown category is pointed at the categories there are, not at creating one
        for tool, args in (("recent", {"category": "spanish"}), ("search", {"text": "x", "category": "spanish"})):
            r = await c.call_tool(tool, args)
            assert r.is_error and "unknown category 'spanish'" in r.content[0].text
            assert "create_category" not in r.content[0].text and "leaving category out" in r.content[0].text
        r = await c.call_tool("capture", {"category": "spanish", "title": "t", "content": "c", "create_category": True})
        assert not r.is_error
        r = await c.call_tool("recent", {"category": "spanish"})
        assert r.structured_content["total"] == 1


async def test_path_traversal_in_category_and_id_is_refused(server, settings):
    async with Client(server) as c:
        for bad in ("../../etc", "a/b", "..", "in cidents"):
            r = await c.call_tool("capture", {"category": bad, "title": "t", "content": "c", "create_category": True})
            assert r.is_error and "category" in r.content[0].text, bad
        for bad in ("../passwd", "a/b", "..", ".hidden", "x" * 200):
            r = await c.call_tool("get", {"id": bad})
            assert r.is_error and "is not valid" in r.content[0].text, bad
            r = await c.call_tool("record_incident", {"id": bad, "title": "t"})
            assert r.is_error
    assert not (settings.home.parent / "etc").exists()


async def test_huge_content_is_refused_and_nothing_is_lost(server, settings):
    async with Client(server) as c:
        await _record_all(c)
        r = await c.call_tool("capture", {"category": "notes", "title": "huge", "content": "x" * (settings.max_content_bytes + 1)})
        assert r.is_error and "limit" in r.content[0].text
        r = await c.call_tool("record_incident", {"id": "INC-456", "summary": "y" * (settings.max_content_bytes + 1)})
        assert r.is_error
        g = await c.call_tool("get", {"id": "INC-456"})
        assert plain(g.structured_content["metadata"]["root_cause"]) == "Database connection pool exhaustion"


async def test_invalid_dates_get_a_clear_error(server):
    async with Client(server) as c:
        for args in ({"text": "x", "since": "last tuesday"}, {"text": "x", "since": "2026-13-45"}):
            r = await c.call_tool("similar_incidents", args)
            assert r.is_error and "ISO 8601" in r.content[0].text
        r = await c.call_tool("record_incident", {"id": "INC-1", "title": "t", "started": "yesterday-ish"})
        assert r.is_error and "started" in r.content[0].text


async def test_similar_incidents_searches_every_category_while_no_incident_is_recorded(server):
    async with Client(server) as c:
        r = await c.call_tool("capture", {"category": "bugs", "title": "NameNode crashes on restart after an upgrade",
                                          "content": "edit log replay fails", "create_category": True})
        assert not r.is_error
        r = await c.call_tool("similar_incidents", {"text": "namenode crash on restart"})
        hits = r.structured_content["hits"]
        assert len(hits) == 1 and plain(hits[0]["title"]).startswith("NameNode crashes")
        assert r.structured_content["warnings"] == ["no incidents recorded yet: searched every category instead: bugs (1)"]
        await c.call_tool("record_incident", {"id": "INC-1", "title": "payments-api 500s", "service": "payments-api"})
        r = await c.call_tool("similar_incidents", {"text": "namenode crash on restart"})
        assert hits[0]["id"] not in [h["id"] for h in r.structured_content["hits"]]  # incidents only, once there are some
        assert not r.structured_content["warnings"]


async def test_empty_query_and_unknown_id(server):
    async with Client(server) as c:
        r = await c.call_tool("search", {"text": "   "})
        assert r.is_error and "text is empty" in r.content[0].text
        r = await c.call_tool("get", {"id": "INC-404"})
        assert r.is_error and "use search or recent" in r.content[0].text


async def test_broken_frontmatter_on_disk_is_skipped_and_reported(server, store, settings):
    async with Client(server) as c:
        await _record_all(c)
    bad = settings.history_dir / "incidents" / "2026-11" / "broken.md"
    bad.write_text("---\nid: [unclosed\n---\nbody\n")
    (settings.history_dir / "notes" / "2026-11").mkdir(parents=True)
    (settings.history_dir / "notes" / "2026-11" / "nofront.md").write_text("just text, no frontmatter\n")
    report = store.sync()
    assert {p for p, _ in report.skipped} == {"incidents/2026-11/broken.md", "notes/2026-11/nofront.md"}
    stats = store.stats()
    assert stats["entries"] == 3
    assert len(stats["skipped_files"]) == 2
    async with Client(server) as c:
        r = await c.call_tool("similar_incidents", {"text": "payments-api errors"})
        assert not r.is_error and {h["id"] for h in r.structured_content["hits"]} >= {"INC-456", "INC-234"}
    assert bad.exists(), "a corrupt file is reported, never deleted"


async def test_read_only_mode_drops_writers(settings, store):
    from paii_history.server import build_server

    ro = settings.model_copy(update={"read_only": True})
    async with Client(build_server(ro, store)) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {"search", "similar_incidents", "recent", "get", "usage_report", "get_timeline"}


async def test_keyword_only_when_no_model_says_so(isolated_env, monkeypatch):
    from paii_history.config import HistorySettings
    from paii_history.server import build_server

    settings = HistorySettings.load(home=isolated_env, warmup=False, embeddings="off")
    async with Client(build_server(settings)) as c:
        await _record_all(c)
        r = await c.call_tool("similar_incidents", {"text": "payments-api 500s"})
    assert not r.is_error
    assert r.structured_content["hits"][0]["service"] == "payments-api"
    assert "keyword results only" in r.structured_content["warnings"][0]


async def test_warm_up_starts_only_after_the_handshake(isolated_env):
    """No index or model work before `initialize` is answered; the first message after it
    starts the background warm-up, once."""
    import threading

    from paii_history.config import HistorySettings
    from paii_history.server import build_server
    from paii_history.store import HistoryStore

    calls: list[str] = []
    warmed = threading.Event()

    class Store(HistoryStore):
        def warm(self) -> None:
            calls.append(threading.current_thread().name)
            super().warm()
            warmed.set()

    settings = HistorySettings.load(home=isolated_env, warmup=True, embeddings="off")
    store = Store(settings)
    server = build_server(settings, store)
    assert calls == [] and not (isolated_env / "index").exists()
    async with Client(server) as c:
        await c.list_tools()
        await c.list_tools()
        assert not warmed.is_set()  # not while the handshake traffic is being answered
        assert await asyncio.to_thread(warmed.wait, 10)
    store.close()
    assert calls == ["paii-history-warmup"]
    assert (isolated_env / "index").exists()  # the warm-up opened the index
