"""Lint: the structural problems from :mod:`paii_runbook.format`, plus what needs judgement.

Does a command change something? :func:`classify` answers from a small, explicit table
(docs/runbooks.md lists it): SQL that only reads (SELECT/SHOW/EXPLAIN without functions that
act, such as pg_promote or pg_terminate_backend), kubectl get/describe/logs, curl without a
body or a method other than GET/HEAD, and well-known read-only programs. Anything else is taken
to change something. A step that changes something needs ``approval: required`` (or
``approval: none`` with a reason); otherwise lint warns. A preflight check must only read.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from paii_runbook.format import Command, Problem, Runbook, Step, parse, placeholders

READ_PROGRAMS = frozenset({
    "cat", "grep", "egrep", "fgrep", "head", "tail", "ls", "df", "du", "free", "uptime", "date", "echo", "printf",
    "pg_isready", "true", "test", "wc", "stat", "ps", "dig", "nslookup", "host", "ping", "jq", "whoami", "hostname",
    "uname", "id", "sleep", "nproc", "vmstat", "iostat", "ss", "netstat",
})
READ_MANAGE = frozenset({"dbstats", "check", "showmigrations", "diffsettings", "sqlmigrate", "inspectdb"})
READ_KUBECTL = frozenset({"get", "describe", "logs", "top", "explain", "version", "api-resources", "cluster-info"})
READ_SQL = re.compile(r"^\s*(select|show|explain|with|values|table)\b", re.IGNORECASE)
ACTING_SQL = re.compile(
    r"\b(pg_promote|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|set_config|pg_switch_wal|pg_wal_replay_pause|"
    r"pg_wal_replay_resume|pg_create_restore_point|pg_create_physical_replication_slot|pg_drop_replication_slot|"
    r"pg_create_logical_replication_slot|nextval|setval|lo_import|lo_export|lo_unlink|dblink_exec|pg_rotate_logfile|"
    r"pg_stat_reset\w*|txid_current|pg_advisory_lock\w*)\s*\(|\b(insert|update|delete|merge)\b|\banalyze\b|\binto\b",
    re.IGNORECASE,
)
PSQL_VALUE_OPTS = frozenset("hpUdFRPTvLo")  # psql short options that take a value (-c and -f handled apart)


def _sql_reads(sql: str) -> bool:
    statements = [s for s in sql.split(";") if s.strip()]
    return bool(statements) and all(READ_SQL.match(s) and not ACTING_SQL.search(s) for s in statements)


def _psql_sql(argv: list[str]) -> list[str] | None:
    """The SQL a psql command line sends (-c / --command), or None when it reads a file or stdin."""
    sql, i = [], 1
    while i < len(argv):
        a = argv[i]
        if a in ("-c", "--command") and i + 1 < len(argv):
            sql.append(argv[i + 1])
            i += 2
            continue
        if a.startswith("--command="):
            sql.append(a.split("=", 1)[1])
        elif a in ("-f", "--file") or a.startswith("--file="):
            return None
        elif a.startswith("-") and not a.startswith("--") and len(a) > 1:
            flags = a[1:]
            for j, ch in enumerate(flags):
                if ch == "c":
                    rest = flags[j + 1:]
                    if rest:
                        sql.append(rest)
                    elif i + 1 < len(argv):
                        sql.append(argv[i + 1])
                        i += 1
                    break
                if ch == "f":
                    return None
                if ch in PSQL_VALUE_OPTS:
                    if not flags[j + 1:]:
                        i += 1  # the value is the next argument
                    break
        i += 1
    return sql or None


def classify(argv: list[str]) -> tuple[bool, str]:
    """(changes something?, why) for one command line."""
    program = posixpath.basename(argv[0]) if argv else ""
    args = argv[1:]
    if program == "psql":
        sql = _psql_sql(argv)
        if sql is None:
            return True, "psql runs SQL from a file or stdin"
        bad = next((s for s in sql if not _sql_reads(s)), None)
        return (True, f"the SQL {bad[:60]!r} changes something") if bad else (False, "read-only SQL")
    if program == "pg_ctl":
        return (False, "pg_ctl status") if args[:1] == ["status"] or "status" in args else (True, "pg_ctl acts on the server")
    if program == "kubectl":
        verb = next((a for a in args if not a.startswith("-") and a not in _kubectl_values(args)), "")
        return (verb not in READ_KUBECTL, f"kubectl {verb or '?'}")
    if program in ("curl", "wget"):
        writes = {"-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "-F", "--form", "-T",
                  "--upload-file", "--json", "--post-data", "--post-file"}
        if any(a in writes or a.split("=", 1)[0] in writes for a in args):
            return True, f"{program} sends a body"
        for n, a in enumerate(args):
            method = args[n + 1] if a in ("-X", "--request", "--method") and n + 1 < len(args) else (
                a.split("=", 1)[1] if a.startswith(("--request=", "--method=")) else None)
            if method and method.upper() not in ("GET", "HEAD"):
                return True, f"{program} {method.upper()}"
        return False, f"{program} GET"
    if program.startswith("python") and args[:1] == ["manage.py"]:
        cmd = args[1] if len(args) > 1 else ""
        return (cmd not in READ_MANAGE, f"manage.py {cmd}")
    if program in READ_PROGRAMS:
        return False, f"{program} only reads"
    return True, f"PAII cannot tell that {program or 'the command'} only reads"


def _kubectl_values(args: list[str]) -> set[str]:
    """Values of kubectl's global options (-n payments, --context x), which are not the verb."""
    out = set()
    for n, a in enumerate(args[:-1]):
        if a in ("-n", "--namespace", "--context", "--cluster", "--kubeconfig", "-s", "--server", "--user"):
            out.add(args[n + 1])
    return out


