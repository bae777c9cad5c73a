"""The runbook server through the real MCP client, in memory: tools, elicitation, progress, records."""

from __future__ import annotations

import json

import pytest
from mcp import Client
from mcp_types import ElicitResult

from paii_common.untrusted import fence
from paii_runbook.config import RunbookSettings
from paii_runbook.server import build_server
from tests.conftest import check_snapshot, model_view
from tests.runbook.conftest import COUNTER, PY
from tests.runbook.fakes import FastExecutor
from tests.runbook.test_engine import FRONT, step, touch

READS = {"list_runbooks", "find_runbooks", "get_runbook", "get_run", "get_timeline"}


def server(h, **overrides):
    settings = h.settings.model_copy(update=overrides) if overrides else h.settings
    return build_server(settings, FastExecutor(settings, h.k8s))


def answer(action: str, approve: bool = True, seen: list | None = None):
    async def callback(context, params):
        if seen is not None:
            seen.append(params.message)
        return ElicitResult(action=action, content={"approve": approve} if action == "accept" else None)

    return callback


async def call(client, name, args):
    res = await client.call_tool(name, args)
    if res.is_error:
        raise AssertionError(res.content[0].text)
    return res.structured_content


async def error(client, name, args) -> str:
    res = await client.call_tool(name, args)
    assert res.is_error, res.structured_content
    return res.content[0].text


async def test_tools_list_matches_the_snapshot_and_stays_small(h):
    async with Client(server(h)) as c:
        tools = (await c.list_tools()).tools
    check_snapshot("runbook", tools)
    assert len(json.dumps(model_view(tools))) < 6 * 1024
    ann = {t.name: t.annotations for t in tools}
    assert {n for n, a in ann.items() if a.read_only_hint} == READS
    assert {n for n, a in ann.items() if a.destructive_hint} == {"run_step"}
    assert not [t.name for t in tools if "approv" in t.name]  # no tool gives an approval: only the person does


async def test_read_only_mode_keeps_only_the_reads(h):
    async with Client(server(h, read_only=True)) as c:
        assert {t.name for t in (await c.list_tools()).tools} == READS


async def test_an_approval_step_asks_the_person_through_elicitation_and_runs_on_accept(h):
    side = h.tmp / "side"
    h.book("gate", FRONT + step(1, touch(side)))
    seen: list[str] = []
    async with Client(server(h), mode="legacy", elicitation_callback=answer("accept", seen=seen)) as c:
        run = await call(c, "start_run", {"name": "gate", "dry_run": False})
        res = await call(c, "run_step", {"run_id": run["run_id"], "step_id": "1"})
        await call(c, "finish_run", {"run_id": run["run_id"], "outcome": "completed"})
    assert res["status"] == "passed" and side.exists()
    assert res["approval"]["by"] == "alice" and res["approval"]["via"].startswith("elicitation (")
    assert res["approval"]["expires"] > res["approval"]["at"]  # never null
    assert f"$ touch {side}" in seen[0] and "Approve step 1 of runbook gate" in seen[0]
    assert "via elicitation" in h.record(run["run_id"]).body


@pytest.mark.parametrize("action, approve", [("decline", True), ("accept", False)])
async def test_an_approval_the_person_refuses_does_not_run_and_is_recorded(h, action, approve):
    side = h.tmp / "side"
    h.book("gate", FRONT + step(1, touch(side)))
    async with Client(server(h), mode="legacy", elicitation_callback=answer(action, approve)) as c:
        run = await call(c, "start_run", {"name": "gate", "dry_run": False})
        text = await error(c, "run_step", {"run_id": run["run_id"], "step_id": "1"})
        await call(c, "finish_run", {"run_id": run["run_id"], "outcome": "aborted"})
    assert "the person declined step 1" in text and not side.exists()
    assert "refused step 1 by alice via elicitation" in h.record(run["run_id"]).body


