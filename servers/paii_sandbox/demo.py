"""``make demo`` (``paii sandbox demo``): the seed's scenarios end to end, no accounts needed.

1. import the example history (``examples/*.jsonl``: the file name is the category);
2. start the sandbox in this process, under the demo clock, resuming the demo's saved world
   (so a second run finds the acknowledged incident and the channel, and says so);
3. start PAII's six real MCP servers (history, pagerduty, slack, jira, kubernetes, runbook) over
   stdio, pointed at it;
4. run the Incident Response (with the Jira ticket, the suggested runbook and the first check),
   On-Call Handoff, Runbook Execution (the dry run of the failover, then the approved failover of
   the sandbox's real PostgreSQL pair: the demo answers the approval prompts as the person, and
   says so), Sprint Status, Channel Summarization, Article Writing (the profile learned from the
   example articles) and Post-mortem (the night before's auth-service incident: its merged
   timeline and the first lines of its draft) scenarios (``scenarios/*.yaml``) and print each
   report; stop everything, also on failure. Nothing is restarted, scaled or posted beyond the
   incident's plan; the post-mortem is saved to the demo's history and its action items become
   Jira tickets in the sandbox (once: a second run finds them). The Postgres pair starts fresh
   each time (a failed-over pair cannot fail over again).

Exit 0 only if every step succeeded.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paii_sandbox import renderers, scenario

DEMO_NOW = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)
SCENARIOS = ("incident", "handoff", "runbook", "sprint", "channel-summary", "writing", "postmortem")
SERVERS = ("history", "pagerduty", "slack", "jira", "kubernetes", "runbook")
PERSON = "Scott Idler"  # the on-call engineer of the sandbox world, who gives the approvals
#: variables of the person's shell that must not leak into the demo's servers
_SCRUB = ("PAII_", "PAGERDUTY_", "SLACK_", "JIRA_", "KUBECONFIG", "CLAUDE_PLUGIN_DATA")


def import_examples(folder: Path, home: Path) -> list[str]:
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    store = HistoryStore(HistorySettings.load(home=home, warmup=False))
    said = []
    try:
        for path in sorted(folder.glob("*.jsonl")):
            report = store.import_jsonl(path, path.stem)
            if report.errors:
                raise RuntimeError(f"{path}: {report.errors[0]}")
            said.append(f"{path.stem}: {report.imported} new, {report.updated} updated, {report.unchanged} unchanged")
    finally:
        store.close()
    return said


def server_env(sandbox_env: dict[str, str], home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env.update(sandbox_env)
    env.update({"PAII_HOME": str(home), "PAII_CONFIG_DIR": str(home / "config"), "PAII_HISTORY_WARMUP": "0",
                "PYTHONWARNINGS": "ignore::UserWarning:pdpyras", "PAII_RUNBOOK_OPERATOR": PERSON})
    return env


def shown_value(value: Any, limit: int = 48) -> str:
    """A trace's argument: its repr, cut inside the value so a cut string keeps its closing quote."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit])[:-1] + "…" + repr(value[:limit])[-1]
    text = repr(value)
    return text if len(text) <= limit + 2 else text[:limit] + "…" + text[-1]


def _trace(outcome: scenario.Outcome) -> None:
    mark = {"ok": "✓", "failed": "✗", "skipped": "–"}[outcome.status]
    args = outcome.args if not isinstance(outcome.args, list) else f"{len(outcome.args)} calls"
    shown = ", ".join(f"{k}={shown_value(v)}" for k, v in (args.items() if isinstance(args, dict) else []))
    extra = f"  ({outcome.reason})" if outcome.status == "skipped" else f"  {' '.join((outcome.error or '').split())[:200]}" if outcome.error else ""
    print(f"    {mark} {outcome.step.server}.{outcome.step.tool}({shown if isinstance(args, dict) else args or ''}){extra}")


async def answer_as_the_person(context: Any, params: Any) -> Any:
    """The runbook server's approval prompt (MCP elicitation), answered yes as the person would at
    Claude Code's form: every yes/no field ticked. Printed, so nobody mistakes it for the model's."""
    from mcp import types

    title = params.message.splitlines()[0]
    command = next((line for line in params.message.splitlines() if line.startswith("$ ")), "")
    print(f"    ✋ {PERSON} (the demo answers the prompt as the person): yes to \"{title}\"" + (f"  {command}" if command else ""))
    fields = (params.requested_schema or {}).get("properties", {})
    return types.ElicitResult(action="accept", content={k: True for k, v in fields.items() if v.get("type") == "boolean"})


