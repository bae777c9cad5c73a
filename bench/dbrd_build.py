#!/usr/bin/env python3
"""Build a duplicate-bug-report retrieval benchmark ("dbrd-<project>") from Apache JIRA issue dumps.

Source data
-----------
GitHub repository ``SPEAR-SE/LogInBugReportsEmpirical_Data`` (data of "an empirical study of
logs in bug reports", SPEAR lab, Concordia), commit
``ab9603c66899b48b0b86bdf63ae7f7a604212b29`` (2020-09-09), directory ``bug_reports/<Project>/``:
one raw JIRA REST v2 issue JSON per file (``HADOOP-1234.json``; the ``comments/`` and ``details/``
sub-folders are not used).  Every issue of type *Bug* of the project is there, whatever its
resolution (Fixed, Duplicate, Won't Fix, unresolved, ...).  The repository has no LICENSE file;
the content is public Apache JIRA data (issues.apache.org).

Get the raw files (no work tree is needed)::

    # src = a clone (or bare mirror) of the GitHub repository SPEAR-SE/LogInBugReportsEmpirical_Data
    git --git-dir=src/.git archive ab9603c66899b48b0b86bdf63ae7f7a604212b29 \\
        bug_reports/Hadoop bug_reports/HDFS bug_reports/Hive | tar -x -C /tmp/spear

then::

    python bench/dbrd_build.py /tmp/spear/bug_reports/Hadoop --project hadoop
    python bench/dbrd_build.py /tmp/spear/bug_reports/HDFS   --project hdfs
    python bench/dbrd_build.py /tmp/spear/bug_reports/Hive   --project hive

which writes ``bench/data/dbrd-<project>/{corpus.jsonl,queries-dev.jsonl,queries-test.jsonl,meta.json}``
in the format of ``bench/data/sa-threads``.

Ground truth
------------
Duplicates come from JIRA's own "Duplicate" issue links (``fields.issuelinks`` with
``type.name == "Duplicate"``; outward = "duplicates", inward = "is duplicated by"), not from text.
Linked issues form undirected duplicate groups (connected components; only issues present in the
dump, i.e. Bugs of the same project, count).  As in the usual DBRD protocol (Sun et al.; Lazar et al.
MSR 2014; Rakha et al.; SABD), the oldest report of a group (by creation time) is its *master* and
every later member is a *duplicate*: each duplicate becomes a *query* (text: ``summary + "\\n" +
description``) whose *relevant* documents are the earlier members of its group left in the corpus,
i.e. the master.  Query reports are kept out of the corpus; every other report is a corpus
document.  Time order rather than the JIRA resolution decides which side is the duplicate because
about a third of the reports resolved "Duplicate" are *older* than the report they were closed
against (JIRA arrows and resolutions follow where the fix landed, not who came first); meta.json
counts how many queries were themselves resolved "Duplicate".

Queries are split dev 30% / test 70% by sha1 of "<project>:<group id>" (group id = the oldest
member's key), so all queries of one group land in the same split.  If the project has more than
``--max-corpus`` (12000) reports, only the newest ``--window`` (10000) reports by creation time
are used (queries and relevant documents both inside that window).

Standard library only.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from datasets import write_jsonl  # bench/datasets.py (this folder is on sys.path when run as a script)

SOURCE_REPO = "SPEAR-SE/LogInBugReportsEmpirical_Data"
SOURCE_COMMIT = "ab9603c66899b48b0b86bdf63ae7f7a604212b29"
LICENCE = ("no LICENSE file in the source repository; content is public Apache JIRA issue data "
           "(issues.apache.org), redistributed by the repository for research")
DEV_FRACTION = 0.3
MAX_BODY_CHARS = 6000
BENCH = Path(__file__).resolve().parent


def iso(ts: str | None) -> str | None:
    """'2006-10-24T14:24:11.000+0000' -> '2006-10-24T14:24:11Z' (UTC)."""
    if not ts:
        return None
    t = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f%z")
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def clean(text: str | None) -> str:
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(text) > MAX_BODY_CHARS:
        text = text[:MAX_BODY_CHARS].rsplit(" ", 1)[0] + " ..."
    return text


def key_num(key: str) -> int:
    return int(key.rsplit("-", 1)[1])


def load(src: Path) -> dict[str, dict]:
    reports: dict[str, dict] = {}
    for f in sorted(src.glob("*.json")):
        d = json.loads(f.read_text(encoding="utf-8"))
        fl = d["fields"]
        links = []
        for link in fl.get("issuelinks") or []:
            if (link.get("type") or {}).get("name") != "Duplicate":
                continue
            if "outwardIssue" in link:      # this issue "duplicates" the other
                links.append(("out", link["outwardIssue"]["key"]))
            elif "inwardIssue" in link:     # this issue "is duplicated by" the other
                links.append(("in", link["inwardIssue"]["key"]))
        reports[d["key"]] = {
            "key": d["key"],
            "title": (fl.get("summary") or "").strip(),
            "body": clean(fl.get("description")),
            "created": iso(fl.get("created")),
            "resolution": (fl.get("resolution") or {}).get("name"),
            "links": links,
        }
    if not reports:
        sys.exit(f"{src}: no <KEY>.json issue files found")
    return reports


def build(src: Path, project: str, out: Path, max_corpus: int, window: int) -> dict:
    reports = load(src)
    total = len(reports)
    order = sorted(reports, key=lambda k: (reports[k]["created"] or "", key_num(k)))
    if total > max_corpus:
        order = order[-window:]
    keep = set(order)
    pos = {k: i for i, k in enumerate(order)}

    # undirected duplicate graph restricted to the kept reports
    adj: dict[str, set[str]] = collections.defaultdict(set)
    for k in keep:
        for _, other in reports[k]["links"]:
            if other in keep and other != k:
                adj[k].add(other)
                adj[other].add(k)
    group_of: dict[str, str] = {}
    for k in sorted(adj, key=pos.get):
        if k in group_of:
            continue
        stack, members = [k], []
        group_of[k] = k
        while stack:
            x = stack.pop()
            members.append(x)
            for y in adj[x]:
                if y not in group_of:
                    group_of[y] = k
                    stack.append(y)
        root = min(members, key=pos.get)           # oldest member names the group
        for m in members:
            group_of[m] = root
    members_of: dict[str, list[str]] = collections.defaultdict(list)
    for k, g in group_of.items():
        members_of[g].append(k)

    query_keys = {k for k in adj if group_of[k] != k}          # every member but the oldest
    corpus_keys = [k for k in order if k not in query_keys]
    corpus_set = set(corpus_keys)

    queries, dropped, resolved_dup = [], 0, 0
    for k in sorted(query_keys, key=pos.get):
        g = group_of[k]
        rel = sorted((m for m in members_of[g] if m in corpus_set and pos[m] < pos[k]), key=pos.get)
        if not rel:
            dropped += 1
            continue
        r = reports[k]
        resolved_dup += r["resolution"] == "Duplicate"
        h = int(hashlib.sha1(f"{project}:{g}".encode()).hexdigest()[:8], 16)
        split = "dev" if (h % 1000) < DEV_FRACTION * 1000 else "test"
        queries.append({
            "qid": f"q-{project}-{key_num(k)}",
            "text": f"{r['title']}\n{r['body']}".strip(),
            "relevant": [f"{project}-{key_num(m)}" for m in rel],
            "created": r["created"],
            "split": split,
        })

    out.mkdir(parents=True, exist_ok=True)
    corpus = [{"id": f"{project}-{key_num(k)}", "title": reports[k]["title"], "body": reports[k]["body"],
               "created": reports[k]["created"], "source": SOURCE_REPO} for k in corpus_keys]
    write_jsonl(out / "corpus.jsonl", corpus)
    sizes = {"corpus": len(corpus)}
    for split in ("dev", "test"):
        rows = [{kk: q[kk] for kk in ("qid", "text", "relevant", "created")} for q in queries if q["split"] == split]
        write_jsonl(out / f"queries-{split}.jsonl", rows)
        sizes[f"queries_{split}"] = len(rows)
    first = reports[order[0]]["created"]
    last = reports[order[-1]]["created"]
    src_path = f"bug_reports/{src.name}/*.json"
    meta = {
        "dataset": f"dbrd-{project}",
        "source": f"github:{SOURCE_REPO}@{SOURCE_COMMIT}:{src_path} (Apache JIRA, {src.name}, issue type Bug)",
        "source_repo": SOURCE_REPO,
        "source_commit": SOURCE_COMMIT,
        "source_path": src_path,
        "license": LICENCE,
        "licence": LICENCE,
        "task": ("given a bug report (summary + description) that JIRA links as a duplicate of an older one, "
                 "find that older report (the master of its 'Duplicate'-link group)"),
        "duplicates": ("JIRA 'Duplicate' issue links -> connected groups; oldest member = master (corpus); "
                       "every later member = query, relevant = earlier group members in the corpus (the master)"),
        "time_range": [first, last],
        "reports_in_source": total,
        "windowed": total > max_corpus,
        "corpus": sizes["corpus"],
        "dev": sizes["queries_dev"],
        "test": sizes["queries_test"],
        "sizes": sizes,
        "mean_relevant": round(sum(len(q["relevant"]) for q in queries) / max(1, len(queries)), 2),
        "queries_dropped_no_relevant": dropped,
        "queries_resolved_duplicate": resolved_dup,
        "groups": len(members_of),
        "dev_fraction": DEV_FRACTION,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path, help="directory of <KEY>.json JIRA issue files (bug_reports/<Project>)")
    ap.add_argument("--project", required=True, help="short lower-case name used in ids, e.g. hadoop")
    ap.add_argument("--out", type=Path, help="output directory (default bench/data/dbrd-<project>)")
    ap.add_argument("--max-corpus", type=int, default=12000, help="window the data above this many reports")
    ap.add_argument("--window", type=int, default=10000, help="newest reports kept when windowing")
    a = ap.parse_args(argv)
    out = a.out or BENCH / "data" / f"dbrd-{a.project}"
    meta = build(a.src, a.project, out, a.max_corpus, a.window)
    print(f"{out}: {json.dumps(meta['sizes'])} mean_relevant={meta['mean_relevant']} "
          f"groups={meta['groups']} resolved_dup={meta['queries_resolved_duplicate']}")


if __name__ == "__main__":
    main()
