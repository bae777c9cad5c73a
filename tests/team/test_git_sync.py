"""Shared memory: each person's history server on its own clone of one team repository."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import yaml
from mcp import Client

from paii_common import auth
from paii_history.config import HistorySettings
from paii_history.server import build_server

from .conftest import connect, git, serving


@pytest.fixture
def remote(tmp_path) -> Path:
    """A bare team repository with one commit (a README), as a team would start one."""
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    (seed / "README.md").write_text("Our on-call memory.\n")
    git(seed, "add", "README.md")
    git(seed, "-c", "user.name=lead", "-c", "user.email=lead@example.com", "commit", "-q", "-m", "start")
    git(seed, "push", "-q", "origin", "HEAD:main")
    return bare


def clone(remote: Path, home: Path, **overrides) -> HistorySettings:
    home.mkdir(parents=True)
    git(home, "clone", "-q", str(remote), str(home / "history"))
    return HistorySettings.load(**{"home": home, "warmup": False, "embeddings": "off", "git": True, "git_pull_s": 0,
                                   **overrides})


def front(path: Path) -> dict:
    return yaml.safe_load(path.read_text().split("---")[1])


async def test_two_servers_capture_at_once_and_each_finds_the_others_incident(remote, tmp_path, tokens_file):
    alice_token, bob_token = auth.add_token(tokens_file, "alice"), auth.add_token(tokens_file, "bob")
    alice = build_server(clone(remote, tmp_path / "alice"))
    bob = build_server(clone(remote, tmp_path / "bob"))
    with serving(alice, tokens_file) as alice_url, serving(bob, tokens_file) as bob_url:
        async with connect(alice_url, alice_token) as a, connect(bob_url, bob_token) as b:
            written = await asyncio.gather(
                a.call_tool("record_incident", {"id": "INC-101", "title": "payments-api 500s at checkout",
                                                "service": "payments-api", "root_cause": "database connection pool exhausted"}),
                b.call_tool("record_incident", {"id": "INC-102", "title": "search-api p99 latency above 2s",
                                                "service": "search-api", "root_cause": "elasticsearch heap pressure"}),
                a.call_tool("capture", {"category": "learnings", "title": "pool sizing", "content": "size pools to cores"}),
                b.call_tool("capture", {"category": "learnings", "title": "heap sizing", "content": "keep heap under 31g"}),
            )
            assert not any(r.is_error for r in written), [r.content[0].text for r in written if r.is_error]
            # the written results say nothing went wrong with the team repository
            problems = [w for r in written for w in r.structured_content["warnings"] if "team repository" in w]
            assert not problems, problems
            found_by_alice = await a.call_tool("similar_incidents", {"text": "search api latency elasticsearch heap"})
            found_by_bob = await b.call_tool("similar_incidents", {"text": "payments api 500 errors connection pool"})
    assert found_by_alice.structured_content["hits"][0]["id"] == "INC-102"
    assert found_by_bob.structured_content["hits"][0]["id"] == "INC-101"
    authors = git(remote, "log", "--format=%an", "main").splitlines()
    assert authors.count("alice") == 2 and authors.count("bob") == 2, authors
    entries = git(remote, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert len([e for e in entries if e.endswith(".md") and e != "README.md"]) == 4
    assert front(alice.store.get("INC-102").path)["author"] == "bob"


async def test_a_remote_that_is_down_during_a_write_keeps_the_write_and_pushes_it_later(remote, tmp_path):
    server = build_server(clone(remote, tmp_path / "alice"))
    away = remote.with_name("team.git.away")
    async with Client(server) as c:
        await c.call_tool("recent", {})  # the first pull
        remote.rename(away)  # the team repository is unreachable
        r = await c.call_tool("record_incident", {"id": "INC-7", "title": "ledger-db disk full"})
        assert not r.is_error
        note = " ".join(r.structured_content["warnings"])
        assert "not pushed to the team repository" in note and "1 commit(s) wait here" in note
        assert server.store.get("INC-7").path.exists()
        read = await c.call_tool("search", {"text": "ledger disk"})
        assert read.structured_content["hits"][0]["id"] == "INC-7"
        assert "could not be reached" in " ".join(read.structured_content["warnings"])
        assert server.store.stats()["git"]["unpushed_commits"] == 1
        away.rename(remote)  # back: the next read pulls and pushes what waited
        read = await c.call_tool("search", {"text": "ledger disk"})
        assert not [w for w in read.structured_content["warnings"] if "could not be reached" in w]
    assert "record INC-7" in git(remote, "log", "--format=%s", "main")
    assert server.store.stats()["git"]["unpushed_commits"] == 0


async def test_an_entry_changed_on_both_sides_keeps_both_versions_and_says_so(remote, tmp_path):
    alice = build_server(clone(remote, tmp_path / "alice"))
    # bob pulls at most hourly: his edit and alice's cross, as two people's edits within one pull interval do
    bob = build_server(clone(remote, tmp_path / "bob", git_pull_s=3600))
    async with Client(alice) as a, Client(bob) as b:
        await a.call_tool("record_incident", {"id": "INC-7", "title": "ledger-db disk full", "status": "investigating"})
        await b.call_tool("recent", {})  # bob's first (and, for an hour, last) pull: he has INC-7
        await a.call_tool("record_incident", {"id": "INC-7", "status": "mitigated", "notes": "expanded the disk"})
        r = await b.call_tool("record_incident", {"id": "INC-7", "status": "resolved", "notes": "fixed the retention job"})
        assert not r.is_error
        note = " ".join(r.structured_content["warnings"])
        assert "both versions are kept" in note and "INC-7.conflict-" in note
        bob_stats = bob.store.stats()["git"]
        assert len(bob_stats["conflicts"]) == 1 and bob_stats["unpushed_commits"] == 0
        saved = bob.store.root / bob_stats["conflicts"][0]
        assert front(saved)["status"] == "mitigated" and front(bob.store.get("INC-7").path)["status"] == "resolved"
        hits = (await b.call_tool("search", {"text": "ledger disk"})).structured_content["hits"]
        assert [h["id"] for h in hits] == ["INC-7"], "the other side's version is not an entry: no duplicate"
        await a.call_tool("recent", {})  # alice pulls the merge
    assert alice.store.stats()["git"]["conflicts"] == bob_stats["conflicts"]
    assert git(alice.store.root, "rev-parse", "HEAD^{tree}") == git(bob.store.root, "rev-parse", "HEAD^{tree}")
    assert front(alice.store.get("INC-7").path)["status"] == "resolved"


def test_a_history_folder_that_is_not_a_repository_becomes_one_with_its_entries(tmp_path):
    home = tmp_path / "solo"
    from paii_history.store import HistoryStore

    plain = HistoryStore(HistorySettings.load(home=home, warmup=False, embeddings="off"))
    plain.capture("notes", "before git", "x")
    store = HistoryStore(HistorySettings.load(home=home, warmup=False, embeddings="off", git=True))
    entry, warnings = store.capture("notes", "with git", "y", author="dana")
    assert not [w for w in warnings if "git" in w or "team" in w], "no remote is not a problem: commits stay here"
    log = git(store.root, "log", "--format=%an|%s")
    assert log.splitlines()[0].startswith("dana|capture ") and "as they were when git was switched on" in log
    assert store.stats()["git"]["remote"] is None
    shutil.rmtree(home)


async def test_two_clones_of_an_empty_repository_that_both_write_first_still_meet(tmp_path):
    bare = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    alice, bob = build_server(clone(bare, tmp_path / "alice")), build_server(clone(bare, tmp_path / "bob"))
    async with Client(alice) as a, Client(bob) as b:
        written = await asyncio.gather(a.call_tool("capture", {"category": "notes", "title": "first", "content": "a"}),
                                       b.call_tool("capture", {"category": "notes", "title": "second", "content": "b"}))
        problems = [w for r in written for w in r.structured_content["warnings"] if "team repository" in w]
        assert not problems, problems
        await a.call_tool("recent", {})
    assert len(git(bare, "ls-tree", "-r", "--name-only", "main").splitlines()) == 2
    assert {e.title for e in map(alice.store.get, [r.structured_content["id"] for r in written])} == {"first", "second"}


def test_a_write_whose_commit_failed_is_committed_with_the_next_one_by_its_own_author(remote, tmp_path):
    from paii_history.store import HistoryStore

    store = HistoryStore(clone(remote, tmp_path / "alice"))
    lock = store.root / ".git" / "index.lock"
    lock.write_text("")  # another git command holds the index
    first, warnings = store.capture("notes", "while git was busy", "x", author="dana")
    assert "not committed" in " ".join(warnings) and first.path.exists()
    lock.unlink()
    store.capture("notes", "afterwards", "y", author="erin")
    log = git(store.root, "log", "--format=%an|%s", "-2").splitlines()
    assert [line.split("|")[0] for line in log] == ["erin", "dana"]
    assert git(store.root, "status", "--porcelain") == ""
