"""Every field a writer stores has a limit, and every answer stays small whatever is stored."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from paii_common.errors import InvalidInput
from paii_history import limits
from tests.mcp_calls import plain

BIG = 200_000


async def test_a_200k_character_title_is_refused_by_the_tool(server):
    async with Client(server) as c:
        r = await c.call_tool("record_incident", {"id": "INC-1", "title": "x" * BIG})
        assert r.is_error and "300" in r.content[0].text
        r = await c.call_tool("recent", {})
        assert r.structured_content["total"] == 0, "nothing was stored"


async def test_every_text_field_of_the_writers_has_a_limit_in_its_schema(server):
    async with Client(server) as c:
        tools = {t.name: t.input_schema for t in (await c.list_tools()).tools}
    for name in ("capture", "record_incident"):
        for arg, schema in tools[name]["properties"].items():
            options = schema.get("anyOf", [schema])
            for opt in options:
                if opt.get("type") == "string":
                    assert "maxLength" in opt or "up to" in schema.get("description", ""), (name, arg)
                if opt.get("type") == "array":
                    assert "maxItems" in opt and "maxLength" in opt["items"], (name, arg)
                if opt.get("type") == "object":
                    assert "maxProperties" in opt, (name, arg)


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "t" * (limits.TITLE + 1)), ("service", "s" * (limits.SERVICE + 1)), ("severity", "S" * 65),
     ("status", "x" * 65), ("summary", "y" * (limits.FIELD + 1)), ("root_cause", "r" * (limits.FIELD + 1)),
     ("resolution", "z" * (limits.FIELD + 1)), ("tags", ["t"] * (limits.TAGS + 1)), ("tags", ["t" * 65]),
     ("links", {f"l{i}": "https://x" for i in range(limits.LINKS + 1)}), ("links", {"jira": "h" * (limits.LINK + 1)})],
)
def test_the_store_refuses_oversized_incident_fields_for_every_writer(store, field, value):
    """The CLI and scripts call the store directly: the same limits hold there."""
    fields = {"title": "payments-api 500s", field: value}
    with pytest.raises(InvalidInput, match="limit|at most"):
        store.record_incident("INC-2", fields)
    assert store.kw.count() == 0


def test_capture_refuses_a_long_title_and_large_metadata(store):
    with pytest.raises(InvalidInput, match="300"):
        store.capture("notes", "t" * 301, "c")
    with pytest.raises(InvalidInput, match="16 KB"):
        store.capture("notes", "t", "c", {"blob": "b" * 20_000})


async def test_answers_stay_small_whatever_a_hand_edited_file_holds(server, store, settings):
    huge = "word " * 3_000  # 15,000 characters a field (a frontmatter may have 64 KB)
    path = settings.history_dir / "incidents" / "2026-11" / "INC-HUGE.md"
    path.parent.mkdir(parents=True)
    links = "\n".join(f"  l{i}: https://example.com/{'p' * 200}" for i in range(60))
    path.write_text(
        "---\nid: INC-HUGE\ncategory: incidents\ncreated: 2026-11-12T03:00:00Z\n"
        f"title: payments-api timeouts {huge}\nservice: payments-api\nseverity: {'S' * 2000}\n"
        f"root_cause: {huge}\nresolution: {huge}\nlinks:\n{links}\n---\n\n{huge * 12}\n"
    )
    store.sync()
    async with Client(server) as c:
        answers = {
            "similar_incidents": await c.call_tool("similar_incidents", {"text": "payments-api timeouts", "k": 20}),
            "search": await c.call_tool("search", {"text": "payments-api timeouts", "limit": 50}),
            "recent": await c.call_tool("recent", {"count": 100}),
            "get": await c.call_tool("get", {"id": "INC-HUGE"}),
        }
    for name, r in answers.items():
        assert not r.is_error, (name, r.content[0].text[:300])
        size = len(json.dumps(r.structured_content))
        bound = 64_000 if name == "get" else 25_000  # get: the content's first 20,000 characters too
        assert size < bound, f"{name} answered {size:,} bytes"
    hit = answers["similar_incidents"].structured_content["hits"][0]
    assert hit["id"] == "INC-HUGE"
    assert "[cut: " in hit["title"] and "more chars; get INC-HUGE for all]" in hit["root_cause"]
    assert len(hit["links"]) == limits.LINKS + 1 and plain(hit["links"]["…"]) == "[cut: 40 more keys]"
    detail = answers["get"].structured_content
    assert detail["truncated"] and "[cut: " in detail["metadata"]["root_cause"]


def test_cut_says_how_much_is_left():
    assert limits.cut("short", 10) == "short"
    assert limits.cut("x" * 12_345 + "y" * 10, 10, "INC-1") == "x" * 10 + "… [cut: 12,345 more chars; get INC-1 for all]"
