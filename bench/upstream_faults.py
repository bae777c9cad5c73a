"""Upstream faults: does every write tool tell the truth, and is any write made twice?

    python bench/upstream_faults.py [--json] [--only TOOL] [--no-deadlines]

**The unknown-outcome matrix.** Every write tool of PagerDuty, Slack, Jira and Kubernetes, each
against a fresh sandbox world (the same one `paii sandbox` serves), through the real MCP client,
with one fault on its write request (`paii sandbox fault`):

    500        the write is made, then answered 500
    slow       no answer before the deadline (PAII_WRITE_TIMEOUT=8 here); the write lands late,
               after the tool has read back (the hardest case: the truth is "not yet")
    dropped    the write is made, then the connection is dropped
    malformed  the write is made, then answered 200 {"unexpected":[1,2,3],"ok":true}
    429        rate limited until cleared (the write is never made)

Per tool and fault it records what the answer claimed (done / not done / unknown), whether that
was honest (compared with the sandbox's state once a late write has landed; "unknown" counts as
honest only when it says how to check), whether the write reached the service more than once,
and whether a blind retry of the same call (faults cleared, as a model might do after an error)
made it twice. Any dishonest or duplicated cell fails the run (exit 1).

**Deadlines** (``--no-deadlines`` skips it): with the default deadlines (15 s / 30 s), how long a
tool takes to answer when PagerDuty or Slack hangs, what it says, and how many requests it sent
(bench/upstream_deadlines.py, on the tests' stateful fakes of PagerDuty and Slack).

Writes bench/results/upstream_faults.json. About three minutes on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from upstream_deadlines import deadlines  # noqa: E402
NOW = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)
WRITE_TIMEOUT = 8.0
SLOW = WRITE_TIMEOUT + 3
FAULTS = {
    "500": {"kind": "500", "after": True, "times": 1},
    "slow": {"kind": "slow", "seconds": SLOW, "times": 1},
    "dropped": {"kind": "down", "after": True, "times": 1},
    "malformed": {"kind": "malformed", "after": True, "times": 1},
    "429": {"kind": "429", "retry_after": 0.5},
}
UNKNOWN_WORDS = ("may or may not", "may still", "outcome is unknown", "may have run")


@dataclass
class Case:
    """One write tool: how to call it, which request is its write, how to count what it made."""

    service: str
    tool: str
    args: dict[str, Any]
    method: str
    path: str
    made: Callable[[Any], int]  # the service's state -> how many times the write's effect is there
    calls: int = 1  # scale_deployment: a preview, then the call that acts
    resendable: bool = False  # a write that changes nothing when repeated (an invite): a re-send is no duplicate
    checks: tuple[str, ...] = field(default_factory=tuple)  # the read tools an "unknown" answer may point to


def _pd_log(kind: str, **match: Any) -> Callable[[Any], int]:
    return lambda st: sum(1 for e in st.log if e["incident"] == "Q2PAY5XXPROD" and e["type"] == f"{kind}_log_entry"
                          and all(e.get(k) == v for k, v in match.items()))


def _jira_status_moves(key: str, to: str) -> Callable[[Any], int]:
    return lambda st: sum(1 for h in st["issues"][key]["history"] for it in h["items"]
                          if it.get("field") == "status" and it.get("toString") == to)


def _comments(key: str, text: str) -> Callable[[Any], int]:
    from paii_jira.adf import to_text

    return lambda st: sum(1 for c in st["issues"][key]["comments"] if to_text(c["body"]) == text)


def _events(reason: str, obj: str, ns: str, contains: str = "") -> Callable[[Any], int]:
    return lambda st: sum(1 for e in st.events.get(ns, []) if e["reason"] == reason
                          and e["involvedObject"]["name"] == obj and contains in e["message"])


CASES = [
    Case("pagerduty", "acknowledge_incident", {"incident_id": "Q2PAY5XXPROD"}, "PUT", "/incidents/Q2PAY5XXPROD",
         _pd_log("acknowledge"), checks=("get_incident",)),
    Case("pagerduty", "resolve_incident", {"incident_id": "Q2PAY5XXPROD"}, "PUT", "/incidents/Q2PAY5XXPROD",
         _pd_log("resolve"), checks=("get_incident",)),
    Case("pagerduty", "add_incident_note", {"incident_id": "Q2PAY5XXPROD", "content": "bench: pool at 98%"}, "POST",
         "/incidents/Q2PAY5XXPROD/notes",
         lambda st: sum(1 for n in st.notes["Q2PAY5XXPROD"] if n["content"] == "bench: pool at 98%"),
         checks=("get_incident",)),
    Case("pagerduty", "escalate_incident", {"incident_id": "Q2PAY5XXPROD", "escalation_level": 2}, "PUT",
         "/incidents/Q2PAY5XXPROD", _pd_log("escalate"), checks=("get_incident",)),
    Case("pagerduty", "post_status_update", {"incident_id": "Q2PAY5XXPROD", "message": "bench: mitigated"}, "POST",
         "/incidents/Q2PAY5XXPROD/status_updates", _pd_log("status_update", message="bench: mitigated"),
         checks=("get_timeline", "get_incident")),
    Case("slack", "create_channel", {"name": "inc-bench-faults"}, "POST", "/api/conversations.create",
         lambda st: sum(1 for ch in st.channels.values() if ch["name"] == "inc-bench-faults"),
         checks=("create_channel",)),
    Case("slack", "invite_to_channel", {"channel": "C0INCAUTH", "users": ["U0ALICE"]}, "POST", "/api/conversations.invite",
         lambda st: sum(1 for m in st.messages["C0INCAUTH"] if m.get("subtype") == "channel_join" and m.get("user") == "U0ALICE"),
         resendable=True, checks=("invite_to_channel",)),
    Case("slack", "post_message", {"channel": "C0PLATFORM", "text": "bench: rolling back"}, "POST", "/api/chat.postMessage",
         lambda st: sum(1 for m in st.messages["C0PLATFORM"] if m.get("text") == "bench: rolling back"),
         checks=("channel_digest",)),
    Case("jira", "create_issue", {"summary": "bench: payments-api 500s", "dedupe_key": "BENCH1"}, "POST",
         "/rest/api/3/issue", lambda st: sum(1 for i in st["issues"].values() if "paii-BENCH1" in i["labels"]),
         checks=("search_issues", "create_issue")),
    Case("jira", "add_comment", {"key": "INC-788", "body": "bench: pool at 98%"}, "POST",
         "/rest/api/3/issue/INC-788/comment", _comments("INC-788", "bench: pool at 98%"), checks=("get_issue",)),
    Case("jira", "transition_issue", {"key": "INFRA-101", "status": "Done"}, "POST", "/rest/api/3/issue/INFRA-101/transitions",
         _jira_status_moves("INFRA-101", "Done"), checks=("get_issue",)),
    Case("kubernetes", "restart_deployment", {"name": "payments-api", "namespace": "payments"}, "PATCH",
         "/apis/apps/v1/namespaces/payments/deployments/payments-api",
         lambda st: len(st.deps[("payments", "payments-api")].revisions) - 1 - _SEED_REVISIONS, checks=("get_deployment",)),
    Case("kubernetes", "scale_deployment", {"name": "payments-api", "namespace": "payments", "replicas": 4}, "PATCH",
         "/apis/apps/v1/namespaces/payments/deployments/payments-api",
         _events("ScalingReplicaSet", "payments-api", "payments", "to 4"), calls=2, checks=("get_deployment",)),
    Case("kubernetes", "delete_pod", {"name": "primary-postgres-0", "namespace": "databases"}, "DELETE",
         "/api/v1/namespaces/databases/pods/primary-postgres-0", _events("Killing", "primary-postgres-0", "databases"),
         checks=("list_pods",)),
    Case("kubernetes", "run_in_pod", {"pod": "primary-postgres-0", "namespace": "databases", "argv": ["touch", "/tmp/bench"]},
         "GET", "/api/v1/namespaces/databases/pods/primary-postgres-0/exec",
         lambda st: sum(1 for r in getattr(st, "execs", []) if r["argv"] == ["touch", "/tmp/bench"]),
         checks=("ask the person", "tell the person")),
]
_SEED_REVISIONS = 0  # set from the seed before the run (revisions the seed gives payments-api, minus one)


# ---------------------------------------------------------------------------------- the matrix
def _settings(cls: Any, env: dict[str, str], **extra: Any) -> Any:
    """Settings loaded from this sandbox's environment (set for the call only: every sandbox has its own)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return cls.load(write_timeout=WRITE_TIMEOUT, **extra)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _server(service: str, env: dict[str, str]) -> Any:
    if service == "pagerduty":
        from paii_pagerduty.config import PagerDutySettings
        from paii_pagerduty.server import build_server
        return build_server(_settings(PagerDutySettings, env))
    if service == "slack":
        from paii_slack.config import SlackSettings
        from paii_slack.server import build_server
        return build_server(_settings(SlackSettings, env))
    if service == "jira":
        from paii_jira.config import JiraSettings
        from paii_jira.server import build_server
        return build_server(_settings(JiraSettings, env))
    from paii_kubernetes.config import KubernetesSettings
    from paii_kubernetes.server import build_server
    return build_server(_settings(KubernetesSettings, env, warmup=False, rollout_poll_s=0.05))


