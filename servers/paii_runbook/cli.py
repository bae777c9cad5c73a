"""``paii runbook ...``: lint runbooks, list them, see a run, and approve a step from your own terminal.

    paii runbook lint [FILE|NAME...] [--strict] [--json]  problems as file:line: severity: message (none given: all)
    paii runbook list [--json]                            the runbooks found and their last run
    paii runbook dry-run NAME [PARAM=VALUE...] [--json]   preflight checks and the plan; no step runs (recorded)
    paii runbook status RUN [--json]                      a run's steps, approvals and what is next
    paii runbook approve RUN STEP [--json]                show the step's exact command, ask you, record your yes

``approve`` is the person's own channel (:func:`cmd_approve`): it checks the run and the step
first, then shows the exact command and reads the answer from the controlling terminal, and
refuses when its input is not that terminal (a pipe, a file, a program), so no script and no
assistant's tool can answer for the person. The approval is recorded under the person's name
(:meth:`paii_runbook.config.RunbookSettings.operator_name`), never one given on the command line,
and sealed with the approval key (:mod:`paii_runbook.seal`). It and ``dry-run`` write (a run's
state, the history), so both are marked ``writes="runbook"``: read-only mode refuses them.
"""

from __future__ import annotations

import argparse
import difflib
import io
import os
import sys
from pathlib import Path

from paii_cli import CliError
from paii_cli.output import print_json


def _settings():
    from paii_runbook.config import RunbookSettings

    return RunbookSettings.load()


def _engine():
    from paii_runbook.engine import Engine

    return Engine(_settings())


def _named(catalog, name: str):
    """The runbook called name, or an error that points to `paii runbook list`."""
    from paii_common.errors import NotFound

    try:
        return catalog.get(name)
    except NotFound:
        close = difflib.get_close_matches(name.strip().lower().removesuffix(".md"), list(catalog.files()), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise CliError(f"no runbook {name!r}.{hint} `paii runbook list` shows the runbooks found (folders: "
                       f"{', '.join(str(d) for d in catalog.settings.runbook_dirs())}).", 1) from None


def _run_state(engine, run_id: str) -> dict:
    """A run's state, or an error that points to `paii runbook list` (its open runs)."""
    if not engine.runs.path(run_id).exists():  # a malformed id is InvalidInput (exit 2) from path()
        raise CliError(f"no run {run_id!r}: `paii runbook list` shows each runbook's open runs.", 1)
    return engine.runs.load(run_id)


def cmd_lint(args) -> int:
    from paii_runbook.catalog import Catalog

    catalog = Catalog(_settings())
    rows, errors, warnings, checked = [], 0, 0, 0
    found = [(str(path), path, src, folder) for path, src, folder in catalog.files().values()]
    targets = [(t, Path(t), "", None) for t in args.files] or found
    for target, path, src, folder in targets:
        if folder is not None:  # a runbook found in its folder: read only inside it
            loaded = catalog.load_path(path, src, folder)
        elif path.is_file():
            loaded = catalog.load_path(path)
        elif path.suffix == ".md" or "/" in target:
            raise CliError(f"{target}: no such file", 2)
        else:
            loaded = _named(catalog, target)
        checked += 1
        shown = path if path.is_file() else loaded.runbook.path
        for p in loaded.problems:
            rows.append({"file": str(shown), "line": p.line, "severity": p.severity, "message": p.message})
            errors += p.severity == "error"
            warnings += p.severity == "warning"
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            print(f"{r['file']}:{r['line']}: {r['severity']}: {r['message']}")
        print(f"{checked} runbook{'s' if checked != 1 else ''}: {errors} error{'s' if errors != 1 else ''}, "
              f"{warnings} warning{'s' if warnings != 1 else ''}", file=sys.stderr)
    return 1 if errors or (args.strict and warnings) else 0


def cmd_list(args) -> int:
    from paii_runbook.views import list_runbooks

    result = list_runbooks(_engine(), args.service)
    if args.json:
        print_json(result.model_dump())
        return 0
    for r in result.runbooks:
        last = f"last run {r.last_run.when} by {r.last_run.by}" if r.last_run else "never run"
        flag = "" if r.valid else "  INVALID: " + "; ".join(r.problems[:2])
        print(f"{r.name:<32} {r.steps:>2} steps, {r.approvals} approvals  {last}{flag}")
        for rid in r.open_runs:
            print(f"  open run: {rid}")
    if not result.runbooks:
        print("no runbooks found")
    return 0


def cmd_dry_run(args) -> int:
    params = {}
    for item in args.params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"{item!r} is not PARAM=VALUE (e.g. target=primary-postgres)", 2)
        params[key] = value
    from paii_runbook.record import cmd_line

    engine = _engine()
    _named(engine.catalog, args.name)
    res = engine.start(args.name, params, dry_run=True)
    if args.json:
        print_json(res.model_dump())
        return 0
    print(f"RUNBOOK: {res.runbook}.md  ({res.title})")
    if params:
        print("Parameters: " + ", ".join(f"{k}={v}" for k, v in res.parameters.items()))
    print(f"{res.steps_total} steps{', affects production' if res.production else ''}"
          + (f"; estimated duration: {res.estimated_duration}" if res.estimated_duration else ""))
    last = res.last_executed
    print(f"Last executed: {last.when} (by {last.by}, {last.outcome})" if last else "Last executed: never")
    if res.preflight:
        print("\nPRE-FLIGHT CHECKS:")
        for c in res.preflight:
            print(f"  {'✓' if c.passed else ('✗' if c.required else '⚠')} {c.name}: {c.message}")
    for w in res.warnings:
        print(f"  ⚠ {w}")
    print("\nPLAN:")
    for p in res.plan:
        what = cmd_line(p.argv) if p.argv else (p.manual or p.kind)
        gate = "  [approval]" if p.approval else ""
        print(f"  {p.id:>2}. {p.title}{gate}\n      {what}" + (f"\n      in a pod: {p.pod}" if p.pod else ""))
    print(f"\nNothing ran. Recorded to {res.recorded}" if res.recorded else "\nNothing ran.")
    return 0


