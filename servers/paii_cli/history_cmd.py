"""``paii history ...``: the history store from the command line (the same functions as the MCP tools)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from paii_cli.output import print_json, progress_factory


def _store(args):
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    overrides = {"warmup": False}
    if getattr(args, "home", None):
        from pathlib import Path

        overrides["home"] = Path(args.home)
    return HistoryStore(HistorySettings.load(**overrides))


def _hit_dict(h) -> dict[str, Any]:
    from paii_history.models import ago, when

    m = h.row.meta
    return {
        "id": h.id,
        "score": h.score,
        "title": h.row.title,
        "category": h.row.category,
        "when": when(h.row.created),
        "ago": ago(h.row.created),
        "service": h.row.service,
        "root_cause": m.get("root_cause"),
        "resolution": m.get("resolution"),
        "links": m.get("links"),
        "snippet": h.row.snippet,
    }


def cmd_history_import(args) -> int:
    from pathlib import Path

    store = _store(args)
    report = store.import_jsonl(Path(args.file), args.category, progress_factory(not args.json and not args.quiet))
    data = {
        "imported": report.imported,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "vectors": report.vectors,
        "errors": report.errors,
        "warnings": report.warnings,
    }
    if args.json:
        print_json(data)
    else:
        print(f"imported {report.imported}, updated {report.updated}, unchanged {report.unchanged} into {args.category}")
        for e in report.errors[:20]:
            print(f"  error: {e}", file=sys.stderr)
        if len(report.errors) > 20:
            print(f"  ... and {len(report.errors) - 20} more errors", file=sys.stderr)
        for w in report.warnings:
            print(f"  warning: {w}", file=sys.stderr)
    return 1 if report.errors and not (report.imported or report.updated or report.unchanged) else 0


def _query(args):
    """A search command's text ('-': a whole report from a pipe) and --since."""
    from paii_history.entries import parse_time

    since = parse_time(args.since, "since") if args.since else None
    return (sys.stdin.read() if args.text == "-" else args.text), since


def _print_hits(args, hits, truncated, warnings) -> None:
    if args.json:
        print_json([_hit_dict(h) for h in hits])
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
        return
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not hits:
        print("no matches")
    for n, h in enumerate(hits, 1):
        d = _hit_dict(h)
        print(f"{n}. {d['id']} ({d['ago']}) - {d['title']}   score {d['score']:.2f}")
        if d["root_cause"]:
            print(f"   Root cause: {d['root_cause']}")
        if d["resolution"]:
            print(f"   Resolution: {d['resolution']}")
        if not d["root_cause"] and d["snippet"]:
            print(f"   {d['snippet']}")
    if truncated:
        print("(more matches; raise -k to see more)")


def cmd_history_similar(args) -> int:
    text, since = _query(args)
    found = _store(args).similar(text, k=args.k, category=args.category, since=since, service=args.service, mode=args.mode)
    _print_hits(args, *found)
    return 0


def cmd_history_search(args) -> int:
    text, since = _query(args)
    categories = [args.category] if args.category else None
    _print_hits(args, *_store(args).retrieve(text, k=args.k, categories=categories, since=since, mode=args.mode))
    return 0


def cmd_history_recent(args) -> int:
    from paii_history.models import when

    store = _store(args)
    rows, total = store.recent(args.category, args.n)
    data = [{"id": r.id, "category": r.category, "title": r.title, "when": when(r.created), "service": r.service} for r in rows]
    if args.json:
        print_json(data)
    else:
        for d in data:
            print(f"{d['when'][:16]}  {d['category']:<10} {d['id']:<28} {d['title']}")
        print(f"({len(data)} of {total})")
    return 0


def cmd_history_get(args) -> int:
    store = _store(args)
    e = store.get(args.id)
    if args.json:
        print_json({"id": e.id, "category": e.category, "title": e.title, "created": e.created, "metadata": e.meta, "content": e.body, "path": str(e.path)})
    else:
        sys.stdout.write(e.to_markdown())
    return 0


