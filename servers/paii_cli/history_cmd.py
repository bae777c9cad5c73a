"""``paii history ...``: the history store from the command line (the same functions as the MCP tools).

Reads (similar, search, recent, get, stats) live here; the writers (import, add) in
:mod:`paii_cli.history_write`. Errors are ``paii_common.errors`` exceptions, which ``paii``
prints as one line (JSON under ``--json``) with exit code 2. Dates are ISO 8601 UTC with ``Z``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from paii_cli.output import print_json, progress_factory

K_MAX = 100  # the most hits a search command shows


def store_for(args):
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    overrides = {"warmup": False}
    if getattr(args, "home", None):
        from pathlib import Path

        overrides["home"] = Path(args.home)
    return HistoryStore(HistorySettings.load(**overrides))


def bounded(lo: int, hi: int):
    """An argparse type: an integer from lo to hi, else a usage error (exit 2) that says so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (use {lo} to {hi})") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is out of range: use {lo} to {hi}")
        return value

    parse.__name__ = "number"  # argparse names the type in its messages
    return parse


def plain(value: Any) -> Any:
    """JSON-ready data with every datetime as ISO 8601 UTC with Z (as the tools give them)."""
    import datetime as dt

    from paii_history.models import when

    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return when(aware.timestamp())
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _hit_dict(h) -> dict[str, Any]:
    from paii_history.models import ago, when

    m = h.row.meta
    return {
        "id": h.id,
        "score": round(h.score, 4),
        "close": h.close,
        "why": h.why,
        "title": h.row.title,
        "category": h.row.category,
        "when": when(h.row.created),
        "ago": ago(h.row.created),
        "service": h.row.service,
        "root_cause": m.get("root_cause"),
        "resolution": m.get("resolution"),
        "links": plain(m.get("links")),
        "snippet": h.row.snippet,
    }


def read_stdin() -> str:
    from paii_common.errors import InvalidInput

    try:
        return sys.stdin.read()
    except UnicodeDecodeError:
        raise InvalidInput("standard input is not UTF-8 text: convert it (iconv -t UTF-8) and pipe it again") from None


def _query(args):
    """A search command's text ('-': a whole report from a pipe) and --since."""
    from paii_common.errors import InvalidInput
    from paii_history.entries import parse_time

    since = parse_time(args.since, "since") if args.since else None
    text = read_stdin() if args.text == "-" else args.text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 arrive as lone surrogates
        raise InvalidInput("TEXT is not valid UTF-8: check the terminal's encoding or the bytes passed") from None
    return text, since


def _read_category(store, category: str | None) -> str | None:
    """A read's --category: unknown is an error with a suggestion, as the tools say it."""
    return store.check_known_category(category) if category else None


def _print_hits(args, hits, truncated, warnings) -> None:
    if args.json:
        print_json([_hit_dict(h) for h in hits])
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
        return
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    from paii_history.evidence import CLOSE_MATCH
    from paii_history.retrieve import close_call, no_close_match

    if not hits:
        print("no matches")
    elif no_close_match(hits):
        print(f"no close match (every score is under {CLOSE_MATCH:.2f}); the nearest entries:")
    for n, h in enumerate(hits, 1):
        d = _hit_dict(h)
        weak = "" if h.close or no_close_match(hits) else "  (not a close match)"
        print(f"{n}. {d['id']} {d['when']} ({d['ago']}) - {d['title']}   score {d['score']:.4f}{weak}")
        if d["why"]:
            print(f"   Why: {d['why']}")
        if d["root_cause"]:
            print(f"   Root cause: {d['root_cause']}")
        if d["resolution"]:
            print(f"   Resolution: {d['resolution']}")
        if not d["root_cause"] and d["snippet"]:
            print(f"   {d['snippet']}")
    if truncated and hits:
        print("(more matches; raise -k to see more)")
    note = close_call(hits)
    if note:
        print(f"note: {note}")


