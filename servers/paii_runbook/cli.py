"""``paii runbook ...``: lint runbooks, list them, see a run, and approve a step from your own terminal.

    paii runbook lint FILE|NAME... [--strict] [--json]   problems as file:line: severity: message
    paii runbook list [--json]                           the runbooks found and their last run
    paii runbook dry-run NAME [PARAM=VALUE...] [--json]  preflight checks and the plan; no step runs (recorded)
    paii runbook status RUN [--json]                     a run's steps, approvals and what is next
    paii runbook approve RUN STEP [--by NAME]            show the step's exact command, ask, record the approval

``approve`` is the person's own channel: it reads the answer from the terminal, so the approval
never passes through the model. It and ``dry-run`` write (a run's state, the history), so both are marked
``writes="runbook"``: read-only mode refuses them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from paii_cli.output import print_json


def _settings():
    from paii_runbook.config import RunbookSettings

    return RunbookSettings.load()


def _engine():
    from paii_runbook.engine import Engine

    return Engine(_settings())


def cmd_lint(args) -> int:
    from paii_runbook.catalog import Catalog

    catalog = Catalog(_settings())
    rows, errors, warnings = [], 0, 0
    for target in args.files:
        path = Path(target)
        if path.is_file():
            loaded = catalog.load_path(path)
        elif path.suffix == ".md" or "/" in target:
            print(f"paii: {target}: no such file", file=sys.stderr)
            return 2
        else:
            loaded = catalog.get(target)
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
        n = len(args.files)
        print(f"{n} runbook{'s' if n != 1 else ''}: {errors} error{'s' if errors != 1 else ''}, "
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
            print(f"paii: {item!r} is not PARAM=VALUE (e.g. target=primary-postgres)", file=sys.stderr)
            return 2
        params[key] = value
    from paii_runbook.record import cmd_line

    res = _engine().start(args.name, params, dry_run=True)
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
    st = _engine().runs.load(args.run)
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


def cmd_approve(args) -> int:
    from paii_runbook.engine import Engine

    engine: Engine = _engine()
    req = engine.approval_request(args.run, args.step)
    what = f"  $ {req['command']}" if req.get("command") else f"  by hand: {req.get('manual')}"
    print(f"Run {req['run_id']} ({', '.join(f'{k}={v}' for k, v in req['parameters'].items())})")
    print(f"Step {req['step']}: {req['title']}")
    print(what + (f"\n  in a pod of {req['pod']}" if req.get("pod") else ""))
    ttl = engine.settings.approval_ttl
    sys.stdout.write(f"Approve running exactly this, once, within {ttl / 60:g} min? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    by = args.by or engine.settings.operator_name()
    if answer not in ("y", "yes"):
        engine.note(args.run, req["step"], "refused", via="paii runbook approve", by=by)
        print("not approved (recorded)")
        return 1
    info = engine.approve(args.run, req["step"], via="paii runbook approve (terminal)", by=by, expect_sha=req["sha"])
    print(f"approved by {info.by}, valid until {info.expires}: the step runs at the next run_step")
    return 0


def add_parser(sub) -> None:
    r = sub.add_parser("runbook", help="runbooks: lint, list, dry-run, a run's status, approve a step")
    rs = r.add_subparsers(dest="runbook_command", required=True)

    lint = rs.add_parser("lint", help="check runbook files: file:line: severity: message; exit 1 on errors")
    lint.add_argument("files", nargs="+", metavar="FILE", help="runbook files (or names of runbooks found)")
    lint.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    lint.add_argument("--json", action="store_true", help="print a JSON list of problems")
    lint.set_defaults(func=cmd_lint)

    ls = rs.add_parser("list", help="the runbooks found, their steps and last run")
    ls.add_argument("--service", help="only runbooks for this service")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)

    dr = rs.add_parser("dry-run", help="preflight checks and the exact plan of a runbook; no step runs (recorded)")
    dr.add_argument("name", metavar="NAME", help="runbook name, e.g. database-failover")
    dr.add_argument("params", nargs="*", metavar="PARAM=VALUE", help="parameters, e.g. target=primary-postgres")
    dr.add_argument("--json", action="store_true", help="print the result as JSON")
    dr.set_defaults(func=cmd_dry_run, writes="runbook")

    st = rs.add_parser("status", help="a run's steps, approvals and what is next")
    st.add_argument("run", metavar="RUN", help="run id (start_run returns it)")
    st.add_argument("--json", action="store_true", help="print the run's full state as JSON")
    st.set_defaults(func=cmd_status)

    ap = rs.add_parser("approve", help="approve one step of a run from your terminal (asks you first)")
    ap.add_argument("run", metavar="RUN", help="run id")
    ap.add_argument("step", metavar="STEP", help="step id (its number, or a rollback's id)")
    ap.add_argument("--by", help="your name for the record (default PAII_RUNBOOK_OPERATOR or the OS user)")
    ap.set_defaults(func=cmd_approve, writes="runbook")