def cmd_status(args) -> int:
    st = _run_state(_engine(), args.run)
    if args.json:
        print_json(st)
        return 0
    print(f"{st['id']}: {st['runbook']} ({', '.join(f'{k}={v}' for k, v in st['parameters'].items())})"
          f"{' dry run' if st.get('dry_run') else ''}, {st['status']}"
          + (f", outcome {st['outcome']}" if st.get("outcome") else ""))
    for sid in st["order"]:
        s = st["steps"][sid]
        print(f"  {'>' if sid in (st.get('cursor'), st.get('halted_at')) else ' '} {sid:>3} {s['status']:<11} {s['title']}")
    for a in st.get("approvals") or []:
        used = f"used {a['used_at']}" if a.get("used_at") else f"expires {a['expires']}"
        print(f"  approval: step {a['step']} by {a['by']} via {a['via']} at {a['at']}, {used}")
    return 0


NOT_A_TERMINAL = ("`paii runbook approve` asks you, the person, at your own terminal, and {what}: nothing was approved. "
                  "Run it yourself in a terminal window. An approval cannot come from a script, a pipe or an "
                  "assistant's tool; in Claude Code, approve at the prompt run_step shows you instead.")


def _terminal() -> int:
    """stdin's file descriptor when it is this process's controlling terminal, with this process in the
    foreground (a person's terminal window); else the refusal (a pipe, a file, another terminal)."""
    try:
        stdin = sys.stdin.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        stdin = -1
    if stdin < 0 or not os.isatty(stdin):
        raise CliError(NOT_A_TERMINAL.format(what="its input is not a terminal (a pipe, a file or a program)"), 1)
    try:
        foreground = os.tcgetpgrp(stdin)  # fails unless stdin is this process's controlling terminal
    except OSError:
        raise CliError(NOT_A_TERMINAL.format(what="its input is not its own controlling terminal"), 1) from None
    if foreground != os.getpgrp():
        raise CliError(NOT_A_TERMINAL.format(what="it is not in the foreground of its terminal"), 1)
    return stdin


def _ask(question: str) -> str:
    """Ask at the person's terminal; the answer typed there (lowercase)."""
    fd = _terminal()
    os.write(fd, question.encode("utf-8", "replace"))
    with os.fdopen(os.dup(fd), "r", encoding="utf-8", errors="replace") as tty:
        return tty.readline().strip().lower()