def cmd_history_similar(args) -> int:
    text, since = _query(args)
    store = store_for(args)
    category = _read_category(store, args.category)
    found = store.similar(text, k=args.k, category=category, since=since, service=args.service, mode=args.mode)
    _print_hits(args, *found)
    return 0


def cmd_history_search(args) -> int:
    text, since = _query(args)
    store = store_for(args)
    category = _read_category(store, args.category)
    categories = [category] if category else None
    _print_hits(args, *store.retrieve(text, k=args.k, categories=categories, since=since, mode=args.mode))
    return 0


def cmd_history_recent(args) -> int:
    from paii_history.models import ago, when

    from paii_history import personal
    from paii_history.entries import parse_time

    since = parse_time(args.since, "since") if args.since else None
    store = store_for(args)
    if args.tag and args.tag.strip():
        rows, total = personal.tagged(store, args.tag.strip(), args.category, since, args.n)
    else:
        rows, total = store.recent(args.category, args.n, since)
    data = [{"id": r.id, "category": r.category, "title": r.title, "when": when(r.created), "ago": ago(r.created),
             "service": r.service} for r in rows]
    if args.json:
        print_json(data)
    else:
        for d in data:
            print(f"{d['when']}  {d['category']:<10} {d['id']:<28} {d['title']}")
        print(f"({len(data)} of {total})")
    return 0


def cmd_history_get(args) -> int:
    from paii_history.models import when

    store = store_for(args)
    e = store.get(args.id)
    if args.json:
        print_json({"id": e.id, "category": e.category, "title": e.title, "created": when(e.created.timestamp()),
                    "updated": when(e.updated.timestamp()) if e.updated else None,
                    "metadata": plain(e.meta), "content": e.body, "path": str(e.path)})
    else:
        sys.stdout.write(e.to_markdown())
    return 0


def cmd_history_reindex(args) -> int:
    store = store_for(args)
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
    data = store_for(args).stats()
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
        git = data.get("git")
        if git:  # team mode (PAII_HISTORY_GIT=1)
            print(f"git:       {git['remote'] or 'no remote (commits stay here)'}, branch {git['branch']}, "
                  f"last pull {git['last_pull'] or 'never'}, {git['unpushed_commits']} commit(s) not pushed")
            if git["problem"]:
                print(f"git:       {git['problem']}")
            for c in git["conflicts"]:
                print(f"conflict:  {c} (the other side's version of an entry: merge it by hand, then delete it)")
    return 0


def add_parser(sub) -> None:
    from paii_cli.history_write import add_parsers

    h = sub.add_parser("history", help="the history store (past incidents, learnings, notes)")
    h.add_argument("--home", help="data folder (default $PAII_HOME)")
    hs = h.add_subparsers(dest="history_command", required=True)

    def common(sp, json_help="print JSON"):
        sp.add_argument("--json", action="store_true", help=json_help)
        sp.add_argument("--home", help="data folder (default $PAII_HOME)", default=argparse.SUPPRESS)

    add_parsers(hs, common)

    sim = hs.add_parser("similar", help="past incidents similar to TEXT")
    sim.add_argument("text", help="what is happening; '-' reads it from stdin")
    sim.add_argument("-k", type=bounded(1, K_MAX), default=5, help=f"how many, 1-{K_MAX} (default 5)")
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
    se.add_argument("-k", "--limit", dest="k", type=bounded(1, K_MAX), default=10, help=f"how many, 1-{K_MAX} (default 10)")
    se.add_argument("--mode", choices=["hybrid", "keyword", "vector"], default="hybrid",
                    help="hybrid (default: words and meaning), or keyword or vector alone")
    common(se)
    se.set_defaults(func=cmd_history_search)

    rc = hs.add_parser("recent", help="newest entries")
    rc.add_argument("--category", help="only this category (default: all)")
    rc.add_argument("-n", type=bounded(1, 1000), default=10, help="how many, 1-1000 (default 10)")
    rc.add_argument("--tag", help="only entries with this tag (any case), e.g. spanish")
    rc.add_argument("--since", help="ISO date or age like 7d")
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