def _verdict(result: Any) -> tuple[str, str]:
    if not result.is_error:
        out = result.structured_content or {}
        failed = out.get("failed") or []  # invite_to_channel: one answer per person
        if failed and not out.get("invited"):
            text = "; ".join(str(f.get("error")) for f in failed)
            return ("unknown" if any(w in text for w in UNKNOWN_WORDS) else "not done"), text
        said = next((str(out[k]) for k in ("note", "message", "next", "replaced") if out.get(k)), "done")
        return "done", said
    text = result.content[0].text.removeprefix("Error executing tool ")
    return ("unknown" if any(w in text for w in UNKNOWN_WORDS) else "not done"), text


def _honest(verdict: str, text: str, made: int, case: Case) -> bool:
    if verdict == "done":
        return made >= 1
    if verdict == "not done":
        return made == 0
    return any(check in text for check in case.checks)  # unknown: honest when it says how to find out


async def _on_loop(sandbox: Any, coro: Any) -> Any:
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, sandbox._loop))


async def _reset(sandbox: Any) -> None:
    async def reset() -> None:
        await sandbox.clear_faults()
        sandbox.world.reseed()
        sandbox.world.journal.clear()

    await _on_loop(sandbox, reset())


def _writes(sandbox: Any, case: Case) -> list[Any]:
    return [e for e in sandbox.world.requests(case.service, case.method, case.path) if e.applied]