def known_write(argv: list[str]) -> bool:
    """The table knows this command changes something (not merely that it cannot tell)."""
    changes, why = classify(argv)
    return changes and not why.startswith("PAII cannot tell")


def step_changes(step: Step) -> tuple[bool, str]:
    """Whether running the step changes something: as the author wrote it, else from its command."""
    if step.kind == "manual":
        return True, "the person acts"
    if step.kind == "note":
        return False, "nothing runs"
    command = step.command or (step.wait.check if step.wait else None)
    guess = classify(command.argv) if command else (False, "")
    if step.changes is not None:
        return step.changes, f"as declared (changes: {str(step.changes).lower()})"
    return guess


def lint(rb: Runbook) -> list[Problem]:
    """Every problem of a parsed runbook, errors first, by line."""
    problems = list(rb.problems)
    for line, where, name, whole in placeholders(rb):
        p = rb.parameters.get(name)
        if p and not p.pattern:
            if not whole:
                problems.append(Problem(line, "error", f"{where}: {{{{{name}}}}} is written inside a longer argument: "
                                        f"give parameter {name} a pattern so its value cannot change what that argument means"))
            else:
                problems.append(Problem(line, "warning", f"{where}: parameter {name} has no pattern: any text is accepted"))
    for check in rb.preflight:
        changes, why = classify(check.command.argv)
        if check.changes is not None:
            changes = check.changes
        if changes:
            problems.append(Problem(check.line, "error", f"preflight {check.name!r} must only read ({why}): "
                                    "move it into a step, or set changes: false if it really only reads"))
    for step in [*rb.steps, *rb.rollbacks.values()]:
        line = step.line_of()
        changes, why = step_changes(step)
        command = step.command or (step.wait.check if step.wait else None)
        if step.kind == "wait" and command and classify(command.argv)[0] and step.changes is not False:
            problems.append(Problem(line, "warning", f"step {step.id}: the wait repeats a command that may change "
                                    f"something ({classify(command.argv)[1]}); a wait should only check"))
            continue
        if step.changes is False and command and known_write(command.argv):
            problems.append(Problem(line, "warning", f"step {step.id} says changes: false but {classify(command.argv)[1]}"))
        if changes and step.kind != "manual" and step.approval is None:
            problems.append(Problem(line, "warning", f"step {step.id} changes something ({why}) but has no approval: "
                                    "add approval: required, or approval: none with a reason"))
        if step.approval == "none" and changes:
            problems.append(Problem(line, "note", f"step {step.id} changes something without approval: {step.reason}"))
    used = {s.on_fail for s in [*rb.steps, *rb.rollbacks.values()]}
    for rid, step in rb.rollbacks.items():
        if rid not in used:
            problems.append(Problem(step.line, "warning", f"rollback {rid} is never used: name it in a step's on_fail"))
    order = {"error": 0, "warning": 1, "note": 2}
    return sorted(problems, key=lambda p: (order[p.severity], p.line))


def lint_file(path: Path) -> tuple[Runbook, list[Problem]]:
    rb = parse(Path(path))
    return rb, lint(rb)


def command_changes(command: Command) -> bool:
    return classify(command.argv)[0]
