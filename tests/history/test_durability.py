"""Nothing stored is ever lost: concurrent writers, a writer killed mid-write, a deleted index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from paii_history.config import HistorySettings
from paii_history.entries import iso
from paii_history.store import HistoryStore

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore
    home, tag, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = HistoryStore(HistorySettings.load(home=home, warmup=False))
    for i in range(n):
        store.capture("notes", f"{tag} note {i}", f"written by {tag}, number {i}, about kafka rebalancing")
    print("done")
    """
)


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PAII_HOME"] = str(home)
    return env


def test_two_processes_capturing_at_once_lose_nothing(isolated_env):
    home = isolated_env
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(home), tag, "15"], env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for tag in ("alpha", "beta")
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
    files = list((home / "history" / "notes").rglob("*.md"))
    assert len(files) == 30
    store = HistoryStore(HistorySettings.load(home=home, warmup=False))
    assert store.kw.count("notes") == 30
    rows, total = store.recent("notes", 100)
    assert total == 30 and len({r.id for r in rows}) == 30
    hits, _, _ = store.retrieve("beta note 7", k=3, categories=["notes"])
    assert any(h.row.title == "beta note 7" for h in hits)


KILLED = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from paii_history.config import HistorySettings
    from paii_history.keyword import KeywordIndex
    from paii_history.store import HistoryStore
    def die(self, rows):
        os._exit(9)  # killed after the file is written, before the index knows
    KeywordIndex.upsert = die
    store = HistoryStore(HistorySettings.load(home=Path(sys.argv[1]), warmup=False))
    store.capture("learnings", "pgbouncer pool mode", "transaction pooling breaks prepared statements")
    """
)


def test_process_killed_mid_write_loses_nothing(isolated_env):
    home = isolated_env
    store = HistoryStore(HistorySettings.load(home=home, warmup=False))
    store.capture("learnings", "first", "before the crash")
    store.close()
    p = subprocess.run([sys.executable, "-c", KILLED, str(home)], env=_env(home), capture_output=True, timeout=300)
    assert p.returncode == 9
    files = list((home / "history" / "learnings").rglob("*.md"))
    assert len(files) == 2
    assert not list((home / "history").rglob("*.tmp")), "no half-written file is left behind"
    store = HistoryStore(HistorySettings.load(home=home, warmup=False))
    hits, _, _ = store.retrieve("prepared statements pooling", k=2, categories=["learnings"])
    assert hits and hits[0].row.title == "pgbouncer pool mode"


def test_killed_during_atomic_write_leaves_old_or_new_never_half(isolated_env, monkeypatch):
    from paii_history import entries

    target = isolated_env / "x" / "e.md"
    entries.atomic_write(target, "old\n")

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    try:
        entries.atomic_write(target, "new\n" * 1000)
    except KeyboardInterrupt:
        pass
    assert target.read_text() == "old\n"
    assert [p.name for p in target.parent.iterdir()] == ["e.md"]


def test_reindex_after_the_index_folder_is_deleted(isolated_env):
    home = isolated_env
    store = HistoryStore(HistorySettings.load(home=home, warmup=False))
    store.record_incident("INC-1", {"title": "payments-api 500s", "service": "payments-api", "root_cause": "pool exhaustion"})
    store.capture("decisions", "use pgbouncer", "we chose transaction pooling")
    store.close()
    shutil.rmtree(home / "index")
    store = HistoryStore(HistorySettings.load(home=home, warmup=False))
    report = store.reindex()
    assert report.indexed == 2 and report.vectors == 2
    hits, _, warnings = store.retrieve("payment service returning errors", k=1, categories=["incidents"], mode="vector")
    assert not warnings and hits[0].id == "INC-1"
    assert store.get("INC-1").meta["root_cause"] == "pool exhaustion"


def test_hand_edited_file_is_picked_up_on_sync(isolated_env):
    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False))
    entry, _ = store.capture("notes", "cache ttl", "ttl is 60s")
    text = entry.path.read_text().replace("ttl is 60s", "ttl is 300s after the incident")
    entry.path.write_text(text)
    os.utime(entry.path, ns=(entry.path.stat().st_mtime_ns + 10_000_000,) * 2)
    store.sync()
    hits, _, _ = store.retrieve("300s after the incident", k=1, mode="keyword")
    assert hits[0].id == entry.id


async def test_stdio_entry_point_lists_and_answers(isolated_env):
    exe = Path(sys.executable).with_name("paii-history")
    params = StdioServerParameters(command=str(exe), args=[], env={**_env(isolated_env), "PAII_HISTORY_WARMUP": "0"})
    async with Client(params) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "similar_incidents" in names
        r = await c.call_tool("record_incident", {"id": "INC-9", "title": "orders-api 503 after deploy", "service": "orders-api"})
        assert not r.is_error
        r = await c.call_tool("similar_incidents", {"text": "orders-api returns 503"})
        assert r.structured_content["hits"][0]["id"] == "INC-9"


def test_cli_import_is_idempotent_and_similar_prints_json(isolated_env, tmp_path):
    src = ROOT / "examples" / "incidents.jsonl"
    paii = Path(sys.executable).with_name("paii")
    env = _env(isolated_env)
    first = subprocess.run([str(paii), "history", "import", "--json", "--category", "incidents", str(src)], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    n = sum(1 for line in src.read_text().splitlines() if line.strip())
    assert json.loads(first.stdout)["imported"] == n
    tree = sorted(p.read_text() for p in (isolated_env / "history").rglob("*.md"))
    second = subprocess.run([str(paii), "history", "import", "--json", "--category", "incidents", str(src)], env=env, capture_output=True, text=True, timeout=300)
    again = json.loads(second.stdout)
    assert {k: again[k] for k in ("imported", "updated", "unchanged", "skipped", "vectors", "errors")} == {
        "imported": 0, "updated": 0, "unchanged": n, "skipped": 0, "vectors": 0, "errors": []}
    assert sorted(p.read_text() for p in (isolated_env / "history").rglob("*.md")) == tree
    sim = subprocess.run([str(paii), "history", "similar", "--json", "-k", "5", "payments-api is returning 500s in production"], env=env, capture_output=True, text=True, timeout=300)
    hits = json.loads(sim.stdout)
    assert len(hits) == 5 and all({"id", "score"} <= set(h) for h in hits)
    assert {"INC-456", "INC-234"} <= {h["id"] for h in hits}
    piped = subprocess.run([str(paii), "history", "similar", "--json", "-k", "5", "-"], input="payments-api is returning 500s in production",
                           env=env, capture_output=True, text=True, timeout=300)
    assert [h["id"] for h in json.loads(piped.stdout)] == [h["id"] for h in hits]  # '-' reads the text from stdin


def test_cli_import_reports_bad_lines_and_keeps_good_ones(isolated_env, tmp_path):
    f = tmp_path / "mixed.jsonl"
    f.write_text(
        '{"id": "OK-1", "title": "fine", "body": "b"}\n'
        "not json\n"
        '{"id": "../x", "title": "bad id", "body": "b"}\n'
        '{"id": "OK-2", "title": "dated", "body": "b", "created": "not a date"}\n'
        '{"id": "OK-3", "title": "", "body": "b"}\n'
    )
    paii = Path(sys.executable).with_name("paii")
    out = subprocess.run([str(paii), "history", "import", "--json", "--skip-bad-lines", "--category", "incidents", str(f)],
                         env=_env(isolated_env), capture_output=True, text=True, timeout=300)
    data = json.loads(out.stdout)
    assert out.returncode == 0 and data["imported"] == 1 and data["skipped"] == 4
    assert [e.split(":")[0] for e in data["errors"]] == ["line 2", "line 3", "line 4", "line 5"]


def test_import_takes_the_date_forms_other_tools_export(isolated_env, tmp_path):
    """Slack and Opsgenie give Unix times (seconds, milliseconds), mail and Bugzilla e-mail style dates,
    Jira ISO with +0000: each entry keeps its own date; what is no date is still an error."""
    forms = {
        "A-1": (1551441600, "2019-03-01T12:00:00Z"),
        "A-2": (1551441600123, "2019-03-01T12:00:00.123000Z"),
        "A-3": ("1551441600.000200", "2019-03-01T12:00:00.000200Z"),
        "A-4": ("Fri, 01 Mar 2019 12:00:00 GMT", "2019-03-01T12:00:00Z"),
        "A-5": ("Fri, 01 Mar 2019 07:00:00 -0500", "2019-03-01T12:00:00Z"),
        "A-6": ("2019-03-01T12:00:00.000+0000", "2019-03-01T12:00:00Z"),
        "A-7": ("2019-03-01 07:00:00 -0500", "2019-03-01T12:00:00Z"),
    }
    f = tmp_path / "export.jsonl"
    lines = [json.dumps({"id": i, "title": f"entry {i}", "body": "b", "created": c}) for i, (c, _) in forms.items()]
    lines += [json.dumps({"id": "B-1", "title": "t", "body": "b", "created": "03/01/2019"}),
              json.dumps({"id": "B-2", "title": "t", "body": "b", "created": True}),
              json.dumps({"id": "B-3", "title": "t", "body": "b", "created": 99999999999999999})]
    f.write_text("\n".join(lines) + "\n")
    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False, embeddings="off"))
    report = store.import_jsonl(f, "incidents")
    assert report.imported == len(forms)
    assert [e.split(":")[0] for e in report.errors] == ["line 8", "line 9", "line 10"]
    assert "is not a date" in report.errors[0] and "out of range" in report.errors[2]
    for i, (_, want) in forms.items():
        assert iso(store.get(i).created) == want, i
    store.close()


def test_import_finds_title_and_body_under_the_names_other_tools_export(isolated_env, tmp_path):
    rows = [
        {"id": "JIRA-1", "summary": "DataNode dies on startup", "description": "IncompatibleClusterIDs in the log",
         "component": "HDFS"},  # Jira
        {"id": "MAIL-1", "subject": "replica lag alert", "text": "pgbouncer queue grew"},
        {"id": "SN-1", "short_description": "VPN down", "description": None},  # ServiceNow, no description
        {"id": 4711, "title": "numeric id", "body": "kept as text"},  # Bugzilla-style numbers
        {"id": "INC-1", "title": "checkout 500s", "summary": "card payments failed", "body": "pool exhausted"},
        {"id": "BAD-1", "description": "no title anywhere"},
        {"id": "BAD-2", "title": "t", "description": ["not", "text"]},
    ]
    f = tmp_path / "export.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False, embeddings="off"))
    report = store.import_jsonl(f, "incidents")
    assert report.imported == 5
    assert report.errors == ["line 6: missing title (one of title, summary, subject, short_description, name)",
                             "line 7: description must be a string"]
    jira = store.get("JIRA-1")
    assert (jira.title, jira.body.strip(), jira.meta) == ("DataNode dies on startup", "IncompatibleClusterIDs in the log",
                                                           {"component": "HDFS"})
    assert store.get("SN-1").body.strip() == "" and store.get("4711").title == "numeric id"
    assert store.get("INC-1").meta["summary"] == "card payments failed"  # a title given: summary stays a field
    for text, want in (("IncompatibleClusterIDs", "JIRA-1"), ("pgbouncer queue", "MAIL-1"), ("card payments", "INC-1")):
        hits, _, _ = store.retrieve(text, k=1, mode="keyword")
        assert hits and hits[0].id == want, text  # the export's own text is searchable
    store.close()


def test_import_of_a_windows_export_keeps_its_first_line(isolated_env, tmp_path):
    f = tmp_path / "export.jsonl"  # a byte-order mark and CRLF line ends
    f.write_bytes(b'\xef\xbb\xbf{"id": "W-1", "title": "first", "body": "b"}\r\n{"id": "W-2", "title": "second", "body": "b"}\r\n')
    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False, embeddings="off"))
    report = store.import_jsonl(f, "incidents")
    assert (report.imported, report.errors) == (2, [])
    assert store.get("W-1").title == "first"
    store.close()


def test_model_change_re_embeds_in_the_background(isolated_env):
    import time as _time

    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False))
    store.record_incident("INC-7", {"title": "search-api slow after index rebuild", "service": "search-api"})
    store.kw.set_state("vec_model", "some-older-model")  # as if the vectors came from another model
    store.close()
    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False))
    store.ensure_ready()
    store.vectors()  # sees the change: every entry needs a new vector, embedded in the background
    deadline = _time.time() + 120
    while store.kw.missing_vectors() and _time.time() < deadline:
        _time.sleep(0.2)
    assert store.kw.missing_vectors() == []
    hits, _, warnings = store.retrieve("search is slow", k=1, mode="vector")
    assert not warnings and hits[0].id == "INC-7"


def test_import_keeps_unicode_line_separators_inside_json_strings(isolated_env, tmp_path):
    """JSON allows U+2028, U+0085 and form feeds raw inside strings (json.dumps(ensure_ascii=False)
    writes them); they are not record separators. Real bug-tracker exports have them. Importing
    the file again changes nothing, also for lines without "created"."""
    body = "stack trace follows\u2028at Foo.bar(Foo.java:12)\x85next\x0cpage\r\nwindows line"
    rows = [{"id": "BUG-1", "title": "NPE in\u2028Foo.bar", "body": body},
            {"id": "BUG-2", "title": "second", "body": "plain"}]
    f = tmp_path / "bugs.jsonl"
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False))
    report = store.import_jsonl(f, category="incidents")
    assert report.errors == [] and report.imported == 2
    entry = store.get("BUG-1")
    assert entry.body.rstrip("\n") == body.replace("\r\n", "\n") and entry.title == "NPE in Foo.bar"
    store.close()
    again = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False))  # read back from the file
    assert again.import_jsonl(f, category="incidents").unchanged == 2
    hits, _, _ = again.retrieve("Foo.java windows line", k=1, mode="keyword")
    assert hits[0].id == "BUG-1"


def test_warm_up_and_first_searches_at_once_share_one_chroma_client(tmp_path):
    """The warm-up starts just as a client's first tool calls arrive: on a fresh home, opening
    chroma from several threads at once must not fail (chromadb's per-path client cache)."""
    import threading

    for n in range(3):
        home = tmp_path / f"home{n}"
        store = HistoryStore(HistorySettings.load(home=home, warmup=False))
        store.ensure_ready()
        warnings: list[str] = []
        barrier = threading.Barrier(4)

        def search() -> None:
            barrier.wait()
            warnings.extend(store.retrieve("db pool exhausted", k=3)[2])

        def warm() -> None:
            barrier.wait()
            store.warm()

        threads = [threading.Thread(target=warm)] + [threading.Thread(target=search) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        store.close()
        assert not [w for w in warnings if "vector" in w], warnings


def _bulk(tmp_path: Path, n: int) -> Path:
    services = ["payments-api", "search-api", "auth-service", "ledger-db"]
    f = tmp_path / "bulk.jsonl"
    f.write_text("".join(
        json.dumps({"id": f"B-{i}", "title": f"{services[i % 4]} incident {i}", "service": services[i % 4],
                    "body": f"number {i}: " + ("kafka consumers lagging" if i == 321 else "routine page, nothing found")}) + "\n"
        for i in range(n)))
    return f


def test_bulk_import_embeds_while_it_writes_and_every_entry_gets_its_vector(isolated_env, tmp_path):
    """More than one chunk (256) of entries: vectors are computed while the files are written,
    and every entry ends up with exactly its own vector."""
    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False))
    report = store.import_jsonl(_bulk(tmp_path, 600), category="incidents")
    assert (report.imported, report.vectors, report.warnings) == (600, 600, [])
    assert store.kw.missing_vectors() == [] and store.vectors().count() == 600
    hits, _, warnings = store.retrieve("kafka consumer lag", k=1, mode="vector")
    assert not warnings and hits[0].id == "B-321"
    # each stored vector is its own entry's, across chunk borders
    ids = ["B-0", "B-255", "B-256", "B-599"]
    got = store.vectors()._collection().get(ids=ids, include=["embeddings"])
    stored = dict(zip(got["ids"], got["embeddings"]))
    for i in ids:
        entry = store.get(i)
        want = store.embedder().embed([entry.text_for_index()])[0]
        assert float(want @ stored[i]) > 0.999, i
    store.close()


def test_bulk_import_survives_the_embedder_failing_midway(isolated_env, tmp_path, monkeypatch):
    """The model fails on the second chunk: every entry is saved and keyword-searchable, the
    report says what to do, and a reindex gives the rest their vectors."""
    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False))
    emb = store.embedder()
    real, calls = emb.embed, []

    def flaky(texts, *a, **kw):
        calls.append(len(texts))
        if len(calls) == 2:
            raise RuntimeError("onnxruntime: out of memory")
        return real(texts, *a, **kw)

    monkeypatch.setattr(emb, "embed", flaky)
    report = store.import_jsonl(_bulk(tmp_path, 600), category="incidents")
    assert report.imported == 600 and report.vectors == 256
    assert "out of memory" in report.warnings[0] and "paii history reindex" in report.warnings[0]
    assert len(list((isolated_env / "history" / "incidents").rglob("*.md"))) == 600
    hits, _, _ = store.retrieve("kafka consumers lagging", k=1, mode="keyword")
    assert hits[0].id == "B-321"
    monkeypatch.setattr(emb, "embed", real)
    store.reindex()
    assert store.kw.missing_vectors() == []
    store.close()