async def _scenario(sandbox: Any, env: dict[str, str], case: Case, fault: str) -> dict[str, Any]:
    from mcp import Client

    from paii_sandbox.faults import Fault

    await _reset(sandbox)
    state = lambda: sandbox.world.states[case.service]  # noqa: E731 - the live state, after a reset too
    assert case.made(state()) == 0, f"{case.tool}: the fresh world already has its effect"
    spec = {**FAULTS[fault], "service": case.service, "method": case.method, "path": case.path}
    await _on_loop(sandbox, sandbox.add_fault(Fault(**spec)))
    started = time.monotonic()
    async with Client(_server(case.service, env)) as client:
        for _ in range(case.calls):
            first = await client.call_tool(case.tool, case.args)
        seconds = round(time.monotonic() - started, 1)
        if fault == "slow":  # the truth is known once the late write has landed
            deadline = time.monotonic() + SLOW + 10
            while not any(e.fault == "slow" for e in sandbox.world.requests(case.service, case.method, case.path)):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.2)
        made, sends = case.made(state()), len(_writes(sandbox, case))
        verdict, said = _verdict(first)
        await _on_loop(sandbox, sandbox.clear_faults())
        retried = first.is_error
        if retried:  # a blind retry, as a model might do after an error
            await client.call_tool(case.tool, case.args)
        made_after_retry = case.made(state())
    return {
        "service": case.service, "tool": case.tool, "fault": fault, "answered_after_s": seconds, "said": verdict,
        "honest": _honest(verdict, said, made, case), "made": made, "sent": sends,
        "duplicated": made > 1 or (sends > 1 and not case.resendable),
        "retried": retried, "made_after_retry": made_after_retry, "retry_duplicated": made_after_retry > 1,
        "answer": said[:400],
    }


async def _service(service: str, cases: list[Case], faults: list[str]) -> list[dict[str, Any]]:
    from paii_sandbox.files import load_seed
    from paii_sandbox.runner import Sandbox
    from paii_sandbox.services import discover
    from paii_sandbox.world import World

    sandbox = await asyncio.to_thread(lambda: Sandbox(World(load_seed(), discover(), now=NOW)).start_in_thread())
    env = sandbox.env()
    try:
        return [await _scenario(sandbox, env, case, fault) for case in cases for fault in faults]
    finally:
        await asyncio.to_thread(sandbox.stop_thread)