@asynccontextmanager
async def open_clients(env: dict[str, str], names: tuple[str, ...] = SERVERS,
                       prompts: dict[str, Any] | None = None) -> AsyncIterator[dict[str, Any]]:
    """PAII's servers over stdio, started at once: each client lives in a task of its own (a
    client's context must be left in the task that entered it); a server that fails to start
    fails the whole call. ``prompts``: a server's elicitation callback (who answers its prompts)."""
    from mcp import Client, StdioServerParameters

    clients: dict[str, Any] = {}
    ready = {name: asyncio.Event() for name in names}
    stop = asyncio.Event()

    async def hold(name: str) -> None:
        params = StdioServerParameters(command=sys.executable, args=["-m", f"paii_{name}"], env=env)
        prompt = (prompts or {}).get(name)
        extra = {"elicitation_callback": prompt, "mode": "legacy"} if prompt else {}  # legacy: the server may ask back
        async with Client(params, **extra) as client:
            clients[name] = client
            ready[name].set()
            await stop.wait()

    tasks = {name: asyncio.create_task(hold(name), name=f"paii-{name}") for name in names}
    try:
        for name, task in tasks.items():
            up = asyncio.create_task(ready[name].wait())
            await asyncio.wait({up, task}, return_when=asyncio.FIRST_COMPLETED)
            up.cancel()
            if task.done():
                raise RuntimeError(f"the {name} server did not start: {task.exception() or 'it exited'}")
        yield clients
    finally:
        stop.set()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


async def run_scenarios(env: dict[str, str], names: tuple[str, ...] = SCENARIOS, now: str = "",
                        around: dict[str, Any] | None = None) -> list[scenario.Run]:
    """Each scenario through PAII's servers, its report printed. ``around[name]``: called before the
    scenario, it returns what to call after it (the demo's own checks of the database)."""
    runs = []
    async with open_clients(env, prompts={"runbook": answer_as_the_person}) as clients:
        for name in names:
            sc = scenario.load(name)
            print(f"\n=== {sc.title}: \"{sc.input}\"\n")
            after = (around or {}).get(name, lambda: None)()
            print("  tool calls, in the order the skill prescribes:")
            run = await scenario.run(sc, clients, now=now, on_step=_trace)
            print()
            print(renderers.render(run))
            if after is not None:
                await asyncio.to_thread(after, run)
            runs.append(run)
    return runs


def failover_checks(sandbox: Any) -> dict[str, Any]:
    """Around the runbook scenario, on a real pair: a row written before, then what each server says."""
    rt = sandbox.world.runtimes.get("postgres")
    if rt is None or rt.pair is None:
        return {}

    def before() -> Any:
        from paii_sandbox.pgcheck import verify, write_marker

        marker = write_marker(rt.pair, "demo-before-failover")

        def after(run: scenario.Run) -> None:
            if run.data("finish") is None:
                return
            print("  Checked in the database after the run (the demo's own queries, not the runbook's):")
            for ok, text in verify(rt.pair, marker):
                print(f"    {'✓' if ok else '✗'} {text}")
                if not ok:
                    run.outcomes["finish"].status = "failed"

        return after

    return {"runbook": before}


def fresh_postgres(sandbox: Any) -> None:
    """The Postgres part of a resumed world back to its seed: a new pair, the 2 AM pool, the endpoint."""
    from paii_sandbox.services import postgres
    from paii_sandbox.world import split_seed

    world = sandbox.world
    world.states[postgres.NAME] = postgres.seed(split_seed(world.seed, postgres.NAME)[0], world.seeded_at)
    world.apps[postgres.NAME] = postgres.create_app(world.states[postgres.NAME], world)


def run_demo(home: Path | None = None, examples: Path | None = None) -> int:
    from paii_common.config import paii_home
    from paii_sandbox.process import build
    from paii_sandbox.timeparse import iso

    started = time.monotonic()
    home = (home or paii_home()).resolve()
    examples = examples or Path.cwd() / "examples"
    print(f"PAII demo: the seed's 2 AM page, in a sandbox world (the clock starts at {iso(DEMO_NOW)}; data in {home})")
    if examples.is_dir():
        for line in import_examples(examples, home):
            print(f"  history import {line}")
    sandbox = build(home / "sandbox", port_base=0, now=DEMO_NOW, reset=False, seed=None,
                    say=lambda m: print(f"  sandbox: {m}"))
    fresh_postgres(sandbox)
    sandbox.start_in_thread(timeout=120)
    try:
        print("  sandbox: " + ", ".join(f"{name} {sandbox.base_url(name)}" for name in sandbox.world.modules))
        runs = asyncio.run(run_scenarios(server_env(sandbox.env(), home), now=iso(DEMO_NOW), around=failover_checks(sandbox)))
    finally:
        sandbox.stop_thread()
    failed = [o for r in runs for o in r.failed]
    print(f"demo finished in {time.monotonic() - started:.1f} s: "
          + ("every step succeeded" if not failed else f"{len(failed)} step(s) failed: {', '.join(o.step.id for o in failed)}"))
    return 1 if failed else 0