async def test_a_dismissed_prompt_or_a_client_without_elicitation_refuses_and_says_how_to_approve(h):
    h.book("gate", FRONT + step(1, touch(h.tmp / "side")))
    async with Client(server(h), mode="legacy", elicitation_callback=answer("cancel")) as c:  # what claude -p answers
        run = await call(c, "start_run", {"name": "gate", "dry_run": False})
        text = await error(c, "run_step", {"run_id": run["run_id"], "step_id": "1"})
        assert "was dismissed, or this session cannot show prompts" in text
        assert f"`paii runbook approve {run['run_id']} 1`" in text
        assert (await c.call_tool("approve_step", {"run_id": run["run_id"], "step_id": "1"})).is_error  # no such tool
        again = await error(c, "run_step", {"run_id": run["run_id"], "step_id": "1"})
        assert "did not run" in again
    assert not (h.tmp / "side").exists()
    async with Client(server(h)) as c:  # no elicitation capability at all
        h.book("gate2", FRONT + step(1, touch(h.tmp / "side2")))
        run = await call(c, "start_run", {"name": "gate2", "dry_run": False})
        text = await error(c, "run_step", {"run_id": run["run_id"], "step_id": "1"})
        assert "needs the person's approval and has none" in text and f"paii runbook approve {run['run_id']} 1" in text
        assert "approve_step" not in text
    assert not (h.tmp / "side2").exists()
    events = h.engine.runs.load(h.engine.runs.open_runs("gate")[0]["id"])["events"]
    assert [e["kind"] for e in events] == ["approval-unanswered", "approval-unanswered"]


async def test_a_wait_reports_each_poll_as_a_progress_notification(h):
    script, state = h.tmp / "counter.py", h.tmp / "count"
    script.write_text(COUNTER)
    h.book("waits", FRONT + step(1, f"wait:\n  run: ['{PY}', '{script}', '{state}']\n  every: 2\n  timeout: 20\n  until: {{ge: 3}}"))
    progress = []

    async def on_progress(done, total, message):
        progress.append((done, total, message))

    async with Client(server(h)) as c:
        run = await call(c, "start_run", {"name": "waits", "dry_run": False})
        res = await c.call_tool("run_step", {"run_id": run["run_id"], "step_id": "1"}, progress_callback=on_progress)
    assert res.structured_content["observed"] == ["1", "2", "3"]
    assert [(p[0], p[1]) for p in progress] == [(1, 11), (2, 11), (3, 11)]
    assert progress[-1][2] == "Step 1: poll 3: 3 (done)"


async def test_get_runbook_shows_each_step_with_its_exact_argv_and_prose(h):
    h.book("gate", FRONT + "## Step 1: Greet\nSay hello to {{name}}.\n```yaml\nrun: [echo, 'hi {{name}}']\ntimeout: 5\n```\n")
    async with Client(server(h)) as c:
        plain = await call(c, "get_runbook", {"name": "gate"})
        resolved = await call(c, "get_runbook", {"name": "gate.md", "parameters": {"name": "db-1"}})
        bad = await error(c, "get_runbook", {"name": "gate", "parameters": {"nmae": "x"}})
        missing = await error(c, "get_runbook", {"name": "gaet"})
    assert plain["steps"][0]["argv"] == ["echo", "hi world"] and plain["steps"][0]["prose"] == fence("Say hello to world.", "runbook text")
    assert resolved["steps"][0]["argv"] == ["echo", "hi db-1"] and resolved["steps"][0]["prose"] == fence("Say hello to db-1.", "runbook text")
    assert "has no parameter nmae; it takes: name" in bad
    assert "no runbook 'gaet'. Did you mean gate?" in missing


async def test_list_runbooks_shows_an_invalid_one_with_its_file_and_line(h):
    h.book("good", FRONT + step(1, "run: [echo, hi]\ntimeout: 5"))
    h.book("bad", FRONT + step(1, "run: [echo, hi]"))
    async with Client(server(h)) as c:
        listed = {r["name"]: r for r in (await call(c, "list_runbooks", {}))["runbooks"]}
        text = await error(c, "start_run", {"name": "bad"})
    assert listed["good"]["valid"] and not listed["bad"]["valid"]
    assert listed["bad"]["problems"][0].endswith("bad.md:10: error: step 1: timeout is required (seconds), e.g. timeout: 30")
    assert "is invalid and cannot start" in text


