"""The files are the source of truth: what a person or git puts in the history folder.

Hostile or odd files are skipped with a reason (never fatal, never read outside the folder),
files that are not entries by design pass without a word, and a running server notices changes.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time
from pathlib import Path

import pytest
from mcp import Client

from paii_common.errors import Conflict, NotFound
from paii_history.config import HistorySettings
from paii_history.server import build_server
from paii_history.store import HistoryStore
from tests.mcp_calls import plain


def entry_text(eid: str, category: str = "incidents", title: str = "hand written", body: str = "body", **front) -> str:
    lines = [f"id: {eid}", f"category: {category}", f"title: {title}"]
    if "created" not in front:
        front["created"] = "2026-11-12T03:00:00Z"
    lines += [f"{k}: {v}" for k, v in front.items() if v is not None]
    return "---\n" + "\n".join(lines) + "\n---\n\n" + body + "\n"


def put(settings: HistorySettings, rel: str, text: str | bytes) -> Path:
    path = settings.history_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def laughs(levels: int) -> str:
    """A billion-laughs frontmatter: each level is 9 aliases of the one before (9**levels strings)."""
    lines = ['l0: &l0 "lol"']
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines)


def warnings_in(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("paii_history")]


# ---------------------------------------------------------------- hostile and odd files
def test_a_yaml_alias_bomb_is_skipped_with_a_reason_in_bounded_memory(settings, store):
    """459 bytes of nested aliases made `get` answer 34.7 MB; the 7-level one cost 1.56 GB (issue 10)."""
    small = put(settings, "incidents/2026-11/bomb.md", entry_text("BOMB-1").replace("---\n\n", laughs(5) + "\n---\n\n", 1))
    big = put(settings, "incidents/2026-11/bomb7.md", entry_text("BOMB-7").replace("---\n\n", laughs(7) + "\n---\n\n", 1))
    assert small.stat().st_size < 600 and big.stat().st_size < 700
    put(settings, "incidents/2026-11/fine.md", entry_text("INC-1", title="payments-api 500s"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
    report = store.sync()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    reasons = dict(report.skipped)
    assert set(reasons) == {"incidents/2026-11/bomb.md", "incidents/2026-11/bomb7.md"}
    assert all("YAML alias" in r and "write the value out" in r for r in reasons.values())
    assert grown_mb < 200, f"reading two small files grew the process by {grown_mb:.0f} MB"
    with pytest.raises(NotFound):
        store.get("BOMB-7")
    assert {s["path"] for s in store.stats()["skipped_files"]} == set(reasons)
    assert store.get("INC-1").title == "payments-api 500s"
    hits, _, _ = store.retrieve("lol", k=5, mode="keyword")
    assert not hits


def test_an_ordinary_alias_is_refused_too_and_other_files_still_index(settings, store):
    put(settings, "learnings/2026-11/alias.md", entry_text("L-1", "learnings", tags="&t [db, pool]", labels="*t"))
    put(settings, "learnings/2026-11/fine.md", entry_text("L-2", "learnings", title="pgbouncer * in a title is fine"))
    report = store.sync()
    assert [p for p, _ in report.skipped] == ["learnings/2026-11/alias.md"]
    assert store.get("L-2").title == "pgbouncer * in a title is fine"


def test_a_file_that_starts_with_a_byte_order_mark_is_an_entry(settings, store):
    put(settings, "notes/2026-11/bom.md", "\ufeff".encode() + entry_text("N-BOM", "notes", title="written on Windows").encode())
    report = store.sync()
    assert report.skipped == [] and store.get("N-BOM").title == "written on Windows"


def test_an_entry_without_created_is_dated_by_its_file_and_says_so_once(settings, caplog):
    path = put(settings, "learnings/2026-11/undated.md", entry_text("L-UNDATED", "learnings", created=None))
    when = 1_770_000_000  # 2026-02-02T02:40:00Z
    os.utime(path, (when, when))
    caplog.set_level(logging.WARNING)
    store = HistoryStore(settings)
    store.sync()
    entry = store.get("L-UNDATED")
    assert entry.created.timestamp() == when
    notices = store.stats()["notices"]
    assert [n["path"] for n in notices] == ["learnings/2026-11/undated.md"]
    assert "modification time" in notices[0]["note"] and "2026-02-02T02:40:00Z" in notices[0]["note"]
    assert len([w for w in warnings_in(caplog) if "modification time" in w]) == 1
    store.close()
    caplog.clear()
    again = HistoryStore(settings)  # the next command, or a second server
    again.sync()
    assert warnings_in(caplog) == [] and again.stats()["notices"] == notices
    again.close()


def test_files_that_are_not_entries_are_passed_over_without_a_word(settings, store, caplog):
    """A shared history folder is often a git repository: README, .git, a LICENSE, drafts."""
    store.capture("notes", "a real note", "kept")
    put(settings, "README.md", "# Our team's incident history\n\nSee CONTRIBUTING.md.\n")
    put(settings, "CONTRIBUTING.md", "write entries with paii\n")
    put(settings, "LICENSE", "MIT\n")
    put(settings, "incidents/README.md", "# incidents\n")
    put(settings, "incidents/readme.MD", "# incidents\n")
    put(settings, ".git/HEAD", "ref: refs/heads/main\n")
    put(settings, ".git/description.md", "not an entry\n")
    put(settings, "notes/.draft.md", "not yet\n")
    put(settings, "notes/2026-11/summary.txt", "not markdown\n")
    put(settings, "Drafts/idea.md", "a folder that cannot be a category\n")
    caplog.set_level(logging.WARNING)
    for _ in range(2):  # the first sync and every later one
        report = store.sync()
        assert report.skipped == [] and warnings_in(caplog) == []
    stats = store.stats()
    assert stats["skipped_files"] == [] and stats["entries"] == 1


def test_a_broken_entry_is_reported_once_per_change_not_on_every_run(settings, caplog):
    bad = put(settings, "incidents/2026-11/broken.md", "---\nid: [unclosed\n---\nbody\n")
    caplog.set_level(logging.WARNING)
    for n in range(3):  # three commands in a row
        s = HistoryStore(settings)
        s.sync()
        assert [sk["path"] for sk in s.stats()["skipped_files"]] == ["incidents/2026-11/broken.md"]
        s.close()
    assert len([w for w in warnings_in(caplog) if "broken.md" in w]) == 1
    bad.write_text("---\nid: [still unclosed\n---\nother body\n")  # edited, still broken: said again
    s = HistoryStore(settings)
    s.sync()
    s.close()
    assert len([w for w in warnings_in(caplog) if "broken.md" in w]) == 2


def test_a_skipped_duplicate_is_indexed_once_the_other_file_is_gone(settings, store):
    first = put(settings, "notes/2026-11/a.md", entry_text("DUP-1", "notes", title="first copy"))
    put(settings, "notes/2026-11/b.md", entry_text("DUP-1", "notes", title="second copy"))
    report = store.sync()
    assert [p for p, _ in report.skipped] == ["notes/2026-11/b.md"]
    first.unlink()
    report = store.sync()
    assert report.skipped == [] and store.get("DUP-1").title == "second copy"


# ---------------------------------------------------------------- symlinks
def test_a_symlinked_file_that_leads_outside_is_not_read(settings, store, tmp_path):
    secret = tmp_path / "elsewhere" / "secret.md"
    secret.parent.mkdir()
    secret.write_text(entry_text("SECRET-1", "incidents", title="not part of the history", body="private text"))
    link = settings.history_dir / "incidents" / "2026-11" / "link.md"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    store.sync()
    with pytest.raises(NotFound):
        store.get("SECRET-1")
    assert not store.retrieve("private text", k=3, mode="keyword")[0]
    (skip,) = store.stats()["skipped_files"]
    assert skip["path"] == "incidents/2026-11/link.md" and "outside the history folder" in skip["reason"]


def test_an_entry_file_replaced_by_a_symlink_is_dropped_and_never_read(settings, store, tmp_path):
    entry, _ = store.capture("notes", "soon a link", "original text")
    outside = tmp_path / "outside.md"
    outside.write_text(entry_text(entry.id, "notes", title="changed through a link", body="outside text"))
    entry.path.unlink()
    entry.path.symlink_to(outside)
    with pytest.raises(Conflict, match="outside the history folder"):
        store.get(entry.id)  # the index still knows it: the read itself refuses
    store.sync()
    with pytest.raises(NotFound):
        store.get(entry.id)


async def test_a_symlinked_category_folder_outside_refuses_writes_and_says_why(settings, tmp_path):
    outside = tmp_path / "not-history"
    outside.mkdir()
    settings.history_dir.mkdir(parents=True)
    (settings.history_dir / "learnings").symlink_to(outside, target_is_directory=True)
    (settings.history_dir / "incidents").symlink_to(outside, target_is_directory=True)
    store = HistoryStore(settings)
    async with Client(build_server(settings, store)) as c:
        r = await c.call_tool("capture", {"category": "learnings", "title": "t", "content": "c"})
        assert r.is_error and "outside the history folder" in r.content[0].text
        r = await c.call_tool("record_incident", {"id": "INC-9", "title": "t"})
        assert r.is_error and "outside the history folder" in r.content[0].text
        r = await c.call_tool("capture", {"category": "notes", "title": "still works", "content": "c"})
        assert not r.is_error
    assert list(outside.iterdir()) == [], "nothing was written outside the history folder"
    reasons = {s["path"]: s["reason"] for s in store.stats()["skipped_files"]}
    assert set(reasons) == {"learnings", "incidents"} and all("replace it with a real folder" in r for r in reasons.values())
    store.close()


# ---------------------------------------------------------------- a running server sees changes
async def test_a_running_server_finds_files_added_edited_and_deleted_by_hand(settings, tmp_path):
    watching = settings.model_copy(update={"watch_interval": 0.0})  # look on every call
    store = HistoryStore(watching)
    async with Client(build_server(watching, store)) as c:
        r = await c.call_tool("recent", {})
        assert r.structured_content["total"] == 0
        path = put(settings, "learnings/2026-11/by-hand.md",
                   entry_text("L-HAND", "learnings", title="zookeeper session expiry storms", body="raise the tick time"))
        r = await c.call_tool("search", {"text": "zookeeper session expiry"})
        assert [h["id"] for h in r.structured_content["hits"]] == ["L-HAND"]
        r = await c.call_tool("recent", {})
        assert [e["id"] for e in r.structured_content["entries"]] == ["L-HAND"]
        with open(path, "r+") as fh:  # edited in place, as many editors do: no folder changes
            text = fh.read().replace("zookeeper session expiry storms", "etcd leader elections flapping")
            fh.seek(0)
            fh.write(text)
            fh.truncate()
        r = await c.call_tool("search", {"text": "etcd leader elections"})
        assert [plain(h["title"]) for h in r.structured_content["hits"]] == ["etcd leader elections flapping"]
        path.unlink()
        r = await c.call_tool("recent", {})
        assert r.structured_content["total"] == 0
        r = await c.call_tool("get", {"id": "L-HAND"})
        assert r.is_error
    store.close()


def test_the_watch_finds_an_edit_in_place_within_a_few_intervals(settings):
    watching = settings.model_copy(update={"watch_interval": 0.05})
    store = HistoryStore(watching)
    entry, _ = store.capture("notes", "before the edit", "text")
    entry.path.write_text(entry.path.read_text().replace("before the edit", "after the edit"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and store.recent(None, 1)[0][0].title != "after the edit":
        time.sleep(0.05)  # each call may start a look in the background; the next one sees its result
    assert store.recent(None, 1)[0][0].title == "after the edit"
    store.close()


def test_own_writes_are_not_taken_for_changes_on_disk(settings, store):
    store.capture("notes", "one", "text")  # a first sync, then a write into a new folder
    store.capture("notes", "two", "text")
    assert not store._dirs_changed()
    time.sleep(0.05)  # file times are kept to the kernel's tick: a later tick for the drop below
    put(settings, "notes/2026-11/dropped.md", entry_text("N-DROP", "notes"))
    assert store._dirs_changed()


def test_stats_counts_are_json(store):
    store.capture("notes", "one", "text")
    json.dumps(store.stats())
