"""Processes that share one index (a team server's workers, a server and the CLI) share what they
saw of the folder: another one's indexed write is not a change to scan for, a change by hand still
is, and one full comparison per interval serves them all."""

from __future__ import annotations

import time

from paii_history.store import HistoryStore

from .test_files_on_disk import entry_text, put


def test_another_workers_indexed_write_is_not_taken_for_a_change_on_disk(settings):
    a, b = HistoryStore(settings), HistoryStore(settings)  # two worker processes' stores
    a.capture("notes", "one", "text")
    b.capture("notes", "two", "text")
    a.capture("notes", "three", "text")  # changes the folder b watches
    assert not b._dirs_changed(), "a's write was indexed by a: nothing for b to scan"
    assert [r.title for r in b.recent("notes", 5)[0]][:1] == ["three"]
    time.sleep(0.05)  # file times are kept to the kernel's tick: a later tick for the drop below
    put(settings, "notes/2026-11/dropped.md", entry_text("N-DROP", "notes", title="dropped by hand"))
    assert a._dirs_changed() and b._dirs_changed(), "a file added by hand is a change for every process"
    a.close()
    b.close()


def test_a_change_by_hand_after_another_workers_write_is_found(settings):
    watching = settings.model_copy(update={"watch_interval": 0.0})
    a, b = HistoryStore(watching), HistoryStore(watching)
    a.capture("notes", "one", "text")
    b.recent(None, 1)
    time.sleep(0.05)
    a.capture("notes", "two", "text")
    time.sleep(0.05)
    put(settings, "notes/2026-11/dropped.md", entry_text("N-DROP", "notes", title="zookeeper expiry storms by hand"))
    hits, _, _ = b.retrieve("zookeeper expiry storms", k=1, mode="keyword")
    assert hits and hits[0].id == "N-DROP"
    a.close()
    b.close()


def test_one_full_comparison_per_interval_serves_every_process_sharing_the_index(settings, monkeypatch):
    """Workers do not each compare every file with the index: the one that looked says so, and an
    edit in place it finds is in the index the others read."""
    watching = settings.model_copy(update={"watch_interval": 0.2})
    a, b = HistoryStore(watching), HistoryStore(watching)
    entry, _ = a.capture("notes", "before the edit", "text")
    b.recent(None, 1)
    looks = {"a": 0, "b": 0}
    for name, store in (("a", a), ("b", b)):
        real = store._look_for_edits

        def counted(real=real, name=name):
            looks[name] += 1
            real()

        monkeypatch.setattr(store, "_look_for_edits", counted)
    entry.path.write_text(entry.path.read_text().replace("before the edit", "after the edit"))
    rounds = 8
    for _ in range(rounds):  # both called once per interval, as two workers serving clients
        b.recent(None, 1)
        a.recent(None, 1)
        time.sleep(0.25)
    assert b.recent(None, 1)[0][0].title == "after the edit"
    assert looks["a"] + looks["b"] <= rounds + 2, f"one look per interval, not one per process: {looks}"
    a.close()
    b.close()