def cmd_approve(args) -> int:
    if args.by is not None:
        raise CliError("--by is gone: the approval is recorded under your own name (PAII_RUNBOOK_OPERATOR, PAII_USER, "
                       "git's user.name, or your OS user), never one typed on the command line.", 2)
    engine = _engine()
    _run_state(engine, args.run)
    req = engine.approval_request(args.run, args.step)  # finished run, unknown step, no approval needed: said here
    by = engine.settings.operator_name()
    ttl = engine.settings.approval_ttl
    what = f"  $ {req['command']}" if req.get("command") else f"  by hand: {req.get('manual')}"
    answer = _ask(f"Run {req['run_id']} ({', '.join(f'{k}={v}' for k, v in req['parameters'].items())})\n"
                  f"Step {req['step']}: {req['title']}\n" + what + (f"\n  in a pod of {req['pod']}" if req.get("pod") else "")
                  + f"\n{by}: approve running exactly this, once, within {ttl / 60:g} min? [y/N] ")
    if answer not in ("y", "yes"):
        engine.note(args.run, req["step"], "refused", via="paii runbook approve (terminal)", by=by)
        if args.json:
            print_json({"approved": False, "run_id": req["run_id"], "step": req["step"], "by": by})
        else:
            print("not approved (recorded)")
        return 1
    info = engine.approve(args.run, req["step"], via="paii runbook approve (terminal)", by=by, expect_sha=req["sha"])
    if args.json:
        print_json({"approved": True, "run_id": req["run_id"], **info.model_dump()})
    else:
        print(f"approved by {info.by}, valid until {info.expires}: the step runs at the next run_step")
    return 0


def add_parser(sub) -> None:
    r = sub.add_parser("runbook", help="runbooks: lint, list, dry-run, a run's status, approve a step")
    rs = r.add_subparsers(dest="runbook_command", required=True)

    lint = rs.add_parser("lint", help="check runbook files: file:line: severity: message; exit 1 on errors")
    lint.add_argument("files", nargs="*", metavar="FILE",
                      help="runbook files or names of runbooks found (none: every runbook found)")
    lint.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    lint.add_argument("--json", action="store_true", help="print a JSON list of problems")
    lint.set_defaults(func=cmd_lint)

    ls = rs.add_parser("list", help="the runbooks found, their steps, last run and open runs")
    ls.add_argument("--service", help="only runbooks for this service")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)

    dr = rs.add_parser("dry-run", help="preflight checks and the exact plan of a runbook; no step runs (recorded)")
    dr.add_argument("name", metavar="NAME", help="runbook name, e.g. database-failover (paii runbook list shows them)")
    dr.add_argument("params", nargs="*", metavar="PARAM=VALUE", help="parameters, e.g. target=primary-postgres")
    dr.add_argument("--json", action="store_true", help="print the result as JSON")
    dr.set_defaults(func=cmd_dry_run, writes="runbook")

    st = rs.add_parser("status", help="a run's steps, approvals and what is next")
    st.add_argument("run", metavar="RUN", help="run id (start_run returns it)")
    st.add_argument("--json", action="store_true", help="print the run's full state as JSON")
    st.set_defaults(func=cmd_status)

    ap = rs.add_parser("approve", help="approve one step of a run, at your own terminal (asks you first)",
                       description="Checks the run and the step, shows the step's exact command and asks you at "
                                   "your terminal (it refuses piped input). Your yes is recorded under your name "
                                   "(PAII_RUNBOOK_OPERATOR, PAII_USER, git's user.name or the OS user) and is valid "
                                   "once, for PAII_RUNBOOK_APPROVAL_TTL seconds (default 15 min).")
    ap.add_argument("run", metavar="RUN", help="run id")
    ap.add_argument("step", metavar="STEP", help="step id (its number, or a rollback's id)")
    ap.add_argument("--json", action="store_true", help="print the approval (or the refusal) as JSON")
    ap.add_argument("--by", help=argparse.SUPPRESS)
    ap.set_defaults(func=cmd_approve, writes="runbook")
