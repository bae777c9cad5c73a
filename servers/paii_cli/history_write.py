"""The writing ``paii history`` commands: ``import`` (an export file) and ``add`` (one entry).

Both write into a category. A category that does not exist yet is created only on purpose:
``add`` (like the ``capture`` tool) needs ``--create-category``; ``import`` says it is creating one,
and needs ``--create-category`` (or a yes on a terminal) when the name is one edit away from an
existing category (``incidnets``), which is far more often a typo than a new category.
"""

from __future__ import annotations

import sys
from typing import Any

from paii_cli.output import print_json, progress_factory


def one_edit_apart(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by one insertion, deletion, substitution or swap of two neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((n for n, (x, y) in enumerate(zip(short, long_)) if x != y), len(short))
    return short[i:] == long_[i + 1 :]


def _confirm(question: str) -> bool:
    """A yes from the person at a terminal; False when nobody can answer (a pipe, a script)."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    try:
        return sys.stdin.readline().strip().lower() in ("y", "yes")
    except (EOFError, KeyboardInterrupt):
        return False


def category_for_write(store, category: str, *, create: bool, any_new_needs_consent: bool, quiet: bool = False) -> tuple[str, bool]:
    """(the category normalised, whether it is new). A new one needs ``create`` (or a yes) when
    ``any_new_needs_consent`` or when it is one edit away from a known category; else it is
    announced on stderr. Raises InvalidInput, naming the near category and the flag."""
    from paii_common.errors import InvalidInput
    from paii_history.entries import check_category

    cat = check_category(category.strip().lower() if isinstance(category, str) else category)
    known = store.known_categories()
    if cat in known:
        return cat, False
    near = [k for k in known if one_edit_apart(cat, k)]
    if (near or any_new_needs_consent) and not create:
        hint = f" Did you mean {near[0]!r}?" if near else ""
        if not _confirm(f"category {cat!r} does not exist.{hint} Create it?"):
            raise InvalidInput(
                f"category {cat!r} does not exist.{hint} Known: {', '.join(known)}. "
                f"To create {cat!r}, run again with --create-category."
            )
    if not quiet:
        print(f"creating a new category {cat!r} (known: {', '.join(known)})", file=sys.stderr)
    return cat, True


def cmd_history_import(args) -> int:
    from pathlib import Path

    from paii_cli.history_cmd import store_for

    store = store_for(args)
    category, new = category_for_write(store, args.category, create=args.create_category, any_new_needs_consent=False,
                                       quiet=args.json)
    report = store.import_file(Path(args.file), category, progress_factory(not args.json and not args.quiet),
                               partial=args.skip_bad_lines, allow_duplicates=args.allow_duplicates)
    failed = len(report.errors)
    good = report.records - failed
    data: dict[str, Any] = {
        "format": report.format,
        "category": category,
        "new_category": new,
        "records": report.records,
        "imported": report.imported,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "duplicates": report.duplicates,
        "skipped": failed if report.written else report.records,
        "vectors": report.vectors,
        "errors": report.errors,
        "warnings": report.warnings,
    }
    if args.json:
        print_json(data)
        return 0 if report.written else 1
    if report.written:
        print(f"imported {report.imported}, updated {report.updated}, unchanged {report.unchanged} into {category}"
              + (f"; {report.duplicates} duplicate{'s' if report.duplicates != 1 else ''} not imported" if report.duplicates else "")
              + (f"; skipped {failed} bad record{'s' if failed != 1 else ''}" if failed else "")
              + f" ({report.format}, {report.records} record{'s' if report.records != 1 else ''})")
    for e in report.errors[:20]:
        print(f"  error: {e}", file=sys.stderr)
    if failed > 20:
        print(f"  ... and {failed - 20} more errors", file=sys.stderr)
    for w in report.warnings:
        print(f"  warning: {w}", file=sys.stderr)
    if not report.written:
        print(f"paii: nothing imported: {failed} of {report.records} records in {args.file} ({report.format}) failed. "
              f"Fix them and import again, or add --skip-bad-lines to import the {good} good one{'s' if good != 1 else ''}",
              file=sys.stderr)
        return 1
    return 0


def _text_arg(value: str, what: str) -> str:
    from paii_common.errors import InvalidInput

    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid UTF-8 text: check the terminal's encoding or the bytes passed") from None
    return value


def cmd_history_add(args) -> int:
    from paii_cli.history_cmd import read_stdin, store_for

    store = store_for(args)
    category, _ = category_for_write(store, args.category, create=args.create_category, any_new_needs_consent=True,
                                     quiet=args.json)
    content = read_stdin() if args.text == "-" else _text_arg(args.text or "", "TEXT")
    meta: dict[str, Any] = {}
    if args.tag:
        meta["tags"] = [_text_arg(t, "--tag") for t in args.tag]
    if args.service:
        meta["service"] = _text_arg(args.service, "--service")
    # create_category: consent was given above (flag or a yes); capture checks the rest as the tool does
    from paii_common.auth import actor  # the local user: who runs the command

    entry, warnings = store.capture(category, _text_arg(args.title, "--title"), content, meta, create_category=True,
                                    author=actor(), allow_duplicate=args.allow_duplicate)
    duplicate = any(n.startswith("not saved:") for n in entry.notes)  # the existing entry came back
    data = {"id": entry.id, "category": entry.category, "path": str(entry.path), "added": not duplicate,
            "warnings": warnings}
    if args.json:
        print_json(data)
    elif duplicate:
        print(f"not added: {entry.id} ({entry.category}) has the same title and text: {entry.path}\n"
              "  run again with --allow-duplicate to add a second copy", file=sys.stderr)
    else:
        print(f"added {entry.id} to {entry.category}: {entry.path}")
    for w in warnings if not args.json and not duplicate else []:
        print(f"  warning: {w}", file=sys.stderr)
    return 0


def add_parsers(hs, common) -> None:
    """``import`` and ``add`` under ``paii history`` (``common`` adds --json and --home)."""
    imp = hs.add_parser(
        "import", help="import past incidents: JSON Lines, a JSON array, Jira or PagerDuty JSON, or CSV (idempotent)",
        description="Import an export file into a category. Each record needs an id and a title (or a "
        "tool's own names for them: Summary/Issue key, incident_number/description...); the rest is kept "
        "as metadata. Importing again updates changed records and skips unchanged ones. See docs/importing.md.",
    )
    imp.add_argument("file")
    imp.add_argument("--category", required=True, help="e.g. incidents")
    imp.add_argument("--create-category", action="store_true",
                     help="allow a new category whose name is one edit away from an existing one")
    imp.add_argument("--skip-bad-lines", action="store_true",
                     help="import the good records when some fail (exit 0, the failures counted as skipped)")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.add_argument("--allow-duplicates", action="store_true",
                     help="also import records whose title and text an entry with another id already has")
    common(imp)
    imp.set_defaults(func=cmd_history_import, writes="history")

    add = hs.add_parser(
        "add", help="record one entry (a learning, a decision, a note) without writing a file",
        description="Save one entry, as the capture tool does. TEXT is its markdown body; '-' reads it from stdin.",
    )
    add.add_argument("text", nargs="?", default="", help="the body (markdown); '-' reads it from stdin")
    add.add_argument("--category", required=True, help="learnings, decisions, notes, sessions, runbooks, incidents...")
    add.add_argument("--title", required=True, help="one line")
    add.add_argument("--tag", action="append", help="a tag (repeat for more)")
    add.add_argument("--service", help="the service it is about")
    add.add_argument("--create-category", action="store_true", help="allow a category that does not exist yet")
    add.add_argument("--allow-duplicate", action="store_true",
                     help="add it even when an entry with the same title and text exists (default: say so, add nothing)")
    common(add, "print the id and path as JSON")
    add.set_defaults(func=cmd_history_add, writes="history")