def cmd_history_reindex(args) -> int:
    store = _store(args)
    report = store.reindex(progress_factory(not args.json), vectors=not args.keyword_only)
    data = {
        "files": report.scanned,
        "indexed": report.indexed,
        "vectors": report.vectors,
        "skipped": [{"path": p, "reason": r} for p, r in report.skipped],
        "warnings": report.warnings,
    }
    if args.json:
        print_json(data)
    else:
        print(f"indexed {report.indexed} of {report.scanned} files, {report.vectors} vectors")
        for p, r in report.skipped:
            print(f"  skipped {p}: {r}", file=sys.stderr)
        for w in report.warnings:
            print(f"  warning: {w}", file=sys.stderr)
    return 0


def cmd_history_stats(args) -> int:
    data = _store(args).stats()
    if args.json:
        print_json(data)
    else:
        print(f"home:      {data['home']}")
        print(f"entries:   {data['entries']}  " + ", ".join(f"{k} {v}" for k, v in sorted(data["by_category"].items())))
        print(f"semantic:  {'yes, ' + str(data['model']) if data['semantic'] else 'no'}")
        if data.get("vector_store"):
            print(f"vectors:   {data.get('vectors')} in {data['vector_store']}")
        if data["problem"]:
            print(f"problem:   {data['problem']}")
        for s in data["skipped_files"]:
            print(f"skipped:   {s['path']}: {s['reason']}")
    return 0



def add_parser(sub) -> None:
    h = sub.add_parser("history", help="the history store (past incidents, learnings, notes)")
    h.add_argument("--home", help="data folder (default $PAII_HOME)")
    hs = h.add_subparsers(dest="history_command", required=True)

    def common(sp, json_help="print JSON"):
        sp.add_argument("--json", action="store_true", help=json_help)
        sp.add_argument("--home", help="data folder (default $PAII_HOME)", default=argparse.SUPPRESS)

    imp = hs.add_parser("import", help="import a JSONL file: one {id, title, body, created?, ...} a line")
    imp.add_argument("file")
    imp.add_argument("--category", required=True, help="e.g. incidents")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    common(imp)
    imp.set_defaults(func=cmd_history_import, writes="history")

    sim = hs.add_parser("similar", help="past incidents similar to TEXT")
    sim.add_argument("text", help="what is happening; '-' reads it from stdin")
    sim.add_argument("-k", type=int, default=5, help="how many (default 5)")
    sim.add_argument("--service", help="only this service")
    sim.add_argument("--since", help="ISO date or age like 90d")
    sim.add_argument("--category", help="search this category (default: incidents, or every category "
                     "while no incident is recorded)")
    sim.add_argument("--mode", choices=["hybrid", "keyword", "vector"], default="hybrid",
                     help="hybrid (default: words and meaning), or keyword or vector alone")
    common(sim, "print a JSON list of hits, each with id and score")
    sim.set_defaults(func=cmd_history_similar)

    se = hs.add_parser("search", help="search all history")
    se.add_argument("text", help="what to look for; '-' reads it from stdin")
    se.add_argument("--category", help="only this category (default: all)")
    se.add_argument("--since", help="ISO date or age like 90d")
    se.add_argument("-k", "--limit", dest="k", type=int, default=10, help="how many (default 10)")
    se.add_argument("--mode", choices=["hybrid", "keyword", "vector"], default="hybrid",
                     help="hybrid (default: words and meaning), or keyword or vector alone")
    common(se)
    se.set_defaults(func=cmd_history_search)

    rc = hs.add_parser("recent", help="newest entries")
    rc.add_argument("--category", help="only this category (default: all)")
    rc.add_argument("-n", type=int, default=10, help="how many (default 10)")
    common(rc)
    rc.set_defaults(func=cmd_history_recent)

    g = hs.add_parser("get", help="print one entry")
    g.add_argument("id")
    common(g)
    g.set_defaults(func=cmd_history_get)

    ri = hs.add_parser("reindex", help="rebuild the index from the files")
    ri.add_argument("--keyword-only", action="store_true", help="skip vectors")
    common(ri)
    ri.set_defaults(func=cmd_history_reindex)

    st = hs.add_parser("stats", help="counts, model, index health")
    common(st)
    st.set_defaults(func=cmd_history_stats)