async def test_find_runbooks_ranks_by_text_and_history_and_says_when_each_last_ran(h, isolated_env):
    settings = RunbookSettings.load(home=isolated_env, path=str(h.books), operator="alice")  # with the shipped runbooks
    srv = build_server(settings, FastExecutor(settings, h.k8s))
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    store = HistoryStore(HistorySettings.load(home=isolated_env, warmup=False))
    store.record_incident("INC-456", {"title": "payments-api-timeout", "service": "payments-api",
                                      "root_cause": "Database connection pool exhaustion",
                                      "resolution": "Increased pool size from 50 to 100 (runbook payments-api-health-check)"})
    async with Client(srv) as c:
        found = await call(c, "find_runbooks", {"text": "payments-api is returning 500s in production"})
        by_service = await call(c, "find_runbooks", {"service": "postgres"})
        assert "give text" in await error(c, "find_runbooks", {})
    top = found["runbooks"][0]
    assert top["name"] == "payments-api-health-check" and any("named by INC-456" in w for w in top["why"])
    assert [r["name"] for r in by_service["runbooks"]] == ["database-failover"]


async def test_a_new_server_object_on_the_same_home_continues_the_run(h):
    h.book("order", FRONT + step(1, "run: [echo, one]\ntimeout: 5") + step(2, "run: [echo, two]\ntimeout: 5"))
    async with Client(server(h)) as c:
        run = await call(c, "start_run", {"name": "order", "dry_run": False})
        assert (await call(c, "run_step", {"run_id": run["run_id"], "step_id": "1"}))["next_step"]["id"] == "2"
    async with Client(server(h)) as c:  # what Claude Code starts after the old server went away
        text = await error(c, "run_step", {"run_id": run["run_id"], "step_id": "1"})
        assert "steps run in order and the next is 2" in text
        assert (await call(c, "run_step", {"run_id": run["run_id"], "step_id": "2"}))["run_status"] == "done"
        assert (await call(c, "finish_run", {"run_id": run["run_id"], "outcome": "completed"}))["steps"] == {"passed": 2}
    assert h.record(run["run_id"]).meta["outcome"] == "completed"


async def test_get_run_shows_where_a_run_stands_and_what_the_person_may_choose(h):
    h.book("lag", FRONT + step(1, "run: [echo, one]\ntimeout: 5") + step(2, "run: ['false']\ntimeout: 5")
           + step(3, touch(h.tmp / "three")))
    async with Client(server(h)) as c:
        run = await call(c, "start_run", {"name": "lag", "dry_run": False})
        await call(c, "run_step", {"run_id": run["run_id"], "step_id": "1"})
        await call(c, "run_step", {"run_id": run["run_id"], "step_id": "2"})
        h.engine.approve(run["run_id"], "3", via="test")  # the person, in their terminal
        got = await call(c, "get_run", {"run_id": run["run_id"]})
        await call(c, "run_step", {"run_id": run["run_id"], "step_id": "2", "choice": "skip"})
        gated = await call(c, "get_run", {"run_id": run["run_id"]})
    assert got["status"] == "halted" and got["next_step"] == {"id": "2", "title": "Step 2", "approval": False}
    assert gated["next_step"] == {"id": "3", "title": "Step 3", "approval": True}
    assert [(s["id"], s["status"], s["exit_code"]) for s in got["steps"]] == [("1", "passed", 0), ("2", "failed", 1),
                                                                               ("3", "pending", None)]
    assert got["steps"][1]["reason"] == "exit code 1, expected 0"
    assert [o.split(":")[0] for o in got["options"]] == ["retry", "skip", "abort"]
    assert got["approvals"][0]["step"] == "3" and got["approvals"][0]["by"] == "alice"


async def test_a_step_may_run_longer_than_the_write_deadline_of_other_tools(h):
    h.book("slow", FRONT + step(1, f"run: ['{PY}', -c, 'import time; time.sleep(1.5); print(\"done\")']\ntimeout: 10"))
    async with Client(server(h, write_timeout=1.0)) as c:
        run = await call(c, "start_run", {"name": "slow", "dry_run": False})
        res = await call(c, "run_step", {"run_id": run["run_id"], "step_id": "1"})
    assert res["status"] == "passed" and "done" in res["output"]