async def matrix(only: str | None = None) -> list[dict[str, Any]]:
    global _SEED_REVISIONS
    from paii_sandbox.files import load_seed
    from paii_sandbox.services import discover
    from paii_sandbox.world import World

    seeded = World(load_seed(), discover(), now=NOW).states["kubernetes"]
    _SEED_REVISIONS = len(seeded.deps[("payments", "payments-api")].revisions) - 1
    # the vendors' libraries imported first: the 4 s deadlines are for the network, not for an import
    import atlassian  # noqa: F401
    import kubernetes.client  # noqa: F401
    import kubernetes.stream  # noqa: F401
    import slack_sdk.web  # noqa: F401

    from paii_pagerduty.session import pdpyras_module

    pdpyras_module()

    cases = [c for c in CASES if only in (None, c.tool, c.service)]
    services = list(dict.fromkeys(c.service for c in cases))
    groups = await asyncio.gather(*(_service(s, [c for c in cases if c.service == s], list(FAULTS)) for s in services))
    return [row for group in groups for row in group]


def print_matrix(rows: list[dict[str, Any]]) -> None:
    faults = list(FAULTS)
    print("| tool | " + " | ".join(faults) + " |\n|---|" + "---|" * len(faults))
    by_tool: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_tool.setdefault(f"{r['service']} {r['tool']}", {})[r["fault"]] = r
    for tool, cells in by_tool.items():
        out = []
        for f in faults:
            r = cells.get(f)
            if r is None:
                out.append("")
                continue
            mark = "honest" if r["honest"] else "DISHONEST"
            dup = " DUPLICATED" if r["duplicated"] else ""
            again = " RETRY-DUPLICATED" if r["retry_duplicated"] else ""
            out.append(f"{r['said']}, {mark}, made {r['made']}{dup}{again}")
        print(f"| {tool} | " + " | ".join(out) + " |")
    bad = [r for r in rows if not r["honest"] or r["duplicated"] or r["retry_duplicated"]]
    print(f"\n{len(rows)} cells ({len(by_tool)} write tools x {len(faults)} faults): "
          f"{sum(r['honest'] for r in rows)} honest, {sum(r['duplicated'] for r in rows)} duplicated by the call, "
          f"{sum(r['retry_duplicated'] for r in rows)} duplicated by a blind retry")
    for r in bad:
        print(f"  {r['tool']} / {r['fault']}: said {r['said']} ({r['answer'][:200]}), made {r['made']}, sent {r['sent']}, "
              f"made after a retry {r['made_after_retry']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", help="one tool or one service of the matrix (e.g. add_comment, jira)")
    parser.add_argument("--no-deadlines", action="store_true", help="skip the default-deadline timings")
    args = parser.parse_args()
    os.environ["PAII_CONFIG_DIR"] = tempfile.mkdtemp(prefix="paii-bench-")  # no user .env
    os.environ["PAII_HOME"] = tempfile.mkdtemp(prefix="paii-bench-home-")
    os.environ["PAII_NOW"] = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")  # the sandbox's clock
    for var in ("PAII_READ_TIMEOUT", "PAII_WRITE_TIMEOUT"):
        os.environ.pop(var, None)
    from paii_common.redact import setup_logging

    setup_logging("CRITICAL")  # the servers' one WARNING line per failed call is not the result
    started = time.monotonic()
    rows = asyncio.run(matrix(args.only))
    matrix_s = round(time.monotonic() - started, 1)
    os.environ.pop("PAII_NOW", None)
    timings = [] if args.no_deadlines or args.only else asyncio.run(deadlines())  # bench/upstream_deadlines.py
    result = {"write_timeout_s": WRITE_TIMEOUT, "slow_s": SLOW, "matrix_seconds": matrix_s, "matrix": rows,
              "deadlines": timings}
    (HERE / "results").mkdir(exist_ok=True)
    if not args.only:
        (HERE / "results" / "upstream_faults.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"The unknown-outcome matrix (PAII_WRITE_TIMEOUT={WRITE_TIMEOUT:g} s, slow = {SLOW:g} s; {matrix_s} s):\n")
        print_matrix(rows)
        if timings:
            print("\nWith the default deadlines:\n\n| scenario | answered after | requests sent | what the tool says |\n|---|---|---|---|")
            for r in timings:
                print(f"| {r['scenario']} | {r['seconds']} s | {r['sent']} | {'error: ' if r['error'] else ''}{r['says']} |")
    if any(not r["honest"] or r["duplicated"] or r["retry_duplicated"] for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
